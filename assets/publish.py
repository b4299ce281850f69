"""Publish stage: audited masked outputs -> the next version of the data product."""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.common import table_key
from customer_overview.consume import export_duckdb
from customer_overview.engine_configs import write_engine_configs
from customer_overview.governance import who_sees_what
from customer_overview.product import DataProductManifest
from customer_overview.product_card import CheckLine, render_card, write_card
from customer_overview.publishing import PUBLISH_LOG_TABLE, publish
from pipelines.resources import LakehouseResource
from quality.report_index import ReportEntry, record_report


def publish_asset(manifest: DataProductManifest) -> AssetsDefinition:
    """The publish step; it depends on every masked output, so it runs only after their checks."""
    masked_keys = [
        table_key(output.published_table(group.name))
        for output in manifest.outputs
        for group in manifest.consumers.role_groups
    ]

    @asset(
        key=table_key(PUBLISH_LOG_TABLE),
        deps=masked_keys,
        group_name="publish",
        kinds={"spark", "iceberg"},
        owners=[manifest.owner.dagster_owner],
        description=(
            f"Publishes {manifest.name} (contract version {manifest.version}): re-scans every "
            "masked output for PII leaks, fast-forwards each published table's `main` to its "
            "audited snapshot, tags it with the product version and run, appends one row per "
            "table to this publish log, and writes the product card and connection settings "
            "under reports/product/. Runs only when every upstream blocking check passed."
        ),
    )
    def customer_overview_publish(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> MaterializeResult:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        checks = _check_outcomes(context)
        result = publish(
            spark,
            settings,
            manifest,
            run_id=context.run_id,
            checks={f"{c.asset}:{c.check}": "passed" if c.passed else "failed" for c in checks},
            progress=context.log.info,
        )
        groups = [group.name for group in manifest.consumers.role_groups]
        exports = {group: settings.duckdb_export(group) for group in groups}
        for group, path in exports.items():
            export_duckdb(settings, manifest, path, group, pin_snapshots=False)
        product_dir = settings.reports_dir / "product"
        connect = write_engine_configs(settings, product_dir / "connect")
        # The product's first output is the customer master: count it by country for the card.
        customers = spark.table(settings.spark_table(manifest.outputs[0].source_table))
        rows_by_country = (
            {row.country: row["count"] for row in customers.groupBy("country").count().collect()}
            if "country" in customers.columns
            else {}
        )
        matrix_md, matrix_pages = who_sees_what(manifest)
        governance_dir = settings.reports_dir / "governance"
        governance_dir.mkdir(parents=True, exist_ok=True)
        (governance_dir / "who_sees_what.md").write_text(matrix_md, encoding="utf-8")
        for output_name, page in matrix_pages.items():
            (governance_dir / f"who_sees_what_{output_name}.html").write_text(
                page, encoding="utf-8"
            )
        card_md, card_html = write_card(
            render_card(manifest, settings, result, matrix_md, checks, rows_by_country, connect),
            product_dir,
            result.version,
        )
        record_report(
            settings.reports_dir,
            ReportEntry(
                kind="product",
                table=manifest.name,
                title=f"{manifest.name} {result.version}",
                status="ok",
                created_at=result.published_at,
                path=str(card_html.relative_to(settings.reports_dir)),
                details=f"{len(result.tables)} tables published, tag {result.tag}",
            ),
        )
        return MaterializeResult(
            metadata={
                "version": result.version,
                "tag": result.tag,
                "tables_published": len(result.tables),
                "dagster/row_count": len(result.tables),
                "product_card": MetadataValue.path(str(card_html)),
                "who_sees_what": MetadataValue.md(matrix_md),
                "who_sees_what_report": MetadataValue.path(
                    str(governance_dir / "who_sees_what.md")
                ),
                "published": MetadataValue.md(
                    "| table | snapshot | rows |\n|---|---|---|\n"
                    + "\n".join(
                        f"| {t.table} | {t.snapshot_id} | {t.rows:,} |" for t in result.tables
                    )
                ),
                "card_markdown": MetadataValue.path(str(card_md)),
                "duckdb_exports": MetadataValue.md(
                    "\n".join(f"- {group}: `{path}`" for group, path in exports.items())
                ),
            }
        )

    return customer_overview_publish


def _check_outcomes(context: AssetExecutionContext) -> list[CheckLine]:
    """The check evaluations of this run so far (the gates this version passed)."""
    records = context.instance.all_logs(
        context.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    lines = []
    for record in records:
        evaluation = record.dagster_event.event_specific_data
        key: AssetKey = evaluation.asset_key
        lines.append(
            CheckLine(
                asset=key.to_user_string(),
                check=evaluation.check_name,
                passed=evaluation.passed,
                severity=str(getattr(evaluation.severity, "value", evaluation.severity)),
            )
        )
    return lines
