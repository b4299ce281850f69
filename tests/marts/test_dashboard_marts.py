"""The marts behind Spend Analysis and Campaign Funnel: one spend rule, conversion per stage.

Real Spark and Iceberg tables (a fresh catalog per test) with hand-made rows whose expected
figures are worked out here: a credit, a transfer and a reversed debit are not spend, so spend
over time (``mart_transactions_monthly.spend``) adds up to the customers' total spend
(``mart_customer_spend``) and to the spend per segment (``mart_spend_by_segment``).
"""

from __future__ import annotations

from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from customer_overview.catalog_metadata import ensure_curated_table
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from marts import build
from marts.rules import load_mart_rules

RULES = load_mart_rules()

CUSTOMERS = (
    "cust_id string, cust_first_name string, cust_last_name string, cibil_score int, "
    "afflunce_level string, customer_type string, cust_segment string, state string, "
    "country string, customer_risk_category string"
)
ACCOUNTS = "cust_id string, account_type string, account_status string, balance decimal(20,2)"


def _create(spark: SparkSession, settings: LakehouseSettings, table: str, ddl: str, rows) -> None:
    spark.createDataFrame(rows, ddl).writeTo(settings.spark_table(table)).using("iceberg").create()


def _seed(spark: SparkSession, settings: LakehouseSettings) -> None:
    person = ("Asha", "Rao", 720, "Medium", "Personal", "Urban", "Delhi", "India", "Low")
    _create(spark, settings, "customer_overview_dp", CUSTOMERS, [("c1", *person), ("c2", *person)])
    _create(spark, settings, "accounts_dp", ACCOUNTS, [("c1", "CASA", "Active", Decimal("10"))])
    # Timestamps and amounts as text, cast by Spark (the session's time zone is UTC).
    rows = [
        # January: c1 spends 100 (Ecom) + 50 (Travel); a salary credit, a transfer, a reversal.
        ("t1", "c1", "2024-01-05 10:00:00", "100.00", "debit", "UPI", "Ecom", "Posted"),
        ("t2", "c1", "2024-01-06 10:00:00", "50.00", "debit", "Card", "Travel", "Pending"),
        ("t3", "c1", "2024-01-01 09:00:00", "55000.00", "credit", "Transfer", "Salary", "Posted"),
        ("t4", "c1", "2024-01-07 10:00:00", "700.00", "transfer", "UPI", "Ecom", "Posted"),
        ("t5", "c1", "2024-01-08 10:00:00", "999.00", "debit", "UPI", "Ecom", "Reversed"),
        # February: c2 spends 25 (Ecom); a credit-only (mode, reason) cell has no spend.
        ("t6", "c2", "2024-02-02 10:00:00", "25.00", "debit", "UPI", "Ecom", "Posted"),
        ("t7", "c2", "2024-02-01 09:00:00", "40000.00", "credit", "NetBanking", "Rent", "Posted"),
    ]
    frame = spark.createDataFrame(
        rows,
        "transaction_id string, cust_id string, ts string, amount string, transaction_type string, "
        "transaction_mode string, transaction_reason string, status string",
    ).select(
        "transaction_id",
        "cust_id",
        F.col("ts").cast("timestamp").alias("transaction_ts"),
        F.col("amount").cast("decimal(20,2)").alias("amount"),
        "transaction_type",
        "transaction_mode",
        "transaction_reason",
        "status",
    )
    frame.writeTo(settings.spark_table("transactions_dp")).using("iceberg").create()


