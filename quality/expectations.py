"""Great Expectations (1.x) suites for the curated tables, built from the rules files.

Each rule of ``quality/rules/<entity>.yaml`` becomes one expectation (native where GX has one
that means the same, otherwise a boolean column computed from the same Spark SQL as the
quarantine step: :func:`rule_expectation`); each of the seed's column assertions
(``seed_assertions``) becomes unexpected-count expectations named ``seed_<column>_<test>``
(:func:`seed_assertion_expectations`); plus expectations that only make sense after dedupe: the
key is unique, and every (partition values) pair in the data has exactly one Iceberg partition.
Validation runs on the Spark DataFrame (GX Spark data source): nothing is collected to pandas.
Data Docs go to ``LAKEHOUSE_DIR/reports/quality/data_docs`` and keep every run (history).

Table-level facts (the table has rows; the row count is within bounds of the previous publish)
are read from the snapshot's Iceberg metadata (:func:`table_fact_outcomes`), not counted by a
scan, and reported beside the suite's outcomes.

Only what changed is validated again. Every GX expectation here holds row by row, except key
uniqueness, which holds key by key. So when the suite passed entirely on an earlier snapshot and
the table has since only been upserted (``customer_overview.changed_keys``: the keys each MERGE
touched), the suite runs on the rows whose key changed, every row of such a key included: a row
with an unchanged key is a row that passed, and a duplicate of a changed key is among the rows
read. The tables a ``references`` rule reads must also only have been upserted (no key left
them), and the partition spec must be the same. Anything else validates the whole table.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import warnings
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from pyiceberg.table.snapshots import Snapshot
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from customer_overview.atomic_files import write_text_atomically
from customer_overview.changed_keys import keys_changed_since, only_upserted_since
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, load_entity
from customer_overview.spark import REUSED_FRAME_STORAGE
from customer_overview.sql import quote
from customer_overview.tables import (
    data_snapshot,
    inputs_fingerprint,
    load_iceberg_table,
    snapshot_row_count,
)
from quality.offline_assets import make_data_docs_offline
from quality.rules import (
    Rule,
    RuleSet,
    SeedAssertion,
    add_reference_flag,
    check_rules_compile,
    is_key,
    violation_sql,
)

log = logging.getLogger(__name__)

SITE_NAME = "local_site"
DATASOURCE = "lakehouse_spark"
PARTITION_FLAG = "_rule_partition_per_value"
# A curated table may not shrink or grow past these ratios of the last published row count
# without a warning: a lost extract or a duplicated one shows up here first.
ROW_COUNT_MIN_RATIO = 0.9
ROW_COUNT_MAX_RATIO = 1.5

# GX's data context is not safe for concurrent validations through one asset; runs in one
# process validate one table at a time.
_gx_lock = threading.Lock()


@dataclass
class ExpectationOutcome:
    """One expectation's result, flattened for Dagster metadata and tests."""

    rule: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list[Any] = field(default_factory=list)
    observed: Any = None
    # Evaluated from the snapshot's Iceberg metadata (a table-level fact), not by GX.
    from_metadata: bool = False


@dataclass
class ValidationOutcome:
    """A suite run on one curated table."""

    table: str
    suite: str
    run_name: str
    rows: int
    outcomes: list[ExpectationOutcome]
    docs_page: Path | None
    docs_index: Path | None
    seconds: float
    failures_page: Path | None = None  # the failed expectations' counts and samples
    # Set when nothing the suite reads changed since an earlier run validated it: that run's
    # name, whose outcome and Data Docs pages these are.
    reused_from: str | None = None
    # Rows the suite read when it validated only the rows whose key changed since the earlier
    # run ``changed_since`` (None: the whole table was read).
    changed_rows: int | None = None
    changed_since: str | None = None

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking and not o.success]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.blocking and not o.success]

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.success)


def _gx() -> ModuleType:
    # Typed as a plain module: GX objects are handled as Any throughout this module.
    # Imported lazily: GX is heavy (~3 s) and reroutes Python warnings into logging on import,
    # which only validation runs should pay for. GX reads its analytics switch when it is first
    # imported: set it here (documented env var), when validation starts, not at our import.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    return gx


