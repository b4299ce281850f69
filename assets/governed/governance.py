"""Masked outputs per consumer role group, written with Iceberg write-audit-publish.

For every output of the manifest and every role group, the curated table is masked in one Spark
projection (``policies.apply_masks``) and written to the ``audit`` branch of the published table
``<curated>__<group>``. Consumers read ``main``, which only the publish step moves (a
fast-forward to ``audit``) after the leak scan and every blocking check passed: a failed run
leaves the published product exactly as it was.

A masked write is skipped when neither the curated snapshot it reads nor the masking decisions
changed since the last one (a fingerprint recorded in the audit snapshot's summary), so a run
with nothing new commits nothing and the publish step finds no output changed.

Otherwise, when the decisions and masked schema are those the branch was masked with, only what
changed is written, the cheapest way the curated table's history allows:

- it only gained rows (every snapshot since is an ``append``, or a compaction that changed no
  row): the new rows are masked and appended. Iceberg's incremental scan reads them without a
  join; a month of new transactions is one append of that month;
- the keys that changed are known (``customer_overview.changed_keys``: the upserts of curation
  record them) and the branch is large enough for a MERGE to pay (``merge_pays``): one
  ``MERGE`` of those keys' masked rows, inserting new keys, updating changed ones and deleting
  keys that left the curated table. Masked tables are merge-on-read: the MERGE writes the new
  rows and position deletes for the old ones, and leaves every other data file alone
  (copy-on-write would rewrite nearly every file for a scattered 1% of customers);
- anything else (a change nobody recorded, a full refresh, a key column that is masked or
  dropped, deletes piling up past ``MAX_DELETED_SHARE`` of the rows, a branch small enough or a
  change large enough that rewriting costs less) rewrites the branch whole, which also leaves
  it without delete files.

Every write records its provenance (source snapshot, fingerprints) in the snapshot it commits,
the MERGE too (``customer_overview.commit_properties``), so a crash leaves either the old
provenance with the old rows or the new with the new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyiceberg.table.snapshots import Snapshot
from pyspark.sql import DataFrame, DataFrameWriterV2, SparkSession
from pyspark.sql import functions as F

from customer_overview.catalog_metadata import apply_table_metadata, tag_properties
from customer_overview.changed_keys import keys_changed_since
from customer_overview.commit_properties import sql_with_commit_properties
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, PartitionField
from customer_overview.product import DataProductManifest, ProductOutput, RoleGroup
from customer_overview.sql import quote
from customer_overview.state_records import (
    read_state_record,
    state_record_path,
    write_state_record,
)
from customer_overview.tables import (
    BUILT_FROM,
    DEFAULT_TABLE_PROPERTIES,
    current_snapshot_id,
    data_snapshot,
    data_snapshot_id,
    drop_branch,
    ensure_branch,
    inputs_fingerprint,
    load_iceberg_table,
    rows_appended_since,
    snapshot_property_option,
    snapshot_row_count,
    table_at,
    temp_view,
)
from policies import (
    OPERATORS,
    ColumnDecision,
    PolicySet,
    access_matrix,
    apply_masks,
    load_policies,
    render_html,
    render_markdown,
    resolve_columns,
)
from policies.resolution import UNTAGGED

log = logging.getLogger(__name__)

AUDIT_BRANCH = "audit"
# Snapshot summary key of a masked write: the curated snapshot it was masked from.
SOURCE_SNAPSHOT_PROPERTY = "governance.source-snapshot-id"
# Snapshot summary key: fingerprint of the decisions and masked schema (not the source), so the
# next write knows whether the rows already on the branch were masked the way it would mask them.
MASKING_PROPERTY = "governance.masking"
PASS_THROUGH = "pass_through"
FULL, INCREMENTAL, MERGED, SKIPPED = "full", "incremental", "merged", "skipped"
# Readers of a merge-on-read table apply its position deletes on every scan; past this share of
# deleted rows the next change rewrites the branch whole instead (no delete file left). At 1% of
# customers changed per run, that is a rewrite every ~20 runs.
MAX_DELETED_SHARE = 0.2
# When a MERGE of the changed keys costs less than a whole rewrite (``merge_pays``). Measured by
# benchmarks/bench_masking.py (3 role groups, 1% of the customers changed, both paths on the
# same change in one invocation, 2 cores): at 101k rows the MERGEs took 13.7 s against 6.4 s for
# the rewrites (2.15x), at 1.01M rows 14.1 s against 22.0 s (0.64x). The MERGE's cost hardly
# grows with the table, the rewrite's does: they cross near 500k rows.
MERGE_MIN_ROWS = 500_000
# Past this share of the rows changed, the MERGE writes nearly as much as a rewrite and leaves
# as many deletes for every reader to apply.
MAX_MERGED_SHARE = 0.1
# The masked tables take MERGEs of changed keys; see the module docstring.
MASKED_TABLE_PROPERTIES = {
    "write.merge.mode": "merge-on-read",
    "write.update.mode": "merge-on-read",
    "write.delete.mode": "merge-on-read",
}
# The MERGE source's column saying a changed key is still in the curated table (NULL: it left).
_PRESENT = "__governance_key_present"


@dataclass
class MaskedOutput:
    """One masked table written to its audit branch."""

    output: str
    role_group: str
    table: str
    rows: int
    audit_snapshot_id: int | None
    decisions: dict[str, ColumnDecision]
    schema_replaced: bool = False
    written: bool = True  # False: source and policies unchanged, the audit branch was kept
    mode: str = FULL  # full | incremental (appended) | merged (changed keys) | skipped
    rows_appended: int = 0  # incremental: rows the curated table gained, masked and appended
    keys_merged: int = 0  # merged: changed keys (inserted, updated or deleted)


@dataclass
class LeakReport:
    """Clear values found in columns a role group is not entitled to see."""

    table: str
    role_group: str
    ref: str
    leaks: dict[str, int] = field(default_factory=dict)  # column -> rows holding a clear value
    checked_columns: list[str] = field(default_factory=list)
    remembered: bool = False  # True: the same snapshots were scanned clean before, not again

    @property
    def leaked(self) -> bool:
        return any(self.leaks.values())


def product_policies(manifest: DataProductManifest) -> PolicySet:
    return load_policies(manifest.policies_path)


def column_tags_with_lineage(schema: EntitySchema, columns: list[str]) -> dict[str, frozenset[str]]:
    """Tags for every column of the curated table, lineage columns untagged."""
    tags = schema.column_tags()
    return {name: tags.get(name, frozenset()) for name in columns}


def decisions_for(
    manifest: DataProductManifest,
    policies: PolicySet,
    output: ProductOutput,
    group: RoleGroup,
    columns: list[str],
) -> dict[str, ColumnDecision]:
    return resolve_columns(
        policies,
        group.tags,
        column_tags_with_lineage(output.entity_schema, columns),
        default_deny=manifest.consumers.default_deny,
    )


def write_masked_outputs(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    output: ProductOutput,
    policies: PolicySet,
    progress: Callable[[str], None] = log.info,
    merge: bool | None = None,
) -> list[MaskedOutput]:
    """Mask ``output``'s curated table for every role group and write each to its audit branch.

    ``merge``: where the changed keys are known, MERGE them (True) or rewrite the branch whole
    (False); None chooses the cheaper by the branch's size and the share changed
    (:func:`merge_pays`). Only a benchmark of the two paths forces one.
    """
    source_snapshot = data_snapshot_id(settings, output.source_table)
    # Read at that snapshot: the recorded source is exactly what was masked.
    curated = table_at(spark, settings, output.source_table, source_snapshot)
    changes = _CuratedChanges(spark, settings, output, curated, source_snapshot)
    results = []
    try:
        for group in manifest.consumers.role_groups:
            started = time.monotonic()
            result = _write_masked_output(
                settings, output, group, policies, manifest, changes, merge
            )
            progress(_describe_write(result, source_snapshot, time.monotonic() - started))
            results.append(result)
    finally:
        changes.release()
    return results


def _write_masked_output(
    settings: LakehouseSettings,
    output: ProductOutput,
    group: RoleGroup,
    policies: PolicySet,
    manifest: DataProductManifest,
    changes: _CuratedChanges,
    merge: bool | None,
) -> MaskedOutput:
    """One role group's masked table: skipped, appended, merged or rewritten (module docstring)."""
    spark, curated, source_snapshot = changes.spark, changes.curated, changes.source_snapshot
    decisions = decisions_for(manifest, policies, output, group, curated.columns)
    masked = apply_masks(curated, decisions)
    table = output.published_table(group.name)
    masking = masking_fingerprint(decisions, masked)
    inputs = masking_inputs(source_snapshot, masking)
    provenance = {
        SOURCE_SNAPSHOT_PROPERTY: str(source_snapshot),
        BUILT_FROM: inputs,
        MASKING_PROPERTY: masking,
    }
    recorded = _audit_summary(spark, settings, table)
    result = MaskedOutput(output.name, group.name, table, 0, None, decisions)
    same_masking = recorded.get(MASKING_PROPERTY) == masking
    masked_from = recorded.get(SOURCE_SNAPSHOT_PROPERTY)
    if recorded.get(BUILT_FROM) == inputs:
        result.written, result.mode = False, SKIPPED
    elif same_masking and (appended := changes.appended_since(masked_from)) is not None:
        result.rows_appended = _append_to_audit_branch(
            settings, table, apply_masks(appended, decisions), provenance
        )
        result.mode = INCREMENTAL
    elif (
        same_masking
        and _keys_shown_as_they_are(output, decisions)
        and (changed := _changes_to_merge(settings, table, changes, masked_from, merge))
    ):
        masked_changes = apply_masks(changed.rows, decisions)
        result.keys_merged = _merge_into_audit_branch(
            spark, settings, table, output, changed, masked_changes, provenance
        )
        result.mode = MERGED
    else:
        result.schema_replaced = _write_audit_branch(
            spark, settings, table, masked, output.entity_schema, provenance
        )
    _describe_masked_table(settings, table, output, group, decisions, masked.columns)
    snapshot = _branch_snapshot(settings, table, AUDIT_BRANCH)
    recorded_inputs = snapshot.summary.get(BUILT_FROM) if snapshot and snapshot.summary else None
    if result.written and recorded_inputs != inputs:
        # Only a MERGE run on an unpinned PySpark thread (commit_properties) could lose it: the
        # rows are right, and the next run, finding no provenance, rewrites the branch whole.
        log.warning("%s: the audit snapshot did not record its provenance", table)
    result.rows = snapshot_row_count(snapshot)
    result.audit_snapshot_id = snapshot.snapshot_id if snapshot else None
    return result


