"""Bounded storage: expire old snapshots, remove orphan files, compact small files.

Every run (and a daily schedule) maintains every table of the lakehouse's namespace, in this
order, each step doing nothing, and committing nothing, when it has nothing to do, so a run
without new data adds no file:

1. **Compaction** (Spark ``rewrite_data_files``) of the append-only tables (raw, quarantine,
   landing file log, publish log), only where a partition holds at least
   ``compact_min_input_files`` files smaller than 75% of the target size (Iceberg's own grouping
   rule, checked first from the manifests so that Spark is not even called otherwise). The
   curated tables are merged copy-on-write (each MERGE already rewrites the files it touches)
   and the marts are rewritten whole, so they do not accumulate small files. A masked output
   gains a few files (rows and position deletes) per MERGE until its writer rewrites it whole
   (``assets.governed.governance.MAX_DELETED_SHARE``); a published table's ``main`` must stay
   at its published snapshot anyway. A compaction is a
   ``replace`` snapshot: stages that skip unchanged inputs look through it
   (:func:`customer_overview.tables.data_snapshot`), so it publishes no new version.
2. **Snapshot expiry** (PyIceberg, metadata only): snapshots older than
   ``snapshot_max_age_hours``, except the newest ``retain_last`` of every branch, every
   snapshot a branch or tag points at (every published version keeps its tag, and Iceberg tags
   have no maximum age here), and for a raw table every snapshot from the one its curated table
   last processed on (the next incremental read starts there).
3. **Orphan files**: files under the table's location that no metadata file, manifest list,
   manifest or snapshot of the table references (the data of expired snapshots, files a killed
   run wrote but never committed, metadata prepared by a publish that died before its commit),
   once older than ``orphan_file_min_age_hours``. Iceberg's Spark procedure refuses ages under
   a day; this sweep reads the same references through PyIceberg and runs under the writer
   lock, so nothing else writes the lakehouse meanwhile.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from pyarrow import fs as pafs
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import ancestors_of
from pyspark.sql import SparkSession

from assets.curated.curation import PROCESSED_RAW_SNAPSHOT
from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings, MaintenanceSettings
from customer_overview.entities import all_entities
from customer_overview.landing_log import FILE_LOG_TABLE
from customer_overview.multi_table_commit import MultiTableCommit
from customer_overview.publish_log import PUBLISH_LOG_TABLE
from customer_overview.sql import sql_string
from customer_overview.version_hint import HINT_FILE, local_path

log = logging.getLogger(__name__)

# Iceberg's rewrite_data_files treats files under 75% of the target size as too small.
SMALL_FILE_SHARE = 0.75


@dataclass
class TableMaintenance:
    """What maintenance did to one table."""

    table: str
    compacted_files: int = 0
    compaction_added_files: int = 0
    snapshots_expired: int = 0
    orphans_removed: int = 0
    orphan_bytes: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.compacted_files or self.snapshots_expired or self.orphans_removed)


@dataclass
class MaintenanceReport:
    """What one maintenance pass did, and the warehouse before and after."""

    tables: list[TableMaintenance] = field(default_factory=list)
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0

    def total(self, attribute: str) -> int:
        return sum(getattr(table, attribute) for table in self.tables)

    def summary(self) -> str:
        return (
            f"{self.total('snapshots_expired')} snapshot(s) expired, "
            f"{self.total('orphans_removed')} orphan file(s) removed "
            f"({self.total('orphan_bytes'):,} bytes), {self.total('compacted_files')} small "
            f"file(s) compacted into {self.total('compaction_added_files')}; warehouse "
            f"{self.files_before:,} -> {self.files_after:,} files, "
            f"{self.bytes_before:,} -> {self.bytes_after:,} bytes, {self.seconds:.1f} s"
        )


def compactable_tables() -> set[str]:
    """Tables that grow by appends and so accumulate small files."""
    tables = {FILE_LOG_TABLE, PUBLISH_LOG_TABLE}
    for schema in all_entities():
        tables |= {schema.raw_table, schema.quarantine_table}
    return tables


def maintain(
    settings: LakehouseSettings,
    spark: Callable[[], SparkSession],
    progress: Callable[[str], None] = log.info,
    now: datetime | None = None,
) -> MaintenanceReport:
    """Compact, expire and sweep every table of the lakehouse's namespace.

    Args:
        settings: The lakehouse (``settings.maintenance`` holds the thresholds).
        spark: Gives the Spark session; called only when a table needs compaction.
        progress: Receives one line per table that changed.
        now: The reference time (default: now).
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    config = settings.maintenance
    catalog = cached_catalog(settings)
    report = MaintenanceReport()
    report.files_before, report.bytes_before = warehouse_usage(settings)
    processed_raw = _processed_raw_snapshots(settings)
    compactable = compactable_tables()
    for identifier in sorted(catalog.list_tables(settings.namespace)):
        table = identifier[-1]
        result = TableMaintenance(table)
        if table in compactable:
            _compact(settings, spark, table, config, result)
        _expire_snapshots(settings, table, config, now, processed_raw.get(table), result)
        _remove_orphans(settings, table, config, now, result)
        if result.changed:
            progress(
                f"{table}: {result.compacted_files} file(s) compacted, "
                f"{result.snapshots_expired} snapshot(s) expired, "
                f"{result.orphans_removed} orphan file(s) removed"
            )
        report.tables.append(result)
    report.files_after, report.bytes_after = warehouse_usage(settings)
    report.seconds = time.monotonic() - started
    progress(f"maintenance: {report.summary()}")
    return report


