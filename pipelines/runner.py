"""Headless runs of the Dagster graph, recorded in the same instance the UI reads.

``customer-overview run`` uses this: it executes the pipeline job (or a selection of it) in
process, on the configured lakehouse, with ``DAGSTER_HOME`` inside ``LAKEHOUSE_DIR`` unless set,
so every headless run shows up in the UI's run history.
"""

from __future__ import annotations

import os
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    ExecuteInProcessResult,
)

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
    blocking: bool  # listed in the manifest's quality_gates: a failure fails the run
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def failure_details(self) -> list[str]:
        """What a failed check says went wrong (failing expectations, counts, a sample)."""
        keys = (
            "status",
            "failed_expectations",
            "unexpected_counts",
            "failing_values_sample",
            "not_ingested",  # landing_files_recognised: files in landing/ no step reads
            "findings",  # policies_lint: policies or tags that match nothing
        )
        return [f"{key}: {self.metadata[key]}" for key in keys if self.metadata.get(key)]


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
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]

    @property
    def exit_code(self) -> int:
        return 0 if self.success and not self.blocking_failures and not self.failed_steps else 1

    @property
    def publication(self) -> str | None:
        """What the publish step did, in one line (None: it did not run)."""
        from customer_overview.publish_log import PUBLISH_LOG_TABLE

        for outcome in self.materialized:
            if outcome.asset.endswith(f"/{PUBLISH_LOG_TABLE}") and "published" in outcome.metadata:
                if outcome.metadata["published"]:
                    return f"published {outcome.metadata.get('tag') or outcome.metadata['version']}"
                return f"nothing published: {outcome.metadata.get('reason')}"
        return None

    @property
    def not_in_version(self) -> dict[str, str]:
        """Outputs the publish step left out or carried forward, with the reason."""
        from customer_overview.publish_log import PUBLISH_LOG_TABLE

        for outcome in self.materialized:
            if outcome.asset.endswith(f"/{PUBLISH_LOG_TABLE}"):
                left = outcome.metadata.get("not_in_this_version")
                return dict(left) if isinstance(left, dict) else {}
        return {}


# What the product needs from the Dagster instance (dagster.yaml); added where missing, never
# overriding a value the operator set.
INSTANCE_SETTINGS: dict[str, Any] = {
    # Banks run this offline: no usage statistics leave the machine.
    "telemetry": {"enabled": False},
    # One run at a time: runs from the UI, the sensor and the schedule wait in Dagster's queue
    # instead of failing on the lakehouse's writer lock (the CLI's runs take the lock directly).
    "concurrency": {"runs": {"max_concurrent_runs": 1}},
    # The daemon fails a run stuck in STARTING (its worker died before the run began); runs that
    # died later are reported failed by the next run (customer_overview.resources.fail_dead_runs).
    "run_monitoring": {"enabled": True, "start_timeout_seconds": 300},
}


def dagster_home(settings: LakehouseSettings) -> Path:
    """``$DAGSTER_HOME``, else ``$LAKEHOUSE_DIR/dagster_home``."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home).expanduser().resolve() if home else settings.dagster_home


def dagster_instance(settings: LakehouseSettings) -> DagsterInstance:
    """The persistent Dagster instance in :func:`dagster_home`, with :data:`INSTANCE_SETTINGS`."""
    home = dagster_home(settings)
    ensure_instance_settings(home)
    return DagsterInstance.from_config(str(home))


def ensure_instance_settings(home: Path) -> list[str]:
    """Create or update ``home/dagster.yaml`` so it has :data:`INSTANCE_SETTINGS` (idempotent).

    The folder is made owner-only (run history and logs name customers' files and values).
    Returns the dotted names of the settings it added.

    Raises:
        ConfigurationError: ``dagster.yaml`` is not a YAML mapping.
    """
    import yaml

    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    path = home / "dagster.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigurationError(f"{path}: expected a mapping of instance settings")
    added: list[str] = []
    appended: dict[str, Any] = {}
    for key, value in INSTANCE_SETTINGS.items():
        if key == "concurrency" and _run_limit_configured(config):
            continue  # the operator's own limit (in run_queue / run_coordinator) stands
        if key not in config:
            appended[key] = value
            added.append(key)
        elif isinstance(config[key], dict):
            added += _add_missing(config[key], value, key)
    if not added:
        return added
    if appended and len(appended) == len(added):
        # Only whole sections are missing: append them, keeping the operator's comments.
        separator = "" if not text or text.endswith("\n") else "\n"
        text = text + separator + yaml.safe_dump(appended, sort_keys=False)
    else:
        text = yaml.safe_dump(config | appended, sort_keys=False)
    partial = path.with_name(".dagster.yaml.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
    return added


def _add_missing(config: dict[str, Any], wanted: dict[str, Any], where: str) -> list[str]:
    added = []
    for key, value in wanted.items():
        if key not in config:
            config[key] = value
            added.append(f"{where}.{key}")
        elif isinstance(value, dict) and isinstance(config[key], dict):
            added += _add_missing(config[key], value, f"{where}.{key}")
    return added


def _run_limit_configured(config: dict[str, Any]) -> bool:
    """Whether dagster.yaml already limits concurrent runs (Dagster rejects two limits)."""
    queue = config.get("run_queue") or {}
    coordinator = (config.get("run_coordinator") or {}).get("config") or {}
    runs = (config.get("concurrency") or {}).get("runs") or {}
    return any("max_concurrent_runs" in section for section in (queue, coordinator, runs))


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
    from customer_overview.landing_log import check_required_inputs
    from customer_overview.product import load_manifest
    from customer_overview.resources import LakehouseResource
    from pipelines.definitions import JOB_NAME, build_definitions

    manifest = load_manifest()
    # Before Spark starts: a required input that never landed is a clear error, not a long run.
    check_required_inputs(settings, manifest)
    definitions = build_definitions(
        LakehouseResource(lakehouse_dir=str(settings.lakehouse_dir), profile=settings.profile),
        manifest,
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
        blocking_checks=_blocking_checks(definitions, {g.check for g in manifest.quality_gates}),
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


def _blocking_checks(definitions: Any, gates: AbstractSet[str]) -> set[tuple[str, str]]:
    """Checks whose failure fails the run: the manifest's gates (and Dagster-blocking checks)."""
    graph = definitions.resolve_asset_graph()
    blocking = set()
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        if spec.blocking or check_key.name in gates:
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
            materialization = event.materialization
            asset = materialization.asset_key.to_user_string()
            materialized.add(asset)
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            rows = metadata.get("dagster/row_count")
            count = rows if isinstance(rows, int) else None
            summary.materialized.append(AssetOutcome(asset, count, metadata))
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
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
                    metadata={key: value.value for key, value in evaluation.metadata.items()},
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