def test_spend_over_time_is_the_customers_spend(
    lake_spark: SparkSession, lakehouse: LakehouseSettings
) -> None:
    _seed(lake_spark, lakehouse)
    features = build.customer_features(lake_spark, lakehouse)
    spend = build.customer_spend(features, RULES)
    monthly = build.conform(
        build.transactions_monthly(lake_spark, lakehouse), load_entity("transactions_monthly")
    ).collect()
    by_segment = build.spend_by_segment(lake_spark, lakehouse, spend).collect()

    cells = {(str(r.month), r.transaction_mode, r.transaction_reason): r for r in monthly}
    assert cells[("2024-01-01", "UPI", "Ecom")].spend == Decimal("100.00")
    # The transfer of the same cell is a transaction (amount) but not spend.
    assert cells[("2024-01-01", "UPI", "Ecom")].amount == Decimal("800.00")
    assert cells[("2024-01-01", "UPI", "Ecom")].spend_transactions == 1
    assert cells[("2024-01-01", "Card", "Travel")].spend == Decimal("50.00")
    assert cells[("2024-01-01", "Transfer", "Salary")].spend == Decimal("0.00")
    assert cells[("2024-02-01", "NetBanking", "Rent")].spend == Decimal("0.00")
    assert cells[("2024-02-01", "NetBanking", "Rent")].spend_transactions == 0

    per_month: dict[str, Decimal] = {}
    for row in monthly:
        per_month[str(row.month)] = per_month.get(str(row.month), Decimal(0)) + row.spend
    assert per_month == {"2024-01-01": Decimal("150.00"), "2024-02-01": Decimal("25.00")}
    customers_total = sum((r.total_spend for r in spend.collect()), Decimal(0))
    assert customers_total == sum(per_month.values()) == Decimal("175.00")
    assert sum((r.amount for r in by_segment), Decimal(0)) == customers_total


def test_an_existing_mart_table_gains_new_columns(
    lake_spark: SparkSession, lakehouse: LakehouseSettings
) -> None:
    """A lakehouse built before ``spend`` existed: the next mart build adds it, then fills it."""
    schema = load_entity("transactions_monthly")
    table = lakehouse.spark_table(schema.curated_table)
    lake_spark.sql(
        f"CREATE TABLE {table} (month date, transaction_mode string, transaction_reason string, "
        "transactions bigint, amount decimal(20,2), customers bigint) USING iceberg"
    )
    ensure_curated_table(lake_spark, lakehouse, schema)
    build.add_missing_columns(lake_spark, lakehouse, schema)
    columns = {f.name: f.dataType.simpleString() for f in lake_spark.table(table).schema.fields}
    assert columns["spend"] == "decimal(20,2)" and columns["spend_transactions"] == "bigint"
    _seed(lake_spark, lakehouse)
    build.conform(build.transactions_monthly(lake_spark, lakehouse), schema).writeTo(
        table
    ).overwrite(F.lit(True))
    [total] = lake_spark.table(table).agg(F.sum("spend").alias("s")).collect()
    assert total.s == Decimal("175.00")


def test_funnel_conversion_from_the_previous_stage(
    lake_spark: SparkSession, lakehouse: LakehouseSettings
) -> None:
    stages = RULES.funnel_stages
    # c1..c4 reached stage 1, c1..c2 stage 2, c1 stage 3, nobody stage 4 and later.
    reached = {"c1": 3, "c2": 2, "c3": 1, "c4": 1}
    events = [
        (f"e{cust}{order}", "CMP1", cust, stages[order - 1], order)
        for cust, last in reached.items()
        for order in range(1, last + 1)
    ]
    _create(
        lake_spark,
        lakehouse,
        "campaign_events_dp",
        "event_id string, campaign_id string, cust_id string, stage string, stage_order int",
        events,
    )
    archetypes = lake_spark.createDataFrame(
        [(cust, "Deal Chasers") for cust in reached], "cust_id string, archetype string"
    )
    funnel = build.conform(
        build.campaign_funnel(lake_spark, lakehouse, archetypes, RULES),
        load_entity("campaign_funnel"),
    ).collect()
    deal = {
        row.stage_order: (row.customers, row.previous_stage_customers, row.conversion_from_previous)
        for row in funnel
        if row.archetype == "Deal Chasers"
    }
    assert deal[1] == (4, None, None)
    assert deal[2] == (2, 4, 0.5)
    assert deal[3] == (1, 2, 0.5)
    assert deal[4] == (0, 1, 0.0)
    assert deal[5] == (0, 0, None)  # nobody reached the previous stage: no rate
    generic = [row for row in funnel if row.archetype == "Generic"]
    assert {row.customers for row in generic} == {0}
    assert all(row.conversion_from_previous is None for row in generic)
