"""Data Docs that load nothing from outside: real GX pages rewritten to the vendored npm files.

The Data Docs here are built by Great Expectations itself (a pandas batch, a suite with a passing
and a failing expectation, a checkpoint with the product's Data Docs site), so the rewriting is
tested on exactly what GX writes. Rendering in Chromium with the network blocked is tested on a
whole pipeline run in ``tests/pipeline/test_report_server.py``.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from customer_overview.config import load_settings
from quality.expectations import SITE_NAME, gx_context, quality_dirs
from quality.offline_assets import (
    GX_LOGO_TARGET,
    NODE_MODULES_DIR,
    PACKAGED_VENDOR_DIR,
    PACKAGES_FILE,
    VENDORED_ASSETS,
    external_resources,
    install_static_assets,
    make_data_docs_offline,
    make_pages_offline,
    rewrite_page,
    vendor,
)

CDN_HOSTS = (
    "maxcdn.bootstrapcdn.com",
    "stackpath.bootstrapcdn.com",
    "code.jquery.com",
    "cdnjs.cloudflare.com",
    "unpkg.com",
    "cdn.jsdelivr.net",
    "great-expectations-web-assets",
)
_LOCAL_REFERENCE = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)\"""", re.S)


@pytest.fixture(scope="module")
def data_docs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """GX Data Docs of two validations (one passing, one failing) as GX writes them."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    settings = load_settings(profile="local", lakehouse_dir=tmp_path_factory.mktemp("lake"), env={})
    context = gx_context(settings)
    batch = (
        context.data_sources.add_pandas("frames")
        .add_dataframe_asset("customers")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name="customers_suite",
            expectations=[
                gx.expectations.ExpectColumnValuesToNotBeNull(column="cust_id"),
                gx.expectations.ExpectColumnValuesToBeBetween(
                    column="cibil_score", min_value=300, max_value=900
                ),
            ],
        )
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="customers_validation", data=batch, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="customers_checkpoint",
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="docs", site_names=[SITE_NAME])],
        )
    )
    docs_dir = quality_dirs(settings)[1]
    scores = {"good": [700, 810, 455], "bad": [700, 950, 455]}
    for name, values in scores.items():
        frame = pd.DataFrame({"cust_id": ["C1", "C2", "C3"], "cibil_score": values})
        checkpoint.run(batch_parameters={"dataframe": frame}, run_id=gx.RunIdentifier(name))
    pages = sorted(docs_dir.rglob("*.html"))
    as_written = {page: page.read_text(encoding="utf-8") for page in pages}
    first = make_data_docs_offline(docs_dir, settings.reports_dir)
    second = make_data_docs_offline(docs_dir, settings.reports_dir)
    return {
        "settings": settings,
        "docs_dir": docs_dir,
        "pages": pages,
        "as_written": as_written,
        "first": first,
        "second": second,
        "context_id": str(context.variables.data_context_id),
    }


def test_gx_writes_cdn_urls_that_the_rewrite_removes_from_every_page(data_docs: dict) -> None:
    pages = data_docs["pages"]
    # An index, a suite page and two validation pages.
    assert len(pages) == 4, pages
    for page, original in data_docs["as_written"].items():
        # The premise: GX loads from CDNs (if this fails, GX changed: review the asset table).
        assert external_resources(original), page
        assert "cdn.jsdelivr.net/npm/vega@5" in original
        rewritten = page.read_text(encoding="utf-8")
        assert external_resources(rewritten) == [], page
        for host in CDN_HOSTS:
            assert host not in rewritten, (page, host)
        assert data_docs["context_id"] not in rewritten  # the logo URL carried it
        assert " integrity=" not in rewritten and "crossorigin" not in rewritten
    assert sorted(data_docs["first"].rewritten) == pages
    assert data_docs["first"].leftovers == {}
    assert data_docs["first"].missing_assets == []


def test_every_local_script_sheet_and_image_of_the_pages_exists(data_docs: dict) -> None:
    vendored = 0
    for page in data_docs["pages"]:
        text = page.read_text(encoding="utf-8")
        for reference in _LOCAL_REFERENCE.findall(text):
            target = (page.parent / unquote(urlsplit(reference).path)).resolve()
            assert target.is_file(), (page, reference)
            vendored += "/static/vendor/" in target.as_posix()
        # The validation page's favicon link points one folder too high as GX writes it.
        assert "static/vendor/great_expectations/favicon.ico" in text
    assert vendored >= 4 * 16  # every page loads the 16 vendored scripts, sheets and logo


def test_the_vendored_files_are_the_npm_packages_files(data_docs: dict) -> None:
    installed = data_docs["settings"].reports_dir / "static" / "vendor"
    for asset in VENDORED_ASSETS:
        if asset.source.endswith("/*"):
            sources = sorted((NODE_MODULES_DIR / asset.package / asset.source[:-2]).iterdir())
            targets = [installed / asset.target / source.name for source in sources]
        else:
            sources = [NODE_MODULES_DIR / asset.package / asset.source]
            targets = [installed / asset.target]
        for source, target in zip(sources, targets, strict=True):
            assert target.read_bytes() == source.read_bytes(), target
    assert (installed / GX_LOGO_TARGET).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    versions = json.loads((installed / PACKAGES_FILE).read_text())
    assert versions["bootstrap"]["version"] == "4.3.1"
    assert versions["jquery"]["version"] == "3.7.1"
    assert versions["@fortawesome/fontawesome-free"]["version"] == "6.6.0"
    assert versions["vega"]["version"].startswith("5.")
    assert (installed / "licenses" / "bootstrap.txt").read_text().startswith("The MIT License")


def test_rewriting_twice_changes_nothing(data_docs: dict) -> None:
    assert data_docs["second"].rewritten == []
    assert sorted(data_docs["second"].unchanged) == data_docs["pages"]
    for page, original in data_docs["as_written"].items():
        once = rewrite_page(original, page, data_docs["settings"].reports_dir)
        assert rewrite_page(once, page, data_docs["settings"].reports_dir) == once


def test_relative_paths_follow_the_page_depth(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    page = '<link rel="stylesheet" href="https://code.jquery.com/jquery-3.7.1.min.js">'
    top = rewrite_page(page, reports / "index.html", reports)
    deep = rewrite_page(page, reports / "quality" / "data_docs" / "v" / "a" / "b.html", reports)
    assert 'href="static/vendor/jquery/jquery.min.js"' in top
    assert 'href="../../../../static/vendor/jquery/jquery.min.js"' in deep


def test_an_unknown_cdn_url_is_left_and_reported(tmp_path: Path, caplog) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    page = reports / "page.html"
    page.write_text(
        '<html><head><script src="https://cdn.example.org/lib@9.js"></script></head></html>\n'
    )
    result = make_pages_offline([page], reports)
    assert result.leftovers == {page: ["https://cdn.example.org/lib@9.js"]}
    assert "still loads 1 resource(s) from outside the machine" in caplog.text


def test_a_page_being_written_is_left_alone(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    page = reports / "partial.html"
    text = '<html><head><script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    page.write_text(text)
    result = make_pages_offline([page], reports)
    assert result.unchanged == [page] and page.read_text() == text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script src="https://a.example/x.js"></script>', ["https://a.example/x.js"]),
        ('<link rel="stylesheet" href="//b.example/x.css">', ["//b.example/x.css"]),
        ('<link rel="preconnect" href="https://c.example">', ["https://c.example"]),
        (
            '<img srcset="small.png 1x, https://d.example/big.png 2x">',
            ["https://d.example/big.png"],
        ),
        (
            "<style>a{background:url('https://e.example/i.png')}</style>",
            ["https://e.example/i.png"],
        ),
        ('<style>@import "https://f.example/s.css";</style>', ["https://f.example/s.css"]),
        ('<div style="background: url(http://g.example/p.gif)"></div>', ["http://g.example/p.gif"]),
        ('<iframe src="https://h.example/"></iframe>', ["https://h.example/"]),
        # Not fetched by the page itself, or local:
        ('<a href="https://greatexpectations.io">GX</a>', []),
        ('<link rel="canonical" href="https://i.example/page">', []),
        ('<img src="data:image/png;base64,AAAA"><script src="../static/x.js"></script>', []),
        ('<svg xmlns="http://www.w3.org/2000/svg"><use href="#icon"/></svg>', []),
    ],
)
def test_external_resources_finds_what_a_browser_would_fetch(html: str, expected: list) -> None:
    assert external_resources(html) == expected


def test_vendor_copies_the_pinned_files_with_their_licences(tmp_path: Path) -> None:
    out = vendor(NODE_MODULES_DIR, tmp_path / "vendor")
    expected = {a.target for a in VENDORED_ASSETS if not a.source.endswith("/*")}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert expected <= written
    assert any(name.startswith("fontawesome/webfonts/fa-solid-900.woff2") for name in written)
    assert len([n for n in written if n.startswith("licenses/")]) >= 8
    # The packaged copy (make setup) is the same set of files.
    packaged = {
        p.relative_to(PACKAGED_VENDOR_DIR).as_posix()
        for p in PACKAGED_VENDOR_DIR.rglob("*")
        if p.is_file()
    }
    assert packaged == written


def test_vendor_names_a_missing_npm_install(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"npm ci --prefix"):
        vendor(tmp_path / "node_modules", tmp_path / "vendor")
    (tmp_path / "node_modules").mkdir()
    with pytest.raises(FileNotFoundError, match=r"npm package bootstrap is not in"):
        vendor(tmp_path / "node_modules", tmp_path / "vendor")


def test_missing_vendored_files_are_reported_with_the_fix(tmp_path: Path, caplog) -> None:
    missing = install_static_assets(tmp_path / "reports", vendored_dir=tmp_path / "nothing")
    assert "bootstrap/css/bootstrap.min.css" in missing
    assert GX_LOGO_TARGET not in missing  # GX's own logo comes from the installed wheel
    assert "run `make setup`" in caplog.text


CDN_PAGE = (
    '<html><head><link rel="stylesheet" '
    'href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css">'
    "</head><body></body></html>\n"
)


def test_a_sweep_reads_only_the_pages_written_since_the_last_one_finished(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    docs = reports / "quality" / "data_docs"
    docs.mkdir(parents=True)
    index = docs / "index.html"
    index.write_text(CDN_PAGE, encoding="utf-8")
    assert make_data_docs_offline(docs, reports).rewritten == [index]

    long_ago = time.time() - 3600
    os.utime(index, (long_ago, long_ago))  # written and swept well before the last sweep
    validation = docs / "validations" / "run.html"
    validation.parent.mkdir()
    validation.write_text(CDN_PAGE, encoding="utf-8")
    swept = make_data_docs_offline(docs, reports)
    assert swept.rewritten == [validation]
    assert index not in swept.unchanged  # not even read

    # A page older than the last sweep that was never rewritten (restored from a copy, say):
    # only a sweep of everything (`python -m quality.offline_assets rewrite`) reads it.
    index.write_text(CDN_PAGE, encoding="utf-8")
    os.utime(index, (long_ago, long_ago))
    assert make_data_docs_offline(docs, reports).rewritten == []
    assert make_data_docs_offline(docs, reports, everything=True).rewritten == [index]
