"""Publishing a version of the data product: audit -> main, Iceberg tags, publish log.

A publish is allowed only after every blocking check passed (Dagster does not start this step
otherwise). It re-scans every audit branch for PII leaks with the current policies, then for each
published table fast-forwards ``main`` to ``audit`` and tags the snapshot with the product version
(``v1.0.0+3``) and the run (``run-<id>``), and finally appends one row per table to the publish
log. Consumers resolve "the latest version" from the publish log, so a publish that fails half
way is never the latest version.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import EqualTo
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of
from pyspark.sql import SparkSession

from customer_overview.catalog_metadata import apply_table_metadata
from customer_overview.config import LakehouseSettings
from customer_overview.errors import PublishError
from customer_overview.governance import AUDIT_BRANCH, product_policies, scan_for_leaks
from customer_overview.product import DataProductManifest
from customer_overview.sql import sql_string
from customer_overview.tables import (
    create_table_if_missing,
    current_snapshot_id,
    load_iceberg_table,
    snapshot_row_count,
    table_exists,
)
from customer_overview.version_hint import write_version_hint

log = logging.getLogger(__name__)

PUBLISH_LOG_TABLE = "customer_overview_publish_log"
PUBLISH_LOG_COLUMNS = (
    "product string, version string, manifest_version string, run_id string, "
    "published_at timestamp, output string, role_group string, table_name string, "
    "snapshot_id bigint, row_count bigint, source_table string, source_snapshot_id bigint, "
    "checks string"
)


@dataclass
class PublishedTable:
    output: str
    role_group: str
    table: str
    snapshot_id: int
    rows: int
    source_table: str
    source_snapshot_id: int | None


@dataclass
class PublishResult:
    product: str
    version: str
    run_id: str
    published_at: datetime
    tables: list[PublishedTable] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return version_tag(self.version)


def version_tag(version: str) -> str:
    """The Iceberg tag naming a product version: ``v1.0.0+3``."""
    return f"v{version}"


def run_tag(run_id: str) -> str:
    return f"run-{run_id}"


def ensure_publish_log(spark: SparkSession, settings: LakehouseSettings) -> None:
    create_table_if_missing(
        spark,
        settings,
        PUBLISH_LOG_TABLE,
        PUBLISH_LOG_COLUMNS,
        comment="Every published version of the customer-overview data product, one row per "
        "published table: version, run, snapshot, row count and the checks that gated it.",
    )


def published_versions(
    settings: LakehouseSettings, role_group: str | None = None
) -> list[dict[str, Any]]:
    """Rows of the publish log (optionally one role group), oldest first, via PyIceberg."""
    try:
        log_table = load_iceberg_table(settings, PUBLISH_LOG_TABLE)
    except NoSuchTableError:
        return []
    # PyIceberg's predicates are pydantic models whose constructor mypy cannot see through.
    in_group = EqualTo("role_group", role_group) if role_group else None  # type: ignore[call-arg,arg-type]
    scan = log_table.scan(row_filter=in_group) if in_group is not None else log_table.scan()
    rows = scan.to_arrow().to_pylist()
    return sorted(rows, key=lambda row: (row["published_at"], row["version"]))


def next_version(settings: LakehouseSettings, manifest: DataProductManifest) -> str:
    """``<manifest version>+<n>``: the n-th publish of this contract version."""
    versions = {
        row["version"]
        for row in published_versions(settings)
        if row["manifest_version"] == manifest.version
    }
    builds = [int(m.group(1)) for v in versions if (m := re.search(r"\+(\d+)$", v))]
    return f"{manifest.version}+{max(builds, default=0) + 1}"


def publish(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    run_id: str,
    checks: dict[str, str] | None = None,
    progress: Callable[[str], None] = log.info,
) -> PublishResult:
    """Publish the audited masked outputs as the next product version.

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        manifest: The product manifest (outputs, role groups, version).
        run_id: The Dagster run, recorded in the tag and the log.
        checks: Check name -> outcome that gated this publish, recorded in the log.
        progress: Receives progress messages.

    Raises:
        PublishError: A leak was found, or an audit branch is missing or cannot be fast-forwarded
            to; nothing was published.
    """
    policies = product_policies(manifest)
    pending = []
    for output in manifest.outputs:
        for group in manifest.consumers.role_groups:
            table = output.published_table(group.name)
            if not table_exists(spark, settings, table):
                raise PublishError(f"{table} does not exist: run the govern stage first")
            _require_fast_forward(load_iceberg_table(settings, table), table)
            report = scan_for_leaks(spark, settings, manifest, output, group, policies)
            if report.leaked:
                leaked = {column: n for column, n in report.leaks.items() if n}
                raise PublishError(
                    f"{table}: clear values in columns {group.name} may not see: {leaked}; "
                    "nothing was published"
                )
            pending.append((output, group, table))

    ensure_publish_log(spark, settings)
    version = next_version(settings, manifest)
    result = PublishResult(
        product=manifest.name,
        version=version,
        run_id=run_id,
        published_at=datetime.now(UTC),
        checks=dict(checks or {}),
    )
    for output, group, table in pending:
        qualified = settings.spark_table(table)
        identifier = settings.table_identifier(table)
        spark.sql(
            f"CALL {settings.catalog_name}.system.fast_forward("
            f"{sql_string(identifier)}, 'main', {sql_string(AUDIT_BRANCH)})"
        )
        main_snapshot = load_iceberg_table(settings, table).current_snapshot()
        if main_snapshot is None:
            raise PublishError(f"{table}: no snapshot on main after fast-forward")
        snapshot = main_snapshot.snapshot_id
        apply_table_metadata(
            settings,
            table,
            properties={
                "product.name": manifest.name,
                "product.version": version,
                "product.domain": manifest.domain,
                "product.owner": f"{manifest.owner.name} <{manifest.owner.email}>",
                "product.support": manifest.support.contact,
                "product.freshness": manifest.freshness.expectation,
                "product.published-at": result.published_at.isoformat(),
                "product.run-id": run_id,
            },
        )
        for tag in (version_tag(version), run_tag(run_id)):
            spark.sql(
                f"ALTER TABLE {qualified} CREATE OR REPLACE TAG `{tag}` AS OF VERSION {snapshot}"
            )
        result.tables.append(
            PublishedTable(
                output=output.name,
                role_group=group.name,
                table=table,
                snapshot_id=snapshot,
                rows=snapshot_row_count(main_snapshot),
                source_table=output.source_table,
                source_snapshot_id=current_snapshot_id(settings, output.source_table),
            )
        )
        progress(f"{table}: published snapshot {snapshot} as {version_tag(version)}")
    _append_log(spark, settings, manifest, result)
    # Last: folder-based readers (DuckDB exports, BI tools) move to this version only now.
    for published in result.tables:
        write_version_hint(settings, published.table)
    progress(f"{manifest.name} {version} published ({len(result.tables)} tables)")
    return result


def _require_fast_forward(iceberg_table: Table, table: str) -> None:
    """Fail before anything moves unless ``main`` can fast-forward to ``audit``.

    Checked for every table first, so that a publish cannot stop after moving some tables.
    """
    audit = iceberg_table.snapshot_by_name(AUDIT_BRANCH)
    if audit is None:
        raise PublishError(f"{table} has no '{AUDIT_BRANCH}' branch to publish")
    main = iceberg_table.current_snapshot()
    if main is None:
        return
    lineage = {snapshot.snapshot_id for snapshot in ancestors_of(audit, iceberg_table.metadata)}
    if main.snapshot_id not in lineage:
        raise PublishError(
            f"{table}: main (snapshot {main.snapshot_id}) is not an ancestor of "
            f"'{AUDIT_BRANCH}' (snapshot {audit.snapshot_id}); something wrote to main since "
            "the govern stage: re-run it; nothing was published"
        )


def _append_log(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    result: PublishResult,
) -> None:
    checks = json.dumps(result.checks, sort_keys=True)
    rows = [
        (
            result.product,
            result.version,
            manifest.version,
            result.run_id,
            result.published_at,
            table.output,
            table.role_group,
            table.table,
            table.snapshot_id,
            table.rows,
            table.source_table,
            table.source_snapshot_id,
            checks,
        )
        for table in result.tables
    ]
    spark.createDataFrame(rows, PUBLISH_LOG_COLUMNS).writeTo(
        settings.spark_table(PUBLISH_LOG_TABLE)
    ).append()
