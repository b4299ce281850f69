"""``customer-overview update-customer``: one customer changed by hand, as a landing drop.

Real components throughout: a small generated bank (the generator's own customer files),
ingested and curated with Spark into an Iceberg catalog in a temporary folder; the command run
through the CLI's ``main`` (the console script's code path, on the test session's JVM) and, where
no Spark is needed, as a separate process. The drop it writes is then ingested and curated like
any other file.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from assets.curated.curation import curate_entity
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings
from customer_overview.entities import LINEAGE_COLUMNS, load_entity
from customer_overview.landing import list_landing_files
from customer_overview.spark import spark_session
from operations.cli import main
from operations.update_customer import (
    UpdateRefusedError,
    landing_csv,
    rule_violations,
    update_customer,
    write_atomically,
)
from quality.rules import load_rules

REPO = Path(__file__).resolve().parents[2]
CUSTOMERS = load_entity("customers")
RULES = load_rules("customers")


def _ingest_and_curate(spark: SparkSession, settings: LakehouseSettings, run_id: str) -> None:
    ingest_entity(spark, settings, CUSTOMERS, run_id=run_id)
    curate_entity(spark, settings, CUSTOMERS, RULES, run_id)


def _curated_frame(spark: SparkSession, settings: LakehouseSettings):  # type: ignore[no-untyped-def]
    """The curated customers, with ``modified_at`` also as landing text (Spark's UTC session:
    Python's conversion of timestamps would use the machine's time zone)."""
    return spark.table(settings.spark_table(CUSTOMERS.curated_table)).withColumn(
        "modified_at_text", F.date_format("modified_at", "yyyy-MM-dd HH:mm:ss")
    )


def _curated(spark: SparkSession, settings: LakehouseSettings, cust_id: str) -> dict[str, Any]:
    rows = _curated_frame(spark, settings).where(F.col("cust_id") == cust_id).collect()
    assert len(rows) == 1, rows
    return rows[0].asDict()


def _customer_files(settings: LakehouseSettings) -> list[Path]:
    return sorted((settings.landing_dir / CUSTOMERS.folder).glob("*.csv"))


def _one_line(text: str) -> str:
    """The console wraps long errors; compare them with single spaces."""
    return " ".join(text.split())


def _records(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.fixture(scope="module")
def bank(
    tmp_path_factory: pytest.TempPathFactory,
    new_lakehouse: Callable[[Path], LakehouseSettings],
    spark: SparkSession,
) -> LakehouseSettings:
    """40 generated customers (initial load only, no bad rows), ingested and curated."""
    from generator import GeneratorConfig, generate

    settings = new_lakehouse(tmp_path_factory.mktemp("update_customer") / "lakehouse")
    generate(GeneratorConfig(customers=40, seed=5, months=0, files=1), settings.landing_dir)
    _ingest_and_curate(spark_session(settings), settings, "initial")
    return settings


@pytest.fixture
def lake(bank: LakehouseSettings) -> SparkSession:
    """The bank's Spark session (the shared JVM, bound to the bank's catalog)."""
    return spark_session(bank)


def _a_customer(spark: SparkSession, settings: LakehouseSettings, **where: str) -> dict[str, Any]:
    frame = _curated_frame(spark, settings)
    for column, value in where.items():
        frame = frame.where(F.col(column) == value)
    row = frame.orderBy("cust_id").first()
    assert row is not None, where
    return row.asDict()


def test_a_change_lands_as_a_drop_that_the_next_run_curates(
    bank: LakehouseSettings, lake: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _a_customer(lake, bank, customer_type="Personal")
    cust_id = before["cust_id"]
    files_before = _customer_files(bank)
    address = "Flat 3, Rose Villa"  # a comma: the CSV quoting must round-trip
    started = datetime.now(UTC).replace(microsecond=0)

    code = main(
        [
            "--lakehouse-dir",
            str(bank.lakehouse_dir),
            "update-customer",
            cust_id,
            "--set",
            "city=Pune",
            "--set",
            f"customer_addressline1={address}",
            "--set",
            "afflunce_level=" + ("Low" if before["afflunce_level"] != "Low" else "High"),
            "--set",
            "cust_middle_name=",  # empty: no value
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    [drop] = [path for path in _customer_files(bank) if path not in files_before]
    assert str(drop) in "".join(out.split())

    # The landing contract: the generator's header (unnamed index column first), one record.
    generated_header = files_before[0].read_text(encoding="utf-8").splitlines()[0]
    lines = drop.read_text(encoding="utf-8").split("\n")
    assert lines[0] == generated_header and lines[-1] == ""
    assert len(lines) == 3 and lines[1].startswith("0,")
    [record] = _records(drop)
    assert record["cust_id"] == cust_id and record["city"] == "Pune"
    assert record["customer_addressline1"] == address and record["cust_middle_name"] == ""
    modified_at = datetime.strptime(record["modified_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert started <= modified_at <= datetime.now(UTC)
    # Unchanged columns are written as the source system wrote them: the generator's own line.
    [original] = [
        r
        for path in files_before
        for r in _records(path)
        if r["cust_id"] == cust_id and r["modified_at"] == before["modified_at_text"]
    ][:1]
    changed = {"city", "customer_addressline1", "afflunce_level", "cust_middle_name", "modified_at"}
    assert {k: v for k, v in record.items() if k not in changed and k} == {
        k: v for k, v in original.items() if k not in changed and k
    }
    # Nothing half-written is left next to it.
    assert [p.name for p in drop.parent.iterdir() if not p.name.endswith(".csv")] == []

    _ingest_and_curate(lake, bank, "after-update")
    after = _curated(lake, bank, cust_id)
    assert after["city"] == "Pune" and after["customer_addressline1"] == address
    assert after["cust_middle_name"] is None
    assert after["afflunce_level"] != before["afflunce_level"]
    assert after["_source_file"] == f"customers/{drop.name}"
    assert after["modified_at_text"] == record["modified_at"]
    untouched = set(CUSTOMERS.column_names) - changed - set(LINEAGE_COLUMNS)
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}


@pytest.mark.parametrize(
    ("change", "rule", "shown"),
    [
        ("cibil_score=950", "cibil_score_range", "cibil_score=950"),
        ("cust_segment=Metro", "segment_allowed", "cust_segment=Metro"),
        ("cibil_score=7x1", "cibil_score_type", "cibil_score=7x1"),
        ("email_addr=asha at example", "email_format", "email_addr=asha at example"),
        ("country=Atlantis", "country_allowed", "country=Atlantis"),
    ],
)
def test_a_change_the_rules_would_quarantine_is_refused_naming_the_rule(
    bank: LakehouseSettings,
    lake: SparkSession,
    capsys: pytest.CaptureFixture[str],
    change: str,
    rule: str,
    shown: str,
) -> None:
    cust_id = _a_customer(lake, bank)["cust_id"]
    files_before = _customer_files(bank)
    code = main(
        ["--lakehouse-dir", str(bank.lakehouse_dir), "update-customer", cust_id, "--set", change]
    )
    err = _one_line(capsys.readouterr().err)
    assert code == 2
    assert "UpdateRefusedError" in err and rule in err and shown in err, err
    assert _customer_files(bank) == files_before
    assert [p for p in (bank.landing_dir / "customers").iterdir() if p.suffix == ".part"] == []


def test_the_refusal_and_the_quarantine_agree(bank: LakehouseSettings, lake: SparkSession) -> None:
    """The same candidate rows, dropped by hand past the refusal: curation quarantines each for
    exactly the rules the refusal named, and curates the one the refusal accepts."""
    base = _a_customer(lake, bank, customer_type="Personal")
    cust_id = base["cust_id"]
    from operations.update_customer import current_landing_row

    now = datetime.now(UTC) + timedelta(seconds=5)
    now_text = f"{now:%Y-%m-%d %H:%M:%S}"
    current = current_landing_row(lake, bank, CUSTOMERS, cust_id, now_text)
    changes = [
        {"cibil_score": "950"},
        {"cust_segment": "Metro", "customer_status": "Sleeping"},
        {"cibil_score": "abc"},
        {"cust_dob": "2023-02-30"},
        {"customer_type": "Corporate"},  # a business with a gender
        {"city": "Mumbai"},  # valid
    ]
    candidates = [{**current, **change, "modified_at": now_text} for change in changes]
    refusals = [
        sorted(
            v.rule
            for v in rule_violations(lake, bank, CUSTOMERS, RULES, row)
            if v.severity == "reject"
        )
        for row in candidates
    ]
    assert refusals[-1] == [] and all(refusals[:-1]), refusals
    # One row per file: the curated table keeps one version per customer, and each candidate
    # must be judged on its own, like separate updates.
    for number, row in enumerate(candidates):
        write_atomically(
            bank.landing_dir / CUSTOMERS.folder,
            f"customers_handmade_{now:%Y%m%d%H%M%S}_{number}.csv",
            landing_csv(CUSTOMERS, [row]),
        )
    _ingest_and_curate(lake, bank, "agreement")
    quarantine = {
        row._source_file.rsplit("_", 1)[1].removesuffix(".csv"): sorted(row._rule_names)
        for row in lake.table(bank.spark_table(CUSTOMERS.quarantine_table))
        .where(F.col("_source_file").contains(f"handmade_{now:%Y%m%d%H%M%S}"))
        .collect()
    }
    for number, refused in enumerate(refusals[:-1]):
        assert quarantine[str(number)] == refused, (changes[number], quarantine, refusals)
    assert str(len(changes) - 1) not in quarantine
    assert _curated(lake, bank, cust_id)["city"] == "Mumbai"


def test_unknown_protected_and_malformed_requests_are_refused(
    bank: LakehouseSettings, lake: SparkSession, capsys: pytest.CaptureFixture[str]
) -> None:
    cust_id = _a_customer(lake, bank)["cust_id"]
    cases = [
        (["NOSUCHCUST", "--set", "city=Pune"], "unknown customer 'NOSUCHCUST'"),
        ([cust_id, "--set", "colour=blue"], "unknown column 'colour'"),
        ([cust_id, "--set", "cust_id=ABCDEFGHIJ"], "column 'cust_id' cannot be changed"),
        (
            [cust_id, "--set", "created_at=2020-01-01 00:00:00"],
            "column 'created_at' cannot be changed",
        ),
        (
            [cust_id, "--set", "modified_at=2020-01-01 00:00:00"],
            "column 'modified_at' cannot be changed",
        ),
        (
            [cust_id, "--set", "_source_file=x.csv"],
            "column '_source_file' cannot be changed: lineage",
        ),
        ([cust_id, "--set", "city"], "expected COLUMN=VALUE"),
        ([cust_id, "--set", "city=A", "--set", "city=B"], "given more than once"),
        ([cust_id, "--set", "city=Pu\nne"], "line break"),
    ]
    files_before = _customer_files(bank)
    for args, message in cases:
        code = main(["--lakehouse-dir", str(bank.lakehouse_dir), "update-customer", *args])
        err = _one_line(capsys.readouterr().err)
        assert code == 2 and message in err, (args, err)
    assert _customer_files(bank) == files_before


def test_the_console_command_exits_2_on_a_refusal(bank: LakehouseSettings) -> None:
    """As a separate process: the exit code and the one-line error a script sees."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "operations.cli",
            "--lakehouse-dir",
            str(bank.lakehouse_dir),
            "update-customer",
            "NOSUCHCUST",
            "--set",
            "colour=blue",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "unknown column 'colour' of customers" in _one_line(result.stderr)


def test_a_version_not_older_than_now_is_refused(
    bank: LakehouseSettings, lake: SparkSession
) -> None:
    cust_id = _a_customer(lake, bank)["cust_id"]
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(UpdateRefusedError, match="not older than now"):
        update_customer(lake, bank, cust_id, {"city": "Pune"}, now=long_ago)


def test_the_drop_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "customers"
    content = landing_csv(CUSTOMERS, [{name: "x" for name in CUSTOMERS.column_names}])
    path = write_atomically(folder, "customers_update_1.csv", content)
    assert path.read_bytes() == content
    assert sorted(p.name for p in folder.iterdir()) == ["customers_update_1.csv"]
    # The temporary name is never picked up by landing discovery, even if a writer dies.
    (folder / ".customers_update_2.csv.abc123.part").write_bytes(content[:10])
    assert [f.name for f in list_landing_files(tmp_path / "landing", CUSTOMERS)] == [
        "customers/customers_update_1.csv"
    ]
    with pytest.raises(UpdateRefusedError, match="exists already"):
        write_atomically(folder, "customers_update_1.csv", b"other")
    assert path.read_bytes() == content
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".part") == [
        ".customers_update_2.csv.abc123.part"
    ]
