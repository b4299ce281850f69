"""Raw rows -> the curated table (latest valid version per key) and the quarantine table.

For each raw row not yet curated:
  1. cast the text values to the schema's types (a value that does not parse breaks the rule
     ``<column>_type``), and evaluate every ``reject`` rule of ``quality/rules/<entity>.yaml``
     (``references`` rules by joining the referenced curated table). A rule that reads a column
     whose text did not parse gives no verdict: the ``<column>_type`` rule already names the
     value, and a second reason (``modified_at_present ... (modified_at=NULL)``) would be false;
  2. rows that break any rule, and malformed lines, go to ``<prefix>_quarantine`` with the rule
     names, readable reasons, the raw values and the file and line they came from;
  3. valid rows compete with the curated row of the same key: the greatest version column
     (``modified_at``) wins, ties go to the later arrival (ingest time, file, line), so a
     late-arriving older row never replaces a newer one;
  4. winners are MERGEd into the curated table by key. Only touched keys are rewritten; a row
     whose partition values change (a customer moving country or state) moves partition. The
     winners' keys are recorded for the MERGE's snapshot (``customer_overview.changed_keys``):
     the quality suite validates those rows again, not the whole table.

Late parents. A child row (an account, a transaction, a campaign event) that lands before its
customer, account or product breaks a ``references`` rule and is quarantined. Every later run
re-evaluates the quarantined rows that broke *only* ``references`` rules and are not resolved yet
(every rule is evaluated again, with the current rules, so a rule made stricter since is
honoured); the ones that are valid now join the run's valid rows and compete with the curated
row by the same latest-version order (a re-admitted old version never replaces a newer one).
Rows that also broke another rule are not candidates: the same rules give them the same verdict,
and a rule change is what ``full_refresh`` is for.

The quarantine keeps the history of a row's verdicts in the row itself rather than in a second
table: the quarantine's grain stays one row per rejected raw row, a reader sees a row's whole
story without a join, and the no-row-lost reconciliation only needs ``_resolved_at IS NULL``.
A quarantine row is never deleted; it gets

- ``_resolved_at`` / ``_resolved_run_id``: when and by which run it became valid (NULL while it
  is still quarantined). A resolved row counts as curated or superseded, not as quarantined;
- ``_verdicts``: every verdict it received, oldest first (evaluated_at, run_id, verdict
  ``rejected`` | ``valid``, rule names). A re-check that ends with the same rules adds nothing;
- ``_rule_names`` / ``_reasons``: the latest *rejecting* verdict (after re-admission: why it had
  been quarantined).

Lakehouses created before these columns existed get them with ``ALTER TABLE ... ADD COLUMNS``
(Iceberg schema evolution: metadata only, no data file rewritten); their rows' history starts
with their original verdict (``_quarantined_at``, ``_run_id``, ``_rule_names``) when first
re-evaluated.

Cost: nothing when no referenced curated table has a new snapshot since the last check (table
property ``lakehouse.late-parents-checked``, a metadata read). Otherwise one scan of the
quarantine's unresolved rows (Iceberg skips data files whose ``_resolved_at`` has no NULL),
filtered to reference-only rows, evaluated in the same Spark pass as the run's new raw rows, so
the join with each referenced table's keys is shared. Restricting further to the parents' newly
curated keys would need a changelog scan of the parents and saves little: the open orphans are
few and the keys are scanned for the new rows anyway.

Invariant (checked by ``reconciliation``): raw rows = curated rows + superseded valid rows +
unresolved quarantined rows.

Incremental: the curated table remembers (table property) the raw snapshot it has processed, and
the next run reads only the raw data appended since, through Iceberg's incremental scan.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, TimestampType

from assets.raw.ingestion import RAW_LINE, STRUCTURAL_ERROR
from customer_overview.catalog_metadata import ensure_curated_table
from customer_overview.changed_keys import record_changed_keys, stage_changed_keys
from customer_overview.config import LakehouseSettings
from customer_overview.entities import (
    INGESTED_AT,
    LINEAGE_COLUMNS,
    SOURCE_FILE,
    SOURCE_LINE,
    ColumnSpec,
    EntitySchema,
    load_entity,
)
from customer_overview.spark import REUSED_FRAME_STORAGE
from customer_overview.sql import quote
from customer_overview.tables import (
    create_table_if_missing,
    current_snapshot_id,
    data_snapshot_id,
    load_iceberg_table,
    set_table_properties,
    table_property,
    temp_view,
)
from quality.rules import (
    Rule,
    RuleSet,
    add_reference_flag,
    check_rules_compile,
    describe_violation_sql,
    violation_sql,
)

log = logging.getLogger(__name__)

# Between versions with the same version column value, the later arrival wins. Reconciliation
# classifies raw rows with the same order, so both read it from here.
ARRIVAL_ORDER = [INGESTED_AT, SOURCE_FILE, SOURCE_LINE]

PROCESSED_RAW_SNAPSHOT = "lakehouse.curated-from-raw-snapshot-id"
# JSON {referenced curated table: its snapshot id} the quarantine was last re-checked against.
LATE_PARENTS_CHECKED = "lakehouse.late-parents-checked"
RULE_NAMES = "_rule_names"
REASONS = "_reasons"
QUARANTINED_AT = "_quarantined_at"
RUN_ID = "_run_id"
RESOLVED_AT = "_resolved_at"
RESOLVED_RUN_ID = "_resolved_run_id"
VERDICTS = "_verdicts"
VERDICT_REJECTED = "rejected"
VERDICT_VALID = "valid"
# A quarantined row taken back into evaluation by a later run (vs a new raw row).
_RECHECK = "_recheck"
_PREVIOUS_RULES = "_previous_rule_names"

_VERDICT_TYPE = (
    "array<struct<evaluated_at: timestamp, run_id: string, verdict: string, "
    "rule_names: array<string>>>"
)
# Quarantine columns added after the first release: existing lakehouses get them by ALTER TABLE.
_QUARANTINE_HISTORY_COLUMNS = {
    RESOLVED_AT: "timestamp COMMENT 'When the row became valid (NULL: still quarantined)'",
    RESOLVED_RUN_ID: "string COMMENT 'Run that re-admitted the row'",
    VERDICTS: f"{_VERDICT_TYPE} COMMENT 'Every verdict the row received, oldest first'",
}

_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_DECIMAL = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$"

# Spark SQL string literals ('...' or "...", backslash escapes) and identifiers (`...` or bare).
_SQL_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_SQL_IDENTIFIER = re.compile(r"`((?:[^`]|``)+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b")


@dataclass
class CurationResult:
    """Counts for one entity's curation run (also reported as Dagster metadata)."""

    entity: str
    table: str
    quarantine_table: str
    raw_rows_read: int = 0
    quarantined: int = 0
    inserted: int = 0
    updated: int = 0
    superseded: int = 0
    # Late parents: quarantined rows re-evaluated this run, and those now valid.
    rechecked: int = 0
    readmitted: int = 0
    full_refresh: bool = False
    from_raw_snapshot: int | None = None
    to_raw_snapshot: int | None = None
    snapshot_id: int | None = None
    quarantine_snapshot_id: int | None = None
    rules_broken: dict[str, int] | None = None
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.raw_rows_read / self.seconds if self.seconds else 0.0


