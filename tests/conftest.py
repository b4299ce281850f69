"""Shared fixtures: one Spark JVM per test session, real Iceberg catalogs in temporary folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_runs import describe, run_cli
from dagster import DagsterInstance
from published_copy import FirstPublish
from pyspark.sql import SparkSession

from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.spark import spark_session, stop_spark
from generator import GeneratorConfig
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


# ------------------------------------------------------- one first publish, restored per scenario
# Running the whole graph costs minutes: it runs once per test session, and every scenario that
# starts from a published product gets its own copy of it (tests/published_copy.py).
FIRST_PUBLISH_DATA = GeneratorConfig(customers=600, seed=11, months=2, bad_row_rate=0.02, files=2)


@pytest.fixture(scope="session")
def first_publish(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> FirstPublish:
    """The whole graph run once on generated data with every feature on (changes, duplicates,
    bad rows): it publishes version 1.0.0+1; the lakehouse is then saved for restoring."""
    from generator import generate

    settings = make_settings(tmp_path_factory.mktemp("published") / "lakehouse")
    generated = generate(FIRST_PUBLISH_DATA, settings.landing_dir)
    summary = run_pipeline(settings, run_config=run_config_for())
    assert summary.exit_code == 0, (summary.failed_steps, summary.blocking_failures)
    copy = tmp_path_factory.mktemp("first_publish_copy") / "lakehouse"
    return FirstPublish.save(settings, copy, generated, summary)


@pytest.fixture(scope="module")
def lake(first_publish: FirstPublish) -> LakehouseSettings:
    """A fresh copy of the first publish for this test module (its tests share it)."""
    return first_publish.restore()


# ------------------------------------------------ the cluster profile: one cluster per session
@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A standalone Spark master with two workers and a PostgreSQL server, started once: each
    cluster-profile scenario keeps its own catalog database on it (``create_database``)."""
    from operations import local_cluster

    folder = tmp_path_factory.mktemp("spark_cluster")
    state = local_cluster.start(folder, workers=2, worker_memory="1g")
    yield state
    local_cluster.stop(folder)


@pytest.fixture(scope="session")
def cluster_first_publish(
    first_publish: FirstPublish, spark_cluster: Any, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LakehouseSettings, dict[str, str]]:
    """The first publish's landing files run on the cluster profile (catalog database
    ``first_publish``, Spark on the cluster's workers) by ``customer-overview run``: version
    1.0.0+1. Scenarios may add versions; that version stays tagged for comparisons."""
    from operations.local_cluster import create_database

    create_database(spark_cluster, "first_publish")
    env = spark_cluster.profile_env("first_publish")
    lakehouse_dir = tmp_path_factory.mktemp("cluster_first_publish") / "lakehouse"
    for entity in first_publish.generated["entities"].values():
        for item in entity["files"]:
            target = lakehouse_dir / "landing" / item["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(first_publish.copy / "landing" / item["file"], target)
    settings = load_settings(lakehouse_dir=lakehouse_dir, env=env)
    finished = run_cli(settings, "run", env=env, timeout=3600)
    assert finished.returncode == 0, describe(finished)
    return settings, env


@pytest.fixture(scope="session")
def generated(first_publish: FirstPublish) -> dict[str, Any]:
    """The generator's manifest of the first publish's landing data."""
    return first_publish.generated


@pytest.fixture(scope="session")
def first_run(first_publish: FirstPublish) -> RunSummary:
    """The run that made the first publish (version 1.0.0+1)."""
    return first_publish.summary


@pytest.fixture
def dagster_instance() -> Iterator[DagsterInstance]:
    """A real, throw-away Dagster instance (sensors read it: they fail runs whose writer died)."""
    with DagsterInstance.ephemeral() as instance:
        yield instance
