"""Superset dashboards end to end: pipeline -> exports -> Superset -> headless Chromium.

Uses the test session's published lakehouse (tests/conftest.py: the whole graph on generated
data), sets up Superset through the same code path as ``make bi`` (creating ``.venv-superset`` if missing),
serves it on a free port, and renders each role group's three dashboards as that group's user
(``python -m bi.superset screenshots``). Then it checks what the dashboards showed against SQL
run directly on the published tables (``customer-overview query``), the masking of names per
role group, and that no group's user reaches another group's objects.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_overview.process_groups import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
GROUPS = ("restricted", "dob_bucketed", "pii_reader")
DASHBOARDS = ("lead_generation", "spend_analysis", "campaign_funnel")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def _env(lakehouse: Path) -> dict[str, str]:
    env = dict(os.environ, LAKEHOUSE_DIR=str(lakehouse), PYTHONPATH=str(REPO))
    env.pop("BI_PORT", None)
    return env


def _cli() -> list[str]:
    return [sys.executable, "-m", "operations.cli"]


def _run(args: list[str], env: dict[str, str], log: Path, timeout: float) -> float:
    """Run a command (output to ``log``); fail the test with the log's end on error."""
    started = time.monotonic()
    with log.open("w") as handle:
        result = subprocess.run(
            args, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, timeout=timeout
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-40:])
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{tail}")
    return time.monotonic() - started


