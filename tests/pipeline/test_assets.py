"""Ingest and curate assets materialized with Dagster's test API on a real lakehouse."""

from __future__ import annotations

from dagster import AssetKey, materialize

from assets.curated.asset import curated_assets
from assets.raw.asset import raw_asset
from customer_overview.entities import load_entity
from customer_overview.resources import LakehouseResource

PRODUCTS = load_entity("products")


def _write_products(folder, rows):
    folder.mkdir(parents=True, exist_ok=True)
    header = "," + ",".join(PRODUCTS.column_names)
    lines = [header] + [f"{index},{row}" for index, row in enumerate(rows)]
    (folder / "products_00001.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_materialize_ingest_and_curate_with_metadata_and_checks(lake_spark, lakehouse):
    _write_products(
        lakehouse.landing_dir / "products",
        [
            "PRD0001,Gold Card,Credit Card,Card,0.00,999.00,,,2020-01-01,2020-01-01 00:00:00,2020-01-01 00:00:00",
            "PRD0002,Premium Savings,CASA,Savings,10000.00,0.00,3.500,4.000,2020-01-01,2020-01-01 00:00:00,2020-01-01 00:00:00",
            "PRD0003,Bad Fee,Loan,Secured Loan,0.00,-5.00,8.000,9.000,2020-01-01,2020-01-01 00:00:00,2020-01-01 00:00:00",
        ],
    )
    result = materialize(
        [raw_asset(PRODUCTS), curated_assets(PRODUCTS)],
        resources={"lakehouse": LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir))},
    )
    assert result.success
    raw = result.asset_materializations_for_node("fs_accelerator__products_raw")[0].metadata
    assert raw["rows_read"].value == 3 and raw["rows_inserted"].value == 3
    curated = {
        m.asset_key: m.metadata for m in result.asset_materializations_for_node("curate_products")
    }
    dp = curated[AssetKey(["fs_accelerator", "products_dp"])]
    assert dp["dagster/row_count"].value == 2 and dp["quarantined"].value == 1
    assert dp["dagster/table_name"].value == "lakehouse.fs_accelerator.products_dp"
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["landing_files_conform"].passed
    assert checks["no_row_lost"].passed
    assert checks["no_row_lost"].metadata["quarantined_rows"].value == 1
