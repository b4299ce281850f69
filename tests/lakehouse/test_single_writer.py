"""One writer per lakehouse, with real `customer-overview` processes on a real catalog.

Two runs started together on one lakehouse: one is refused naming the other, a third one with
``--wait`` queues behind it, and no raw table holds a record twice. A run killed with ``kill -9``
frees the lock at once, and the next run reports it failed in the Dagster instance. The same two
runs on the cluster profile (two lakehouse folders, as on two machines, sharing one PostgreSQL
catalog and warehouse) are kept apart by the catalog's advisory lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from lakehouse_runs import land_new_customers
from published_copy import FirstPublish

from assets.raw.ingestion import RECORD_HASH
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.entities import all_entities
from customer_overview.landing_log import FILE_LOG_TABLE
from customer_overview.lock import BUSY_EXIT_CODE, acquire_writer_lock, recorded_holder
from customer_overview.resources import WRITER_TAG
from customer_overview.tables import load_iceberg_table
from pipelines.definitions import JOB_NAME

RUN_TIMEOUT = 1800
CLI = (sys.executable, "-m", "operations.cli")


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    return env | {"LAKEHOUSE_PROFILE": "local"} | (extra or {})


def _cli(lakehouse_dir: Path, *arguments: str, env: dict[str, str] | None = None):
    """Start ``customer-overview --lakehouse-dir DIR ARGUMENTS`` (its own process group)."""
    return subprocess.Popen(
        [*CLI, "--lakehouse-dir", str(lakehouse_dir), *arguments],
        env=env or _environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Exit code and output (stdout + stderr, whitespace runs as one space) of a process."""
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT)
    finally:
        _kill_group(process)
    return process.returncode, " ".join((out + err).split())


