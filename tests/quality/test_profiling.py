"""Profiles: reproducible Spark samples, and real ydata-profiling reports written to disk."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from quality.profiling import (
    ProfileResult,
    ProfileSettings,
    earlier_profile,
    profile_table,
    sample_for_profile,
)

ROWS = 3_000
ROWS_TOTAL = 12_000
SNAPSHOT = "4242"
TABLE = "customer_overview"
ROW_FILTER = "country IS NOT NULL"


def customer_sample(rows: int = ROWS) -> pd.DataFrame:
    """A pseudonymised-looking sample: ids, hashed names, categories, numbers, dates, nulls."""
    rng = np.random.default_rng(7)
    email = pd.Series([f"user{i}@example.com" for i in range(rows)], dtype="object")
    email[::10] = None  # 10 % missing
    return pd.DataFrame(
        {
            "cust_id": np.arange(1, rows + 1),
            "cust_first_name": [f"{value:016x}" for value in rng.integers(0, 2**62, rows)],
            "cust_segment": rng.choice(["Urban", "Semi-Urban", "Rural"], rows),
            "email_addr": email,
            "balance": rng.normal(10_000, 2_500, rows).round(2),
            "cust_dob": pd.to_datetime("1960-01-01")
            + pd.to_timedelta(rng.integers(0, 40 * 4, rows) * 91, unit="D"),
            "bank_code": "BANK01",  # constant: must raise an alert
        }
    )


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> ProfileResult:
    """One real profile of a 3,000-row sample, shared by the assertions below (it takes seconds)."""
    return profile_table(
        customer_sample(),
        table=TABLE,
        snapshot_id=SNAPSHOT,
        reports_dir=tmp_path_factory.mktemp("reports"),
        rows_total=ROWS_TOTAL,
        settings=ProfileSettings(row_filter=ROW_FILTER, key_columns=("cust_id", "cust_segment")),
    )


def test_profile_writes_html_json_and_summary_in_the_snapshot_folder(
    profile: ProfileResult,
) -> None:
    folder = profile.html_path.parent
    assert folder.parts[-3:] == ("profiles", TABLE, SNAPSHOT)
    assert [profile.html_path.name, profile.json_path.name, profile.summary_path.name] == [
        "profile.html",
        "profile.json",
        "summary.md",
    ]
    for path in (profile.html_path, profile.json_path, profile.summary_path):
        assert path.parent == folder
        assert path.stat().st_size > 0


def test_profile_html_names_table_snapshot_filter_sample_and_columns(
    profile: ProfileResult,
) -> None:
    page = profile.html_path.read_text(encoding="utf-8")
    assert f"sample of {ROWS:,} of {ROWS_TOTAL:,} rows" in page
    assert f"<title>{TABLE} @ snapshot {SNAPSHOT}: sample of 3,000 of 12,000 rows</title>" in page
    assert f"Filter: {ROW_FILTER}" in page
    for column in customer_sample(10).columns:
        assert column in page
    # Self-contained: no script or stylesheet is fetched, so it opens offline.
    assert re.search(r"src=[\"']?https?:", page) is None
    assert re.search(r"<link[^>]+href=[\"']?https?:", page) is None


def test_profile_json_parses_with_every_column_and_trimmed_value_lists(
    profile: ProfileResult,
) -> None:
    report = json.loads(profile.json_path.read_text(encoding="utf-8"))
    assert set(report["variables"]) == set(customer_sample(10).columns)
    assert report["table"]["n"] == ROWS
    # Unique hashed names: ydata lists all 3,000; the written JSON keeps the top 10.
    first_names = report["variables"]["cust_first_name"]
    assert len(first_names["value_counts_without_nan"]) == 10
    assert "value_counts_index_sorted" not in first_names
    assert report["sample"] == []


def test_profile_result_counts(profile: ProfileResult) -> None:
    assert (profile.rows_total, profile.rows_profiled, profile.columns) == (ROWS_TOTAL, ROWS, 7)
    assert profile.missing_percent["email_addr"] == pytest.approx(10.0)
    assert profile.missing_percent["balance"] == 0.0
    assert profile.distinct_counts == {"cust_id": ROWS, "cust_segment": 3}
    assert "[bank_code] has a constant value" in profile.alerts
    assert profile.seconds > 0


def test_summary_markdown_lists_sample_missing_distinct_and_alerts(profile: ProfileResult) -> None:
    summary = profile.summary_path.read_text(encoding="utf-8")
    assert summary == profile.summary_markdown()
    assert f"sample of {ROWS:,} of {ROWS_TOTAL:,} rows" in summary
    assert f"`{ROW_FILTER}`" in summary
    assert "| email_addr | 10.00 |  |" in summary
    assert "| cust_id | 0.00 | 3,000 |" in summary
    assert "| cust_segment | 0.00 | 3 |" in summary
    assert "- [bank_code] has a constant value" in summary


def test_full_mode_keeps_row_samples_and_duplicate_rows_out_of_the_report(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = profile_table(
        customer_sample(60)[["cust_segment", "balance"]],
        table=TABLE,
        snapshot_id=SNAPSHOT,
        reports_dir=tmp_path,
        rows_total=60,
        settings=ProfileSettings(minimal=False),
    )
    page = result.html_path.read_text(encoding="utf-8")
    for section in ("href=#sample", "First rows", "Last rows", "Most frequently occurring"):
        assert section not in page
    assert "Filter: none (all rows)" in page
    # No progress bars, no usage analytics.
    assert "it/s]" not in capfd.readouterr().err
    assert os.environ["YDATA_PROFILING_NO_ANALYTICS"] == "True"
    # The pkg_resources stand-in used while importing ydata is not left behind.
    pkg_resources = sys.modules.get("pkg_resources")
    assert pkg_resources is None or getattr(pkg_resources, "__file__", None)


@pytest.mark.parametrize(
    ("sample", "changes", "message"),
    [
        (customer_sample(5).iloc[0:0], {}, "no rows to profile"),
        (customer_sample(5), {"rows_total": 4}, "smaller than the sample"),
        (customer_sample(5), {"table": "../elsewhere"}, "cannot be used as a folder name"),
        (customer_sample(5), {"snapshot_id": "1/2"}, "cannot be used as a folder name"),
        (
            customer_sample(5),
            {"settings": ProfileSettings(key_columns=("nope",))},
            "key columns not in the sample: nope",
        ),
    ],
)
def test_profile_table_rejects_bad_input(
    tmp_path: Path, sample: pd.DataFrame, changes: dict[str, object], message: str
) -> None:
    arguments: dict[str, object] = {
        "table": TABLE,
        "snapshot_id": SNAPSHOT,
        "reports_dir": tmp_path,
        "rows_total": 5,
        "settings": ProfileSettings(),
    } | changes
    with pytest.raises(ValueError, match=message):
        profile_table(sample, **arguments)  # type: ignore[arg-type]


def test_settings_reject_an_empty_sample_size() -> None:
    with pytest.raises(ValueError, match="sample_size"):
        ProfileSettings(sample_size=0)


@pytest.fixture(scope="module")
def customers(spark: SparkSession) -> DataFrame:
    """2,000 customers over 4 partitions; every third one lives in Chicago."""
    return (
        spark.range(1, 2_001, numPartitions=4)
        .withColumnRenamed("id", "cust_id")
        .withColumn("city", F.when(F.col("cust_id") % 3 == 0, "Chicago").otherwise("Boston"))
        .withColumn("balance", (F.col("cust_id") * 7 % 1000).cast("double"))
    )


def test_same_seed_gives_the_same_sample_whatever_the_partitioning(customers: DataFrame) -> None:
    settings = ProfileSettings(sample_size=100, seed=7)
    first, _, _ = sample_for_profile(customers, ["cust_id"], settings)
    again, _, _ = sample_for_profile(customers.repartition(7), ["cust_id"], settings)
    merged, _, _ = sample_for_profile(customers.coalesce(1), ["cust_id"], settings)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, merged)
    other_seed, _, _ = sample_for_profile(customers, ["cust_id"], ProfileSettings(100, seed=8))
    assert set(other_seed["cust_id"]) != set(first["cust_id"])
    # A spread over the table, not its first rows.
    assert first["cust_id"].max() > 1_000


def test_filter_is_applied_and_counted(customers: DataFrame) -> None:
    settings = ProfileSettings(sample_size=50, row_filter="city = 'Chicago'")
    sample, rows_total, rows_profiled = sample_for_profile(customers, ["cust_id"], settings)
    assert rows_total == 666
    assert rows_profiled == len(sample) == 50
    assert set(sample["city"]) == {"Chicago"}
    assert list(sample.columns) == ["cust_id", "city", "balance"]


def test_sample_is_the_whole_slice_when_it_is_smaller_than_the_sample_size(
    customers: DataFrame,
) -> None:
    settings = ProfileSettings(sample_size=5_000, row_filter="cust_id <= 30")
    sample, rows_total, rows_profiled = sample_for_profile(customers, ["cust_id"], settings)
    assert rows_total == rows_profiled == 30
    assert sorted(sample["cust_id"]) == list(range(1, 31))


def test_sample_needs_a_key(customers: DataFrame) -> None:
    with pytest.raises(ValueError, match="key column"):
        sample_for_profile(customers, [], ProfileSettings())


def test_profile_pseudonymises_tagged_columns_and_denies_unknown_tags():
    from customer_overview.entities import load_entity
    from quality.profile_asset import pseudonymising_decisions

    schema = load_entity("customers")
    columns = [
        column.model_copy(update={"tags": ("pii",)}) if column.name == "occupation" else column
        for column in schema.columns
    ]
    schema = schema.model_copy(update={"columns": tuple(columns)})
    decisions = pseudonymising_decisions(
        schema, ["cust_first_name", "cust_dob", "occupation", "country"]
    )
    operators = {name: decision.operator for name, decision in decisions.items()}
    assert operators == {
        "cust_first_name": "hash",
        "cust_dob": "bucket_date",
        "occupation": "redact",
        "country": "pass_through",
    }
    assert decisions["cust_dob"].params.precision == "quarter"


def lineage_sample(rows: int = 300) -> pd.DataFrame:
    """Ids, sha256-like digests, a code column and the pipeline's lineage columns."""
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "cust_id": [f"C{index:07d}" for index in range(rows)],
            "cust_first_name": [f"{value:064x}" for value in rng.integers(0, 2**62, rows)],
            "cust_segment": rng.choice(["Urban", "Semi-Urban", "Rural"], rows),
            "cibil_score": rng.integers(300, 901, rows),
            "_source_file": rng.choice(["customers_0001.csv", "customers_0002.csv"], rows),
            "_source_line": np.arange(2, rows + 2),
            "_ingested_at": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows), "s"),
        }
    )