def _describe_write(result: MaskedOutput, source_snapshot: int | None, seconds: float) -> str:
    """The progress line of one masked write."""
    where = f"on branch {AUDIT_BRANCH} ({result.rows} row(s)) in {seconds:.1f} s"
    if result.mode == SKIPPED:
        return (
            f"{result.table}: source snapshot {source_snapshot} and policies unchanged since the "
            f"last masked write; branch {AUDIT_BRANCH} left at snapshot "
            f"{result.audit_snapshot_id}"
        )
    if result.mode == INCREMENTAL:
        return (
            f"{result.table}: the curated table only gained rows; {result.rows_appended} masked "
            f"and appended for {result.role_group} {where}"
        )
    if result.mode == MERGED:
        return (
            f"{result.table}: {result.keys_merged} changed key(s) masked and merged for "
            f"{result.role_group} {where}"
        )
    return f"{result.table}: {result.rows} row(s) masked for {result.role_group} {where}"


class _CuratedChanges:
    """What the curated table changed since a masked table's source snapshot, read once for all
    role groups (they are usually masked from the same snapshot)."""

    def __init__(
        self,
        spark: SparkSession,
        settings: LakehouseSettings,
        output: ProductOutput,
        curated: DataFrame,
        source_snapshot: int | None,
    ) -> None:
        self.spark, self.settings, self.output = spark, settings, output
        self.curated, self.source_snapshot = curated, source_snapshot
        self._changed: dict[str | None, ChangedKeys | None] = {}

    def appended_since(self, masked_from: str | None) -> DataFrame | None:
        """The rows the curated table gained since ``masked_from``, if it only gained rows."""
        return rows_appended_since(
            self.spark, self.settings, self.output.source_table, masked_from, self.source_snapshot
        )

    def changed_since(self, masked_from: str | None) -> ChangedKeys | None:
        """The keys that may differ since ``masked_from``, their current rows and how many
        (cached), or None when that is not known."""
        if masked_from not in self._changed:
            self._changed[masked_from] = self._read_changes(masked_from)
        return self._changed[masked_from]

    def _read_changes(self, masked_from: str | None) -> ChangedKeys | None:
        if masked_from is None or not masked_from.isdigit():
            return None
        key = list(self.output.entity_schema.key)
        keys = keys_changed_since(
            self.spark,
            self.settings,
            self.output.source_table,
            key,
            int(masked_from),
            self.source_snapshot,
        )
        if keys is None:
            return None
        # Cached: each role group's MERGE reads them, and the key sets are small.
        keys = keys.persist()
        rows = self.curated.join(keys, key, "left_semi").persist()
        return ChangedKeys(keys, rows, keys.count())

    def release(self) -> None:
        for changed in self._changed.values():
            if changed is not None:
                changed.keys.unpersist()
                changed.rows.unpersist()