def warehouse_usage(settings: LakehouseSettings) -> tuple[int, int]:
    """(files, bytes) under the warehouse; (0, 0) for a warehouse not on a local disk."""
    if not settings.warehouse.startswith("file:"):
        return 0, 0
    files = size = 0
    for folder, _dirs, names in os.walk(local_path(settings.warehouse)):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


# ------------------------------------------------------------------------------ compaction
def needs_compaction(iceberg: Table, config: MaintenanceSettings) -> bool:
    """Whether some partition holds ``compact_min_input_files`` files under 75% of the target."""
    if iceberg.current_snapshot() is None:
        return False
    small = config.target_file_size_mb * 1024 * 1024 * SMALL_FILE_SHARE
    per_partition: Counter[str] = Counter()
    for task in iceberg.scan().plan_files():
        data_file = task.file
        if data_file.file_size_in_bytes < small:
            per_partition[f"{data_file.spec_id}:{data_file.partition!r}"] += 1
    return any(count >= config.compact_min_input_files for count in per_partition.values())


def _compact(
    settings: LakehouseSettings,
    spark: Callable[[], SparkSession],
    table: str,
    config: MaintenanceSettings,
    result: TableMaintenance,
) -> None:
    iceberg = cached_catalog(settings).load_table(_identifier(settings, table))
    if not needs_compaction(iceberg, config):
        return
    target = config.target_file_size_mb * 1024 * 1024
    row = (
        spark()
        .sql(
            f"CALL {settings.catalog_name}.system.rewrite_data_files("
            f"table => {sql_string(_identifier(settings, table))}, options => map("
            f"'min-input-files', '{config.compact_min_input_files}', "
            f"'target-file-size-bytes', '{target}'))"
        )
        .first()
    )
    if row is not None:
        result.compacted_files = int(row["rewritten_data_files_count"])
        result.compaction_added_files = int(row["added_data_files_count"])


# --------------------------------------------------------------------------- snapshot expiry
def expirable_snapshots(
    iceberg: Table, older_than: datetime, retain_last: int, keep_from: int | None = None
) -> list[int]:
    """Snapshots to expire: older than ``older_than`` and needed by no branch, tag or reader.

    Kept: every snapshot a ref points at, the newest ``retain_last`` ancestors of every branch,
    every branch ancestor newer than ``older_than``, and (``keep_from``) the given snapshot and
    everything committed after it.
    """
    metadata = iceberg.metadata
    cutoff_ms = int(older_than.timestamp() * 1000)
    if keep_from is not None and (anchor := metadata.snapshot_by_id(keep_from)) is not None:
        cutoff_ms = min(cutoff_ms, anchor.timestamp_ms)
    keep: set[int] = set()
    for ref in metadata.refs.values():
        keep.add(ref.snapshot_id)
        head = metadata.snapshot_by_id(ref.snapshot_id)
        if ref.snapshot_ref_type != SnapshotRefType.BRANCH or head is None:
            continue
        for position, snapshot in enumerate(ancestors_of(head, metadata)):
            if position >= retain_last and snapshot.timestamp_ms < cutoff_ms:
                break
            keep.add(snapshot.snapshot_id)
    return [
        snapshot.snapshot_id
        for snapshot in metadata.snapshots
        if snapshot.snapshot_id not in keep and snapshot.timestamp_ms < cutoff_ms
    ]


