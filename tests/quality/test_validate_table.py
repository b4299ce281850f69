"""The GX suite run on a real curated Iceberg table: screening, details of failures, reuse.

The whole suite is screened for pass/fail; only failed expectations run again for their counts
and samples (``<table>_failures``); the stored suite, validation definition and checkpoint are
rewritten only when the expectations change; the same suite on the same snapshot is not run
again.
"""

from __future__ import annotations

from lakehouse_support import customer, write_customers

from assets.curated.curation import curate_entity
from assets.raw.ingestion import ingest_entity
from customer_overview.entities import load_entity
from quality.expectations import quality_dirs, validate_table
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
RULES = load_rules("customers")
TABLE = CUSTOMERS.curated_table


def _stored_suites(settings) -> dict[str, float]:
    """Suite file -> modification time, for every suite GX keeps."""
    root = quality_dirs(settings)[0]
    return {str(path): path.stat().st_mtime_ns for path in root.rglob("expectations/*.json")}


def test_a_suite_is_screened_failures_are_detailed_and_stored_objects_reused(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [customer("1000000001"), customer("1000000002"), customer("1000000003")],
    )
    ingest_entity(lake_spark, lakehouse, CUSTOMERS, "t1")
    curate_entity(lake_spark, lakehouse, CUSTOMERS, RULES, "t1")

    passing = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r1")
    assert passing.rows == 3
    assert not passing.blocking_failures and not passing.warnings
    assert passing.passed == len(passing.outcomes) > 50
    assert passing.failures_page is None
    assert passing.docs_page is not None and passing.docs_page.is_file()
    stored = _stored_suites(lakehouse)
    assert len(stored) == 1

    # Same snapshot, same suite: the earlier outcome stands, nothing is scanned or written.
    again = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r2")
    assert again.reused_from == passing.run_name == f"{TABLE}-r1"
    assert (again.passed, again.docs_page, again.rows) == (
        passing.passed,
        passing.docs_page,
        passing.rows,
    )
    assert _stored_suites(lakehouse) == stored

    # A rule whose SQL changes behind the same expectation (a computed flag's column): the
    # earlier outcome does not stand for the changed rule.
    changed = RULES.model_copy(
        update={
            "rules": tuple(
                rule.model_copy(update={"min": "1901-01-01"})
                if rule.name == "dob_plausible"
                else rule
                for rule in RULES.rules
            )
        }
    )
    revalidated = validate_table(lake_spark, lakehouse, CUSTOMERS, changed, run_id="r2a")
    assert revalidated.reused_from is None and revalidated.passed == passing.passed

    # The record names the snapshot: a record that does not parse is ignored, not trusted.
    record = quality_dirs(lakehouse)[0] / "validated" / f"{TABLE}.json"
    record.write_text("{not json", encoding="utf-8")
    rescanned = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r2b")
    assert rescanned.reused_from is None and rescanned.passed == passing.passed
    assert _stored_suites(lakehouse) == stored, "an unchanged suite was written again"
    assert rescanned.docs_page != passing.docs_page  # each validation is its own page

    curated = lakehouse.spark_table(TABLE)
    rows = lake_spark.table(curated).orderBy("cust_id").collect()
    twice = rows[0].asDict()
    out_of_range = {**rows[1].asDict(), "cust_id": "1000000009", "cibil_score": 999}
    lake_spark.createDataFrame([twice, out_of_range], lake_spark.table(curated).schema).writeTo(
        curated
    ).append()

    failing = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r3", previous_rows=3)
    assert failing.rows == 5 and failing.reused_from is None  # a new snapshot is validated
    # An append nobody recorded keys for: its rows' keys are validated, with every row of them.
    assert failing.changed_rows == 3 and failing.changed_since == rescanned.run_name
    by_rule = {o.rule: o for o in failing.blocking_failures}
    assert by_rule["key_unique"].unexpected_count == 2
    assert by_rule["key_unique"].sample == ["1000000001", "1000000001"]
    assert by_rule["cibil_score_range"].unexpected_count == 1
    assert by_rule["cibil_score_range"].sample == [999]
    # Passed expectations carry no detail: only the failed ones were asked again.
    assert all(o.unexpected_count is None for o in failing.outcomes if o.success)
    assert failing.failures_page is not None and failing.failures_page.is_file()
    page = failing.failures_page.read_text(encoding="utf-8")
    assert "cibil_score" in page and "999" in page
    # previous_rows turns "not empty" into bounds around it (5 rows: within 2..5 for 3): a
    # table-level fact from the snapshot's metadata, not a GX scan, so the stored suite is not
    # rewritten for it.
    (bounds,) = [o for o in failing.outcomes if o.rule == "row_count_near_previous_publish"]
    assert (bounds.success, bounds.observed, bounds.from_metadata) == (True, 5, True)
    assert "table_not_empty" not in {o.rule for o in failing.outcomes}
    ((suite_file, written),) = stored.items()
    assert _stored_suites(lakehouse)[suite_file] == written
