"""What every asset module shares: keys, owners, and the table metadata a reader uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from dagster import AssetKey, MaterializeResult, MetadataValue, TableColumn, TableSchema

from customer_overview.config import NAMESPACE, LakehouseSettings
from customer_overview.entities import EntitySchema
from customer_overview.tables import load_iceberg_table, snapshot_row_count

OWNERS = ["team:customer-data-platform"]

# The return annotation of an asset function that returns (not yields) its MaterializeResult.
# Dagster reads that annotation at run time and accepts only the bare class (an asset with check
# specs refuses ``MaterializeResult[...]``), so it is parametrised for the type checker only.
if TYPE_CHECKING:
    Materialized: TypeAlias = MaterializeResult[Any]
else:
    Materialized = MaterializeResult


def table_key(table: str) -> AssetKey:
    """Asset key ``[namespace, table]``: the UI, the catalog and SQL say the same name."""
    return AssetKey([NAMESPACE, table])


def column_schema(schema: EntitySchema) -> TableSchema:
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
    return TableSchema(columns=columns)


def table_metadata(settings: LakehouseSettings, table: str) -> dict[str, Any]:
    """Row count, fully qualified name, location and snapshot of an Iceberg table."""
    iceberg_table = load_iceberg_table(settings, table)
    snapshot = iceberg_table.current_snapshot()
    return {
        "dagster/row_count": snapshot_row_count(snapshot),
        "dagster/table_name": settings.spark_table(table),
        "table_location": MetadataValue.path(iceberg_table.location()),
        "snapshot_id": MetadataValue.text(str(snapshot.snapshot_id) if snapshot else "none"),
    }
