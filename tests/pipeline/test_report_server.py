"""The report server: path safety, content types, methods, ``/latest/`` redirects, Ctrl-C/SIGTERM;
and on a whole pipeline run (``first_run``), the reports rendered offline in headless Chromium and
the report links of ``customer_overview_dp``'s Dagster metadata followed to served pages.

Chromium (Debian's chromium + chromedriver, driven by Selenium) resolves no host but 127.0.0.1
(``--host-resolver-rules``); every request it attempts is read from its performance log, so a
page that tried to reach a CDN fails the test even though the request could not succeed.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from urllib.request import urlopen

import pytest

from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.report_links import latest_report_urls, report_url
from operations.report_server import CONTENT_SECURITY_POLICY, make_server
from quality.report_index import ReportEntry, load_entries, record_report

SECRET = "secret outside the reports folder"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    # Nothing but this machine resolves: a CDN request fails fast instead of waiting.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--window-size=1400,1000",
)


# ------------------------------------------------------------------------------ test helpers
def serve_in_thread(reports_dir: Path) -> tuple[object, str]:
    server = make_server(reports_dir, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def request(base: str, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One raw request: ``path`` goes on the wire exactly as given (no client normalisation)."""
    connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def reports(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A reports folder with pages, assets, a hidden file, GX's project and symlinks; served."""
    root = tmp_path / "lake" / "reports"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.html").write_text(SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    files = {
        "index.html": "<!doctype html><title>index</title>",
        "static/vendor/app.css": "body{}",
        "static/vendor/app.js": "var a;",
        "static/vendor/font.woff2": "wOF2",
        "profiles/t/1/profile.json": "{}",
        "profiles/t/1/summary.md": "# summary",
        "product/index.html": "<title>product</title>",
        "product/connect/pyiceberg.yaml": "catalog: {}",
        "quality/data_docs/index.html": "<title>docs</title>",
        "quality/gx/uncommitted/config_variables.json": "{}",
        "quality/gx/index.html": "<title>gx</title>",
        ".hidden.html": "hidden",
        "images/logo.png": "\x89PNG",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "leak.html").symlink_to(tmp_path / "outside" / "secret.html")
    (root / "outside_dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "alias.html").symlink_to(root / "index.html")
    server, base = serve_in_thread(root)
    yield root, base
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- path safety
@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2e%2e/secret.txt",
        "/profiles/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/leak.html",  # a symlink to a file outside
        "/outside_dir/secret.html",  # through a symlinked folder
        "/outside_dir/",
        "/index.html%00.txt",
        "/%ff%fe.html",
    ],
)
def test_nothing_outside_the_reports_folder_is_served(reports, path: str) -> None:
    _, base = reports
    status, _, body = request(base, path)
    assert status == 404, (path, status)
    assert SECRET.encode() not in body


@pytest.mark.parametrize(
    "path",
    [
        "/.hidden.html",
        "/quality/gx/index.html",  # Great Expectations' project, not a report
        "/quality/gx/uncommitted/config_variables.json",
        "/quality/./gx/index.html",
        "/quality//gx/index.html",
        "/product/connect/pyiceberg.yaml",  # not a report file type
        "/quality/",  # a folder without index.html: no listing
        "/profiles/t/1/",
        "/no/such/page.html",
    ],
)
def test_hidden_files_gx_project_other_types_and_listings_are_not_served(
    reports, path: str
) -> None:
    _, base = reports
    status, _, body = request(base, path)
    assert status == 404, (path, status)
    assert b"Directory listing" not in body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/alias.html", "text/html; charset=utf-8"),  # a symlink inside the folder
        ("/static/vendor/app.css", "text/css; charset=utf-8"),
        ("/static/vendor/app.js", "text/javascript; charset=utf-8"),
        ("/static/vendor/font.woff2", "font/woff2"),
        ("/profiles/t/1/profile.json", "application/json"),
        ("/profiles/t/1/summary.md", "text/plain; charset=utf-8"),
        ("/images/logo.png", "image/png"),
        ("/product/", "text/html; charset=utf-8"),
        ("/quality/data_docs/index.html?x=1#top", "text/html; charset=utf-8"),
    ],
)
def test_report_files_are_served_with_their_content_type(
    reports, path: str, content_type: str
) -> None:
    _, base = reports
    status, headers, body = request(base, path)
    assert status == 200, path
    assert headers["Content-Type"] == content_type
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert int(headers["Content-Length"]) == len(body) > 0


