"""Raw rows -> the curated table (latest valid version per key) and the quarantine table.

For each raw row not yet curated:
  1. cast the text values to the schema's types (a value that does not parse breaks the rule
     ``<column>_type``), and evaluate every ``reject`` rule of ``quality/rules/<entity>.yaml``
     (``references`` rules by joining the referenced curated table);
  2. rows that break any rule, and malformed lines, go to ``<prefix>_quarantine`` with the rule
     names, readable reasons, the raw values and the file and line they came from;
  3. valid rows compete with the curated row of the same key: the greatest version column
     (``modified_at``) wins, ties go to the later arrival (ingest time, file, line), so a
     late-arriving older row never replaces a newer one;
  4. winners are MERGEd into the curated table by key. Only touched keys are rewritten; a row
     whose partition values change (a customer moving country or state) moves partition.

Invariant (checked in tests): raw rows = curated rows + superseded valid rows + quarantined rows.

Incremental: the curated table remembers (table property) the raw snapshot it has processed, and
the next run reads only the raw data appended since, through Iceberg's incremental scan.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import TimestampType

from customer_overview.catalog_metadata import apply_table_metadata, tag_properties
from customer_overview.config import LakehouseSettings
from customer_overview.entities import (
    INGESTED_AT,
    LINEAGE_COLUMNS,
    SOURCE_FILE,
    SOURCE_LINE,
    ColumnSpec,
    EntitySchema,
)
from customer_overview.ingestion import RAW_LINE, STRUCTURAL_ERROR
from customer_overview.sql import quote
from customer_overview.tables import (
    create_table_if_missing,
    current_snapshot_id,
    set_table_properties,
    table_property,
)
from quality.rules import (
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
RULE_NAMES = "_rule_names"
REASONS = "_reasons"
QUARANTINED_AT = "_quarantined_at"
RUN_ID = "_run_id"

_INTEGER = r"^\s*[+-]?[0-9]+\s*$"
_DECIMAL = r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?$"


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
        ]
    )


def ensure_curated_table(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    """The curated table of an entity (or a mart): typed columns, docs, tags, partitioning."""
    create_table_if_missing(
        spark,
        settings,
        schema.curated_table,
        schema.curated_ddl_columns(),
        comment=f"{schema.description} Grain: {schema.grain}",
        partition_sql=schema.partition_sql(),
    )
    apply_table_metadata(settings, schema.curated_table, properties=tag_properties(schema))


def ensure_curated_tables(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    """The curated and quarantine tables of an entity."""
    ensure_curated_table(spark, settings, schema)
    create_table_if_missing(
        spark,
        settings,
        schema.quarantine_table,
        quarantine_columns_ddl(schema),
        comment=f"{schema.entity} rows rejected by validation, with the rules they broke.",
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

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        schema: The entity.
        rules: Its validation rules.
        run_id: Recorded on quarantined rows.
        full_refresh: Rebuild both tables from the whole raw table (after a rule change).
        progress: Receives progress messages.

    Returns:
        Counts: raw rows read, quarantined, inserted, updated, superseded, snapshots.
    """
    started = time.monotonic()
    ensure_curated_tables(spark, settings, schema)
    result = CurationResult(
        entity=schema.entity,
        table=schema.curated_table,
        quarantine_table=schema.quarantine_table,
        full_refresh=full_refresh,
    )
    raw_snapshot = current_snapshot_id(settings, schema.raw_table)
    processed = table_property(settings, schema.curated_table, PROCESSED_RAW_SNAPSHOT)
    result.from_raw_snapshot = None if full_refresh or not processed else int(processed)
    result.to_raw_snapshot = raw_snapshot
    if raw_snapshot is None or (result.from_raw_snapshot == raw_snapshot):
        result.snapshot_id = current_snapshot_id(settings, schema.curated_table)
        result.quarantine_snapshot_id = current_snapshot_id(settings, schema.quarantine_table)
        result.rules_broken = {}
        progress(f"{schema.entity}: curated table is up to date with the raw table")
        return result

    raw = _raw_rows(spark, settings, schema, result.from_raw_snapshot, raw_snapshot)
    evaluated = _evaluate(spark, settings, schema, rules, raw).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        now = datetime.now(UTC)
        counts = evaluated.groupBy((F.size(RULE_NAMES) > 0).alias("rejected")).count().collect()
        by_state = {row.rejected: row["count"] for row in counts}
        result.raw_rows_read = sum(by_state.values())
        result.quarantined = by_state.get(True, 0)
        result.rules_broken = {
            row.rule: row["count"]
            for row in evaluated.select(F.explode(RULE_NAMES).alias("rule"))
            .groupBy("rule")
            .count()
            .collect()
        }
        progress(
            f"{schema.entity}: {result.raw_rows_read} raw row(s) to curate, "
            f"{result.quarantined} rejected"
        )
        _write_quarantine(spark, settings, schema, evaluated, run_id, now, full_refresh)
        valid = evaluated.where(F.size(RULE_NAMES) == 0).select(
            *schema.column_names, *LINEAGE_COLUMNS
        )
        _write_latest(spark, settings, schema, valid, result)
    finally:
        evaluated.unpersist()
    set_table_properties(
        spark, settings, schema.curated_table, {PROCESSED_RAW_SNAPSHOT: str(raw_snapshot)}
    )
    result.snapshot_id = current_snapshot_id(settings, schema.curated_table)
    result.quarantine_snapshot_id = current_snapshot_id(settings, schema.quarantine_table)
    result.seconds = time.monotonic() - started
    progress(
        f"{schema.entity}: {result.inserted} inserted, {result.updated} updated, "
        f"{result.superseded} superseded, {result.quarantined} quarantined in "
        f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)"
    )
    return result


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
    raw: DataFrame,
) -> DataFrame:
    """Typed columns, every rule's verdict, the raw text values and lineage, in one frame."""
    check_rules_compile(spark, rules, schema)
    typed, parse_failed = {}, {}
    for column in schema.columns:
        typed[column.name], parse_failed[column.name] = typed_column(column)
    frame = raw.select(
        *[typed[name].alias(name) for name in schema.column_names],
        F.struct(*[F.col(quote(name)) for name in schema.column_names]).alias("_text"),
        *[parse_failed[name].alias(f"_unparsed_{name}") for name in schema.column_names],
        *LINEAGE_COLUMNS,
        STRUCTURAL_ERROR,
        RAW_LINE,
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
        checks.append(
            (rule.name, F.expr(violation_sql(rule, schema)), F.expr(describe_violation_sql(rule)))
        )

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


def _write_quarantine(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    evaluated: DataFrame,
    run_id: str,
    now: datetime,
    full_refresh: bool,
) -> None:
    rejected = evaluated.where(F.size(RULE_NAMES) > 0).select(
        RULE_NAMES,
        REASONS,
        *[F.col(f"_text.{quote(name)}").alias(name) for name in schema.column_names],
        *LINEAGE_COLUMNS,
        RAW_LINE,
        F.lit(now).cast(TimestampType()).alias(QUARANTINED_AT),
        F.lit(run_id).alias(RUN_ID),
    )
    table = settings.spark_table(schema.quarantine_table)
    if full_refresh:
        rejected.writeTo(table).overwrite(F.lit(True))
        return
    # MERGE, not append: a run that crashed after this step re-reads the same raw rows, and a
    # raw row (file, line, ingest time) is quarantined once.
    view = f"_rejected_{schema.entity}"
    rejected.createOrReplaceTempView(view)
    on = " AND ".join(f"t.{name} = s.{name}" for name in (SOURCE_FILE, SOURCE_LINE, INGESTED_AT))
    spark.sql(f"MERGE INTO {table} t USING {view} s ON {on} WHEN NOT MATCHED THEN INSERT *")
    spark.catalog.dropTempView(view)


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
    ranked = ranked.persist(StorageLevel.MEMORY_AND_DISK)
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
        view = f"_latest_{schema.entity}"
        winners.createOrReplaceTempView(view)
        on = " AND ".join(f"t.{quote(name)} = s.{quote(name)}" for name in key)
        spark.sql(
            f"MERGE INTO {table} t USING {view} s ON {on} "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
        spark.catalog.dropTempView(view)
    finally:
        ranked.unpersist()
