"""Campaign funnel events: layout, integrity, funnel order, manifest, persona-driven conversion."""

from __future__ import annotations

from itertools import pairwise

import pandas as pd
import pytest
from generator_test_support import SESSION_CONFIG, ages_at

from customer_overview.entities import load_entity

# The landing header is the contract ingestion reads with: the entity schema, in order.
COLUMNS = [column.name for column in load_entity("campaigns").columns]
MONTH_WINDOWS = {
    1: ("2024-01-01", "2024-02-01"),
    2: ("2024-02-01", "2024-03-01"),
    3: ("2024-03-01", "2024-04-01"),
}


@pytest.fixture(scope="module")
def events(drops) -> pd.DataFrame:
    return drops.frame("campaigns")


@pytest.fixture(scope="module")
def journeys(events: pd.DataFrame) -> pd.DataFrame:
    """One row per reached customer: stages reached, month."""
    return (
        events.assign(stage_order=events["stage_order"].astype(int))
        .groupby("cust_id")
        .agg(
            depth=("stage_order", "max"), events=("event_id", "size"), months=("_month", "nunique")
        )
    )


def test_files_and_manifest_entry(drops, events: pd.DataFrame) -> None:
    entry = drops.manifest["entities"]["campaigns"]
    files = SESSION_CONFIG.files
    assert [(f["batch"], f["month"]) for f in entry["files"]] == [
        (files + m, m) for m in range(1, SESSION_CONFIG.months + 1)
    ]
    assert [f["file"] for f in entry["files"]] == [
        f"campaigns/campaigns_{files + m:05d}.csv" for m in range(1, SESSION_CONFIG.months + 1)
    ]
    for drop in drops.files["campaigns"]:
        assert drop.header == ["", *COLUMNS]
        assert not drop.wrong_width
        assert len(drop.rows) > 0
    assert entry["key_column"] == "event_id" and entry["version_column"] == "modified_at"
    assert entry["rows"] == entry["valid_rows"] == entry["new_keys"] == len(events)
    assert entry["bad_rows"] == {}
    assert entry["initial_rows"] == entry["updates"] == entry["late_arrivals"] == 0
    assert entry["exact_duplicates"] == 0
    assert entry["expected_latest"] == entry["distinct_keys"] == entry["distinct_versions"]
    assert not drops.malformed_frame("campaigns").shape[0]


def test_event_fields(events: pd.DataFrame, rules: dict) -> None:
    assert events["event_id"].str.fullmatch(r"EV\d{14}").all()
    assert events["event_id"].is_unique
    assert set(events["campaign_id"]) == {"CMP2024CC01"}
    stages = rules["funnel_stages"]
    assert set(events["stage"]) == set(stages)
    assert (events["stage_order"].astype(int) == events["stage"].map(stages.index) + 1).all()
    assert set(events["channel"]) == {"Email", "SMS", "App", "Branch", "Call Center"}
    assert (events["created_at"] == events["event_ts"]).all()
    assert (events["modified_at"] == events["created_at"]).all()
    for month, (start, end) in MONTH_WINDOWS.items():
        in_month = events[events["_month"] == month]["event_ts"]
        assert in_month.between(start, end, inclusive="left").all(), month


def test_events_reference_delivered_living_adult_personal_customers(
    events: pd.DataFrame, customers: pd.DataFrame, products: pd.DataFrame, accounts: pd.DataFrame
) -> None:
    first_batch = customers.groupby("cust_id")["_batch"].min()
    assert events["cust_id"].isin(first_batch.index).all()
    assert (events["cust_id"].map(first_batch) < events["_batch"]).all()
    product_type = products.set_index("product_id")["product_type"]
    assert events["product_id"].isin(product_type.index).all()
    assert (events["product_id"].map(product_type) == "Credit Card").all()

    reached = events.drop_duplicates("cust_id")
    card_holders = set(accounts.loc[accounts["account_type"] == "Credit Card", "cust_id"])
    assert reached["cust_id"].isin(card_holders).mean() > 0.05, "card holders may be reached"
    for batch, rows in reached.groupby("_batch"):
        # The customer as delivered up to and including the events' file.
        delivered = customers[customers["_batch"] <= batch].sort_values("modified_at")
        state = delivered.drop_duplicates("cust_id", keep="last").set_index("cust_id")
        state = state.loc[rows["cust_id"]]
        assert (state["customer_type"] == "Personal").all(), batch
        assert (state["customer_status"] != "Deceased").all(), batch
        ages = ages_at(
            state["cust_dob"].reset_index(drop=True), rows["event_ts"].reset_index(drop=True)
        )
        assert (ages >= 18).all(), batch


def test_funnel_order(events: pd.DataFrame, journeys: pd.DataFrame, rules: dict) -> None:
    assert not events.duplicated(["cust_id", "stage"]).any()
    # Every reached customer starts at stage 1 and has every stage up to their last.
    assert (journeys["events"] == journeys["depth"]).all()
    assert (journeys["months"] == 1).all()
    ordered = events.assign(order=events["stage_order"].astype(int)).sort_values(
        ["cust_id", "order"]
    )
    same_customer = ordered["cust_id"].eq(ordered["cust_id"].shift())
    later = ordered["event_ts"] > ordered["event_ts"].shift()
    assert (later | ~same_customer).all()
    stages = rules["funnel_stages"]
    customers_at = [set(events.loc[events["stage"] == stage, "cust_id"]) for stage in stages]
    for earlier, next_stage in pairwise(customers_at):
        assert next_stage <= earlier


def test_manifest_funnel_matches_files(drops, events: pd.DataFrame, rules: dict) -> None:
    funnel = drops.manifest["entities"]["campaigns"]["funnel"]
    assert list(funnel) == rules["funnel_stages"]
    counts = events.groupby("stage")["cust_id"].nunique()
    assert funnel == {stage: int(counts.get(stage, 0)) for stage in rules["funnel_stages"]}
    values = list(funnel.values())
    assert values == sorted(values, reverse=True) and values[-1] > 0


def test_reach_is_spread_over_the_months(
    events: pd.DataFrame, journeys: pd.DataFrame, customers: pd.DataFrame
) -> None:
    personal = customers[customers["customer_type"] == "Personal"]
    existing = personal.loc[personal["_month"] < SESSION_CONFIG.months, "cust_id"].nunique()
    assert len(journeys) / existing == pytest.approx(0.40, abs=0.02)
    per_month = events[events["stage_order"] == "1"].groupby("_month").size()
    assert per_month.min() / per_month.max() > 0.8


def test_conversion_depends_on_persona(journeys: pd.DataFrame, personas: pd.Series) -> None:
    persona = personas.reindex(journeys.index)
    onboarded = (journeys["depth"] == 7).groupby(persona).mean()
    explored = (journeys["depth"] >= 2).groupby(persona).mean()
    for good in ("Prosperous and Content", "Deal Chasers"):
        for poor in ("Self Aware Avoiders", "Financially Stressed"):
            assert onboarded[good] > 5 * onboarded[poor], (good, poor)
            assert explored[good] > explored[poor] + 0.3, (good, poor)
        assert onboarded[good] > onboarded["Generic"]
    # Every persona is reached, the likely takers more often.
    reached = persona.value_counts() / personas.value_counts()
    assert set(reached.index) == set(personas)
    assert reached["Prosperous and Content"] > reached["Generic"] > reached["Financially Stressed"]
