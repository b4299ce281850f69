"""Ingestion and curation on real Spark and a real Iceberg catalog, with hand-written files."""

from __future__ import annotations

from pathlib import Path

import pytest
from lakehouse_support import OSLO, customer, write_customers
from pyspark.sql import SparkSession

from assets.consumed.consume import duckdb_connection
from assets.curated.curation import curate_entity
from assets.curated.reconciliation import reconcile
from assets.raw.ingestion import ingest_entity
from customer_overview.catalog import open_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.entities import load_entity
from customer_overview.landing import list_landing_files
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
RULES = load_rules("customers")


def run_once(spark: SparkSession, settings: LakehouseSettings, run_id: str = "test"):
    ingested = ingest_entity(spark, settings, CUSTOMERS, run_id)
    curated = curate_entity(spark, settings, CUSTOMERS, RULES, run_id)
    return ingested, curated


def curated_rows(spark: SparkSession, settings: LakehouseSettings) -> dict[str, dict]:
    rows = spark.table(settings.spark_table("customer_overview_dp")).collect()
    return {row.cust_id: row.asDict() for row in rows}


def quarantine(spark: SparkSession, settings: LakehouseSettings) -> list[dict]:
    table = settings.spark_table("customer_overview_quarantine")
    return [
        row.asDict() for row in spark.table(table).orderBy("_source_file", "_source_line").collect()
    ]


def test_latest_version_wins_and_late_older_rows_do_not(lake_spark, lakehouse):
    landing = lakehouse.landing_dir
    write_customers(
        landing,
        "customers_00001.csv",
        [customer("1000000001"), customer("1000000002")],
    )
    run_once(lake_spark, lakehouse)
    write_customers(
        landing,
        "customers_00002.csv",
        [
            # a newer version moves the customer to Norway
            customer("1000000001", modified_at="2023-03-01 09:00:00", **OSLO),
            # a late row: older than what is already curated
            customer(
                "1000000002",
                modified_at="2022-12-31 09:00:00",
                customer_risk_category="High",
                created_at="2022-01-01 00:00:00",
            ),
        ],
    )
    ingested, curated = run_once(lake_spark, lakehouse)
    assert ingested.rows_inserted == 2
    assert (curated.updated, curated.inserted, curated.superseded) == (1, 0, 1)
    rows = curated_rows(lake_spark, lakehouse)
    assert rows["1000000001"]["country"] == "Norway"
    assert rows["1000000002"]["customer_risk_category"] == "Low"
    # The move left no copy in the old partition.
    partitions = {
        (row.partition.country, row.partition.state): row.record_count
        for row in lake_spark.table(
            lakehouse.spark_table("customer_overview_dp") + ".partitions"
        ).collect()
    }
    assert partitions == {("Norway", "Oslo"): 1, ("India", "Delhi"): 1}


def test_ties_on_modified_at_go_to_the_later_arrival(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [
            customer("1000000001", afflunce_level="Low"),
            customer("1000000001", afflunce_level="Medium"),
        ],
    )
    _, curated = run_once(lake_spark, lakehouse)
    assert curated.inserted == 1 and curated.superseded == 1
    assert curated_rows(lake_spark, lakehouse)["1000000001"]["afflunce_level"] == "Medium"


def test_reingesting_files_adds_nothing(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [
            customer("1000000001"),
            customer("1000000001"),  # exact duplicate in the same file
            customer("1000000002"),
        ],
    )
    first, _ = run_once(lake_spark, lakehouse)
    assert (first.rows_read, first.rows_inserted, first.duplicates_skipped) == (3, 2, 1)
    again = ingest_entity(
        lake_spark,
        lakehouse,
        CUSTOMERS,
        "again",
        files=list_landing_files(lakehouse.landing_dir, CUSTOMERS),
    )
    assert (again.rows_read, again.rows_inserted) == (3, 0)
    assert ingest_entity(lake_spark, lakehouse, CUSTOMERS, "nothing-new").rows_read == 0
    assert lake_spark.table(lakehouse.spark_table("customer_overview_raw")).count() == 2


