"""Releasing a version: everything the publish step does, in order, without Dagster.

First repair what a killed publish left behind, decide which outputs move (inputs landed, gates
passed), publish, keep every role group's DuckDB export pinned to the current version, check
that every published table's ``main`` is where the publish log says, and, when a version was
published, write what people read about it: the engine connection settings, the
who-sees-what pages, the product card and its line in the report index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
from pyspark.sql import SparkSession

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
from customer_overview.config import LakehouseSettings
from customer_overview.faults import fault_point
from customer_overview.file_modes import grant_group_shares, group_shares
from customer_overview.landing_log import landed_inputs
from customer_overview.product import DataProductManifest
from quality.gates import FailedGate, VersionDecision, decide_outputs
from quality.report_index import ReportEntry, record_report


@dataclass(frozen=True)
class ReleasePages:
    """What a published version wrote for people and tools to read."""

    product_card_html: Path
    product_card_markdown: Path
    who_sees_what_markdown: str
    who_sees_what_file: Path


@dataclass(frozen=True)
class ReleaseOutcome:
    """The publish step's outcome: the version, its state check, exports and pages."""

    result: PublishResult
    decision: VersionDecision
    recovery: str
    exports: dict[str, Path]
    repinned: list[str]
    state_problems: list[str]
    pages: ReleasePages | None = None  # None when no version was published


def release_version(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    run_id: str,
    checks: Sequence[CheckLine],
    progress: Callable[[str], None],
    warn: Callable[[str], None],
) -> ReleaseOutcome:
    """Publish the next version if an output changed, then bring exports and pages up to date.

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        manifest: The product manifest.
        run_id: The run publishing (tags and the publish log name it).
        checks: The check evaluations of this run so far (the gates this version passed).
        progress: Where progress lines go (the run log).
        warn: Where outputs left out or held back, and repairs, are reported.
    """
    recovery = recover_interrupted_publish(settings, manifest, progress=warn)
    decision = decide_outputs(
        manifest,
        landed_inputs(settings, manifest),
        [FailedGate(c.asset.split("/")[-1], c.check) for c in checks if not c.passed],
    )
    for verdict in decision.not_published:
        warn(f"{verdict.output}: {verdict.status}: {verdict.reason}")
    result = publish(
        spark,
        settings,
        manifest,
        run_id=run_id,
        checks={f"{c.asset}:{c.check}": "passed" if c.passed else "failed" for c in checks},
        progress=progress,
        decision=decision,
    )
    exports = {
        group.name: settings.duckdb_export(group.name) for group in manifest.consumers.role_groups
    }
    repinned = _repin_stale_exports(settings, manifest, exports, result.version)
    outcome = ReleaseOutcome(
        result=result,
        decision=decision,
        recovery=recovery.describe(),
        exports=exports,
        repinned=repinned,
        state_problems=published_state_problems(settings),
    )
    if not result.published:
        return outcome
    pages = _write_pages(spark, settings, manifest, result, checks, decision)
    return replace(outcome, pages=pages)


def _write_pages(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    result: PublishResult,
    checks: Sequence[CheckLine],
    decision: VersionDecision,
) -> ReleasePages:
    """Connection settings, who-sees-what, the product card and its report-index line."""
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
    matrix_file = governance_dir / "who_sees_what.md"
    matrix_file.write_text(matrix_md, encoding="utf-8")
    for output_name, page in matrix_pages.items():
        (governance_dir / f"who_sees_what_{output_name}.html").write_text(page, encoding="utf-8")
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
    return ReleasePages(card_html, card_md, matrix_md, matrix_file)


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
