"""Ingest stage: landing CSV drops -> raw Iceberg tables (one asset per entity, one factory)."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.common import OWNERS, table_key, table_metadata
from customer_overview.entities import EntitySchema
from customer_overview.ingestion import IngestionResult, ingest_entity
from customer_overview.landing import list_landing_files
from pipelines.resources import LakehouseResource

LANDING_CHECK = "landing_files_conform"


class IngestConfig(Config):
    """Run configuration of an ingest asset."""

    reingest_all: bool = Field(
        default=False,
        description="Read every landing file again, not only new ones (the merge adds nothing "
        "that is already in the raw table).",
    )


def raw_asset(schema: EntitySchema) -> AssetsDefinition:
    """The raw-table asset of one entity."""
    key = table_key(schema.raw_table)

    @asset(
        key=key,
        name=None,
        group_name="ingest",
        kinds={"spark", "iceberg", "csv"},
        owners=OWNERS,
        description=(
            f"Raw {schema.entity} rows exactly as they landed in `landing/{schema.folder}/`"
            f" (text values, append-only), with the file and line each came from. Grain: one row"
            f" per distinct landed record version. Re-ingesting a file adds nothing."
        ),
        check_specs=[
            AssetCheckSpec(
                LANDING_CHECK,
                asset=key,
                description="Every new landing file matched the CSV contract (header, UTF-8, "
                "field count); malformed lines are kept and quarantined by curation.",
            )
        ],
        metadata={"landing_folder": f"landing/{schema.folder}"},
    )
    def _ingest(
        context: AssetExecutionContext, config: IngestConfig, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult | AssetCheckResult]:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        files = list_landing_files(settings.landing_dir, schema) if config.reingest_all else None
        result = ingest_entity(
            spark, settings, schema, run_id=context.run_id, files=files, progress=context.log.info
        )
        yield MaterializeResult(
            metadata=table_metadata(settings, schema.raw_table) | _ingest_metadata(result)
        )
        yield AssetCheckResult(
            check_name=LANDING_CHECK,
            passed=not result.problems,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "files": len(result.files),
                "malformed_lines": result.structural_errors,
                "problems": MetadataValue.md(
                    "\n".join(f"- {problem}" for problem in result.problems) or "none"
                ),
            },
        )

    return _ingest


def _ingest_metadata(result: IngestionResult) -> dict[str, object]:
    files_table = "\n".join(
        f"| {report.file} | {report.status} | {report.data_lines} | {report.structural_errors} |"
        for report in result.files
    )
    return {
        "files_ingested": len(result.files),
        "rows_read": result.rows_read,
        "rows_inserted": result.rows_inserted,
        "duplicates_skipped": result.duplicates_skipped,
        "malformed_lines": result.structural_errors,
        "seconds": round(result.seconds, 2),
        "rows_per_second": round(result.rows_per_second),
        "files": MetadataValue.md(
            "| file | status | data lines | malformed |\n|---|---|---|---|\n" + files_table
            if result.files
            else "no new files"
        ),
    }
