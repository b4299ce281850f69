"""Curate stage: raw rows -> latest valid version per key + quarantine (one factory)."""

from collections.abc import Iterator
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from assets.curated.curation import CurationResult, curate_entity
from assets.curated.reconciliation import reconcile
from customer_overview.asset_keys import OWNERS, column_schema, table_key, table_metadata
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, load_entity
from customer_overview.report_links import latest_report_urls
from customer_overview.resources import LakehouseResource
from quality.gates import direct_sources
from quality.profile_asset import PROFILED_ENTITIES
from quality.rules import load_rules

RECONCILIATION_CHECK = "no_row_lost"


class CurateConfig(Config):
    """Run configuration of a curate asset."""

    full_refresh: bool = Field(
        default=False,
        description="Rebuild the curated and quarantine tables from the whole raw table "
        "(after a change to the rules); otherwise only raw rows added since the last run.",
    )


def curated_assets(schema: EntitySchema) -> AssetsDefinition:
    """The curated table and the quarantine table of one entity, computed in one step."""
    rules = load_rules(schema.entity)
    curated_key = table_key(schema.curated_table)
    quarantine_key = table_key(schema.quarantine_table)
    upstream = [table_key(schema.raw_table)] + [
        table_key(load_entity(entity).curated_table)
        for entity in sorted(direct_sources(schema.entity))
    ]

    @multi_asset(
        name=f"curate_{schema.entity}",
        group_name="curate",
        can_subset=False,
        specs=[
            AssetSpec(
                curated_key,
                deps=upstream,
                kinds={"spark", "iceberg"},
                owners=OWNERS,
                description=f"{schema.description}\n\nGrain: {schema.grain} Rows that break a "
                f"validation rule (`quality/rules/{schema.entity}.yaml`) are not here but in "
                f"`{schema.quarantine_table}`.",
                metadata={
                    "dagster/column_schema": column_schema(schema),
                    "grain": schema.grain,
                    "partitioned_by": ", ".join(
                        f"{p.transform}({p.column})" for p in schema.partition_by
                    )
                    or "unpartitioned",
                },
            ),
            AssetSpec(
                quarantine_key,
                # Rows rejected for a missing parent are re-admitted once the parent is curated.
                deps=upstream,
                kinds={"spark", "iceberg"},
                owners=OWNERS,
                description=f"Raw {schema.entity} rows rejected by validation, with the rules "
                "they broke, readable reasons with the offending values, the raw text values and "
                "the landing file and line. Nothing is dropped silently. A row rejected only "
                "because its parent (customer, account, product) had not arrived is re-checked "
                "by every later run and re-admitted once the parent is curated; it stays here "
                "with `_resolved_at`, `_resolved_run_id` and the history of its verdicts "
                "(`_verdicts`).",
            ),
        ],
        check_specs=[
            AssetCheckSpec(
                RECONCILIATION_CHECK,
                asset=curated_key,
                blocking=True,
                description="Every raw row is accounted for: it is the curated version of its "
                "key, superseded by a newer curated version, or quarantined.",
            )
        ],
    )
    def _curate(
        context: AssetExecutionContext, config: CurateConfig, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult[Any] | AssetCheckResult]:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        result = curate_entity(
            spark,
            settings,
            schema,
            rules,
            run_id=context.run_id,
            full_refresh=config.full_refresh,
            progress=context.log.info,
        )
        yield MaterializeResult(
            asset_key=curated_key,
            metadata=table_metadata(settings, schema.curated_table)
            | _curation_metadata(result)
            | _latest_reports(settings, schema),
        )
        yield MaterializeResult(
            asset_key=quarantine_key,
            metadata=table_metadata(settings, schema.quarantine_table)
            | {
                "quarantined_this_run": result.quarantined,
                "rechecked_this_run": result.rechecked,
                "readmitted_this_run": result.readmitted,
                "rules_broken_this_run": MetadataValue.json(result.rules_broken or {}),
            },
        )
        counts = reconcile(spark, settings, schema)
        yield AssetCheckResult(
            check_name=RECONCILIATION_CHECK,
            asset_key=curated_key,
            passed=counts.lost == 0,
            metadata=counts.as_metadata(),
        )

    return _curate


def _latest_reports(settings: LakehouseSettings, schema: EntitySchema) -> dict[str, object]:
    """Links to the table's newest Data Docs page, profile and the product card.

    Those are written after this asset materializes (by its checks, the profile and publish), so
    the links are the report server's stable ``/latest/...`` URLs, which redirect to the newest.
    """
    profiled = schema.entity in PROFILED_ENTITIES
    links = latest_report_urls(settings, schema.curated_table, profile=profiled)
    return {name: MetadataValue.url(url) for name, url in links.items()}


def _curation_metadata(result: CurationResult) -> dict[str, object]:
    return {
        "raw_rows_read": result.raw_rows_read,
        "inserted": result.inserted,
        "updated": result.updated,
        "superseded": result.superseded,
        "quarantined": result.quarantined,
        # Late parents: quarantined rows re-checked because a referenced table changed, and
        # those valid now (counted in inserted / updated / superseded too).
        "late_rows_rechecked": result.rechecked,
        "readmitted": result.readmitted,
        "full_refresh": result.full_refresh,
        "raw_snapshot_range": MetadataValue.text(
            f"{result.from_raw_snapshot or 'start'} -> {result.to_raw_snapshot}"
        ),
        "seconds": round(result.seconds, 2),
        "rows_per_second": round(result.rows_per_second),
    }