@dataclass(frozen=True)
class ChangedKeys:
    """The curated keys that may differ since a masked write, with their rows now."""

    keys: DataFrame
    rows: DataFrame  # the curated rows of ``keys`` (a key that left the table has none)
    count: int  # distinct keys


def _changes_to_merge(
    settings: LakehouseSettings,
    table: str,
    changes: _CuratedChanges,
    masked_from: str | None,
    merge: bool | None,
) -> ChangedKeys | None:
    """The changed keys to MERGE into the audit branch, or None: rewrite it whole (their set is
    not known, deletes piled up past ``MAX_DELETED_SHARE``, or the rewrite is cheaper)."""
    rows, deleted = _branch_rows(settings, table)
    if merge is False or deleted > MAX_DELETED_SHARE * max(rows, 1):
        return None
    if merge is None and not merge_pays(rows, 0):  # too small to merge into: not worth the keys
        return None
    changed = changes.changed_since(masked_from)
    if changed is None or not (merge or merge_pays(rows, changed.count)):
        return None
    return changed


def merge_pays(branch_rows: int, changed_keys: int) -> bool:
    """Whether a MERGE of ``changed_keys`` should cost less than rewriting the branch whole.

    A MERGE reads the key of every row on the branch and shuffles it against the changes, and
    its statement has a fixed cost of its own; a rewrite writes every row. Below
    ``MERGE_MIN_ROWS`` the rewrite is cheaper, and so it is past ``MAX_MERGED_SHARE`` of the
    rows changed (see those constants for the measurements).
    """
    return branch_rows >= MERGE_MIN_ROWS and changed_keys <= MAX_MERGED_SHARE * branch_rows


