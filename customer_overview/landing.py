"""Landing files: discovery, header contract checks and column-name cleansing (no Spark here).

The landing contract is CSV, UTF-8, a header row, RFC 4180 quoting, one record per line. The
source system writes a leading unnamed index column (pandas ``to_csv`` with its index), which is
dropped, as the seed's ``drop: ["_c0"]`` step does.

What is a landing file is decided in one place, :func:`scan_landing`, which ingestion, its checks
and the sensor all use: every file under ``landing/<entity folder>/``, at any depth (banks drop
by date folder: ``customers/2024-01-31/x.csv``), whose name ends in ``.csv`` or ``.csv.gz`` in
any letter case (Spark decompresses gzip itself, so a ``.gz`` suffix must be lower case). A
file's identity is its path relative to ``landing/``. Every other file under ``landing/`` is
listed with the reason it is not ingested (hidden or temporary, another format, a folder no
entity reads), never skipped silently.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from customer_overview.entities import EntitySchema

# Names the source system's index column appears under, after cleansing.
INDEX_COLUMN_NAMES = frozenset({"", "_c0", "unnamed_0", "index"})

CONTRACT_DELIMITER = ","
# Delimiters other systems export with; a header split better by one of them names it.
OTHER_DELIMITERS = (";", "\t", "|")
_DELIMITER_NAMES = {";": "';'", "\t": "a tab", "|": "'|'", ",": "','"}
GZIP_MAGIC = b"\x1f\x8b"
# Files at the top of landing/ that are not drops: the generator's record of what it wrote
# (generator.manifest.MANIFEST_FILE_NAME).
KNOWN_NON_DATA_FILES = {"manifest.json": "the generator's manifest of what it wrote"}


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

    @property
    def gzipped(self) -> bool:
        return self.name.lower().endswith(".gz")


@dataclass(frozen=True)
class UnrecognisedFile:
    """A file under ``landing/`` that no ingest step reads, and why."""

    name: str  # relative to the landing directory
    reason: str
    entity_folder: str | None = None  # the entity folder it lies in, if any

    def describe(self) -> str:
        return f"landing/{self.name}: {self.reason}"


@dataclass
class LandingScan:
    """Every file under ``landing/``: the entities' landing files and the rest."""

    files: dict[str, list[LandingFile]] = field(default_factory=dict)  # entity -> sorted files
    unrecognised: list[UnrecognisedFile] = field(default_factory=list)
    known_non_data: list[UnrecognisedFile] = field(default_factory=list)

    def unrecognised_for(self, schema: EntitySchema, first: bool) -> list[UnrecognisedFile]:
        """The unrecognised files one entity's check reports.

        Files inside the entity's folder, and, for the ``first`` entity of the graph, the files
        outside every entity folder (so each file is reported by exactly one check).
        """
        return [
            file
            for file in self.unrecognised
            if file.entity_folder == schema.folder or (first and file.entity_folder is None)
        ]


@dataclass
class HeaderCheck:
    """What the header line of one file says about its layout."""

    columns: list[str] = field(default_factory=list)  # cleansed, in file order, index included
    has_index_column: bool = False
    problems: list[str] = field(default_factory=list)  # file-level problems (header mismatch...)
    status: str = "ok"  # ok | empty | header_only | rejected | unreadable
    ends_with_newline: bool = True
    # The rule a rejected file's lines are quarantined under (curation: well_formed_record).
    rejection_rule: str = "header_mismatch"

    @property
    def field_count(self) -> int:
        return len(self.columns)


