"""Fixtures of the generator tests: one 100k-customer run per session, parsed once.

The run has every feature on (3 monthly batches, 3 initial files, duplicates,
late arrivals, malformed rows), so each test reads the same files the pipeline
would.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from generator_test_support import SESSION_CONFIG, Drops

from generator import generate


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
