"""Iceberg table helpers shared by every stage (Spark side)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation, Snapshot
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.sql import quote, sql_string

# The seed's table properties (parquet data, gzip metadata), plus copy-on-write for row-level
# changes so that every reader (DuckDB, PyIceberg, Trino) sees plain data files without having to
# apply delete files.
DEFAULT_TABLE_PROPERTIES = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.metadata.compression-codec": "gzip",
    "write.merge.mode": "copy-on-write",
    "write.update.mode": "copy-on-write",
    "write.delete.mode": "copy-on-write",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "100",
}


def create_table_if_missing(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    columns_ddl: str,
    comment: str,
    partition_sql: str = "",
    properties: dict[str, str] | None = None,
) -> None:
    """``CREATE TABLE IF NOT EXISTS`` with the product's default table properties."""
    props = DEFAULT_TABLE_PROPERTIES | (properties or {})
    props_sql = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in props.items())
    spark.sql(
        f"CREATE TABLE IF NOT EXISTS {settings.spark_table(table)} (\n  {columns_ddl}\n) "
        f"USING iceberg {partition_sql} COMMENT {sql_string(comment)} TBLPROPERTIES ({props_sql})"
    )


def columns_ddl(struct: StructType) -> str:
    """The column list of a ``CREATE TABLE`` for ``struct``; a field's ``comment`` metadata
    becomes its column comment."""
    columns = []
    for field in struct.fields:
        comment = field.metadata.get("comment")
        suffix = f" COMMENT {sql_string(comment)}" if comment else ""
        nullable = "" if field.nullable else " NOT NULL"
        columns.append(f"{quote(field.name)} {field.dataType.simpleString()}{nullable}{suffix}")
    return ",\n  ".join(columns)


def table_exists(spark: SparkSession, settings: LakehouseSettings, table: str) -> bool:
    return bool(spark.catalog.tableExists(settings.spark_table(table)))


# Metadata reads go through PyIceberg: reading a metadata file takes milliseconds, where a Spark
# metadata-table query is a job. Both engines share the catalog, so they see the same commit.
def load_iceberg_table(settings: LakehouseSettings, table: str) -> Table:
    return cached_catalog(settings).load_table(settings.table_identifier(table))


def current_snapshot_id(settings: LakehouseSettings, table: str) -> int | None:
    """The table's current snapshot id, or ``None`` for a table without data commits."""
    snapshot = load_iceberg_table(settings, table).current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def table_property(settings: LakehouseSettings, table: str, key: str) -> str | None:
    return load_iceberg_table(settings, table).properties.get(key)


def set_table_properties(
    settings: LakehouseSettings, table: str, properties: dict[str, str]
) -> None:
    """Set table properties in one metadata commit (PyIceberg; Spark reads them back)."""
    with load_iceberg_table(settings, table).transaction() as transaction:
        transaction.set_properties(properties)


def ensure_branch(settings: LakehouseSettings, table: str, branch: str) -> None:
    """Create ``branch`` at the table's current snapshot unless it exists."""
    iceberg = load_iceberg_table(settings, table)
    if branch in iceberg.metadata.refs:
        return
    current = iceberg.current_snapshot()
    if current is None:
        raise ValueError(f"{table}: no snapshot to start branch {branch!r} from")
    with iceberg.manage_snapshots() as snapshots:
        snapshots.create_branch(current.snapshot_id, branch)


def drop_branch(settings: LakehouseSettings, table: str, branch: str) -> None:
    """Remove ``branch`` if it exists (its snapshots stay while another ref holds them)."""
    iceberg = load_iceberg_table(settings, table)
    if branch in iceberg.metadata.refs:
        with iceberg.manage_snapshots() as snapshots:
            snapshots.remove_branch(branch)


def table_location(settings: LakehouseSettings, table: str) -> str:
    return load_iceberg_table(settings, table).location()


def row_count(settings: LakehouseSettings, table: str) -> int:
    """Rows in the current snapshot, from its summary (exact: tables are copy-on-write)."""
    return snapshot_row_count(load_iceberg_table(settings, table).current_snapshot())


def snapshot_row_count(snapshot: Snapshot | None) -> int:
    """Rows in ``snapshot``, from its summary.

    Exact for every table here: they are copy-on-write but for the masked outputs, whose MERGEs
    write one position delete per row they replace or remove, so the live rows are the records
    minus the position deletes. (No writer of this product makes equality deletes.)
    """
    if snapshot is None or snapshot.summary is None:
        return 0
    records = int(snapshot.summary.get("total-records") or 0)
    return records - int(snapshot.summary.get("total-position-deletes") or 0)


