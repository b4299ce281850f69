"""Landing CSV files -> the entity's raw Iceberg table (append-only, lossless, idempotent).

Every data line of every new landing file becomes one raw row: business columns as text exactly
as landed (so nothing is lost to a failed cast), plus where it came from (file and line) and when
it was ingested. Lines that are not well-formed CSV records for the contract (wrong field count,
unbalanced quotes, invalid UTF-8, a file whose header breaks the contract) are kept too, with the
reason in ``_structural_error`` and the line itself in ``_raw_line``; curation quarantines them.

The merge into the raw table follows the seed (``ON cust_id AND modified_at WHEN NOT MATCHED
INSERT``) with one addition: the row's content hash is part of the match. Re-ingesting a file, or
an exact duplicate of a row already ingested, adds nothing; a *different* row that happens to carry
the same key and timestamp is kept (and resolved by curation) instead of being silently dropped.
Null-safe equality makes re-ingesting rows without a key idempotent too.

Line numbers: Spark has no line number for text input, so it is derived from the position of each
line inside its file split (``input_file_block_start`` + ``monotonically_increasing_id``) plus the
number of lines in the file's earlier splits. This stays a distributed computation (it works for
files larger than one split and on a cluster), with no Python per row.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import (
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from customer_overview.config import LakehouseSettings
from customer_overview.entities import (
    INGESTED_AT,
    SOURCE_FILE,
    SOURCE_LINE,
    EntitySchema,
)
from customer_overview.landing import (
    HeaderCheck,
    LandingFile,
    check_header,
)
from customer_overview.landing_log import (
    FILE_LOG_SCHEMA,
    FILE_LOG_TABLE,
    ensure_file_log,
    new_landing_files,
)
from customer_overview.spark import REUSED_FRAME_STORAGE
from customer_overview.sql import quote
from customer_overview.tables import (
    columns_ddl,
    create_table_if_missing,
    current_snapshot_id,
    load_iceberg_table,
    temp_view,
)

log = logging.getLogger(__name__)

INGEST_RUN_ID = "_ingest_run_id"
RECORD_HASH = "_record_hash"
STRUCTURAL_ERROR = "_structural_error"
RAW_LINE = "_raw_line"

# A quoted field (an escaped quote "" splits it in two matches, which also vanish): removing every
# quoted field leaves exactly the separating commas, in linear time.
_QUOTED_FIELD = r'"[^"]*"'
_NULL_MARKER = "\u0000"
_FIELD_JOIN = "\u0001"


@dataclass
class FileReport:
    """What happened to one landing file."""

    file: str
    status: str  # ingested | header_only | empty | rejected_header | unreadable
    data_lines: int = 0
    structural_errors: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class IngestionResult:
    """Counts for one entity's ingestion run (also reported as Dagster metadata)."""

    entity: str
    table: str
    files: list[FileReport] = field(default_factory=list)
    rows_read: int = 0
    rows_inserted: int = 0
    duplicates_skipped: int = 0
    structural_errors: int = 0
    snapshot_id: int | None = None
    seconds: float = 0.0

    @property
    def problems(self) -> list[str]:
        return [problem for report in self.files for problem in report.problems]

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


# The raw table's columns after the business ones, declared once: the table's DDL and the
# empty frame's schema both come from :func:`raw_struct`.
_LINEAGE_FIELDS = (
    (SOURCE_FILE, StringType(), "Landing file, relative to the landing folder"),
    (SOURCE_LINE, LongType(), "Line in the landing file (the header is line 1)"),
    (INGESTED_AT, TimestampType(), "When the row was ingested"),
    (INGEST_RUN_ID, StringType(), "Run that ingested the row"),
    (RECORD_HASH, StringType(), "sha256 of the business values (idempotent merge)"),
    (STRUCTURAL_ERROR, StringType(), "Why the line is not a well-formed record, if so"),
    (RAW_LINE, StringType(), "The line as landed, kept for malformed lines only"),
)


def raw_struct(schema: EntitySchema) -> StructType:
    """Raw table columns: every business column as text, then ingestion lineage."""
    return StructType(
        [StructField(name, StringType()) for name in schema.column_names]
        + [
            StructField(name, kind, metadata={"comment": comment})
            for name, kind, comment in _LINEAGE_FIELDS
        ]
    )


def raw_columns_ddl(schema: EntitySchema) -> str:
    """:func:`raw_struct` as the column list of a ``CREATE TABLE``."""
    return columns_ddl(raw_struct(schema))