def quality_dirs(settings: LakehouseSettings) -> tuple[Path, Path]:
    """(GX project folder, Data Docs folder) under the reports folder."""
    base = settings.reports_dir / "quality"
    return base / "gx", base / "data_docs"


# The context of the run validating now: (GX project folder, run id) -> context. Opening a
# file-backed context reads and writes its project file and sets up its stores (seconds per
# table when every suite opened its own); one per run is reused by every table the run
# validates. A new run opens a new one, so nothing another process wrote in between is missed.
_run_context: dict[tuple[Path, str], Any] = {}


def run_gx_context(settings: LakehouseSettings, run_id: str) -> Any:
    """The GX context of run ``run_id``: opened by its first validation, reused by the next."""
    key = (quality_dirs(settings)[0].resolve(), run_id)
    context = _run_context.get(key)
    if context is None:
        _run_context.clear()  # one run at a time per process: drop the previous run's
        context = _run_context[key] = gx_context(settings)
    return context


def gx_context(settings: LakehouseSettings) -> Any:
    """The file-backed GX context of this lakehouse (suites, validation history, Data Docs)."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root, docs = quality_dirs(settings)
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", context_root_dir=str(root))
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }
    sites = context.list_data_docs_sites()
    if SITE_NAME not in sites:
        context.add_data_docs_site(SITE_NAME, site)
    elif sites[SITE_NAME] != site:
        context.update_data_docs_site(SITE_NAME, site)
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    context.variables.save()
    return context


# ------------------------------------------------------------------------------- the suite
def _flag_column(rule: Rule) -> str:
    return f"_rule_{rule.name}"


def _native(rule: Rule, schema: EntitySchema) -> Any | None:
    """The native GX expectation for a rule, or None when the rule needs a computed flag."""
    gxe = _gx().expectations
    column = rule.column
    condition = {"row_condition": rule.when, "condition_parser": "spark"} if rule.when else {}
    kind = schema.column(column).type
    if rule.check == "not_null":
        if kind == "string":
            return None  # blank text counts as missing, as in quarantine: computed flag
        return gxe.ExpectColumnValuesToNotBeNull(column=column, **condition)
    if rule.check == "regex":
        return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=rule.pattern, **condition)
    if rule.check == "max_length":
        if kind != "string":
            return None  # lengths of non-text columns: computed flag (CAST AS STRING)
        return gxe.ExpectColumnValueLengthsToBeBetween(
            column=column, max_value=int(float(str(rule.max))), **condition
        )
    if rule.check == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=list(rule.values or ()), **condition
        )
    if rule.check == "between":
        if kind in ("date", "timestamp"):
            return None  # date literals: computed flag, same SQL as curation
        return gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=float(str(rule.min)),
            max_value=float(str(rule.max)),
            **condition,
        )
    if rule.check == "not_after_column" and not rule.when:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=rule.other, column_B=column, or_equal=True
        )
    if rule.check == "null_when":
        if kind == "string":
            return None  # blank text counts as empty, as for not_null: computed flag
        return gxe.ExpectColumnValuesToBeNull(column=column, **condition)
    return None


def rule_expectation(rule: Rule, schema: EntitySchema) -> Any:
    """The expectation a rule becomes: native, or "the rule's flag column is all TRUE".

    The flag column (``_rule_<name>``) is computed by :func:`with_rule_flags` from the rule's
    Spark SQL, the same expression curation quarantines with.
    """
    expectation = _native(rule, schema)
    if expectation is None:
        expectation = _gx().expectations.ExpectColumnValuesToBeInSet(
            column=_flag_column(rule), value_set=[True]
        )
    _describe(expectation, rule.name, rule.blocking, f"{rule.description} ({rule.column})")
    return expectation


def seed_assertion_expectations(
    assertion: SeedAssertion, schema: EntitySchema, rules: RuleSet
) -> list[Any]:
    """The seed's column assertion as unexpected-count expectations, one per test it implements.

    ``missing_count <= 0``: no NULL in the column (expect_column_values_to_not_be_null);
    ``invalid_count == 0``: the expectation of the rule that says what a valid value is;
    ``duplicate_count == 0``: the column is unique, where it is the table's key (elsewhere the
    test cannot hold and the rules file says so in the assertion's ``departure``).
    """
    gxe = _gx().expectations
    column = assertion.column
    by_name = {rule.name: rule for rule in rules.rules}
    made: list[tuple[Any, str, Rule | None]] = []
    if assertion.missing_count:
        missing = gxe.ExpectColumnValuesToNotBeNull(column=column)
        made.append((missing, "missing_count <= 0", by_name[assertion.missing_count]))
    if assertion.invalid_count:
        valid = by_name[assertion.invalid_count]
        made.append((rule_expectation(valid, schema), "invalid_count == 0", valid))
    if "duplicate_count == 0" in assertion.seed.tests and is_key(schema, column):
        made.append((gxe.ExpectColumnValuesToBeUnique(column=column), "duplicate_count == 0", None))
    for expectation, test, implementing in made:
        by = f" (rule {implementing.name})" if implementing else " (the key)"
        _describe(
            expectation,
            f"seed_{column}_{test.split()[0]}",
            implementing.blocking if implementing else True,
            f"the seed's assertion {test} on {column}{by}",
        )
    return [expectation for expectation, _, _ in made]


def build_expectations(schema: EntitySchema, rules: RuleSet) -> list[Any]:
    """The table's GX expectations, each tagged with its rule and whether it blocks."""
    gxe = _gx().expectations
    expectations = [rule_expectation(rule, schema) for rule in rules.rules]
    for assertion in rules.seed_assertions:
        expectations.extend(seed_assertion_expectations(assertion, schema, rules))

    key = list(schema.key)
    unique = (
        gxe.ExpectColumnValuesToBeUnique(column=key[0])
        if len(key) == 1
        else gxe.ExpectCompoundColumnsToBeUnique(column_list=key)
    )
    _describe(unique, "key_unique", True, f"{', '.join(key)} identifies exactly one row (dedupe)")
    expectations.append(unique)

    if _partition_columns(schema):
        partition_check = gxe.ExpectColumnValuesToBeInSet(column=PARTITION_FLAG, value_set=[True])
        _describe(
            partition_check,
            "partition_per_value",
            True,
            f"each row's ({', '.join(_partition_columns(schema))}) has exactly one Iceberg "
            "partition of the table",
        )
        expectations.append(partition_check)
    return expectations


