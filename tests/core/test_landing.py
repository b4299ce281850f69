"""Landing files: column-name cleansing and header checks (no Spark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_overview.entities import load_entity
from customer_overview.landing import LandingFile, check_header, cleanse_column_name

CUSTOMERS = load_entity("customers")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("cust_id", "cust_id"),
        (" Cust DOB ", "cust_dob"),
        ("Email-Address", "email_address"),
        ("\ufeffcust_id", "cust_id"),
        ("Customer AddressLine1", "customer_addressline1"),
        ("", ""),
        ("_c0", "c0"),
    ],
)
def test_cleanse_column_name(raw, clean):
    assert cleanse_column_name(raw) == clean


def _file(path: Path) -> LandingFile:
    stat = path.stat()
    return LandingFile(path=path, name=path.name, size=stat.st_size, modified_ns=stat.st_mtime_ns)


def test_header_with_index_column_in_any_order(tmp_path: Path):
    columns = list(reversed(CUSTOMERS.column_names))
    path = tmp_path / "c.csv"
    path.write_text("," + ",".join(columns) + "\n0," + ",".join("x" for _ in columns) + "\n")
    check = check_header(_file(path), CUSTOMERS)
    assert check.status == "ok" and check.has_index_column and not check.problems
    assert check.columns[1:] == columns


def test_header_problems_name_the_file_and_the_columns(tmp_path: Path):
    path = tmp_path / "c.csv"
    names = [c for c in CUSTOMERS.column_names if c != "pin"] + ["pincode", "city"]
    path.write_text(",".join(names) + "\nx\n")
    check = check_header(_file(path), CUSTOMERS)
    assert check.status == "rejected"
    [problem] = check.problems
    assert problem.startswith("c.csv:1: header does not match the customers contract")
    assert "missing column(s) ['pin']" in problem
    assert "unexpected column(s) ['pincode']" in problem
    assert "duplicated column(s) ['city']" in problem


def test_empty_header_only_and_non_utf8_headers(tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert check_header(_file(empty), CUSTOMERS).status == "empty"
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(CUSTOMERS.column_names) + "\n")
    assert check_header(_file(header_only), CUSTOMERS).status == "header_only"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("cust_id,\xe9\n".encode("latin-1"))
    check = check_header(_file(latin), CUSTOMERS)
    assert check.status == "rejected" and "header is not UTF-8" in check.problems[0]
