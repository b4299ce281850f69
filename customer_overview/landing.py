"""Landing files: discovery, header contract checks and column-name cleansing (no Spark here).

The landing contract is CSV, UTF-8, a header row, RFC 4180 quoting, one record per line. The
source system writes a leading unnamed index column (pandas ``to_csv`` with its index), which is
dropped, as the seed's ``drop: ["_c0"]`` step does.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from customer_overview.entities import EntitySchema

# Names the source system's index column appears under, after cleansing.
INDEX_COLUMN_NAMES = frozenset({"", "_c0", "unnamed_0", "index"})


def cleanse_column_name(name: str) -> str:
    """Lower snake case, as the seed's ``cleanse_column_names`` + ``change_column_case: lower``.

    ``" Cust DOB "`` -> ``"cust_dob"``, ``"Email-Address"`` -> ``"email_address"``.
    """
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lstrip("\ufeff")).strip("_")
    return cleaned.lower()


@dataclass(frozen=True)
class LandingFile:
    """A file in ``landing/<entity>/``, identified by its name, size and modification time."""

    path: Path
    name: str  # relative to the landing directory, e.g. "customers/customers_00001.csv"
    size: int
    modified_ns: int

    @property
    def fingerprint(self) -> str:
        """What makes a file "already ingested": same name, size and modification time."""
        return f"{self.name}|{self.size}|{self.modified_ns}"


@dataclass
class HeaderCheck:
    """What the header line of one file says about its layout."""

    columns: list[str] = field(default_factory=list)  # cleansed, in file order, index included
    has_index_column: bool = False
    problems: list[str] = field(default_factory=list)  # file-level problems (header mismatch...)
    status: str = "ok"  # ok | empty | header_only | rejected
    ends_with_newline: bool = True

    @property
    def field_count(self) -> int:
        return len(self.columns)


def list_landing_files(landing_dir: Path, schema: EntitySchema) -> list[LandingFile]:
    """Every ``*.csv`` of the entity's landing folder, sorted by name (= arrival order)."""
    folder = landing_dir / schema.folder
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.glob("*.csv")):
        stat = path.stat()
        files.append(
            LandingFile(
                path=path.resolve(),
                name=path.relative_to(landing_dir).as_posix(),
                size=stat.st_size,
                modified_ns=stat.st_mtime_ns,
            )
        )
    return files


def check_header(file: LandingFile, schema: EntitySchema) -> HeaderCheck:
    """Read only the first line (and last byte) of a file and compare it to the contract."""
    check = HeaderCheck()
    if file.size == 0:
        check.status = "empty"
        check.problems.append(f"{file.name}: empty file (no header line)")
        return check
    with file.path.open("rb") as handle:
        first_line = handle.readline()
        rest = handle.read(1)
        handle.seek(-1, 2)
        check.ends_with_newline = handle.read(1) == b"\n"
    try:
        header = first_line.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        check.status = "rejected"
        check.problems.append(
            f"{file.name}:1: header is not UTF-8 ({exc.reason} at byte {exc.start})"
        )
        return check
    check.columns = [cleanse_column_name(name) for name in next(csv.reader([header]))]
    if check.columns and check.columns[0] in INDEX_COLUMN_NAMES:
        check.has_index_column = True
    business = check.columns[1:] if check.has_index_column else check.columns
    expected = list(schema.column_names)
    missing = [name for name in expected if name not in business]
    extra = [name for name in business if name not in expected]
    duplicated = sorted({name for name in business if business.count(name) > 1})
    if missing or extra or duplicated:
        check.status = "rejected"
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        if duplicated:
            parts.append(f"duplicated column(s) {duplicated}")
        check.problems.append(
            f"{file.name}:1: header does not match the {schema.entity} contract: "
            + "; ".join(parts)
        )
    if not rest:
        check.status = "header_only" if check.status == "ok" else check.status
        check.problems.append(f"{file.name}: header only, no data rows")
    if not check.ends_with_newline and rest:
        check.problems.append(
            f"{file.name}: does not end with a newline; its last line may be truncated "
            "(it is checked like every other line)"
        )
    return check