def test_ids_hashes_and_codes_are_profiled_as_categories_and_lineage_is_left_out(
    tmp_path: Path,
) -> None:
    categorical = ("cust_id", "cust_first_name", "cust_segment")
    lineage = ("_source_file", "_source_line", "_ingested_at")
    as_inferred = profile_table(
        lineage_sample(),
        table=TABLE,
        snapshot_id="1",
        reports_dir=tmp_path,
        rows_total=300,
        settings=ProfileSettings(),
    )
    declared = profile_table(
        lineage_sample(),
        table=TABLE,
        snapshot_id="2",
        reports_dir=tmp_path,
        rows_total=300,
        settings=ProfileSettings(categorical_columns=categorical, exclude_columns=lineage),
    )
    inferred_types = {
        name: value["type"]
        for name, value in json.loads(as_inferred.json_path.read_text())["variables"].items()
    }
    # The premise: left to itself, ydata-profiling takes digests and codes for free text.
    assert inferred_types["cust_first_name"] == "Text"
    declared_types = {
        name: value["type"]
        for name, value in json.loads(declared.json_path.read_text())["variables"].items()
    }
    assert declared_types == {
        "cust_id": "Categorical",
        "cust_first_name": "Categorical",
        "cust_segment": "Categorical",
        "cibil_score": "Numeric",
    }
    assert declared.columns == 4
    page = declared.html_path.read_text(encoding="utf-8")
    assert "Left out: _source_file, _source_line, _ingested_at." in page
    assert "Profiled as categories (identifiers, hashed values, codes): cust_id" in page
    # Text statistics (the word cloud's "Words" and "Characters" tabs) only for the inferred.
    assert "Most occurring characters" in as_inferred.html_path.read_text(encoding="utf-8")
    assert "Most occurring characters" not in page


