"""Render every role group's dashboards as that group's user, screenshot and check them.

Runs inside ``.venv-superset`` (selenium, requests, Pillow); ``python -m bi.superset
screenshots`` starts it. For each role group it:

1. logs in through Superset's login page in headless Chromium (Debian's chromium +
   chromedriver, no download) and opens each of the group's dashboards;
2. records every ``/api/v1/chart/data`` response the dashboard page itself receives (a
   ``fetch`` hook installed before Superset's scripts), so "the chart rendered" means: its
   query answered 200 with rows and no error, as the real front end asked for it;
3. checks the page has no error tiles and that neither the page nor any chart tile is blank
   (pixel statistics of the screenshots), and saves the screenshots;
4. probes isolation through the REST API with the user's token: the other groups'
   dashboards, charts, datasets and databases must be invisible (403/404 or absent) and a
   chart-data query on another group's dataset must be refused.

Writes a JSON report (numbers the test compares with SQL on the published tables) and exits 1
if a problem was found.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageStat
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from bi.bundle import load_templates
from bi.superset import CHROMEDRIVER
from quality.screenshot import HEADLESS_FLAGS

CHROMIUM = "/usr/bin/chromium"
# quality.screenshot is standard library only, so Superset's virtualenv can import it too.
CHROMIUM_FLAGS = [
    *HEADLESS_FLAGS,
    "--disable-dev-shm-usage",
    # Belt and braces for "no external calls": nothing but this machine resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
WIDTH = 1600

# Installed before any page script: Superset's client captures `fetch` when it loads.
FETCH_HOOK = r"""
(() => {
  window.__chartData = [];
  const original = window.fetch;
  window.fetch = async function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    const response = await original.apply(this, arguments);
    if (url.includes('/api/v1/chart/data')) {
      let body = null;
      try { body = init && init.body ? JSON.parse(init.body) : null; } catch (e) {}
      const formData = (body && body.form_data) || {};
      const record = {url, status: response.status, slice_id: formData.slice_id || null,
                      viz_type: formData.viz_type || null, result: null, message: null};
      window.__chartData.push(record);
      response.clone().json().then((json) => {
        record.message = json.message || null;
        record.result = (json.result || []).map((q) => ({
          rowcount: q.rowcount, status: q.status, error: q.error || null,
          is_cached: q.is_cached || false,
          colnames: q.colnames || [], data: (q.data || []).slice(0, 500)}));
      }).catch(() => { record.result = 'unparsable'; });
    }
    return response;
  };
})();
"""

# Superset's error tiles and alerts inside the dashboard grid.
ERROR_SELECTORS = [
    '[data-test="chart-error"]',
    ".dashboard-component-chart-holder .ant-alert-error",
    ".dashboard-component-chart-holder .alert-danger",
    '.dashboard-component-chart-holder [role="alert"]',
]


def image_stats(png: bytes) -> dict[str, float]:
    """How much of an image is not its background: share of pixels off the dominant colour."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((max(1, image.width // 4), max(1, image.height // 4)))
    colors = small.getcolors(maxcolors=small.width * small.height) or []
    total = small.width * small.height
    dominant = max(count for count, _ in colors) if colors else total
    stddev = sum(ImageStat.Stat(small).stddev) / 3
    return {
        "ink": round(1 - dominant / total, 4),
        "colors": len(colors),
        "stddev": round(stddev, 2),
        "width": image.width,
        "height": image.height,
    }


def is_blank(stats: dict[str, float], min_ink: float) -> bool:
    return stats["ink"] < min_ink or stats["colors"] < 4