def test_a_folder_without_trailing_slash_redirects_to_its_index(reports) -> None:
    _, base = reports
    status, headers, _ = request(base, "/product")
    assert (status, headers["Location"]) == (301, "/product/")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_only_get_and_head_are_allowed(reports, method: str) -> None:
    root, base = reports
    status, headers, _ = request(base, "/index.html", method)
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert (root / "index.html").read_text() == "<!doctype html><title>index</title>"


def test_head_sends_the_headers_without_the_body(reports) -> None:
    _, base = reports
    status, headers, body = request(base, "/index.html", "HEAD")
    assert status == 200 and body == b""
    assert int(headers["Content-Length"]) == len("<!doctype html><title>index</title>")


# ------------------------------------------------------------------------ latest redirects
def test_latest_links_redirect_to_the_newest_report_of_their_kind(reports) -> None:
    root, base = reports
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for hours, kind, table, path in [
        (0, "quality", "customer_overview_dp", "quality/data_docs/old.html"),
        (2, "quality", "customer_overview_dp", "quality/data_docs/new page.html"),
        (1, "quality", "accounts_dp", "quality/data_docs/accounts.html"),
        (3, "profile", "customer_overview_dp", "profiles/customer_overview_dp/9/profile.html"),
        (4, "product", "customer-overview-dp", "product/product_card_1.0.0_2.html"),
    ]:
        record_report(
            root,
            ReportEntry(kind, table, "t", "passed", start + timedelta(hours=hours), path),
        )
    expected = {
        "/latest/data_docs/customer_overview_dp": "/quality/data_docs/new%20page.html",
        "/latest/data_docs/accounts_dp": "/quality/data_docs/accounts.html",
        "/latest/profile/customer_overview_dp": "/profiles/customer_overview_dp/9/profile.html",
        "/latest/product_card": "/product/product_card_1.0.0_2.html",
    }
    for path, target in expected.items():
        status, headers, _ = request(base, path)
        assert status == 302, path
        # Relative, so that the link also works behind a URL prefix.
        assert not headers["Location"].startswith("/")
        assert urlsplit(urljoin(base + path, headers["Location"])).path == target
        assert headers["Cache-Control"] == "no-store"


def test_latest_links_before_any_report_say_so(reports) -> None:
    _, base = reports
    status, _, body = request(base, "/latest/profile/customer_overview_dp")
    assert status == 404
    assert b"No profile of customer_overview_dp has been written yet" in body
    for path in ("/latest/", "/latest/unknown/x", "/latest/data_docs/a/b"):
        assert request(base, path)[0] == 404, path


# ------------------------------------------------------------------------------- URLs
def test_report_urls_use_the_configured_base_url(tmp_path: Path) -> None:
    local = load_settings(profile="local", lakehouse_dir=tmp_path, env={})
    page = local.reports_dir / "quality" / "data docs" / "index.html"
    assert report_url(local, page) == "http://127.0.0.1:3030/quality/data%20docs/index.html"
    shared = load_settings(
        profile="local",
        lakehouse_dir=tmp_path,
        env={"REPORTS_BASE_URL": "https://reports.bank.example/lakehouse", "REPORTS_PORT": "8111"},
    )
    assert shared.reports.port == 8111
    assert report_url(shared, "product/product_card.html") == (
        "https://reports.bank.example/lakehouse/product/product_card.html"
    )
    assert latest_report_urls(shared, "customer_overview_dp", profile=True) == {
        "latest_data_docs": "https://reports.bank.example/lakehouse/latest/data_docs/"
        "customer_overview_dp",
        "latest_profile": "https://reports.bank.example/lakehouse/latest/profile/"
        "customer_overview_dp",
        "latest_product_card": "https://reports.bank.example/lakehouse/latest/product_card",
    }
    assert "latest_profile" not in latest_report_urls(shared, "accounts_dp", profile=False)
    with pytest.raises(ValueError, match="not under the reports folder"):
        report_url(local, tmp_path / "catalog.db")
    with pytest.raises(ValueError, match="not under the reports folder"):
        report_url(local, "../catalog.db")