def test_a_categorical_column_must_be_in_the_sample(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="categorical columns not in the sample: nope"):
        profile_table(
            lineage_sample(5),
            table=TABLE,
            snapshot_id=SNAPSHOT,
            reports_dir=tmp_path,
            rows_total=5,
            settings=ProfileSettings(categorical_columns=("nope",)),
        )


def test_excluded_columns_never_leave_spark(customers: DataFrame) -> None:
    settings = ProfileSettings(sample_size=10, exclude_columns=("balance",))
    sample, _, _ = sample_for_profile(customers, ["cust_id"], settings)
    assert list(sample.columns) == ["cust_id", "city"]


def test_the_customer_profile_declares_ids_hashes_and_codes_and_leaves_lineage_out() -> None:
    from customer_overview.entities import LINEAGE_COLUMNS, load_entity
    from quality.profile_asset import profiled_columns, pseudonymising_decisions

    schema = load_entity("customers")
    columns = [column.name for column in schema.columns] + list(LINEAGE_COLUMNS)
    categorical, excluded = profiled_columns(schema, pseudonymising_decisions(schema, columns))
    assert excluded == LINEAGE_COLUMNS
    assert categorical[0] == "cust_id"
    for name in ("cust_first_name", "email_addr", "pin", "cust_segment", "city", "country"):
        assert name in categorical
    assert "mobile_number1" in categorical  # a number, but hashed
    for name in ("cibil_score", "cust_dob", "created_at", *LINEAGE_COLUMNS):
        assert name not in categorical


