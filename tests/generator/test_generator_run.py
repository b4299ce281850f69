"""Whole runs on small data: determinism, pandas compatibility, edge configs, CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from generator import GeneratorConfig, generate
from generator.cli import parse_args, run
from generator.errors import OutputDirectoryNotEmptyError


def digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_config_gives_identical_bytes(tmp_path: Path) -> None:
    config = GeneratorConfig(customers=5_000, seed=11, months=2, files=2, bad_row_rate=0.01)
    generate(config, tmp_path / "first")
    generate(config, tmp_path / "second")
    first, second = digest_tree(tmp_path / "first"), digest_tree(tmp_path / "second")
    # customers 2 initial + 2 monthly, products 1, accounts 3, transactions 3,
    # campaigns 2 monthly, manifest
    assert len(first) == 14
    assert first == second
    generate(GeneratorConfig(customers=5_000, seed=12, months=2, files=2), tmp_path / "other")
    other = digest_tree(tmp_path / "other")
    assert other["customers/customers_00001.csv"] != first["customers/customers_00001.csv"]


def test_files_are_what_pandas_to_csv_writes(tmp_path: Path) -> None:
    """Header with an unnamed index column, minimal quoting, empty = null, \\n line ends."""
    generate(GeneratorConfig(customers=300, seed=3, months=1, duplicate_rate=0.05), tmp_path)
    for path in sorted(tmp_path.glob("*/*.csv")):
        text = path.read_bytes()
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, index_col=0)
        frame.index.name = None
        assert frame.to_csv(lineterminator="\n").encode("utf-8") == text, path.name


def test_months_zero_gives_only_the_initial_load(tmp_path: Path) -> None:
    manifest = generate(GeneratorConfig(customers=200, months=0, files=2), tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("*/*.csv"))
    assert names == [
        "accounts/accounts_00002.csv",
        "customers/customers_00001.csv",
        "customers/customers_00002.csv",
        "products/products_00001.csv",
        "transactions/transactions_00002.csv",
    ]
    customers = manifest["entities"]["customers"]
    assert customers["expected_latest"] == 200
    assert [f["rows"] for f in customers["files"]] == [
        100 + n for n in _duplicates_per_file(tmp_path, 2)
    ]
    transactions = pd.read_csv(tmp_path / "transactions/transactions_00002.csv", dtype=str)
    assert "Pending" not in set(transactions["status"]), "no later file would settle it"
    campaigns = manifest["entities"]["campaigns"]
    assert campaigns["files"] == [] and campaigns["rows"] == 0
    assert set(campaigns["funnel"].values()) == {0}


def _duplicates_per_file(folder: Path, files: int) -> list[int]:
    counts = []
    for batch in range(1, files + 1):
        frame = pd.read_csv(folder / f"customers/customers_{batch:05d}.csv", dtype=str, index_col=0)
        counts.append(int(frame.duplicated().sum()))
    return counts


def test_zero_rates_give_clean_files(tmp_path: Path) -> None:
    manifest = generate(
        GeneratorConfig(customers=500, update_rate=0.0, duplicate_rate=0.0, months=1), tmp_path
    )
    customers = manifest["entities"]["customers"]
    assert customers["updates"] == customers["exact_duplicates"] == customers["late_arrivals"] == 0
    assert customers["bad_rows"] == dict.fromkeys(customers["bad_rows"], 0)
    assert customers["new_keys"] == 5


def test_refuses_to_overwrite_an_earlier_run(tmp_path: Path) -> None:
    generate(GeneratorConfig(customers=50, months=0), tmp_path)
    with pytest.raises(OutputDirectoryNotEmptyError, match="already holds generator output"):
        generate(GeneratorConfig(customers=50, months=0), tmp_path)


def test_progress_is_reported(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(GeneratorConfig(customers=50, months=0), tmp_path, progress=messages.append)
    assert messages[0] == "building text pools"
    assert any(m.startswith("chunk 1/1") for m in messages)


def _parse(argv: list[str]) -> dict[str, Any]:
    return parse_args(argv)


def test_cli_runs_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "landing"
    args = _parse(["--customers", "200", "--out", str(out), "--months", "1", "--files", "2",
                   "--start-date", "2024-06-01", "--bad-row-rate", "0.02"])  # fmt: skip
    assert run(args) == 0
    captured = capsys.readouterr()
    assert "customers" in captured.out and "rows/s" in captured.out
    assert "campaigns" in captured.out and "Customer Reached" in captured.out
    assert "[generator] building text pools" in captured.err
    assert (out / "manifest.json").exists()
    assert (out / "customers/customers_00003.csv").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--customers", "0"], "customers must be at least 1"),
        (["--customers", "10", "--update-rate", "1.5"], "update_rate must be in"),
        (["--customers", "10", "--files", "20"], "files must be at most customers"),
    ],
)
def test_cli_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(_parse([*argv, "--out", str(tmp_path / "out")])) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_rejects_a_malformed_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(["--customers", "10", "--out", "x", "--start-date", "01/02/2024"])
    assert exit_info.value.code == 2
    assert "expected a date as YYYY-MM-DD" in capsys.readouterr().err


def test_cli_names_an_output_folder_it_cannot_create(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert run(_parse(["--customers", "10", "--out", str(blocker / "landing")])) == 2
    assert f"error: {blocker / 'landing'}: cannot create" in capsys.readouterr().err