def _describe(expectation: Any, rule: str, blocking: bool, text: str) -> None:
    expectation.meta = {"rule": rule, "blocking": blocking}
    expectation.severity = "critical" if blocking else "warning"
    expectation.description = f"[{rule}] {text}"


def table_fact_outcomes(rows: int, previous_rows: int | None) -> list[ExpectationOutcome]:
    """The table-level expectations, on the row count the snapshot's metadata gives.

    With a previous publish, the count must be within bounds of it (a warning: a lost or a
    duplicated extract shows up here first); before the first one, the table must have rows.
    """
    if previous_rows:
        low = math.floor(previous_rows * ROW_COUNT_MIN_RATIO)
        high = math.ceil(previous_rows * ROW_COUNT_MAX_RATIO)
        rule, blocking, success = "row_count_near_previous_publish", False, low <= rows <= high
    else:
        rule, blocking, success = "table_not_empty", True, rows >= 1
    return [
        ExpectationOutcome(
            rule=rule,
            expectation="expect_table_row_count_to_be_between",
            column=None,
            blocking=blocking,
            success=success,
            unexpected_count=None,
            unexpected_percent=None,
            observed=rows,
            from_metadata=True,
        )
    ]


def validation_frame(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    rows: DataFrame | None = None,
) -> DataFrame:
    """``rows`` (default: the curated table) plus one boolean column per rule GX cannot express
    natively."""
    check_rules_compile(spark, rules, schema)
    if rows is None:
        rows = spark.table(settings.spark_table(schema.curated_table))
    frame = with_rule_flags(spark, settings, rows, schema, rules)
    columns = _partition_columns(schema)
    if columns:
        # Iceberg's partitions metadata table lists every partition with live data files.
        partitions = (
            spark.table(settings.spark_table(schema.curated_table) + ".partitions")
            .select(*[F.col(f"partition.{quote(c)}").alias(c) for c in columns])
            .groupBy(*columns)
            .count()
            .withColumnRenamed("count", "_partitions")
        )
        frame = (
            frame.join(partitions, columns, "left")
            .withColumn(PARTITION_FLAG, F.coalesce(F.col("_partitions") == 1, F.lit(False)))
            .drop("_partitions")
        )
    return frame


