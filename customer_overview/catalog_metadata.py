"""Descriptions, tags, owner and product version written into the Iceberg tables themselves.

The seed registers metadata with a scanner (Metis); here it lives in the catalog, so any tool
that reads Iceberg (Trino's ``$properties``, PyIceberg, Spark's ``SHOW TBLPROPERTIES``, catalog
browsers) shows it: column docs hold the descriptions, ``tags.<column>`` properties the
governance tags, ``product.*`` properties the published product and version.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import SparkSession

from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema
from customer_overview.tables import create_table_if_missing, load_iceberg_table

TAG_PROPERTY_PREFIX = "tags."


def tag_properties(schema: EntitySchema, columns: list[str] | None = None) -> dict[str, str]:
    """``tags.<column> = tag1,tag2`` for every tagged column (of ``columns``, if given)."""
    return {
        f"{TAG_PROPERTY_PREFIX}{column.name}": ",".join(column.tags)
        for column in schema.columns
        if column.tags and (columns is None or column.name in columns)
    }


def apply_table_metadata(
    settings: LakehouseSettings,
    table: str,
    column_docs: Mapping[str, str] | None = None,
    properties: Mapping[str, str] | None = None,
) -> bool:
    """Set column docs and table properties in one commit, only what differs; True if committed."""
    iceberg = load_iceberg_table(settings, table)
    current = iceberg.properties
    new_properties = {k: v for k, v in (properties or {}).items() if current.get(k) != v}
    fields = {field.name: field for field in iceberg.schema().fields}
    new_docs = {
        name: doc
        for name, doc in (column_docs or {}).items()
        if name in fields and fields[name].doc != doc
    }
    if not new_properties and not new_docs:
        return False
    with iceberg.transaction() as transaction:
        if new_properties:
            transaction.set_properties(new_properties)
        if new_docs:
            with transaction.update_schema() as update:
                for name, doc in new_docs.items():
                    update.update_column(name, doc=doc)
    return True


def ensure_curated_table(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    """The curated table of an entity (or a mart): typed columns, docs, tags, partitioning."""
    create_table_if_missing(
        spark,
        settings,
        schema.curated_table,
        schema.curated_ddl_columns(),
        comment=f"{schema.description} Grain: {schema.grain}",
        partition_sql=schema.partition_sql(),
    )
    apply_table_metadata(settings, schema.curated_table, properties=tag_properties(schema))
