"""Fixtures of the generator tests: one 100k-customer run per session, parsed once.

The run has every feature on (3 monthly batches, 3 initial files, duplicates,
late arrivals, malformed rows), so each test reads the same files the pipeline
would.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from generator_test_support import RULES_PATH, SESSION_CONFIG, Drops, archetypes, rule_features

from generator import generate, latent_personas


@pytest.fixture(scope="session")
def drops(tmp_path_factory: pytest.TempPathFactory) -> Drops:
    """The session's 100k-customer run."""
    out_dir = tmp_path_factory.mktemp("drops") / "landing"
    manifest = generate(SESSION_CONFIG, out_dir)
    assert json.loads((out_dir / "manifest.json").read_text()) == manifest
    return Drops(out_dir, manifest)


@pytest.fixture(scope="session")
def customers(drops: Drops) -> pd.DataFrame:
    """Every valid, distinct customer version."""
    return drops.distinct_versions("customers")


@pytest.fixture(scope="session")
def initial_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """Valid customers of the initial load (files 1..K), one row each."""
    return customers[customers["_month"] == 0]


@pytest.fixture(scope="session")
def accounts(drops: Drops) -> pd.DataFrame:
    """Every account version."""
    return drops.distinct_versions("accounts")


@pytest.fixture(scope="session")
def transactions(drops: Drops) -> pd.DataFrame:
    """Every valid transaction version."""
    return drops.distinct_versions("transactions")


@pytest.fixture(scope="session")
def products(drops: Drops) -> pd.DataFrame:
    """The product catalogue."""
    return drops.frame("products")


@pytest.fixture(scope="session")
def rules() -> dict:
    """marts/rules.yaml: the pipeline's archetype rules, spend segments and funnel stages."""
    return yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def personas(drops: Drops) -> pd.Series:
    """The session run's latent persona per cust_id (never written; recomputed)."""
    latent = latent_personas(SESSION_CONFIG)
    return pd.Series(latent["persona"], index=latent["cust_id"].astype(str), name="persona")


@pytest.fixture(scope="session")
def features(
    customers: pd.DataFrame,
    accounts: pd.DataFrame,
    transactions: pd.DataFrame,
    personas: pd.Series,
    rules: dict,
) -> pd.DataFrame:
    """The rules' features per customer, with the latent persona and the rules' archetype."""
    frame = rule_features(customers, accounts, transactions, SESSION_CONFIG.months)
    frame["persona"] = personas.reindex(frame.index)
    frame["archetype"] = archetypes(frame, rules)
    return frame
