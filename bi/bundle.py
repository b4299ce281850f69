"""Build Superset's import bundle (databases, datasets, charts, dashboards) from the templates.

The templates in ``bi/templates/`` say what the dashboards show; this module makes one copy of
every database, dataset, chart and dashboard per consumer role group, each copy pointing at the
group's own DuckDB export file. UUIDs are derived from the group and the template key
(``uuid5``), so re-running set-up updates the same objects instead of adding new ones.

Runs inside ``.venv-superset`` (needs PyYAML) and has no Superset import, so it is testable alone.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bi.superset import ROLE_GROUPS, export_file

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Namespace of every generated UUID (a fixed, arbitrary UUID: never change it, or re-imports
# create duplicates instead of updating).
NAMESPACE = uuid.UUID("6f1c2a52-5d0e-4b8e-9a53-3f7d8b0c9e11")
EXPORT_VERSION = "1.0.0"


def object_uuid(*parts: str) -> str:
    """The stable UUID of a generated object, e.g. ``object_uuid("chart", group, key)``."""
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def dataset_name(view: str, group: str) -> str:
    return f"{view}__{group}"


def database_name(group: str) -> str:
    return f"customer_overview ({group})"


@dataclass(frozen=True)
class Templates:
    datasets: dict[str, dict[str, Any]]
    dashboards: dict[str, dict[str, Any]]  # key = file stem, e.g. lead_generation


def load_templates(folder: Path = TEMPLATES) -> Templates:
    """Read ``datasets.yaml`` and ``dashboards/*.yaml``, checking their references.

    Raises:
        ValueError: A file is not YAML or lacks a key, a chart names an unknown dataset or a
            layout names an unknown chart; the message starts with the file.
    """
    datasets_file = folder / "datasets.yaml"
    datasets = _require(datasets_file, _read_yaml(datasets_file), "datasets")
    dashboards = {}
    for path in sorted((folder / "dashboards").glob("*.yaml")):
        spec = _read_yaml(path)
        for key in ("title", "charts", "layout"):
            _require(path, spec, key)
        for key, chart in spec["charts"].items():
            if _require(path, chart, "dataset", f"charts.{key}") not in datasets:
                raise ValueError(f"{path}: chart {key!r} uses unknown dataset {chart['dataset']!r}")
        for row in spec["layout"]:
            for cell in row:
                if "chart" in cell and cell["chart"] not in spec["charts"]:
                    raise ValueError(f"{path}: layout names unknown chart {cell['chart']!r}")
        dashboards[path.stem] = spec
    return Templates(datasets=datasets, dashboards=dashboards)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None


def _require(path: Path, mapping: Any, key: str, where: str = "") -> Any:
    """``mapping[key]``, or a ValueError naming the file and the missing key."""
    if not isinstance(mapping, dict) or key not in mapping:
        raise ValueError(f"{path}: {where + '.' if where else ''}{key} is missing")
    return mapping[key]


def database_extra(extension_files: list[str]) -> dict[str, Any]:
    """``extra`` of a group's database: read-only DuckDB with the iceberg/avro extensions.

    duckdb-engine runs ``LOAD <entry>`` for each ``preload_extensions`` entry, so each entry is
    a quoted absolute path of an extension file (no download, works offline). The export's views
    are pinned to the latest published version (the publish step rewrites the file each time).
    """
    return {
        "engine_params": {
            "connect_args": {
                "read_only": True,
                "preload_extensions": [f"'{path}'" for path in extension_files],
                "config": {
                    "autoinstall_known_extensions": False,
                    "autoload_known_extensions": False,
                },
            }
        },
        "metadata_params": {},
        "schemas_allowed_for_csv_upload": [],
        "allows_virtual_table_explore": False,
        "disable_data_preview": False,
    }


def _database(group: str, export_path: Path, extension_files: list[str]) -> dict[str, Any]:
    return {
        "database_name": database_name(group),
        "sqlalchemy_uri": f"duckdb:///{export_path.resolve()}",
        "cache_timeout": None,
        "expose_in_sqllab": False,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": database_extra(extension_files),
        "uuid": object_uuid("database", group),
        "version": EXPORT_VERSION,
    }


def _dataset(group: str, view: str, spec: dict[str, Any]) -> dict[str, Any]:
    metrics = [
        {
            "metric_name": name,
            "verbose_name": metric.get("label"),
            "metric_type": None,
            "expression": metric["expression"],
            "description": metric.get("description"),
            "d3format": metric.get("d3format"),
            "extra": {},
            "warning_text": None,
        }
        for name, metric in (spec.get("metrics") or {}).items()
    ]
    columns = [
        {
            "column_name": name,
            "verbose_name": column.get("label"),
            "is_dttm": bool(column.get("is_dttm", False)),
            "is_active": True,
            "type": column.get("type"),
            "groupby": True,
            "filterable": True,
            "expression": column["expression"],
            "description": column.get("description"),
            "python_date_format": None,
            "extra": {},
        }
        for name, column in (spec.get("calculated_columns") or {}).items()
    ]
    return {
        # A virtual dataset named <view>__<group> (like the Iceberg tables <table>__<group>):
        # Superset's SQLite metadata schema keeps an old UNIQUE(table_name) constraint on
        # datasets, so three physical datasets all named `customer_overview` cannot coexist.
        "table_name": dataset_name(view, group),
        "main_dttm_col": spec.get("main_dttm_col"),
        "description": spec.get("description"),
        "default_endpoint": None,
        "offset": 0,
        # No result caching (see superset_config.py): new publishes show at the next load.
        "cache_timeout": None,
        "schema": "main",
        "sql": f"SELECT * FROM main.{view}",
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": object_uuid("dataset", group, view),
        "metrics": metrics,
        "columns": columns,
        "version": EXPORT_VERSION,
        "database_uuid": object_uuid("database", group),
    }


def _chart(group: str, dashboard: str, key: str, spec: dict[str, Any]) -> dict[str, Any]:
    params = {
        "viz_type": spec["viz_type"],
        "adhoc_filters": [],
        "time_range": "No filter",
        "color_scheme": "supersetColors",
        **(spec.get("params") or {}),
    }
    return {
        "slice_name": spec["name"],
        "description": spec.get("description"),
        "certified_by": None,
        "certification_details": None,
        "viz_type": spec["viz_type"],
        "params": params,
        "query_context": None,
        "cache_timeout": None,
        "uuid": object_uuid("chart", group, dashboard, key),
        "version": EXPORT_VERSION,
        "dataset_uuid": object_uuid("dataset", group, spec["dataset"]),
    }


def dashboard_title(spec: dict[str, Any], group: str) -> str:
    return f"{spec['title']} ({group})"


def _position(group: str, dashboard: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Superset's position JSON: ROOT > GRID > rows > charts/markdown, widths out of 12."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {
            "type": "HEADER",
            "id": "HEADER_ID",
            "meta": {"text": dashboard_title(spec, group)},
        },
    }
    chart_number = 0
    for row_number, row in enumerate(spec["layout"], start=1):
        row_id = f"ROW-{row_number}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for cell_number, cell in enumerate(row, start=1):
            parents = ["ROOT_ID", "GRID_ID", row_id]
            if "chart" in cell:
                chart_number += 1
                key = cell["chart"]
                cell_id = f"CHART-{key}"
                position[cell_id] = {
                    "type": "CHART",
                    "id": cell_id,
                    "children": [],
                    "parents": parents,
                    "meta": {
                        # Any number: the import replaces it with the chart's real id.
                        "chartId": chart_number,
                        "uuid": object_uuid("chart", group, dashboard, key),
                        "width": cell.get("width", 4),
                        "height": cell.get("height", 50),
                        "sliceName": spec["charts"][key]["name"],
                    },
                }
            else:
                cell_id = f"MARKDOWN-{row_number}-{cell_number}"
                text = cell["markdown"].replace("{group}", group)
                position[cell_id] = {
                    "type": "MARKDOWN",
                    "id": cell_id,
                    "children": [],
                    "parents": parents,
                    "meta": {
                        "width": cell.get("width", 4),
                        "height": cell.get("height", 50),
                        "code": text,
                    },
                }
            position[row_id]["children"].append(cell_id)
    return position


def _dashboard(group: str, dashboard: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "dashboard_title": dashboard_title(spec, group),
        "description": spec.get("description"),
        "css": spec.get("css", ""),
        "slug": f"{spec['slug']}-{group.replace('_', '-')}",
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": object_uuid("dashboard", group, dashboard),
        "position": _position(group, dashboard, spec),
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": True,
            "native_filter_configuration": [],
            "default_filters": "{}",
            "chart_configuration": {},
            "shared_label_colors": [],
            "label_colors": {},
        },
        "version": EXPORT_VERSION,
    }


def _dump(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)


def build_bundle(
    lakehouse_dir: Path,
    extension_files: list[str],
    groups: tuple[str, ...] = ROLE_GROUPS,
    templates: Templates | None = None,
) -> dict[str, str]:
    """Every file of the bundle, ``{path inside the ZIP: YAML text}``, for ``groups``."""
    templates = templates or load_templates()
    root = "customer_overview_dashboards"
    contents = {
        f"{root}/metadata.yaml": _dump(
            {"version": EXPORT_VERSION, "type": "Dashboard", "timestamp": "1970-01-01T00:00:00"}
        )
    }
    for group in groups:
        db_dir = f"customer_overview_{group}"
        contents[f"{root}/databases/{db_dir}.yaml"] = _dump(
            _database(group, export_file(lakehouse_dir, group), extension_files)
        )
        for view, spec in templates.datasets.items():
            contents[f"{root}/datasets/{db_dir}/{view}.yaml"] = _dump(_dataset(group, view, spec))
        for dashboard, spec in templates.dashboards.items():
            for key, chart in spec["charts"].items():
                contents[f"{root}/charts/{group}_{dashboard}_{key}.yaml"] = _dump(
                    _chart(group, dashboard, key, chart)
                )
            contents[f"{root}/dashboards/{group}_{dashboard}.yaml"] = _dump(
                _dashboard(group, dashboard, spec)
            )
    return contents


def write_zip(contents: dict[str, str], path: Path) -> Path:
    """Write the bundle as Superset's import ZIP (``superset import-dashboards -p PATH``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, text in sorted(contents.items()):
            bundle.writestr(name, text)
    path.write_bytes(buffer.getvalue())
    return path


def manifest(
    groups: tuple[str, ...] = ROLE_GROUPS, templates: Templates | None = None
) -> dict[str, Any]:
    """What set-up creates, by group: database, dataset, chart and dashboard UUIDs and titles.

    The checks (``bi/dashboard_checks.py``) and the test use it to find each group's objects.
    """
    templates = templates or load_templates()
    out: dict[str, Any] = {}
    for group in groups:
        out[group] = {
            "database": {"uuid": object_uuid("database", group), "name": database_name(group)},
            "datasets": {view: object_uuid("dataset", group, view) for view in templates.datasets},
            "dashboards": {
                name: {
                    "uuid": object_uuid("dashboard", group, name),
                    "title": dashboard_title(spec, group),
                    "charts": {
                        key: {
                            "uuid": object_uuid("chart", group, name, key),
                            "name": chart["name"],
                            "viz_type": chart["viz_type"],
                            "dataset": chart["dataset"],
                        }
                        for key, chart in spec["charts"].items()
                    },
                }
                for name, spec in templates.dashboards.items()
            },
        }
    return out


if __name__ == "__main__":  # pragma: no cover - debugging aid
    print(json.dumps(manifest(), indent=2))
