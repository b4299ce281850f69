"""Latent personas: the pipeline's rules (marts/rules.yaml) recover them from the drops.

The personas are never written; the `personas` fixture recomputes them with
`generator.latent_personas`. The rules' features are computed in pandas from
the session run's files and the rules' conditions evaluated as written (DuckDB).
"""

from __future__ import annotations

import pandas as pd
import pytest

from generator.campaigns import FUNNEL_STAGES
from generator.personas import PERSONA_NAMES

MIN_RECOVERY = 0.85


def test_persona_names_and_stages_are_those_of_the_rules(rules: dict) -> None:
    assert [rule["name"] for rule in rules["archetypes"]] == list(PERSONA_NAMES)
    assert rules["funnel_stages"] == list(FUNNEL_STAGES)


def test_every_customer_has_a_persona(features: pd.DataFrame, drops) -> None:
    assert len(features) == drops.manifest["entities"]["customers"]["expected_latest"]
    assert features["persona"].notna().all()
    assert set(features["persona"]) == set(PERSONA_NAMES)
    assert features["archetype"].notna().all()


def test_persona_shares(features: pd.DataFrame, initial_customers: pd.DataFrame) -> None:
    shares = features["persona"].value_counts(normalize=True)
    # The seed's 3 % low CIBIL band is exactly the Financially Stressed.
    scores = initial_customers.set_index("cust_id")["cibil_score"].astype(int)
    stressed = features.loc[scores.index, "persona"] == "Financially Stressed"
    assert (stressed == (scores < 651)).all()
    assert shares["Financially Stressed"] == pytest.approx(0.03, abs=0.005)
    # 70 % of the ~18 % adults/businesses of 651-700; 50 % of the ~13 % affluent.
    assert shares["Recovering Credit Users"] == pytest.approx(0.125, abs=0.01)
    assert shares["Prosperous and Content"] == pytest.approx(0.065, abs=0.01)
    # 15 % and 10 % of the remaining living customers (Avoiders also take the
    # remaining Deceased without a card).
    assert shares["Deal Chasers"] == pytest.approx(0.11, abs=0.01)
    assert shares["Self Aware Avoiders"] == pytest.approx(0.13, abs=0.015)
    assert shares["Generic"] == pytest.approx(0.55, abs=0.02)


def test_rules_recover_the_personas(features: pd.DataFrame) -> None:
    recovered = (features["archetype"] == features["persona"]).groupby(features["persona"]).mean()
    assert set(recovered.index) == set(PERSONA_NAMES)
    assert (recovered >= MIN_RECOVERY).all(), recovered.round(4).to_dict()
    # Each rule also mostly finds its own persona.
    precision = (features["archetype"] == features["persona"]).groupby(features["archetype"]).mean()
    assert (precision >= 0.8).all(), precision.round(4).to_dict()


def test_persona_behaviour(features: pd.DataFrame, accounts: pd.DataFrame, drops) -> None:
    by_persona = features.groupby("persona")
    deal_chasers = features[features["persona"] == "Deal Chasers"]
    alive_all_run = deal_chasers["transactions"] >= 3 * (drops.manifest["config"]["months"] + 1)
    assert alive_all_run.mean() > 0.9
    assert deal_chasers["ecom_share"].between(0.44, 0.71).mean() > 0.97
    others = features[features["persona"] != "Deal Chasers"]
    assert ((others["ecom_share"] >= 0.4) & (others["transactions"] >= 3)).mean() < 0.005
    # Avoiders hold no card at all, not even a closed one, and barely transact.
    avoiders = set(features.index[features["persona"] == "Self Aware Avoiders"])
    cards = accounts[accounts["account_type"] == "Credit Card"]
    assert not cards["cust_id"].isin(avoiders).any()
    assert by_persona["transactions_per_month"].mean()["Self Aware Avoiders"] < 0.35
    # Recovering hold a loan; the Prosperous large deposits.
    assert by_persona["has_loan"].mean()["Recovering Credit Users"] > 0.98
    prosperous = features[features["persona"] == "Prosperous and Content"]
    assert (prosperous["casa_balance"] >= 500_000).mean() > 0.98


def test_spend_segments(features: pd.DataFrame, rules: dict) -> None:
    """With the thresholds of marts/rules.yaml, about half the spenders are Low, a tenth High."""
    segments = rules["spend_segments"]
    spend = features.loc[features["total_spend"] > 0, "total_spend"]
    assert len(spend) / len(features) > 0.8
    low = (spend < segments["low_below"]).mean()
    high = (spend >= segments["high_from"]).mean()
    assert low == pytest.approx(0.50, abs=0.04), low
    assert high == pytest.approx(0.10, abs=0.02), high
    # Spend grows with affluence.
    median = features[features["total_spend"] > 0].groupby("afflunce_level")["total_spend"].median()
    assert median["Low"] < median["Medium"] < median["High"]
