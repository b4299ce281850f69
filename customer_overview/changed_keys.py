"""The keys each upsert touched, kept beside the table: what a later stage must look at again.

Curated tables are copy-on-write: a MERGE that changes 1% of the customers rewrites nearly every
data file, so the files a snapshot added say little about which rows changed. The writer knows:
before its MERGE it stages the keys of its source rows (:func:`stage_changed_keys`), and after
it files them under the MERGE's snapshot (:func:`record_changed_keys`): a Parquet folder per
snapshot under ``LAKEHOUSE_DIR/state/changed_keys/<table>/``. A reader that was up
to date at snapshot ``after`` asks :func:`keys_changed_since` for every key whose row may differ
between ``after`` and now; a row whose key is not among them is the row it already saw.

Only what is known is trusted. Walking back from the current snapshot to ``after``:

- a snapshot with recorded keys contributes them (an upsert: no key left the table);
- an ``append`` without recorded keys (any other writer) contributes the keys of the rows it
  added, read by Iceberg's incremental append scan;
- a ``replace`` (compaction) changes no row and contributes nothing;
- anything else (a full rewrite, a delete, an overwrite nobody recorded, a rollback past
  ``after``, an expired snapshot) means "unknown": None, and the reader starts over.

A crash between the MERGE and the recording leaves the snapshot unrecorded, so the answer is
None rather than an incomplete key set. Key sets live as long as their snapshot: recording one
removes those of snapshots the table no longer has (expired by maintenance).
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path

from pyiceberg.table.snapshots import Operation, Snapshot
from pyspark.sql import DataFrame, SparkSession

from customer_overview.config import LakehouseSettings
from customer_overview.sql import quote
from customer_overview.tables import load_iceberg_table, operation, snapshots_since

log = logging.getLogger(__name__)


def changed_keys_dir(settings: LakehouseSettings, table: str) -> Path:
    return settings.lakehouse_dir / "state" / "changed_keys" / table


def stage_changed_keys(settings: LakehouseSettings, table: str, keys: DataFrame) -> Path:
    """Write ``keys`` (the key columns of every row the coming upsert writes) under a staging
    name; :func:`record_changed_keys` files them under the upsert's snapshot.

    Written before the upsert, not after: the upsert's commit invalidates Spark's cached data
    that reads ``table``, and ``keys`` would then be recomputed against the table it has just
    changed (a second pass over the whole curation, and other rows).
    """
    folder = changed_keys_dir(settings, table)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{uuid.uuid4().hex}.tmp"
    # Not made distinct here: the reader's union of key sets is (one shuffle, not one per set).
    keys.write.parquet(staging.as_uri())
    return staging


def record_changed_keys(
    settings: LakehouseSettings, table: str, snapshot_id: int | None, staging: Path
) -> None:
    """File the staged keys under ``snapshot_id``, the upsert's snapshot (None or an unchanged
    snapshot: the upsert committed nothing, the staging is removed).

    A rename: a reader finds the whole set or none.
    """
    final = changed_keys_dir(settings, table) / str(snapshot_id)
    if snapshot_id is None or final.exists():  # nothing committed, or a retried step
        shutil.rmtree(staging, ignore_errors=True)
    else:
        os.rename(staging, final)
    _forget_expired(settings, table)


def keys_changed_since(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    key: list[str],
    after: int | None,
    up_to: int | None,
) -> DataFrame | None:
    """The distinct ``key`` values of every row that may differ between ``after`` and ``up_to``.

    None when that is not known (see the module docstring): the caller must read everything.
    An empty frame when nothing changed.
    """
    changes = _known_changes(settings, table, after, up_to)
    if changes is None:
        return None
    parts: list[DataFrame] = []
    for snapshot, recorded in changes:
        if recorded is not None:
            parts.append(spark.read.parquet(recorded.as_uri()).select(*map(quote, key)))
        elif operation(snapshot) == Operation.APPEND:
            parts.append(
                spark.read.option("start-snapshot-id", str(snapshot.parent_snapshot_id))
                .option("end-snapshot-id", str(snapshot.snapshot_id))
                .table(settings.spark_table(table))
                .select(*map(quote, key))
            )
    if not parts:
        schema = spark.table(settings.spark_table(table)).select(*map(quote, key)).schema
        return spark.createDataFrame([], schema)
    keys = parts[0]
    for part in parts[1:]:
        keys = keys.unionByName(part)
    return keys.distinct()


def only_upserted_since(
    settings: LakehouseSettings, table: str, after: int | None, up_to: int | None
) -> bool:
    """Whether ``table`` has only gained or updated rows between ``after`` and ``up_to``: no key
    left it. Read from the metadata and the recorded key sets, without Spark."""
    return _known_changes(settings, table, after, up_to) is not None


def _known_changes(
    settings: LakehouseSettings, table: str, after: int | None, up_to: int | None
) -> list[tuple[Snapshot, Path | None]] | None:
    """Each snapshot after ``after`` up to ``up_to`` that changed rows, with its recorded key set
    (None for an append nobody recorded), or None when a change is not known."""
    if after is None or up_to is None:
        return None
    between = snapshots_since(load_iceberg_table(settings, table), after, up_to)
    if between is None:  # ``after`` is not an ancestor, or a snapshot on the way expired
        return None
    folder = changed_keys_dir(settings, table)
    changes: list[tuple[Snapshot, Path | None]] = []
    for snapshot in between:
        recorded = folder / str(snapshot.snapshot_id)
        if recorded.is_dir():
            changes.append((snapshot, recorded))
        elif operation(snapshot) == Operation.APPEND and snapshot.parent_snapshot_id is not None:
            changes.append((snapshot, None))
        elif operation(snapshot) != Operation.REPLACE:
            log.info(
                "%s: snapshot %s (%s) is not a recorded upsert",
                table,
                snapshot.snapshot_id,
                operation(snapshot),
            )
            return None
    return changes


def _forget_expired(settings: LakehouseSettings, table: str) -> None:
    """Remove the key sets of snapshots the table no longer has, and staging left by a crash."""
    folder = changed_keys_dir(settings, table)
    live = {str(s.snapshot_id) for s in load_iceberg_table(settings, table).snapshots()}
    for entry in folder.iterdir():
        if entry.name.startswith(".") or entry.name not in live:
            shutil.rmtree(entry, ignore_errors=True)