def _kill_group(process: subprocess.Popen[str]) -> None:
    """End what the process left behind (its Spark JVM), by its own process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _wait_for(condition, what: str, seconds: float = 600):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


def _generate(landing: Path) -> None:
    finished = subprocess.run(
        [*CLI, "generate", "--customers", "300", "--months", "1", "--seed", "5", "--out", landing],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stderr


def _duplicated_records(settings: LakehouseSettings) -> dict[str, int]:
    """Per raw table: distinct landed records (key, version, hash) held by more than one row."""
    duplicated = {}
    for schema in all_entities():
        identity = [*schema.key, schema.version, RECORD_HASH]
        rows = load_iceberg_table(settings, schema.raw_table).scan(selected_fields=tuple(identity))
        counts = (
            rows.to_arrow().group_by(identity, use_threads=False).aggregate([([], "count_all")])
        )
        duplicated[schema.raw_table] = pa.compute.sum(
            pa.compute.greater(counts["count_all"], 1)
        ).as_py()
    return duplicated


def _logged_files(settings: LakehouseSettings) -> list[str]:
    log = load_iceberg_table(settings, FILE_LOG_TABLE).scan(selected_fields=("fingerprint",))
    return log.to_arrow()["fingerprint"].to_pylist()


# ---------------------------------------------------------------------- embedded default
@pytest.fixture(scope="module")
def contested(first_publish: FirstPublish) -> dict:
    """On a copy of the first publish with a new drop landed: two runs started together, then a
    third with --wait while the winner still runs."""
    settings = first_publish.restore()
    lakehouse_dir = settings.lakehouse_dir
    land_new_customers(settings, "sw", 9)
    first, second = _cli(lakehouse_dir, "run"), _cli(lakehouse_dir, "run")
    contenders = {first.pid: first, second.pid: second}
    holder = _wait_for(
        lambda: (h := recorded_holder(settings)) and h.pid in contenders and h,
        "one of the two runs to take the lock",
    )
    waiter = _cli(lakehouse_dir, "run", "--wait", "--select", "group:ingest")
    outcomes = {pid: _finish(process) for pid, process in contenders.items()}
    return {
        "settings": settings,
        "winner": holder.pid,
        "outcomes": outcomes,
        "waiter": _finish(waiter),
    }


def test_two_runs_at_once_one_is_refused_naming_the_other(contested):
    winner = contested["winner"]
    (loser,) = set(contested["outcomes"]) - {winner}
    code, output = contested["outcomes"][winner]
    assert code == 0, output[-3000:]
    code, output = contested["outcomes"][loser]
    assert code == BUSY_EXIT_CODE, output[-3000:]
    assert f"is being written by pid {winner} on host" in output
    assert "command `customer-overview run`" in output and "--wait" in output
    assert "Spark" not in output  # refused before any work started


def test_a_run_with_wait_queues_behind_the_writer(contested):
    code, output = contested["waiter"]
    assert code == 0, output[-3000:]
    assert "waiting (" in output and f"pid {contested['winner']}" in output


def test_no_raw_record_is_held_twice(contested):
    settings = contested["settings"]
    duplicated = _duplicated_records(settings)
    assert set(duplicated) == {schema.raw_table for schema in all_entities()}
    assert all(count == 0 for count in duplicated.values()), duplicated
    logged = _logged_files(settings)
    assert logged and len(logged) == len(set(logged))  # every landing file ingested once


def test_kill_9_frees_the_lock_and_the_next_run_marks_the_dead_run_failed(contested):
    settings: LakehouseSettings = contested["settings"]
    instance = DagsterInstance.from_config(str(settings.dagster_home))
    victim = _cli(settings.lakehouse_dir, "run")

    def victims_run():  # type: ignore[no-untyped-def]
        for run in instance.get_runs(
            RunsFilter(job_name=JOB_NAME, statuses=[DagsterRunStatus.STARTED])
        ):
            writer = json.loads(run.tags.get(WRITER_TAG, "{}"))
            if writer.get("pid") == victim.pid:
                return run
        return None

    run = _wait_for(victims_run, "the victim's run to hold the lock")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    _kill_group(victim)
    # The kernel released the lock with the process: no clean-up, no waiting.
    acquire_writer_lock(settings, "test: lock is free").release()
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.STARTED

    code, output = _finish(_cli(settings.lakehouse_dir, "run", "--select", "group:ingest"))
    assert code == 0, output[-3000:]
    assert f"run {run.run_id}" in output and "is gone" in output
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    # ... and only the dead run: the runs that finished keep their status.
    assert not instance.get_runs(
        RunsFilter(
            job_name=JOB_NAME, statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING]
        )
    )


def test_the_raw_check_fails_on_a_record_held_twice(lakehouse, lake_spark):
    from assets.raw.asset import _one_row_per_record
    from assets.raw.ingestion import ensure_raw_table
    from customer_overview.entities import load_entity

    schema = load_entity("products")
    ensure_raw_table(lake_spark, lakehouse, schema)
    table = lakehouse.spark_table(schema.raw_table)
    columns = lake_spark.table(table).columns
    row = {name: None for name in columns} | {
        schema.key[0]: "P1",
        schema.version: "2024-01-01 00:00:00",
        RECORD_HASH: "h1",
    }
    frame = lake_spark.createDataFrame(
        [row, row | {RECORD_HASH: "h2"}], lake_spark.table(table).schema
    )
    frame.writeTo(table).append()
    first = _one_row_per_record(lake_spark, lakehouse, schema)
    assert first.passed  # same key, other content
    assert first.metadata["checked"].value == "every row"

    # A new row repeating an old record: the incremental check counts it against the whole table.
    lake_spark.createDataFrame([row], lake_spark.table(table).schema).writeTo(table).append()
    result = _one_row_per_record(lake_spark, lakehouse, schema)
    assert not result.passed
    assert result.metadata["checked"].value.startswith("the records of rows appended since")
    assert result.metadata["duplicated_records"].value == 1
    assert result.metadata["extra_rows"].value == 1

    # A failed check records nothing: after another append, the repeated record is still found.
    other = row | {schema.key[0]: "P2", RECORD_HASH: "h3"}
    lake_spark.createDataFrame([other], lake_spark.table(table).schema).writeTo(table).append()
    assert not _one_row_per_record(lake_spark, lakehouse, schema).passed


# ------------------------------------------------------------------------ cluster profile
def test_two_machines_sharing_a_postgres_catalog_do_not_write_at_once(spark_cluster, tmp_path):
    from operations.local_cluster import create_database

    # Two lakehouse folders (two machines), one catalog and warehouse, the same landed files.
    warehouse = tmp_path / "shared_warehouse"
    create_database(spark_cluster, "two_machines")
    profile = spark_cluster.profile_env("two_machines")
    env = _environment(profile | {"LAKEHOUSE_WAREHOUSE": warehouse.as_uri()})
    machines = [tmp_path / "machine_a", tmp_path / "machine_b"]
    _generate(machines[0] / "landing")
    shutil.copytree(machines[0] / "landing", machines[1] / "landing")  # same names, sizes, times
    first, second = (_cli(folder, "run", env=env) for folder in machines)
    outcomes = {first.pid: _finish(first), second.pid: _finish(second)}

    codes = sorted(code for code, _ in outcomes.values())
    assert codes == [0, BUSY_EXIT_CODE], {pid: o[-3000:] for pid, (_, o) in outcomes.items()}
    (winner,) = [pid for pid, (code, _) in outcomes.items() if code == 0]
    (refusal,) = [output for code, output in outcomes.values() if code == BUSY_EXIT_CODE]
    assert "PostgreSQL advisory lock" in refusal
    assert f"customer-overview pid {winner}@" in refusal

    settings = load_settings(lakehouse_dir=machines[0], env=env)
    assert settings.catalog.type == "postgres"
    duplicated = _duplicated_records(settings)
    assert all(count == 0 for count in duplicated.values()), duplicated
    logged = _logged_files(settings)
    assert logged and len(logged) == len(set(logged))
