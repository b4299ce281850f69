"""Publishing a version of the data product: audit -> main, Iceberg tags, publish log.

A publish is allowed only after every blocking check passed (Dagster does not start this step
otherwise). It re-scans every audit branch for PII leaks with the current policies, then
prepares, for every published table, the new table metadata (``main`` fast-forwarded to the
audited snapshot, tagged with the product version ``v1.0.0+3`` and the run ``run-<id>``) and the
publish log's new rows, and makes all of it visible in ONE catalog transaction
(:mod:`customer_overview.multi_table_commit`). Whatever moment the process dies, the catalog
holds the old version or the new one, never a mix: Spark, Trino or PyIceberg on ``main`` or on a
tag, the CLI (which resolves versions from the log) and, once re-pinned, the DuckDB exports.

What lags behind the commit is only derived state for folder-based readers: each table's
``version-hint.text`` and the exports. They are brought to the last logged version right after
the commit, and again by the next run if the process died in between
(:func:`recover_interrupted_publish`).

A run that changed no output publishes nothing: the result says so and names the version that
stays current.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of
from pyiceberg.table.update.snapshot import ManageSnapshots
from pyspark.sql import SparkSession

from assets.governed.governance import (
    AUDIT_BRANCH,
    SOURCE_SNAPSHOT_PROPERTY,
    product_policies,
    scan_for_leaks,
)
from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.errors import PublishError
from customer_overview.faults import fault_point
from customer_overview.multi_table_commit import MultiTableCommit
from customer_overview.product import DataProductManifest, ProductOutput, RoleGroup
from customer_overview.publish_log import (
    PUBLISH_LOG_TABLE,
    ensure_publish_log,
    last_published,
    latest_version,
    published_versions,
)
from customer_overview.tables import (
    current_snapshot_id,
    load_iceberg_table,
    snapshot_row_count,
    table_exists,
)
from customer_overview.version_hint import stale_version_hints, write_version_hint

if TYPE_CHECKING:  # publishing only reads the gates' verdict; it never computes one
    from quality.gates import VersionDecision

log = logging.getLogger(__name__)

VERSION_TAG_PREFIX = "v"
RUN_TAG_PREFIX = "run-"


@dataclass
class PublishedTable:
    output: str
    role_group: str
    table: str
    snapshot_id: int
    rows: int
    source_table: str
    source_snapshot_id: int | None
    status: str = "published"


@dataclass
class PublishResult:
    """What a publish did. ``published`` is False when no output changed (``reason`` says so)."""

    product: str
    version: str
    run_id: str
    published_at: datetime
    tables: list[PublishedTable] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    published: bool = True
    reason: str = ""
    # Outputs of the manifest that did not move to this version, with the reason.
    not_published: dict[str, str] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return version_tag(self.version)


@dataclass
class ReleaseCandidate:
    """One published table and the snapshot this publish puts on its ``main``.

    ``snapshot_id`` is the audited snapshot; a selection that holds an output back can set it
    to the snapshot the table was last published at (``main`` then stays where it is).
    """

    output: ProductOutput
    group: RoleGroup
    table: str
    snapshot_id: int
    last_published_snapshot_id: int | None
    held_back: bool = False

    @property
    def changed(self) -> bool:
        return self.snapshot_id != self.last_published_snapshot_id


def version_tag(version: str) -> str:
    """The Iceberg tag naming a product version: ``v1.0.0+3``."""
    return f"{VERSION_TAG_PREFIX}{version}"


def run_tag(run_id: str) -> str:
    return f"{RUN_TAG_PREFIX}{run_id}"


def next_version(settings: LakehouseSettings, manifest: DataProductManifest) -> str:
    """``<manifest version>+<n>``: the n-th publish of this contract version."""
    versions = {
        row["version"]
        for row in published_versions(settings)
        if row["manifest_version"] == manifest.version
    }
    builds = [int(m.group(1)) for v in versions if (m := re.search(r"\+(\d+)$", v))]
    return f"{manifest.version}+{max(builds, default=0) + 1}"


def release_candidates(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    decision: VersionDecision | None = None,
) -> list[ReleaseCandidate]:
    """Every published table with its audited snapshot, checked before anything moves.

    With a ``decision``: outputs left out (an input never landed) are not candidates; outputs held
    back by a failed gate keep the snapshot they were last published at (``main`` stays), or are
    left out if they were never published.

    Raises:
        PublishError: A table or its audit branch is missing, ``main`` cannot fast-forward to
            ``audit``, or an audit branch leaks a value a role group may not see.
    """
    policies = product_policies(manifest)
    logged = last_published(settings)
    candidates = []
    for output in manifest.outputs:
        verdict = decision.outputs[output.name] if decision else None
        if verdict is not None and verdict.status == "left_out":
            continue
        held_back = verdict is not None and verdict.status == "held_back"
        for group in manifest.consumers.role_groups:
            table = output.published_table(group.name)
            previous = logged.get(table)
            if held_back:
                if previous is not None:
                    candidates.append(
                        ReleaseCandidate(
                            output=output,
                            group=group,
                            table=table,
                            snapshot_id=int(previous["snapshot_id"]),
                            last_published_snapshot_id=int(previous["snapshot_id"]),
                            held_back=True,
                        )
                    )
                continue
            if not table_exists(spark, settings, table):
                raise PublishError(f"{table} does not exist: run the govern stage first")
            audit = _require_fast_forward(load_iceberg_table(settings, table), table)
            report = scan_for_leaks(spark, settings, manifest, output, group, policies)
            if report.leaked:
                leaked = {column: n for column, n in report.leaks.items() if n}
                raise PublishError(
                    f"{table}: clear values in columns {group.name} may not see: {leaked}; "
                    "nothing was published"
                )
            candidates.append(
                ReleaseCandidate(
                    output=output,
                    group=group,
                    table=table,
                    snapshot_id=audit,
                    last_published_snapshot_id=int(previous["snapshot_id"]) if previous else None,
                )
            )
    return candidates


def publish(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    run_id: str,
    checks: dict[str, str] | None = None,
    progress: Callable[[str], None] = log.info,
    decision: VersionDecision | None = None,
) -> PublishResult:
    """Publish the audited masked outputs as the next product version, in one commit.

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        manifest: The product manifest (outputs, role groups, version).
        run_id: The Dagster run, recorded in the tag and the log.
        checks: Check name -> outcome that gated this publish, recorded in the log.
        progress: Receives progress messages.
        decision: Which outputs move (``quality.gates``); default: all of them.

    Raises:
        PublishError: A leak was found, or an audit branch is missing or cannot be fast-forwarded
            to; nothing was published.
        CommitFailedException: Another process committed to a published table meanwhile;
            nothing was published.
    """
    if decision is not None and decision.blocked_by:
        failed = ", ".join(f"{gate.check} on {gate.table}" for gate in decision.blocked_by)
        raise PublishError(f"failed quality gates stop the whole version: {failed}")
    candidates = release_candidates(spark, settings, manifest, decision)
    if not candidates:
        raise PublishError("no output can be published: every output is left out or held back")
    ensure_publish_log(spark, settings)
    current = latest_version(settings)
    result = PublishResult(
        product=manifest.name,
        version=next_version(settings, manifest),
        run_id=run_id,
        published_at=datetime.now(UTC),
        checks=dict(checks or {}),
        not_published={
            d.output: f"{d.status.replace('_', ' ')}: {d.reason}"
            for d in (decision.not_published if decision else [])
        },
    )
    if current is not None and not any(candidate.changed for candidate in candidates):
        result.version, result.published = current, False
        result.reason = f"no output changed since {version_tag(current)}"
        progress(f"{manifest.name}: nothing published, {result.reason}")
        return result

    batch = MultiTableCommit(
        cached_catalog(settings),
        on_pointer_swapped=lambda swapped: fault_point("publish", "swap", swapped),
    )
    for prepared, candidate in enumerate(candidates, start=1):
        result.tables.append(_stage_release(batch, settings, manifest, candidate, result))
        fault_point("publish", "prepared", prepared)
    # Staged last: on a catalog without multi-table commits (REST) the log, which decides what
    # consumers resolve as the latest version, still moves only after every table.
    _stage_log_rows(batch, settings, manifest, result)
    batch.apply()
    fault_point("publish", "committed")
    # Folder readers follow version-hint.text: it moves only now, after the commit.
    rewrite_stale_version_hints(settings)
    how = "one catalog transaction" if batch.atomic else "one commit per table, log last"
    progress(
        f"{manifest.name} {result.version} published: {len(result.tables)} tables and the "
        f"publish log in {how}"
    )
    return result


def _stage_release(
    batch: MultiTableCommit,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    candidate: ReleaseCandidate,
    result: PublishResult,
) -> PublishedTable:
    """Stage ``main`` -> the candidate snapshot, the version and run tags, product properties."""
    table = batch.table(settings.table_identifier(candidate.table))
    snapshot = table.snapshot_by_id(candidate.snapshot_id)
    if snapshot is None:
        raise PublishError(f"{candidate.table}: snapshot {candidate.snapshot_id} does not exist")
    with table.transaction() as transaction:
        transaction.set_properties(
            {
                "product.name": manifest.name,
                "product.version": result.version,
                "product.domain": manifest.domain,
                "product.owner": f"{manifest.owner.name} <{manifest.owner.email}>",
                "product.support": manifest.support.contact,
                "product.freshness": manifest.freshness.expectation,
                "product.published-at": result.published_at.isoformat(),
                "product.run-id": result.run_id,
            }
        )
        with ManageSnapshots(transaction) as refs:
            refs.set_current_snapshot(snapshot_id=candidate.snapshot_id)
            refs.create_tag(candidate.snapshot_id, version_tag(result.version))
            refs.create_tag(candidate.snapshot_id, run_tag(result.run_id))
    # Recorded by the masked write; older audit snapshots lack it: the source's current one.
    source_snapshot = snapshot.summary.get(SOURCE_SNAPSHOT_PROPERTY) if snapshot.summary else None
    return PublishedTable(
        output=candidate.output.name,
        role_group=candidate.group.name,
        table=candidate.table,
        status="carried_forward" if candidate.held_back else "published",
        snapshot_id=candidate.snapshot_id,
        rows=snapshot_row_count(snapshot),
        source_table=candidate.output.source_table,
        source_snapshot_id=int(source_snapshot)
        if source_snapshot and source_snapshot.isdigit()
        else current_snapshot_id(settings, candidate.output.source_table),
    )


def _stage_log_rows(
    batch: MultiTableCommit,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    result: PublishResult,
) -> None:
    log_table = batch.table(settings.table_identifier(PUBLISH_LOG_TABLE))
    checks = json.dumps(result.checks, sort_keys=True)
    not_published = json.dumps(result.not_published, sort_keys=True)
    rows = [
        {
            "product": result.product,
            "version": result.version,
            "manifest_version": manifest.version,
            "run_id": result.run_id,
            "published_at": result.published_at,
            "output": table.output,
            "role_group": table.role_group,
            "table_name": table.table,
            "snapshot_id": table.snapshot_id,
            "row_count": table.rows,
            "source_table": table.source_table,
            "source_snapshot_id": table.source_snapshot_id,
            "checks": checks,
            "status": table.status,
            "not_published": not_published,
        }
        for table in result.tables
    ]
    log_table.append(pa.Table.from_pylist(rows, schema=log_table.schema().as_arrow()))


def _require_fast_forward(iceberg_table: Table, table: str) -> int:
    """The audited snapshot; fail before anything moves unless ``main`` can fast-forward to it.

    Checked for every table first, so that a publish cannot stop after moving some tables.
    """
    audit = iceberg_table.snapshot_by_name(AUDIT_BRANCH)
    if audit is None:
        raise PublishError(f"{table} has no '{AUDIT_BRANCH}' branch to publish")
    main = iceberg_table.current_snapshot()
    if main is None:
        return audit.snapshot_id
    lineage = {snapshot.snapshot_id for snapshot in ancestors_of(audit, iceberg_table.metadata)}
    if main.snapshot_id not in lineage:
        raise PublishError(
            f"{table}: main (snapshot {main.snapshot_id}) is not an ancestor of "
            f"'{AUDIT_BRANCH}' (snapshot {audit.snapshot_id}); something wrote to main since "
            "the govern stage: re-run it; nothing was published"
        )
    return audit.snapshot_id


# ------------------------------------------------------------------------- after a crash
def published_state_problems(settings: LakehouseSettings) -> list[str]:
    """Why some published table's ``main`` is not at its last logged version (empty: all are).

    For every table in the publish log: ``main`` is the snapshot its most recent log row
    names, and the version tag of that row points at it.
    """
    problems = []
    for table_name, row in sorted(last_published(settings).items()):
        try:
            table = load_iceberg_table(settings, table_name)
        except NoSuchTableError:
            problems.append(f"{table_name}: published in {row['version']} but no longer exists")
            continue
        main = table.current_snapshot()
        expected = int(row["snapshot_id"])
        if main is None or main.snapshot_id != expected:
            problems.append(
                f"{table_name}: main is at snapshot {main.snapshot_id if main else None}, the "
                f"publish log says {row['version']} is snapshot {expected}"
            )
        tag = table.metadata.refs.get(version_tag(row["version"]))
        if tag is None or tag.snapshot_id != expected:
            problems.append(
                f"{table_name}: tag {version_tag(row['version'])} "
                f"{'is missing' if tag is None else f'points at snapshot {tag.snapshot_id}'}, "
                f"the publish log says snapshot {expected}"
            )
    return problems


@dataclass
class Recovery:
    """What :func:`recover_interrupted_publish` repaired."""

    version: str | None
    rolled_back: list[str] = field(default_factory=list)
    hints_rewritten: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        return bool(self.rolled_back or self.hints_rewritten)

    def describe(self) -> str:
        if not self.repaired:
            return "nothing to repair"
        parts = []
        if self.rolled_back:
            parts.append(
                f"rolled back {len(self.rolled_back)} table(s) moved by an unlogged publish: "
                + ", ".join(self.rolled_back)
            )
        if self.hints_rewritten:
            parts.append(f"rewrote {len(self.hints_rewritten)} version hint(s) to {self.version}")
        return "; ".join(parts)


def recover_interrupted_publish(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    progress: Callable[[str], None] = log.info,
) -> Recovery:
    """Finish or roll back a publish whose process died; idempotent, PyIceberg only.

    * Rolled back: a table whose ``main`` was moved, or tagged, by a publish the log never
      recorded. With the JDBC catalogs this cannot happen (the tables and the log commit
      together); on a catalog without multi-table commits (REST) a crash between two tables'
      commits leaves it. ``main`` goes back to the table's last logged snapshot (the audit branch
      keeps the new snapshot, so the next publish moves it again) and the unrecorded tags go.
    * Finished: every logged table's ``version-hint.text`` is pointed at the last logged version
      (a crash after the commit leaves some hints behind). The DuckDB exports are the caller's
      (they are rewritten when stale: :func:`assets.consumed.consume` builds them).
    """
    logged = last_published(settings)
    versions = {row["version"] for row in published_versions(settings)}
    recovery = Recovery(version=latest_version(settings))
    for output in manifest.outputs:
        for group in manifest.consumers.role_groups:
            table_name = output.published_table(group.name)
            try:
                table = load_iceberg_table(settings, table_name)
            except NoSuchTableError:
                continue
            if _roll_back_unlogged(table, logged.get(table_name), versions):
                recovery.rolled_back.append(table_name)
    recovery.hints_rewritten = rewrite_stale_version_hints(settings, logged)
    if recovery.repaired:
        progress(f"interrupted publish repaired: {recovery.describe()}")
    return recovery


def _roll_back_unlogged(table: Table, row: dict[str, Any] | None, versions: set[str]) -> bool:
    """Undo what an unlogged publish did to ``table``; True if anything changed."""
    unlogged_tags = [
        name
        for name, ref in table.metadata.refs.items()
        if ref.snapshot_ref_type == "tag"
        and name.startswith(VERSION_TAG_PREFIX)
        and name[len(VERSION_TAG_PREFIX) :] not in versions
    ]
    logged_runs = {row["run_id"]} if row else set()
    # The run tag of an unlogged publish points where its version tag does.
    unlogged_snapshots = {table.metadata.refs[name].snapshot_id for name in unlogged_tags}
    unlogged_tags += [
        name
        for name, ref in table.metadata.refs.items()
        if ref.snapshot_ref_type == "tag"
        and name.startswith(RUN_TAG_PREFIX)
        and ref.snapshot_id in unlogged_snapshots
        and name[len(RUN_TAG_PREFIX) :] not in logged_runs
    ]
    main = table.current_snapshot()
    expected = int(row["snapshot_id"]) if row else None
    move_main = (
        main is not None
        and main.snapshot_id in unlogged_snapshots
        and expected is not None
        and main.snapshot_id != expected
    )
    if not unlogged_tags and not move_main:
        return False
    with table.manage_snapshots() as refs:
        for name in unlogged_tags:
            refs.remove_tag(name)
        if move_main and expected is not None:
            refs.set_current_snapshot(snapshot_id=expected)
    return True


def rewrite_stale_version_hints(
    settings: LakehouseSettings, logged: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Point every stale ``version-hint.text`` at its table's last logged snapshot."""
    logged = last_published(settings) if logged is None else logged
    expected = {table: int(row["snapshot_id"]) for table, row in logged.items()}
    rewritten = []
    for written, table in enumerate(stale_version_hints(settings, expected), start=1):
        write_version_hint(settings, table)
        rewritten.append(table)
        fault_point("publish", "hint", written)
    return rewritten