def quarantine_columns_ddl(schema: EntitySchema) -> str:
    business = [f"{quote(name)} string" for name in schema.column_names]
    return ",\n  ".join(
        [
            f"{RULE_NAMES} array<string> COMMENT 'Rules the row broke'",
            f"{REASONS} array<string> COMMENT 'Why, with the offending values'",
            *business,
            f"{SOURCE_FILE} string COMMENT 'Landing file'",
            f"{SOURCE_LINE} bigint COMMENT 'Line in the landing file (header = 1)'",
            f"{INGESTED_AT} timestamp COMMENT 'When the row was ingested'",
            f"{RAW_LINE} string COMMENT 'The line as landed (malformed lines only)'",
            f"{QUARANTINED_AT} timestamp COMMENT 'When the row was quarantined'",
            f"{RUN_ID} string COMMENT 'Run that quarantined the row'",
            *(f"{name} {ddl}" for name, ddl in _QUARANTINE_HISTORY_COLUMNS.items()),
        ]
    )


def ensure_curated_tables(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    """The curated and quarantine tables of an entity; an older quarantine gains new columns."""
    ensure_curated_table(spark, settings, schema)
    create_table_if_missing(
        spark,
        settings,
        schema.quarantine_table,
        quarantine_columns_ddl(schema),
        comment=f"{schema.entity} rows rejected by validation, with the rules they broke and "
        "the history of their verdicts.",
    )
    present = {
        field.name
        for field in load_iceberg_table(settings, schema.quarantine_table).schema().fields
    }
    missing = [
        f"{name} {ddl}" for name, ddl in _QUARANTINE_HISTORY_COLUMNS.items() if name not in present
    ]
    if missing:
        log.info("%s: adding column(s) %s", schema.quarantine_table, ", ".join(missing))
        spark.sql(
            f"ALTER TABLE {settings.spark_table(schema.quarantine_table)} "
            f"ADD COLUMNS ({', '.join(missing)})"
        )


def typed_column(column: ColumnSpec) -> tuple[Column, Column]:
    """``(typed value, parse failed)`` of a text column, strictly: no silent truncation."""
    text = F.col(quote(column.name))
    present = text.isNotNull() & (F.trim(text) != "")
    kind = column.type
    if kind == "string":
        return text, F.lit(False)
    if kind in ("int", "bigint"):
        value = F.when(text.rlike(_INTEGER), F.trim(text).cast(kind))
    elif kind == "double" or kind.startswith("decimal"):
        value = F.when(text.rlike(_DECIMAL), F.trim(text).cast(kind))
    elif kind == "date":
        value = F.when(text.rlike(_DATE), F.to_date(text, column.format or "yyyy-MM-dd"))
    elif kind == "timestamp":
        value = F.when(
            text.rlike(_TIMESTAMP),
            F.to_timestamp(text, column.format) if column.format else text.cast("timestamp"),
        )
    elif kind == "boolean":
        value = F.lower(F.trim(text)).cast("boolean")
    else:  # pragma: no cover - EntitySchema validates types
        raise ValueError(kind)
    return value, present & value.isNull()


def columns_read(rule: Rule, schema: EntitySchema) -> frozenset[str]:
    """The entity's columns a rule's Spark SQL mentions (its column, ``other``, ``when``, ...).

    Read from the rule's SQL with string literals removed. A name that only looks like a column
    (a function called like a column) errs on the side of "reads it", which is harmless: the
    answer is only used to withhold a rule's verdict when such a column failed to parse, and that
    row is rejected by the column's ``<column>_type`` rule anyway.
    """
    sql = _SQL_STRING_LITERAL.sub("''", violation_sql(rule, schema))
    mentioned = {
        quoted.replace("``", "`") if quoted else bare.lower()
        for quoted, bare in _SQL_IDENTIFIER.findall(sql)
    }
    return frozenset({rule.column} | (mentioned & set(schema.column_names)))


def curate_entity(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    run_id: str,
    full_refresh: bool = False,
    progress: Callable[[str], None] = log.info,
) -> CurationResult:
    """Bring the curated and quarantine tables up to date with the raw table.

    Also re-admits quarantined rows whose missing parent has been curated since (see the
    module's "Late parents").

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        schema: The entity.
        rules: Its validation rules.
        run_id: Recorded on quarantined and re-admitted rows.
        full_refresh: Rebuild both tables from the whole raw table (after a rule change).
        progress: Receives progress messages.

    Returns:
        Counts: raw rows read, quarantined, inserted, updated, superseded, re-checked and
        re-admitted, snapshots.
    """
    started = time.monotonic()
    ensure_curated_tables(spark, settings, schema)
    result = CurationResult(
        entity=schema.entity,
        table=schema.curated_table,
        quarantine_table=schema.quarantine_table,
        full_refresh=full_refresh,
    )
    # Through compactions (maintenance's rewrite_data_files): a rewrite adds no raw row.
    raw_snapshot = data_snapshot_id(settings, schema.raw_table)
    processed = table_property(settings, schema.curated_table, PROCESSED_RAW_SNAPSHOT)
    result.from_raw_snapshot = None if full_refresh or not processed else int(processed)
    result.to_raw_snapshot = raw_snapshot
    # Without raw rows there is no quarantine to re-check (and the parents need not exist yet).
    parents = _parent_snapshots(settings, rules) if raw_snapshot is not None else {}
    checked = table_property(settings, schema.curated_table, LATE_PARENTS_CHECKED)
    new_raw = raw_snapshot is not None and result.from_raw_snapshot != raw_snapshot
    # A full refresh re-evaluates every raw row, so there is nothing left to re-check.
    recheck = (
        not full_refresh and bool(parents) and (checked is None or json.loads(checked) != parents)
    )
    candidates = _late_parent_candidates(spark, settings, schema, rules) if recheck else None
    if candidates is not None and not new_raw and not candidates.take(1):
        candidates = None
    if not new_raw and candidates is None:
        if recheck:  # parents moved on, but no quarantined row waits for one
            _remember(spark, settings, schema, raw_snapshot, parents, processed, checked)
        result.snapshot_id = current_snapshot_id(settings, schema.curated_table)
        result.quarantine_snapshot_id = current_snapshot_id(settings, schema.quarantine_table)
        result.rules_broken = {}
        progress(f"{schema.entity}: curated table is up to date with the raw table")
        return result

    assert raw_snapshot is not None  # new_raw or candidates imply raw data
    frames = []
    if new_raw:
        raw = _raw_rows(spark, settings, schema, result.from_raw_snapshot, raw_snapshot)
        frames.append(
            raw.select(
                *schema.column_names,
                *LINEAGE_COLUMNS,
                STRUCTURAL_ERROR,
                RAW_LINE,
                F.lit(None).cast(ArrayType(StringType())).alias(_PREVIOUS_RULES),
                F.lit(False).alias(_RECHECK),
            )
        )
    if candidates is not None:
        frames.append(candidates)
    rows = reduce(DataFrame.unionByName, frames)
    evaluated = _evaluate(spark, settings, schema, rules, rows).persist(REUSED_FRAME_STORAGE)
    try:
        now = datetime.now(UTC)
        rejected = F.size(RULE_NAMES) > 0
        counts = evaluated.groupBy(rejected.alias("rejected"), _RECHECK).count().collect()
        by_state = {(row.rejected, row[_RECHECK]): row["count"] for row in counts}
        result.raw_rows_read = by_state.get((True, False), 0) + by_state.get((False, False), 0)
        result.quarantined = by_state.get((True, False), 0)
        result.rechecked = by_state.get((True, True), 0) + by_state.get((False, True), 0)
        result.readmitted = by_state.get((False, True), 0)
        result.rules_broken = {
            row.rule: row["count"]
            for row in evaluated.where(~F.col(_RECHECK))
            .select(F.explode(RULE_NAMES).alias("rule"))
            .groupBy("rule")
            .count()
            .collect()
        }
        progress(
            f"{schema.entity}: {result.raw_rows_read} raw row(s) to curate, "
            f"{result.quarantined} rejected; {result.rechecked} quarantined row(s) re-checked "
            f"for late parents, {result.readmitted} now valid"
        )
        _write_quarantine(spark, settings, schema, evaluated, run_id, now, full_refresh, result)
        valid = evaluated.where(~rejected)
        if result.readmitted:
            # After a crash between the steps below, a re-read raw row can also be waiting in
            # the quarantine: it must compete (and be counted) once.
            valid = valid.dropDuplicates(ARRIVAL_ORDER)
        _write_latest(
            spark, settings, schema, valid.select(*schema.column_names, *LINEAGE_COLUMNS), result
        )
        # Only after the curated MERGE: a crash in between leaves the row quarantined (and
        # re-checked again), never resolved without being curated.
        _record_rechecks(spark, settings, schema, evaluated, run_id, now)
    finally:
        evaluated.unpersist()
    _remember(spark, settings, schema, raw_snapshot, parents, processed, checked)
    result.snapshot_id = current_snapshot_id(settings, schema.curated_table)
    result.quarantine_snapshot_id = current_snapshot_id(settings, schema.quarantine_table)
    result.seconds = time.monotonic() - started
    progress(
        f"{schema.entity}: {result.inserted} inserted, {result.updated} updated, "
        f"{result.superseded} superseded, {result.quarantined} quarantined, "
        f"{result.readmitted} re-admitted in "
        f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)"
    )
    return result


