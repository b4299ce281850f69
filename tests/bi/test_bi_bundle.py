"""The dashboard templates and the bundle generated from them (no Superset needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bi import bundle
from customer_overview.entities import LINEAGE_COLUMNS
from customer_overview.product import load_manifest

# Chart types of Superset 6.1's core front end that the templates may use.
CORE_VIZ_TYPES = {
    "big_number_total",
    "pie",
    "echarts_timeseries_line",
    "echarts_timeseries_bar",
    "sankey_v2",
    "treemap_v2",
    "funnel",
    "table",
    "pivot_table_v2",
}
# The published views the dashboards read.
DASHBOARD_VIEWS = {
    "customer_overview",
    "customer_spend",
    "customer_archetype",
    "product_sales",
    "transactions_monthly",
    "spend_by_segment",
    "campaign_funnel",
}
# The published views and their columns, from the product's own contract (dataproduct.yaml and
# the schemas), for the names the templates refer to.
VIEW_COLUMNS = {
    output.name: set(output.entity_schema.column_names)
    | (set(LINEAGE_COLUMNS) if output.entity_schema.kind == "entity" else set())
    for output in load_manifest().outputs
}


@pytest.fixture(scope="module")
def templates() -> bundle.Templates:
    return bundle.load_templates()


@pytest.fixture(scope="module")
def contents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    lakehouse = tmp_path_factory.mktemp("lakehouse")
    return bundle.build_bundle(lakehouse, ["/venv/avro.duckdb_extension", "/venv/iceberg.ext"])


def _files(contents: dict[str, str], kind: str) -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in contents.items() if f"/{kind}/" in name}


def test_the_seeds_three_dashboards_with_known_chart_types(templates: bundle.Templates) -> None:
    titles = {spec["title"] for spec in templates.dashboards.values()}
    assert titles == {"Lead Generation", "Spend Analysis", "Campaign Funnel"}
    for spec in templates.dashboards.values():
        for key, chart in spec["charts"].items():
            assert chart["viz_type"] in CORE_VIZ_TYPES, key
        placed = [cell["chart"] for row in spec["layout"] for cell in row if "chart" in cell]
        assert sorted(placed) == sorted(spec["charts"]), spec["title"]
        for row in spec["layout"]:
            assert sum(cell.get("width", 4) for cell in row) <= 12


def test_charts_refer_to_existing_metrics_and_columns(templates: bundle.Templates) -> None:
    assert set(templates.datasets) == DASHBOARD_VIEWS
    assert set(VIEW_COLUMNS) >= DASHBOARD_VIEWS
    for spec in templates.dashboards.values():
        for key, chart in spec["charts"].items():
            dataset = templates.datasets[chart["dataset"]]
            metrics = set(dataset.get("metrics") or {})
            columns = VIEW_COLUMNS[chart["dataset"]] | set(dataset.get("calculated_columns") or {})
            params = chart["params"]
            used_metrics = list(params.get("metrics", [])) + (
                [params["metric"]] if "metric" in params else []
            )
            assert used_metrics or params.get("query_mode") == "raw", key
            for metric in used_metrics:
                assert metric in metrics, f"{key}: unknown metric {metric}"
            used_columns = [
                *params.get("groupby", []),
                *params.get("groupbyRows", []),
                *params.get("groupbyColumns", []),
                *params.get("all_columns", []),
                *[params[k] for k in ("x_axis", "source", "target") if k in params],
            ]
            for column in used_columns:
                assert column in columns, f"{key}: unknown column {column}"
            if "x_axis_sort" in params:
                assert params["x_axis_sort"] in {params["x_axis"], *used_metrics}, key
            if "timeseries_limit_metric" in params:
                assert params["timeseries_limit_metric"] in metrics, key


# Columns that name a campaign funnel stage (the mart's column and the dataset's label of it).
FUNNEL_STAGE_COLUMNS = {"stage", "stage_order", "stage_label"}


def _grouping(params: dict) -> dict[str, list[str]]:
    return {
        "rows": [*params.get("groupbyRows", []), *params.get("groupby", [])],
        "columns": list(params.get("groupbyColumns", [])),
        "x_axis": [params["x_axis"]] if "x_axis" in params else [],
    }


def test_no_chart_adds_customers_across_funnel_stages(templates: bundle.Templates) -> None:
    """A customer is counted at every stage they reached: a sum over stages counts events.

    So every chart on the funnel mart splits by the stage, and no pivot totals across it
    (within a stage, customers do add up across archetypes: a customer has one archetype).
    """
    charts = [
        (key, chart)
        for spec in templates.dashboards.values()
        for key, chart in spec["charts"].items()
        if chart["dataset"] == "campaign_funnel"
    ]
    assert charts
    for key, chart in charts:
        grouping = _grouping(chart["params"])
        used = {column for columns in grouping.values() for column in columns}
        assert used & FUNNEL_STAGE_COLUMNS, f"{key}: adds customers of every stage together"
        if chart["viz_type"] == "pivot_table_v2":
            params = chart["params"]
            # Superset's "row totals" total each row across the column groups, and vice versa.
            if set(grouping["columns"]) & FUNNEL_STAGE_COLUMNS:
                assert not params.get("rowTotals") and not params.get("rowSubTotals"), key
            if set(params.get("groupbyRows", [])) & FUNNEL_STAGE_COLUMNS:
                assert not params.get("colTotals") and not params.get("colSubTotals"), key


def test_the_funnel_shows_counts_and_conversion_from_the_previous_stage(
    templates: bundle.Templates,
) -> None:
    funnel = templates.dashboards["campaign_funnel"]["charts"]
    metrics = templates.datasets["campaign_funnel"]["metrics"]
    # The funnel chart labels each stage with its count and its share of the previous stage.
    [chart] = [c for c in funnel.values() if c["viz_type"] == "funnel"]
    assert chart["params"]["percent_calculation_type"] == "prev_step"
    assert chart["params"]["label_type"] == 5  # Superset: category, value and percentage
    # A table shows the exact counts and conversions, computed by the database.
    tables = [
        c
        for c in funnel.values()
        if c["viz_type"] == "table"
        and {"customers", "conversion_from_previous"} <= set(c["params"]["metrics"])
    ]
    assert tables
    # A rate over several rows is the ratio of their sums, never a sum of rates.
    conversion = metrics["conversion_from_previous"]["expression"].replace(" ", "")
    assert "SUM(customers)" in conversion and "/NULLIF(SUM(previous_stage_customers),0)" in (
        conversion
    )
    assert "SUM(conversion_from_previous)" not in conversion


def test_spend_charts_read_the_spend_columns(templates: bundle.Templates) -> None:
    """Spend Analysis charts on transactions_monthly use its spend column (debit, not reversed:
    the rule of mart_customer_spend), never its amount of every transaction."""
    spend_metrics = {"spend", "spend_transactions"}
    datasets = templates.datasets
    for key, metric in datasets["transactions_monthly"]["metrics"].items():
        if key in spend_metrics:
            assert "spend" in metric["expression"], key
    charts = templates.dashboards["spend_analysis"]["charts"]
    monthly = [c for c in charts.values() if c["dataset"] == "transactions_monthly"]
    assert len(monthly) >= 2
    for chart in monthly:
        params = chart["params"]
        used = set(params.get("metrics", [])) | (
            {params["metric"]} if "metric" in params else set()
        )
        assert used and used <= spend_metrics, chart["name"]
        assert "amount" not in chart["name"].lower(), chart["name"]


def test_one_copy_per_role_group_on_its_own_database(contents: dict[str, str]) -> None:
    databases = _files(contents, "databases")
    datasets = _files(contents, "datasets")
    charts = _files(contents, "charts")
    dashboards = _files(contents, "dashboards")
    assert len(databases) == 3 and len(dashboards) == 9
    db_by_uuid = {d["uuid"]: d for d in databases.values()}
    for database in databases.values():
        group = database["database_name"].split("(")[1].rstrip(")")
        assert database["sqlalchemy_uri"].endswith(f"/exports/{group}.duckdb")
        connect_args = database["extra"]["engine_params"]["connect_args"]
        assert connect_args["read_only"] is True
        # Quoted absolute paths, avro before iceberg (iceberg needs avro, and must not download it).
        assert connect_args["preload_extensions"][0] == "'/venv/avro.duckdb_extension'"
        assert all(
            p.startswith("'/") and p.endswith("'") for p in connect_args["preload_extensions"]
        )
        assert database["allow_dml"] is False and database["expose_in_sqllab"] is False
    dataset_group = {}
    for dataset in datasets.values():
        group = db_by_uuid[dataset["database_uuid"]]["database_name"].split("(")[1].rstrip(")")
        assert dataset["table_name"].endswith(f"__{group}")
        dataset_group[dataset["uuid"]] = group
    chart_group = {c["uuid"]: dataset_group[c["dataset_uuid"]] for c in charts.values()}
    for dashboard in dashboards.values():
        group = dashboard["dashboard_title"].split("(")[1].rstrip(")")
        assert dashboard["published"] is True
        chart_uuids = [
            node["meta"]["uuid"]
            for node in dashboard["position"].values()
            if isinstance(node, dict) and node.get("type") == "CHART"
        ]
        assert chart_uuids and {chart_group[u] for u in chart_uuids} == {group}


def test_uuids_are_stable_and_unique(contents: dict[str, str], tmp_path: Path) -> None:
    again = bundle.build_bundle(tmp_path, ["/venv/avro.duckdb_extension", "/venv/iceberg.ext"])
    uuids = [yaml.safe_load(text).get("uuid") for text in contents.values()]
    uuids = [u for u in uuids if u]
    assert len(uuids) == len(set(uuids)) == len(contents) - 1  # all but metadata.yaml
    assert sorted(uuids) == sorted(
        u for u in (yaml.safe_load(t).get("uuid") for t in again.values()) if u
    )


def test_bundle_zip_round_trip(contents: dict[str, str], tmp_path: Path) -> None:
    import zipfile

    path = bundle.write_zip(contents, tmp_path / "bundle.zip")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted(contents)
        assert archive.read("customer_overview_dashboards/metadata.yaml").startswith(b"version")


def test_superset_serves_the_manifests_role_groups_from_the_published_exports(
    tmp_path: Path,
) -> None:
    from bi import superset
    from customer_overview.config import load_settings

    manifest = load_manifest()
    assert tuple(group.name for group in manifest.consumers.role_groups) == superset.ROLE_GROUPS
    settings = load_settings(profile="local", lakehouse_dir=tmp_path, env={})
    for group in superset.ROLE_GROUPS:
        assert superset.export_file(tmp_path, group) == settings.duckdb_export(group)


@pytest.mark.parametrize(
    ("dashboard", "message"),
    [
        ("title: [unclosed\n", r"broken\.yaml: not valid YAML"),
        ("title: T\nlayout: []\n", r"broken\.yaml: charts is missing"),
        ("title: T\ncharts: {c1: {name: C}}\nlayout: []\n", r"broken\.yaml: charts\.c1\.dataset"),
        (
            "title: T\ncharts: {c1: {name: C, dataset: nowhere}}\nlayout: []\n",
            r"broken\.yaml: chart 'c1' uses unknown dataset 'nowhere'",
        ),
    ],
    ids=["not-yaml", "no-charts", "chart-without-dataset", "unknown-dataset"],
)
def test_broken_templates_name_the_file_and_key(tmp_path: Path, dashboard, message) -> None:
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "datasets.yaml").write_text("datasets: {customer_overview: {}}\n")
    (tmp_path / "dashboards" / "broken.yaml").write_text(dashboard)
    with pytest.raises(ValueError, match=message):
        bundle.load_templates(tmp_path)
