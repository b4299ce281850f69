"""Publish stage: audited masked outputs -> the next version of the data product.

The step is one engine call (:func:`assets.published.release.release_version`: repair a killed
publish, publish a new version only if an output changed, keep every role group's DuckDB export
pinned, write the product card) plus its metadata (``published: false`` and the reason when
nothing moved) and the blocking check ``main_at_published_version``: every published table's
``main`` is where the publish log says.
"""

from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.published.product_card import CheckLine
from assets.published.release import ReleaseOutcome, release_version
from customer_overview.asset_keys import Materialized, table_key
from customer_overview.config import LakehouseSettings
from customer_overview.product import DataProductManifest
from customer_overview.publish_log import PUBLISH_LOG_TABLE, published_versions
from customer_overview.report_links import report_url
from customer_overview.resources import LakehouseResource

PUBLISHED_STATE_CHECK = "main_at_published_version"


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
            f"Publishes {manifest.name} (contract version {manifest.version}): first finishes "
            "or rolls back a publish whose process died, re-scans every masked output for PII "
            "leaks, then, if any output changed since the last version, fast-forwards every "
            "published table's `main` to its audited snapshot, tags it with the product version "
            "and run and appends one row per table to this publish log, all in one catalog "
            "transaction; re-pins the DuckDB exports and writes the product card and connection "
            "settings under reports/product/. Runs only when every upstream blocking check "
            "passed."
        ),
        check_specs=[
            AssetCheckSpec(
                PUBLISHED_STATE_CHECK,
                asset=table_key(PUBLISH_LOG_TABLE),
                blocking=True,
                description="Every published table's `main` is at the snapshot of its last "
                "logged version, and that version's tag points at it: Spark, Trino and "
                "PyIceberg readers of `main` see the version the publish log says is current.",
            )
        ],
    )
    def customer_overview_publish(
        context: AssetExecutionContext, lakehouse: LakehouseResource
    ) -> Materialized:
        settings = lakehouse.settings()
        outcome = release_version(
            lakehouse.spark(),
            settings,
            manifest,
            run_id=context.run_id,
            checks=_check_outcomes(context),
            progress=context.log.info,
            warn=context.log.warning,
        )
        state_check = AssetCheckResult(
            check_name=PUBLISHED_STATE_CHECK,
            passed=not outcome.state_problems,
            metadata={
                "version": outcome.result.version,
                "problems": MetadataValue.md(
                    "\n".join(f"- {p}" for p in outcome.state_problems) or "none"
                ),
            },
        )
        return MaterializeResult(metadata=_metadata(settings, outcome), check_results=[state_check])

    return customer_overview_publish


def _metadata(settings: LakehouseSettings, outcome: ReleaseOutcome) -> dict[str, Any]:
    """What the publish step reports; a published version adds its tables, card and pages."""
    result = outcome.result
    rows = published_versions(settings)
    current = [row for row in rows if row["version"] == result.version]
    metadata: dict[str, Any] = {
        "published": result.published,
        "version": result.version,
        "reason": result.reason or f"published {result.tag}",
        "recovery": outcome.recovery,
        "exports_repinned": ", ".join(outcome.repinned) or "none (already at the current version)",
        "not_in_this_version": MetadataValue.json(result.not_published),
        "duckdb_exports": MetadataValue.md(
            "\n".join(f"- {group}: `{path}`" for group, path in outcome.exports.items())
        ),
    }
    if current:
        # The age of the data consumers read: a run that publishes nothing does not refresh it.
        metadata["dagster/last_updated_timestamp"] = MetadataValue.timestamp(
            current[0]["published_at"]
        )
    pages = outcome.pages
    if pages is None:
        return metadata
    return metadata | {
        "tag": result.tag,
        "tables_published": len(result.tables),
        "dagster/row_count": len(result.tables),
        "product_card": MetadataValue.url(report_url(settings, pages.product_card_html)),
        "who_sees_what": MetadataValue.md(pages.who_sees_what_markdown),
        "who_sees_what_report": MetadataValue.url(report_url(settings, pages.who_sees_what_file)),
        "published": MetadataValue.md(
            "| table | snapshot | rows |\n|---|---|---|\n"
            + "\n".join(f"| {t.table} | {t.snapshot_id} | {t.rows:,} |" for t in result.tables)
        ),
        "card_markdown": MetadataValue.url(report_url(settings, pages.product_card_markdown)),
    }


def _check_outcomes(context: AssetExecutionContext) -> list[CheckLine]:
    """The check evaluations of this run so far (the gates this version passed)."""
    records = context.instance.all_logs(
        context.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    lines = []
    for record in records:
        if record.dagster_event is None:
            continue
        evaluation = record.dagster_event.asset_check_evaluation_data
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