def _parent_snapshots(settings: LakehouseSettings, rules: RuleSet) -> dict[str, int | None]:
    """The current snapshot of each curated table a ``reject`` references rule reads."""
    tables = sorted(
        {
            load_entity(rule.entity or "").curated_table
            for rule in rules.reject_rules
            if rule.check == "references"
        }
    )
    return {table: current_snapshot_id(settings, table) for table in tables}


def _remember(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    raw_snapshot: int | None,
    parents: dict[str, int | None],
    processed: str | None,
    checked: str | None,
) -> None:
    """Store what this run has curated from; a property already right is not rewritten."""
    wanted = {PROCESSED_RAW_SNAPSHOT: str(raw_snapshot)}
    if parents:
        wanted[LATE_PARENTS_CHECKED] = json.dumps(parents, sort_keys=True)
    current = {PROCESSED_RAW_SNAPSHOT: processed, LATE_PARENTS_CHECKED: checked}
    changed = {key: value for key, value in wanted.items() if current.get(key) != value}
    if changed:
        set_table_properties(settings, schema.curated_table, changed)


def _late_parent_candidates(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema, rules: RuleSet
) -> DataFrame:
    """Unresolved quarantined rows that broke only ``references`` rules, shaped like raw rows."""
    references = [rule.name for rule in rules.reject_rules if rule.check == "references"]
    quarantined = spark.table(settings.spark_table(schema.quarantine_table))
    waiting = quarantined.where(
        F.col(RESOLVED_AT).isNull()
        & (F.size(RULE_NAMES) > 0)
        & F.forall(RULE_NAMES, lambda name: name.isin(references))
    )
    return waiting.select(
        *[F.col(quote(name)) for name in schema.column_names],
        *LINEAGE_COLUMNS,
        F.lit(None).cast(StringType()).alias(STRUCTURAL_ERROR),
        RAW_LINE,
        F.col(RULE_NAMES).alias(_PREVIOUS_RULES),
        F.lit(True).alias(_RECHECK),
    )


