"""mart_transactions_monthly recomputes only the months a change touched, and equals a rebuild.

On a copy of the first publish (marts built, changed keys recorded): a landed file updates one
transaction and adds one in a month the data did not have; the next build recomputes those two
months and keeps the others, and the mart then holds exactly what a whole rebuild computes. An
UPDATE by hand is followed the same way (the months come from the files it rewrote); a lost
build record (a crash between the mart's commit and its record) means a whole rebuild.
"""

from __future__ import annotations

from datetime import date

import pytest
from dagster import materialize
from lakehouse_support import land, row_multiset

from assets.curated.curation import curate_entity
from assets.raw.ingestion import ingest_entity
from customer_overview.asset_keys import table_key
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from customer_overview.resources import LakehouseResource
from customer_overview.spark import spark_session
from customer_overview.tables import current_snapshot_id
from marts import build
from marts.asset import marts_asset
from marts.grouped import last_build
from quality.rules import load_rules

TRANSACTIONS = load_entity("transactions")
MART = load_entity("transactions_monthly")


def _curated_transaction(spark, settings: LakehouseSettings, month: str) -> dict[str, str]:
    """A curated, posted transaction of ``month`` (YYYY-MM), as landed text."""
    row = (
        spark.table(settings.spark_table(TRANSACTIONS.curated_table))
        .where(f"date_format(transaction_ts, 'yyyy-MM') = '{month}' AND status = 'Posted'")
        .orderBy("transaction_id")
        .first()
    )
    assert row is not None
    text = {k: ("" if v is None else str(v)) for k, v in row.asDict().items()}
    for column in ("transaction_ts", "created_at", "modified_at"):
        text[column] = row[column].strftime("%Y-%m-%d %H:%M:%S")
    return text


def _build_marts(spark, settings: LakehouseSettings, run: str) -> object:
    ingest_entity(spark, settings, TRANSACTIONS, run)
    curate_entity(spark, settings, TRANSACTIONS, load_rules("transactions"), run)
    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(settings.lakehouse_dir))}
    result = materialize([marts_asset()], resources=resources)
    assert result.success
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == table_key(MART.curated_table)
    ]
    return event.materialization.metadata["rebuilt_groups"].value


def _mart_equals_whole_rebuild(spark, settings: LakehouseSettings) -> None:
    held = spark.table(settings.spark_table(MART.curated_table))
    rebuilt = build.conform(build.transactions_monthly(spark, settings), MART)
    assert row_multiset(held) == row_multiset(rebuilt)


@pytest.fixture(scope="module")
def lake_session(lake: LakehouseSettings):
    return spark_session(lake)


def test_only_the_months_a_change_touched_are_recomputed(lake, lake_session):
    spark = lake_session
    mart = spark.table(lake.spark_table(MART.curated_table))
    months = sorted({row.month for row in mart.select("month").distinct().collect()})
    assert len(months) >= 3, months  # the first publish spans more months than a change touches
    old_month = months[1]
    kept = row_multiset(mart.where(f"month NOT IN ('{old_month}')"))

    changed = _curated_transaction(spark, lake, old_month.strftime("%Y-%m"))
    changed |= {"amount": "123456.78", "modified_at": "2025-01-01 00:00:00"}
    new_month = date(months[-1].year + 1, 6, 1)
    added = changed | {
        "transaction_id": "TX99999999999999",
        "amount": "10.00",
        "transaction_ts": f"{new_month:%Y-%m}-15 12:00:00",
        "created_at": f"{new_month:%Y-%m}-15 12:00:00",
        "modified_at": f"{new_month:%Y-%m}-15 12:00:00",
    }
    land(lake.landing_dir, TRANSACTIONS, "transactions_90001.csv", [changed])
    assert _build_marts(spark, lake, "g1") == {"month": [old_month.isoformat()]}
    _mart_equals_whole_rebuild(spark, lake)
    land(lake.landing_dir, TRANSACTIONS, "transactions_90002.csv", [added])
    assert _build_marts(spark, lake, "g2") == {"month": [new_month.isoformat()]}
    _mart_equals_whole_rebuild(spark, lake)
    after = spark.table(lake.spark_table(MART.curated_table))
    untouched = after.where(f"month NOT IN ('{old_month}', '{new_month}')")
    assert row_multiset(untouched) == kept
    assert last_build(lake, MART.curated_table) is not None

    # Nothing new: nothing rebuilt, no new snapshot.
    snapshot = current_snapshot_id(lake, MART.curated_table)
    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(lake.lakehouse_dir))}
    assert materialize([marts_asset()], resources=resources).success
    assert current_snapshot_id(lake, MART.curated_table) == snapshot


def test_any_writer_is_followed_and_a_lost_record_rebuilds_the_whole_mart(lake, lake_session):
    spark = lake_session
    table = lake.spark_table(TRANSACTIONS.curated_table)
    moved = spark.table(table).where("transaction_id = 'TX99999999999999'").first()
    assert moved is not None  # added by the test above
    # An UPDATE by hand: the months come from the files it rewrote, whoever wrote them.
    spark.sql(f"UPDATE {table} SET amount = amount + 1 WHERE transaction_id = 'TX99999999999999'")
    month = moved.transaction_ts.date().replace(day=1).isoformat()
    assert _build_marts(spark, lake, "g3") == {"month": [month]}
    _mart_equals_whole_rebuild(spark, lake)

    # A crash between the mart's commit and its record: the record names an older snapshot.
    record = lake.lakehouse_dir / "state" / "mart_builds" / f"{MART.curated_table}.json"
    stale = record.read_text(encoding="utf-8")
    spark.sql(f"UPDATE {table} SET amount = amount + 1 WHERE transaction_id = 'TX99999999999999'")
    assert _build_marts(spark, lake, "g4") == {"month": [month]}
    record.write_text(stale, encoding="utf-8")
    assert last_build(lake, MART.curated_table) is None
    spark.sql(f"UPDATE {table} SET amount = amount + 1 WHERE transaction_id = 'TX99999999999999'")
    assert _build_marts(spark, lake, "g5") == "all"
    _mart_equals_whole_rebuild(spark, lake)

    # A record nobody can read (not JSON, or not a build record): a whole rebuild, no failure.
    for run, unreadable in (("g6", "{not json"), ("g7", '{"mart_snapshot": 1}')):
        record.write_text(unreadable, encoding="utf-8")
        spark.sql(
            f"UPDATE {table} SET amount = amount + 1 WHERE transaction_id = 'TX99999999999999'"
        )
        assert _build_marts(spark, lake, run) == "all"
        _mart_equals_whole_rebuild(spark, lake)
