"""Dagster resources: the lakehouse (one config -> Spark session + PyIceberg catalog).

A run's set-up opens the PyIceberg catalog with new connections and its teardown closes them;
the Spark session is opened on the first step that needs it, and its cached data is cleared at
teardown (the session itself lives with the JVM: :mod:`customer_overview.spark` says why).

The resource is also where every run, however it was started (``customer-overview run``, the
UI, the landing sensor, the daily schedule), becomes the lakehouse's one writer: its set-up makes
new files owner-only, takes the writer lock (:mod:`customer_overview.lock`) and reports runs
whose process died as failed; its teardown gives the lock back.
"""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

from dagster import (
    ConfigurableResource,
    DagsterInstance,
    DagsterRunStatus,
    InitResourceContext,
    RunsFilter,
)
from pydantic import Field, PrivateAttr
from pyiceberg.catalog import Catalog
from pyspark.sql import SparkSession

from customer_overview.catalog import cached_catalog, open_run_catalog, release_catalog
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.file_modes import (
    grant_group_shares,
    group_shares,
    restrict_new_files,
    secure_lakehouse,
)
from customer_overview.lock import WriterLock, acquire_writer_lock, process_is_alive
from customer_overview.spark import spark_session

# Run tag naming the process that holds the writer lock for the run: {"pid", "host", "start",
# "lakehouse"}. A run still STARTED whose writer process is gone died without ending.
WRITER_TAG = "customer_overview/writer"
LIVE_STATUSES = [DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]

if TYPE_CHECKING:
    # A ConfigurableResource hands itself to assets. Parametrised for the type checker only:
    # subscripting the pydantic model at run time would add a generated class to the MRO.
    _ResourceBase = ConfigurableResource["LakehouseResource"]
else:
    _ResourceBase = ConfigurableResource


class LakehouseResource(_ResourceBase):
    """The lakehouse a run works on.

    Empty fields fall back to ``$LAKEHOUSE_DIR`` / ``$LAKEHOUSE_PROFILE`` and then to the embedded
    defaults (``./lakehouse``, profile ``local``), read when a run starts, never at import.
    """

    lakehouse_dir: str | None = Field(
        default=None, description="State directory (catalog.db, warehouse/, landing/, reports/)."
    )
    profile: str | None = Field(
        default=None, description="Deployment profile from customer_overview/profiles.yaml."
    )
    lock_wait_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How long a run waits for another run's writer lock on the lakehouse before "
        "it fails (the CLI's `run` refuses at once unless given --wait).",
    )

    _writer_lock: WriterLock | None = PrivateAttr(default=None)
    _spark: SparkSession | None = PrivateAttr(default=None)

    def settings(self) -> LakehouseSettings:
        return load_settings(profile=self.profile, lakehouse_dir=self.lakehouse_dir)

    def spark(self) -> SparkSession:
        """The Spark session bound to this lakehouse's catalog, started on first use."""
        if self._spark is None:
            self._spark = spark_session(self.settings())
        return self._spark

    def catalog(self) -> Catalog:
        """The same catalog through PyIceberg (no JVM): the run's, once the run has set up."""
        return cached_catalog(self.settings())

    # ------------------------------------------------------------------- one writer per run
    def setup_for_execution(self, context: InitResourceContext) -> None:
        from customer_overview.product import load_manifest

        # Before the run writes anything: files, tables and exports hold clear personal data.
        restrict_new_files()
        settings = self.settings()
        secure_lakehouse(settings, load_manifest())
        self._writer_lock = acquire_writer_lock(
            settings,
            command=f"dagster run of {context.dagster_run.job_name}"
            if context.dagster_run
            else "dagster run",
            run_id=context.run_id,
            wait_seconds=self.lock_wait_seconds,
            progress=context.log.info if context.log else None,
        )
        try:
            self._record_writer(context, settings)
            open_run_catalog(settings)
        except BaseException:
            # Dagster skips the teardown when the set-up fails: give the lock back here.
            release_catalog(settings)
            self._writer_lock.release()
            self._writer_lock = None
            raise

    def _record_writer(self, context: InitResourceContext, settings: LakehouseSettings) -> None:
        """Tag the run with its writer process, then fail the runs whose process is gone."""
        instance, run_id = context.instance, context.run_id
        if instance is None or run_id is None or self._writer_lock is None:
            return
        holder = self._writer_lock.holder
        writer = {
            "pid": holder.pid,
            "host": holder.host,
            "start": holder.process_start,
            "lakehouse": str(settings.lakehouse_dir),
        }
        instance.add_run_tags(run_id, {WRITER_TAG: json.dumps(writer, sort_keys=True)})
        for message in fail_dead_runs(instance, settings, current_run_id=run_id):
            if context.log:
                context.log.warning(message)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        from customer_overview.product import load_manifest

        settings = self.settings()
        try:
            # The run may have rewritten a shared export or table files (created 0600).
            grant_group_shares(settings, group_shares(settings, load_manifest()))
        finally:
            if self._spark is not None:
                # A step that failed between persist() and unpersist() leaves blocks behind.
                self._spark.catalog.clearCache()
                self._spark = None
            release_catalog(settings)
            if self._writer_lock is not None:
                self._writer_lock.release()
                self._writer_lock = None


def fail_dead_runs(
    instance: DagsterInstance, settings: LakehouseSettings, current_run_id: str | None = None
) -> list[str]:
    """Report runs on this lakehouse whose writer process is gone as failed; returns messages.

    Called with the writer lock held, so no other live run writes this lakehouse. A run is
    reported only when its writer process was on this host and no longer exists (pid and start
    time): a run on another host, or one that has not taken the lock yet, is left alone (the
    daemon's run monitoring times out runs stuck in STARTING).
    """
    host = socket.gethostname()
    messages = []
    for run in instance.get_runs(RunsFilter(statuses=LIVE_STATUSES)):
        if run.run_id == current_run_id or WRITER_TAG not in run.tags:
            continue
        try:
            writer = json.loads(run.tags[WRITER_TAG])
        except ValueError:
            continue
        if writer.get("lakehouse") != str(settings.lakehouse_dir) or writer.get("host") != host:
            continue
        if process_is_alive(int(writer["pid"]), writer.get("start")):
            continue
        message = (
            f"run {run.run_id} ({run.job_name}) was still {run.status.value}, but its process "
            f"(pid {writer['pid']} on {host}) is gone: it was killed or crashed. Marked failed"
            + (f" by run {current_run_id}" if current_run_id else "")
            + "; every table stays at its last commit."
        )
        instance.report_run_failed(run, message=message)
        messages.append(message)
    return messages