def _raw_rows(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    after_snapshot: int | None,
    up_to_snapshot: int,
) -> DataFrame:
    table = settings.spark_table(schema.raw_table)
    if after_snapshot is None:
        return spark.sql(f"SELECT * FROM {table} VERSION AS OF {int(up_to_snapshot)}")
    # Raw is append-only, so the incremental append scan sees every new row exactly once.
    return (
        spark.read.option("start-snapshot-id", str(after_snapshot))
        .option("end-snapshot-id", str(up_to_snapshot))
        .table(table)
    )


def _evaluate(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    rows: DataFrame,
) -> DataFrame:
    """Typed columns, every rule's verdict, the raw text values and lineage, in one frame.

    ``rows``: the business columns as text, lineage, ``_structural_error``, ``_raw_line`` and
    the re-check columns (``_recheck``, ``_previous_rule_names``), passed through.
    """
    check_rules_compile(spark, rules, schema)
    typed, parse_failed = {}, {}
    for column in schema.columns:
        typed[column.name], parse_failed[column.name] = typed_column(column)
    frame = rows.select(
        *[typed[name].alias(name) for name in schema.column_names],
        F.struct(*[F.col(quote(name)) for name in schema.column_names]).alias("_text"),
        *[parse_failed[name].alias(f"_unparsed_{name}") for name in schema.column_names],
        *LINEAGE_COLUMNS,
        STRUCTURAL_ERROR,
        RAW_LINE,
        _PREVIOUS_RULES,
        _RECHECK,
    )
    for rule in rules.references:
        frame = add_reference_flag(spark, settings, frame, rule)

    checks: list[tuple[str, Column, Column]] = [
        (
            "well_formed_record",
            F.col(STRUCTURAL_ERROR).isNotNull(),
            F.concat(F.lit("well_formed_record: "), F.col(STRUCTURAL_ERROR)),
        )
    ]
    for column in schema.columns:
        if column.type != "string":
            checks.append(
                (
                    f"{column.name}_type",
                    F.col(f"_unparsed_{column.name}"),
                    F.concat(
                        F.lit(f"{column.name}_type: {column.name}="),
                        F.col(f"_text.{quote(column.name)}"),
                        F.lit(f" is not a valid {column.type}"),
                    ),
                )
            )
    for rule in rules.reject_rules:
        broken = F.expr(violation_sql(rule, schema))
        # A value that did not parse is NULL here: a rule reading it would report "missing" or
        # pass for the wrong reason. Its `<column>_type` rule is the one reason.
        unparsed = [
            F.col(f"_unparsed_{name}")
            for name in sorted(columns_read(rule, schema))
            if schema.column(name).type != "string"
        ]
        if unparsed:
            broken = broken & ~reduce(lambda left, right: left | right, unparsed)
        checks.append((rule.name, broken, F.expr(describe_violation_sql(rule))))

    # A malformed line's fields are not trustworthy: report only why it is malformed.
    well_formed = F.col(STRUCTURAL_ERROR).isNull()
    names = F.array(
        *[
            F.when(
                broken & (well_formed if name != "well_formed_record" else F.lit(True)), F.lit(name)
            )
            for name, broken, _ in checks
        ]
    )
    reasons = F.array(
        *[
            F.when(broken & (well_formed if name != "well_formed_record" else F.lit(True)), reason)
            for name, broken, reason in checks
        ]
    )
    return frame.select(
        "*",
        F.filter(names, lambda item: item.isNotNull()).alias(RULE_NAMES),
        F.filter(reasons, lambda item: item.isNotNull()).alias(REASONS),
    )


