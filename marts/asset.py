"""Marts stage: consumption tables for the dashboards, rebuilt from the curated tables.

A mart is rebuilt only when something it is built from changed (a source table's data, the mart
rules, the builder code or its columns): each build records that fingerprint in the snapshot it
commits, so a run with nothing new commits nothing here.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from customer_overview.asset_keys import OWNERS, column_schema, table_key, table_metadata
from customer_overview.catalog_metadata import ensure_curated_table
from customer_overview.config import LakehouseSettings
from customer_overview.entities import MART_NAMES, EntitySchema, load_entity
from customer_overview.resources import LakehouseResource
from customer_overview.tables import (
    BUILT_FROM,
    built_from,
    data_snapshot_id,
    inputs_fingerprint,
    load_iceberg_table,
    snapshot_property_option,
)
from marts import build
from marts.rules import RULES_FILE, load_mart_rules
from quality.gates import direct_sources


def marts_asset() -> AssetsDefinition:
    """Every mart in one step: the per-customer features are computed once and shared."""
    schemas = {name: load_entity(name) for name in MART_NAMES}
    specs = [
        AssetSpec(
            table_key(schema.curated_table),
            # Lineage comes from the mart's own schema (`sources:`), declared once.
            deps=[
                table_key(load_entity(source).curated_table)
                for source in sorted(direct_sources(schema.entity))
            ],
            group_name="marts",
            kinds={"spark", "iceberg"},
            owners=OWNERS,
            description=f"{schema.description}\n\nGrain: {schema.grain} Rules: marts/rules.yaml.",
            metadata={"dagster/column_schema": column_schema(schema), "grain": schema.grain},
        )
        for schema in schemas.values()
    ]

    @multi_asset(name="build_marts", specs=specs, can_subset=False)
    def _build(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult[Any]]:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        rules = load_mart_rules()
        features = build.customer_features(spark, settings).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            spend = build.customer_spend(features, rules)
            archetypes = build.customer_archetype(features, rules)
            frames: dict[str, DataFrame] = {
                "transactions_monthly": build.transactions_monthly(spark, settings),
                "customer_spend": spend,
                "customer_archetype": archetypes,
                "spend_by_segment": build.spend_by_segment(spark, settings, spend),
                "campaign_funnel": build.campaign_funnel(spark, settings, archetypes, rules),
                "product_sales": build.product_sales(spark, settings),
            }
            for name, frame in frames.items():
                schema = schemas[name]
                ensure_curated_table(spark, settings, schema)
                build.add_missing_columns(spark, settings, schema)
                inputs = _mart_inputs(settings, schema)
                if built_from(load_iceberg_table(settings, schema.curated_table)) == inputs:
                    # Nothing it is built from changed: no new snapshot, no new version.
                    metadata = table_metadata(settings, schema.curated_table) | {
                        "rebuilt": False,
                        "reason": "no source table, rule or builder changed since the last build",
                    }
                    context.log.info(f"{schema.curated_table}: unchanged inputs, not rebuilt")
                    yield MaterializeResult(
                        asset_key=table_key(schema.curated_table), metadata=metadata
                    )
                    continue
                # A full overwrite is one atomic commit: readers see the old or the new mart.
                build.conform(frame, schema).writeTo(
                    settings.spark_table(schema.curated_table)
                ).option(snapshot_property_option(BUILT_FROM), inputs).overwrite(F.lit(True))
                metadata = table_metadata(settings, schema.curated_table) | {"rebuilt": True}
                context.log.info(f"{schema.curated_table}: {metadata['dagster/row_count']:,} rows")
                if name == "customer_archetype":
                    metadata["archetypes"] = MetadataValue.json(
                        {
                            row.archetype: row["count"]
                            for row in archetypes.groupBy("archetype").count().collect()
                        }
                    )
                yield MaterializeResult(
                    asset_key=table_key(schema.curated_table), metadata=metadata
                )
        finally:
            features.unpersist()

    return _build


def _mart_inputs(settings: LakehouseSettings, schema: EntitySchema) -> str:
    """Fingerprint of what a mart is built from: its sources' data, the rules, the builder."""
    return inputs_fingerprint(
        {
            "sources": {
                table: data_snapshot_id(settings, table)
                for table in sorted(load_entity(source).curated_table for source in schema.sources)
            },
            "rules": hashlib.sha256(RULES_FILE.read_bytes()).hexdigest(),
            "builder": hashlib.sha256(Path(build.__file__).read_bytes()).hexdigest(),
            "columns": schema.curated_ddl_columns(),
        }
    )
