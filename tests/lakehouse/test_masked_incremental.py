"""Masked outputs append what the curated table gained, and are rewritten on any other change.

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
    SKIPPED,
    MaskedOutput,
    decisions_for,
    product_policies,
    write_masked_outputs,
)
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from customer_overview.product import load_manifest
from policies import apply_masks
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
MANIFEST = load_manifest()
OUTPUT = MANIFEST.output("customer_overview")
POLICIES = product_policies(MANIFEST)


def _run(spark: SparkSession, settings: LakehouseSettings, run_id: str) -> list[MaskedOutput]:
    ingest_entity(spark, settings, CUSTOMERS, run_id)
    curate_entity(spark, settings, CUSTOMERS, load_rules("customers"), run_id)
    return write_masked_outputs(
        spark, settings, MANIFEST, OUTPUT, POLICIES, progress=lambda _: None
    )


def _assert_branches_are_the_masked_curated_table(spark, settings) -> None:
    curated = spark.table(settings.spark_table(OUTPUT.source_table))
    for group in MANIFEST.consumers.role_groups:
        decisions = decisions_for(MANIFEST, POLICIES, OUTPUT, group, curated.columns)
        table = settings.spark_table(OUTPUT.published_table(group.name))
        branch = spark.sql(f"SELECT * FROM {table} VERSION AS OF '{AUDIT_BRANCH}'")
        assert row_multiset(branch) == row_multiset(apply_masks(curated, decisions)), group.name


def test_rows_the_curated_table_gained_are_appended_and_any_other_change_rewrites(
    lake_spark, lakehouse
) -> None:
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

    # A customer changes (and moves state: another partition): the branch is rewritten whole.
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
    assert {(r.mode, r.rows) for r in third} == {(FULL, 6)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # An older version arriving late changes nothing in the curated table: nothing is written.
    write_customers(
        landing,
        "customers_00004.csv",
        [customer("1000000002", modified_at="2023-01-01 10:00:00")],
    )
    before = {r.table: r.audit_snapshot_id for r in third}
    fourth = _run(lake_spark, lakehouse, "run-4")
    assert {r.mode for r in fourth} == {SKIPPED}
    assert {r.table: r.audit_snapshot_id for r in fourth} == before
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)
