"""The marts as Spark DataFrames over the curated tables (one function per mart)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema
from customer_overview.sql import quote, sql_string
from marts.rules import MartRules


def _not_reversed() -> Column:
    return F.col("status") != "Reversed"


def _is_spend() -> Column:
    """Spend: debit transactions that were not reversed (marts/rules.yaml)."""
    return (F.col("transaction_type") == "debit") & _not_reversed()


def _table(spark: SparkSession, settings: LakehouseSettings, table: str) -> DataFrame:
    return spark.table(settings.spark_table(table))


def spend_segment(rules: MartRules, total_spend: Column) -> Column:
    """Low / Medium / High from the thresholds of ``marts/rules.yaml``."""
    segments = rules.spend_segments
    return (
        F.when(total_spend < F.lit(segments.low_below), "Low")
        .when(total_spend >= F.lit(segments.high_from), "High")
        .otherwise("Medium")
    )


def customer_features(spark: SparkSession, settings: LakehouseSettings) -> DataFrame:
    """One row per customer: credit data, holdings and transaction behaviour."""
    customers = _table(spark, settings, "customer_overview_dp")
    transactions = _table(spark, settings, "transactions_dp").where(_not_reversed())
    accounts = _table(spark, settings, "accounts_dp")
    months = transactions.select(
        F.countDistinct(F.date_trunc("month", "transaction_ts")).alias("m")
    )
    behaviour = transactions.groupBy("cust_id").agg(
        F.count(F.lit(1)).alias("transactions"),
        F.avg((F.col("transaction_reason") == "Ecom").cast("double")).alias("ecom_share"),
        F.sum(F.when(_is_spend(), F.col("amount"))).alias("total_spend"),
    )
    open_account = F.col("account_status") != "Closed"
    holdings = accounts.groupBy("cust_id").agg(
        F.max((F.col("account_type") == "Credit Card") & open_account).alias("has_credit_card"),
        F.max((F.col("account_type") == "Loan") & open_account).alias("has_loan"),
        F.sum(F.when(F.col("account_type") == "CASA", F.col("balance"))).alias("casa_balance"),
    )
    return (
        customers.join(behaviour, "cust_id", "left")
        .join(holdings, "cust_id", "left")
        .crossJoin(F.broadcast(months))
        .select(
            "cust_id",
            "cust_first_name",
            "cust_last_name",
            "cibil_score",
            "afflunce_level",
            "customer_type",
            "cust_segment",
            "state",
            "country",
            "customer_risk_category",
            F.coalesce("has_credit_card", F.lit(False)).alias("has_credit_card"),
            F.coalesce("has_loan", F.lit(False)).alias("has_loan"),
            F.coalesce("casa_balance", F.lit(0)).cast("decimal(20,2)").alias("casa_balance"),
            F.coalesce("transactions", F.lit(0)).cast("bigint").alias("transactions"),
            (F.coalesce("transactions", F.lit(0)) / F.greatest(F.col("m"), F.lit(1)))
            .cast("double")
            .alias("transactions_per_month"),
            F.coalesce("ecom_share", F.lit(0.0)).alias("ecom_share"),
            F.coalesce("total_spend", F.lit(0)).cast("decimal(20,2)").alias("total_spend"),
        )
    )


def archetype(rules: MartRules) -> tuple[Column, Column]:
    """(archetype name, rule name): the first rule of ``marts/rules.yaml`` whose condition holds."""
    name: Column | None = None
    rule: Column | None = None
    for item in rules.archetypes:
        condition = F.coalesce(F.expr(item.when), F.lit(False))
        name = F.when(condition, item.name) if name is None else name.when(condition, item.name)
        rule = F.when(condition, item.rule) if rule is None else rule.when(condition, item.rule)
    assert name is not None and rule is not None  # rules has at least the catch-all
    return name, rule


def customer_archetype(features: DataFrame, rules: MartRules) -> DataFrame:
    name, rule = archetype(rules)
    return features.select(
        "cust_id",
        name.alias("archetype"),
        rule.alias("archetype_rule"),
        "cibil_score",
        "afflunce_level",
        "has_credit_card",
        "has_loan",
        "casa_balance",
        "transactions",
        "transactions_per_month",
        "ecom_share",
        "total_spend",
        "cust_segment",
        "state",
        "country",
        "customer_risk_category",
    )


def customer_spend(features: DataFrame, rules: MartRules) -> DataFrame:
    return features.select(
        "cust_id",
        "cust_first_name",
        "cust_last_name",
        "cust_segment",
        "state",
        "country",
        "customer_risk_category",
        "afflunce_level",
        "transactions",
        "total_spend",
        spend_segment(rules, F.col("total_spend")).alias("spend_segment"),
    )


def transaction_month() -> Column:
    """The month of a transaction (first day), the group of ``mart_transactions_monthly``."""
    return F.to_date(F.date_trunc("month", "transaction_ts")).alias("month")


def in_months(column: str, months: list[date]) -> Column:
    """Rows whose ``column`` (a timestamp) falls in one of ``months``, so that Iceberg prunes.

    The exact test is the month of the value; the ranges around each month (a day wider on each
    side, so that no time zone reading cuts a row off) are what Iceberg matches against the
    files' partition months and statistics: only those months' files are read.
    """
    value = F.col(column)
    ranges = F.lit(False)
    for month in months:
        start = datetime.combine(month, time.min) - timedelta(days=1)
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        end = datetime.combine(following, time.min) + timedelta(days=1)
        ranges = ranges | ((value >= F.lit(start)) & (value < F.lit(end)))
    return ranges & F.to_date(F.date_trunc("month", value)).isin(months)


def transactions_monthly(
    spark: SparkSession, settings: LakehouseSettings, months: list[date] | None = None
) -> DataFrame:
    """Transactions not reversed per month, mode and reason, with the spend among them.

    ``amount`` adds every non-reversed transaction (salary credits and transfers included);
    ``spend`` adds only what ``_is_spend`` calls spend, the rule ``mart_customer_spend`` sums per
    customer, so a chart of spend over time agrees with the customers' total spend.

    ``months``: only those months' rows (a group rebuild, :mod:`marts.grouped`); None: all.
    """
    spend = _is_spend()
    transactions = _table(spark, settings, "transactions_dp")
    if months is not None:
        transactions = transactions.where(in_months("transaction_ts", months))
    return (
        transactions.where(_not_reversed())
        .groupBy(
            transaction_month(),
            "transaction_mode",
            "transaction_reason",
        )
        .agg(
            F.count(F.lit(1)).alias("transactions"),
            F.sum("amount").cast("decimal(20,2)").alias("amount"),
            F.countDistinct("cust_id").alias("customers"),
            F.count(F.when(spend, F.lit(1))).alias("spend_transactions"),
            F.coalesce(F.sum(F.when(spend, F.col("amount"))), F.lit(0))
            .cast("decimal(20,2)")
            .alias("spend"),
        )
    )


def spend_by_segment(
    spark: SparkSession, settings: LakehouseSettings, spend: DataFrame
) -> DataFrame:
    segments = spend.select("cust_id", "spend_segment")
    return (
        _table(spark, settings, "transactions_dp")
        .where(_is_spend())
        .join(segments, "cust_id")
        .groupBy("spend_segment", "transaction_reason", "transaction_mode")
        .agg(
            F.count(F.lit(1)).alias("transactions"),
            F.sum("amount").cast("decimal(20,2)").alias("amount"),
            F.countDistinct("cust_id").alias("customers"),
        )
    )


def campaign_funnel(
    spark: SparkSession, settings: LakehouseSettings, archetypes: DataFrame, rules: MartRules
) -> DataFrame:
    """Every (campaign, archetype, stage), with the customers who reached it (0 if none)."""
    events = _table(spark, settings, "campaign_events_dp")
    reached = (
        events.join(archetypes.select("cust_id", "archetype"), "cust_id")
        .groupBy("campaign_id", "archetype", "stage")
        .agg(F.countDistinct("cust_id").alias("customers"))
    )
    stages = spark.createDataFrame(
        [(stage, order) for order, stage in enumerate(rules.funnel_stages, start=1)],
        "stage string, stage_order int",
    )
    names = spark.createDataFrame([(rule.name,) for rule in rules.archetypes], "archetype string")
    grid = events.select("campaign_id").distinct().crossJoin(names).crossJoin(stages)
    funnel = grid.join(reached, ["campaign_id", "archetype", "stage"], "left").withColumn(
        "customers", F.coalesce("customers", F.lit(0)).cast("bigint")
    )
    previous = Window.partitionBy("campaign_id", "archetype").orderBy("stage_order")
    with_previous = funnel.withColumn("previous_stage_customers", F.lag("customers").over(previous))
    return with_previous.select(
        "campaign_id",
        "archetype",
        "stage",
        "stage_order",
        "customers",
        "previous_stage_customers",
        conversion(F.col("customers"), F.col("previous_stage_customers")).alias(
            "conversion_from_previous"
        ),
    )


def conversion(customers: Column, previous_stage_customers: Column) -> Column:
    """Share of the previous stage's customers who reached this stage (0..1).

    Null for the first stage and when nobody reached the previous stage: no rate exists there.
    Over several rows (archetypes), the rate is ``sum(customers) / sum(previous)``, never the sum
    of the rows' rates; the dashboards' ``conversion_from_previous`` metric computes it so.
    """
    return F.when(
        previous_stage_customers > 0,
        customers.cast("double") / previous_stage_customers.cast("double"),
    )


def product_sales(spark: SparkSession, settings: LakehouseSettings) -> DataFrame:
    accounts = _table(spark, settings, "accounts_dp")
    products = _table(spark, settings, "products_dp")
    sold = accounts.groupBy("product_id").agg(
        F.count(F.lit(1)).alias("accounts"),
        F.sum((F.col("account_status") == "Active").cast("bigint")).alias("active_accounts"),
        F.countDistinct("cust_id").alias("customers"),
        F.sum("balance").cast("decimal(20,2)").alias("total_balance"),
    )
    return products.join(sold, "product_id", "left").select(
        "product_id",
        "product_name",
        "product_type",
        "product_category",
        F.coalesce("accounts", F.lit(0)).alias("accounts"),
        F.coalesce("active_accounts", F.lit(0)).alias("active_accounts"),
        F.coalesce("customers", F.lit(0)).alias("customers"),
        F.coalesce("total_balance", F.lit(0)).cast("decimal(20,2)").alias("total_balance"),
    )


def add_missing_columns(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> None:
    """Add the columns a mart's schema declares and its existing table lacks (schema evolution).

    Marts are rebuilt by a full overwrite, which needs the table to have every column of the
    rebuilt frame: a lakehouse built before a column was added to the mart gains it here, with
    its description, and the next overwrite fills it. Columns are only added, never dropped.
    """
    table = settings.spark_table(schema.curated_table)
    existing = {field.name for field in spark.table(table).schema.fields}
    for column in schema.columns:
        if column.name not in existing:
            spark.sql(
                f"ALTER TABLE {table} ADD COLUMN {quote(column.name)} {column.type} "
                f"COMMENT {sql_string(column.description)}"
            )


def conform(frame: DataFrame, schema: EntitySchema) -> DataFrame:
    """Select the mart's declared columns, in order, cast to the declared types."""
    return frame.select(*[F.col(c.name).cast(c.type).alias(c.name) for c in schema.columns])