def with_rule_flags(
    spark: SparkSession,
    settings: LakehouseSettings,
    frame: DataFrame,
    schema: EntitySchema,
    rules: RuleSet,
) -> DataFrame:
    """``frame`` plus the flag column (TRUE = rule holds) of every rule GX cannot express natively.

    ``references`` rules join the referenced curated table of ``settings``'s lakehouse.
    """
    for rule in rules.rules:
        if _native(rule, schema) is not None:
            continue
        if rule.check == "references":
            frame = add_reference_flag(spark, settings, frame, rule)
        frame = frame.withColumn(_flag_column(rule), ~F.expr(violation_sql(rule, schema)))
    return frame


def _partition_columns(schema: EntitySchema) -> list[str]:
    """Identity partition columns (the ones a row's values map to one partition)."""
    if not schema.partition_by or any(p.transform != "identity" for p in schema.partition_by):
        return []
    return [p.column for p in schema.partition_by]


# ------------------------------------------------------------------------------- running it
# Screening asks GX for pass/fail only: its unexpected counts are aggregates that GX bundles into
# a few Spark jobs over the whole suite. Counts, percentages and sample values cost one Spark job
# per expectation (measured: 96 expectations over 303 customers, 54 s as SUMMARY, 10 s as
# BOOLEAN_ONLY), so only the expectations that failed are asked again for them.
SCREENING_FORMAT: dict[str, Any] = {"result_format": "BOOLEAN_ONLY"}
DETAIL_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
FAILURES_SUFFIX = "_failures"


