"""Late parents: a child row that lands before its parent is curated by the run after the parent.

Real Spark, a real Iceberg catalog per test, hand-written landing files. Every run curates the
entities in the pipeline's dependency order (customers, products, accounts, transactions).
"""

from __future__ import annotations

import pytest
from dagster import AssetKey, materialize
from hypothesis import given
from hypothesis import strategies as st
from lakehouse_support import customer, land, write_customers
from pyspark.sql import SparkSession

from assets.curated.asset import curated_assets
from assets.curated.curation import (
    LATE_PARENTS_CHECKED,
    CurationResult,
    columns_read,
    curate_entity,
)
from assets.curated.reconciliation import reconcile
from assets.raw.asset import raw_asset
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, load_entity
from customer_overview.resources import LakehouseResource
from quality.rules import Rule, load_rules

CUSTOMERS = load_entity("customers")
PRODUCTS = load_entity("products")
ACCOUNTS = load_entity("accounts")
TRANSACTIONS = load_entity("transactions")
IN_ORDER = (CUSTOMERS, PRODUCTS, ACCOUNTS, TRANSACTIONS)


# ----------------------------------------------------------------------------- landing files
def product(product_id: str = "PRD0001") -> dict[str, str]:
    return {
        "product_id": product_id,
        "product_name": "Premium Savings",
        "product_type": "CASA",
        "product_category": "Savings",
        "min_balance": "10000.00",
        "annual_fee": "0.00",
        "interest_rate_min": "3.500",
        "interest_rate_max": "4.000",
        "launch_date": "2020-01-01",
        "created_at": "2020-01-01 00:00:00",
        "modified_at": "2020-01-01 00:00:00",
    }


def account(account_id: str, cust_id: str, **changes: str) -> dict[str, str]:
    row = {
        "account_id": account_id,
        "cust_id": cust_id,
        "product_id": "PRD0001",
        "account_type": "CASA",
        "account_status": "Active",
        "open_date": "2023-01-05",
        "balance": "2500.00",
        "interest_rate": "3.500",
        "currency": "INR",
        "created_at": "2023-01-05 09:00:00",
        "modified_at": "2023-01-05 09:00:00",
    }
    return row | changes


def transaction(transaction_id: str, account_id: str, cust_id: str) -> dict[str, str]:
    return {
        "transaction_id": transaction_id,
        "account_id": account_id,
        "cust_id": cust_id,
        "transaction_ts": "2023-02-01 12:30:00",
        "amount": "450.00",
        "currency": "INR",
        "transaction_type": "debit",
        "transaction_mode": "UPI",
        "transaction_reason": "Food & Grocery",
        "merchant_name": "Fresh Mart",
        "merchant_category": "Grocery",
        "counterparty_type": "external",
        "status": "Posted",
        "created_at": "2023-02-01 12:30:00",
        "modified_at": "2023-02-01 12:30:00",
    }


# ------------------------------------------------------------------------------------- runs
def run(spark: SparkSession, settings: LakehouseSettings, run_id: str) -> dict[str, CurationResult]:
    """Ingest and curate every entity in dependency order, as one pipeline run does."""
    results = {}
    for schema in IN_ORDER:
        ingest_entity(spark, settings, schema, run_id)
        results[schema.entity] = curate_entity(
            spark, settings, schema, load_rules(schema.entity), run_id
        )
    return results


def curated(spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema) -> dict:
    rows = spark.table(settings.spark_table(schema.curated_table)).collect()
    return {row[schema.key[0]]: row.asDict() for row in rows}


def quarantined(spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema) -> dict:
    """Quarantine rows by (key, modified_at text): one raw row each in these tests."""
    rows = spark.table(settings.spark_table(schema.quarantine_table)).collect()
    return {(row[schema.key[0]], row["modified_at"]): row.asDict(recursive=True) for row in rows}


def history(row: dict) -> list[tuple[str, str, list[str]]]:
    return [(entry["run_id"], entry["verdict"], entry["rule_names"]) for entry in row["_verdicts"]]


