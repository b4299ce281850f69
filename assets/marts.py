"""Marts stage: consumption tables for the dashboards, rebuilt from the curated tables each run."""

from collections.abc import Iterator

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

from assets.common import OWNERS, column_schema, table_key, table_metadata
from customer_overview.curation import ensure_curated_table
from customer_overview.entities import MART_NAMES, load_entity
from marts import build
from marts.rules import load_mart_rules
from pipelines.resources import LakehouseResource

# Curated tables each mart reads (lineage in the UI).
MART_SOURCES = {
    "transactions_monthly": ("transactions",),
    "customer_spend": ("customers", "transactions"),
    "customer_archetype": ("customers", "accounts", "transactions"),
    "spend_by_segment": ("transactions",),
    "campaign_funnel": ("campaigns",),
    "product_sales": ("accounts", "products"),
}
# Marts built from other marts.
MART_UPSTREAM = {
    "spend_by_segment": ("customer_spend",),
    "campaign_funnel": ("customer_archetype",),
}


def marts_asset() -> AssetsDefinition:
    """Every mart in one step: the per-customer features are computed once and shared."""
    schemas = {name: load_entity(name) for name in MART_NAMES}
    specs = [
        AssetSpec(
            table_key(schema.curated_table),
            deps=[table_key(load_entity(source).curated_table) for source in MART_SOURCES[name]]
            + [
                table_key(schemas[upstream].curated_table)
                for upstream in MART_UPSTREAM.get(name, ())
            ],
            group_name="marts",
            kinds={"spark", "iceberg"},
            owners=OWNERS,
            description=f"{schema.description}\n\nGrain: {schema.grain} Rules: marts/rules.yaml.",
            metadata={"dagster/column_schema": column_schema(schema), "grain": schema.grain},
        )
        for name, schema in schemas.items()
    ]

    @multi_asset(name="build_marts", specs=specs, can_subset=False)
    def _build(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult]:
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
                # A full overwrite is one atomic commit: readers see the old or the new mart.
                build.conform(frame, schema).writeTo(
                    settings.spark_table(schema.curated_table)
                ).overwrite(F.lit(True))
                metadata = table_metadata(settings, schema.curated_table)
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