class Api:
    """Superset's REST API as one user (JWT from /api/v1/security/login)."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.session = requests.Session()
        response = self.session.post(
            f"{url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": False},
            timeout=30,
        )
        response.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}{path}", timeout=60)

    def listing(self, resource: str) -> tuple[int, list[dict[str, Any]]]:
        response = self.get(f"/api/v1/{resource}/?q=(page:0,page_size:100)")
        if response.status_code != 200:
            return response.status_code, []
        return 200, response.json().get("result", [])

    def count_query(self, dataset_id: int, expression: str = "COUNT(*)") -> requests.Response:
        """A chart-data query (one SQL metric) on a dataset, as any chart would send it."""
        payload = {
            "datasource": {"id": dataset_id, "type": "table"},
            "force": True,
            "queries": [
                {
                    "columns": [],
                    "metrics": [
                        {"expressionType": "SQL", "sqlExpression": expression, "label": "n"}
                    ],
                    "row_limit": 1,
                }
            ],
            "result_format": "json",
            "result_type": "full",
        }
        return self.session.post(f"{self.url}/api/v1/chart/data", json=payload, timeout=120)


def make_driver(profile: Path, height: int = 2000) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{height}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FETCH_HOOK})
    return driver


def browser_login(driver: webdriver.Chrome, url: str, username: str, password: str) -> None:
    """Sign in through Superset's login page, as a person would.

    The page is a React form: keys typed before it has hydrated can be dropped, so the typed
    values are checked and the whole sign-in is retried.
    """
    for attempt in range(1, 4):
        driver.get(f"{url}/login/")
        wait = WebDriverWait(driver, 60)
        wait.until(expected_conditions.element_to_be_clickable((By.ID, "username")))
        time.sleep(0.5 * attempt)
        fields = {"username": username, "password": password}
        for field_id, value in fields.items():
            field = driver.find_element(By.ID, field_id)
            field.clear()
            field.send_keys(value)
        if any(
            driver.find_element(By.ID, k).get_attribute("value") != v for k, v in fields.items()
        ):
            continue
        driver.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
        try:
            WebDriverWait(driver, 20).until(lambda d: "/login" not in d.current_url)
            return
        except TimeoutException:
            continue
    raise RuntimeError(f"could not sign in as {username} through {url}/login/")


def render_dashboard(
    driver: webdriver.Chrome,
    url: str,
    dashboard_id: int,
    chart_ids: dict[str, int],
    screenshot: Path,
    height_hint: int = 2000,
    timeout: float = 150,
) -> dict[str, Any]:
    """Open a dashboard, wait for every chart's data, check the page, save a screenshot."""
    started = time.monotonic()
    # Window sizes include the browser's own frame; the page gets innerHeight of it.
    frame = driver.execute_script("return window.outerHeight - window.innerHeight") or 0
    driver.set_window_size(WIDTH, height_hint + frame)
    driver.get(f"{url}/superset/dashboard/{dashboard_id}/?standalone=1")
    wanted = set(chart_ids.values())
    records: list[dict[str, Any]] = []
    while time.monotonic() - started < timeout:
        records = driver.execute_script("return window.__chartData || []")
        answered = {r["slice_id"] for r in records if r["result"] is not None}
        if wanted <= answered:
            break
        time.sleep(0.5)
    # Let the charts draw (ECharts animates for about a second), then fit the window to the page.
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, 30).until(
            lambda d: not d.find_elements(By.CSS_SELECTOR, ".dashboard-component .loading")
        )
    time.sleep(1.5)
    height = driver.execute_script(
        "const tiles = [...document.querySelectorAll('.dashboard-component-chart-holder')];"
        "const bottom = Math.max(0, ...tiles.map(t => t.getBoundingClientRect().bottom));"
        "return Math.ceil(bottom + window.scrollY) + 24;"
    )
    if abs(int(height) - height_hint) > 40:
        driver.set_window_size(WIDTH, max(600, min(int(height), 6000)) + frame)
        time.sleep(1.5)  # charts redraw for the new viewport
    png = driver.get_screenshot_as_png()
    screenshot.write_bytes(png)
    page = Image.open(io.BytesIO(png))

    by_chart: dict[str, Any] = {}
    id_to_key = {chart_id: key for key, chart_id in chart_ids.items()}
    for key, chart_id in chart_ids.items():
        mine = [r for r in records if r["slice_id"] == chart_id]
        queries = [q for r in mine if isinstance(r["result"], list) for q in r["result"]]
        by_chart[key] = {
            "id": chart_id,
            "requests": len(mine),
            "http_status": [r["status"] for r in mine],
            "rowcount": sum(q.get("rowcount") or 0 for q in queries),
            "errors": [q["error"] for q in queries if q.get("error")]
            + [r["message"] for r in mine if r.get("message")],
            "cached": any(q.get("is_cached") for q in queries),
            "colnames": queries[0]["colnames"] if queries else [],
            "data": queries[0]["data"] if queries else [],
        }
    # Pixels of each chart's drawing area (below its title; cropped from the page screenshot): a
    # chart that drew nothing is blank even if its query returned rows.
    tiles = driver.execute_script(
        "return [...document.querySelectorAll('.dashboard-component-chart-holder')].map(t => {"
        "  const c = t.querySelector('[data-test-chart-id]');"
        "  const r = (c || t).getBoundingClientRect();"
        "  return {id: c ? Number(c.getAttribute('data-test-chart-id')) : null,"
        "          x: r.left, y: r.top + window.scrollY, w: r.width, h: r.height}; })"
    )
    for tile in tiles:
        key = id_to_key.get(tile["id"])
        if key is None:
            continue
        box = (
            int(tile["x"]),
            int(tile["y"]),
            int(tile["x"] + tile["w"]),
            int(tile["y"] + tile["h"]),
        )
        buffer = io.BytesIO()
        page.crop(box).save(buffer, format="PNG")
        by_chart[key]["tile"] = image_stats(buffer.getvalue())
    dom_errors = []
    for selector in ERROR_SELECTORS:
        for element in driver.find_elements(By.CSS_SELECTOR, selector):
            dom_errors.append(f"{selector}: {element.text[:200]}")
    return {
        "id": dashboard_id,
        "screenshot": str(screenshot),
        "page": image_stats(png),
        "charts": by_chart,
        "chart_tiles_found": len(tiles),
        "dom_errors": dom_errors,
        "text": driver.find_element(By.TAG_NAME, "body").text[:20000],
        "seconds": round(time.monotonic() - started, 1),
    }


