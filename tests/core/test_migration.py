"""Catalog migration: tables are registered in another catalog, with their history, no copy."""

from __future__ import annotations

from pathlib import Path

import pytest
from lakehouse_support import customer, write_customers

from assets.raw.ingestion import ingest_entity
from customer_overview.catalog import open_catalog, prepare_catalog
from customer_overview.config import load_settings
from customer_overview.entities import load_entity
from customer_overview.errors import ConfigurationError
from operations.migration import migrate_catalog


def test_migrate_registers_every_table_once(lake_spark, lakehouse, tmp_path: Path):
    write_customers(lakehouse.landing_dir, "customers_00001.csv", [customer("1000000001")])
    ingest_entity(lake_spark, lakehouse, load_entity("customers"), "migration")
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        f"profiles:\n  shared:\n    catalog: {{type: sqlite, uri: '{tmp_path / 'shared.db'}'}}\n"
        f"    warehouse: '{lakehouse.warehouse}'\n"
    )
    target = load_settings(
        profile="shared",
        lakehouse_dir=lakehouse.lakehouse_dir,
        env={"LAKEHOUSE_PROFILES_FILE": str(profiles)},
    )
    report = migrate_catalog(lakehouse, target)
    assert set(report.registered) == {"customer_overview_raw", "landing_file_log"}
    source = open_catalog(lakehouse).load_table("fs_accelerator.customer_overview_raw")
    moved = open_catalog(target).load_table("fs_accelerator.customer_overview_raw")
    assert moved.metadata_location == source.metadata_location
    assert moved.scan().to_arrow()["cust_id"].to_pylist() == ["1000000001"]
    again = migrate_catalog(lakehouse, target)
    assert not again.registered and set(again.already_current) == set(report.registered)


def test_migrating_a_missing_or_empty_catalog_fails_without_creating_one(tmp_path: Path):

    missing = load_settings(profile="local", lakehouse_dir=tmp_path / "typo", env={})
    target = load_settings(profile="local", lakehouse_dir=tmp_path / "target", env={})
    with pytest.raises(ConfigurationError, match=r"typo/catalog\.db: no catalog to migrate"):
        migrate_catalog(missing, target)
    assert not (tmp_path / "typo").exists() and not (tmp_path / "target").exists()
    empty = load_settings(profile="local", lakehouse_dir=tmp_path / "empty", env={})
    prepare_catalog(empty)
    with pytest.raises(ConfigurationError, match="no tables in namespace 'fs_accelerator'"):
        migrate_catalog(empty, target)
    assert not (tmp_path / "target").exists()