def test_a_base_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    from customer_overview.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="base_url must be an http"):
        load_settings(
            profile="local", lakehouse_dir=tmp_path, env={"REPORTS_BASE_URL": "file:///tmp"}
        )


# ------------------------------------------------------------------------- the command
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_reports_serve_stops_cleanly_on_sigterm_and_ctrl_c(tmp_path: Path, stop_signal) -> None:
    lakehouse = tmp_path / "lake"
    (lakehouse / "reports").mkdir(parents=True)
    (lakehouse / "reports" / "index.html").write_text("<title>reports</title>")
    command = [sys.executable, "-m", "operations.cli", "--lakehouse-dir", str(lakehouse)]
    process = subprocess.Popen(
        [*command, "reports", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )
    try:
        line = process.stdout.readline()
        assert "Serving" in line, line + process.stderr.read()
        base = line.split(" on ")[1].split()[0].rstrip("/")
        assert base.startswith("http://127.0.0.1:")
        assert request(base, "/")[0] == 200
        started = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ------------------------------------------------------------ a whole run, in Chromium
@pytest.fixture(scope="module")
def served_lake(lake: LakehouseSettings, first_run) -> Iterator[str]:
    assert first_run.exit_code == 0, (first_run.failed_steps, first_run.blocking_failures)
    server, base = serve_in_thread(lake.reports_dir)
    yield base
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def newest(settings: LakehouseSettings, kind: str, table: str | None = None) -> str:
    for entry in load_entries(settings.reports_dir):
        if entry.kind == kind and (table is None or entry.table == table):
            return entry.path
    raise AssertionError(f"no {kind} report of {table} in {settings.reports_dir}")


def open_page(driver, url: str, ready_script: str = "return true") -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: (
            d.execute_script("return document.readyState") == "complete"
            and d.execute_script(ready_script)
            and d.execute_script("return document.fonts.status") == "loaded"
        )
    )


def computed(driver, selector: str, prop: str) -> str:
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e ? getComputedStyle(e).getPropertyValue(arguments[1]) : null;",
        selector,
        prop,
    )


def requests_and_errors(driver) -> tuple[list[str], list[str]]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]
    ]
    return urls, errors


