"""Helpers for tests that run `customer-overview run` as a real process on a small lakehouse.

They read the product back through every documented consumer path (the CLI, `--as-of`, the
DuckDB export files, PyIceberg on `main` and on tags, Spark on `main`) and say which published
version each path shows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from cli_runs import describe, run_cli
from lakehouse_support import customer, write_customers

from assets.consumed.consume import _extension_files, query
from assets.published.publishing import version_tag
from customer_overview.config import LakehouseSettings
from customer_overview.product import load_manifest
from customer_overview.publish_log import PUBLISH_LOG_TABLE, published_versions
from customer_overview.spark import spark_session
from customer_overview.tables import load_iceberg_table
from customer_overview.version_hint import local_path

PUBLISH_ONLY = f'key:"fs_accelerator/{PUBLISH_LOG_TABLE}"'
KILLED = -9  # subprocess return code of a process ended by SIGKILL


def land_new_customers(settings: LakehouseSettings, name: str, count: int) -> None:
    """A landing file with ``count`` customers no earlier file had: the next version differs."""
    rows = [customer(f"{name[:2].upper()}{index:08d}") for index in range(count)]
    write_customers(settings.landing_dir, f"customers_{name}.csv", rows)


def versions(settings: LakehouseSettings) -> list[str]:
    """Published versions, oldest first."""
    return list(dict.fromkeys(row["version"] for row in published_versions(settings)))


def log_rows(settings: LakehouseSettings) -> dict[tuple[str, str], dict[str, Any]]:
    """(version, table) -> its publish-log row."""
    return {(row["version"], row["table_name"]): row for row in published_versions(settings)}


def published_tables(settings: LakehouseSettings) -> list[str]:
    manifest = load_manifest()
    return [
        output.published_table(group.name)
        for output in manifest.outputs
        for group in manifest.consumers.role_groups
    ]


@dataclass
class ConsumerView:
    """Which published versions one consumer path is consistent with."""

    path: str
    versions: set[str]


def cli_view(
    settings: LakehouseSettings, as_of: str | None = None, env: dict[str, str] | None = None
) -> ConsumerView:
    """The CLI (a real process), then every output of every group through the same code path."""
    arguments = ["query", "--role", "restricted", "--format", "json"]
    arguments += ["--as-of", as_of] if as_of else []
    finished = run_cli(settings, *arguments, "SELECT count(*) AS n FROM customer_overview", env=env)
    assert finished.returncode == 0, describe(finished)
    rows = log_rows(settings)
    answered = json.loads(finished.stdout)[0]["n"]
    candidates = {
        version
        for (version, table), row in rows.items()
        if table == "customer_overview_dp__restricted" and row["row_count"] == answered
    }
    manifest = load_manifest()
    for group in manifest.consumers.role_groups:
        for output in manifest.outputs:
            _columns, result, version = query(
                settings, manifest, f'SELECT count(*) FROM "{output.name}"', group.name, as_of
            )
            logged = rows[(version, output.published_table(group.name))]
            assert result[0][0] == logged["row_count"], (group.name, output.name, version)
            candidates &= {version}
    return ConsumerView("cli --as-of " + as_of if as_of else "cli", candidates)


def export_views(settings: LakehouseSettings) -> list[ConsumerView]:
    """Each role group's DuckDB export file, opened read-only as a BI tool does."""
    rows = log_rows(settings)
    views = []
    for group in load_manifest().consumers.role_groups:
        path = settings.duckdb_export(group.name)
        connection = duckdb.connect(str(path), read_only=True)
        try:
            for extension in _extension_files():
                connection.execute(f"LOAD '{extension}'")
            pinned = connection.execute(
                "SELECT view_name, iceberg_table, version FROM product_info"
            ).fetchall()
            seen = set()
            for view_name, table, version in pinned:
                count = connection.execute(f'SELECT count(*) FROM "{view_name}"').fetchone()[0]
                assert count == rows[(version, table)]["row_count"], (group.name, view_name)
                seen.add(version)
        finally:
            connection.close()
        views.append(ConsumerView(f"export {group.name}", seen if len(seen) == 1 else set()))
    return views


