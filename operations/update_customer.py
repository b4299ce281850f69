"""One customer changed by hand: a landing drop holding that customer's current row, edited.

The seed's "update customer overview" script, done the lakehouse's way: nothing is written to a
table. ``update_customer`` reads the customer's current curated row (``customer_overview_dp``),
applies the requested column values, sets ``modified_at`` to now (UTC) and writes the row as a new
file in ``LAKEHOUSE_DIR/landing/customers/`` under the landing contract (the generator's header
with the unnamed index column, UTF-8, ``\\n`` line ends, minimal quoting, empty field = null).
The next ``customer-overview run`` ingests and curates it like any other drop: it is the newest
version of the customer, so it replaces the curated row.

A change the rules would quarantine is refused before anything is written: the candidate row is
evaluated as curation evaluates a raw row (``curation.typed_column`` for the types, then every rule
of ``quality/rules/customers.yaml`` through ``quality.rules.violation_sql`` and
``describe_violation_sql``, on a one-row Spark frame of text values), so the refusal and the
quarantine cannot disagree. Also refused: unknown columns and customers, and the columns the
pipeline owns (the key, ``created_at``, the version column, lineage).

The file appears atomically: it is written under a temporary name that the landing folder's
``*.csv`` discovery does not match, in the same folder, and then linked to its final name (which
fails rather than replace an existing file).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import EqualTo
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from assets.curated.curation import typed_column
from customer_overview.config import LakehouseSettings
from customer_overview.entities import LINEAGE_COLUMNS, ColumnSpec, EntitySchema, load_entity
from customer_overview.errors import LakehouseError
from customer_overview.sql import quote
from customer_overview.tables import load_iceberg_table
from quality.rules import (
    RuleSet,
    add_reference_flag,
    check_rules_compile,
    describe_violation_sql,
    load_rules,
    violation_sql,
)

ENTITY = "customers"
# The landing contract's timestamp text (generator/README.md): no time zone, read as UTC (the
# Spark session's time zone).
LANDING_TIMESTAMP = "%Y-%m-%d %H:%M:%S"
# Columns set by the source system's own process, not by a person: the key, the creation time.
SOURCE_OWNED = ("created_at",)


class UpdateRefusedError(LakehouseError):
    """The requested change cannot be written as a landing drop; the message says why."""


@dataclass(frozen=True)
class RuleViolation:
    """A rule the candidate row breaks, as curation would report it."""

    rule: str
    reason: str  # e.g. "cibil_score_range: CIBIL score is 300-900 (cibil_score=950)"
    severity: str  # reject | warn


@dataclass
class CustomerUpdate:
    """What ``update_customer`` wrote."""

    cust_id: str
    path: Path
    modified_at: str
    changes: dict[str, tuple[str | None, str | None]]  # column -> (current text, new text)
    warnings: list[RuleViolation] = field(default_factory=list)


# ------------------------------------------------------------------------------ arguments
def parse_assignments(items: Sequence[str]) -> dict[str, str | None]:
    """``["city=Pune", "cust_middle_name="]`` -> ``{"city": "Pune", "cust_middle_name": None}``.

    An empty value means "no value" (the landing contract's empty field is null).

    Raises:
        UpdateRefusedError: An item without ``=``, without a column name, or a column set twice.
    """
    assignments: dict[str, str | None] = {}
    for item in items:
        column, separator, value = item.partition("=")
        column = column.strip()
        if not separator or not column:
            raise UpdateRefusedError(f"--set {item!r}: expected COLUMN=VALUE")
        if column in assignments:
            raise UpdateRefusedError(f"--set {column}: given more than once")
        assignments[column] = value if value != "" else None
    if not assignments:
        raise UpdateRefusedError("nothing to change: give at least one --set COLUMN=VALUE")
    return assignments


def check_columns(schema: EntitySchema, assignments: Mapping[str, str | None]) -> None:
    """Refuse columns the entity does not have and columns a person may not set.

    Raises:
        UpdateRefusedError: Names the column and why.
    """
    protected = {
        **{name: "the key: a different customer is a different row" for name in schema.key},
        **{name: "set by the source system when the customer was created" for name in SOURCE_OWNED},
        schema.version: "set to now by update-customer (the version of the new row)",
        **{
            name: "lineage, set by the pipeline when the row is ingested"
            for name in LINEAGE_COLUMNS
        },
    }
    for column, value in assignments.items():
        if column in protected:
            raise UpdateRefusedError(f"column {column!r} cannot be changed: {protected[column]}")
        if column not in schema.column_names:
            raise UpdateRefusedError(
                f"unknown column {column!r} of {schema.entity} "
                f"(columns: {', '.join(schema.column_names)})"
            )
        if value is not None and ("\n" in value or "\r" in value):
            raise UpdateRefusedError(
                f"{column}: a value cannot contain a line break (the landing contract is one "
                "record per line)"
            )


# ------------------------------------------------------------------------- the current row
def _landing_text(value: Column, column: ColumnSpec) -> Column:
    """A typed value as the landing file writes it: the inverse of ``curation.typed_column``."""
    if column.type == "string":
        return value
    if column.type == "date":
        return F.date_format(value, column.format or "yyyy-MM-dd")
    if column.type == "timestamp" and column.format:
        return F.date_format(value, column.format)
    # Spark's own text of numbers, booleans and timestamps is what its casts parse back.
    return value.cast("string")


def _require_customer(settings: LakehouseSettings, schema: EntitySchema, cust_id: str) -> None:
    """A cheap look-up (PyIceberg, no Spark job) that the customer is curated."""
    try:
        table = load_iceberg_table(settings, schema.curated_table)
    except NoSuchTableError:
        raise UpdateRefusedError(
            f"{settings.table_identifier(schema.curated_table)} does not exist yet: run "
            "`customer-overview run` first"
        ) from None
    (key,) = schema.key
    # PyIceberg's predicates are pydantic models: mypy types their constructor from the model
    # fields, not from the ``(term, literal)`` ``__init__`` they define.
    equal_to = cast(Callable[[str, Any], EqualTo], EqualTo)
    is_customer = equal_to(key, cust_id)
    found = table.scan(row_filter=is_customer, selected_fields=(key,)).to_arrow()
    if found.num_rows == 0:
        raise UpdateRefusedError(
            f"unknown customer {cust_id!r}: no such {key} in "
            f"{settings.table_identifier(schema.curated_table)}"
        )


def current_landing_row(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    cust_id: str,
    now_text: str,
) -> dict[str, str | None]:
    """The customer's curated row as landing text, or refuse when ``now`` would not be newer.

    Raises:
        UpdateRefusedError: The customer is unknown, or its current version is not older than
            now (the new file would lose the latest-version contest).
    """
    (key,) = schema.key
    version = schema.version
    rows = (
        spark.table(settings.spark_table(schema.curated_table))
        .where(F.col(quote(key)) == F.lit(cust_id))
        .select(
            *[
                _landing_text(F.col(quote(column.name)), column).alias(column.name)
                for column in schema.columns
            ],
            (F.col(quote(version)) >= F.lit(now_text).cast("timestamp")).alias("_not_older"),
        )
        .collect()
    )
    if not rows:
        raise UpdateRefusedError(
            f"unknown customer {cust_id!r}: no such {key} in "
            f"{settings.table_identifier(schema.curated_table)}"
        )
    row = rows[0].asDict()
    if row.pop("_not_older"):
        raise UpdateRefusedError(
            f"customer {cust_id!r}: its current version has {version}={row[version]}, not older "
            f"than now ({now_text} UTC); a new version would not replace it"
        )
    return row


# ------------------------------------------------------------------------------ the verdict
def rule_violations(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    row: Mapping[str, str | None],
) -> list[RuleViolation]:
    """Every rule a row of landing text breaks, evaluated the way curation evaluates raw rows.

    Types first: a value that does not parse breaks ``<column>_type`` (curation.typed_column).
    Then every rule of the rules file, ``reject`` and ``warn``, through the same Spark SQL as
    curation (``violation_sql``, ``describe_violation_sql``; ``references`` rules join the
    referenced curated table like curation does). Rules are evaluated only when every value
    parsed: curation gives no verdict from a value it could not read.
    """
    check_rules_compile(spark, rules, schema)
    names = schema.column_names
    text = spark.createDataFrame(
        [tuple(row.get(name) for name in names)],
        StructType([StructField(name, StringType()) for name in names]),
    )
    typed = {column.name: typed_column(column) for column in schema.columns}
    frame = text.select(
        *[typed[name][0].alias(name) for name in names],
        *[typed[name][1].alias(f"_unparsed_{name}") for name in names],
    )
    for rule in rules.references:
        frame = add_reference_flag(spark, settings, frame, rule)
    verdicts = frame.select(
        *[F.col(f"_unparsed_{name}") for name in names],
        *[
            F.when(F.expr(violation_sql(rule, schema)), F.expr(describe_violation_sql(rule)))
            .otherwise(F.lit(None))
            .alias(f"_rule_{index}")
            for index, rule in enumerate(rules.rules)
        ],
    ).first()
    assert verdicts is not None  # one row in, one row out
    unparsed = [
        RuleViolation(
            rule=f"{column.name}_type",
            reason=f"{column.name}_type: {column.name}={row.get(column.name)} "
            f"is not a valid {column.type}",
            severity="reject",
        )
        for column in schema.columns
        if verdicts[f"_unparsed_{column.name}"]
    ]
    if unparsed:
        return unparsed
    return [
        RuleViolation(rule=rule.name, reason=verdicts[f"_rule_{index}"], severity=rule.severity)
        for index, rule in enumerate(rules.rules)
        if verdicts[f"_rule_{index}"] is not None
    ]


# ---------------------------------------------------------------------------- the landing file
def landing_csv(schema: EntitySchema, rows: Sequence[Mapping[str, str | None]]) -> bytes:
    """The landing contract's bytes: unnamed index column, header, minimal quoting, ``\\n``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(["", *schema.column_names])
    for index, row in enumerate(rows):
        writer.writerow(
            [index, *("" if row[name] is None else row[name] for name in schema.column_names)]
        )
    return buffer.getvalue().encode("utf-8")


def drop_file_name(schema: EntitySchema, cust_id: str, now: datetime) -> str:
    """``customers_update_20261201T101500123456Z_C000000042.csv``: sorts by time, names the row."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", cust_id)
    return f"{schema.folder}_update_{now:%Y%m%dT%H%M%S%f}Z_{safe_id}.csv"


def write_atomically(folder: Path, name: str, content: bytes) -> Path:
    """Write ``folder/name`` so that it appears complete or not at all.

    The bytes go to a hidden ``.<name>.<random>.part`` file in the same folder (landing discovery
    lists ``*.csv`` only), are flushed to disk, and the file is then hard-linked to ``name``:
    one atomic step that refuses to replace an existing file.

    Raises:
        UpdateRefusedError: ``folder/name`` exists already.
    """
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        target = folder / name
        try:
            os.link(temporary, target)
        except FileExistsError:
            raise UpdateRefusedError(f"{target} exists already") from None
    finally:
        os.unlink(temporary)
    return target


# ------------------------------------------------------------------------------- the command
def update_customer(
    spark: SparkSession | None,
    settings: LakehouseSettings,
    cust_id: str,
    assignments: Mapping[str, str | None],
    now: datetime | None = None,
) -> CustomerUpdate:
    """Write a landing drop with ``cust_id``'s current curated row changed by ``assignments``.

    Args:
        spark: A session bound to the lakehouse's catalog; ``None`` starts one (after the checks
            that need no Spark: columns, customer known).
        settings: The lakehouse.
        cust_id: The customer.
        assignments: Column -> new landing text (``None``: no value).
        now: When the change is made (default: now). The new row's ``modified_at`` is it in
            UTC, truncated to seconds (the landing format's precision); the file name keeps the
            microseconds, so two changes within a second land in order.

    Returns:
        The file written, the new ``modified_at``, the changed columns and any ``warn`` rule the
        new row breaks (warnings do not quarantine).

    Raises:
        UpdateRefusedError: Unknown or protected column, unknown customer, or a change the rules
            would quarantine (every such rule named with its value); nothing is written then.
    """
    schema = load_entity(ENTITY)
    rules = load_rules(ENTITY)
    check_columns(schema, assignments)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    now_text = now.strftime(LANDING_TIMESTAMP)
    version_column = schema.column(schema.version)
    if version_column.format:
        raise UpdateRefusedError(
            f"{schema.entity}.{schema.version} declares format {version_column.format!r}; "
            f"update-customer writes {LANDING_TIMESTAMP!r} only"
        )
    _require_customer(settings, schema, cust_id)
    if spark is None:
        from customer_overview.spark import spark_session

        spark = spark_session(settings)
    current = current_landing_row(spark, settings, schema, cust_id, now_text)
    candidate = {**current, **assignments, schema.version: now_text}
    violations = rule_violations(spark, settings, schema, rules, candidate)
    rejected = [v for v in violations if v.severity == "reject"]
    if rejected:
        raise UpdateRefusedError(
            f"customer {cust_id!r}: the change would be quarantined, nothing written: "
            + "; ".join(v.reason for v in rejected)
        )
    path = write_atomically(
        settings.landing_dir / schema.folder,
        drop_file_name(schema, cust_id, now),
        landing_csv(schema, [candidate]),
    )
    changes = {
        column: (current[column], candidate[column])
        for column in schema.column_names
        if current[column] != candidate[column]
    }
    return CustomerUpdate(
        cust_id=cust_id,
        path=path,
        modified_at=now_text,
        changes=changes,
        warnings=[v for v in violations if v.severity == "warn"],
    )
