"""Marts stage: consumption tables for the dashboards, built from the curated tables.

A mart is rebuilt only when something it is built from changed (a source table's data, the mart
rules, the builder code or its columns): each build records that fingerprint, so a run with
nothing new commits nothing here. A mart whose rows each depend on one group of source rows
(``mart_transactions_monthly``: a month) recomputes only the groups a change touched
(marts/grouped.py); the others are rebuilt whole, by one atomic overwrite.
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
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_overview.asset_keys import OWNERS, column_schema, table_key, table_metadata
from customer_overview.catalog_metadata import ensure_curated_table
from customer_overview.config import LakehouseSettings
from customer_overview.entities import MART_NAMES, EntitySchema, load_entity
from customer_overview.resources import LakehouseResource
from customer_overview.spark import REUSED_FRAME_STORAGE
from customer_overview.tables import (
    BUILT_FROM,
    built_from,
    data_snapshot_id,
    inputs_fingerprint,
    load_iceberg_table,
    snapshot_property_option,
)
from marts import build, grouped
from marts.grouped import GROUPED_MARTS, WHOLE_REBUILD_SHARE, MartBuild
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
        features = build.customer_features(spark, settings).persist(REUSED_FRAME_STORAGE)
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
                metadata = _write_mart(context, spark, settings, schema, frame)
                if name == "customer_archetype" and metadata["rebuilt"]:
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


def _write_mart(
    context: AssetExecutionContext,
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    frame: DataFrame,
) -> dict[str, Any]:
    """Bring one mart up to date: nothing when nothing it is built from changed, the groups a
    change touched where the mart allows it (marts/grouped.py), else a whole rebuild."""
    table = schema.curated_table
    sources = _source_snapshots(settings, schema)
    definition = _mart_definition(schema)
    inputs = inputs_fingerprint({"sources": sources, "definition": definition})
    previous = grouped.last_build(settings, table)
    if inputs in (built_from(load_iceberg_table(settings, table)), previous and previous.inputs):
        # Nothing it is built from changed: no new snapshot, no new version.
        context.log.info(f"{table}: unchanged inputs, not rebuilt")
        return table_metadata(settings, table) | {
            "rebuilt": False,
            "reason": "no source table, rule or builder changed since the last build",
        }
    by_groups = GROUPED_MARTS.get(schema.entity)
    groups = None
    if by_groups is not None and previous is not None and previous.definition == definition:
        groups = grouped.changed_groups(settings, by_groups, previous, sources)
        if groups is None:
            context.log.info(f"{table}: which groups changed is not known, rebuilt whole")
        elif len(groups) > WHOLE_REBUILD_SHARE * (
            held := grouped.mart_groups(spark, settings, schema, by_groups)
        ):
            context.log.info(f"{table}: {len(groups)} of {held} groups changed, rebuilt whole")
            groups = None
    if groups is None:
        # A full overwrite is one atomic commit: readers see the old or the new mart.
        build.conform(frame, schema).writeTo(settings.spark_table(table)).option(
            snapshot_property_option(BUILT_FROM), inputs
        ).overwrite(F.lit(True))
        scope: dict[str, Any] = {"rebuilt": True, "rebuilt_groups": "all"}
    else:
        assert by_groups is not None
        if groups:
            rows = build.conform(by_groups.rebuild(spark, settings, groups), schema)
            grouped.merge_groups(spark, settings, schema, by_groups, groups, rows)
        scope = {
            "rebuilt": bool(groups),
            "rebuilt_groups": MetadataValue.json(
                {by_groups.group_column: [g.isoformat() for g in groups]}
            ),
        }
        context.log.info(
            f"{table}: recomputed {len(groups)} {by_groups.group_column} group(s) "
            f"{[g.isoformat() for g in groups]}, the others kept"
        )
    made = data_snapshot_id(settings, table)
    assert made is not None  # the table exists: ensure_curated_table made it
    grouped.record_build(settings, table, MartBuild(made, inputs, definition, sources))
    metadata = table_metadata(settings, table) | scope
    context.log.info(f"{table}: {metadata['dagster/row_count']:,} rows")
    return metadata


def _source_snapshots(settings: LakehouseSettings, schema: EntitySchema) -> dict[str, int | None]:
    """The data snapshot of each table the mart is built from."""
    return {
        table: data_snapshot_id(settings, table)
        for table in sorted(load_entity(source).curated_table for source in schema.sources)
    }


def _mart_definition(schema: EntitySchema) -> str:
    """Fingerprint of how a mart is built from its sources: the rules, the builder, the columns."""
    return inputs_fingerprint(
        {
            "rules": hashlib.sha256(RULES_FILE.read_bytes()).hexdigest(),
            "builder": hashlib.sha256(Path(build.__file__).read_bytes()).hexdigest(),
            "columns": schema.curated_ddl_columns(),
        }
    )
