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
import html
import json
import logging
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

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
        return _write_atomically(reports_dir / INDEX_FILE, page)
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
        A self-contained HTML document (inline CSS, no external assets).
    """
    newest_first = sorted(entries, key=lambda entry: entry.created_at, reverse=True)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(INDEX_TITLE)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{html.escape(INDEX_TITLE)}</h1>",
        f'<p class="meta">Generated {_utc_text(generated_at)} UTC · '
        f"{len(newest_first)} report{'' if len(newest_first) == 1 else 's'}</p>",
    ]
    if skipped_lines:
        parts.append(
            f'<p class="notice">{skipped_lines} malformed line'
            f"{' was' if skipped_lines == 1 else 's were'} skipped in {ENTRIES_FILE}.</p>"
        )
    if not newest_first:
        parts.append(
            '<p class="empty">No reports yet. Quality runs, profiles and product cards appear '
            "here once the pipeline has run.</p>"
        )
    else:
        status_counts = Counter(entry.status for entry in newest_first)
        badges = " ".join(
            f'<span class="badge {status}">{status_counts[status]} {status}</span>'
            for status in STATUSES
        )
        parts.append(f'<p class="summary">{badges}</p>')
        for kind, heading in KIND_SECTIONS.items():
            of_kind = [entry for entry in newest_first if entry.kind == kind]
            parts.append(_section(heading, of_kind))
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


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


def _section(heading: str, entries: Sequence[ReportEntry]) -> str:
    if not entries:
        return (
            f"<section><h2>{html.escape(heading)}</h2>"
            f'<p class="empty">No {html.escape(heading.lower())} yet.</p></section>'
        )
    rows = "\n".join(_row(entry) for entry in entries)
    return (
        f'<section><h2>{html.escape(heading)} <span class="count">({len(entries)})</span></h2>\n'
        "<table>\n<thead><tr><th>Date (UTC)</th><th>Table</th><th>Title</th><th>Status</th>"
        f"<th>Details</th></tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table></section>"
    )


def _row(entry: ReportEntry) -> str:
    # Percent-encoding also turns any "scheme:" into a harmless relative path.
    href = html.escape(quote(entry.path, safe="/"), quote=True)
    return (
        f'<tr><td><time datetime="{entry.created_at.isoformat()}">'
        f"{_utc_text(entry.created_at)}</time></td>"
        f"<td>{html.escape(entry.table)}</td>"
        f'<td><a href="{href}">{html.escape(entry.title)}</a></td>'
        f'<td><span class="badge {entry.status}">{entry.status}</span></td>'
        f"<td>{html.escape(entry.details)}</td></tr>"
    )


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader sees the old page or the new one, never half."""
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as temporary:
        temporary.write(text)
    # NamedTemporaryFile creates the file 0600 whatever the umask; give it the mode the umask
    # gives any new file (077 in a run: owner-only, as everything that may hold personal data).
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary.name, 0o666 & ~umask)
    os.replace(temporary.name, path)
    return path


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem;
  color: #1f2328; background: #ffffff; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #d0d7de;
  padding-bottom: .25rem; }
.meta { color: #57606a; margin: 0 0 1rem; }
.count { color: #57606a; font-weight: normal; }
.summary .badge { margin-right: .4rem; }
.empty { color: #57606a; font-style: italic; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .75rem;
  border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #d8dee4;
  vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
tbody tr:nth-child(even) { background: #fafbfc; }
td:first-child { white-space: nowrap; font-variant-numeric: tabular-nums; }
a { color: #0969da; text-decoration: none; }
a:hover { text-decoration: underline; }
.badge { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .8rem;
  font-weight: 600; color: #ffffff; }
.badge.passed { background: #1a7f37; }
.badge.failed { background: #cf222e; }
.badge.warning { background: #9a6700; }
.badge.ok { background: #0969da; }
"""
