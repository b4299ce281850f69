"""Headless runs of the Dagster graph, recorded in the same instance the UI reads.

``customer-overview run`` uses this: it executes the pipeline job (or a selection of it) in
process, on the configured lakehouse, with ``DAGSTER_HOME`` inside ``LAKEHOUSE_DIR`` unless set,
so every headless run shows up in the UI's run history.
"""

from __future__ import annotations

import os
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, cast

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._core.events import StepMaterializationData

from customer_overview.config import LakehouseSettings
from customer_overview.errors import ConfigurationError


@dataclass
class AssetOutcome:
    asset: str
    rows: int | None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    severity: str
    blocking: bool


@dataclass
class RunSummary:
    """What a headless run did, for the console and the exit code."""

    run_id: str
    success: bool
    materialized: list[AssetOutcome] = field(default_factory=list)
    checks: list[CheckOutcome] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)
    skipped_assets: list[str] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed and c.blocking and c.severity == "ERROR"]

    @property
    def exit_code(self) -> int:
        return 0 if self.success and not self.blocking_failures and not self.failed_steps else 1


def dagster_instance(settings: LakehouseSettings) -> DagsterInstance:
    """The persistent Dagster instance: ``$DAGSTER_HOME``, else ``$LAKEHOUSE_DIR/dagster_home``."""
    if os.environ.get("DAGSTER_HOME"):
        return DagsterInstance.get()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    instance_yaml = home / "dagster.yaml"
    if not instance_yaml.exists():
        # Banks run this offline: no usage statistics leave the machine.
        instance_yaml.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def run_pipeline(
    settings: LakehouseSettings,
    selection: str | None = None,
    run_config: dict[str, Any] | None = None,
    instance: DagsterInstance | None = None,
    tags: dict[str, str] | None = None,
) -> RunSummary:
    """Materialize the graph (or ``selection``, Dagster's asset selection syntax) headless.

    Raises:
        ConfigurationError: The selection matches no asset.
    """
    from pipelines.definitions import JOB_NAME, build_definitions
    from pipelines.resources import LakehouseResource

    definitions = build_definitions(
        LakehouseResource(lakehouse_dir=str(settings.lakehouse_dir), profile=settings.profile)
    )
    job = definitions.resolve_job_def(JOB_NAME)
    asset_selection = None
    graph = definitions.resolve_asset_graph()
    if selection:
        try:
            keys = AssetSelection.from_string(selection).resolve(graph)
        except Exception as exc:  # Dagster raises several types for a bad selection string
            raise ConfigurationError(f"--select {selection!r}: {exc}") from None
        if not keys:
            raise ConfigurationError(f"--select {selection!r} matches no asset")
        asset_selection = sorted(_whole_multi_assets(graph, keys))
    result = job.execute_in_process(
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}} | (run_config or {}),
        instance=instance or dagster_instance(settings),
        raise_on_error=False,
        asset_selection=asset_selection,
        tags={"trigger": "cli", **(tags or {})},
    )
    planned = set(asset_selection or graph.materializable_asset_keys)
    return summarize(
        result,
        blocking_checks=_blocking_checks(definitions),
        planned={key.to_user_string() for key in planned},
    )


def _whole_multi_assets(graph: Any, keys: AbstractSet[AssetKey]) -> set[AssetKey]:
    """Add the sibling outputs of multi-assets that cannot be split (curated + quarantine)."""
    expanded = set(keys)
    for key in keys:
        assets_def = graph.get(key).assets_def
        if not assets_def.can_subset:
            expanded |= set(assets_def.keys)
    return expanded


def _blocking_checks(definitions: Any) -> set[tuple[str, str]]:
    graph = definitions.resolve_asset_graph()
    blocking = set()
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        if spec.blocking:
            blocking.add((check_key.asset_key.to_user_string(), check_key.name))
    return blocking


def summarize(
    result: ExecuteInProcessResult, blocking_checks: set[tuple[str, str]], planned: set[str]
) -> RunSummary:
    """Turn a run's events into a :class:`RunSummary` (``planned``: the selected asset keys)."""
    summary = RunSummary(run_id=result.run_id, success=result.success)
    materialized: set[str] = set()
    for event in result.all_events:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialization = cast(
                StepMaterializationData, event.event_specific_data
            ).materialization
            asset = materialization.asset_key.to_user_string()
            materialized.add(asset)
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            rows = metadata.get("dagster/row_count")
            count = rows if isinstance(rows, int) else None
            summary.materialized.append(AssetOutcome(asset, count, metadata))
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = cast(AssetCheckEvaluation, event.event_specific_data)
            asset = evaluation.asset_key.to_user_string()
            summary.checks.append(
                CheckOutcome(
                    asset=asset,
                    check=evaluation.check_name,
                    passed=evaluation.passed,
                    severity=evaluation.severity.value
                    if isinstance(evaluation.severity, AssetCheckSeverity)
                    else str(evaluation.severity),
                    blocking=(asset, evaluation.check_name) in blocking_checks,
                )
            )
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            summary.failed_steps.append(event.step_key or "?")
    summary.skipped_assets = sorted(planned - materialized)
    return summary


def run_config_for(full_refresh: bool = False, reingest_all: bool = False) -> dict[str, Any]:
    """Run configuration for every ingest and curate step of the pipeline job."""
    from customer_overview.entities import all_entities

    ops: dict[str, Any] = {}
    for schema in all_entities():
        raw_op = AssetKey(["fs_accelerator", schema.raw_table]).to_python_identifier()
        ops[raw_op] = {"config": {"reingest_all": reingest_all}}
        ops[f"curate_{schema.entity}"] = {"config": {"full_refresh": full_refresh}}
    return {"ops": ops}
