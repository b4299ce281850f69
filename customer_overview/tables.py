"""Iceberg table helpers shared by every stage (Spark side)."""

from __future__ import annotations

from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyspark.sql import SparkSession

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.sql import sql_string

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
    spark: SparkSession, settings: LakehouseSettings, table: str, properties: dict[str, str]
) -> None:
    props_sql = ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in properties.items())
    spark.sql(f"ALTER TABLE {settings.spark_table(table)} SET TBLPROPERTIES ({props_sql})")


def table_location(settings: LakehouseSettings, table: str) -> str:
    return load_iceberg_table(settings, table).location()


def row_count(settings: LakehouseSettings, table: str) -> int:
    """Rows in the current snapshot, from its summary (exact: tables are copy-on-write)."""
    return snapshot_row_count(load_iceberg_table(settings, table).current_snapshot())


def snapshot_row_count(snapshot: Snapshot | None) -> int:
    """Rows in ``snapshot``, from its summary (exact: tables are copy-on-write)."""
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.get("total-records") or 0)
