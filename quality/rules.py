"""Declarative validation rules (``quality/rules/<entity>.yaml``) and their Spark SQL form.

One rules file per entity is read by curation (rows breaking a ``reject`` rule are quarantined)
and by the Great Expectations suites (each rule is an expectation on the curated table). Keeping
one source means the quarantine and the quality report can never disagree about what "valid"
means.

A rules file of a landing entity also says, for every column, whether a value must be present (a
``not_null`` rule, possibly for some rows only) or may be missing (``optional_columns``, with the
reason); a column that says neither is an error, so a new column cannot slip in unchecked. The
customers file keeps the seed's column assertions (``seed_assertions``) next to the rules that
implement them.

A rule may read the clock (``current_timestamp()``, as ``modified_at_not_in_future`` does) only
if time can turn it from failing to passing and never the other way: the suite validates only
the rows that changed since it last passed entirely (quality/expectations.py), so a rule that an
unchanged row could start to break as time goes on would go unseen.

Regex patterns are evaluated by Java (Spark's ``RLIKE``, also under Great Expectations) and may be
evaluated by Python's ``regex`` package; constructs the two read differently are refused on load
(:func:`portability_problem`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import regex
from py4j.protocol import Py4JJavaError
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints, model_validator
from pyspark.errors import AnalysisException, IllegalArgumentException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_overview.config import LakehouseSettings
from customer_overview.entities import ENTITY_NAMES, EntitySchema, load_entity
from customer_overview.errors import InvalidRulesError, SchemaDefinitionError
from customer_overview.sql import quote, sql_string
from customer_overview.yaml_files import load_yaml_model, repeated

RULES_DIR = Path(__file__).with_name("rules")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

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

# ------------------------------------------------------------------- portable regular expressions
# Unicode general categories: \p{L} (letters of every script), \p{M} (combining marks, so
# decomposed text passes), \p{Nd} (decimal digits of every script)... Java and Python's `regex`
# read them alike. POSIX and script names (\p{Alpha}, \p{Latin}) are ASCII-only or spelled
# differently in Java, so they are not allowed.
_GENERAL_CATEGORIES = frozenset(
    {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No"}
    | {"P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So"}
    | {"Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Co"}
)
# Escapes that mean the same to both: escaped metacharacters, \t \n \r \f, \A and \z.
_PORTABLE_ESCAPES = frozenset("\\.-[](){}*+?|^$/tnrfAz")
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|([pP])\{(\^?)(\w+)\}|(.))", re.DOTALL)
_UNICODE_DEPENDENT = {
    "d": "[0-9] or \\p{Nd}",
    "D": "[^0-9]",
    "w": "the letters and digits you mean",
    "W": "the characters you mean",
    "s": "the blanks you mean",
    "S": "the characters you mean",
    "b": "an explicit class",
    "B": "an explicit class",
}


def portability_problem(pattern: str) -> str | None:
    """Why Java's and Python's ``regex`` could read ``pattern`` differently, or None.

    Refused: ``$`` (Java also matches it before a final line break of any kind: ``'Bob\\u2028'``
    passes ``^[a-z]+$`` in Java and not in Python; end with ``\\z``), ``\\Z``, ``.`` (the two
    exclude different line breaks), ``\\d \\w \\s \\b`` (ASCII in Java, Unicode in Python),
    inline flags (case folding differs), nested classes and ``&&`` (Java's class algebra), and
    any escape not known to mean the same.
    """
    in_class = False
    position = 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            escape = _ESCAPE.match(pattern, position)
            if escape is None:
                return f"a backslash at position {position} escapes nothing portable"
            text = escape.group(0)
            letter = escape.group(4)
            if escape.group(1) and (escape.group(2) or escape.group(3) not in _GENERAL_CATEGORIES):
                return (
                    f"{text}: only Unicode general categories (\\p{{L}}, \\p{{M}}, \\p{{Nd}}, ...) "
                    "mean the same in Java and Python"
                )
            if letter in _UNICODE_DEPENDENT:
                return (
                    f"{text} is ASCII in Java and Unicode in Python: write "
                    f"{_UNICODE_DEPENDENT[letter]}"
                )
            if letter == "Z":
                return "\\Z: Java matches it before a final line break, Python does not: write \\z"
            if letter is not None and letter not in _PORTABLE_ESCAPES:
                return f"{text} is not one of the escapes that mean the same in Java and Python"
            position = escape.end()
            continue
        if in_class:
            if char == "[":
                return "a '[' inside a class: Java reads a nested class, Python a '[': escape it"
            if pattern.startswith("&&", position):
                return "'&&' inside a class: Java reads a class intersection, Python two '&'"
            in_class = char != "]"
        elif char == "[":
            in_class = True
            position += 2 if pattern.startswith("[^", position) else 1
            if pattern.startswith("]", position):
                return "a ']' first in a class: escape it (\\])"
            continue
        elif char == "$":
            return (
                "'$' also matches before a final line break in Java (a value 'Bob' followed by "
                "U+2028 passes ^[a-z]+$): end the pattern with \\z"
            )
        elif char == ".":
            return "'.' excludes different line breaks in Java and Python: write the class you mean"
        elif pattern.startswith("(?", position) and pattern[position + 2 : position + 3].isalpha():
            return "inline flags and Python-only groups ((?i), (?P<name>...)) differ in Java"
        position += 1
    return None


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
                regex.compile(self.pattern)
            except regex.error as exc:
                raise ValueError(f"rule {self.name!r}: bad regex {self.pattern!r}: {exc}") from None
            problem = portability_problem(self.pattern)
            if problem:
                raise ValueError(f"rule {self.name!r}: pattern {self.pattern!r}: {problem}")
        return self

    @property
    def blocking(self) -> bool:
        """Rules that reject rows also block publishing when they fail on the curated table."""
        return self.severity == "reject"


SeedTest = Literal["duplicate_count == 0", "missing_count <= 0", "invalid_count == 0"]
# Checks that can say what the seed's invalid_count (a value breaking the column's format) counts.
INVALID_COUNT_CHECKS = ("regex", "in_set", "between", "max_length")


class SeedColumnChecks(BaseModel):
    """One column's assertions in the seed's quality job (wf-customer-data-quality), verbatim."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid_format: str | None = None  # the seed's validFormat regex, as written (never evaluated)
    tests: tuple[SeedTest, ...] = Field(min_length=1)


class SeedAssertion(BaseModel):
    """A seed column assertion and the rules that implement what it meant.

    ``missing_count`` and ``invalid_count`` name the rule whose expectation counts the column's
    missing / invalid values; ``duplicate_count == 0`` is a uniqueness expectation where the
    column is the table's key. Whatever cannot hold as written is said in ``departure``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    seed: SeedColumnChecks
    missing_count: str | None = None
    invalid_count: str | None = None
    departure: Text | None = None

    @model_validator(mode="after")
    def _each_test_names_its_rule(self) -> SeedAssertion:
        for test, field in (
            ("missing_count <= 0", "missing_count"),
            ("invalid_count == 0", "invalid_count"),
        ):
            named = getattr(self, field)
            if test in self.seed.tests and named is None:
                raise ValueError(
                    f"seed assertion on {self.column}: tests {test} but names no rule "
                    f"({field}: <rule>)"
                )
            if test not in self.seed.tests and named is not None:
                raise ValueError(
                    f"seed assertion on {self.column}: {field} is not a test of the seed's "
                    f"assertion {list(self.seed.tests)}"
                )
        return self


class RuleSet(BaseModel):
    """All rules of one entity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entity: str
    # Columns whose value may be missing, each with the reason; every other column of a landing
    # entity has a not_null rule.
    optional_columns: dict[str, Text] = Field(default_factory=dict)
    seed_assertions: tuple[SeedAssertion, ...] = ()
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
    _check_rules(path, rule_set, schema)
    _check_presence_declared(path, rule_set, schema)
    _check_seed_assertions(path, rule_set, schema)


def _check_rules(path: Path, rule_set: RuleSet, schema: EntitySchema) -> None:
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


def _check_presence_declared(path: Path, rule_set: RuleSet, schema: EntitySchema) -> None:
    """Every column of a landing entity is required (a not_null rule) or optional, not both."""
    known = set(schema.column_names)
    unknown = sorted(set(rule_set.optional_columns) - known)
    if unknown:
        raise InvalidRulesError(
            f"{path}: optional_columns names unknown column(s) {unknown} of {schema.entity}"
        )
    for rule in rule_set.rules:
        if rule.check == "not_null" and not rule.when and rule.column in rule_set.optional_columns:
            raise InvalidRulesError(
                f"{path}: column {rule.column!r} is optional and required (rule {rule.name!r}): "
                "drop one"
            )
    if schema.entity not in ENTITY_NAMES:
        return  # a mart's columns are computed, not landed: nothing can go missing in transit
    required = {rule.column for rule in rule_set.rules if rule.check == "not_null"}
    declared = required | set(rule_set.optional_columns)
    undeclared = [column for column in schema.column_names if column not in declared]
    if undeclared:
        raise InvalidRulesError(
            f"{path}: column(s) {undeclared} neither required by a not_null rule nor optional: "
            "add a not_null rule, or list the column under optional_columns with the reason it "
            "may be missing"
        )


def _check_seed_assertions(path: Path, rule_set: RuleSet, schema: EntitySchema) -> None:
    by_name = {rule.name: rule for rule in rule_set.rules}
    duplicates = repeated(assertion.column for assertion in rule_set.seed_assertions)
    if duplicates:
        raise InvalidRulesError(f"{path}: more than one seed assertion on {duplicates}")
    for assertion in rule_set.seed_assertions:
        column = assertion.column
        if column not in schema.column_names:
            raise InvalidRulesError(
                f"{path}: seed assertion on unknown column {column!r} of {schema.entity}"
            )
        # (count field, which rules it may name, what those are called)
        count_fields: tuple[tuple[str, Callable[[Rule], bool], str], ...] = (
            (
                "missing_count",
                lambda r: r.check == "not_null" and not r.when,
                "an unconditional not_null rule",
            ),
            (
                "invalid_count",
                lambda r: r.check in INVALID_COUNT_CHECKS and not r.when,
                f"a {', '.join(INVALID_COUNT_CHECKS[:-1])} or {INVALID_COUNT_CHECKS[-1]} rule",
            ),
        )
        for field, fits, wanted in count_fields:
            name = getattr(assertion, field)
            if name is None:
                continue
            if name not in by_name:
                raise InvalidRulesError(
                    f"{path}: seed assertion on {column}: {field} names unknown rule {name!r}"
                )
            if by_name[name].column != column or not fits(by_name[name]):
                raise InvalidRulesError(
                    f"{path}: seed assertion on {column}: {field} must name {wanted} on "
                    f"{column}, not {name!r}"
                )
        departs = []
        if "duplicate_count == 0" in assertion.seed.tests and not is_key(schema, column):
            departs.append("duplicate_count == 0 on a column that is not the key")
        implementing = by_name.get(assertion.invalid_count or "")
        if assertion.seed.valid_format is not None and (
            implementing is None or implementing.pattern != assertion.seed.valid_format
        ):
            departs.append(f"validFormat {assertion.seed.valid_format} is not what is checked")
        if departs and assertion.departure is None:
            raise InvalidRulesError(
                f"{path}: seed assertion on {column} departs from the seed but says nothing "
                f"about it ({'; '.join(departs)}): add departure: <what is implemented instead, "
                "and why>"
            )


def is_key(schema: EntitySchema, column: str) -> bool:
    """Whether ``column`` alone is the table's key (the only column a uniqueness test fits)."""
    return tuple(schema.key) == (column,)


def check_rules_compile(spark: SparkSession, rules: RuleSet, schema: EntitySchema) -> None:
    """Parse and analyse every rule's Spark SQL on an empty frame of the table's columns.

    ``when`` conditions and ``expression`` checks are free Spark SQL that pydantic cannot check:
    a typo must fail naming the file and the rule before any data is read. Analysis only, no
    Spark job runs.

    Regex patterns are also compiled by Java's ``Pattern`` (what ``RLIKE`` runs), which Spark's
    analysis does not do: a pattern Python's ``regex`` accepts and Java does not fails here.

    Raises:
        InvalidRulesError: A rule's SQL does not parse or names something that does not exist,
            or Java cannot compile a rule's pattern.
    """
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "a running SparkContext has a JVM gateway"  # as PySpark asserts
    java_pattern = jvm.java.util.regex.Pattern
    for rule in rules.rules:
        if rule.pattern is None:
            continue
        try:
            java_pattern.compile(rule.pattern)
        except (Py4JJavaError, IllegalArgumentException) as exc:
            # PySpark turns Java's PatternSyntaxException into its IllegalArgumentException.
            problem = str(exc).strip().splitlines()[0]
            raise InvalidRulesError(
                f"{rules.source}: rule {rule.name!r}: Java cannot compile pattern "
                f"{rule.pattern!r}: {problem}"
            ) from None
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

    Rules are null-tolerant: only ``not_null`` rejects a missing value (blank text counts as
    missing), so each defect has one reason: a missing required value breaks the column's
    not_null rule, not also its format rule. Whether a column must be present is the rules
    file's decision (not_null rules, ``optional_columns``), not the check's. ``null_when`` wants
    the value missing in the same sense (NULL or blank). ``references`` rules read a flag column
    that the caller adds by joining the referenced table (see :func:`reference_flag_column`).
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
        if column_type == "string":
            condition = f"({column} IS NOT NULL AND trim({column}) <> '')"
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