def height_hints() -> dict[str, int]:
    """Expected page height per dashboard template (rows of 8 px grid units plus margins), so
    the window has the page's size before it loads and charts need not redraw after a resize."""
    hints = {}
    for name, spec in load_templates().dashboards.items():
        rows = [max(cell.get("height", 50) for cell in row) for row in spec["layout"]]
        hints[name] = 8 * sum(rows) + 16 * len(rows) + 89  # measured: header and gutters
    return hints


def dashboard_problems(group: str, name: str, result: dict[str, Any]) -> list[str]:
    problems = []
    where = f"{group}/{name}"
    if is_blank(result["page"], 0.05):
        problems.append(f"{where}: page screenshot is blank ({result['page']})")
    if result["chart_tiles_found"] != len(result["charts"]):
        problems.append(
            f"{where}: {result['chart_tiles_found']} chart tiles on the page, "
            f"expected {len(result['charts'])}"
        )
    for error in result["dom_errors"]:
        problems.append(f"{where}: error on the page: {error}")
    for key, chart in result["charts"].items():
        if chart["requests"] == 0:
            problems.append(f"{where}/{key}: the page never asked for its data")
        elif any(status != 200 for status in chart["http_status"]):
            problems.append(f"{where}/{key}: chart data HTTP {chart['http_status']}")
        if chart["errors"]:
            problems.append(f"{where}/{key}: query error {chart['errors']}")
        if chart.get("cached"):
            problems.append(f"{where}/{key}: served from a cache (new publishes would not show)")
        if chart["requests"] and chart["rowcount"] == 0:
            problems.append(f"{where}/{key}: query returned no rows")
        tile = chart.get("tile")
        if tile is None:
            problems.append(f"{where}/{key}: no tile found on the page")
        elif is_blank(tile, 0.02):
            problems.append(f"{where}/{key}: tile is blank ({tile})")
    return problems


