"""What every asset module shares: keys, owners, and the table metadata a reader uses."""

from __future__ import annotations

from typing import Any

from dagster import AssetKey, MetadataValue, TableColumn, TableSchema
from pyspark.sql import SparkSession

from customer_overview.config import NAMESPACE, LakehouseSettings
from customer_overview.entities import EntitySchema
from customer_overview.tables import current_snapshot_id, row_count, table_location

OWNERS = ["team:customer-data-platform"]


def table_key(table: str) -> AssetKey:
    """Asset key ``[namespace, table]``: the UI, the catalog and SQL say the same name."""
    return AssetKey([NAMESPACE, table])


def column_schema(schema: EntitySchema, extra: list[TableColumn] | None = None) -> TableSchema:
    """The curated column schema with descriptions and governance tags."""
    columns = [
        TableColumn(
            name=column.name,
            type=column.type,
            description=column.description,
            tags={tag: "" for tag in column.tags},
        )
        for column in schema.columns
    ]
    return TableSchema(columns=columns + (extra or []))


def table_metadata(spark: SparkSession, settings: LakehouseSettings, table: str) -> dict[str, Any]:
    """Row count, fully qualified name, location and snapshot of an Iceberg table."""
    qualified = settings.spark_table(table)
    snapshot = current_snapshot_id(spark, settings, table)
    return {
        "dagster/row_count": row_count(settings, table),
        "dagster/table_name": qualified,
        "table_location": MetadataValue.path(table_location(spark, settings, table)),
        "snapshot_id": MetadataValue.text(str(snapshot) if snapshot else "none"),
    }
