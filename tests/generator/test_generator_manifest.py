"""The manifest describes exactly what is in the files, malformed rows included."""

from __future__ import annotations

import pandas as pd
import pytest
from generator_test_support import KEY_COLUMNS, SESSION_CONFIG

CUSTOMER_KINDS = [
    "missing_id",
    "bad_date",
    "out_of_range_score",
    "bad_email",
    "wrong_enum",
    "unparseable_number",
    "extra_fields",
    "missing_fields",
]
TRANSACTION_KINDS = ["bad_amount", "missing_id", "unknown_account", "bad_timestamp"]


def customer_defect(row: dict[str, str], width: int, fields: list[str]) -> str:
    """Name the single defect of a malformed customer row from its content."""
    if len(fields) == width + 1:
        return "extra_fields"
    if len(fields) == width - 2:
        return "missing_fields"
    if row["cust_id"] == "":
        return "missing_id"
    if row["cust_dob"] in {"2023-13-45", "31/02/2020"}:
        return "bad_date"
    if row["cibil_score"] in {"950", "120"}:
        return "out_of_range_score"
    if "@" not in row["email_addr"] or " " in row["email_addr"]:
        return "bad_email"
    if row["cust_segment"] == "Metro" or row["gender"] == "M":
        return "wrong_enum"
    if row["cibil_score"] == "7x1" or row["mobile_number1"] == "98-abc":
        return "unparseable_number"
    raise AssertionError(f"no recognisable defect: {row}")


def transaction_defect(row: dict[str, str]) -> str:
    if row["transaction_id"] == "":
        return "missing_id"
    if row["amount"] in {"12,3x", "1O0.00"}:
        return "bad_amount"
    if row["account_id"].startswith("AC9"):
        return "unknown_account"
    if row["transaction_ts"] in {"2024-02-30 25:61:00", "yesterday"}:
        return "bad_timestamp"
    raise AssertionError(f"no recognisable defect: {row}")


def malformed_rows(drops, entity: str) -> list[tuple[dict[str, str], list[str], int]]:
    """(row by column, fields, expected width) of every malformed row of an entity."""
    columns = drops.data_columns(entity)
    found = [
        (row, [row[c] for c in columns], len(columns))
        for row in drops.malformed_frame(entity)[columns].to_dict("records")
    ]
    for drop in drops.files[entity]:
        for with_index in drop.wrong_width:
            fields = with_index[1:]
            found.append((dict(zip(columns, fields, strict=False)), fields, len(columns)))
    return found


def test_file_rows_and_index_column(drops) -> None:
    for entity, entry in drops.manifest["entities"].items():
        for file_entry, drop in zip(entry["files"], drops.files[entity], strict=True):
            assert drop.header[0] == ""
            assert drop.header[1] == KEY_COLUMNS[entity]
            index = [*drop.rows["_index"], *(int(fields[0]) for fields in drop.wrong_width)]
            assert len(index) == file_entry["rows"]
            assert sorted(index) == list(range(file_entry["rows"]))
        assert entry["rows"] == sum(f["rows"] for f in entry["files"])


def test_row_identities(drops) -> None:
    for entity, entry in drops.manifest["entities"].items():
        parts = ("initial_rows", "updates", "new_keys", "late_arrivals", "exact_duplicates")
        assert entry["valid_rows"] == sum(entry[part] for part in parts), entity
        assert entry["rows"] == entry["valid_rows"] + sum(entry["bad_rows"].values()), entity
        assert entry["expected_latest"] == entry["initial_rows"] + entry["new_keys"], entity


@pytest.mark.parametrize(
    "entity", ["customers", "products", "accounts", "transactions", "campaigns"]
)
def test_key_counts_match_files(drops, entity: str) -> None:
    entry = drops.manifest["entities"][entity]
    valid = drops.frame(entity)
    key = KEY_COLUMNS[entity]
    assert len(valid) == entry["valid_rows"]
    assert valid[key].nunique() == entry["expected_latest"]
    assert len(valid.drop_duplicates([key, "modified_at"])) == entry["distinct_versions"]
    malformed = drops.malformed_frame(entity)[key].tolist() + [
        fields[1] for drop in drops.files[entity] for fields in drop.wrong_width
    ]
    keys = set(valid[key]) | {k for k in malformed if k}
    assert len(keys) == entry["distinct_keys"]


def test_customer_bad_rows_per_kind(drops) -> None:
    rows = malformed_rows(drops, "customers")
    kinds = pd.Series([customer_defect(row, width, fields) for row, fields, width in rows])
    counts = kinds.value_counts().to_dict()
    assert counts == drops.manifest["entities"]["customers"]["bad_rows"]
    assert set(counts) == set(CUSTOMER_KINDS)
    assert max(counts.values()) - min(counts.values()) <= 1
    total_rows = drops.manifest["entities"]["customers"]["valid_rows"]
    assert len(rows) / total_rows == pytest.approx(SESSION_CONFIG.bad_row_rate, rel=0.15)


def test_transaction_bad_rows_per_kind(drops) -> None:
    rows = malformed_rows(drops, "transactions")
    counts = pd.Series([transaction_defect(row) for row, _, _ in rows]).value_counts().to_dict()
    assert counts == drops.manifest["entities"]["transactions"]["bad_rows"]
    assert set(counts) == set(TRANSACTION_KINDS)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_bad_rows_have_fresh_keys(drops, customers: pd.DataFrame) -> None:
    bad_ids = [row["cust_id"] for row, _, _ in malformed_rows(drops, "customers") if row["cust_id"]]
    assert bad_ids and all(i.startswith("19") and len(i) == 10 for i in bad_ids)
    assert not set(bad_ids) & set(customers["cust_id"])
    assert len(set(bad_ids)) == len(bad_ids)


def test_bad_rows_are_spread_over_files(drops) -> None:
    for entity in ("customers", "transactions"):
        malformed = drops.malformed_frame(entity)
        for drop in drops.files[entity]:
            positions = sorted(
                [*malformed.loc[malformed["_batch"] == drop.batch, "_index"]]
                + [int(fields[0]) for fields in drop.wrong_width]
            )
            size = len(drop.rows) + len(drop.wrong_width)
            assert positions, drop.name
            assert positions[0] < size / 2 < positions[-1], drop.name


def test_manifest_config_and_version(drops) -> None:
    manifest = drops.manifest
    assert manifest["config"] == {**SESSION_CONFIG.__dict__, "start_date": "2024-01-01"}
    assert manifest["generator_version"]
    text = (drops.out_dir / "manifest.json").read_text()
    assert text.startswith('{\n  "config"')  # sort_keys, indent 2
