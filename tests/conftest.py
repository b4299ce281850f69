"""Shared fixtures: one Spark JVM per test session, real Iceberg catalogs in temporary folders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance
from pyspark.sql import SparkSession

from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.spark import spark_session, stop_spark
from pipelines.runner import RunSummary, run_config_for, run_pipeline


def make_settings(lakehouse_dir: Path) -> LakehouseSettings:
    """Embedded-default settings rooted at ``lakehouse_dir``, independent of the caller's env."""
    return load_settings(profile="local", lakehouse_dir=lakehouse_dir, env={})


@pytest.fixture(scope="session")
def new_lakehouse() -> Callable[[Path], LakehouseSettings]:
    """Make embedded-default settings for a folder (for module-scoped lakehouses)."""
    return make_settings


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> LakehouseSettings:
    """A lakehouse shared by tests that only need a Spark session and a scratch catalog."""
    return make_settings(tmp_path_factory.mktemp("session_lakehouse"))


@pytest.fixture(scope="session")
def spark(session_settings: LakehouseSettings) -> Iterator[SparkSession]:
    """The test session's Spark (local[2], UI off); other lakehouses get sessions on its JVM."""
    yield spark_session(session_settings)
    stop_spark()


@pytest.fixture
def lakehouse(tmp_path: Path, spark: SparkSession) -> LakehouseSettings:
    """A fresh, empty lakehouse (own SQLite catalog and warehouse) for one test."""
    return make_settings(tmp_path / "lakehouse")


@pytest.fixture
def lake_spark(lakehouse: LakehouseSettings) -> SparkSession:
    """A Spark session (same JVM) bound to the test's own ``lakehouse`` catalog."""
    return spark_session(lakehouse)


# --------------------------------------------------- one published lakehouse per test session
# Running the whole graph costs minutes; the end-to-end and dashboard tests share one run.
@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> LakehouseSettings:
    """The session's lakehouse for whole-graph tests."""
    return make_settings(tmp_path_factory.mktemp("e2e") / "lakehouse")


@pytest.fixture(scope="session")
def generated(lake: LakehouseSettings) -> dict:
    """Small generated landing data with every feature on (changes, duplicates, bad rows)."""
    from generator import GeneratorConfig, generate

    config = GeneratorConfig(customers=600, seed=11, months=2, bad_row_rate=0.02, files=2)
    return generate(config, lake.landing_dir)


@pytest.fixture(scope="session")
def first_run(lake: LakehouseSettings, generated: dict) -> RunSummary:
    """The first run of the whole graph on ``generated``: it publishes version 1.0.0+1."""
    return run_pipeline(lake, run_config=run_config_for())


@pytest.fixture
def dagster_instance() -> Iterator[DagsterInstance]:
    """A real, throw-away Dagster instance (sensors read it: they fail runs whose writer died)."""
    with DagsterInstance.ephemeral() as instance:
        yield instance
