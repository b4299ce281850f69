"""Shared helpers of the generator tests: the session run's config and a drop parser.

Files are parsed with Python's csv module, independently of the generator's own
encoder. (A separate module with a unique name, because test folders are not
packages and `conftest` cannot be imported reliably.)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from generator import GeneratorConfig

SESSION_CONFIG = GeneratorConfig(
    customers=100_000,
    seed=20240101,
    start_date=date(2024, 1, 1),
    months=3,
    update_rate=0.05,
    duplicate_rate=0.01,
    bad_row_rate=0.005,
    files=3,
)
KEY_COLUMNS = {
    "customers": "cust_id",
    "products": "product_id",
    "accounts": "account_id",
    "transactions": "transaction_id",
    "campaigns": "event_id",
}


@dataclass
class DropFile:
    """One CSV file as parsed by Arrow's CSV reader (RFC 4180, all columns as text).

    Attributes:
        header: Header fields, the unnamed index column first.
        rows: Rows with the header's field count; "_index" holds the index column.
        wrong_width: Rows with another field count, as csv-module fields
            (index column included).
    """

    entity: str
    batch: int
    month: int
    name: str
    header: list[str]
    rows: pd.DataFrame
    wrong_width: list[list[str]]


def parse_drop_file(path: Path, entity: str, batch: int, month: int) -> DropFile:
    """Parse one drop file; malformed-width rows are kept aside, not dropped silently."""
    with path.open(encoding="utf-8", newline="") as handle:
        header = next(csv.reader([handle.readline()]))
    names = ["_index", *header[1:]]
    wrong_width: list[list[str]] = []

    def keep_aside(row: pa_csv.InvalidRow) -> str:
        wrong_width.append(next(csv.reader([row.text])))
        return "skip"

    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=keep_aside),
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    rows = table.to_pandas()
    rows["_index"] = rows["_index"].astype(int)
    return DropFile(entity, batch, month, path.name, header, rows, wrong_width)


def malformed_mask(entity: str, rows: pd.DataFrame) -> pd.Series:
    """Rows of the right width that are malformed rows (recognised by their key range)."""
    key = rows[KEY_COLUMNS[entity]]
    if entity == "customers":
        return (key == "") | key.str.startswith("19")
    if entity == "transactions":
        return (key == "") | key.str.startswith("TX999")
    return pd.Series(False, index=rows.index)


@dataclass
class Drops:
    """A generator run: its folder, manifest and parsed files (parsed once, cached)."""

    out_dir: Path
    manifest: dict[str, Any]

    @cached_property
    def files(self) -> dict[str, list[DropFile]]:
        """Parsed files per entity, in batch order."""
        return {
            entity: [
                parse_drop_file(self.out_dir / f["file"], entity, f["batch"], f["month"])
                for f in entry["files"]
            ]
            for entity, entry in self.manifest["entities"].items()
        }

    @cached_property
    def _frames(self) -> dict[str, pd.DataFrame]:
        frames = {}
        for entity, drops in self.files.items():
            frames[entity] = pd.concat(
                [
                    d.rows.assign(
                        _batch=d.batch, _month=d.month, _malformed=malformed_mask(entity, d.rows)
                    )
                    for d in drops
                ],
                ignore_index=True,
            )
        return frames

    def data_columns(self, entity: str) -> list[str]:
        """The entity's columns after the index column."""
        return self.files[entity][0].header[1:]

    def frame(self, entity: str) -> pd.DataFrame:
        """Valid rows in file order with _batch, _month and _index (position in its file).

        Shared by all tests: do not modify it in place.
        """
        frame = self._frames[entity]
        return frame[~frame["_malformed"]]

    def malformed_frame(self, entity: str) -> pd.DataFrame:
        """Malformed rows of the right width (wrong-width ones are in DropFile.wrong_width)."""
        frame = self._frames[entity]
        return frame[frame["_malformed"]]

    def distinct_versions(self, entity: str) -> pd.DataFrame:
        """Valid rows without exact duplicates (first occurrence kept)."""
        frame = self.frame(entity)
        return frame[~frame.duplicated(self.data_columns(entity), keep="first")]


