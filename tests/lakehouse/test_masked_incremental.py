"""Masked outputs follow the curated table by the rows that changed, and end up as a full rewrite.

Real Spark and Iceberg (a fresh catalog per test), hand-written customer files. After every
run, the audit branch of each role group holds exactly ``apply_masks`` of the curated table.
"""

from __future__ import annotations

from collections import Counter

from lakehouse_support import customer, write_customers
from pyspark.sql import DataFrame, SparkSession

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
from customer_overview.tables import load_iceberg_table
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


def _rows(frame: DataFrame) -> Counter:
    columns = sorted(frame.columns)
    return Counter(tuple(row[c] for c in columns) for row in frame.select(*columns).collect())


def _assert_branches_are_the_masked_curated_table(spark, settings) -> None:
    curated = spark.table(settings.spark_table(OUTPUT.source_table))
    for group in MANIFEST.consumers.role_groups:
        decisions = decisions_for(MANIFEST, POLICIES, OUTPUT, group, curated.columns)
        table = settings.spark_table(OUTPUT.published_table(group.name))
        branch = spark.sql(f"SELECT * FROM {table} VERSION AS OF '{AUDIT_BRANCH}'")
        assert _rows(branch) == _rows(apply_masks(curated, decisions)), group.name


def test_a_run_masks_only_the_rows_that_changed(lake_spark, lakehouse) -> None:
    landing = lakehouse.landing_dir
    write_customers(
        landing,
        "customers_00001.csv",
        [customer(f"100000000{n}", email_addr=f"person{n}@example.com") for n in range(1, 5)],
    )
    first = _run(lake_spark, lakehouse, "run-1")
    assert {result.mode for result in first} == {FULL}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # One customer changes (and moves state: another partition), one is new, two stay.
    write_customers(
        landing,
        "customers_00002.csv",
        [
            customer(
                "1000000002",
                email_addr="new.address@example.com",
                state="Karnataka",
                modified_at="2024-02-01 10:00:00",
            ),
            customer("1000000005", email_addr="person5@example.com"),
        ],
    )
    second = _run(lake_spark, lakehouse, "run-2")
    assert {result.mode for result in second} == {INCREMENTAL}
    # The old version of 1000000002 goes; its new version and 1000000005 are masked and added.
    assert {(r.rows_deleted, r.rows_appended, r.rows) for r in second} == {(1, 2, 5)}
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)

    # An older version arriving late changes nothing in the curated table: nothing is written.
    write_customers(
        landing,
        "customers_00003.csv",
        [customer("1000000002", modified_at="2023-01-01 10:00:00")],
    )
    before = {
        r.table: load_iceberg_table(lakehouse, r.table).snapshot_by_name(AUDIT_BRANCH)
        for r in second
    }
    third = _run(lake_spark, lakehouse, "run-3")
    for result in third:
        assert result.mode in (SKIPPED, INCREMENTAL)
        assert (result.rows_deleted, result.rows_appended) == (0, 0)
        assert result.rows == 5
    _assert_branches_are_the_masked_curated_table(lake_spark, lakehouse)
    for result in third:
        after = load_iceberg_table(lakehouse, result.table).snapshot_by_name(AUDIT_BRANCH)
        assert after is not None and before[result.table] is not None
        assert snapshot_rows(after) == snapshot_rows(before[result.table])


def snapshot_rows(snapshot) -> int:
    return int(snapshot.summary.get("total-records") or 0)
