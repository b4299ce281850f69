"""The reports index: history file, generated page, and a real Chromium screenshot of it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from quality.report_index import (
    ENTRIES_FILE,
    INDEX_FILE,
    ReportEntry,
    load_entries,
    record_report,
    render_index,
)
from quality.screenshot import screenshot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def entry(
    kind: str = "quality",
    status: str = "passed",
    hours: int = 0,
    title: str = "Customer overview suite",
    path: str = "quality/index.html",
    details: str = "",
) -> ReportEntry:
    return ReportEntry(
        kind=kind,
        table="customer_overview",
        title=title,
        status=status,
        created_at=START + timedelta(hours=hours),
        path=path,
        details=details,
    )


@pytest.fixture
def reports_dir(tmp_path: Path) -> Path:
    """A reports folder with two quality runs and a profile recorded, oldest first."""
    folder = tmp_path / "reports"
    record_report(folder, entry(status="passed", hours=0, details="42/42 expectations passed"))
    record_report(folder, entry(status="failed", hours=1, details="41/42 expectations passed"))
    record_report(
        folder,
        entry(
            kind="profile",
            status="ok",
            hours=2,
            title="customer_overview @ snapshot 4242",
            path="profiles/customer_overview/4242/profile.html",
            details="sample 5,000 of 20,000 rows",
        ),
    )
    return folder


def test_history_is_one_json_object_per_line_and_kept_across_runs(reports_dir: Path) -> None:
    record_report(reports_dir, entry(status="warning", hours=3))
    lines = (reports_dir / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["status"] for record in records] == ["passed", "failed", "ok", "warning"]
    assert records[0]["created_at"] == "2025-03-01T08:00:00+00:00"


def test_index_lists_reports_newest_first_with_statuses_and_relative_links(
    reports_dir: Path,
) -> None:
    page = (reports_dir / INDEX_FILE).read_text(encoding="utf-8")
    assert "<title>Customer overview — quality reports</title>" in page
    assert "1 passed" in page and "1 failed" in page and "1 ok" in page and "0 warning" in page
    assert page.index("Quality runs") < page.index("Profiles") < page.index("Product cards")
    assert page.index("41/42 expectations passed") < page.index("42/42 expectations passed")
    assert '<span class="badge failed">failed</span>' in page
    assert '<a href="quality/index.html">Customer overview suite</a>' in page
    assert '<a href="profiles/customer_overview/4242/profile.html">' in page
    assert "2025-03-01 10:00:00" in page
    assert "No product cards yet." in page
    # Self-contained: nothing to fetch, nothing to run.
    for external in ("http://", "https://", "<script", "<link"):
        assert external not in page


def test_load_entries_returns_newest_first(reports_dir: Path) -> None:
    loaded = load_entries(reports_dir)
    assert [(item.kind, item.status) for item in loaded] == [
        ("profile", "ok"),
        ("quality", "failed"),
        ("quality", "passed"),
    ]
    assert loaded[-1] == entry(status="passed", details="42/42 expectations passed")


def test_malformed_lines_are_skipped_counted_and_reported(
    reports_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = json.loads(entry().to_json_line())
    malformed = [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({key: value for key, value in good.items() if key != "path"}),
        json.dumps(good | {"status": "exploded"}),
        json.dumps(good | {"created_at": "2025-03-01T08:00:00"}),  # no time zone
        json.dumps(good | {"table": 42}),
    ]
    with (reports_dir / ENTRIES_FILE).open("a", encoding="utf-8") as history:
        history.write("\n".join(malformed) + "\n\n")

    with caplog.at_level(logging.WARNING, logger="quality.report_index"):
        assert len(load_entries(reports_dir)) == 3
    assert "skipped 6 malformed line(s)" in caplog.text

    record_report(reports_dir, entry(status="warning", hours=5))
    page = (reports_dir / INDEX_FILE).read_text(encoding="utf-8")
    assert "6 malformed lines were skipped in reports.jsonl." in page
    assert "1 warning" in page


def test_everything_shown_is_html_escaped(tmp_path: Path) -> None:
    record_report(
        tmp_path,
        ReportEntry(
            kind="quality",
            table="<b>accounts</b>",
            title="<script>alert('owned')</script>",
            status="failed",
            created_at=START,
            path='quality/a "quoted" & spaced.html',
            details="x < y & z",
        ),
    )
    page = (tmp_path / INDEX_FILE).read_text(encoding="utf-8")
    assert "<script>" not in page and "<b>" not in page
    # Jinja2's autoescape (MarkupSafe) writes ' as &#39; and " as &#34;.
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in page
    assert "&lt;b&gt;accounts&lt;/b&gt;" in page
    assert "x &lt; y &amp; z" in page
    assert 'href="quality/a%20%22quoted%22%20%26%20spaced.html"' in page


def test_empty_index_says_so() -> None:
    page = render_index([], START)
    assert "No reports yet." in page
    assert "<table" not in page
    assert "Generated 2025-03-01 08:00:00 UTC · 0 reports" in page


def test_render_index_sorts_whatever_order_it_is_given() -> None:
    page = render_index([entry(hours=0, details="oldest"), entry(hours=9, details="newest")], START)
    assert page.index("newest") < page.index("oldest")


def test_entry_times_are_stored_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    stored = ReportEntry(
        kind="product",
        table="customer_overview",
        title="Product card",
        status="ok",
        created_at=datetime(2025, 3, 1, 9, tzinfo=paris),
        path="product/card.html",
    )
    assert stored.created_at == START and stored.created_at.tzinfo == UTC
    assert ReportEntry.from_record(json.loads(stored.to_json_line())) == stored


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "lineage"}, "kind must be one of"),
        ({"status": "green"}, "status must be one of"),
        ({"created_at": datetime(2025, 3, 1)}, "timezone-aware"),
        ({"path": "/etc/passwd"}, "relative"),
        ({"path": "javascript:alert(1)"}, "relative"),
        ({"path": "https://example.com/report.html"}, "relative"),
    ],
)
def test_invalid_entries_are_rejected(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "kind": "quality",
        "table": "customer_overview",
        "title": "t",
        "status": "passed",
        "created_at": START,
        "path": "quality/index.html",
    } | changes
    with pytest.raises(ValueError, match=message):
        ReportEntry(**fields)  # type: ignore[arg-type]


def test_concurrent_recorders_lose_no_line(tmp_path: Path) -> None:
    writer = textwrap.dedent(
        """
        import sys
        from datetime import UTC, datetime
        from pathlib import Path
        from quality.report_index import ReportEntry, record_report

        for number in range(15):
            record_report(Path(sys.argv[1]), ReportEntry(
                "quality", "t" + sys.argv[2], f"run {number}", "passed",
                datetime.now(UTC), "quality/index.html"))
        """
    )
    writers = [
        subprocess.Popen([sys.executable, "-c", writer, str(tmp_path), str(worker)])
        for worker in range(4)
    ]
    assert [process.wait(timeout=60) for process in writers] == [0, 0, 0, 0]
    lines = (tmp_path / ENTRIES_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60
    assert len(load_entries(tmp_path)) == 60
    # The index regenerated last includes every line.
    assert 'Quality runs <span class="count">(60)</span>' in (tmp_path / INDEX_FILE).read_text(
        encoding="utf-8"
    )


def test_screenshot_of_the_index_is_a_real_non_blank_png(reports_dir: Path, tmp_path: Path) -> None:
    png = screenshot(reports_dir / INDEX_FILE, tmp_path / "shots" / "index.png")
    assert png == tmp_path / "shots" / "index.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(png) as image:
        assert image.size == (1280, 900)
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1_000_000) or []
        non_white = sum(count for count, colour in colours if colour != (255, 255, 255))
    assert len(colours) > 50  # text anti-aliasing and four badge colours
    assert non_white > 0.01 * 1280 * 900


def test_screenshot_command_line(reports_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.png"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "quality.screenshot",
            str(reports_dir / INDEX_FILE),
            str(out),
            "--width",
            "800",
            "--height",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(out)
    with Image.open(out) as image:
        assert image.size == (800, 600)


def test_screenshot_reports_a_missing_chromium(reports_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"Chromium not found .*/no/such/chromium"):
        screenshot(reports_dir / INDEX_FILE, tmp_path / "x.png", chromium="/no/such/chromium")


def test_screenshot_reports_a_failing_chromium_with_its_command(
    reports_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match=r"exit code 1\): .*false --headless"):
        screenshot(reports_dir / INDEX_FILE, tmp_path / "x.png", chromium="false")
    assert not (tmp_path / "x.png").exists()


def test_screenshot_of_a_missing_page(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        screenshot(tmp_path / "missing.html", tmp_path / "x.png")
