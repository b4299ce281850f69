"""Quality stage: Great Expectations suites as Dagster asset checks on every curated table.

Whether the suite's check blocks is the manifest's decision (``quality_gates``): Dagster stops
everything downstream only for a gate of scope ``version`` or a table of a required input; a gate
of scope ``outputs`` is reported as an error here and holds back the outputs built from the
table at publish time (``quality/gates.py``).
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from customer_overview.asset_keys import table_key
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema
from customer_overview.landing_log import landed_inputs
from customer_overview.product import DataProductManifest
from customer_overview.publish_log import published_versions
from customer_overview.report_links import report_url
from customer_overview.resources import LakehouseResource
from customer_overview.tables import load_iceberg_table, snapshot_row_count
from quality.expectations import ExpectationOutcome, ValidationOutcome, validate_table
from quality.gates import NO_INPUT_YET, input_entities, stops_the_version
from quality.report_index import ReportEntry, record_report
from quality.rules import load_rules

BLOCKING_CHECK = "gx_blocking_expectations"
WARNING_CHECK = "gx_warning_expectations"


def gx_checks(schema: EntitySchema, manifest: DataProductManifest) -> AssetChecksDefinition:
    """The curated table's suite, reported as a gate check and a warning check."""
    key = table_key(schema.curated_table)
    rules = load_rules(schema.entity)
    inputs = input_entities(schema.entity)

    @multi_asset_check(
        name=f"gx_{schema.curated_table}",
        specs=[
            AssetCheckSpec(
                BLOCKING_CHECK,
                asset=key,
                blocking=stops_the_version(manifest, BLOCKING_CHECK, schema.curated_table),
                description=f"Great Expectations: every `reject` rule of quality/rules/"
                f"{schema.entity}.yaml, key uniqueness and partitioning hold on the curated "
                "table. A failure holds back what dataproduct.yaml's quality_gates say.",
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
        missing = sorted(inputs - landed_inputs(settings, manifest))
        if missing:
            # Nothing to validate is not a failure: the outputs built from it are left out.
            status = f"{NO_INPUT_YET}: {', '.join(missing)}"
            context.log.info(f"{schema.curated_table}: {status}; suite not run")
            for name, blocking in ((BLOCKING_CHECK, True), (WARNING_CHECK, False)):
                yield AssetCheckResult(
                    check_name=name,
                    asset_key=key,
                    passed=True,
                    severity=AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN,
                    metadata={"status": status, "expectations": 0, "rows_validated": 0},
                )
            return
        spark = lakehouse.spark()
        outcome = validate_table(
            spark,
            settings,
            schema,
            rules,
            run_id=context.run.run_id,
            previous_rows=_rows_at_last_publish(lakehouse, schema),
        )
        unchanged = f" (unchanged since {outcome.reused_from})" if outcome.reused_from else ""
        context.log.info(
            f"{schema.curated_table}: {outcome.passed}/{len(outcome.outcomes)} expectations "
            f"passed on {_scope(outcome)} in {outcome.seconds:.1f} s{unchanged}"
        )
        for failure in outcome.blocking_failures + outcome.warnings:
            log = context.log.error if failure.blocking else context.log.warning
            log(describe_failure(schema.curated_table, failure))
        status = (
            "failed" if outcome.blocking_failures else "warning" if outcome.warnings else "passed"
        )
        if outcome.docs_page and not outcome.reused_from:  # a reused page is listed already
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
                    f"{_scope(outcome)}",
                ),
            )
        failures = outcome.blocking_failures
        yield _check_result(BLOCKING_CHECK, key, outcome, failures, True, settings)
        yield _check_result(WARNING_CHECK, key, outcome, outcome.warnings, False, settings)

    return _validate


def _scope(outcome: ValidationOutcome) -> str:
    """What the suite read: the whole table, or the rows whose key changed since it passed."""
    if outcome.changed_rows is None:
        return f"{outcome.rows:,} rows"
    return (
        f"the {outcome.changed_rows:,} rows whose key changed since {outcome.changed_since} "
        f"(of {outcome.rows:,})"
    )


def describe_failure(table: str, failure: ExpectationOutcome) -> str:
    """One log line naming a failed expectation, its unexpected count and a sample of values."""
    counted = (
        f"{failure.unexpected_count:,} unexpected" if failure.unexpected_count is not None else ""
    )
    observed = f"observed {failure.observed}" if failure.observed is not None else ""
    sample = f"sample {failure.sample[:5]}" if failure.sample else ""
    details = "; ".join(part for part in (counted, observed, sample) if part)
    column = f" on {failure.column}" if failure.column else ""
    return f"{table}: expectation {failure.rule} ({failure.expectation}{column}) failed: {details}"


def _check_result(
    name: str,
    key: AssetKey,
    outcome: ValidationOutcome,
    failures: list[ExpectationOutcome],
    blocking: bool,
    settings: LakehouseSettings,
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
            "rows_validated": outcome.rows
            if outcome.changed_rows is None
            else outcome.changed_rows,
            "table_rows": outcome.rows,
            "validated_scope": _scope(outcome),
            "data_docs_page": _served_link(settings, outcome.docs_page),
            "data_docs_index": _served_link(settings, outcome.docs_index),
            "data_docs_failures": _served_link(settings, outcome.failures_page),
            "seconds": round(outcome.seconds, 2),
            # Nothing the suite reads changed since this run validated it: its outcome stands.
            "validated_in": outcome.reused_from or outcome.run_name,
        },
    )


def _served_link(settings: LakehouseSettings, page: Path | None) -> MetadataValue:
    """A clickable link to ``page`` on the report server (``customer-overview reports serve``)."""
    return MetadataValue.url(report_url(settings, page)) if page else MetadataValue.text("none")


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