def validate_table(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    run_id: str,
    previous_rows: int | None = None,
) -> ValidationOutcome:
    """Run the table's suite on its current snapshot and update the Data Docs.

    The suite is screened (pass/fail, in few scans); when expectations fail, they run once more
    as ``<table>_failures`` for their unexpected counts and sample values. Both runs are pages of
    the Data Docs. It reads the whole table, or only the rows whose key changed since it last
    passed (see the module docstring); nothing, when nothing it reads changed.

    Args:
        spark: Session bound to the lakehouse's catalog (GX reuses it).
        settings: The lakehouse.
        schema: The entity whose curated table is validated.
        rules: Its rules.
        run_id: The Dagster run, part of the Data Docs run name.
        previous_rows: Row count of the table at the last publish, for the bounds expectation.
    """
    from great_expectations.core.run_identifier import RunIdentifier

    started = datetime.now(UTC)
    table = schema.curated_table
    expectations = build_expectations(schema, rules)
    snapshots = _snapshots_read(settings, schema, rules)
    rows = _table_rows(spark, settings, table, snapshots[table])
    facts = table_fact_outcomes(rows, previous_rows)
    validated = ValidatedState(
        snapshots={name: s.snapshot_id if s else None for name, s in snapshots.items()},
        # The rules and the schema too: a computed flag's expectation names only its column,
        # while the rule's SQL behind it (and the column types the mapping reads) may change.
        suite=inputs_fingerprint(
            {
                "expectations": [_configuration(e) for e in expectations],
                "rules": rules.model_dump(mode="json"),
                "schema": schema.model_dump(mode="json"),
                "great_expectations": metadata.version("great-expectations"),
            }
        ),
        partition_spec=load_iceberg_table(settings, table).metadata.default_spec_id,
    )
    earlier = _earlier_record(settings, table)
    if earlier is not None and earlier[0] == validated:
        outcome = earlier[1]
        log.info("%s: unchanged since %s, its outcome stands", table, outcome.run_name)
        return _with_facts(outcome, facts, started, rows, reused_from=outcome.run_name)

    changed = _changed_keys(spark, settings, schema, rules, earlier, validated, rows)
    selected = None
    if changed is not None and earlier is not None:
        keys, count = changed
        since = earlier[1]
        if not count:  # only a table the suite reads moved on: no row of this one changed
            log.info("%s: no row changed since %s, its outcome stands", table, since.run_name)
            outcome = _with_facts(since, facts, started, rows, reused_from=since.run_name)
            _record_outcome(settings, table, validated, outcome)
            return outcome
        selected = spark.table(settings.spark_table(table)).join(
            keys, list(schema.key), "left_semi"
        )

    run_name = f"{table}-{run_id}"
    run = RunIdentifier(run_name=run_name, run_time=started)
    meta = {"rules_file": f"quality/rules/{schema.entity}.yaml"}
    # Every expectation reads this frame: compute it once.
    frame = validation_frame(spark, settings, schema, rules, selected).persist(REUSED_FRAME_STORAGE)
    try:
        changed_rows = frame.count() if selected is not None else None
        if changed_rows is not None:
            log.info("%s: validating the %s row(s) whose key changed", table, f"{changed_rows:,}")
        with _gx_lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            context = run_gx_context(settings, run_id)
            batch_definition = _batch_definition(context, table)
            screening = _checkpoint(
                context, batch_definition, table, expectations, SCREENING_FORMAT, meta
            ).run(batch_parameters={"dataframe": frame}, run_id=run)
            ((key, validation),) = screening.run_results.items()
            results = [_outcome(result) for result in validation.results]
            failed = {outcome.rule for outcome in results if not outcome.success}
            failures_page = None
            if failed:
                again = [e for e in build_expectations(schema, rules) if e.meta["rule"] in failed]
                detail = _checkpoint(
                    context, batch_definition, table + FAILURES_SUFFIX, again, DETAIL_FORMAT, meta
                ).run(batch_parameters={"dataframe": frame}, run_id=run)
                ((detail_key, detail_validation),) = detail.run_results.items()
                details = {o.rule: o for o in map(_outcome, detail_validation.results)}
                results = [details.get(outcome.rule, outcome) for outcome in results]
                failures_page = _docs_path(context, detail_key)
            # GX's pages load their CSS/JS from CDNs: point them at the vendored copies.
            make_data_docs_offline(quality_dirs(settings)[1], settings.reports_dir)
            page = _docs_path(context, key)
            index = _docs_path(context, None)
    finally:
        frame.unpersist()
    outcome = ValidationOutcome(
        table=table,
        suite=f"{table}_suite",
        run_name=run_name,
        rows=rows,
        outcomes=results + facts,
        docs_page=page,
        docs_index=index,
        failures_page=failures_page,
        seconds=(datetime.now(UTC) - started).total_seconds(),
        changed_rows=changed_rows,
        changed_since=earlier[1].run_name if changed_rows is not None and earlier else None,
    )
    _record_outcome(settings, table, validated, outcome)
    return outcome


def _table_rows(
    spark: SparkSession, settings: LakehouseSettings, table: str, snapshot: Snapshot | None
) -> int:
    """Rows in ``snapshot``: its summary's count, exact while no delete file applies to it."""
    summary = snapshot.summary if snapshot is not None else None
    deletes = (
        sum(int(summary.get(k) or 0) for k in ("total-position-deletes", "total-equality-deletes"))
        if summary is not None
        else 0
    )
    if snapshot is None or not deletes:
        return snapshot_row_count(snapshot)
    # A merge-on-read write left delete files (the product writes copy-on-write): count them.
    qualified = settings.spark_table(table)
    return spark.sql(f"SELECT * FROM {qualified} VERSION AS OF {snapshot.snapshot_id}").count()


