"""The whole Dagster graph on small generated data: generate -> run -> publish -> consume.

The session's first publish (``first_publish``, ``generated``, ``first_run`` in conftest.py) is
made once; every test here starts from its own fresh copy of it (``lake``), so each runs alone
and in any order: the first publish itself, reports, consumption, a second publish, a blocked
publish, a revoked policy, the same run on a cluster.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import yaml
from published_copy import FirstPublish
from pyspark.sql import functions as F

from assets.consumed.consume import ConsumptionError, query
from assets.curated.reconciliation import reconcile
from customer_overview.catalog import open_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.entities import all_entities, load_entity
from customer_overview.product import load_manifest
from customer_overview.publish_log import published_versions
from customer_overview.spark import spark_session
from operations.cli import main as cli
from pipelines.runner import run_config_for, run_pipeline
from quality.screenshot import screenshot

pytestmark = pytest.mark.slow

CUSTOMERS = load_entity("customers")


@pytest.fixture
def lake(first_publish: FirstPublish) -> LakehouseSettings:
    """A fresh copy of the first publish for each scenario."""
    return first_publish.restore()


def _count(lake: LakehouseSettings, table: str) -> int:
    return spark_session(lake).table(lake.spark_table(table)).count()


def test_first_run_publishes_what_the_generator_promised(lake, generated, first_run):
    assert first_run.exit_code == 0, (first_run.failed_steps, first_run.blocking_failures)
    assert not first_run.skipped_assets
    for schema in all_entities():
        expected = generated["entities"][schema.entity]
        assert _count(lake, schema.curated_table) == expected["expected_latest"], schema.entity
        assert _count(lake, schema.raw_table) == expected["rows"] - expected["exact_duplicates"]
        counts = reconcile(spark_session(lake), lake, schema)
        assert counts.lost == 0
        assert counts.quarantined == sum(expected["bad_rows"].values()), schema.entity
    checks = {(c.asset.split("/")[-1], c.check): c.passed for c in first_run.checks}
    assert checks[("customer_overview_dp", "gx_blocking_expectations")]
    assert checks[("customer_overview_dp__restricted", "no_pii_leak")]
    assert [row["version"] for row in published_versions(lake, "restricted")][:1] == ["1.0.0+1"]


def test_quarantine_names_file_line_and_rule(lake, generated, first_run):
    rows = spark_session(lake).table(lake.spark_table("customer_overview_quarantine")).collect()
    kinds = generated["entities"]["customers"]["bad_rows"]
    assert len(rows) == sum(kinds.values())
    for row in rows:
        assert row._source_file.startswith("customers/customers_") and row._source_line > 1
        assert row._rule_names and len(row._reasons) == len(row._rule_names)
    broken = {name for row in rows for name in row._rule_names}
    assert {"cibil_score_range", "email_format", "well_formed_record", "cust_id_present"} <= broken


def test_reports_are_written_and_render(lake, first_run, tmp_path):
    reports = lake.reports_dir
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert "customer_overview_dp_suite" in index and "Profile of customer_overview_dp" in index
    pages = sorted((reports / "quality" / "data_docs" / "validations").rglob("*.html"))
    assert len(pages) >= 4
    customer_page = next(p for p in pages if "customer_overview_dp_suite" in str(p))
    text = customer_page.read_text(encoding="utf-8")
    assert "cibil_score" in text and "cust_id" in text
    profile = next((reports / "profiles" / "customer_overview_dp").rglob("profile.html"))
    html = profile.read_text(encoding="utf-8")
    assert "cust_segment" in html and "sample of" in html
    assert "Rao" not in json.dumps(json.loads((profile.parent / "profile.json").read_text()))
    png = screenshot(reports / "index.html", tmp_path / "index.png")
    from PIL import Image

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20


def test_duckdb_answers_like_the_curated_table(lake, first_run, capsys):
    manifest = load_manifest()
    spark = spark_session(lake)
    expected = {
        row.country: row["count"]
        for row in spark.table(lake.spark_table("customer_overview_dp"))
        .groupBy("country")
        .count()
        .collect()
    }
    for group in ("restricted", "dob_bucketed", "pii_reader"):
        _columns, rows, version = query(
            lake, manifest, "select country, count(*) from customer_overview group by 1", group
        )
        assert dict(rows) == expected and version == "1.0.0+1"
    code = cli(
        [
            "--lakehouse-dir",
            str(lake.lakehouse_dir),
            "query",
            "--role",
            "restricted",
            "--format",
            "json",
            "select count(*) as n from customer_overview",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [{"n": sum(expected.values())}]


def test_roles_see_their_masks_and_nothing_else(lake, first_run):
    manifest = load_manifest()
    sql = "select cust_id, cust_first_name, email_addr, cust_dob from customer_overview order by cust_id limit 1"
    clear = query(lake, manifest, sql, "pii_reader")[1][0]
    hashed = query(lake, manifest, sql, "restricted")[1][0]
    bucketed = query(lake, manifest, sql, "dob_bucketed")[1][0]
    import hashlib

    assert hashed[1] == hashlib.sha256(clear[1].encode("utf-8")).hexdigest()
    assert hashed[3] is None  # no policy grants restricted TW.dob: denied by default
    assert bucketed[1] == "REDACTED" and bucketed[3].month in (1, 4, 7, 10) and bucketed[3].day == 1
    other = (
        lake.warehouse.removeprefix("file://") + "/fs_accelerator/customer_overview_dp__pii_reader"
    )
    with pytest.raises(ConsumptionError):
        query(lake, manifest, f"select * from iceberg_scan('{other}')", "restricted")


def test_other_engines_read_the_published_snapshot(lake, first_run):
    log = {row["table_name"]: row for row in published_versions(lake, "restricted")}
    table = open_catalog(lake).load_table(lake.table_identifier("customer_overview_dp__restricted"))
    published = log["customer_overview_dp__restricted"]
    assert table.metadata.refs["v1.0.0+1"].snapshot_id == published["snapshot_id"]
    assert (
        table.scan(snapshot_id=published["snapshot_id"]).to_arrow().num_rows
        == published["row_count"]
    )
    spark_rows = (
        spark_session(lake)
        .sql(
            f"SELECT count(*) AS n FROM {lake.spark_table('customer_overview_dp__restricted')} "
            "VERSION AS OF 'v1.0.0+1'"
        )
        .first()
        .n
    )
    assert spark_rows == published["row_count"]
    connect = lake.reports_dir / "product" / "connect"
    trino = (connect / "trino-lakehouse.properties").read_text()
    assert "connector.name=iceberg" in trino and "iceberg.catalog.type=jdbc" in trino
    assert f"jdbc:sqlite:{lake.sqlite_catalog_path}" in trino
    assert "lakehouse:" in (connect / ".pyiceberg.yaml").read_text()
    card = (lake.reports_dir / "product" / "product_card.md").read_text()
    assert "Who sees what" in card and "customer-overview-dp 1.0.0+1" in card


def _write_changes(lake: LakehouseSettings, statuses: dict[str, str]) -> None:
    """Land a customers file that changes the status of some customers (a later version)."""
    spark = spark_session(lake)
    rows = (
        spark.table(lake.spark_table("customer_overview_dp"))
        .where(F.col("cust_id").isin(list(statuses)))
        .collect()
    )
    path = lake.landing_dir / "customers" / "customers_09999.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", *CUSTOMERS.column_names])
        for index, row in enumerate(rows):
            values = row.asDict()
            values["customer_status"] = statuses[values["cust_id"]]
            values["modified_at"] = "2025-06-30 12:00:00"
            values["cibil_check_date"] = "2025-06-01"
            text = []
            for column in CUSTOMERS.column_names:
                value = values[column]
                text.append("" if value is None else str(value))
            writer.writerow([str(index), *text])


def test_second_publish_and_time_travel(lake, first_run):
    manifest = load_manifest()
    sql = "select cust_id, customer_status from customer_overview order by cust_id limit 3"
    before = query(lake, manifest, sql, "restricted")[1]
    _write_changes(
        lake,
        {cust_id: "Dormant" if status != "Dormant" else "Active" for cust_id, status in before},
    )
    second = run_pipeline(lake, run_config=run_config_for())
    assert second.exit_code == 0, (second.failed_steps, second.blocking_failures)
    after = query(lake, manifest, sql, "restricted")
    assert after[2] == "1.0.0+2"
    assert [status for _, status in after[1]] != [status for _, status in before]
    as_of_first = query(lake, manifest, sql, "restricted", as_of="1.0.0+1")
    assert as_of_first[1] == before and as_of_first[2] == "1.0.0+1"


def test_a_failed_blocking_check_keeps_the_previous_version(lake, first_run):
    spark = spark_session(lake)
    dp = lake.spark_table("customer_overview_dp")
    latest_before = published_versions(lake, "restricted")[-1]["version"]
    snapshot_before = spark.sql(f"SELECT snapshot_id FROM {dp}.refs WHERE name = 'main'").first()[0]
    some = spark.table(dp).orderBy("cust_id").limit(3).collect()
    duplicate = some[0].asDict()
    out_of_range = {**some[1].asDict(), "cust_id": "ZZ00000001", "cibil_score": 999}
    unknown_enum = {**some[2].asDict(), "cust_id": "ZZ00000002", "cust_segment": "Metro"}
    # Blank text is missing, for the blocking suite as for quarantine.
    blank_code = {**some[2].asDict(), "cust_id": "ZZ00000003", "country_code": "  "}
    spark.createDataFrame(
        [duplicate, out_of_range, unknown_enum, blank_code], spark.table(dp).schema
    ).writeTo(dp).append()
    try:
        summary = run_pipeline(
            lake,
            selection='key:"fs_accelerator/customer_overview_dp"+',
            run_config=run_config_for(),
        )
        assert summary.exit_code == 1
        failing = [c for c in summary.blocking_failures if c.check == "gx_blocking_expectations"]
        assert [c.asset for c in failing] == ["fs_accelerator/customer_overview_dp"]
        assert "fs_accelerator/customer_overview_publish_log" in summary.skipped_assets
        assert published_versions(lake, "restricted")[-1]["version"] == latest_before
        details = _latest_check_metadata(lake, "gx_blocking_expectations")
        counts = details["unexpected_counts"]
        assert (
            counts["key_unique"] == 2
            and counts["cibil_score_range"] == 1
            and counts["segment_allowed"] == 1
            and counts["country_code_present"] == 1
        )
    finally:
        spark.sql(
            f"CALL lakehouse.system.rollback_to_snapshot('fs_accelerator.customer_overview_dp', {snapshot_before})"
        )


def _latest_check_metadata(lake: LakehouseSettings, check: str) -> dict:
    from dagster import AssetCheckKey, AssetKey

    from pipelines.runner import dagster_instance

    instance = dagster_instance(lake)
    key = AssetCheckKey(AssetKey(["fs_accelerator", "customer_overview_dp"]), check)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    evaluation = record.event.dagster_event.event_specific_data
    return {name: value.value for name, value in evaluation.metadata.items()}


def test_publishing_after_a_policy_is_revoked_fails_the_leak_check(
    lake, first_run, tmp_path, monkeypatch
):
    policies = tmp_path / "policies"
    shutil.copytree(
        Path("policies"), policies, ignore=shutil.ignore_patterns("*.py", "*.md", "__pycache__")
    )
    (policies / "pii_reader_pass_through.yaml").unlink()
    manifest = yaml.safe_load(Path("dataproduct.yaml").read_text())
    manifest["consumers"]["policies_dir"] = str(policies)
    manifest_file = tmp_path / "dataproduct.yaml"
    manifest_file.write_text(yaml.safe_dump(manifest))
    monkeypatch.setenv("DATAPRODUCT_MANIFEST", str(manifest_file))
    latest_before = published_versions(lake, "pii_reader")[-1]["version"]
    summary = run_pipeline(lake, selection='key:"fs_accelerator/customer_overview_publish_log"')
    assert summary.exit_code == 1
    assert summary.failed_steps
    assert published_versions(lake, "pii_reader")[-1]["version"] == latest_before


# ----------------------------------------------------------------------------- scale-out
def _published_fingerprints(settings: LakehouseSettings, version: str) -> dict[str, list]:
    """Per output of the pii_reader group: row counts per partition and a content checksum."""
    from assets.consumed.consume import duckdb_connection, resolve_views

    connection = duckdb_connection()
    fingerprints = {}
    for view in resolve_views(settings, load_manifest(), "pii_reader", as_of=version):
        source = f"iceberg_scan('{view.metadata_location}', snapshot_from_id => {view.snapshot_id})"
        columns = [
            row[0]
            for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
            if row[0] != "_ingested_at"  # when each run ingested: the only legitimate difference
        ]
        schema = load_manifest().output(view.name).entity_schema
        groups = [p.column for p in schema.partition_by if p.transform == "identity"]
        group_sql = ", ".join(f'"{c}"' for c in groups) or "'all'"
        hashed = ", ".join(f'"{c}"' for c in columns)
        fingerprints[view.name] = connection.execute(
            f"SELECT {group_sql}, count(*), sum(hash({hashed})) FROM {source} "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    return fingerprints


def test_the_cluster_profile_publishes_the_same_product(lake, first_run, cluster_first_publish):
    # The same landing files, run by `customer-overview run` on a standalone Spark cluster (two
    # workers) with a PostgreSQL catalog (the session's cluster_first_publish).
    cluster_settings, _ = cluster_first_publish
    assert cluster_settings.catalog.type == "postgres"
    assert cluster_settings.spark.master.startswith("spark://")
    local = _published_fingerprints(lake, "1.0.0+1")
    remote = _published_fingerprints(cluster_settings, "1.0.0+1")
    assert local.keys() == remote.keys() and local["customer_overview"]
    for name in local:
        assert remote[name] == local[name], name
