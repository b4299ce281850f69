"""Sensor: start a run when new files appear in ``landing/`` (checked without starting Spark)."""

from __future__ import annotations

import hashlib

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from customer_overview.config import LakehouseSettings
from customer_overview.entities import all_entities
from customer_overview.landing_log import landing_scan, new_landing_files
from customer_overview.resources import LakehouseResource, fail_dead_runs


def unseen_landing_files(settings: LakehouseSettings) -> tuple[list[str], list[str]]:
    """Landing files not in the ingested-file log (read via PyIceberg), and what is not ingested.

    Returns:
        (fingerprints of new landing files, descriptions of files under landing/ that no ingest
        step reads). Both come from the one inventory ingestion uses (``scan_landing``).
    """
    scan = landing_scan(settings)
    new_files = new_landing_files(settings, *all_entities(), scan=scan)
    return [file.fingerprint for file in new_files], [f.describe() for f in scan.unrecognised]


def landing_sensor(job_name: str, lakehouse: LakehouseResource) -> SensorDefinition:
    """A sensor that requests the job ``job_name`` once per distinct set of new landing files."""

    @sensor(
        name="new_landing_files",
        job_name=job_name,
        minimum_interval_seconds=60,
        default_status=DefaultSensorStatus.STOPPED,
        description="Starts the pipeline when new CSV files (.csv, .csv.gz, in any subfolder) "
        "land in LAKEHOUSE_DIR/landing/<entity>/; names files it will not ingest.",
    )
    def _new_landing_files(context: SensorEvaluationContext) -> SkipReason | RunRequest:
        settings = lakehouse.settings()
        # A CLI run killed mid-way stays STARTED and would hold the run queue (limit one) for
        # ever: fail runs whose writer process is gone (safe without the lock: live runs stay).
        for message in fail_dead_runs(context.instance, settings):
            context.log.warning(message)
        new_files, not_ingested = unseen_landing_files(settings)
        if not_ingested:
            # Said on every tick: such a file never starts a run, so nothing else would say it.
            context.log.warning(
                f"{len(not_ingested)} file(s) in landing/ are not ingested: "
                + "; ".join(not_ingested)
            )
        if not new_files:
            suffix = f"; {len(not_ingested)} file(s) not ingested: " if not_ingested else ""
            return SkipReason("no new landing files" + suffix + "; ".join(not_ingested))
        # The same set of new files never starts two runs; a run that ingests them removes them
        # from the set, and a file that changes gets a new fingerprint.
        run_key = hashlib.sha256("\n".join(sorted(new_files)).encode()).hexdigest()
        context.log.info(f"{len(new_files)} new landing file(s)")
        return RunRequest(
            run_key=run_key,
            tags={"trigger": "new_landing_files", "new_files": str(len(new_files))},
        )

    return _new_landing_files