def _verdict(now: datetime, run_id: str, verdict: str, rule_names: Column) -> Column:
    """One entry of ``_verdicts`` (an array of one, to append with ``concat``)."""
    return F.array(
        F.struct(
            F.lit(now).cast(TimestampType()).alias("evaluated_at"),
            F.lit(run_id).alias("run_id"),
            F.lit(verdict).alias("verdict"),
            rule_names.alias("rule_names"),
        )
    )


def _write_quarantine(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    evaluated: DataFrame,
    run_id: str,
    now: datetime,
    full_refresh: bool,
    result: CurationResult,
) -> None:
    """New rejected raw rows -> the quarantine (re-checked rows are updated later)."""
    rejected = evaluated.where((F.size(RULE_NAMES) > 0) & ~F.col(_RECHECK)).select(
        RULE_NAMES,
        REASONS,
        *[F.col(f"_text.{quote(name)}").alias(name) for name in schema.column_names],
        *LINEAGE_COLUMNS,
        RAW_LINE,
        F.lit(now).cast(TimestampType()).alias(QUARANTINED_AT),
        F.lit(run_id).alias(RUN_ID),
        F.lit(None).cast(TimestampType()).alias(RESOLVED_AT),
        F.lit(None).cast(StringType()).alias(RESOLVED_RUN_ID),
        _verdict(now, run_id, VERDICT_REJECTED, F.col(RULE_NAMES)).alias(VERDICTS),
    )
    table = settings.spark_table(schema.quarantine_table)
    if full_refresh:
        rejected.writeTo(table).overwrite(F.lit(True))
        return
    if not result.quarantined:
        return  # no empty commit
    # MERGE, not append: a run that crashed after this step re-reads the same raw rows, and a
    # raw row (file, line, ingest time) is quarantined once.
    on = " AND ".join(f"t.{name} = s.{name}" for name in (SOURCE_FILE, SOURCE_LINE, INGESTED_AT))
    with temp_view(rejected, f"_rejected_{schema.entity}") as view:
        spark.sql(f"MERGE INTO {table} t USING {view} s ON {on} WHEN NOT MATCHED THEN INSERT *")