def accounted(spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema) -> tuple:
    counts = reconcile(spark, settings, schema)
    assert counts.lost == 0, counts.lost_sample
    assert counts.raw == counts.curated + counts.superseded + counts.quarantined
    return counts.raw, counts.curated, counts.superseded, counts.quarantined, counts.readmitted


V1 = "2023-01-05 09:00:00"


def test_children_that_landed_before_their_parents_are_curated_by_a_later_run(
    lake_spark, lakehouse
):
    landing = lakehouse.landing_dir
    write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    land(landing, PRODUCTS, "products_00001.csv", [product()])
    land(
        landing,
        ACCOUNTS,
        "accounts_00001.csv",
        [
            account("AC0000000001", "1000000001"),  # owner known: curated at once
            account("AC0000000002", "1000000002"),  # owner lands in run 2
            account("AC0000000003", "1000000009"),  # owner never lands
            # owner lands in run 2, but the row is also malformed: not a re-check candidate
            account("AC0000000004", "1000000002", open_date="05/01/2023"),
        ],
    )
    land(
        landing,
        TRANSACTIONS,
        "transactions_00001.csv",
        [
            transaction("TX00000000000001", "AC0000000001", "1000000001"),
            # its account and owner land in run 2
            transaction("TX00000000000002", "AC0000000002", "1000000002"),
            # its owner lands in run 2, its account never: one rule less, still quarantined
            transaction("TX00000000000003", "AC0000000099", "1000000002"),
        ],
    )
    first = run(lake_spark, lakehouse, "run-1")
    assert first["accounts"].quarantined == 3 and first["transactions"].quarantined == 2
    assert set(curated(lake_spark, lakehouse, ACCOUNTS)) == {"AC0000000001"}
    accounts_q = quarantined(lake_spark, lakehouse, ACCOUNTS)
    assert accounts_q[("AC0000000002", V1)]["_rule_names"] == ["owner_exists"]
    # one reason for the date in another format (not open_date_present), one for the owner
    assert accounts_q[("AC0000000004", V1)]["_rule_names"] == ["open_date_type", "owner_exists"]
    assert history(accounts_q[("AC0000000002", V1)]) == [("run-1", "rejected", ["owner_exists"])]

    # Run 2: only the customer lands. Nothing new for accounts or transactions to ingest.
    write_customers(landing, "customers_00002.csv", [customer("1000000002")])
    second = run(lake_spark, lakehouse, "run-2")
    assert second["accounts"].raw_rows_read == 0 and second["transactions"].raw_rows_read == 0
    assert (second["accounts"].rechecked, second["accounts"].readmitted) == (2, 1)
    assert second["accounts"].inserted == 1
    assert (second["transactions"].rechecked, second["transactions"].readmitted) == (2, 1)
    assert second["transactions"].inserted == 1

    accounts = curated(lake_spark, lakehouse, ACCOUNTS)
    assert set(accounts) == {"AC0000000001", "AC0000000002"}
    assert accounts["AC0000000002"]["cust_id"] == "1000000002"
    assert accounts["AC0000000002"]["_source_file"] == "accounts/accounts_00001.csv"
    assert set(curated(lake_spark, lakehouse, TRANSACTIONS)) == {
        "TX00000000000001",
        "TX00000000000002",
    }

    accounts_q = quarantined(lake_spark, lakehouse, ACCOUNTS)
    readmitted = accounts_q[("AC0000000002", V1)]
    assert readmitted["_resolved_run_id"] == "run-2" and readmitted["_resolved_at"] is not None
    assert readmitted["_rule_names"] == ["owner_exists"]  # why it had been quarantined
    assert history(readmitted) == [("run-1", "rejected", ["owner_exists"]), ("run-2", "valid", [])]
    for still in ("AC0000000003", "AC0000000004"):
        assert accounts_q[(still, V1)]["_resolved_at"] is None
        assert len(accounts_q[(still, V1)]["_verdicts"]) == 1  # verdict unchanged: no entry

    transactions_q = quarantined(lake_spark, lakehouse, TRANSACTIONS)
    assert transactions_q[("TX00000000000002", "2023-02-01 12:30:00")]["_resolved_run_id"] == (
        "run-2"
    )
    orphan = transactions_q[("TX00000000000003", "2023-02-01 12:30:00")]
    assert orphan["_resolved_at"] is None and orphan["_rule_names"] == ["account_exists"]
    assert history(orphan) == [
        ("run-1", "rejected", ["account_exists", "owner_exists"]),
        ("run-2", "rejected", ["account_exists"]),
    ]

    # raw = curated + superseded + quarantined; the re-admitted rows count as curated.
    assert accounted(lake_spark, lakehouse, ACCOUNTS) == (4, 2, 0, 2, 1)
    assert accounted(lake_spark, lakehouse, TRANSACTIONS) == (3, 2, 0, 1, 1)

    # Run 3, nothing new: no re-check, no commit.
    snapshots = {s.entity: s.quarantine_snapshot_id for s in second.values()}
    third = run(lake_spark, lakehouse, "run-3")
    assert all(result.rechecked == 0 for result in third.values())
    assert {s.entity: s.quarantine_snapshot_id for s in third.values()} == snapshots