# ------------------------------------------------------- what a table was last built from
# A stage that rebuilds a table from others records, in the snapshot it commits, a fingerprint of
# its inputs (source snapshots, rules, policies); the next run skips the rebuild when the
# fingerprint is unchanged, so a run with nothing new commits nothing. In the snapshot summary,
# not a table property: it is committed atomically with the data it describes.
BUILT_FROM = "lakehouse.built-from"


def snapshot_property_option(key: str) -> str:
    """The Spark write option that puts ``key`` into the committed snapshot's summary."""
    return f"snapshot-property.{key}"


def inputs_fingerprint(inputs: Mapping[str, object]) -> str:
    """A stable digest of a build's inputs (JSON-serialisable values)."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def data_snapshot(iceberg: Table, ref: str = "main") -> Snapshot | None:
    """The snapshot of ``ref``, looking through compactions: the last change of the data.

    A ``replace`` snapshot (``rewrite_data_files``) rewrites files without changing rows, so
    what was built from the table before it is still up to date.
    """
    snapshot = iceberg.snapshot_by_name(ref)
    while (
        snapshot is not None
        and snapshot.summary is not None
        and snapshot.summary.operation == Operation.REPLACE
        and snapshot.parent_snapshot_id is not None
        and iceberg.snapshot_by_id(snapshot.parent_snapshot_id) is not None
    ):
        snapshot = iceberg.snapshot_by_id(snapshot.parent_snapshot_id)
    return snapshot


def data_snapshot_id(settings: LakehouseSettings, table: str) -> int | None:
    snapshot = data_snapshot(load_iceberg_table(settings, table))
    return snapshot.snapshot_id if snapshot else None


def snapshots_since(iceberg: Table, after: int, up_to: int) -> list[Snapshot] | None:
    """The snapshots after ``after`` up to ``up_to``, newest first.

    None when ``after`` is not an ancestor of ``up_to`` (a rollback) or a snapshot on the way
    has expired: what happened in between is not known.
    """
    between: list[Snapshot] = []
    snapshot = iceberg.snapshot_by_id(up_to)
    while snapshot is not None and snapshot.snapshot_id != after:
        between.append(snapshot)
        parent = snapshot.parent_snapshot_id
        snapshot = iceberg.snapshot_by_id(parent) if parent is not None else None
    return None if snapshot is None else between


def operation(snapshot: Snapshot) -> Operation | None:
    return snapshot.summary.operation if snapshot.summary else None


def rows_appended_since(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    after: str | int | None,
    up_to: int | None,
) -> DataFrame | None:
    """The rows ``table`` gained after snapshot ``after``, up to snapshot ``up_to``.

    For work that was done up to ``after`` and only needs the new rows (masking them, checking
    them against the rest). None when they are not all that changed: a snapshot on the way is
    neither an append nor a compaction (``replace``: the same rows in new files), ``after`` is
    not an ancestor of ``up_to`` (a rollback), or either is unknown or has expired.
    """
    if after is None or not str(after).isdigit() or up_to is None:
        return None
    start = int(after)
    between = snapshots_since(load_iceberg_table(settings, table), start, up_to)
    if between is None or any(
        operation(snapshot) not in (Operation.APPEND, Operation.REPLACE) for snapshot in between
    ):
        return None
    qualified = settings.spark_table(table)
    if start == up_to:  # nothing since (Spark's incremental scan refuses an empty range)
        return spark.sql(f"SELECT * FROM {qualified} VERSION AS OF {start}").where("false")
    # Iceberg's incremental append scan reads only the data files the appends added.
    return (
        spark.read.option("start-snapshot-id", str(start))
        .option("end-snapshot-id", str(up_to))
        .table(qualified)
    )


def built_from(iceberg: Table, ref: str = "main") -> str | None:
    """The inputs fingerprint recorded by the last build of ``ref`` (None: never recorded)."""
    snapshot = data_snapshot(iceberg, ref)
    if snapshot is None or snapshot.summary is None:
        return None
    return snapshot.summary.get(BUILT_FROM)


def table_at(
    spark: SparkSession, settings: LakehouseSettings, table: str, snapshot_id: int | None
) -> DataFrame:
    """``table`` as of snapshot ``snapshot_id``, so that what is read is exactly the snapshot a
    record names; as it is now when None (a table without a snapshot is empty)."""
    qualified = settings.spark_table(table)
    if snapshot_id is None:
        return spark.table(qualified)
    return spark.sql(f"SELECT * FROM {qualified} VERSION AS OF {int(snapshot_id)}")


@contextmanager
def temp_view(source: DataFrame, name: str) -> Iterator[str]:
    """``source`` as the temporary view ``name`` (the USING side of a MERGE), for the block only.

    The view is dropped on the way out, also when the statement fails: a view left behind would
    keep the source's lineage (and any cached data under it) alive for the rest of the session.
    """
    source.createOrReplaceTempView(name)
    try:
        yield name
    finally:
        source.sparkSession.catalog.dropTempView(name)
