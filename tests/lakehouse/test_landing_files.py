"""What lands is read or named: any-case names, gzip, date subfolders, wrong delimiters, strays.

Real Spark, a real Iceberg catalog, real files; the Dagster check and the sensor on the same
lakehouse.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from dagster import build_sensor_context, materialize
from lakehouse_support import CUSTOMER_COLUMNS, customer, write_customers
from pyspark.sql import SparkSession

from assets.curated.curation import curate_entity
from assets.raw.asset import RECOGNISED_CHECK, raw_asset
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from customer_overview.landing_log import FILE_LOG_TABLE
from customer_overview.resources import LakehouseResource
from pipelines.definitions import JOB_NAME
from pipelines.runner import summarize
from pipelines.sensors import landing_sensor
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")


def _ingest_and_curate(spark: SparkSession, settings: LakehouseSettings, run_id: str = "t"):
    ingested = ingest_entity(spark, settings, CUSTOMERS, run_id)
    curate_entity(spark, settings, CUSTOMERS, load_rules("customers"), run_id)
    return ingested


def _rows(spark: SparkSession, settings: LakehouseSettings, table: str) -> list[dict]:
    return [row.asDict() for row in spark.table(settings.spark_table(table)).collect()]


def _gzip_in_place(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    return target


def test_any_case_gzip_and_subfolder_files_are_ingested_with_their_lines(
    lake_spark, lakehouse, dagster_instance
):
    landing = lakehouse.landing_dir
    upper = write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    upper.rename(upper.with_name("customers_00001.CSV"))
    write_customers(landing, "2024-01-31/customers_00002.csv", [customer("1000000002")])
    # A gzip file with a malformed line in the middle: line numbers count the decompressed text.
    plain = write_customers(
        landing, "customers_00003.csv", [customer("1000000003"), customer("1000000004")]
    )
    lines = plain.read_text(encoding="utf-8").splitlines()
    plain.write_text("\n".join([lines[0], lines[1], "2,only,three", lines[2]]) + "\n")
    _gzip_in_place(plain)

    sensor = landing_sensor(JOB_NAME, LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir)))
    before = sensor.evaluate_tick(build_sensor_context(instance=dagster_instance))
    assert len(before.run_requests) == 1  # the sensor sees these files...

    ingested = _ingest_and_curate(lake_spark, lakehouse)
    assert {report.file: report.status for report in ingested.files} == {
        "customers/customers_00001.CSV": "ingested",
        "customers/2024-01-31/customers_00002.csv": "ingested",
        "customers/customers_00003.csv.gz": "ingested",
    }
    curated = {row["cust_id"] for row in _rows(lake_spark, lakehouse, "customer_overview_dp")}
    assert curated == {"1000000001", "1000000002", "1000000003", "1000000004"}
    raw = {
        row["cust_id"]: (row["_source_file"], row["_source_line"])
        for row in _rows(lake_spark, lakehouse, "customer_overview_raw")
        if row["cust_id"]
    }
    assert raw["1000000002"] == ("customers/2024-01-31/customers_00002.csv", 2)
    assert raw["1000000004"] == ("customers/customers_00003.csv.gz", 4)
    [bad] = _rows(lake_spark, lakehouse, "customer_overview_quarantine")
    assert (bad["_source_file"], bad["_source_line"]) == ("customers/customers_00003.csv.gz", 3)
    assert "field_count_mismatch" in bad["_reasons"][0] and bad["_raw_line"] == "2,only,three"
    logged = {row["file"] for row in _rows(lake_spark, lakehouse, FILE_LOG_TABLE)}
    assert "customers/2024-01-31/customers_00002.csv" in logged

    # ... and, once they are ingested, nothing more: the sensor and ingestion agree.
    after = sensor.evaluate_tick(build_sensor_context(instance=dagster_instance))
    assert not after.run_requests and "no new landing files" in after.skip_message
    assert ingest_entity(lake_spark, lakehouse, CUSTOMERS, "again").files == []


def test_a_semicolon_file_is_quarantined_as_a_wrong_delimiter(lake_spark, lakehouse):
    landing = lakehouse.landing_dir
    path = write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")

    ingested = _ingest_and_curate(lake_spark, lakehouse)
    [report] = ingested.files
    assert report.status == "rejected_header"
    expected = (
        "customers/customers_00001.csv:1: header looks delimited by ';', expected ',' "
        "(split by it, its columns match the contract)"
    )
    assert report.problems == [expected]
    [row] = _rows(lake_spark, lakehouse, "customer_overview_quarantine")
    assert row["_source_line"] == 2
    assert row["_reasons"] == [f"well_formed_record: wrong_delimiter: {expected}"]
    assert not any("missing" in reason for reason in row["_reasons"])


def test_files_nobody_ingests_are_named_by_a_warning_check_and_the_sensor(
    lake_spark, lakehouse, dagster_instance
):
    landing = lakehouse.landing_dir
    write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    strays = {
        "customers/customers_00002.xlsx": ".xlsx is not a landing format",
        "customers/.customers_00003.csv.part": "hidden or temporary file",
        "customer/customers_00004.csv": "did you mean customers/?",
        "customers_00005.csv": "not in an entity's folder",
    }
    for name in strays:
        (landing / name).parent.mkdir(parents=True, exist_ok=True)
        (landing / name).write_text(",".join(CUSTOMER_COLUMNS) + "\n")

    result = materialize(
        [raw_asset(CUSTOMERS)],
        resources={"lakehouse": LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir))},
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    recognised = checks[RECOGNISED_CHECK]
    assert not recognised.passed and recognised.severity.value == "WARN"
    listed = recognised.metadata["not_ingested"].value
    for name, reason in strays.items():
        assert f"landing/{name}: " in listed and reason in listed
    assert checks["landing_files_conform"].passed  # the one real file is fine

    # The run summary prints it (a WARN check does not fail the run).
    summary = summarize(result, blocking_checks=set(), planned=set())
    [outcome] = [c for c in summary.failed_checks if c.check == RECOGNISED_CHECK]
    assert summary.exit_code == 0
    assert any("landing/customer/customers_00004.csv" in line for line in outcome.failure_details)

    # The sensor says so on its idle ticks too.
    sensor = landing_sensor(JOB_NAME, LakehouseResource(lakehouse_dir=str(lakehouse.lakehouse_dir)))
    tick = sensor.evaluate_tick(build_sensor_context(instance=dagster_instance))
    assert not tick.run_requests
    assert "4 file(s) not ingested" in tick.skip_message
    assert "landing/customers/customers_00002.xlsx" in tick.skip_message
