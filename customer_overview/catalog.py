"""The PyIceberg side of the shared Iceberg catalog."""

from __future__ import annotations

import contextlib
import sqlite3

from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError

from customer_overview.config import LakehouseSettings


def open_catalog(settings: LakehouseSettings) -> Catalog:
    """Open the PyIceberg catalog described by ``settings`` (the one Spark also uses)."""
    return load_catalog(settings.catalog_name, **settings.pyiceberg_properties())


def prepare_catalog(settings: LakehouseSettings) -> Catalog:
    """Create the catalog's backing store and the namespace if they do not exist yet.

    For the embedded SQLite catalog, PyIceberg must create the catalog tables before Spark's
    JdbcCatalog connects (Spark runs with ``jdbc.init-catalog-tables=false``), and the file must
    be in WAL mode so readers in one engine do not block commits from the other
    (see ``../shared/ARCHITECTURE.md``).
    """
    if settings.catalog.type == "sqlite":
        path = settings.sqlite_catalog_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
    if settings.warehouse.startswith("file:"):
        settings.lakehouse_dir.mkdir(parents=True, exist_ok=True)
    catalog = open_catalog(settings)  # SqlCatalog creates its tables on open
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(settings.namespace)
    return catalog


# The open catalog per lakehouse: a Dagster run opens its own (``LakehouseResource`` set-up, via
# open_run_catalog) and closes it at teardown; commands outside a run open one on first use.
_catalogs: dict[str, Catalog] = {}


def cached_catalog(settings: LakehouseSettings) -> Catalog:
    """The open PyIceberg catalog for ``settings``' lakehouse (it holds a connection pool)."""
    key = settings.model_dump_json()
    if key not in _catalogs:
        _catalogs[key] = prepare_catalog(settings)
    return _catalogs[key]


def open_run_catalog(settings: LakehouseSettings) -> Catalog:
    """Open a catalog with new connections for one run, in place of any already open."""
    release_catalog(settings)
    catalog = _catalogs[settings.model_dump_json()] = prepare_catalog(settings)
    return catalog


def release_catalog(settings: LakehouseSettings) -> None:
    """Close this process's pooled connections to ``settings``' catalog, if it opened any.

    At the end of every run, and for a process that goes on after the catalog was replaced
    underneath it (a lakehouse folder restored from a copy): pooled SQLite connections would keep
    reading the replaced file.
    """
    catalog = _catalogs.pop(settings.model_dump_json(), None)
    engine = getattr(catalog, "engine", None)  # SqlCatalog's SQLAlchemy engine
    if engine is not None:
        engine.dispose()
