"""Masked outputs append what the curated table gained, merge the keys it changed, and are
rewritten whole on a change nobody recorded or once deletes pile up.

Real Spark and Iceberg (a fresh catalog per test), hand-written customer files. After every
run, the audit branch of each role group holds exactly ``apply_masks`` of the curated table.
"""

from __future__ import annotations

from lakehouse_support import customer, row_multiset, write_customers
from pyspark.sql import SparkSession

from assets.curated.curation import curate_entity
from assets.governed.governance import (
    AUDIT_BRANCH,
    FULL,
    INCREMENTAL,
    MAX_DELETED_SHARE,
    MAX_MERGED_SHARE,
    MERGE_MIN_ROWS,
    MERGED,
    SKIPPED,
    MaskedOutput,
    decisions_for,
    merge_pays,
    product_policies,
    write_masked_outputs,
)
from assets.raw.ingestion import ingest_entity
from customer_overview.changed_keys import record_changed_keys, stage_changed_keys
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from customer_overview.product import load_manifest
from customer_overview.tables import current_snapshot_id, load_iceberg_table
from policies import apply_masks
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
MANIFEST = load_manifest()
OUTPUT = MANIFEST.output("customer_overview")
POLICIES = product_policies(MANIFEST)


def _run(
    spark: SparkSession, settings: LakehouseSettings, run_id: str, merge: bool | None = True
) -> list[MaskedOutput]:
    ingest_entity(spark, settings, CUSTOMERS, run_id)
    curate_entity(spark, settings, CUSTOMERS, load_rules("customers"), run_id)
    return _mask(spark, settings, merge)


def _assert_branches_are_the_masked_curated_table(spark, settings) -> None:
    curated = spark.table(settings.spark_table(OUTPUT.source_table))
    for group in MANIFEST.consumers.role_groups:
        decisions = decisions_for(MANIFEST, POLICIES, OUTPUT, group, curated.columns)
        table = settings.spark_table(OUTPUT.published_table(group.name))
        branch = spark.sql(f"SELECT * FROM {table} VERSION AS OF '{AUDIT_BRANCH}'")
        assert row_multiset(branch) == row_multiset(apply_masks(curated, decisions)), group.name


def _mask(
    spark: SparkSession, settings: LakehouseSettings, merge: bool | None = True
) -> list[MaskedOutput]:
    """Masked writes; MERGEs wherever the changed keys are known unless ``merge`` says else (a
    few rows would otherwise be rewritten whole: ``merge_pays``)."""
    return write_masked_outputs(
        spark, settings, MANIFEST, OUTPUT, POLICIES, progress=lambda _: None, merge=merge
    )


def _position_deletes(settings: LakehouseSettings, result: MaskedOutput) -> int:
    snapshot = load_iceberg_table(settings, result.table).snapshot_by_name(AUDIT_BRANCH)
    return int(snapshot.summary.get("total-position-deletes") or 0)


def test_masked_branches_follow_every_kind_of_curated_change(lake_spark, lakehouse) -> None:
    landing = lakehouse.landing_dir
    write_customers(
        landing,
        "customers_00001.csv",
        [customer(f"100000000{n}", email_addr=f"person{n}@example.com") for n in range(1, 5)],
    )
    first = _run(lake_spark, lakehouse, "run-1")
    assert {result.mode for result in first} == {FULL}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # Only new customers: the curated table's MERGE is an append; only they are masked.
    write_customers(
        landing,
        "customers_00002.csv",
        [customer(f"100000000{n}", email_addr=f"person{n}@example.com") for n in (5, 6)],
    )
    second = _run(lake_spark, lakehouse, "run-2")
    assert {(r.mode, r.rows_appended, r.rows) for r in second} == {(INCREMENTAL, 2, 6)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # A customer changes (and moves state: another partition): the curated upsert recorded its
    # key, so only that key is merged; the old row is hidden by a position delete.
    write_customers(
        landing,
        "customers_00003.csv",
        [
            customer(
                "1000000002",
                email_addr="new.address@example.com",
                state="Karnataka",
                modified_at="2024-02-01 10:00:00",
            )
        ],
    )
    third = _run(lake_spark, lakehouse, "run-3")
    assert {(r.mode, r.keys_merged, r.rows) for r in third} == {(MERGED, 1, 6)}
    assert {_position_deletes(lakehouse, r) for r in third} == {1}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # A key leaves the curated table, deleted by a writer that records the keys it changed:
    # the MERGE deletes it from every branch.
    curated = lakehouse.spark_table(OUTPUT.source_table)
    staged = stage_changed_keys(
        lakehouse,
        OUTPUT.source_table,
        lake_spark.createDataFrame([("1000000005",)], "cust_id string"),
    )
    lake_spark.sql(f"DELETE FROM {curated} WHERE cust_id = '1000000005'")
    record_changed_keys(
        lakehouse, OUTPUT.source_table, current_snapshot_id(lakehouse, OUTPUT.source_table), staged
    )
    fourth = _mask(lake_spark, lakehouse)
    assert {(r.mode, r.keys_merged, r.rows) for r in fourth} == {(MERGED, 1, 5)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # An older version arriving late changes nothing in the curated table: nothing is written.
    write_customers(
        landing,
        "customers_00004.csv",
        [customer("1000000002", modified_at="2023-01-01 10:00:00")],
    )
    before = {r.table: r.audit_snapshot_id for r in fourth}
    fifth = _run(lake_spark, lakehouse, "run-5")
    assert {r.mode for r in fifth} == {SKIPPED}
    assert {r.table: r.audit_snapshot_id for r in fifth} == before
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # Deletes now hide 2 of 5 rows, past the share readers should pay for: the next change
    # rewrites each branch whole, with no delete file left.
    assert MAX_DELETED_SHARE < 2 / 5
    write_customers(
        landing,
        "customers_00005.csv",
        [customer("1000000003", email_addr="third@example.com", modified_at="2024-03-01 10:00:00")],
    )
    sixth = _run(lake_spark, lakehouse, "run-6")
    assert {(r.mode, r.rows) for r in sixth} == {(FULL, 5)}
    assert {_position_deletes(lakehouse, r) for r in sixth} == {0}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # A change nobody recorded (a hand-made UPDATE): the branches are rewritten whole.
    lake_spark.sql(
        f"UPDATE {curated} SET email_addr = 'by.hand@example.com' WHERE cust_id = '1000000001'"
    )
    seventh = _mask(lake_spark, lakehouse)
    assert {(r.mode, r.rows) for r in seventh} == {(FULL, 5)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # A recorded change again, with the cost rule choosing: 5 rows are cheaper to rewrite
    # whole than to merge into.
    write_customers(
        landing,
        "customers_00006.csv",
        [
            customer(
                "1000000004", email_addr="fourth@example.com", modified_at="2024-04-01 10:00:00"
            )
        ],
    )
    assert not merge_pays(5, 1)
    eighth = _run(lake_spark, lakehouse, "run-8", merge=None)
    assert {(r.mode, r.rows) for r in eighth} == {(FULL, 5)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)


def test_a_merge_pays_on_a_large_branch_with_few_changed_keys() -> None:
    assert merge_pays(MERGE_MIN_ROWS, 1)
    assert merge_pays(MERGE_MIN_ROWS, int(MAX_MERGED_SHARE * MERGE_MIN_ROWS))
    assert not merge_pays(MERGE_MIN_ROWS, int(MAX_MERGED_SHARE * MERGE_MIN_ROWS) + 1)
    assert not merge_pays(MERGE_MIN_ROWS - 1, 1)
    assert not merge_pays(10, 0)
