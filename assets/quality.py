"""Quality stage: Great Expectations suites as Dagster asset checks on every curated table."""

from collections.abc import Iterator
from datetime import UTC, datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from assets.common import table_key
from customer_overview.entities import EntitySchema
from customer_overview.publishing import published_versions
from customer_overview.tables import load_iceberg_table, snapshot_row_count
from pipelines.resources import LakehouseResource
from quality.expectations import ExpectationOutcome, ValidationOutcome, validate_table
from quality.report_index import ReportEntry, record_report
from quality.rules import load_rules

BLOCKING_CHECK = "gx_blocking_expectations"
WARNING_CHECK = "gx_warning_expectations"


def gx_checks(schema: EntitySchema) -> AssetChecksDefinition:
    """The curated table's suite, reported as a blocking check and a warning check."""
    key = table_key(schema.curated_table)
    rules = load_rules(schema.entity)

    @multi_asset_check(
        name=f"gx_{schema.curated_table}",
        specs=[
            AssetCheckSpec(
                BLOCKING_CHECK,
                asset=key,
                blocking=True,
                description=f"Great Expectations: every `reject` rule of quality/rules/"
                f"{schema.entity}.yaml, key uniqueness and partitioning hold on the curated "
                "table. A failure stops publishing.",
            ),
            AssetCheckSpec(
                WARNING_CHECK,
                asset=key,
                description="Great Expectations: `warn` rules and the row count against the last "
                "publish. Reported, not blocking.",
            ),
        ],
    )
    def _validate(
        context: AssetCheckExecutionContext, lakehouse: LakehouseResource
    ) -> Iterator[AssetCheckResult]:
        settings = lakehouse.settings()
        spark = lakehouse.spark()
        outcome = validate_table(
            spark,
            settings,
            schema,
            rules,
            run_id=context.run.run_id,
            previous_rows=_rows_at_last_publish(lakehouse, schema),
        )
        context.log.info(
            f"{schema.curated_table}: {outcome.passed}/{len(outcome.outcomes)} expectations "
            f"passed on {outcome.rows:,} rows in {outcome.seconds:.1f} s"
        )
        status = (
            "failed" if outcome.blocking_failures else "warning" if outcome.warnings else "passed"
        )
        if outcome.docs_page:
            record_report(
                settings.reports_dir,
                ReportEntry(
                    kind="quality",
                    table=schema.curated_table,
                    title=outcome.suite,
                    status=status,
                    created_at=datetime.now(UTC),
                    path=str(outcome.docs_page.relative_to(settings.reports_dir)),
                    details=f"{outcome.passed}/{len(outcome.outcomes)} expectations passed on "
                    f"{outcome.rows:,} rows",
                ),
            )
        yield _check_result(BLOCKING_CHECK, key, outcome, outcome.blocking_failures, blocking=True)
        yield _check_result(WARNING_CHECK, key, outcome, outcome.warnings, blocking=False)

    return _validate


def _check_result(
    name: str,
    key,
    outcome: ValidationOutcome,
    failures: list[ExpectationOutcome],
    blocking: bool,
) -> AssetCheckResult:
    considered = [o for o in outcome.outcomes if o.blocking == blocking]
    return AssetCheckResult(
        check_name=name,
        asset_key=key,
        passed=not failures,
        severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
        metadata={
            "expectations": len(considered),
            "failed_expectations": ", ".join(sorted({f.rule for f in failures})) or "none",
            "unexpected_counts": MetadataValue.json({f.rule: f.unexpected_count for f in failures}),
            "failing_values_sample": MetadataValue.json({f.rule: f.sample for f in failures}),
            "rows_validated": outcome.rows,
            "data_docs_page": MetadataValue.path(str(outcome.docs_page or "")),
            "data_docs_index": MetadataValue.path(str(outcome.docs_index or "")),
            "seconds": round(outcome.seconds, 2),
        },
    )


def _rows_at_last_publish(lakehouse: LakehouseResource, schema: EntitySchema) -> int | None:
    """Rows of the curated table in the snapshot the last publish was built from."""
    settings = lakehouse.settings()
    rows = [
        row for row in published_versions(settings) if row["source_table"] == schema.curated_table
    ]
    if not rows:
        return None
    latest = rows[-1]  # oldest first
    snapshot = load_iceberg_table(settings, schema.curated_table).snapshot_by_id(
        latest["source_snapshot_id"]
    )
    return None if snapshot is None else snapshot_row_count(snapshot)
