"""Inputs that never landed, outputs left out of a version, and the freshness promise.

Real runs of the whole graph (Spark, Iceberg, GX) on a lakehouse whose landing folder holds
customer files only: the seed's own product is exactly that.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from dagster import AssetCheckKey, AssetKey, AssetSelection, Definitions, define_asset_job
from lakehouse_support import customer, write_customers

from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.errors import MissingInputError
from customer_overview.product import DEFAULT_MANIFEST, load_manifest
from customer_overview.publish_log import published_versions
from pipelines.definitions import freshness_checks
from pipelines.runner import RunSummary, dagster_instance, run_config_for, run_pipeline
from quality.gates import NO_INPUT_YET


def _embedded_settings(lakehouse_dir):
    # As tests/conftest.py's make_settings (a module named `conftest` is ambiguous across folders).
    return load_settings(profile="local", lakehouse_dir=lakehouse_dir, env={})


pytestmark = pytest.mark.slow

PUBLISH_KEY = AssetKey(["fs_accelerator", "customer_overview_publish_log"])


@pytest.fixture(scope="module")
def customers_only(tmp_path_factory, spark) -> tuple[LakehouseSettings, RunSummary]:
    settings = _embedded_settings(tmp_path_factory.mktemp("customers_only") / "lakehouse")
    write_customers(
        settings.landing_dir,
        "customers_20240101.csv",
        [customer(f"C{n:09d}", cust_first_name=name) for n, name in enumerate(["Asha", "José"])],
    )
    return settings, run_pipeline(settings, run_config=run_config_for())


def test_customer_files_alone_publish_the_customer_overview(customers_only) -> None:
    settings, summary = customers_only
    assert summary.exit_code == 0, [(c.asset, c.check, c.metadata) for c in summary.failed_checks]
    published = {row["output"] for row in published_versions(settings) if row["snapshot_id"]}
    assert published == {"customer_overview"}
    checks = {(c.asset, c.check): c for c in summary.checks}
    products = checks[("fs_accelerator/products_dp", "gx_blocking_expectations")]
    assert products.passed
    assert products.metadata["status"] == f"{NO_INPUT_YET}: products"
    assert summary.not_in_version["products"] == f"left out: {NO_INPUT_YET}: products"
    log_rows = published_versions(settings)
    assert {row["status"] for row in log_rows} == {"published"}
    assert "products" in log_rows[0]["not_published"]
    card = (settings.reports_dir / "product" / "product_card.md").read_text(encoding="utf-8")
    assert "Not in this version" in card
    assert f"**products**: left out: {NO_INPUT_YET}: products" in card


def test_a_required_input_that_never_landed_stops_before_spark(tmp_path: Path) -> None:
    settings = _embedded_settings(tmp_path / "lakehouse")
    (settings.landing_dir / "products").mkdir(parents=True)
    with pytest.raises(MissingInputError, match=str(settings.landing_dir / "customers")):
        run_pipeline(settings, run_config=run_config_for())
    # Nothing was created: no catalog, no warehouse.
    assert not settings.sqlite_catalog_path.exists()


def _freshness_result(settings: LakehouseSettings, max_age_hours: float) -> bool:
    data = yaml.safe_load(DEFAULT_MANIFEST.read_text())
    data["freshness"]["max_age_hours"] = max_age_hours
    path = settings.lakehouse_dir / "dataproduct_freshness.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    checks, _sensor = freshness_checks(load_manifest(path))
    job = define_asset_job("freshness_only", selection=AssetSelection.checks(*checks))
    definitions = Definitions(asset_checks=checks, jobs=[job])
    result = definitions.resolve_job_def("freshness_only").execute_in_process(
        instance=dagster_instance(settings)
    )
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.asset_check_key == AssetCheckKey(PUBLISH_KEY, "freshness_check")
    return evaluation.passed


def test_the_freshness_check_turns_red_when_the_data_is_older_than_promised(
    customers_only,
) -> None:
    settings, _summary = customers_only
    assert _freshness_result(settings, max_age_hours=26)
    time.sleep(2)
    assert not _freshness_result(settings, max_age_hours=1 / 3600)