def _with_facts(
    outcome: ValidationOutcome,
    facts: list[ExpectationOutcome],
    started: datetime,
    rows: int,
    reused_from: str,
) -> ValidationOutcome:
    """An earlier outcome of the suite, with the table-level facts of the snapshot now."""
    kept = [o for o in outcome.outcomes if not o.from_metadata]
    seconds = (datetime.now(UTC) - started).total_seconds()
    return replace(
        outcome, outcomes=kept + facts, rows=rows, reused_from=reused_from, seconds=seconds
    )


# ----------------------------------------------------------- validating only what changed
@dataclass(frozen=True)
class ValidatedState:
    """Everything the suite's outcome depends on: the snapshots it reads and its expectations.

    Iceberg snapshots are immutable, so the same snapshots validated by the same suite give the
    same outcome: a run where nothing changed reuses the earlier outcome instead of scanning.
    """

    snapshots: dict[str, int | None]
    suite: str
    partition_spec: int | None = None


def _snapshots_read(
    settings: LakehouseSettings, schema: EntitySchema, rules: RuleSet
) -> dict[str, Snapshot | None]:
    """The data snapshot of the curated table and of every table its ``references`` join.

    Through compactions (``data_snapshot``): maintenance rewriting files changes no row, so it
    does not make the suite run again.
    """
    tables = {schema.curated_table}
    tables |= {load_entity(rule.entity or "").curated_table for rule in rules.references}
    return {name: data_snapshot(load_iceberg_table(settings, name)) for name in sorted(tables)}


def _changed_keys(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    rules: RuleSet,
    earlier: tuple[ValidatedState, ValidationOutcome] | None,
    now: ValidatedState,
    rows: int,
) -> tuple[DataFrame, int] | None:
    """The keys of the curated rows to validate again and how many, or None: the whole table.

    Only after an outcome where every expectation of the same suite passed, on the same partition
    spec, and when every table the suite reads has since only been upserted (no key left a table
    a ``references`` rule reads, so no row that passed lost its parent).
    """
    if earlier is None:
        return None
    state, outcome = earlier
    if state.suite != now.suite or state.partition_spec != now.partition_spec:
        return None
    if not all(o.success for o in outcome.outcomes if not o.from_metadata):
        return None  # a failure's unexpected rows may be among the unchanged ones
    for rule in rules.references:
        parent = load_entity(rule.entity or "")
        if list(parent.key) != [rule.other]:
            return None  # a non-key value can leave the parent in an upsert
        table = parent.curated_table
        if not only_upserted_since(
            settings, table, state.snapshots.get(table), now.snapshots.get(table)
        ):
            return None
    table = schema.curated_table
    after, up_to = state.snapshots.get(table), now.snapshots[table]
    keys = keys_changed_since(spark, settings, table, list(schema.key), after, up_to)
    if keys is None:
        return None
    count = keys.count()
    # Past half of the table, one scan of all of it costs less than the scan and the join.
    return (keys, count) if count * 2 <= rows else None


def _record_path(settings: LakehouseSettings, table: str) -> Path:
    # In the GX project folder: the report server does not serve it (samples may be personal).
    return quality_dirs(settings)[0] / "validated" / f"{table}.json"


def _record_outcome(
    settings: LakehouseSettings, table: str, validated: ValidatedState, outcome: ValidationOutcome
) -> None:
    path = _record_path(settings, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"validated": asdict(validated), "outcome": asdict(outcome)}
    write_text_atomically(path, json.dumps(record, default=str, indent=1))


_PAGE_FIELDS = ("docs_page", "docs_index", "failures_page")


