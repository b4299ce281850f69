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


def ages_at(birth: pd.Series, at: pd.Series) -> pd.Series:
    """Completed years between date(time) strings, computed independently of the generator."""
    birth, at = pd.to_datetime(birth), pd.to_datetime(at)
    before_birthday = (at.dt.month * 100 + at.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    return at.dt.year - birth.dt.year - before_birthday.astype(int)
