"""The suite validates only the rows whose key changed, and reaches the whole table's verdict.

After a suite passed entirely, the next validation reads the rows of the keys curation merged
since (``customer_overview.changed_keys``); a change nobody recorded keys for (an ``UPDATE`` by
hand) or an earlier failure makes it read the whole table. Each delta verdict is compared with
the verdict of the same suite run on the whole table.
"""

from __future__ import annotations

import shutil

from lakehouse_support import customer, write_customers

from assets.curated.curation import curate_entity
from assets.raw.ingestion import ingest_entity
from customer_overview.changed_keys import changed_keys_dir
from customer_overview.entities import load_entity
from customer_overview.tables import current_snapshot_id
from quality.expectations import ValidationOutcome, quality_dirs, validate_table
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
RULES = load_rules("customers")
TABLE = CUSTOMERS.curated_table


def _verdicts(outcome: ValidationOutcome) -> dict[str, bool]:
    return {o.rule: o.success for o in outcome.outcomes}


def _whole_table_verdicts(spark, settings, run_id: str) -> dict[str, bool]:
    """The same suite on the whole table: without the earlier record nothing is skipped."""
    record = quality_dirs(settings)[0] / "validated" / f"{TABLE}.json"
    saved = record.read_bytes()
    record.unlink()
    try:
        whole = validate_table(spark, settings, CUSTOMERS, RULES, run_id=run_id)
        assert whole.changed_rows is None
        return _verdicts(whole)
    finally:
        record.write_bytes(saved)


def _drop(spark, settings, name: str, rows: list[dict[str, str]], run: str) -> None:
    write_customers(settings.landing_dir, name, rows)
    ingest_entity(spark, settings, CUSTOMERS, run)
    curate_entity(spark, settings, CUSTOMERS, RULES, run)


def test_only_changed_keys_are_validated_and_the_verdict_is_the_whole_tables(lake_spark, lakehouse):
    first = [customer(f"100000000{n}") for n in range(1, 5)]
    _drop(lake_spark, lakehouse, "customers_00001.csv", first, "t1")
    initial = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r1")
    assert initial.changed_rows is None and not initial.blocking_failures

    # One customer changed, one new: the suite reads those two rows, the table has five.
    changed = [
        customer("1000000002", city="Pune", modified_at="2023-02-01 10:00:00"),
        customer("1000000005"),
    ]
    _drop(lake_spark, lakehouse, "customers_00002.csv", changed, "t2")
    merged = current_snapshot_id(lakehouse, TABLE)
    assert (changed_keys_dir(lakehouse, TABLE) / str(merged)).is_dir()
    delta = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r2")
    assert (delta.rows, delta.changed_rows, delta.changed_since) == (5, 2, initial.run_name)
    assert not delta.blocking_failures and not delta.warnings
    assert _verdicts(delta) == _whole_table_verdicts(lake_spark, lakehouse, "r2-whole")

    # A changed customer breaking a warning rule (minor flag against the age): the delta finds
    # it, as the whole table does.
    minor = customer("1000000003", minor_flag="Yes", modified_at="2023-03-01 10:00:00")
    _drop(lake_spark, lakehouse, "customers_00003.csv", [minor], "t3")
    warned = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r3")
    assert warned.changed_rows == 1
    assert {o.rule for o in warned.warnings} == {"minor_flag_matches_age"}
    assert _verdicts(warned) == _whole_table_verdicts(lake_spark, lakehouse, "r3-whole")

    # After a warning, unchanged rows may hold it: the next validation reads everything.
    fixed = customer("1000000003", modified_at="2023-04-01 10:00:00")
    _drop(lake_spark, lakehouse, "customers_00004.csv", [fixed], "t4")
    after_warning = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r4")
    assert after_warning.changed_rows is None and not after_warning.warnings

    # A change nobody recorded keys for (an UPDATE by hand): the whole table is read, and the
    # broken row found although its key was never merged.
    table = lakehouse.spark_table(TABLE)
    lake_spark.sql(f"UPDATE {table} SET cibil_score = 999 WHERE cust_id = '1000000001'")
    by_hand = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r5")
    assert by_hand.changed_rows is None
    assert "cibil_score_range" in {o.rule for o in by_hand.blocking_failures}


def test_lost_key_sets_mean_the_whole_table(lake_spark, lakehouse):
    _drop(lake_spark, lakehouse, "customers_00001.csv", [customer("1000000001")], "t1")
    validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r1")
    moved = customer("1000000001", city="Pune", modified_at="2023-02-01 10:00:00")
    _drop(lake_spark, lakehouse, "customers_00002.csv", [moved, customer("1000000002")], "t2")
    # As after a crash between the MERGE (an overwrite: a row changed) and the recording of its
    # keys. (A MERGE that only inserts commits an append, whose new rows Iceberg can list.)
    shutil.rmtree(changed_keys_dir(lakehouse, TABLE))
    again = validate_table(lake_spark, lakehouse, CUSTOMERS, RULES, run_id="r2")
    assert (again.rows, again.changed_rows) == (2, None)
