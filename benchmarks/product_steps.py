"""Seconds and rows per step of the latest run a lakehouse's Dagster instance recorded.

``customer-overview run`` records every headless run in ``LAKEHOUSE_DIR/dagster_home``, so the
benchmark reads the step timings Dagster itself took instead of timing stages from outside.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance

from customer_overview.asset_keys import table_key
from customer_overview.entities import load_entity

STAGES = ("ingest", "curate", "quality", "profile", "marts", "mask", "publish", "other")

_CUSTOMERS = load_entity("customers")
# The steps that do what the bare Spark job does (CSV -> latest row per customer -> Iceberg).
CUSTOMERS_RAW_STEP = table_key(_CUSTOMERS.raw_table).to_python_identifier()
CUSTOMERS_CURATE_STEP = f"curate_{_CUSTOMERS.entity}"
CUSTOMERS_CURATED_ASSET = table_key(_CUSTOMERS.curated_table).to_user_string()


@dataclass(frozen=True)
class StepResult:
    """One step of a run: its duration and the row count each table it wrote reports."""

    step_key: str
    seconds: float
    started: float = 0.0  # epoch seconds
    rows_by_asset: dict[str, int] = field(default_factory=dict)

    @property
    def stage(self) -> str:
        return stage_of(self.step_key)

    @property
    def rows(self) -> int:
        return sum(self.rows_by_asset.values())


def stage_of(step_key: str) -> str:
    """The pipeline stage a step belongs to (maintenance, freshness checks: "other")."""
    if step_key.endswith("_raw"):
        return "ingest"
    if step_key.startswith("curate_"):
        return "curate"
    if step_key.startswith("gx_"):
        return "quality"
    if "_profile" in step_key:
        return "profile"
    if step_key == "build_marts":
        return "marts"
    if step_key.startswith("mask_"):
        return "mask"
    if "publish_log" in step_key:
        return "publish"
    return "other"


def latest_run_steps(dagster_home: Path) -> list[StepResult]:
    """The steps of the most recent run in ``dagster_home``, in the order they started.

    Steps that did not run (skipped) are absent.

    Raises:
        RuntimeError: The instance holds no run.
    """
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs(limit=1)
        if not runs:
            raise RuntimeError(f"no run recorded in {dagster_home}")
        run_id = runs[0].run_id
        rows = _rows_by_step(instance, run_id)
        stats = sorted(
            (s for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time),
            key=lambda s: s.start_time or 0.0,
        )
        return [
            StepResult(
                s.step_key,
                (s.end_time or 0.0) - (s.start_time or 0.0),
                s.start_time or 0.0,
                rows.get(s.step_key, {}),
            )
            for s in stats
        ]


def _rows_by_step(instance: DagsterInstance, run_id: str) -> dict[str, dict[str, int]]:
    """``dagster/row_count`` of each materialization, per step and asset (missing: 0)."""
    rows: dict[str, dict[str, int]] = defaultdict(dict)
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        event = entry.dagster_event
        materialization = entry.asset_materialization
        if event is None or event.step_key is None or materialization is None:
            continue
        count = materialization.metadata.get("dagster/row_count")
        value = getattr(count, "value", None)
        asset = materialization.asset_key.to_user_string()
        rows[event.step_key][asset] = int(value) if isinstance(value, int | float) else 0
    return dict(rows)
