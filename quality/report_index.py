"""The reports index: one page (``reports/index.html``) listing every quality run and profile.

Data stewards open that one file to browse the history. Each pipeline step that writes a report
(Great Expectations Data Docs, a ydata profile, the product card) records it with
``record_report``: one JSON line appended to ``reports/reports.jsonl``, the history of every run,
from which the index is regenerated. The page is self-contained (inline CSS, no scripts, no
external assets), so it opens offline from the file system, and its links are relative, so the
reports folder can be copied or served as a whole.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from customer_overview.atomic_files import write_text_atomically
from customer_overview.html_pages import render_template

log = logging.getLogger(__name__)

ENTRIES_FILE = "reports.jsonl"
INDEX_FILE = "index.html"
INDEX_TITLE = "Customer overview — quality reports"

# Kind -> section heading, in the order the sections appear.
KIND_SECTIONS = {"quality": "Quality runs", "profile": "Profiles", "product": "Product cards"}
STATUSES = ("passed", "failed", "warning", "ok")
_REQUIRED_FIELDS = ("kind", "table", "title", "status", "created_at", "path")


@dataclass(frozen=True)
class ReportEntry:
    """One report in the index.

    Attributes:
        kind: ``"quality"``, ``"profile"`` or ``"product"``.
        table: The table the report is about.
        title: The link text.
        status: ``"passed"``, ``"failed"``, ``"warning"`` or ``"ok"``.
        created_at: When the report was made; must be timezone-aware, stored in UTC.
        path: The report's path relative to the reports folder, e.g.
            ``"profiles/customer_overview/123/profile.html"``.
        details: A short note, e.g. ``"41/42 expectations passed"``.
    """

    kind: str
    table: str
    title: str
    status: str
    created_at: datetime
    path: str
    details: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KIND_SECTIONS:
            raise ValueError(f"kind must be one of {', '.join(KIND_SECTIONS)}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(f"created_at must be timezone-aware, got {self.created_at}")
        # The links are relative so that the reports folder can move as a whole.
        if PurePosixPath(self.path).is_absolute() or urlsplit(self.path).scheme:
            raise ValueError(f"path must be relative to the reports folder, got {self.path!r}")
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))

    def to_json_line(self) -> str:
        """The entry as one line of JSON (ASCII only, so no character can split the line)."""
        record = asdict(self) | {"created_at": self.created_at.isoformat()}
        return json.dumps(record, ensure_ascii=True) + "\n"

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ReportEntry:
        """Rebuild an entry from a parsed JSON line; unknown keys are ignored.

        Raises:
            KeyError: A required field is missing.
            TypeError: A field is not a string.
            ValueError: A field has an invalid value.
        """
        fields = {name: record[name] for name in _REQUIRED_FIELDS}
        fields["details"] = record.get("details", "")
        for name, value in fields.items():
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {type(value).__name__}")
        created_at = datetime.fromisoformat(fields.pop("created_at"))
        return cls(created_at=created_at, **fields)


def record_report(reports_dir: Path, entry: ReportEntry) -> Path:
    """Append ``entry`` to ``reports_dir/reports.jsonl`` and regenerate ``reports_dir/index.html``.

    Concurrent runs may record at the same time: the line goes out in a single ``O_APPEND``
    write, so lines never interleave, and the index is regenerated under an exclusive lock on
    the history file, so the last index written includes every line appended before it.

    Args:
        reports_dir: The lakehouse's reports folder (created if missing).
        entry: The report to add.

    Returns:
        The path of the regenerated index.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    line = entry.to_json_line().encode("utf-8")
    # 0o666 filtered by the process umask (077 in a run): reports hold samples of personal data.
    fd = os.open(reports_dir / ENTRIES_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"{reports_dir / ENTRIES_FILE}: wrote {written} of {len(line)} bytes")
        # Appends do not take this lock; only regenerations wait for each other.
        fcntl.flock(fd, fcntl.LOCK_EX)
        entries, skipped = _read_entries(reports_dir / ENTRIES_FILE)
        page = render_index(entries, datetime.now(UTC), skipped_lines=skipped)
        return write_text_atomically(reports_dir / INDEX_FILE, page)
    finally:
        os.close(fd)


def load_entries(reports_dir: Path) -> list[ReportEntry]:
    """Every recorded report, newest first.

    Malformed lines (not JSON, missing or invalid fields) are skipped and counted in a warning,
    so one bad line never hides the rest of the history.

    Args:
        reports_dir: The lakehouse's reports folder.

    Returns:
        The entries, newest first (among equal times, the one recorded last comes first).
    """
    entries, _ = _read_entries(reports_dir / ENTRIES_FILE)
    return entries


def render_index(
    entries: Sequence[ReportEntry], generated_at: datetime, *, skipped_lines: int = 0
) -> str:
    """The index page: a status summary, then one table per kind of report, newest first.

    Args:
        entries: The reports to list, in any order.
        generated_at: When the page is generated (shown in UTC).
        skipped_lines: Malformed history lines that were skipped; the page says so if any.

    Returns:
        A self-contained HTML document (inline CSS, no external assets), laid out by
        ``quality/templates/report_index.html.j2``.
    """
    newest_first = sorted(entries, key=lambda entry: entry.created_at, reverse=True)
    status_counts = Counter(entry.status for entry in newest_first)
    return render_template(
        "quality",
        "report_index.html.j2",
        title=INDEX_TITLE,
        generated_at=_utc_text(generated_at),
        report_count=len(newest_first),
        skipped_lines=skipped_lines,
        entries_file=ENTRIES_FILE,
        status_counts=[(status, status_counts[status]) for status in STATUSES],
        sections=[
            _section(heading, [entry for entry in newest_first if entry.kind == kind])
            for kind, heading in KIND_SECTIONS.items()
        ],
    )


def _read_entries(entries_file: Path) -> tuple[list[ReportEntry], int]:
    """The entries of ``entries_file``, newest first, and the number of malformed lines."""
    if not entries_file.exists():
        return [], 0
    # Split on "\n" only: str.splitlines() also splits on characters JSON leaves unescaped.
    lines = entries_file.read_text(encoding="utf-8", errors="replace").split("\n")
    numbered: list[tuple[int, ReportEntry]] = []
    skipped = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            numbered.append((number, ReportEntry.from_record(json.loads(line))))
        except (ValueError, TypeError, KeyError) as error:
            skipped += 1
            log.debug("%s:%d: skipped malformed line: %s", entries_file, number, error)
    if skipped:
        log.warning("%s: skipped %d malformed line(s)", entries_file, skipped)
    numbered.sort(key=lambda item: (item[1].created_at, item[0]), reverse=True)
    return [entry for _, entry in numbered], skipped


@dataclass(frozen=True)
class _Row:
    """One table row of the index, its values as the page shows them (the template escapes)."""

    created_at_iso: str
    created_at_text: str
    table: str
    title: str
    href: str
    status: str
    details: str


@dataclass(frozen=True)
class _Section:
    """One kind of report: its heading and its rows, newest first (none: "No ... yet.")."""

    heading: str
    rows: tuple[_Row, ...]


def _section(heading: str, entries: Sequence[ReportEntry]) -> _Section:
    return _Section(heading=heading, rows=tuple(_row(entry) for entry in entries))


def _row(entry: ReportEntry) -> _Row:
    return _Row(
        created_at_iso=entry.created_at.isoformat(),
        created_at_text=_utc_text(entry.created_at),
        table=entry.table,
        title=entry.title,
        # Percent-encoding also turns any "scheme:" into a harmless relative path.
        href=quote(entry.path, safe="/"),
        status=entry.status,
        details=entry.details,
    )


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
