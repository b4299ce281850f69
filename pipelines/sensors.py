"""Sensor: start a run when new files appear in ``landing/`` (checked without starting Spark)."""

from __future__ import annotations

import hashlib

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from customer_overview.config import LakehouseSettings
from customer_overview.entities import all_entities
from customer_overview.ingestion import new_landing_files
from pipelines.resources import LakehouseResource


def unseen_landing_files(settings: LakehouseSettings) -> list[str]:
    """Fingerprints of landing files that are not in the ingested-file log (read via PyIceberg)."""
    return [file.fingerprint for file in new_landing_files(settings, *all_entities())]


def landing_sensor(
    job: JobDefinition | UnresolvedAssetJobDefinition, lakehouse: LakehouseResource
) -> SensorDefinition:
    """A sensor that requests ``job`` once per distinct set of new landing files."""

    @sensor(
        name="new_landing_files",
        job=job,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts the pipeline when new CSV files land in LAKEHOUSE_DIR/landing/.",
    )
    def _new_landing_files(context: SensorEvaluationContext):  # type: ignore[no-untyped-def]
        new_files = unseen_landing_files(lakehouse.settings())
        if not new_files:
            return SkipReason("no new landing files")
        # The same set of new files never starts two runs; a run that ingests them removes them
        # from the set, and a file that changes gets a new fingerprint.
        run_key = hashlib.sha256("\n".join(sorted(new_files)).encode()).hexdigest()
        context.log.info(f"{len(new_files)} new landing file(s)")
        return RunRequest(
            run_key=run_key,
            tags={"trigger": "new_landing_files", "new_files": str(len(new_files))},
        )

    return _new_landing_files
