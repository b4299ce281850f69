"""Declarative validation rules (``quality/rules/<entity>.yaml``) and their Spark SQL form.

One rules file per entity is read by curation (rows breaking a ``reject`` rule are quarantined)
and by the Great Expectations suites (each rule is an expectation on the curated table). Keeping
one source means the quarantine and the quality report can never disagree about what "valid"
means.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, load_entity
from customer_overview.errors import InvalidRulesError, SchemaDefinitionError
from customer_overview.sql import quote, sql_string
from customer_overview.yaml_files import load_yaml_model, repeated

RULES_DIR = Path(__file__).with_name("rules")

CheckKind = Literal[
    "not_null",
    "regex",
    "max_length",
    "in_set",
    "between",
    "not_after_column",
    "null_when",
    "expression",
    "references",
]

# Parameters each check needs; anything else is a mistake in the rules file.
_REQUIRED_PARAMETERS: dict[str, tuple[str, ...]] = {
    "not_null": (),
    "regex": ("pattern",),
    "max_length": ("max",),
    "in_set": ("values",),
    "between": ("min", "max"),
    "not_after_column": ("other",),
    "null_when": ("when",),
    "expression": ("expression",),
    "references": ("entity", "other"),
}
_NUMERIC = re.compile(r"^(int|bigint|double|decimal\(.*\))$")


class Rule(BaseModel):
    """One validation rule on one column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    column: str
    check: CheckKind
    severity: Literal["reject", "warn"] = "reject"
    when: str | None = None
    seed: str | None = None
    pattern: str | None = None
    max: float | int | str | None = None
    min: float | int | str | None = None
    values: tuple[str, ...] | None = None
    other: str | None = None
    entity: str | None = None
    expression: str | None = None

    @model_validator(mode="after")
    def _parameters_match_check(self) -> Rule:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"rule name {self.name!r} is not snake case")
        missing = [p for p in _REQUIRED_PARAMETERS[self.check] if getattr(self, p) is None]
        if missing:
            raise ValueError(f"rule {self.name!r}: check {self.check!r} needs {missing}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"rule {self.name!r}: bad regex {self.pattern!r}: {exc}") from None
        return self

    @property
    def blocking(self) -> bool:
        """Rules that reject rows also block publishing when they fail on the curated table."""
        return self.severity == "reject"


class RuleSet(BaseModel):
    """All rules of one entity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    rules: tuple[Rule, ...]
    # The file the rules came from, for error messages (not part of the file's contract).
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path:
        return self._source or RULES_DIR / f"{self.entity}.yaml"

    @property
    def reject_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.severity == "reject")

    @property
    def references(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.check == "references")


@cache
def load_rules(entity: str, rules_dir: Path = RULES_DIR) -> RuleSet:
    """Load ``rules/<entity>.yaml`` and check it against the entity's schema.

    Raises:
        InvalidRulesError: Not YAML, an unknown field or check, a missing parameter, a duplicate
            rule name or a column the entity does not have; the message names the file and rule.
    """
    path = rules_dir / f"{entity}.yaml"
    rule_set = load_yaml_model(path, RuleSet, InvalidRulesError, f"rules file of {entity!r}")
    rule_set._source = path
    _check_against_schema(path, rule_set, load_entity(entity))
    return rule_set


def _check_against_schema(path: Path, rule_set: RuleSet, schema: EntitySchema) -> None:
    duplicates = repeated(rule.name for rule in rule_set.rules)
    if duplicates:
        raise InvalidRulesError(f"{path}: duplicate rule names {duplicates}")
    known = set(schema.column_names)
    for rule in rule_set.rules:
        referenced = [rule.column] + (
            [rule.other] if rule.other and rule.check != "references" else []
        )
        unknown = [column for column in referenced if column not in known]
        if unknown:
            raise InvalidRulesError(
                f"{path}: rule {rule.name!r} names unknown column(s) {unknown} of {schema.entity}"
            )
        if rule.check == "references":
            try:
                target = load_entity(rule.entity or "")
            except SchemaDefinitionError:
                raise InvalidRulesError(
                    f"{path}: rule {rule.name!r} references unknown entity {rule.entity!r}"
                ) from None
            if rule.other not in target.column_names:
                raise InvalidRulesError(
                    f"{path}: rule {rule.name!r} references unknown column "
                    f"{rule.entity}.{rule.other}"
                )


def check_rules_compile(spark: SparkSession, rules: RuleSet, schema: EntitySchema) -> None:
    """Parse and analyse every rule's Spark SQL on an empty frame of the table's columns.

    ``when`` conditions and ``expression`` checks are free Spark SQL that pydantic cannot check:
    a typo must fail naming the file and the rule before any data is read. Analysis only, no
    Spark job runs.

    Raises:
        InvalidRulesError: A rule's SQL does not parse or names something that does not exist.
    """
    columns = ", ".join(f"{quote(column.name)} {column.type}" for column in schema.columns)
    empty = spark.createDataFrame([], columns)
    for rule in rules.rules:
        frame = empty
        if rule.check == "references":
            frame = frame.withColumn(reference_flag_column(rule), F.lit(True))
        try:
            frame.select(F.expr(violation_sql(rule, schema)))
        except AnalysisException as exc:
            problem = str(exc).strip().splitlines()[0]
            raise InvalidRulesError(
                f"{rules.source}: rule {rule.name!r} is not valid Spark SQL: {problem}"
            ) from None


# ----------------------------------------------------------------------------- Spark SQL form
def sql_literal(value: object, column_type: str = "string") -> str:
    """A Spark SQL literal of ``value`` for a column of ``column_type``."""
    if column_type in ("date", "timestamp"):
        return f"{column_type.upper()} {sql_string(str(value))}"
    if _NUMERIC.match(column_type) and not isinstance(value, str):
        return repr(value)
    return sql_string(str(value))


def reference_flag_column(rule: Rule) -> str:
    """Name of the boolean column a join adds for a ``references`` rule (true = target exists)."""
    return f"_ref_{rule.name}"


def violation_sql(rule: Rule, schema: EntitySchema) -> str:
    """A Spark SQL boolean expression that is TRUE exactly when a row breaks ``rule``.

    Rules are null-tolerant: only ``not_null`` rejects a missing value, so a rule on an optional
    column applies when the value is present. ``references`` rules read a flag column that the
    caller adds by joining the referenced table (see :func:`reference_flag_column`).
    """
    column = quote(rule.column)
    column_type = schema.column(rule.column).type
    if rule.check == "not_null":
        condition = f"{column} IS NULL"
        if column_type == "string":
            condition = f"({column} IS NULL OR trim({column}) = '')"
    elif rule.check == "regex":
        condition = (
            f"({column} IS NOT NULL AND NOT ({column} RLIKE {sql_string(rule.pattern or '')}))"
        )
    elif rule.check == "max_length":
        limit = int(float(str(rule.max)))
        condition = f"({column} IS NOT NULL AND length(CAST({column} AS STRING)) > {limit})"
    elif rule.check == "in_set":
        values = ", ".join(sql_string(value) for value in rule.values or ())
        condition = f"({column} IS NOT NULL AND {column} NOT IN ({values}))"
    elif rule.check == "between":
        low, high = sql_literal(rule.min, column_type), sql_literal(rule.max, column_type)
        condition = f"({column} IS NOT NULL AND ({column} < {low} OR {column} > {high}))"
    elif rule.check == "not_after_column":
        other = quote(rule.other or "")
        condition = f"({column} IS NOT NULL AND {other} IS NOT NULL AND {column} > {other})"
    elif rule.check == "null_when":
        condition = f"{column} IS NOT NULL"
    elif rule.check == "expression":
        condition = f"NOT coalesce({rule.expression}, TRUE)"
    else:  # references
        condition = f"({column} IS NOT NULL AND NOT {quote(reference_flag_column(rule))})"
    if rule.when:
        condition = f"({condition} AND coalesce({rule.when}, FALSE))"
    return condition


def describe_violation_sql(rule: Rule) -> str:
    """Spark SQL producing the human-readable reason for a broken rule, with the bad value."""
    value = f"coalesce(CAST({quote(rule.column)} AS STRING), 'NULL')"
    prefix = sql_string(f"{rule.name}: {rule.description} ({rule.column}=")
    return f"concat({prefix}, {value}, ')')"


def add_reference_flag(
    spark: SparkSession, settings: LakehouseSettings, frame: DataFrame, rule: Rule
) -> DataFrame:
    """Left-join the referenced curated table's keys as the rule's boolean flag column.

    The flag (:func:`reference_flag_column`) is what :func:`violation_sql` reads for a
    ``references`` rule: curation and the Great Expectations suite evaluate it the same way.
    """
    target = load_entity(rule.entity or "")
    keys = (
        spark.table(settings.spark_table(target.curated_table))
        .select(F.col(quote(rule.other or "")).alias("_ref_key"))
        .distinct()
        .withColumn(reference_flag_column(rule), F.lit(True))
    )
    joined = frame.join(keys, frame[quote(rule.column)] == keys["_ref_key"], "left").drop(
        "_ref_key"
    )
    return joined.withColumn(
        reference_flag_column(rule), F.coalesce(F.col(reference_flag_column(rule)), F.lit(False))
    )