def _query(env: dict[str, str], role: str, sql: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [*_cli(), "query", "--role", role, "--format", "json", sql],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def bi(
    tmp_path_factory: pytest.TempPathFactory, lake: Any, first_run: Any
) -> Iterator[dict[str, Any]]:
    """Superset set up and serving over the session's published lakehouse, and its report."""
    assert first_run.exit_code == 0, first_run.failed_steps
    lakehouse = lake.lakehouse_dir
    logs = tmp_path_factory.mktemp("bi_logs")
    env = _env(lakehouse)
    timings: dict[str, float] = {}
    bi_cli = [sys.executable, "-m", "bi.superset"]
    timings["prepare"] = _run([*bi_cli, "prepare"], env, logs / "prepare.log", 900)
    timings["setup"] = _run([*bi_cli, "setup"], env, logs / "setup.log", 600)
    port_env = dict(env, BI_PORT=str(free_port()))
    try:
        timings["serve"] = _run([*bi_cli, "serve"], port_env, logs / "serve.log", 300)
        report_path = lakehouse / "reports" / "dashboards" / "report.json"
        started = time.monotonic()
        subprocess.run(
            [*bi_cli, "screenshots"],
            cwd=REPO,
            env=env,
            timeout=900,
            check=False,
            stdout=(logs / "screenshots.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        timings["screenshots"] = time.monotonic() - started
        assert report_path.exists(), (logs / "screenshots.log").read_text()[-3000:]
        report = json.loads(report_path.read_text())
        print(f"\nBI timings (s): { {k: round(v, 1) for k, v in timings.items()} }")
        yield {"lakehouse": lakehouse, "env": env, "report": report, "timings": timings}
    finally:
        subprocess.run([*bi_cli, "stop"], cwd=REPO, env=env, timeout=120, check=False)


def test_every_chart_of_every_dashboard_rendered(bi: dict[str, Any]) -> None:
    report = bi["report"]
    assert report["problems"] == []
    for group in GROUPS:
        dashboards = report["groups"][group]["dashboards"]
        assert set(dashboards) == set(DASHBOARDS)
        for name, dashboard in dashboards.items():
            screenshot = Path(dashboard["screenshot"])
            assert screenshot.parent == bi["lakehouse"] / "reports" / "dashboards"
            assert screenshot.stat().st_size > 20_000, f"{group}/{name}: tiny screenshot"
            assert dashboard["page"]["ink"] > 0.05
            assert not dashboard["dom_errors"]
            for key, chart in dashboard["charts"].items():
                where = f"{group}/{name}/{key}"
                assert chart["requests"] >= 1 and set(chart["http_status"]) == {200}, where
                assert chart["rowcount"] > 0 and not chart["errors"], where
                # Not from a cache: the next publish shows at the next load.
                assert chart["cached"] is False, where
                assert chart["tile"]["ink"] > 0.02, f"{where}: blank tile"


def test_total_customers_equal_the_published_count(bi: dict[str, Any]) -> None:
    for group in GROUPS:
        [row] = _query(bi["env"], group, "SELECT count(*) AS n FROM customer_overview")
        shown = bi["report"]["groups"][group]["headline"]["total_customers"]
        assert shown == row["n"], group
    assert row["n"] > 0


def test_onboarded_customers_per_archetype_equal_the_funnel_mart(bi: dict[str, Any]) -> None:
    rows = _query(
        bi["env"],
        "restricted",
        "SELECT archetype, sum(customers) AS n FROM campaign_funnel "
        "WHERE stage = 'Onboarded' GROUP BY archetype",
    )
    expected = {row["archetype"]: row["n"] for row in rows}
    assert expected, "no onboarded customer in the campaign_funnel mart"
    for group in GROUPS:
        shown = bi["report"]["groups"][group]["headline"]["onboarded_by_archetype"]
        assert {k: int(v) for k, v in shown.items()} == {k: int(v) for k, v in expected.items()}


def _close(shown: float | None, expected: float | None, tolerance: float = 0.005) -> bool:
    if shown is None or expected is None:
        return shown is expected
    return abs(float(shown) - float(expected)) <= tolerance


def test_spend_charts_show_the_marts_spend(bi: dict[str, Any]) -> None:
    """Spend Analysis shows spend as the product defines it (debit transactions not reversed):
    its cumulative spend ends at the customers' total spend (mart_customer_spend), month by
    month and reason by reason it equals mart_transactions_monthly.spend, and it is not the
    amount of every transaction (which adds salary credits and transfers)."""
    [totals] = _query(
        bi["env"],
        "restricted",
        "SELECT (SELECT sum(total_spend) FROM customer_spend) AS customers_spend, "
        "(SELECT sum(spend) FROM transactions_monthly) AS monthly_spend, "
        "(SELECT sum(amount) FROM spend_by_segment) AS segment_spend, "
        "(SELECT sum(amount) FROM transactions_monthly) AS every_transaction",
    )
    spend = float(totals["customers_spend"])
    assert spend > 0 and _close(totals["monthly_spend"], spend)
    assert _close(totals["segment_spend"], spend)
    assert float(totals["every_transaction"]) > spend * 1.05  # credits exist in the data
    cells = _query(
        bi["env"],
        "restricted",
        "SELECT strftime(month, '%Y-%m') AS month, transaction_reason, sum(spend) AS spend "
        "FROM transactions_monthly GROUP BY 1, 2 HAVING sum(spend) > 0 ORDER BY 1, 2",
    )
    expected_cells: dict[str, dict[str, float]] = {}
    for cell in cells:
        expected_cells.setdefault(cell["month"], {})[cell["transaction_reason"]] = float(
            cell["spend"]
        )
    segments = _query(
        bi["env"],
        "restricted",
        "SELECT spend_segment || ' Spend' AS segment, sum(total_spend) AS spend "
        "FROM customer_spend GROUP BY 1",
    )
    for group in GROUPS:
        shown = bi["report"]["groups"][group]["headline"]["spend"]
        months = [month for month, _ in shown["cumulative"]]
        assert months == sorted(expected_cells), group
        running = 0.0
        for (_, cumulative), month in zip(shown["cumulative"], months, strict=True):
            running += sum(expected_cells[month].values())
            assert _close(cumulative, running), (group, month, cumulative, running)
        assert _close(shown["cumulative"][-1][1], spend), group
        by_month = shown["by_month_and_reason"]
        assert set(by_month) == set(expected_cells), group
        for month, reasons in expected_cells.items():
            assert set(by_month[month]) == set(reasons), (group, month)
            for reason, value in reasons.items():
                assert _close(by_month[month][reason], value), (group, month, reason)
        assert {k: round(v, 2) for k, v in shown["by_segment"].items()} == {
            row["segment"]: round(float(row["spend"]), 2) for row in segments
        }, group
        assert _close(shown["flow_total"], spend), group


def test_funnel_shows_counts_and_conversion_from_the_previous_stage(bi: dict[str, Any]) -> None:
    stages = _query(
        bi["env"],
        "restricted",
        "SELECT stage_order, stage, sum(customers) AS customers, "
        "sum(previous_stage_customers) AS previous, "
        "sum(customers) / nullif(sum(previous_stage_customers), 0) AS conversion "
        "FROM campaign_funnel GROUP BY 1, 2 ORDER BY 1",
    )
    per_archetype = _query(
        bi["env"],
        "restricted",
        "SELECT archetype, CAST(stage_order AS VARCHAR) || '. ' || stage AS stage_label, "
        "sum(customers) / nullif(sum(previous_stage_customers), 0) AS conversion "
        "FROM campaign_funnel WHERE stage_order > 1 GROUP BY 1, 2",
    )
    assert len(stages) == 7 and stages[0]["customers"] > stages[-1]["customers"] > 0
    labels = [f"{row['stage_order']}. {row['stage']}" for row in stages]
    for group in GROUPS:
        shown = bi["report"]["groups"][group]["headline"]["funnel"]
        # The conversion table: every stage in order, counts and conversion equal to SQL.
        table = shown["stage_conversion"]
        assert [row["stage_label"] for row in table] == labels, group
        for row, expected in zip(table, stages, strict=True):
            assert row["customers"] == expected["customers"], (group, row)
            assert row["previous_stage_customers"] == expected["previous"], (group, row)
            assert _close(row["conversion_from_previous"], expected["conversion"], 1e-9), row
        # The funnel: per-stage counts, in stage order (the order its percentages use).
        assert [count for _, count in shown["funnel"]] == [s["customers"] for s in stages]
        for (label, count), expected_label in zip(shown["funnel"], labels, strict=True):
            tied = [s for s in stages if s["customers"] == count]
            assert label == expected_label or len(tied) > 1, (group, label)
        by_archetype = shown["conversion_by_archetype"]
        for row in per_archetype:
            assert _close(
                by_archetype.get(row["archetype"], {}).get(row["stage_label"]),
                row["conversion"],
                1e-9,
            ), (group, row)
        # What the page showed: the formatted conversions, and one total row (per stage, over
        # archetypes) but no total over a row's stages.
        text = bi["report"]["groups"][group]["dashboards"]["campaign_funnel"]["text"]
        for expected in stages[1:]:
            assert f"{expected['conversion']:.1%}" in text, (group, expected)
        assert text.count("Total (Sum)") == 1, group


def test_top_customers_names_follow_the_role_groups_masking(bi: dict[str, Any]) -> None:
    groups = bi["report"]["groups"]
    restricted = groups["restricted"]["headline"]["top_customers"]
    clear = groups["pii_reader"]["headline"]["top_customers"]
    assert len(restricted) == len(clear) == 10
    assert [r["cust_id"] for r in restricted] == [r["cust_id"] for r in clear]
    for hashed, plain in zip(restricted, clear, strict=True):
        assert SHA256_HEX.match(hashed["cust_first_name"]), hashed
        assert SHA256_HEX.match(hashed["cust_last_name"]), hashed
        assert not SHA256_HEX.match(plain["cust_first_name"]), plain
        assert plain["cust_first_name"].strip() and plain["cust_first_name"] != "REDACTED"
    for redacted in groups["dob_bucketed"]["headline"]["top_customers"]:
        assert redacted["cust_first_name"] == redacted["cust_last_name"] == "REDACTED"
    # What the pages showed, not only what the queries returned.
    lead = "lead_generation"
    assert restricted[0]["cust_first_name"] in groups["restricted"]["dashboards"][lead]["text"]
    assert clear[0]["cust_first_name"] in groups["pii_reader"]["dashboards"][lead]["text"]
    assert clear[0]["cust_first_name"] not in groups["restricted"]["dashboards"][lead]["text"]
    # And they are the same customers as the pii_reader's own published table says.
    top = _query(
        bi["env"],
        "pii_reader",
        "SELECT cust_id, cust_first_name FROM customer_spend ORDER BY total_spend DESC LIMIT 1",
    )[0]
    assert top["cust_first_name"] == clear[0]["cust_first_name"]


def test_no_role_group_reaches_another_groups_data(bi: dict[str, Any]) -> None:
    groups = bi["report"]["groups"]
    for group in GROUPS:
        isolation = groups[group]["isolation"]
        assert isolation["dashboards_listed"] == sorted(
            f"{title} ({group})"
            for title in ("Campaign Funnel", "Lead Generation", "Spend Analysis")
        )
        assert isolation["databases_listed"] in ([], [f"customer_overview ({group})"])
        assert all(name.endswith(f"__{group}") for name in isolation["datasets_listed"])
        assert isolation["own_dataset_query"] == 200
        for other, statuses in isolation["other_groups"].items():
            assert other != group
            for kind in ("dashboards", "dashboard_charts", "charts", "datasets", "chart_data"):
                assert all(status in (403, 404) for status in statuses[kind]), (group, other, kind)
            assert statuses["database"] in (403, 404)
        for other, status in isolation["adhoc_subquery_on_other_tables"].items():
            assert status != 200, (group, other)