def pyiceberg_main_view(settings: LakehouseSettings) -> ConsumerView:
    """PyIceberg on ``main`` of every published table: the versions every table agrees with."""
    rows = log_rows(settings)
    by_table: dict[str, set[str]] = defaultdict(set)
    for version, table in rows:
        by_table[table].add(version)
    agreed: set[str] | None = None
    for table in published_tables(settings):
        main = load_iceberg_table(settings, table).current_snapshot()
        matching = {
            version
            for version in by_table[table]
            if main is not None and rows[(version, table)]["snapshot_id"] == main.snapshot_id
        }
        agreed = matching if agreed is None else agreed & matching
    return ConsumerView("pyiceberg main", agreed or set())


def unlogged_tags(settings: LakehouseSettings) -> list[str]:
    """Version tags on published tables that name a version the publish log never recorded."""
    logged = {version_tag(version) for version in versions(settings)}
    found = []
    for table in published_tables(settings):
        refs = load_iceberg_table(settings, table).metadata.refs
        found += [
            f"{table}@{name}"
            for name, ref in refs.items()
            if ref.snapshot_ref_type == "tag" and name.startswith("v") and name not in logged
        ]
    return found


def tags_match_log(settings: LakehouseSettings, version: str) -> bool:
    """Every published table has tag ``v<version>`` at the snapshot the log names."""
    rows = log_rows(settings)
    for table in published_tables(settings):
        tag = load_iceberg_table(settings, table).metadata.refs.get(version_tag(version))
        if tag is None or tag.snapshot_id != rows[(version, table)]["snapshot_id"]:
            return False
    return True


def spark_main_view(settings: LakehouseSettings) -> ConsumerView:
    """Spark SQL on ``main`` (the JDBC catalog rows Spark reads itself) of the customer tables."""
    spark = spark_session(settings)
    rows = log_rows(settings)
    agreed: set[str] | None = None
    for group in load_manifest().consumers.role_groups:
        table = f"customer_overview_dp__{group.name}"
        qualified = settings.spark_table(table)
        main = spark.sql(f"SELECT snapshot_id FROM {qualified}.refs WHERE name = 'main'").first()
        count = spark.table(qualified).count()
        matching = {
            version
            for (version, logged_table), row in rows.items()
            if logged_table == table
            and main is not None
            and row["snapshot_id"] == main.snapshot_id
            and row["row_count"] == count
        }
        agreed = matching if agreed is None else agreed & matching
    return ConsumerView("spark main", agreed or set())


def consumer_views(
    settings: LakehouseSettings, env: dict[str, str] | None = None, with_spark: bool = True
) -> list[ConsumerView]:
    """What every consumer path shows, now (Spark's view in this test process's JVM)."""
    views = [cli_view(settings, env=env), *export_views(settings), pyiceberg_main_view(settings)]
    if with_spark:
        views.append(spark_main_view(settings))
    return views


def assert_whole_version(views: list[ConsumerView], allowed: set[str]) -> None:
    """Each path shows one whole published version, and it is one of ``allowed``."""
    for view in views:
        assert view.versions & allowed, (
            f"{view.path} is consistent with no whole version of {sorted(allowed)} "
            f"(consistent with: {sorted(view.versions)})"
        )


def unreferenced_metadata_files(settings: LakehouseSettings) -> set[Path]:
    """Metadata JSON files of published tables that their catalog entry does not reference."""
    from assets.maintenance.maintenance import referenced_files

    found = set()
    for table in [*published_tables(settings), PUBLISH_LOG_TABLE]:
        iceberg = load_iceberg_table(settings, table)
        referenced = referenced_files(iceberg)
        metadata_dir = Path(local_path(iceberg.location())) / "metadata"
        for path in metadata_dir.glob("*.metadata.json"):
            if str(path) not in referenced:
                found.add(path)
    return found


def warehouse_files(settings: LakehouseSettings) -> list[Path]:
    root = Path(local_path(settings.warehouse))
    return sorted(path for path in root.rglob("*") if path.is_file())