def test_partition_spec_and_other_engines_read_what_spark_wrote(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [
            customer("1000000001"),
            customer("1000000002", **OSLO),
        ],
    )
    run_once(lake_spark, lakehouse)
    table = open_catalog(lakehouse).load_table(lakehouse.table_identifier("customer_overview_dp"))
    spec = [(field.name, str(field.transform)) for field in table.spec().fields]
    assert spec == [("country", "identity"), ("state", "identity")]
    assert table.properties["write.metadata.compression-codec"] == "gzip"
    assert table.properties["write.format.default"] == "parquet"
    assert sorted(table.scan().to_arrow()["cust_id"].to_pylist()) == ["1000000001", "1000000002"]
    connection = duckdb_connection()
    by_country = connection.execute(
        f"SELECT country, count(*) FROM iceberg_scan('{table.metadata_location}') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_country == [("India", 1), ("Norway", 1)]


def test_every_raw_row_is_accounted_for(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [
            customer("1000000001"),
            customer("1000000002", cibil_score="950"),
            customer("1000000003", email_addr="not an email"),
        ],
    )
    write_customers(
        lakehouse.landing_dir,
        "customers_00002.csv",
        [
            customer("1000000001", modified_at="2023-02-01 10:00:00"),
            customer("1000000002", modified_at="2023-02-01 10:00:00"),
        ],
    )
    run_once(lake_spark, lakehouse)
    counts = reconcile(lake_spark, lakehouse, CUSTOMERS)
    assert (counts.raw, counts.curated, counts.superseded, counts.quarantined, counts.lost) == (
        5,
        2,
        1,
        2,
        0,
    )
    reasons = {row["cust_id"]: row["_rule_names"] for row in quarantine(lake_spark, lakehouse)}
    assert reasons == {"1000000002": ["cibil_score_range"], "1000000003": ["email_format"]}


def test_a_bad_version_keeps_the_last_valid_one(lake_spark, lakehouse):
    write_customers(lakehouse.landing_dir, "customers_00001.csv", [customer("1000000001")])
    write_customers(
        lakehouse.landing_dir,
        "customers_00002.csv",
        [
            customer("1000000001", modified_at="2023-05-01 00:00:00", cust_segment="Metro"),
        ],
    )
    run_once(lake_spark, lakehouse)
    assert curated_rows(lake_spark, lakehouse)["1000000001"]["cust_segment"] == "Urban"
    [rejected] = quarantine(lake_spark, lakehouse)
    assert rejected["_rule_names"] == ["segment_allowed"]
    assert rejected["_source_file"] == "customers/customers_00002.csv"
    assert rejected["_source_line"] == 2
    assert "cust_segment=Metro" in rejected["_reasons"][0]


def test_incremental_run_rewrites_only_touched_customers(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [customer(str(1000000001 + i)) for i in range(20)],
    )
    run_once(lake_spark, lakehouse)
    write_customers(
        lakehouse.landing_dir,
        "customers_00002.csv",
        [
            customer("1000000005", modified_at="2023-06-01 00:00:00", customer_status="Dormant"),
        ],
    )
    ingested, curated = run_once(lake_spark, lakehouse)
    assert ingested.rows_read == 1 and curated.raw_rows_read == 1
    assert (curated.inserted, curated.updated) == (0, 1)
    rows = curated_rows(lake_spark, lakehouse)
    assert len(rows) == 20 and rows["1000000005"]["customer_status"] == "Dormant"


# ------------------------------------------------------------------------------ bad input
def test_bad_input_is_reported_with_file_and_line_and_nothing_is_lost(lake_spark, lakehouse):
    landing = lakehouse.landing_dir
    good = write_customers(landing, "customers_00001.csv", [customer("1000000001")])
    # missing column: the header does not match the contract
    write_customers(
        landing,
        "customers_00002.csv",
        [customer("1000000002")],
        columns=[c for c in CUSTOMERS.column_names if c != "email_addr"],
    )
    # extra column
    write_customers(
        landing,
        "customers_00003.csv",
        [customer("1000000003")],
        columns=[*CUSTOMERS.column_names, "extra"],
    )
    # empty file, header-only file
    (landing / "customers" / "customers_00004.csv").write_bytes(b"")
    header = good.read_text(encoding="utf-8").splitlines()[0]
    (landing / "customers" / "customers_00005.csv").write_text(header + "\n", encoding="utf-8")
    # a Latin-1 line (not UTF-8) and a truncated last line without newline
    body = good.read_text(encoding="utf-8").splitlines()[1]
    latin = body.replace("1000000001", "1000000006").replace("Île", "\xcele")
    truncated = body.replace("1000000001", "1000000007")[:60]
    with (landing / "customers" / "customers_00006.csv").open("wb") as handle:
        handle.write((header + "\n").encode("utf-8"))
        handle.write(latin.encode("latin-1") + b"\n")
        handle.write(truncated.encode("utf-8"))

    ingested, _curated = run_once(lake_spark, lakehouse)
    reports = {report.file.split("/")[-1]: report for report in ingested.files}
    assert reports["customers_00002.csv"].status == "rejected_header"
    assert "missing column(s) ['email_addr']" in reports["customers_00002.csv"].problems[0]
    assert "unexpected column(s) ['extra']" in reports["customers_00003.csv"].problems[0]
    assert reports["customers_00004.csv"].status == "empty"
    assert reports["customers_00005.csv"].status == "header_only"
    assert any("truncated" in problem for problem in reports["customers_00006.csv"].problems)

    rejected = {
        (row["_source_file"].split("/")[-1], row["_source_line"]): row
        for row in quarantine(lake_spark, lakehouse)
    }
    assert set(rejected) == {
        ("customers_00002.csv", 2),
        ("customers_00003.csv", 2),
        ("customers_00006.csv", 2),
        ("customers_00006.csv", 3),
    }
    assert rejected[("customers_00002.csv", 2)]["_reasons"][0].startswith(
        "well_formed_record: header_mismatch"
    )
    assert "invalid_utf8" in rejected[("customers_00006.csv", 2)]["_reasons"][0]
    assert "field_count_mismatch" in rejected[("customers_00006.csv", 3)]["_reasons"][0]
    assert rejected[("customers_00006.csv", 3)]["_raw_line"] == truncated
    assert set(curated_rows(lake_spark, lakehouse)) == {"1000000001"}
    assert reconcile(lake_spark, lakehouse, CUSTOMERS).lost == 0


def test_a_failed_commit_changes_nothing_visible(lake_spark, lakehouse, monkeypatch):
    write_customers(lakehouse.landing_dir, "customers_00001.csv", [customer("1000000001")])
    run_once(lake_spark, lakehouse)
    before = lake_spark.table(lakehouse.spark_table("customer_overview_dp")).collect()
    write_customers(
        lakehouse.landing_dir,
        "customers_00002.csv",
        [
            customer("1000000001", modified_at="2023-03-01 00:00:00", **OSLO),
        ],
    )
    ingest_entity(lake_spark, lakehouse, CUSTOMERS, "second")

    import assets.curated.curation as curation

    def fail_before_merge(*args, **kwargs):
        raise RuntimeError("simulated crash between quarantine and merge")

    monkeypatch.setattr(curation, "_write_latest", fail_before_merge)
    with pytest.raises(RuntimeError):
        curate_entity(lake_spark, lakehouse, CUSTOMERS, RULES, "crashing")
    assert lake_spark.table(lakehouse.spark_table("customer_overview_dp")).collect() == before
    monkeypatch.undo()
    # The next run picks up where the crashed one stopped: nothing was marked as curated.
    curated = curate_entity(lake_spark, lakehouse, CUSTOMERS, RULES, "recovery")
    assert curated.updated == 1
    assert curated_rows(lake_spark, lakehouse)["1000000001"]["country"] == "Norway"


def test_landing_folder_with_nothing(lake_spark, lakehouse: LakehouseSettings, tmp_path: Path):
    result = ingest_entity(lake_spark, lakehouse, CUSTOMERS, "empty")
    assert result.rows_read == 0 and result.files == []


# A value in another format: one reason (the format), never a second "missing" one. Each row
# breaks one typed column; the rules that read that column (`*_present`, `between`,
# `not_after_column`, `expression`) must stay silent about it.
BAD_FORMATS = {
    "1000000011": ("modified_at", "01/02/2023 10:00:00"),
    "1000000012": ("created_at", "2023-01-01T10:00:00Z"),
    "1000000013": ("cust_dob", "17/05/1990"),
    "1000000014": ("cibil_check_date", "2023.12.01"),
    "1000000015": ("cibil_score", "7x1"),
}


def test_a_value_in_another_format_gets_one_reason(lake_spark, lakehouse):
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [customer(cust_id, **{column: value}) for cust_id, (column, value) in BAD_FORMATS.items()],
    )
    run_once(lake_spark, lakehouse)
    rejected = {row["cust_id"]: row for row in quarantine(lake_spark, lakehouse)}
    assert set(rejected) == set(BAD_FORMATS)
    for cust_id, (column, value) in BAD_FORMATS.items():
        row = rejected[cust_id]
        assert row["_rule_names"] == [f"{column}_type"], (column, row["_reasons"])
        assert row["_reasons"] == [
            f"{column}_type: {column}={value} is not a valid {CUSTOMERS.column(column).type}"
        ]
    assert reconcile(lake_spark, lakehouse, CUSTOMERS).lost == 0


def test_a_missing_value_is_still_reported_as_missing(lake_spark, lakehouse):
    # The other side of the rule above: blank text did not fail to parse, it is missing.
    write_customers(
        lakehouse.landing_dir,
        "customers_00001.csv",
        [customer("1000000021", modified_at=""), customer("1000000022", cust_dob="  ")],
    )
    run_once(lake_spark, lakehouse)
    rejected = {row["cust_id"]: row["_rule_names"] for row in quarantine(lake_spark, lakehouse)}
    assert rejected == {"1000000021": ["modified_at_present"], "1000000022": ["dob_present"]}