def test_the_profile_asset_description_renders_its_paths_in_markdown() -> None:
    import mistune

    from customer_overview.entities import load_entity
    from quality.profile_asset import customer_profile_asset

    (spec,) = customer_profile_asset(load_entity("customers")).specs
    rendered = str(mistune.html(spec.description))
    # Markdown used to swallow the placeholders as HTML tags ("reports/profiles///.").
    assert "<code>reports/profiles/&lt;table&gt;/&lt;snapshot&gt;/</code>" in rendered


def test_the_same_snapshot_profiled_the_same_way_is_found_and_nothing_else(
    profile: ProfileResult,
) -> None:
    reports_dir = profile.html_path.parents[3]
    settings = ProfileSettings(row_filter=ROW_FILTER, key_columns=("cust_id", "cust_segment"))
    assert earlier_profile(reports_dir, TABLE, SNAPSHOT, settings) == profile
    other_sample = ProfileSettings(
        row_filter=ROW_FILTER, key_columns=("cust_id", "cust_segment"), sample_size=10
    )
    assert earlier_profile(reports_dir, TABLE, SNAPSHOT, other_sample) is None
    assert earlier_profile(reports_dir, TABLE, SNAPSHOT, settings, {"email_addr": "hash"}) is None
    assert earlier_profile(reports_dir, TABLE, "4243", settings) is None


def test_a_profile_whose_report_is_gone_is_made_again(tmp_path: Path) -> None:
    settings = ProfileSettings(key_columns=("cust_id",))
    made = profile_table(
        customer_sample(200),
        table=TABLE,
        snapshot_id=SNAPSHOT,
        reports_dir=tmp_path,
        rows_total=200,
        settings=settings,
        masking={"email_addr": "hash"},
    )
    assert earlier_profile(tmp_path, TABLE, SNAPSHOT, settings, {"email_addr": "hash"}) == made
    made.html_path.unlink()
    assert earlier_profile(tmp_path, TABLE, SNAPSHOT, settings, {"email_addr": "hash"}) is None