def _keys_shown_as_they_are(output: ProductOutput, decisions: Mapping[str, ColumnDecision]) -> bool:
    """Whether the role group sees the key columns in clear: a MERGE matches rows on them."""
    return all(
        decisions[name].operator == PASS_THROUGH and not decisions[name].dropped
        for name in output.entity_schema.key
    )


def _branch_rows(settings: LakehouseSettings, table: str) -> tuple[int, int]:
    """The rows the audit branch holds, and those its position deletes hide (from metadata)."""
    snapshot = _branch_snapshot(settings, table, AUDIT_BRANCH)
    if snapshot is None or snapshot.summary is None:
        return 0, 0
    deleted = int(snapshot.summary.get("total-position-deletes") or 0)
    return snapshot_row_count(snapshot), deleted


def _merge_into_audit_branch(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    output: ProductOutput,
    changed: ChangedKeys,
    masked_rows: DataFrame,
    provenance: Mapping[str, str],
) -> int:
    """MERGE the masked rows of the ``changed`` keys into the audit branch; the keys merged.

    A changed key with a curated row is inserted or updated; one without (it left the curated
    table) is deleted. With no changed key at all, an empty append records the new provenance,
    so the next run skips the table.
    """
    qualified = settings.spark_table(table)
    keys, merged = changed.keys, changed.count
    if merged == 0:  # nothing to match; the empty append still records the provenance
        _append_to_audit_branch(settings, table, masked_rows.limit(0), provenance)
        return 0
    # Older lakehouses created the masked tables copy-on-write (a commit only if so).
    apply_table_metadata(settings, table, properties=MASKED_TABLE_PROPERTIES)
    key = list(output.entity_schema.key)
    source = keys.join(masked_rows.withColumn(_PRESENT, F.lit(True)), key, "left")
    columns = [quote(name) for name in masked_rows.columns]
    matched = " AND ".join(f"t.{quote(name)} = s.{quote(name)}" for name in key)
    with temp_view(source, f"masked_changes_{table}") as view:
        sql_with_commit_properties(
            spark,
            f"MERGE INTO {qualified}.branch_{AUDIT_BRANCH} t USING {view} s ON {matched} "
            f"WHEN MATCHED AND s.{_PRESENT} IS NULL THEN DELETE "
            f"WHEN MATCHED THEN UPDATE SET {', '.join(f't.{c} = s.{c}' for c in columns)} "
            f"WHEN NOT MATCHED AND s.{_PRESENT} IS NOT NULL THEN INSERT ({', '.join(columns)}) "
            f"VALUES ({', '.join(f's.{c}' for c in columns)})",
            provenance,
        )
    return merged