def ensure_raw_table(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    create_table_if_missing(
        spark,
        settings,
        schema.raw_table,
        raw_columns_ddl(schema),
        comment=f"Raw {schema.entity} rows as landed (append-only): {schema.description}",
    )


def ingest_entity(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    run_id: str,
    files: Sequence[LandingFile] | None = None,
    progress: Callable[[str], None] = log.info,
) -> IngestionResult:
    """Ingest new (or the given) landing files of one entity into its raw table.

    Args:
        spark: Session bound to the lakehouse's catalog.
        settings: The lakehouse.
        schema: The entity.
        run_id: Recorded on every row and in the file log.
        files: Files to ingest; default: the files not yet in the file log.
        progress: Receives progress messages (rows, files, seconds).

    Returns:
        Counts per file and in total; file-level problems are in ``result.problems``.
    """
    started = time.monotonic()
    ensure_raw_table(spark, settings, schema)
    ensure_file_log(spark, settings)
    files = list(new_landing_files(settings, schema) if files is None else files)
    result = IngestionResult(entity=schema.entity, table=schema.raw_table)
    if not files:
        result.snapshot_id = current_snapshot_id(settings, schema.raw_table)
        progress(f"{schema.entity}: no new landing files")
        return result

    ingested_at = datetime.now(UTC)
    checks = {file.name: check_header(file, schema) for file in files}
    readable = [file for file in files if checks[file.name].status not in ("empty", "unreadable")]
    progress(f"{schema.entity}: reading {len(readable)} new file(s) ({len(files)} found)")

    batch = _read_lines(spark, settings, schema, readable, checks, ingested_at, run_id)
    batch = batch.persist(REUSED_FRAME_STORAGE)
    try:
        per_file = {
            row[SOURCE_FILE]: (row["lines"], row["errors"])
            for row in batch.groupBy(SOURCE_FILE)
            .agg(
                F.count(F.lit(1)).alias("lines"),
                F.count(STRUCTURAL_ERROR).alias("errors"),
            )
            .collect()
        }
        result.rows_read = sum(lines for lines, _ in per_file.values())
        result.structural_errors = sum(errors for _, errors in per_file.values())
        deduplicated = _drop_duplicates_within_batch(batch, schema)
        before = current_snapshot_id(settings, schema.raw_table)
        _merge_into_raw(spark, settings, schema, deduplicated)
        result.snapshot_id = current_snapshot_id(settings, schema.raw_table)
        result.rows_inserted = _added_records(settings, schema.raw_table, before)
        result.duplicates_skipped = result.rows_read - result.rows_inserted
    finally:
        batch.unpersist()

    for file in files:
        check = checks[file.name]
        lines, errors = per_file.get(file.name, (0, 0))
        status = {"rejected": "rejected_header"}.get(check.status, check.status)
        report = FileReport(
            file=file.name,
            status="ingested" if status == "ok" else status,
            data_lines=lines,
            structural_errors=errors,
            problems=list(check.problems),
        )
        if errors and check.status == "ok":
            report.problems.append(
                f"{file.name}: {errors} malformed line(s) kept for quarantine "
                f"(see {schema.quarantine_table})"
            )
        result.files.append(report)
    _log_files(spark, settings, schema, files, result, run_id, ingested_at)
    result.seconds = time.monotonic() - started
    progress(
        f"{schema.entity}: {result.rows_read} line(s) from {len(files)} file(s) -> "
        f"{result.rows_inserted} new raw row(s), {result.duplicates_skipped} duplicate(s) skipped, "
        f"{result.structural_errors} malformed, {result.seconds:.1f} s "
        f"({result.rows_per_second:,.0f} rows/s)"
    )
    for problem in result.problems:
        log.warning(problem)
    return result


# ----------------------------------------------------------------------------------- reading
def _read_lines(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    files: Sequence[LandingFile],
    checks: dict[str, HeaderCheck],
    ingested_at: datetime,
    run_id: str,
) -> DataFrame:
    """All data lines of ``files`` as raw rows (business columns as text + lineage)."""
    if not files:
        return spark.createDataFrame([], raw_struct(schema))
    uri_to_name = {file.path.as_uri(): file.name for file in files}
    lines = _numbered_lines(spark, [file.path.as_uri() for file in files])
    name_map = spark.createDataFrame(list(uri_to_name.items()), "uri string, name string")
    lines = (
        lines.join(F.broadcast(name_map), lines["_uri"] == name_map["uri"])
        .drop("_uri", "uri")
        .withColumnRenamed("name", SOURCE_FILE)
        .where(F.col(SOURCE_LINE) > 1)  # the header
        .where(F.col("value") != "")  # a blank line carries no record
    )
    # Files that share a header layout are parsed together; usually there is one layout.
    layouts: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for file in files:
        check = checks[file.name]
        layout = tuple(check.columns) if check.status in ("ok", "header_only") else ("<rejected>",)
        layouts[layout].append(file.name)
    parsed = [
        _parse_layout(lines.where(F.col(SOURCE_FILE).isin(names)), schema, layout, checks)
        for layout, names in layouts.items()
    ]
    frame = parsed[0]
    for other in parsed[1:]:
        frame = frame.unionByName(other)
    return frame.select(
        *[F.col(name) for name in schema.column_names],
        F.col(SOURCE_FILE),
        F.col(SOURCE_LINE),
        F.lit(ingested_at).cast(TimestampType()).alias(INGESTED_AT),
        F.lit(run_id).alias(INGEST_RUN_ID),
        F.col(RECORD_HASH),
        F.col(STRUCTURAL_ERROR),
        F.col(RAW_LINE),
    )


def _numbered_lines(spark: SparkSession, uris: Sequence[str]) -> DataFrame:
    """Lines of the files with their 1-based line number within their file.

    Spark reads a file in splits, in order within each split. ``monotonically_increasing_id``
    numbers rows in order within a read partition, and a split's rows are consecutive in its
    partition (several small files may share one), so a line's number is its position minus
    the first position of its split, plus the lines of the file's earlier splits. Those two
    figures come from one small aggregate per split, broadcast back to the lines: the lines
    themselves are never shuffled. (A window over each split, as before, moved every line
    through a shuffle and held a whole split in one task: 6M transactions at 1M customers ran
    the JVM out of heap.)
    """
    text = spark.read.text(list(uris)).select(
        F.input_file_name().alias("_uri"),
        F.input_file_block_start().alias("_split"),
        F.monotonically_increasing_id().alias("_position"),
        F.col("value"),
    )
    splits = text.groupBy("_uri", "_split").agg(
        F.min("_position").alias("_first"), F.count(F.lit(1)).alias("_lines")
    )
    earlier = (
        Window.partitionBy("_uri").orderBy("_split").rowsBetween(Window.unboundedPreceding, -1)
    )
    offsets = splits.withColumn("_offset", F.coalesce(F.sum("_lines").over(earlier), F.lit(0)))
    return text.join(
        F.broadcast(offsets.select("_uri", "_split", "_first", "_offset")), ["_uri", "_split"]
    ).select(
        "_uri",
        (F.col("_offset") + F.col("_position") - F.col("_first") + 1).alias(SOURCE_LINE),
        F.regexp_replace("value", "\r$", "").alias("value"),
    )


def _parse_layout(
    lines: DataFrame,
    schema: EntitySchema,
    layout: tuple[str, ...],
    checks: dict[str, HeaderCheck],
) -> DataFrame:
    """Parse lines of files sharing one header layout into the contract's columns (as text)."""
    if layout == ("<rejected>",):
        # Each line is quarantined under its file's rule (header_mismatch, wrong_delimiter...)
        # with the file's problems as the reason.
        reasons = {
            name: f"{check.rejection_rule}: " + "; ".join(check.problems)
            for name, check in checks.items()
            if check.status == "rejected"
        }
        reason = F.coalesce(
            F.create_map(*[item for kv in reasons.items() for item in map(F.lit, kv)])[
                F.col(SOURCE_FILE)
            ]
            if reasons
            else F.lit(None),
            F.lit("header_mismatch: header does not match the contract"),
        )
        return lines.select(
            *[F.lit(None).cast(StringType()).alias(name) for name in schema.column_names],
            F.col(SOURCE_FILE),
            F.col(SOURCE_LINE),
            F.sha2(F.col("value"), 256).alias(RECORD_HASH),
            reason.alias(STRUCTURAL_ERROR),
            F.col("value").alias(RAW_LINE),
        )

    field_names = [f"_f{position}" for position in range(len(layout))]
    ddl = ", ".join(f"{name} string" for name in field_names)
    parsed = F.from_csv(F.col("value"), ddl, {"mode": "PERMISSIVE", "escape": '"', "quote": '"'})
    by_name = {name: f"_f{position}" for position, name in enumerate(layout)}
    unquoted = F.regexp_replace("value", _QUOTED_FIELD, "")
    fields = F.length(unquoted) - F.length(F.regexp_replace(unquoted, ",", "")) + 1
    quotes = F.length(F.col("value")) - F.length(F.regexp_replace("value", '"', ""))
    structural = (
        F.when(
            F.instr(F.col("value"), "\ufffd") > 0,
            F.lit("invalid_utf8: the line is not valid UTF-8"),
        )
        .when(
            quotes % 2 == 1,
            F.lit("unbalanced_quotes: a quoted field is not closed (truncated line?)"),
        )
        .when(
            fields != len(layout),
            F.concat(
                F.lit(f"field_count_mismatch: expected {len(layout)} fields, found "),
                fields.cast("string"),
            ),
        )
    )
    frame = lines.select(
        F.col(SOURCE_FILE),
        F.col(SOURCE_LINE),
        F.col("value"),
        parsed.alias("_parsed"),
        structural.alias(STRUCTURAL_ERROR),
    )
    business = [F.col(f"_parsed.{by_name[name]}").alias(name) for name in schema.column_names]
    return frame.select(
        *business,
        F.col(SOURCE_FILE),
        F.col(SOURCE_LINE),
        F.col(STRUCTURAL_ERROR),
        F.when(F.col(STRUCTURAL_ERROR).isNotNull(), F.col("value")).alias(RAW_LINE),
    ).withColumn(RECORD_HASH, _record_hash(schema))


def _record_hash(schema: EntitySchema) -> Column:
    """sha256 over the business values (null distinct from empty), or the line if malformed."""
    values = [F.coalesce(F.col(name), F.lit(_NULL_MARKER)) for name in schema.column_names]
    return F.when(F.col(RAW_LINE).isNotNull(), F.sha2(F.col(RAW_LINE), 256)).otherwise(
        F.sha2(F.concat_ws(_FIELD_JOIN, *values), 256)
    )


# ----------------------------------------------------------------------------------- writing
def _match_columns(schema: EntitySchema) -> list[str]:
    return [*schema.key, schema.version]


def _drop_duplicates_within_batch(batch: DataFrame, schema: EntitySchema) -> DataFrame:
    """Keep the first arrival (file, line) of rows identical in key, version and content."""
    identity = [*_match_columns(schema), RECORD_HASH]
    first = Window.partitionBy(*identity).orderBy(SOURCE_FILE, SOURCE_LINE)
    return (
        batch.withColumn("_arrival", F.row_number().over(first))
        .where(F.col("_arrival") == 1)
        .drop("_arrival")
    )


def _merge_into_raw(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema, batch: DataFrame
) -> None:
    on = " AND ".join(f"t.{quote(name)} <=> s.{quote(name)}" for name in _match_columns(schema))
    with temp_view(batch, f"_incoming_{schema.entity}") as view:
        spark.sql(
            f"MERGE INTO {settings.spark_table(schema.raw_table)} t USING {view} s "
            f"ON {on} AND t.{RECORD_HASH} = s.{RECORD_HASH} "
            "WHEN NOT MATCHED THEN INSERT *"
        )


def _added_records(settings: LakehouseSettings, table: str, before: int | None) -> int:
    """Rows the commits after snapshot ``before`` added (0 when nothing was committed)."""
    metadata = load_iceberg_table(settings, table).metadata
    snapshot = metadata.snapshot_by_id(metadata.current_snapshot_id or -1)
    added = 0
    while snapshot is not None and snapshot.snapshot_id != before:
        if snapshot.summary is not None:
            added += int(snapshot.summary.get("added-records") or 0)
        parent = snapshot.parent_snapshot_id
        snapshot = metadata.snapshot_by_id(parent) if parent is not None else None
    return added


def _log_files(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    files: Sequence[LandingFile],
    result: IngestionResult,
    run_id: str,
    ingested_at: datetime,
) -> None:
    reports = {report.file: report for report in result.files}
    rows = [
        {
            "entity": schema.entity,
            "file": file.name,
            "size": file.size,
            "modified_ns": file.modified_ns,
            "fingerprint": file.fingerprint,
            "status": reports[file.name].status,
            "data_lines": reports[file.name].data_lines,
            "structural_errors": reports[file.name].structural_errors,
            "problems": reports[file.name].problems,
            "run_id": run_id,
            "ingested_at": ingested_at,
            "raw_snapshot_id": result.snapshot_id,
        }
        for file in files
    ]
    frame = spark.createDataFrame(rows, FILE_LOG_SCHEMA)  # dicts: matched to fields by name
    frame.writeTo(settings.spark_table(FILE_LOG_TABLE)).append()