def scan_landing(landing_dir: Path, schemas: Sequence[EntitySchema]) -> LandingScan:
    """Sort every file under ``landing_dir`` into the entities' landing files and the rest.

    Entity folders and file names are matched regardless of letter case; files of one entity
    are sorted by their path relative to ``landing_dir`` (= arrival order, date folders
    included).
    """
    scan = LandingScan(files={schema.entity: [] for schema in schemas})
    if not landing_dir.is_dir():
        return scan
    by_folder = {schema.folder.lower(): schema for schema in schemas}
    for path in sorted(landing_dir.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(landing_dir)
        name = relative.as_posix()
        schema = by_folder.get(relative.parts[0].lower()) if len(relative.parts) > 1 else None
        reason = _not_a_landing_file(relative, schema, by_folder)
        if reason is None and schema is not None:
            stat = path.stat()
            scan.files[schema.entity].append(
                LandingFile(
                    path=path.resolve(),
                    name=name,
                    size=stat.st_size,
                    modified_ns=stat.st_mtime_ns,
                )
            )
        elif len(relative.parts) == 1 and name in KNOWN_NON_DATA_FILES:
            scan.known_non_data.append(UnrecognisedFile(name, KNOWN_NON_DATA_FILES[name]))
        else:
            entity_folder = schema.folder if schema is not None else None
            scan.unrecognised.append(
                UnrecognisedFile(name, reason or "not a landing file", entity_folder)
            )
    return scan


def _not_a_landing_file(
    relative: Path, schema: EntitySchema | None, by_folder: dict[str, EntitySchema]
) -> str | None:
    """Why a file under landing/ is not ingested, or ``None`` when it is a landing file."""
    name = relative.name
    if any(part.startswith(".") or part.startswith("~") for part in relative.parts):
        return "hidden or temporary file (a drop still being written?): not ingested"
    if schema is None:
        known = ", ".join(f"{folder}/" for folder in sorted(by_folder))
        if len(relative.parts) == 1:
            return f"not in an entity's folder ({known}): not ingested"
        folder = relative.parts[0]
        close = difflib.get_close_matches(folder.lower(), list(by_folder), n=1)
        hint = f"; did you mean {close[0]}/?" if close else ""
        return f"folder {folder}/ is not an entity's landing folder ({known}){hint}: not ingested"
    lower = name.lower()
    if lower.endswith(".csv.gz"):
        if not name.endswith(".gz"):
            return (
                f"Spark decompresses gzip only with a lower-case .gz suffix: rename it to "
                f"{name[: -len('.gz')]}.gz"
            )
        return None
    if lower.endswith(".csv"):
        return None
    return f"{_format_of(name)} is not a landing format (CSV files: .csv or .csv.gz): not ingested"


def _format_of(name: str) -> str:
    """``x.xlsx`` -> ``.xlsx``; ``x.csv.bz2`` -> ``.csv.bz2``; ``README`` -> ``no extension``."""
    suffixes = Path(name).suffixes
    if not suffixes:
        return "no extension"
    compressed = len(suffixes) > 1 and suffixes[-1].lower() in {".gz", ".bz2", ".zip", ".xz"}
    return "".join(suffixes[-2:] if compressed else suffixes[-1:])


def list_landing_files(landing_dir: Path, schema: EntitySchema) -> list[LandingFile]:
    """The entity's landing files (see :func:`scan_landing`), sorted by relative path."""
    return scan_landing(landing_dir, [schema]).files[schema.entity]


def check_header(file: LandingFile, schema: EntitySchema) -> HeaderCheck:
    """Read only the first line (and last byte) of a file and compare it to the contract.

    A gzip file is decompressed once here, as a stream, so that a truncated or corrupt archive
    is reported for its file instead of failing the whole ingestion when Spark reads it.
    """
    check = HeaderCheck()
    if file.size == 0:
        check.status = "empty"
        check.problems.append(f"{file.name}: empty file (no header line)")
        return check
    try:
        first_line, has_more, check.ends_with_newline = _first_line_and_end(file)
    except (OSError, EOFError, zlib.error) as exc:
        check.status = "unreadable"
        check.problems.append(f"{file.name}: not a complete gzip file ({exc}): nothing ingested")
        return check
    if not first_line:
        check.status = "empty"
        check.problems.append(f"{file.name}: empty file (no header line)")
        return check
    if not file.gzipped and first_line.startswith(GZIP_MAGIC):
        # Read as text it would be binary noise, line by line: not read at all.
        check.status = "unreadable"
        check.problems.append(
            f"{file.name}: the file is gzip-compressed but named .csv: name it "
            f"{file.path.name}.gz (nothing ingested)"
        )
        return check
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
    delimiter = _other_delimiter(header, len(check.columns)) if missing else None
    if delimiter is not None:
        check.status = "rejected"
        check.rejection_rule = "wrong_delimiter"
        check.problems.append(
            f"{file.name}:1: header looks delimited by {_DELIMITER_NAMES[delimiter]}, "
            f"expected {_DELIMITER_NAMES[CONTRACT_DELIMITER]} "
            f"({_delimited_fit(header, delimiter, expected)})"
        )
    elif missing or extra or duplicated:
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
    if not has_more:
        check.status = "header_only" if check.status == "ok" else check.status
        check.problems.append(f"{file.name}: header only, no data rows")
    if not check.ends_with_newline and has_more:
        check.problems.append(
            f"{file.name}: does not end with a newline; its last line may be truncated "
            "(it is checked like every other line)"
        )
    return check


def _first_line_and_end(file: LandingFile) -> tuple[bytes, bool, bool]:
    """(first line, whether anything follows it, whether the content ends with a newline)."""
    if not file.gzipped:
        with file.path.open("rb") as handle:
            first_line = handle.readline()
            has_more = bool(handle.read(1))
            handle.seek(-1, 2)
            return first_line, has_more, handle.read(1) == b"\n"
    # gzip cannot seek from the end: stream the whole archive (this also proves it is whole).
    with gzip.open(file.path, "rb") as handle:
        first_line = handle.readline()
        last = first_line[-1:]
        has_more = False
        while chunk := handle.read(1 << 20):
            has_more, last = True, chunk[-1:]
    return first_line, has_more, last == b"\n"


def _other_delimiter(header: str, comma_fields: int) -> str | None:
    """The delimiter a header is split by better than by a comma, if any (quotes respected)."""
    counts = {
        delimiter: len(next(csv.reader([header], delimiter=delimiter)))
        for delimiter in OTHER_DELIMITERS
    }
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > max(comma_fields, 1) else None


def _delimited_fit(header: str, delimiter: str, expected: list[str]) -> str:
    """How the header reads with ``delimiter``: does it then match the contract?"""
    names = [cleanse_column_name(name) for name in next(csv.reader([header], delimiter=delimiter))]
    if names and names[0] in INDEX_COLUMN_NAMES:
        names = names[1:]
    if sorted(names) == sorted(expected):
        return "split by it, its columns match the contract"
    return f"split by it, it has {len(names)} columns; the contract has {len(expected)}"