def masking_inputs(source_snapshot: int | None, masking: str) -> str:
    """Fingerprint of a masked write: the source snapshot and the :func:`masking_fingerprint`."""
    return inputs_fingerprint({"source_snapshot": source_snapshot, "masking": masking})


def masking_fingerprint(decisions: Mapping[str, ColumnDecision], masked: DataFrame) -> str:
    """Fingerprint of how rows are masked: every column's decision and the masked schema."""
    return inputs_fingerprint(
        {
            "decisions": {
                name: [
                    decision.operator,
                    decision.params.model_dump(mode="json") if decision.params else None,
                    decision.dropped,
                ]
                for name, decision in sorted(decisions.items())
            },
            "schema": _schema_signature(masked),
        }
    )


def _audit_summary(spark: SparkSession, settings: LakehouseSettings, table: str) -> dict[str, str]:
    """The provenance in the audit branch's last data snapshot (empty: no table, no branch)."""
    if not spark.catalog.tableExists(settings.spark_table(table)):
        return {}
    snapshot = data_snapshot(load_iceberg_table(settings, table), AUDIT_BRANCH)
    if snapshot is None or snapshot.summary is None:
        return {}
    recorded = (SOURCE_SNAPSHOT_PROPERTY, BUILT_FROM, MASKING_PROPERTY)
    return {key: value for key in recorded if (value := snapshot.summary.get(key)) is not None}


def _describe_masked_table(
    settings: LakehouseSettings,
    table: str,
    output: ProductOutput,
    group: RoleGroup,
    decisions: Mapping[str, ColumnDecision],
    columns: list[str],
) -> None:
    """Column docs say how each column is shown; properties carry tags and masks."""
    schema = output.entity_schema
    descriptions = {column.name: column.description for column in schema.columns}
    docs = {}
    properties = tag_properties(schema, columns) | {
        "role-group": group.name,
        "role-group.tags": ",".join(sorted(group.tags)),
        "source-table": output.source_table,
        "comment": f"{output.description} Masked for role group {group.name}.",
    }
    for name in columns:
        decision = decisions[name]
        description = descriptions.get(name, "Lineage column.")
        if decision.reason != UNTAGGED:
            docs[name] = f"{description} [{decision.operator}: {decision.reason}]"
            properties[f"masking.{name}"] = decision.operator
        else:
            docs[name] = description
    apply_table_metadata(settings, table, column_docs=docs, properties=properties)


def _with_provenance(writer: DataFrameWriterV2, provenance: Mapping[str, str]) -> DataFrameWriterV2:
    for key, value in provenance.items():
        writer = writer.option(snapshot_property_option(key), value)
    return writer


def _append_to_audit_branch(
    settings: LakehouseSettings, table: str, masked: DataFrame, provenance: Mapping[str, str]
) -> int:
    """Append ``masked`` to the audit branch with ``provenance``; the rows appended.

    Appended even when empty: the commit records that the branch is masked from the new source
    snapshot (the next run then skips it).
    """
    target = f"{settings.spark_table(table)}.branch_{AUDIT_BRANCH}"
    before = _branch_snapshot(settings, table, AUDIT_BRANCH)
    _with_provenance(masked.writeTo(target), provenance).append()
    after = _branch_snapshot(settings, table, AUDIT_BRANCH)
    return snapshot_row_count(after) - snapshot_row_count(before)