def isolation(
    url: str, group: str, password: str, provision: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """What ``group``'s user can reach through the API, and any leak to another group."""
    api = Api(url, group, password)
    own = provision["groups"][group]
    others = {g: spec for g, spec in provision["groups"].items() if g != group}
    report: dict[str, Any] = {}
    problems: list[str] = []

    status, dashboards = api.listing("dashboard")
    report["dashboards_listed"] = sorted(d["dashboard_title"] for d in dashboards)
    listed_ids = {d["id"] for d in dashboards}
    if status != 200 or listed_ids != set(own["dashboards"].values()):
        problems.append(
            f"{group}: dashboard list {report['dashboards_listed']} (HTTP {status}) is not "
            "exactly its own three dashboards"
        )
    status, datasets = api.listing("dataset")
    report["datasets_listed"] = sorted(d["table_name"] for d in datasets)
    leaked = {d["id"] for d in datasets} - set(own["datasets"].values())
    if leaked:
        problems.append(f"{group}: sees datasets of other groups: {sorted(leaked)}")
    status, databases = api.listing("database")
    report["databases_listed"] = sorted(d["database_name"] for d in databases)
    leaked = {d["id"] for d in databases} - {own["database_id"]}
    if leaked:
        problems.append(f"{group}: sees databases of other groups: {sorted(leaked)}")
    status, charts = api.listing("chart")
    leaked = {c["id"] for c in charts} - set(own["charts"].values())
    report["charts_listed"] = len(charts)
    if leaked:
        problems.append(f"{group}: sees charts of other groups: {sorted(leaked)}")

    own_query = api.count_query(own["datasets"]["customer_overview"])
    report["own_dataset_query"] = own_query.status_code
    if own_query.status_code != 200:
        problems.append(f"{group}: chart data on its own dataset answered {own_query.status_code}")
    probes: dict[str, Any] = {}
    report["adhoc_subquery_on_other_tables"] = {}
    for other, spec in others.items():
        # A custom SQL metric trying to read another group's table folder by path: refused by
        # Superset (no ad-hoc subqueries) and, underneath, by the DuckDB connection lock.
        if not spec.get("table_folders"):
            continue
        folder = spec["table_folders"][0]
        response = api.count_query(
            own["datasets"]["customer_overview"],
            f"(SELECT count(*) FROM iceberg_scan('{folder}'))",
        )
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        answered = response.status_code == 200 and not any(
            q.get("error") for q in body.get("result", [])
        )
        report["adhoc_subquery_on_other_tables"][other] = response.status_code
        if answered:
            problems.append(f"{group}: an ad-hoc subquery read {other}'s table: {body}")
    for other, spec in others.items():
        statuses = {
            "dashboards": [
                api.get(f"/api/v1/dashboard/{i}").status_code for i in spec["dashboards"].values()
            ],
            "dashboard_charts": [
                api.get(f"/api/v1/dashboard/{i}/charts").status_code
                for i in spec["dashboards"].values()
            ],
            "charts": [api.get(f"/api/v1/chart/{i}").status_code for i in spec["charts"].values()],
            "datasets": [
                api.get(f"/api/v1/dataset/{i}").status_code for i in spec["datasets"].values()
            ],
            "database": api.get(f"/api/v1/database/{spec['database_id']}").status_code,
            "chart_data": [api.count_query(i).status_code for i in spec["datasets"].values()],
        }
        probes[other] = statuses
        flat = [
            *statuses["dashboards"],
            *statuses["dashboard_charts"],
            *statuses["charts"],
            *statuses["datasets"],
            statuses["database"],
            *statuses["chart_data"],
        ]
        allowed = [s for s in flat if s < 400]
        if allowed:
            problems.append(f"{group}: reached {other}'s objects: {statuses}")
    report["other_groups"] = probes
    return report, problems


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The numbers the test compares with SQL on the published tables."""
    lead = results["lead_generation"]["charts"]
    total = lead["total_customers"]["data"][0] if lead["total_customers"]["data"] else {}
    top = lead["top_customers"]["data"]
    stats = results["campaign_funnel"]["charts"]["campaign_stats"]["data"]
    onboarded: dict[str, float] = {}
    for row in stats:
        if str(row.get("stage_label", "")).endswith("Onboarded"):
            onboarded[row["archetype"]] = onboarded.get(row["archetype"], 0) + row["customers"]
    return {
        "total_customers": total.get("customers"),
        "top_customers": [
            {k: row.get(k) for k in ("cust_id", "cust_first_name", "cust_last_name", "total_spend")}
            for row in top
        ],
        "onboarded_by_archetype": onboarded,
        "spend": spend_figures(results["spend_analysis"]["charts"]),
        "funnel": funnel_figures(results["campaign_funnel"]["charts"]),
    }


def spend_figures(charts: dict[str, Any]) -> dict[str, Any]:
    """What Spend Analysis showed: cumulative spend per month (``2026-09``, as the chart's query
    returned it), spend per month and reason, spend per spend segment, and the flow's total."""
    by_month_and_reason: dict[str, dict[str, float]] = {}
    for row in charts["spend_by_category"]["data"]:
        month = str(row["month_label"])
        by_month_and_reason[month] = {k: v for k, v in row.items() if k != "month_label" and v}
    return {
        "cumulative": [
            [row["month_label"], row["spend"]] for row in charts["cumulative_spend"]["data"]
        ],
        "by_month_and_reason": by_month_and_reason,
        "by_segment": {
            row["spend_segment_label"]: row["total_spend"]
            for row in charts["spend_by_segment"]["data"]
        },
        "flow_total": sum(row["amount"] for row in charts["spend_flow"]["data"]),
    }


def funnel_figures(charts: dict[str, Any]) -> dict[str, Any]:
    """What Campaign Funnel showed: the funnel's stages in the order the chart received them
    (it computes each stage's share of the previous row), the conversion table's rows, and the
    conversion per archetype and stage."""
    conversion_columns = (
        "stage_label",
        "customers",
        "previous_stage_customers",
        "conversion_from_previous",
    )
    by_archetype: dict[str, dict[str, float | None]] = {}
    for row in charts["conversion_by_archetype"]["data"]:
        stages = by_archetype.setdefault(row["archetype"], {})
        stages[row["stage_label"]] = row["conversion_from_previous"]
    return {
        "funnel": [[row["stage_label"], row["customers"]] for row in charts["funnel"]["data"]],
        "stage_conversion": [
            {key: row.get(key) for key in conversion_columns}
            for row in charts["stage_conversion"]["data"]
        ],
        "conversion_by_archetype": by_archetype,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--lakehouse-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--groups", nargs="*")
    args = parser.parse_args(argv)

    state = args.lakehouse_dir / "superset"
    logins = json.loads((state / "logins.json").read_text())
    provision = json.loads((state / "provision.json").read_text())
    groups = args.groups or list(provision["groups"])
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"url": args.url, "groups": {}, "problems": []}
    started = time.monotonic()
    hints = height_hints()
    # The REST probes need no browser: run them beside the rendering.
    with ThreadPoolExecutor(max_workers=2) as pool:
        probes = {
            group: pool.submit(isolation, args.url, group, logins[group]["password"], provision)
            for group in groups
        }
        render_all(args, groups, logins, provision, hints, report)
        for group in groups:
            report["groups"][group]["isolation"], problems = probes[group].result()
            report["problems"] += problems
    report["seconds"] = round(time.monotonic() - started, 1)
    args.report.write_text(json.dumps(report, indent=2, default=str))
    return 1 if report["problems"] else 0


def render_all(
    args: argparse.Namespace,
    groups: list[str],
    logins: dict[str, Any],
    provision: dict[str, Any],
    hints: dict[str, int],
    report: dict[str, Any],
) -> None:
    """Each group's dashboards in a fresh Chromium profile, signed in as the group's user."""
    for group in groups:
        spec = provision["groups"][group]
        profile = Path(tempfile.mkdtemp(prefix=f"bi-chromium-{group}-"))
        driver = make_driver(profile)
        group_report: dict[str, Any] = {"dashboards": {}}
        try:
            browser_login(driver, args.url, group, logins[group]["password"])
            for name, dashboard_id in sorted(spec["dashboards"].items()):
                chart_ids = {
                    key.split(".", 1)[1]: chart_id
                    for key, chart_id in spec["charts"].items()
                    if key.startswith(f"{name}.")
                }
                result = render_dashboard(
                    driver,
                    args.url,
                    dashboard_id,
                    chart_ids,
                    args.out / f"{group}_{name}.png",
                    hints.get(name, 2000),
                )
                group_report["dashboards"][name] = result
                report["problems"] += dashboard_problems(group, name, result)
                print(
                    f"{group}/{name}: {len(chart_ids)} charts, {result['seconds']} s, "
                    f"page height {result['page']['height']} (hint {hints.get(name)})",
                    flush=True,
                )
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
        group_report["headline"] = headline(group_report["dashboards"])
        report["groups"][group] = group_report


if __name__ == "__main__":
    sys.exit(main())
