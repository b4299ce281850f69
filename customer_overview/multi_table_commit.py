"""Commits to several Iceberg tables that become visible together, or not at all.

An Iceberg commit is atomic for one table: the catalog swaps the table's metadata pointer. A
product version spans many tables (every output for every role group, plus the publish log),
so publishing them one after another lets a crash leave some tables on the new version and
others on the old one. :class:`MultiTableCommit` makes the whole version one catalog
transaction:

1. *prepare*: every change is made with PyIceberg's own update machinery (transactions,
   ``manage_snapshots``, ``append``) on tables whose catalog is this object. Their commits are
   staged here: the requirements are validated, the new table metadata computed with
   ``update_table_metadata`` and written as a new metadata file, but no pointer moves.
2. *apply*: for the JDBC catalogs (SQLite, PostgreSQL: PyIceberg's ``SqlCatalog``, the same
   ``iceberg_tables`` rows Spark's ``JdbcCatalog`` reads) every table's pointer is swapped in ONE
   SQL transaction, each ``UPDATE ... WHERE metadata_location = <the location prepared from>``
   with a row-count check, exactly PyIceberg's optimistic concurrency for one table
   (``SqlCatalog.commit_table``) applied to all of them at once. A concurrent commit to any table
   rolls the whole transaction back; a process killed before ``COMMIT`` leaves no trace but
   unreferenced metadata files (removed by maintenance as orphans).

Other catalogs (REST) get the staged updates replayed table by table in the order they were
staged: PyIceberg 0.12 has no client for the REST multi-table commit
(``POST /v1/{prefix}/transactions/commit``), so there each table is atomic, the set is not; the
caller stages the table that decides what is published (the publish log) last.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import FileIO
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import CommitTableResponse, Table
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.update import TableRequirement, TableUpdate, update_table_metadata
from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

METADATA_CODEC_PROPERTY = "write.metadata.compression-codec"
_METADATA_VERSION = re.compile(r"^(\d+)-")


@dataclass
class StagedTable:
    """One table's changes in the batch: where it started, where it will point."""

    identifier: str
    base_location: str
    location: str
    metadata: TableMetadata
    # Every staged commit, in order, for catalogs that take updates rather than pointers.
    commits: list[tuple[tuple[TableRequirement, ...], tuple[TableUpdate, ...]]] = field(
        default_factory=list
    )