def _write_audit_branch(
    spark: SparkSession,
    settings: LakehouseSettings,
    table: str,
    masked: DataFrame,
    schema: EntitySchema,
    provenance: Mapping[str, str],
) -> bool:
    """Overwrite the audit branch of ``table`` with ``masked``; True if the schema changed.

    The snapshot records ``provenance``: the source snapshot it was masked from and the inputs
    and masking fingerprints, so the next run can skip an unchanged write (:func:`masking_inputs`)
    or mask only the rows that changed.
    """
    qualified = settings.spark_table(table)
    partition_columns = [p for p in schema.partition_by if p.column in masked.columns]
    replaced = False
    if not spark.catalog.tableExists(qualified):
        _create_empty(masked, qualified, partition_columns)
    elif _schema_signature(spark.table(qualified)) != _schema_signature(masked):
        # A policy change altered a column's type or presence: the published contract changes.
        # Iceberg keeps every earlier snapshot (and its tags) readable after REPLACE.
        log.warning("%s: masked schema changed; replacing the table schema", qualified)
        drop_branch(settings, table, AUDIT_BRANCH)
        _create_empty(masked, qualified, partition_columns, replace=True)
        replaced = True
    ensure_branch(settings, table, AUDIT_BRANCH)
    _with_provenance(masked.writeTo(f"{qualified}.branch_{AUDIT_BRANCH}"), provenance).overwrite(
        F.lit(True)
    )
    return replaced


def _create_empty(
    masked: DataFrame,
    qualified: str,
    partition_columns: list[PartitionField],
    replace: bool = False,
) -> None:
    writer = masked.limit(0).writeTo(qualified).using("iceberg")
    for key, value in (DEFAULT_TABLE_PROPERTIES | MASKED_TABLE_PROPERTIES).items():
        writer = writer.tableProperty(key, value)
    if partition_columns:
        expressions = [
            F.col(p.column)
            if p.transform == "identity"
            else getattr(F, f"{p.transform}s")(p.column)
            for p in partition_columns
        ]
        writer = writer.partitionedBy(*expressions)
    if replace:
        writer.createOrReplace()
    else:
        writer.create()


def _schema_signature(frame: DataFrame) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in frame.schema.fields]


def _branch_snapshot(settings: LakehouseSettings, table: str, branch: str) -> Snapshot | None:
    return load_iceberg_table(settings, table).snapshot_by_name(branch)


def scan_for_leaks(
    spark: SparkSession,
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    output: ProductOutput,
    group: RoleGroup,
    policies: PolicySet | None = None,
    ref: str = AUDIT_BRANCH,
) -> LeakReport:
    """Compare a masked table with the curated table it came from, row by row on the key.

    A tagged column leaks when the role group is not entitled to it by the *current* policies
    (its decision is anything but pass-through) and the masked table holds the curated value in
    clear, except where the mask itself maps the value to itself (a date already on its bucket
    boundary). This catches a mask that was skipped, and a masked table that went stale after a
    policy was removed or narrowed.

    Both tables are read at the snapshot ``ref`` and the curated ``main`` point to now. Snapshots
    are immutable, so the same two snapshots under the same checks give the same answer: a scan
    that found nothing is remembered (:func:`_remembered_clean_scan`), and the publish step's
    scan of the audit branch the govern step has just scanned costs no Spark job.
    """
    policies = policies if policies is not None else product_policies(manifest)
    table = output.published_table(group.name)
    report = LeakReport(table=table, role_group=group.name, ref=ref)
    curated_snapshot = current_snapshot_id(settings, output.source_table)
    masked_snapshot = load_iceberg_table(settings, table).snapshot_by_name(ref)
    curated = table_at(spark, settings, output.source_table, curated_snapshot)
    decisions = decisions_for(manifest, policies, output, group, curated.columns)
    tags = column_tags_with_lineage(output.entity_schema, curated.columns)
    masked = (
        table_at(spark, settings, table, masked_snapshot.snapshot_id)
        if masked_snapshot is not None
        # No such ref: Spark's error names it.
        else spark.sql(f"SELECT * FROM {settings.spark_table(table)} VERSION AS OF '{ref}'")
    )
    types = {f.name: f.dataType.simpleString() for f in curated.schema.fields}
    guarded = [
        name
        for name, decision in decisions.items()
        if tags.get(name) and decision.operator != PASS_THROUGH and name in masked.columns
    ]
    report.checked_columns = guarded
    if not guarded:
        return report
    key = list(output.entity_schema.key)
    leaks = {column: _leak_sql(column, decisions[column], types[column]) for column in guarded}
    scanned = LeakScan(
        masked_snapshot=masked_snapshot.snapshot_id if masked_snapshot else None,
        curated_snapshot=curated_snapshot,
        checks=inputs_fingerprint({"key": key, "leaks": leaks}),
    )
    if scanned.pinned and _remembered_clean_scan(settings, table) == scanned:
        report.leaks = dict.fromkeys(guarded, 0)
        report.remembered = True
        return report
    m = masked.select(
        *[F.col(quote(k)) for k in key], *[F.col(quote(c)).alias(f"m_{c}") for c in guarded]
    )
    c = curated.select(
        *[F.col(quote(k)) for k in key], *[F.col(quote(col)).alias(f"c_{col}") for col in guarded]
    )
    counts = [
        F.sum(F.expr(f"CASE WHEN {leak} THEN 1 ELSE 0 END")).alias(column)
        for column, leak in leaks.items()
    ]
    row = m.join(c, key, "inner").agg(*counts).first()
    report.leaks = {column: int(row[column] or 0) for column in guarded} if row else {}
    if scanned.pinned and not report.leaked:
        _remember_clean_scan(settings, table, scanned)
    return report


