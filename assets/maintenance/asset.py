"""Maintenance stage: expire old snapshots, remove orphan files, compact small files."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.maintenance.maintenance import maintain
from customer_overview.asset_keys import OWNERS, Materialized, table_key
from customer_overview.publish_log import PUBLISH_LOG_TABLE
from customer_overview.resources import LakehouseResource

MAINTENANCE_KEY = AssetKey(["fs_accelerator", "lakehouse_maintenance"])


def maintenance_asset() -> AssetsDefinition:
    """Runs after the publish step (so it never competes with a commit of the same run)."""

    @asset(
        key=MAINTENANCE_KEY,
        deps=[table_key(PUBLISH_LOG_TABLE)],
        group_name="maintenance",
        kinds={"iceberg"},
        owners=OWNERS,
        description=(
            "Keeps the warehouse bounded: compacts append-only tables where small files piled "
            "up, expires snapshots older than `maintenance.snapshot_max_age_hours` (never the "
            "newest `retain_last` of a branch, nor any published version's tag), and removes "
            "files nothing references (data of expired snapshots, leftovers of killed runs) "
            "once older than `maintenance.orphan_file_min_age_hours`. Settings: the profile's "
            "`maintenance:` block in customer_overview/profiles.yaml. Commits nothing when "
            "there is nothing to do."
        ),
    )
    def lakehouse_maintenance(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> Materialized:
        settings = lakehouse.settings()
        report = maintain(settings, lakehouse.spark, progress=context.log.info)
        changed = [table for table in report.tables if table.changed]
        return MaterializeResult(
            metadata={
                "summary": report.summary(),
                "snapshots_expired": report.total("snapshots_expired"),
                "orphan_files_removed": report.total("orphans_removed"),
                "orphan_bytes_removed": report.total("orphan_bytes"),
                "files_compacted": report.total("compacted_files"),
                "warehouse_files": report.files_after,
                "warehouse_bytes": report.bytes_after,
                "settings": MetadataValue.json(settings.maintenance.model_dump()),
                "tables_changed": MetadataValue.md(
                    "| table | compacted | expired | orphans |\n|---|---|---|---|\n"
                    + "\n".join(
                        f"| {t.table} | {t.compacted_files} | {t.snapshots_expired} | "
                        f"{t.orphans_removed} |"
                        for t in changed
                    )
                    if changed
                    else "nothing to do"
                ),
                "seconds": round(report.seconds, 1),
            }
        )

    return lakehouse_maintenance
