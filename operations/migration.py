"""Move a lakehouse's catalog to another catalog without copying data.

Iceberg tables are their metadata files: registering each table's current metadata location in
the target catalog (PyIceberg ``register_table``) makes the target serve the same tables,
snapshots, tags and branches. A team can start on the embedded SQLite catalog and move to a
shared PostgreSQL or REST catalog without rebuilding; the warehouse must be readable at the same
location from the new deployment.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError

from customer_overview.catalog import prepare_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.errors import ConfigurationError


@dataclass
class MigrationReport:
    registered: list[str] = field(default_factory=list)
    already_current: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def migrate_catalog(source: LakehouseSettings, target: LakehouseSettings) -> MigrationReport:
    """Register every table of ``source``'s namespace in ``target``'s catalog.

    A table that already exists in the target with the same metadata location is skipped; one
    that exists with a different location is reported as a conflict and left alone.

    Raises:
        ConfigurationError: Source and target are the same catalog, or the source has no
            tables (a mistyped lakehouse folder must not report a successful migration).
    """
    if source.pyiceberg_properties() == target.pyiceberg_properties():
        raise ConfigurationError("source and target profiles point at the same catalog")
    if source.catalog.type == "sqlite" and not source.sqlite_catalog_path.exists():
        raise ConfigurationError(f"{source.sqlite_catalog_path}: no catalog to migrate")
    source_catalog = prepare_catalog(source)
    identifiers = sorted(source_catalog.list_tables(source.namespace))
    if not identifiers:
        raise ConfigurationError(
            f"{source.profile} catalog: no tables in namespace {source.namespace!r} to migrate"
        )
    target_catalog = prepare_catalog(target)
    with contextlib.suppress(NamespaceAlreadyExistsError):
        target_catalog.create_namespace(target.namespace)
    report = MigrationReport()
    for identifier in identifiers:
        table = source_catalog.load_table(identifier)
        name = identifier[-1]
        target_identifier = target.table_identifier(name)
        try:
            existing = target_catalog.load_table(target_identifier)
        except NoSuchTableError:
            target_catalog.register_table(target_identifier, table.metadata_location)
            report.registered.append(name)
            continue
        if existing.metadata_location == table.metadata_location:
            report.already_current.append(name)
        else:
            report.conflicts.append(name)
    return report