def _earlier_record(
    settings: LakehouseSettings, table: str
) -> tuple[ValidatedState, ValidationOutcome] | None:
    """The last recorded validation of ``table`` (state and outcome), if its pages still exist."""
    path = _record_path(settings, table)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        state = ValidatedState(**record["validated"])
        saved = record["outcome"]
        pages = {name: Path(saved[name]) if saved[name] else None for name in _PAGE_FIELDS}
        outcomes = [ExpectationOutcome(**o) for o in saved["outcomes"]]
        outcome = ValidationOutcome(**{**saved, **pages, "outcomes": outcomes})
    except (ValueError, KeyError, TypeError) as problem:
        log.warning("%s: ignoring an unreadable validation record (%s)", path, problem)
        return None
    kept = [outcome.docs_page, outcome.failures_page]
    return (state, outcome) if all(page is None or page.is_file() for page in kept) else None


def _configuration(expectation: Any) -> dict[str, Any]:
    """An expectation's stored configuration, without the id GX assigns when it is saved."""
    return {k: v for k, v in expectation.configuration.to_json_dict().items() if k != "id"}


def _checkpoint(
    context: Any,
    batch_definition: Any,
    name: str,
    expectations: list[Any],
    result_format: dict[str, Any],
    meta: dict[str, Any],
) -> Any:
    """The checkpoint ``<name>_checkpoint`` validating ``expectations``, stored in the context.

    Suite, validation definition and checkpoint are written only when they differ from the
    stored ones (a fingerprint in the suite's meta): GX's ``add_or_update`` compares every
    expectation with every stored one (measured: 12 s of a 23 s validation of 96 expectations).
    """
    gx = _gx()
    from great_expectations.checkpoint.actions import UpdateDataDocsAction
    from great_expectations.exceptions.exceptions import DataContextError

    configurations = [_configuration(e) for e in expectations]
    fingerprint = inputs_fingerprint(
        {
            "expectations": configurations,
            "result_format": result_format,
            "site": SITE_NAME,
            "batch_definition": batch_definition.id,
        }
    )
    names = (f"{name}_suite", f"{name}_validation", f"{name}_checkpoint")
    try:
        suite = context.suites.get(names[0])
        if suite.meta.get("fingerprint") == fingerprint:
            context.validation_definitions.get(names[1])
            return context.checkpoints.get(names[2])
    except DataContextError:
        pass  # not stored yet (or only in part): written below
    suite = context.suites.add_or_update(
        gx.ExpectationSuite(
            name=names[0], expectations=expectations, meta={**meta, "fingerprint": fingerprint}
        )
    )
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=names[1], data=batch_definition, suite=suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=names[2],
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[SITE_NAME])],
            result_format=result_format,
        )
    )


def _batch_definition(context: Any, table: str) -> Any:
    """Get-or-add (never add_or_update: that wipes the source's assets and their ids)."""
    try:
        source = context.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_spark(name=DATASOURCE)
    try:
        asset = source.get_asset(table)
    except LookupError:
        asset = source.add_dataframe_asset(name=table)
    try:
        return asset.get_batch_definition("whole_table")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole_table")


def _docs_path(context: Any, key: Any) -> Path | None:
    kwargs = {"site_name": SITE_NAME}
    if key is not None:
        kwargs["resource_identifier"] = key
    urls = context.get_docs_sites_urls(**kwargs)
    if not urls or not urls[0].get("site_url"):
        return None
    return Path(urls[0]["site_url"].removeprefix("file://"))


def _outcome(result: Any) -> ExpectationOutcome:
    config = result.expectation_config
    meta = config.meta or {}
    details = result.result or {}
    column = config.kwargs.get("column") or (
        f"{config.kwargs.get('column_A')} >= {config.kwargs.get('column_B')}"
        if config.kwargs.get("column_A")
        else None
    )
    sample = (
        details.get("partial_unexpected_list")
        or details.get("details", {}).get("unexpected_rows")
        or []
    )
    return ExpectationOutcome(
        rule=str(meta.get("rule", config.type)),
        expectation=config.type,
        column=column,
        blocking=bool(meta.get("blocking", True)),
        success=bool(result.success),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        sample=[_plain(value) for value in list(sample)[:10]],
        observed=_plain(details.get("observed_value")),
    )


def _plain(value: Any) -> Any:
    """JSON-friendly rendering of a sample value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)