def _leak_sql(column: str, decision: ColumnDecision, column_type: str) -> str:
    """SQL that holds for a masked row showing ``column``'s curated value in clear (the columns
    are ``m_<column>`` and ``c_<column>``), unless the mask maps that value to itself."""
    clear = f"CAST({quote('c_' + column)} AS STRING)"
    shown = f"CAST({quote('m_' + column)} AS STRING)"
    expected = (
        OPERATORS[decision.operator].spark_sql(quote(f"c_{column}"), column_type, decision.params)
        if decision.params is not None
        else "NULL"
    )
    return (
        f"{quote('c_' + column)} IS NOT NULL AND {shown} = {clear} "
        f"AND NOT (CAST({expected} AS STRING) <=> {clear})"
    )


# --------------------------------------------------------------- scans that found no leak
@dataclass(frozen=True)
class LeakScan:
    """What a leak scan read and checked: two immutable snapshots and its SQL's fingerprint."""

    masked_snapshot: int | None
    curated_snapshot: int | None
    checks: str  # fingerprint of the key and each column's leak SQL (decisions, types, salts)

    @property
    def pinned(self) -> bool:
        return self.masked_snapshot is not None and self.curated_snapshot is not None


def _leak_scan_path(settings: LakehouseSettings, table: str) -> Path:
    return state_record_path(settings, "leak_scans", table)


def _remembered_clean_scan(settings: LakehouseSettings, table: str) -> LeakScan | None:
    path = _leak_scan_path(settings, table)
    return read_state_record(path, LeakScan, "leak scan record", "scanning again")


def _remember_clean_scan(settings: LakehouseSettings, table: str, scanned: LeakScan) -> None:
    write_state_record(_leak_scan_path(settings, table), scanned)


def decisions_summary(decisions: Mapping[str, ColumnDecision]) -> dict[str, str]:
    """``column -> operator`` for tagged or masked columns (Dagster metadata)."""
    return {
        name: decision.operator
        for name, decision in decisions.items()
        if decision.reason != UNTAGGED
    }


def who_sees_what(manifest: DataProductManifest) -> tuple[str, dict[str, str]]:
    """The access matrix (role group x tagged column) of every output with tagged columns.

    Returns:
        One Markdown document for all outputs, and a self-contained HTML page per output.
    """
    policies = product_policies(manifest)
    groups = list(manifest.consumers.role_groups)
    markdown_parts, pages = [], {}
    for output in manifest.outputs:
        tags = output.entity_schema.column_tags()
        if not any(tags.values()):
            continue
        matrix = access_matrix(policies, groups, tags, manifest.consumers.default_deny)
        markdown_parts.append(f"### {output.name}\n\n{render_markdown(matrix)}")
        pages[output.name] = render_html(matrix, title=f"Who sees what: {output.name}")
    return "\n\n".join(markdown_parts), pages