def _expire_snapshots(
    settings: LakehouseSettings,
    table: str,
    config: MaintenanceSettings,
    now: datetime,
    keep_from: int | None,
    result: TableMaintenance,
) -> None:
    catalog = cached_catalog(settings)
    identifier = _identifier(settings, table)
    older_than = now - timedelta(hours=config.snapshot_max_age_hours)
    expired = expirable_snapshots(
        catalog.load_table(identifier), older_than, config.retain_last, keep_from
    )
    if not expired:
        return
    # Through the multi-table commit for its metadata naming (gzip, as Spark writes it).
    batch = MultiTableCommit(catalog)
    batch.table(identifier).maintenance.expire_snapshots().by_ids(expired).commit()
    batch.apply()
    result.snapshots_expired = len(expired)


def _processed_raw_snapshots(settings: LakehouseSettings) -> dict[str, int]:
    """Raw table -> the raw snapshot its curated table last processed (incremental reads)."""
    catalog = cached_catalog(settings)
    processed = {}
    for schema in all_entities():
        try:
            curated = catalog.load_table(_identifier(settings, schema.curated_table))
        except NoSuchTableError:  # not created yet: nothing to protect
            continue
        value = curated.properties.get(PROCESSED_RAW_SNAPSHOT)
        if value and value.isdigit():
            processed[schema.raw_table] = int(value)
    return processed


# ----------------------------------------------------------------------------- orphan files
def referenced_files(iceberg: Table) -> set[str]:
    """Every file a metadata file of ``iceberg`` references, as normalised paths."""
    metadata = iceberg.metadata
    paths = {iceberg.metadata_location}
    paths |= {entry.metadata_file for entry in metadata.metadata_log}
    paths |= {item.statistics_path for item in metadata.statistics}
    paths |= {item.statistics_path for item in metadata.partition_statistics}
    seen_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(iceberg.io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            paths.add(manifest.manifest_path)
            # Deleted entries too: an older snapshot may still read the file.
            for entry in manifest.fetch_manifest_entry(iceberg.io, discard_deleted=False):
                paths.add(entry.data_file.file_path)
    return {_normalised(path) for path in paths}


def orphan_files(iceberg: Table, older_than: datetime) -> list[tuple[str, int]]:
    """``(path, bytes)`` of files under the table's location nothing references, older than."""
    filesystem, root = _filesystem(iceberg.location())
    try:
        listed = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    except FileNotFoundError:
        return []
    referenced = referenced_files(iceberg) | _hinted_metadata(filesystem, listed)
    return [
        (info.path, info.size or 0)
        for info in listed
        if info.type == pafs.FileType.File
        and os.path.basename(info.path) != HINT_FILE
        and _normalised(info.path) not in referenced
        and info.mtime is not None
        and _aware(info.mtime) < older_than
    ]


def _remove_orphans(
    settings: LakehouseSettings,
    table: str,
    config: MaintenanceSettings,
    now: datetime,
    result: TableMaintenance,
) -> None:
    iceberg = cached_catalog(settings).load_table(_identifier(settings, table))
    older_than = now - timedelta(hours=config.orphan_file_min_age_hours)
    orphans = orphan_files(iceberg, older_than)
    filesystem, _root = _filesystem(iceberg.location())
    for path, size in orphans:
        filesystem.delete_file(path)
        result.orphans_removed += 1
        result.orphan_bytes += size


def _hinted_metadata(filesystem: pafs.FileSystem, listed: Iterable[pafs.FileInfo]) -> set[str]:
    """The metadata files ``version-hint.text`` files name (folder readers open them)."""
    hinted = set()
    for info in listed:
        if info.type == pafs.FileType.File and os.path.basename(info.path) == HINT_FILE:
            folder = os.path.dirname(info.path)
            with filesystem.open_input_stream(info.path) as stream:
                version = stream.read().decode("utf-8").strip()
            for suffix in (".gz.metadata.json", ".metadata.json"):
                hinted.add(_normalised(os.path.join(folder, version + suffix)))
    return hinted


def _filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    if location.startswith("file:") or location.startswith("/"):
        return pafs.LocalFileSystem(), local_path(location)
    filesystem, root = pafs.FileSystem.from_uri(re.sub(r"^s3a://", "s3://", location))
    return filesystem, root


def _normalised(path: str) -> str:
    """One spelling per file: ``file:/x``, ``file:///x`` and ``/x`` are the same; s3a = s3."""
    if path.startswith("file:") or path.startswith("/"):
        return os.path.normpath(local_path(path))
    parsed = urlparse(path)
    return f"{parsed.netloc}{os.path.normpath(parsed.path)}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _identifier(settings: LakehouseSettings, table: str) -> str:
    return settings.table_identifier(table)
