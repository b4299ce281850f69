"""Maintenance on a real catalog: compaction, snapshot expiry that keeps tags, orphan removal.

Each test builds its table with real Spark commits in a fresh lakehouse and runs the same
``maintain`` the maintenance asset runs, with thresholds small enough to act now.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from assets.maintenance.maintenance import expirable_snapshots, maintain, referenced_files
from customer_overview.config import LakehouseSettings, MaintenanceSettings
from customer_overview.landing_log import FILE_LOG_TABLE
from customer_overview.tables import data_snapshot, load_iceberg_table
from customer_overview.version_hint import local_path


def _with(settings: LakehouseSettings, **maintenance: float) -> LakehouseSettings:
    return settings.model_copy(update={"maintenance": MaintenanceSettings(**maintenance)})


def _appended_table(spark: SparkSession, settings: LakehouseSettings, commits: int) -> str:
    """``landing_file_log``-named (an append-only table) with one tiny file per commit."""
    qualified = settings.spark_table(FILE_LOG_TABLE)
    spark.sql(
        f"CREATE TABLE {qualified} (id bigint, note string) USING iceberg "
        "TBLPROPERTIES ('format-version' = '2', 'write.metadata.compression-codec' = 'gzip')"
    )
    for number in range(commits):
        spark.sql(f"INSERT INTO {qualified} VALUES ({number}, 'row {number}')")
    return qualified


def _files(settings: LakehouseSettings) -> set[Path]:
    root = Path(local_path(settings.warehouse))
    return {path for path in root.rglob("*") if path.is_file()}


def _old(path: Path, hours: float) -> None:
    moment = time.time() - hours * 3600
    os.utime(path, (moment, moment))


def test_compaction_expiry_and_orphans(lake_spark: SparkSession, lakehouse: LakehouseSettings):
    qualified = _appended_table(lake_spark, lakehouse, commits=6)
    table = load_iceberg_table(lakehouse, FILE_LOG_TABLE)
    second = table.snapshots()[1].snapshot_id
    lake_spark.sql(f"ALTER TABLE {qualified} CREATE TAG `v1.0.0+1` AS OF VERSION {second}")
    data_dir = Path(local_path(table.location())) / "data"
    stale_orphan, fresh_orphan = data_dir / "left-by-a-killed-run.parquet", data_dir / "x.tmp"
    stale_orphan.write_bytes(b"never committed")
    fresh_orphan.write_bytes(b"maybe a commit in flight")
    _old(stale_orphan, hours=48)
    last_append = load_iceberg_table(lakehouse, FILE_LOG_TABLE).current_snapshot()

    # Compaction alone (nothing old enough to expire): the rows stay, the data did not change.
    report = maintain(_with(lakehouse, orphan_file_min_age_hours=24), lambda: lake_spark)
    compacted = load_iceberg_table(lakehouse, FILE_LOG_TABLE)
    assert report.total("compacted_files") == 6 and report.total("compaction_added_files") == 1
    assert len(list(compacted.scan().plan_files())) == 1
    assert compacted.current_snapshot().summary.operation.value == "replace"
    assert data_snapshot(compacted).snapshot_id == last_append.snapshot_id
    assert lake_spark.table(qualified).count() == 6
    assert not stale_orphan.exists() and fresh_orphan.exists(), "only files older than the age"
    assert report.total("snapshots_expired") == 0

    # Expiry: only the branch head and the tagged (published) snapshot are left.
    report = maintain(
        _with(lakehouse, snapshot_max_age_hours=0, retain_last=1, orphan_file_min_age_hours=24),
        lambda: lake_spark,
    )
    expired = load_iceberg_table(lakehouse, FILE_LOG_TABLE)
    assert report.total("snapshots_expired") == 5  # 7 snapshots: 6 appends + the compaction
    assert {s.snapshot_id for s in expired.snapshots()} == {
        expired.current_snapshot().snapshot_id,
        second,
    }
    tagged = lake_spark.sql(f"SELECT id FROM {qualified} VERSION AS OF 'v1.0.0+1'").collect()
    assert sorted(row.id for row in tagged) == [0, 1]
    assert lake_spark.table(qualified).count() == 6
    # The expired snapshots' files are young: kept until they are older than the orphan age.
    unreferenced = {
        path
        for path in _files(lakehouse)
        if str(path) not in referenced_files(expired) and path.name != "version-hint.text"
    }
    assert fresh_orphan in unreferenced and len(unreferenced) > 1

    report = maintain(_with(lakehouse, orphan_file_min_age_hours=0), lambda: lake_spark)
    assert report.total("orphans_removed") == len(unreferenced)
    assert not any(path.exists() for path in unreferenced)
    assert lake_spark.table(qualified).count() == 6
    assert (
        lake_spark.sql(f"SELECT count(*) FROM {qualified} VERSION AS OF 'v1.0.0+1'").first()[0] == 2
    )

    # Nothing left to do: no commit, no file added or removed.
    files, location = (
        _files(lakehouse),
        load_iceberg_table(lakehouse, FILE_LOG_TABLE).metadata_location,
    )
    report = maintain(
        _with(lakehouse, snapshot_max_age_hours=0, retain_last=1, orphan_file_min_age_hours=0),
        lambda: pytest.fail("Spark is not needed when nothing is to compact"),
    )
    assert not any(table.changed for table in report.tables)
    assert _files(lakehouse) == files
    assert load_iceberg_table(lakehouse, FILE_LOG_TABLE).metadata_location == location


def test_expiry_keeps_what_an_incremental_reader_starts_from(
    lake_spark: SparkSession, lakehouse: LakehouseSettings
):
    _appended_table(lake_spark, lakehouse, commits=4)
    table = load_iceberg_table(lakehouse, FILE_LOG_TABLE)
    ids = [snapshot.snapshot_id for snapshot in table.snapshots()]
    now = datetime.now(UTC)
    assert expirable_snapshots(table, now, retain_last=1) == ids[:3]
    # A curated table that processed raw up to the second snapshot reads from there next time.
    assert expirable_snapshots(table, now, retain_last=1, keep_from=ids[1]) == ids[:1]
    assert expirable_snapshots(table, now, retain_last=3) == ids[:1]