def test_a_readmitted_version_competes_by_the_latest_version_rule(lake_spark, lakehouse):
    landing = lakehouse.landing_dir
    write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    land(landing, PRODUCTS, "products_00001.csv", [product()])
    land(
        landing,
        ACCOUNTS,
        "accounts_00001.csv",
        [
            # A: an old version with an unknown owner; its newer version lands with the owner.
            account("AC0000000001", "1000000005"),
            # B: the newer version is curated now; an older one waits for its (other) owner.
            account("AC0000000002", "1000000001", modified_at="2023-06-01 00:00:00"),
            account("AC0000000002", "1000000006", account_status="Dormant"),
            # C: the curated version is older than the one waiting for its owner.
            account("AC0000000003", "1000000001"),
            account(
                "AC0000000003",
                "1000000007",
                account_status="Closed",
                modified_at="2023-07-01 00:00:00",
            ),
        ],
    )
    first = run(lake_spark, lakehouse, "run-1")
    assert first["accounts"].quarantined == 3

    write_customers(
        landing,
        "customers_00002.csv",
        [customer("1000000005"), customer("1000000006"), customer("1000000007")],
    )
    land(
        landing,
        ACCOUNTS,
        "accounts_00002.csv",
        [account("AC0000000001", "1000000005", modified_at="2023-06-01 00:00:00", balance="99.00")],
    )
    second = run(lake_spark, lakehouse, "run-2")["accounts"]
    assert (second.raw_rows_read, second.rechecked, second.readmitted) == (1, 3, 3)
    # A: inserted (new version wins over the re-admitted one); B: the re-admitted older version
    # is superseded; C: the re-admitted newer version updates the curated row.
    assert (second.inserted, second.updated, second.superseded) == (1, 1, 2)
    accounts = curated(lake_spark, lakehouse, ACCOUNTS)
    assert str(accounts["AC0000000001"]["balance"]) == "99.00"
    assert accounts["AC0000000002"]["account_status"] == "Active"
    assert accounts["AC0000000002"]["cust_id"] == "1000000001"
    assert accounts["AC0000000003"]["account_status"] == "Closed"
    assert accounts["AC0000000003"]["cust_id"] == "1000000007"
    # Every quarantine row is resolved (valid), whether it won or was superseded.
    assert all(
        row["_resolved_run_id"] == "run-2"
        for row in quarantined(lake_spark, lakehouse, ACCOUNTS).values()
    )
    # raw 6 = curated 3 + superseded 3 (A v1, B v1 re-admitted, C v1 replaced); none quarantined.
    assert accounted(lake_spark, lakehouse, ACCOUNTS) == (6, 3, 3, 0, 3)


