"""``version-hint.text``: how folder-based Iceberg readers find a table's published version."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import StaticTable

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings

HINT_FILE = "version-hint.text"


def local_path(uri: str) -> str:
    """``file:/x`` or ``file:///x`` -> ``/x``."""
    return re.sub(r"^file:(//)?", "", uri)


def write_version_hint(settings: LakehouseSettings, table: str) -> Path | None:
    """Point the table folder's ``version-hint.text`` at its current metadata file.

    Readers that open an Iceberg table by folder (DuckDB's ``iceberg_scan('<folder>')``, Hadoop
    tables) follow this hint. Only the publish step writes it, after the version's catalog
    commit, so those readers follow the latest *published* version; the catalog keeps tracking
    every commit. Written to a temporary file and renamed over the hint, so a reader never sees
    a half-written one. Returns the hint's path, or ``None`` for a warehouse that is not on a
    local file system.
    """
    iceberg = cached_catalog(settings).load_table(settings.table_identifier(table))
    location = iceberg.metadata_location
    if not location.startswith("file:"):
        return None
    metadata = Path(local_path(location))
    # "00012-<uuid>.gz.metadata.json" -> "00012-<uuid>": DuckDB adds ".gz.metadata.json".
    version = metadata.name.removesuffix(".metadata.json").removesuffix(".gz")
    hint = metadata.parent / HINT_FILE
    partial = hint.with_name(f".{HINT_FILE}.partial")
    partial.write_text(version, encoding="utf-8")
    partial.replace(hint)
    return hint


def hinted_snapshot_id(settings: LakehouseSettings, table: str) -> int | None:
    """The ``main`` snapshot of the metadata file the table's hint names (None: no hint)."""
    try:
        iceberg = cached_catalog(settings).load_table(settings.table_identifier(table))
    except NoSuchTableError:
        return None
    metadata_dir = Path(local_path(iceberg.metadata_location)).parent
    hint = metadata_dir / HINT_FILE
    if not hint.is_file():
        return None
    version = hint.read_text(encoding="utf-8").strip()
    for suffix in (".gz.metadata.json", ".metadata.json"):
        candidate = metadata_dir / f"{version}{suffix}"
        if candidate.is_file():
            snapshot = StaticTable.from_metadata(candidate.as_uri()).current_snapshot()
            return snapshot.snapshot_id if snapshot else None
    return None


def stale_version_hints(
    settings: LakehouseSettings, published_snapshots: Mapping[str, int]
) -> list[str]:
    """Tables whose hint does not lead to their published snapshot (``table -> snapshot``)."""
    if not settings.warehouse.startswith("file:"):
        return []
    return [
        table
        for table, snapshot_id in sorted(published_snapshots.items())
        if hinted_snapshot_id(settings, table) != snapshot_id
    ]
