"""``version-hint.text``: how folder-based Iceberg readers find a table's published version."""

from __future__ import annotations

import re
from pathlib import Path

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings


def local_path(uri: str) -> str:
    """``file:/x`` or ``file:///x`` -> ``/x``."""
    return re.sub(r"^file:(//)?", "", uri)


def write_version_hint(settings: LakehouseSettings, table: str) -> Path | None:
    """Point the table folder's ``version-hint.text`` at its current metadata file.

    Readers that open an Iceberg table by folder (DuckDB's ``iceberg_scan('<folder>')``, Hadoop
    tables) follow this hint. The publish step writes it right after a table is published, so
    those readers follow the latest *published* version; the catalog keeps tracking every commit.
    Returns the hint's path, or ``None`` for a warehouse that is not on a local file system.
    """
    iceberg = cached_catalog(settings).load_table(settings.table_identifier(table))
    location = iceberg.metadata_location
    if not location.startswith("file:"):
        return None
    metadata = Path(local_path(location))
    # "00012-<uuid>.gz.metadata.json" -> "00012-<uuid>": DuckDB adds ".gz.metadata.json".
    version = metadata.name.removesuffix(".metadata.json").removesuffix(".gz")
    hint = metadata.parent / "version-hint.text"
    hint.write_text(version, encoding="utf-8")
    return hint