RULES_PATH = Path(__file__).resolve().parents[2] / "marts" / "rules.yaml"


def rule_features(
    customers: pd.DataFrame, accounts: pd.DataFrame, transactions: pd.DataFrame, months: int
) -> pd.DataFrame:
    """The features marts/rules.yaml's archetype rules read, one row per customer (cust_id).

    Computed here from the parsed drops, independently of the generator:
    customers' latest valid version (by modified_at) gives cibil_score,
    afflunce_level and customer_type; accounts' latest versions give
    has_credit_card / has_loan (an account of that type not Closed) and
    casa_balance (sum over CASA accounts); valid transactions give transactions
    (distinct ids), transactions_per_month (valid versions / months covered,
    month 0 included), ecom_share (share of Ecom among distinct transactions)
    and total_spend (debits not Reversed, latest versions, INR).

    Args:
        customers, accounts, transactions: Valid distinct versions (the fixtures).
        months: The run's monthly batches (months covered = months + 1).
    """
    latest_customers = (
        customers.sort_values("modified_at").drop_duplicates("cust_id", keep="last")
    ).set_index("cust_id")
    features = pd.DataFrame(
        {
            "cibil_score": latest_customers["cibil_score"].astype(int),
            "afflunce_level": latest_customers["afflunce_level"],
            "customer_type": latest_customers["customer_type"],
        }
    )
    latest_accounts = accounts.sort_values("modified_at").drop_duplicates("account_id", keep="last")
    open_accounts = latest_accounts[latest_accounts["account_status"] != "Closed"]
    for column, account_type in (("has_credit_card", "Credit Card"), ("has_loan", "Loan")):
        holders = open_accounts.loc[open_accounts["account_type"] == account_type, "cust_id"]
        features[column] = features.index.isin(holders)
    casa = latest_accounts[latest_accounts["account_type"] == "CASA"]
    features["casa_balance"] = _sum_by_customer(casa, "balance", features.index)

    latest_transactions = transactions.sort_values("modified_at").drop_duplicates(
        "transaction_id", keep="last"
    )
    count = latest_transactions.groupby("cust_id").size().reindex(features.index, fill_value=0)
    versions = transactions.groupby("cust_id").size().reindex(features.index, fill_value=0)
    ecom = (
        latest_transactions[latest_transactions["transaction_reason"] == "Ecom"]
        .groupby("cust_id")
        .size()
        .reindex(features.index, fill_value=0)
    )
    features["transactions"] = count
    features["transactions_per_month"] = versions / (months + 1)
    features["ecom_share"] = (ecom / count.where(count > 0)).fillna(0.0)
    spend = latest_transactions[
        (latest_transactions["transaction_type"] == "debit")
        & (latest_transactions["status"] != "Reversed")
    ]
    features["total_spend"] = _sum_by_customer(spend, "amount", features.index)
    return features


def _sum_by_customer(rows: pd.DataFrame, column: str, customers: pd.Index) -> pd.Series:
    return (
        rows[column].astype(float).groupby(rows["cust_id"]).sum().reindex(customers, fill_value=0.0)
    )


def archetypes(features: pd.DataFrame, rules: dict[str, Any]) -> pd.Series:
    """Each customer's archetype by marts/rules.yaml: the first rule whose `when` holds.

    The rules' SQL conditions are evaluated as written, by DuckDB over `features`.
    """
    import duckdb

    cases = " ".join(f"WHEN {rule['when']} THEN '{rule['name']}'" for rule in rules["archetypes"])
    frame = features.reset_index(names="cust_id")  # noqa: F841 - read by DuckDB
    result = duckdb.sql(f"SELECT cust_id, CASE {cases} END AS archetype FROM frame").df()
    return result.set_index("cust_id")["archetype"].reindex(features.index)


def ages_at(birth: pd.Series, at: pd.Series) -> pd.Series:
    """Completed years between date(time) strings, computed independently of the generator."""
    birth, at = pd.to_datetime(birth), pd.to_datetime(at)
    before_birthday = (at.dt.month * 100 + at.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return at.dt.year - birth.dt.year - before_birthday.astype(int)
