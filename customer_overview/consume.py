"""Consuming the published product offline: DuckDB over the published Iceberg tables.

No copy of the data is made: DuckDB's iceberg extension (from the PyPI packages
``duckdb-extension-iceberg`` / ``-avro``, so it works offline) reads the tables' own metadata and
parquet files. Versions are resolved from the publish log through PyIceberg (no JVM), so a query
starts in well under a second.

A consumer only reaches its role group's tables: the DuckDB connection gets views for those
tables only, and file access is then restricted to their folders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.errors import LakehouseError
from customer_overview.product import DataProductManifest
from customer_overview.publishing import published_versions
from customer_overview.version_hint import local_path


class ConsumptionError(LakehouseError):
    """A query cannot be answered: nothing published, unknown version or role group."""


@dataclass(frozen=True)
class PublishedView:
    """One output as a role group sees it in one published version."""

    name: str  # the view name consumers query, e.g. customer_overview
    table: str  # the Iceberg table, e.g. customer_overview_dp__restricted
    version: str
    snapshot_id: int
    metadata_location: str
    table_location: str


def _extension_files() -> list[Path]:
    files = []
    for module in (duckdb_extension_avro, duckdb_extension_iceberg):
        files += sorted(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))
    if len(files) < 2:
        raise ConsumptionError(
            "DuckDB iceberg/avro extension files not found in the duckdb-extension-* packages"
        )
    return files


def duckdb_connection(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the iceberg and avro extensions loaded from the PyPI packages."""
    connection = duckdb.connect(database)
    for extension in _extension_files():
        connection.execute(f"LOAD '{extension}'")
    return connection


def resolve_views(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    role_group: str,
    as_of: str | None = None,
) -> list[PublishedView]:
    """The outputs of ``role_group`` in version ``as_of`` (default: the latest published).

    ``as_of`` is a published version (``1.0.0+2``, with or without a leading ``v``) or a
    manifest version (``1.0.0``: its latest publish).

    Raises:
        ConsumptionError: Unknown role group, nothing published, or an unknown version.
    """
    manifest.role_group(role_group)  # raises ManifestError naming the known groups
    rows = published_versions(settings, role_group)
    if not rows:
        raise ConsumptionError(
            f"nothing is published yet for role group {role_group!r}: run the pipeline first"
        )
    versions = list(dict.fromkeys(row["version"] for row in rows))
    if as_of is None:
        version = versions[-1]
    else:
        wanted = as_of[1:] if re.match(r"^v\d", as_of) else as_of
        matching = [v for v in versions if v == wanted or v.split("+")[0] == wanted]
        if not matching:
            raise ConsumptionError(
                f"version {as_of!r} was never published; published versions: {', '.join(versions)}"
            )
        version = matching[-1]
    catalog = cached_catalog(settings)
    views = []
    for row in rows:
        if row["version"] != version:
            continue
        table = catalog.load_table(settings.table_identifier(row["table_name"]))
        views.append(
            PublishedView(
                name=manifest.output(row["output"]).name,
                table=row["table_name"],
                version=version,
                snapshot_id=int(row["snapshot_id"]),
                metadata_location=table.metadata_location,
                table_location=table.location(),
            )
        )
    return views


def create_views(
    connection: duckdb.DuckDBPyConnection, views: list[PublishedView], pin_snapshots: bool = True
) -> None:
    """One DuckDB view per output: pinned to the published snapshot, or following the latest."""
    for view in views:
        if pin_snapshots:
            source = (
                f"iceberg_scan('{view.metadata_location}', snapshot_from_id => {view.snapshot_id})"
            )
        else:
            # The folder's version-hint.text, rewritten by every publish (write_version_hint).
            source = (
                f"iceberg_scan('{local_path(view.table_location)}', "
                "metadata_compression_codec => 'gzip')"
            )
        connection.execute(f'CREATE OR REPLACE VIEW "{view.name}" AS SELECT * FROM {source}')


def restrict_to(connection: duckdb.DuckDBPyConnection, views: list[PublishedView]) -> None:
    """Allow file reads only under the role group's own tables, then lock the setting."""
    folders = ", ".join(f"'{local_path(view.table_location)}'" for view in views)
    connection.execute(f"SET allowed_directories = [{folders}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def query(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    sql: str,
    role_group: str,
    as_of: str | None = None,
) -> tuple[list[str], list[tuple[Any, ...]], str]:
    """Run ``sql`` on DuckDB over ``role_group``'s published outputs.

    Returns:
        (column names, rows, the version answered from).
    """
    views = resolve_views(settings, manifest, role_group, as_of)
    with duckdb_connection() as connection:
        create_views(connection, views, pin_snapshots=True)
        if settings.warehouse.startswith("file:"):
            restrict_to(connection, views)
        try:
            cursor = connection.execute(sql)
        except duckdb.Error as exc:
            raise ConsumptionError(f"query failed: {exc}") from None
        columns = [column[0] for column in cursor.description or []]
        return columns, cursor.fetchall(), views[0].version


def export_duckdb(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    path: Path,
    role_group: str,
    pin_snapshots: bool = True,
) -> list[PublishedView]:
    """Write a DuckDB database file with one view per output of ``role_group``.

    BI tools that speak DuckDB (Superset through duckdb-engine, Metabase, Rill) open it and must
    load the iceberg and avro extensions (the views call ``iceberg_scan``).
    """
    views = resolve_views(settings, manifest, role_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built next to the target and renamed over it: a BI tool never opens a half-written file.
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    connection = duckdb_connection(str(partial))
    try:
        create_views(connection, views, pin_snapshots=pin_snapshots)
        connection.execute(
            "CREATE TABLE product_info AS SELECT * FROM (VALUES "
            + ", ".join(
                f"('{manifest.name}', '{view.version}', '{role_group}', '{view.name}', "
                f"'{view.table}', {view.snapshot_id})"
                for view in views
            )
            + ") AS t(product, version, role_group, view_name, iceberg_table, snapshot_id)"
        )
    finally:
        connection.close()
    partial.replace(path)
    return views
