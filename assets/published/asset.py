"""Publish stage: audited masked outputs -> the next version of the data product.

The step first repairs what a killed publish left behind (see
:func:`assets.published.publishing.recover_interrupted_publish`), publishes a new version only
if an output changed (metadata ``published: false`` and the reason otherwise), keeps every role
group's DuckDB export pinned to the current version, and checks that every published table's
``main`` is where the publish log says (blocking check ``main_at_published_version``).
"""

from pathlib import Path
from typing import Any

import duckdb
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

from assets.consumed.consume import export_duckdb
from assets.governed.governance import who_sees_what
from assets.published.engine_configs import write_engine_configs
from assets.published.product_card import CheckLine, render_card, write_card
from assets.published.publishing import (
    PublishResult,
    publish,
    published_state_problems,
    recover_interrupted_publish,
)
from customer_overview.asset_keys import Materialized, table_key
from customer_overview.config import LakehouseSettings
from customer_overview.faults import fault_point
from customer_overview.file_modes import grant_group_shares, group_shares
from customer_overview.landing_log import landed_inputs
from customer_overview.product import DataProductManifest
from customer_overview.publish_log import PUBLISH_LOG_TABLE, published_versions
from customer_overview.report_links import report_url
from customer_overview.resources import LakehouseResource
from quality.gates import FailedGate, decide_outputs
from quality.report_index import ReportEntry, record_report

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
        recovery = recover_interrupted_publish(settings, manifest, progress=context.log.warning)
        spark = lakehouse.spark()
        checks = _check_outcomes(context)
        decision = decide_outputs(
            manifest,
            landed_inputs(settings, manifest),
            [FailedGate(c.asset.split("/")[-1], c.check) for c in checks if not c.passed],
        )
        for verdict in decision.not_published:
            context.log.warning(f"{verdict.output}: {verdict.status}: {verdict.reason}")
        result = publish(
            spark,
            settings,
            manifest,
            run_id=context.run_id,
            checks={f"{c.asset}:{c.check}": "passed" if c.passed else "failed" for c in checks},
            progress=context.log.info,
            decision=decision,
        )
        groups = [group.name for group in manifest.consumers.role_groups]
        exports = {group: settings.duckdb_export(group) for group in groups}
        repinned = _repin_stale_exports(settings, manifest, exports, result.version)
        problems = published_state_problems(settings)
        state_check = AssetCheckResult(
            check_name=PUBLISHED_STATE_CHECK,
            passed=not problems,
            metadata={
                "version": result.version,
                "problems": MetadataValue.md("\n".join(f"- {p}" for p in problems) or "none"),
            },
        )
        if not result.published:
            return MaterializeResult(
                metadata=_common_metadata(settings, result, recovery.describe(), repinned, exports),
                check_results=[state_check],
            )
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
            render_card(
                manifest, settings, result, matrix_md, checks, rows_by_country, connect, decision
            ),
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
            metadata=_common_metadata(settings, result, recovery.describe(), repinned, exports)
            | {
                "tag": result.tag,
                "tables_published": len(result.tables),
                "dagster/row_count": len(result.tables),
                "product_card": MetadataValue.url(report_url(settings, card_html)),
                "who_sees_what": MetadataValue.md(matrix_md),
                "who_sees_what_report": MetadataValue.url(
                    report_url(settings, governance_dir / "who_sees_what.md")
                ),
                "published": MetadataValue.md(
                    "| table | snapshot | rows |\n|---|---|---|\n"
                    + "\n".join(
                        f"| {t.table} | {t.snapshot_id} | {t.rows:,} |" for t in result.tables
                    )
                ),
                "card_markdown": MetadataValue.url(report_url(settings, card_md)),
            },
            check_results=[state_check],
        )

    return customer_overview_publish


def _common_metadata(
    settings: LakehouseSettings,
    result: PublishResult,
    recovery: str,
    repinned: list[str],
    exports: dict[str, Path],
) -> dict[str, Any]:
    """What every publish step reports, whether it published a new version or not."""
    rows = published_versions(settings)
    current = [row for row in rows if row["version"] == result.version]
    metadata: dict[str, Any] = {
        "published": result.published,
        "version": result.version,
        "reason": result.reason or f"published {result.tag}",
        "recovery": recovery,
        "exports_repinned": ", ".join(repinned) or "none (already at the current version)",
        "not_in_this_version": MetadataValue.json(result.not_published),
        "duckdb_exports": MetadataValue.md(
            "\n".join(f"- {group}: `{path}`" for group, path in exports.items())
        ),
    }
    if current:
        # The age of the data consumers read: a run that publishes nothing does not refresh it.
        metadata["dagster/last_updated_timestamp"] = MetadataValue.timestamp(
            current[0]["published_at"]
        )
    return metadata


def _repin_stale_exports(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    exports: dict[str, Path],
    version: str,
) -> list[str]:
    """Rewrite every role group's export that is not pinned to ``version``; the groups rewritten.

    Each export is one file whose views are pinned to one published version (metadata file and
    snapshot) and is replaced by a rename: a BI tool opening it sees one whole version, old or
    new, never a mix. An export left behind by a crash is re-pinned by the next run.
    """
    repinned = []
    for group, path in exports.items():
        if _export_version(path) == version:
            continue
        export_duckdb(settings, manifest, path, group, pin_snapshots=True)
        repinned.append(group)
        fault_point("publish", "export", len(repinned))
    if repinned:
        # A rewritten export is created owner-only: give it back to its Unix group at once.
        grant_group_shares(settings, group_shares(settings, manifest))
    return repinned


def _export_version(path: Path) -> str | None:
    """The version an export file is pinned to (None: missing or not an export)."""
    if not path.is_file():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            versions = connection.execute("SELECT DISTINCT version FROM product_info").fetchall()
    except duckdb.Error:
        return None
    return versions[0][0] if len(versions) == 1 else None


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