def _record_rechecks(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    evaluated: DataFrame,
    run_id: str,
    now: datetime,
) -> None:
    """Re-checked quarantine rows whose verdict changed: resolved, or rejected for other rules.

    Each change appends to the row's ``_verdicts``; a row first quarantined before that column
    existed starts its history with its original verdict.
    """
    valid = F.size(RULE_NAMES) == 0
    changed = evaluated.where(
        F.col(_RECHECK)
        & (valid | ~F.array_sort(RULE_NAMES).eqNullSafe(F.array_sort(_PREVIOUS_RULES)))
    ).select(
        *LINEAGE_COLUMNS,
        valid.alias("_valid"),
        RULE_NAMES,
        REASONS,
        F.lit(now).cast(TimestampType()).alias("_evaluated_at"),
        F.lit(run_id).alias("_evaluated_by"),
        F.when(valid, _verdict(now, run_id, VERDICT_VALID, F.array().cast("array<string>")))
        .otherwise(_verdict(now, run_id, VERDICT_REJECTED, F.col(RULE_NAMES)))
        .alias("_entry"),
    )
    if not changed.take(1):
        return
    table = settings.spark_table(schema.quarantine_table)
    on = " AND ".join(f"t.{name} = s.{name}" for name in ARRIVAL_ORDER)
    history = (
        f"coalesce(t.{VERDICTS}, array(named_struct('evaluated_at', t.{QUARANTINED_AT}, "
        f"'run_id', t.{RUN_ID}, 'verdict', '{VERDICT_REJECTED}', 'rule_names', t.{RULE_NAMES})))"
    )
    # A resolved row keeps the rules it had been quarantined for in _rule_names / _reasons.
    with temp_view(changed, f"_rechecked_{schema.entity}") as view:
        spark.sql(
            f"MERGE INTO {table} t USING {view} s ON {on} AND t.{RESOLVED_AT} IS NULL "
            f"WHEN MATCHED AND s._valid THEN UPDATE SET "
            f"t.{RESOLVED_AT} = s._evaluated_at, t.{RESOLVED_RUN_ID} = s._evaluated_by, "
            f"t.{VERDICTS} = concat({history}, s._entry) "
            f"WHEN MATCHED THEN UPDATE SET t.{RULE_NAMES} = s.{RULE_NAMES}, "
            f"t.{REASONS} = s.{REASONS}, t.{VERDICTS} = concat({history}, s._entry)"
        )