def test_reports_render_offline_with_styles_and_nothing_leaves_the_machine(
    lake: LakehouseSettings, served_lake: str, browser, tmp_path_factory
) -> None:
    shots = tmp_path_factory.mktemp("report_screenshots")
    docs = lake.reports_dir / "quality" / "data_docs"
    validations = sorted((docs / "validations").rglob("*.html"))
    assert validations
    browser.get_log("performance")  # start from an empty log

    # Data Docs home: the table is rendered by bootstrap-table from data in a script.
    rows = (
        "return document.querySelectorAll('.bootstrap-table')[0]"
        "?.querySelectorAll('tbody tr[data-index]').length || 0"
    )
    open_page(browser, f"{served_lake}/quality/data_docs/index.html", rows)
    assert browser.execute_script(rows) == len(validations)
    statuses = browser.execute_script(
        "return [...document.querySelectorAll('.bootstrap-table')[0]"
        ".querySelectorAll('tbody tr[data-index]')].map(r => {"
        "  const i = r.querySelector('td i.fas');"
        "  return i ? [i.className, i.getBoundingClientRect().width] : null; });"
    )
    assert all(s is not None and s[1] > 0 for s in statuses), statuses
    assert all("fa-check-circle" in s[0] or "fa-times" in s[0] for s in statuses), statuses
    assert browser.execute_script("return document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    assert "Font Awesome 6 Free" in computed(browser, "td i.fas", "font-family")
    # Bootstrap 4.3: .btn-secondary is #6c757d (unstyled, a button is light grey).
    assert computed(browser, ".btn-secondary", "background-color") == "rgb(108, 117, 125)"
    assert computed(browser, "body", "font-family").startswith("-apple-system")
    assert (
        browser.execute_script("return document.querySelector('.navbar-brand img').naturalWidth")
        > 0
    )  # the local GX logo
    browser.save_screenshot(str(shots / "data-docs-home.png"))

    # A validation page of the customer table.
    page = newest(lake, "quality", "customer_overview_dp")
    open_page(browser, f"{served_lake}/{page}")
    assert "customer_overview_dp" in browser.page_source
    # Bootstrap's .table cell border: 1px solid #dee2e6.
    assert computed(browser, ".table td", "border-top-color") == "rgb(222, 226, 230)"
    assert computed(browser, ".table td", "border-top-width") == "1px"
    # The "Failed Only" filter button (the active "Show All" one is darker).
    assert computed(browser, ".btn-primary:not(.active)", "background-color") == (
        "rgb(0, 123, 255)"
    )
    browser.save_screenshot(str(shots / "data-docs-validation.png"))

    # The profile: ydata-profiling inlines its Bootstrap 5.
    open_page(browser, f"{served_lake}/{newest(lake, 'profile', 'customer_overview_dp')}")
    assert computed(browser, ".navbar", "display") == "flex"
    assert "cust_segment" in browser.page_source
    browser.save_screenshot(str(shots / "profile.png"))

    # The product card: inline styles.
    open_page(browser, f"{served_lake}/{newest(lake, 'product')}")
    assert computed(browser, "table", "border-collapse") == "collapse"
    assert computed(browser, "th", "background-color") == "rgb(246, 248, 250)"
    browser.save_screenshot(str(shots / "product-card.png"))

    urls, errors = requests_and_errors(browser)
    assert any("/static/vendor/bootstrap/css/bootstrap.min.css" in url for url in urls)
    outside = [
        url
        for url in urls
        if not url.startswith(("data:", "blob:")) and urlsplit(url).hostname != "127.0.0.1"
    ]
    assert outside == []
    # Failed loads and Content-Security-Policy refusals are console errors.
    assert errors == []
    print(f"screenshots in {shots}")


def test_no_page_the_run_wrote_loads_anything_from_outside(lake: LakehouseSettings, first_run):
    from quality.offline_assets import external_resources

    pages = sorted(lake.reports_dir.rglob("*.html"))
    written = {page.relative_to(lake.reports_dir).parts[0] for page in pages}
    assert {"index.html", "quality", "profiles", "product", "governance"} <= written
    outside = {
        str(page): external_resources(page.read_text(encoding="utf-8", errors="replace"))
        for page in pages
    }
    assert {page: urls for page, urls in outside.items() if urls} == {}


def test_the_report_links_of_customer_overview_dp_lead_to_served_pages(
    lake: LakehouseSettings, served_lake: str
) -> None:
    from dagster import AssetKey, DagsterEventType, UrlMetadataValue

    from pipelines.runner import dagster_instance

    instance = dagster_instance(lake)
    curated = instance.get_latest_materialization_event(
        AssetKey(["fs_accelerator", "customer_overview_dp"])
    )
    metadata = curated.asset_materialization.metadata
    links = {name: metadata[name] for name in ("latest_data_docs", "latest_profile")}
    links["latest_product_card"] = metadata["latest_product_card"]
    check_evaluations = instance.all_logs(
        curated.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    for record in check_evaluations:
        evaluation = record.dagster_event.event_specific_data
        if evaluation.asset_key.path[-1] == "customer_overview_dp" and (
            "data_docs_page" in evaluation.metadata
        ):
            links[f"check {evaluation.check_name}"] = evaluation.metadata["data_docs_page"]
    profile = instance.get_latest_materialization_event(
        AssetKey(["fs_accelerator", "customer_overview_profile"])
    )
    links["profile report"] = profile.asset_materialization.metadata["report"]
    assert len(links) >= 5, links

    for name, value in links.items():
        assert isinstance(value, UrlMetadataValue), (name, value)
        assert value.url.startswith(lake.reports.url), (name, value.url)
        # The links name the configured base URL; the test server listens on its own port.
        served = served_lake + "/" + value.url.removeprefix(lake.reports.url)
        with urlopen(served, timeout=30) as response:
            body = response.read().decode("utf-8", errors="replace")
            assert response.status == 200, name
            assert response.headers["Content-Type"] == "text/html; charset=utf-8", name
            assert urlsplit(response.url).path.endswith(".html"), (name, response.url)
        expected = "customer-overview" if "product_card" in name else "customer_overview_dp"
        assert expected in body, name


@pytest.fixture(scope="module")
def dagster_ui(lake: LakehouseSettings, first_run, tmp_path_factory) -> Iterator[str]:
    """The Dagster UI (dagster-webserver, as `make ui` starts it) on the lake's instance."""
    from customer_overview.process_groups import free_port, start_group, stop_group
    from pipelines.runner import dagster_home

    port = free_port()
    log = tmp_path_factory.mktemp("dagster_ui") / "webserver.log"
    environment = os.environ | {
        "DAGSTER_HOME": str(dagster_home(lake)),
        "LAKEHOUSE_DIR": str(lake.lakehouse_dir),
        "LAKEHOUSE_PROFILE": lake.profile,
    }
    webserver = Path(sys.executable).with_name("dagster-webserver")
    command = [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-m", "pipelines.definitions"]
    process = start_group(command, log, environment)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            try:
                if request(base, "/server_info")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        yield base
    finally:
        stop_group(process.pid, grace_seconds=20)


def _skip_dagster_welcome(browser) -> None:
    """Close the UI's first-visit "Join the Dagster community" dialog, if it is shown."""
    browser.execute_script(
        "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === 'Skip')"
        "?.click();"
    )
    time.sleep(0.5)


def test_the_dagster_asset_page_of_customer_overview_dp_links_to_the_served_reports(
    lake: LakehouseSettings, served_lake: str, dagster_ui: str, browser, tmp_path_factory
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    reports_base = lake.reports.url
    links_script = (
        "return [...document.querySelectorAll('a[href]')]"
        ".filter(a => a.href.startsWith(arguments[0]))"
        ".map(a => [a.closest('tr')?.querySelector('td')?.innerText || '', a.href]);"
    )
    browser.get(f"{dagster_ui}/assets/fs_accelerator/customer_overview_dp")
    WebDriverWait(browser, 90).until(
        lambda d: len(d.execute_script(links_script, reports_base)) >= 3
    )
    links = {
        label.strip(): href for label, href in browser.execute_script(links_script, reports_base)
    }
    for name in ("latest_data_docs", "latest_profile", "latest_product_card"):
        assert any(name in label for label in links), (name, links)
    shots = tmp_path_factory.mktemp("dagster_ui_screenshots")
    _skip_dagster_welcome(browser)
    browser.execute_script(
        "[...document.querySelectorAll('a[href]')].find(a => a.href.startsWith(arguments[0]))"
        ".scrollIntoView({block: 'center'});"
        "document.querySelectorAll('*').forEach(e => { if (e.scrollLeft) e.scrollLeft = 0; });",
        reports_base,
    )
    browser.save_screenshot(str(shots / "customer_overview_dp.png"))

    # The global lineage: one box per stage, the masked copies in one group per role group.
    browser.get(f"{dagster_ui}/asset-groups")
    groups = ("govern_restricted", "govern_dob_bucketed", "govern_pii_reader", "curate")
    WebDriverWait(browser, 90).until(
        lambda d: all(group in d.find_element("tag name", "body").text for group in groups)
    )
    _skip_dagster_welcome(browser)
    time.sleep(2)  # the graph's layout animation
    browser.save_screenshot(str(shots / "lineage.png"))

    for label, href in links.items():
        # The links name the configured base URL; the test's report server has its own port.
        served = served_lake + "/" + href.removeprefix(reports_base)
        open_page(browser, served)
        assert browser.execute_script("return document.readyState") == "complete"
        with urlopen(served, timeout=30) as response:
            assert response.status == 200, (label, href)
            assert response.headers["Content-Type"] == "text/html; charset=utf-8", label
        assert "customer" in browser.page_source, (label, href)
    print(f"screenshot in {shots}")