def test_an_older_lakehouse_gains_the_history_columns_and_its_orphans_are_readmitted(
    lake_spark, lakehouse
):
    landing = lakehouse.landing_dir
    write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    land(landing, PRODUCTS, "products_00001.csv", [product()])
    land(landing, ACCOUNTS, "accounts_00001.csv", [account("AC0000000001", "1000000002")])
    for schema in IN_ORDER[:3]:
        ingest_entity(lake_spark, lakehouse, schema, "old")
        curate_entity(lake_spark, lakehouse, schema, load_rules(schema.entity), "old")
    # Make it look like a lakehouse curated before re-admission existed.
    table = lakehouse.spark_table(ACCOUNTS.quarantine_table)
    lake_spark.sql(f"ALTER TABLE {table} DROP COLUMNS (_resolved_at, _resolved_run_id, _verdicts)")
    lake_spark.sql(
        f"ALTER TABLE {lakehouse.spark_table(ACCOUNTS.curated_table)} "
        f"UNSET TBLPROPERTIES ('{LATE_PARENTS_CHECKED}')"
    )
    assert reconcile(lake_spark, lakehouse, ACCOUNTS).quarantined == 1

    write_customers(landing, "customers_00002.csv", [customer("1000000002")])
    for schema in IN_ORDER[:3]:
        ingest_entity(lake_spark, lakehouse, schema, "new")
        result = curate_entity(lake_spark, lakehouse, schema, load_rules(schema.entity), "new")
    assert result.readmitted == 1
    [row] = quarantined(lake_spark, lakehouse, ACCOUNTS).values()
    assert history(row) == [("old", "rejected", ["owner_exists"]), ("new", "valid", [])]
    assert accounted(lake_spark, lakehouse, ACCOUNTS) == (1, 1, 0, 0, 1)


def test_the_curate_asset_reports_readmitted_rows(lake_spark, lakehouse):
    landing = lakehouse.landing_dir
    write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    land(landing, PRODUCTS, "products_00001.csv", [product()])
    land(landing, ACCOUNTS, "accounts_00001.csv", [account("AC0000000001", "1000000002")])
    assets = [raw_asset(schema) for schema in IN_ORDER[:3]] + [
        curated_assets(schema) for schema in IN_ORDER[:3]
    ]
    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir))}
    assert materialize(assets, resources=resources).success
    write_customers(landing, "customers_00002.csv", [customer("1000000002")])
    second = materialize(assets, resources=resources)
    assert second.success
    outputs = {
        m.asset_key: m.metadata for m in second.asset_materializations_for_node("curate_accounts")
    }
    assert outputs[AssetKey(["fs_accelerator", "accounts_dp"])]["readmitted"].value == 1
    assert (
        outputs[AssetKey(["fs_accelerator", "accounts_quarantine"])]["readmitted_this_run"].value
        == 1
    )
    check = next(
        e
        for e in second.get_asset_check_evaluations()
        if e.check_name == "no_row_lost" and e.asset_key.path[-1] == "accounts_dp"
    )
    assert check.passed
    assert check.metadata["quarantined_rows"].value == 0
    assert check.metadata["readmitted_rows"].value == 1


# ------------------------------------------------------------------------ pure: columns read
def _rule(**fields: object) -> Rule:
    return Rule.model_validate({"name": "r", "description": "d", **fields})


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (_rule(column="modified_at", check="not_null"), {"modified_at"}),
        (
            _rule(column="created_at", check="not_after_column", other="modified_at"),
            {"created_at", "modified_at"},
        ),
        (
            _rule(
                column="minor_flag",
                check="expression",
                expression="(minor_flag = 'Yes') = (months_between(modified_at, cust_dob) < 216)",
                when="customer_type = 'Personal'",
            ),
            {"minor_flag", "modified_at", "cust_dob", "customer_type"},
        ),
        # a column named only inside a string literal is not read
        (
            _rule(column="cust_segment", check="in_set", values=["cibil_score", "Urban"]),
            {"cust_segment"},
        ),
    ],
)
def test_columns_read_by_a_rule(rule: Rule, expected: set[str]) -> None:
    assert columns_read(rule, CUSTOMERS) == expected


@given(
    column=st.sampled_from(CUSTOMERS.column_names),
    literal=st.lists(st.sampled_from([*CUSTOMERS.column_names, "'", "\\", " ", "x"]), max_size=8),
)
def test_string_literals_never_count_as_columns(column: str, literal: list[str]) -> None:
    rule = _rule(column=column, check="in_set", values=["".join(literal)])
    assert columns_read(rule, CUSTOMERS) == {column}