def _write_latest(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    valid: DataFrame,
    result: CurationResult,
) -> None:
    table = settings.spark_table(schema.curated_table)
    key = list(schema.key)
    if result.full_refresh:
        candidates = valid.withColumn("_current", F.lit(False))
    else:
        touched = valid.select(*key).distinct()
        current = (
            spark.table(table)
            .join(touched, key, "left_semi")
            .select(*schema.column_names, *LINEAGE_COLUMNS)
            .withColumn("_current", F.lit(True))
        )
        candidates = valid.withColumn("_current", F.lit(False)).unionByName(current)
    latest_first = Window.partitionBy(*key).orderBy(
        F.col(schema.version).desc(), *[F.col(name).desc() for name in ARRIVAL_ORDER]
    )
    ranked = candidates.withColumn("_rank", F.row_number().over(latest_first)).withColumn(
        "_had_current", F.max(F.col("_current").cast("int")).over(Window.partitionBy(*key)) == 1
    )
    ranked = ranked.persist(REUSED_FRAME_STORAGE)
    try:
        stats = ranked.agg(
            F.sum(F.when(~F.col("_current"), 1).otherwise(0)).alias("new_valid"),
            F.sum(
                F.when(
                    (F.col("_rank") == 1) & ~F.col("_current") & F.col("_had_current"), 1
                ).otherwise(0)
            ).alias("updated"),
            F.sum(
                F.when(
                    (F.col("_rank") == 1) & ~F.col("_current") & ~F.col("_had_current"), 1
                ).otherwise(0)
            ).alias("inserted"),
        ).first()
        assert stats is not None  # a global aggregate always returns one row
        new_valid = int(stats.new_valid or 0)
        result.updated = int(stats.updated or 0)
        result.inserted = int(stats.inserted or 0)
        result.superseded = new_valid - result.updated - result.inserted
        winners = ranked.where((F.col("_rank") == 1) & ~F.col("_current")).select(
            *schema.column_names, *LINEAGE_COLUMNS
        )
        if result.full_refresh:
            winners.writeTo(table).overwrite(F.lit(True))
            return
        if result.updated + result.inserted == 0:
            return
        on = " AND ".join(f"t.{quote(name)} = s.{quote(name)}" for name in key)
        before = current_snapshot_id(settings, schema.curated_table)
        # What the quality suite re-validates next (customer_overview.changed_keys).
        staged = stage_changed_keys(
            settings, schema.curated_table, winners.select(*map(quote, key))
        )
        try:
            with temp_view(winners, f"_latest_{schema.entity}") as view:
                spark.sql(
                    f"MERGE INTO {table} t USING {view} s ON {on} "
                    "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
                )
        finally:
            merged = current_snapshot_id(settings, schema.curated_table)
            committed = merged if merged != before else None
            record_changed_keys(settings, schema.curated_table, committed, staged)
    finally:
        ranked.unpersist()
