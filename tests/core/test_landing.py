"""Landing files: column-name cleansing and header checks (no Spark)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from customer_overview.entities import load_entity
from customer_overview.landing import (
    KNOWN_NON_DATA_FILES,
    LandingFile,
    check_header,
    cleanse_column_name,
    list_landing_files,
    scan_landing,
)
from generator.manifest import MANIFEST_FILE_NAME

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


# ------------------------------------------------------------------ what is a landing file
ENTITIES = [load_entity(name) for name in ("customers", "products", "accounts")]


@pytest.mark.parametrize(
    ("relative", "entity"),
    [
        ("customers/customers_00001.csv", "customers"),
        ("customers/customers_x.CSV", "customers"),
        ("customers/customers_x.Csv", "customers"),
        ("customers/customers_x.csv.gz", "customers"),
        ("customers/customers_x.CSV.gz", "customers"),
        ("customers/2024-01-31/customers_1.csv", "customers"),
        ("customers/sub/deeper/customers_1.csv.gz", "customers"),
        ("Customers/customers_1.csv", "customers"),
        ("PRODUCTS/products_1.csv", "products"),
    ],
)
def test_landing_files_in_any_case_format_and_depth_are_read(tmp_path, relative, entity):
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text("x\n")
    scan = scan_landing(tmp_path, ENTITIES)
    assert [file.name for file in scan.files[entity]] == [relative]
    assert not scan.unrecognised


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("customers/customers_x.xlsx", ".xlsx is not a landing format"),
        ("customers/notes.txt", ".txt is not a landing format"),
        ("customers/customers_x.json", ".json is not a landing format"),
        ("customers/customers_x.csv.bz2", ".csv.bz2 is not a landing format"),
        ("customers/README", "no extension is not a landing format"),
        ("customers/.customers_x.csv.part", "hidden or temporary file"),
        ("customers/.staging/customers_x.csv", "hidden or temporary file"),
        ("customers/~customers_x.csv", "hidden or temporary file"),
        ("customers/customers_x.csv.GZ", "rename it to customers_x.csv.gz"),
        ("customer/customers_x.csv", "folder customer/ is not an entity's landing folder"),
        ("customer/customers_x.csv", "did you mean customers/?"),
        ("payments/p.csv", "folder payments/ is not an entity's landing folder"),
        ("stray.csv", "not in an entity's folder (accounts/, customers/, products/)"),
    ],
)
def test_every_other_file_is_named_with_the_reason(tmp_path, relative, reason):
    path = tmp_path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x\n")
    scan = scan_landing(tmp_path, ENTITIES)
    assert not any(scan.files.values())
    [ignored] = scan.unrecognised
    assert ignored.name == relative and reason in ignored.reason
    assert ignored.describe().startswith(f"landing/{relative}: ")


def test_each_unrecognised_file_is_reported_by_one_entity(tmp_path):
    for relative in ("customers/a.xlsx", "products/b.txt", "stray.csv", "payments/p.csv"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x\n")
    (tmp_path / "manifest.json").write_text("{}")
    scan = scan_landing(tmp_path, ENTITIES)
    customers = ENTITIES[0]
    reported = {
        schema.entity: [f.name for f in scan.unrecognised_for(schema, first=schema is customers)]
        for schema in ENTITIES
    }
    assert reported == {
        "customers": ["customers/a.xlsx", "payments/p.csv", "stray.csv"],
        "products": ["products/b.txt"],
        "accounts": [],
    }
    # The generator's manifest sits at the top of landing/: known, not a drop.
    assert [f.name for f in scan.known_non_data] == [MANIFEST_FILE_NAME]
    assert MANIFEST_FILE_NAME in KNOWN_NON_DATA_FILES


def test_files_of_an_entity_are_sorted_by_relative_path(tmp_path):
    for relative in ("customers/2024-02-29/b.csv", "customers/a.csv", "customers/2024-01-31/c.csv"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x\n")
    names = [file.name for file in list_landing_files(tmp_path, CUSTOMERS)]
    assert names == [
        "customers/2024-01-31/c.csv",
        "customers/2024-02-29/b.csv",
        "customers/a.csv",
    ]


# ------------------------------------------------------------------ delimiters and gzip
@pytest.mark.parametrize(("delimiter", "named"), [(";", "';'"), ("\t", "a tab"), ("|", "'|'")])
def test_a_wrong_delimiter_is_named_not_reported_as_missing_columns(tmp_path, delimiter, named):
    columns = ["", *CUSTOMERS.column_names]
    path = tmp_path / "c.csv"
    path.write_text(delimiter.join(columns) + "\n" + delimiter.join("x" for _ in columns) + "\n")
    check = check_header(_file(path), CUSTOMERS)
    assert check.status == "rejected" and check.rejection_rule == "wrong_delimiter"
    [problem] = check.problems
    assert problem.startswith(f"c.csv:1: header looks delimited by {named}, expected ','")
    assert "its columns match the contract" in problem
    assert "missing column" not in problem


def test_a_wrong_delimiter_with_other_columns_says_how_many(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("cust_id;name;city\n1;a;b\n")
    [problem] = check_header(_file(path), CUSTOMERS).problems
    assert "header looks delimited by ';'" in problem
    assert f"it has 3 columns; the contract has {len(CUSTOMERS.column_names)}" in problem


def test_a_comma_header_with_a_semicolon_in_a_quoted_name_is_still_a_header_mismatch(tmp_path):
    path = tmp_path / "c.csv"
    names = [c for c in CUSTOMERS.column_names if c != "pin"] + ['"pin;code"']
    path.write_text(",".join(names) + "\nx\n")
    check = check_header(_file(path), CUSTOMERS)
    assert check.rejection_rule == "header_mismatch"
    assert "missing column(s) ['pin']" in check.problems[0]


def _gzip(path: Path, text: str) -> Path:
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path


def test_gzip_files_are_checked_on_their_decompressed_text(tmp_path):
    header = ",".join(["", *CUSTOMERS.column_names])
    good = _gzip(tmp_path / "c.csv.gz", header + "\n0" + "," * len(CUSTOMERS.column_names) + "\n")
    check = check_header(_file(good), CUSTOMERS)
    assert check.status == "ok" and check.ends_with_newline and not check.problems
    only_header = _gzip(tmp_path / "h.csv.gz", header + "\n")
    assert check_header(_file(only_header), CUSTOMERS).status == "header_only"
    empty = _gzip(tmp_path / "e.csv.gz", "")
    assert check_header(_file(empty), CUSTOMERS).status == "empty"
    no_newline = _gzip(tmp_path / "n.csv.gz", header + "\n0,x")
    assert any("truncated" in p for p in check_header(_file(no_newline), CUSTOMERS).problems)


def test_a_truncated_or_fake_gzip_file_is_reported_not_read(tmp_path):
    header = ",".join(["", *CUSTOMERS.column_names])
    whole = gzip.compress((header + "\n" + "0,x\n" * 1000).encode())
    truncated = tmp_path / "t.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    check = check_header(_file(truncated), CUSTOMERS)
    assert check.status == "unreadable"
    assert check.problems[0].startswith("t.csv.gz: not a complete gzip file")
    fake = tmp_path / "f.csv.gz"
    fake.write_text(header + "\n")
    assert check_header(_file(fake), CUSTOMERS).status == "unreadable"


def test_a_gzip_file_named_csv_is_named_as_such(tmp_path):
    path = tmp_path / "c.csv"
    path.write_bytes(gzip.compress(b"cust_id\n1\n"))
    check = check_header(_file(path), CUSTOMERS)
    assert check.status == "unreadable"
    assert "gzip-compressed but named .csv: name it c.csv.gz" in check.problems[0]
