"""Ingest stage: landing CSV drops -> raw Iceberg tables (one asset per entity, one factory)."""

from collections.abc import Iterator
from typing import Any

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
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from assets.raw.ingestion import RECORD_HASH, IngestionResult, ingest_entity
from customer_overview.asset_keys import OWNERS, table_key, table_metadata
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, all_entities
from customer_overview.landing import list_landing_files
from customer_overview.landing_log import check_required_inputs, landing_scan
from customer_overview.product import DataProductManifest
from customer_overview.resources import LakehouseResource
from customer_overview.sql import quote
from customer_overview.tables import (
    load_iceberg_table,
    rows_appended_since,
    set_table_properties,
    table_at,
)

LANDING_CHECK = "landing_files_conform"
RECOGNISED_CHECK = "landing_files_recognised"
ONE_ROW_PER_RECORD_CHECK = "one_row_per_landed_record"


class IngestConfig(Config):
    """Run configuration of an ingest asset."""

    reingest_all: bool = Field(
        default=False,
        description="Read every landing file again, not only new ones (the merge adds nothing "
        "that is already in the raw table).",
    )


def raw_asset(
    schema: EntitySchema, manifest: DataProductManifest | None = None
) -> AssetsDefinition:
    """The raw-table asset of one entity (a required input of ``manifest`` must have landed)."""
    required = manifest is not None and any(
        item.entity == schema.entity for item in manifest.required_inputs
    )
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
            ),
            AssetCheckSpec(
                RECOGNISED_CHECK,
                asset=key,
                description=f"Every file under `landing/{schema.folder}/` is a landing file "
                "(.csv or .csv.gz, any case, any subfolder); others (another format, hidden or "
                "temporary files) are named"
                + (
                    ", and so are files outside every entity's folder."
                    if schema.entity == all_entities()[0].entity
                    else "."
                ),
            ),
            AssetCheckSpec(
                ONE_ROW_PER_RECORD_CHECK,
                asset=key,
                blocking=True,
                description="One raw row per distinct landed record (key, modified_at, content "
                "hash): two writers at once would duplicate rows (apache/iceberg#12653).",
            ),
        ],
        metadata={"landing_folder": f"landing/{schema.folder}"},
    )
    def _ingest(
        context: AssetExecutionContext, config: IngestConfig, lakehouse: LakehouseResource
    ) -> Iterator[MaterializeResult[Any] | AssetCheckResult]:
        settings = lakehouse.settings()
        if required and manifest is not None:
            # The CLI checks this before Spark starts; runs from the UI or a schedule stop here.
            check_required_inputs(settings, manifest)
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
        yield _recognised(settings, schema)
        yield _one_row_per_record(spark, settings, schema)

    return _ingest


def _recognised(settings: LakehouseSettings, schema: EntitySchema) -> AssetCheckResult:
    """Warn about files no ingest step reads (each reported by one entity's check)."""
    scan = landing_scan(settings)
    first = schema.entity == all_entities()[0].entity
    ignored = scan.unrecognised_for(schema, first=first)
    return AssetCheckResult(
        check_name=RECOGNISED_CHECK,
        passed=not ignored,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "landing_files": len(scan.files.get(schema.entity, [])),
            "not_ingested": "; ".join(file.describe() for file in ignored) or "none",
            "not_data": "; ".join(file.describe() for file in scan.known_non_data if first)
            or "none",
        },
    )


# Table property of a raw table: the snapshot up to which every landed record was found to have
# one row. The next check only needs the records appended since (raw tables are append-only).
ONE_ROW_PER_RECORD_CHECKED = "lakehouse.one-row-per-record-checked-snapshot-id"


def _one_row_per_record(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> AssetCheckResult:
    """Fail when a distinct landed record (key, version, content hash) has more than one row.

    Incremental: when an earlier check found the table clean up to a snapshot and the table has
    only gained rows since, only the records of the new rows are counted (against the whole
    table: a new row repeating an old record is found). A failed check records nothing, so the
    next one looks at everything again.
    """
    table = schema.raw_table
    iceberg = load_iceberg_table(settings, table)
    snapshot = iceberg.current_snapshot()
    identity = [*schema.key, schema.version, RECORD_HASH]
    rows = table_at(spark, settings, table, snapshot.snapshot_id if snapshot else None)
    checked = iceberg.properties.get(ONE_ROW_PER_RECORD_CHECKED)
    new_rows = rows_appended_since(
        spark, settings, table, checked, snapshot.snapshot_id if snapshot else None
    )
    scope = "every row"
    if new_rows is not None:
        # Null-safe: a malformed line may have no key or version.
        new_records = new_rows.select(*identity).distinct()
        rows = rows.join(
            new_records,
            [rows[quote(name)].eqNullSafe(new_records[quote(name)]) for name in identity],
            "left_semi",
        )
        scope = f"the records of rows appended since snapshot {checked}"
    repeated = (
        rows.groupBy(*[F.col(quote(name)) for name in identity]).count().where(F.col("count") > 1)
    )
    summary = repeated.agg(F.count("*").alias("records"), F.sum("count").alias("rows")).first()
    records, extra = (summary["records"], summary["rows"] or 0) if summary else (0, 0)
    sample = [row.asDict() for row in repeated.limit(5).collect()] if records else []
    if records == 0 and snapshot is not None and checked != str(snapshot.snapshot_id):
        set_table_properties(
            settings, table, {ONE_ROW_PER_RECORD_CHECKED: str(snapshot.snapshot_id)}
        )
    return AssetCheckResult(
        check_name=ONE_ROW_PER_RECORD_CHECK,
        passed=records == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "duplicated_records": records,
            "extra_rows": extra - records,
            "checked": scope,
            "sample": MetadataValue.md("\n".join(f"- {item}" for item in sample) or "none"),
        },
    )


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