class MultiTableCommit:
    """Stage commits to many tables, then make them visible in one catalog transaction.

    Use :meth:`table` to get a table whose commits are staged here, change it with any
    PyIceberg API, then call :meth:`apply` once. ``on_pointer_swapped(n)`` is called after the
    n-th pointer moved inside the open SQL transaction (fault injection in tests).
    """

    def __init__(
        self, catalog: Catalog, on_pointer_swapped: Callable[[int], None] | None = None
    ) -> None:
        self._catalog = catalog
        self._staged: dict[str, StagedTable] = {}
        self._on_pointer_swapped = on_pointer_swapped or (lambda _n: None)
        self.applied = False

    @property
    def atomic(self) -> bool:
        """Whether :meth:`apply` moves every table in one transaction (JDBC catalogs)."""
        return isinstance(self._catalog, SqlCatalog)

    @property
    def staged(self) -> list[StagedTable]:
        return list(self._staged.values())

    def table(self, identifier: str) -> Table:
        """``identifier`` as this batch has changed it so far; its commits are staged here."""
        loaded = self._catalog.load_table(identifier)
        staged = self._staged.get(identifier)
        metadata, location = (
            (staged.metadata, staged.location)
            if staged
            else (loaded.metadata, loaded.metadata_location)
        )
        # The Table API commits through ``table.catalog.commit_table``: that is this object,
        # which implements that part of ``Catalog`` (duck-typed, hence the cast).
        return Table(
            loaded.name(),
            metadata,
            location,
            loaded.io,
            catalog=cast(Catalog, self),
        )

    # ----------------------------------------------------- the part of Catalog that Table uses
    def commit_table(
        self,
        table: Table,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> CommitTableResponse:
        """Stage one commit: validate, compute and write the new metadata; move no pointer."""
        if self.applied:
            raise CommitFailedException("this multi-table commit was already applied")
        identifier = ".".join(table.name())
        staged = self._staged.get(identifier)
        base_metadata = staged.metadata if staged else table.metadata
        base_location = staged.location if staged else table.metadata_location
        for requirement in requirements:
            requirement.validate(base_metadata)
        metadata = update_table_metadata(base_metadata, updates, metadata_location=base_location)
        location = _next_metadata_location(metadata, base_location)
        if self.atomic:
            _write_metadata(metadata, table.io, location)
        if staged is None:
            staged = StagedTable(identifier, base_location, location, metadata)
            self._staged[identifier] = staged
        staged.location, staged.metadata = location, metadata
        staged.commits.append((requirements, updates))
        # By alias: the model's constructor takes the REST field name ("metadata-location").
        return CommitTableResponse.model_validate(
            {"metadata": metadata, "metadata-location": location}
        )

    def _delete_old_metadata(self, io: FileIO, base: TableMetadata, new: TableMetadata) -> None:
        """Called by ``Table`` after a commit; nothing may be deleted before :meth:`apply`.

        Metadata files that fall out of the metadata log become orphans, which the maintenance
        asset removes after its age threshold.
        """

    # --------------------------------------------------------------------------------- apply
    def apply(self) -> None:
        """Make every staged change visible at once (JDBC catalogs) or table by table (others).

        Raises:
            CommitFailedException: Another process committed to one of the tables since it was
                prepared; with a JDBC catalog nothing was changed.
        """
        if self.applied:
            raise CommitFailedException("this multi-table commit was already applied")
        if isinstance(self._catalog, SqlCatalog):
            self._swap_pointers(self._catalog)
        else:
            self._replay(self._catalog)
        self.applied = True

    def _swap_pointers(self, catalog: SqlCatalog) -> None:
        with Session(catalog.engine) as session, session.begin():
            for swapped, staged in enumerate(self._staged.values(), start=1):
                namespace = Catalog.namespace_to_string(Catalog.namespace_from(staged.identifier))
                name = Catalog.table_name_from(staged.identifier)
                result = session.execute(
                    update(IcebergTables)
                    .where(
                        IcebergTables.catalog_name == catalog.name,
                        IcebergTables.table_namespace == namespace,
                        IcebergTables.table_name == name,
                        IcebergTables.metadata_location == staged.base_location,
                    )
                    .values(
                        metadata_location=staged.location,
                        previous_metadata_location=staged.base_location,
                    )
                )
                if cast(CursorResult[Any], result).rowcount != 1:
                    # Leaving the block rolls back every pointer already swapped.
                    raise CommitFailedException(
                        f"{staged.identifier} was changed by another process since it was "
                        "prepared; no table of this commit was changed"
                    )
                self._on_pointer_swapped(swapped)

    def _replay(self, catalog: Catalog) -> None:
        for staged in self._staged.values():
            table = catalog.load_table(staged.identifier)
            for requirements, updates in staged.commits:
                response = catalog.commit_table(table, requirements, updates)
                table = Table(
                    table.name(),
                    response.metadata,
                    response.metadata_location,
                    table.io,
                    catalog=catalog,
                )


def _next_metadata_location(metadata: TableMetadata, base_location: str) -> str:
    """``<n+1>-<uuid>[.gz].metadata.json`` next to the base, named as Spark's Iceberg names it.

    The table property ``write.metadata.compression-codec=gzip`` makes Spark write gzip metadata
    named ``*.gz.metadata.json``; folder readers (DuckDB's ``version-hint.text``) rely on one
    naming scheme, and PyIceberg compresses by that suffix.
    """
    match = _METADATA_VERSION.match(base_location.rsplit("/", 1)[-1])
    version = int(match.group(1)) + 1 if match else 0
    gzip = metadata.properties.get(METADATA_CODEC_PROPERTY, "none").lower() == "gzip"
    name = f"{version:05d}-{uuid.uuid4()}{'.gz' if gzip else ''}.metadata.json"
    return load_location_provider(metadata.location, metadata.properties).new_metadata_location(
        name
    )


def _write_metadata(metadata: TableMetadata, io: FileIO, location: str) -> None:
    ToOutputFile.table_metadata(metadata, io.new_output(location))
