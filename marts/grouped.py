"""Marts recomputed by the groups a change touched, where the mart's definition allows it.

A row of ``mart_transactions_monthly`` depends only on the transactions of its month, and
``transactions_dp`` is partitioned by that month: when a run merged a few transactions, only
the months they were in (before the change) and are in (after it) are aggregated again, from
those months' files alone, and merged into the mart; every other month stays as it was.

The other marts cannot go by group, by their definition: the per-customer marts divide by the
number of months in the data (a new month changes every customer's rate), ``spend_by_segment``
and ``campaign_funnel`` group by the customers' segments and archetypes (which move with any
transaction), and ``product_sales`` could go by product, but accounts are not partitioned by
product, so recomputing a few products reads every account: the whole aggregate costs the same.

Which months changed is read from Iceberg's metadata alone, without a scan: every snapshot of
the source since the last build added or removed data (or delete) files, each in one month's
partition, and a changed row always leaves its old file (rewritten or marked deleted) and lands
in a new one. So the months of those files are every month whose rows may differ (and some
whose files were only rewritten around a changed neighbour: recomputed, harmlessly). That holds
for any writer (curation's MERGE, an UPDATE by hand, a delete); compactions (``replace``) change
no row and are passed over. A snapshot that has expired, a rollback past the last build, or a
file outside the month partitioning means a whole rebuild.

What a group rebuild starts from is recorded after every build of a mart, whole or by group
(``LAKEHOUSE_DIR/state/mart_builds/<mart>.json``): the mart snapshot it made and the source
snapshots it read. Spark's MERGE cannot carry that in its snapshot summary, so it sits beside
the table, and it is trusted only while the mart's current snapshot is the one it names: a
write by anyone else, or a crash between the commit and the record, means a whole rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Operation
from pyiceberg.transforms import MonthTransform
from pyspark.sql import DataFrame, SparkSession

from customer_overview.config import LakehouseSettings
from customer_overview.entities import EntitySchema, load_entity
from customer_overview.sql import quote, sql_string
from customer_overview.state_records import (
    read_state_record,
    state_record_path,
    write_state_record,
)
from customer_overview.tables import (
    data_snapshot_id,
    load_iceberg_table,
    operation,
    snapshots_since,
    temp_view,
)
from marts import build

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MartBuild:
    """What the last build of a mart made and read."""

    mart_snapshot: int
    inputs: str  # the inputs fingerprint (sources' data, rules, builder, columns)
    definition: str  # the same without the sources' data
    sources: dict[str, int | None]  # source table -> data snapshot id read


@dataclass(frozen=True)
class GroupedMart:
    """A mart whose rows each depend only on the source rows of one month (a mart column)."""

    source: str  # the entity whose table is partitioned by month(partition_column)
    partition_column: str
    group_column: str
    rebuild: Callable[[SparkSession, LakehouseSettings, list[date]], DataFrame]


GROUPED_MARTS: dict[str, GroupedMart] = {
    "transactions_monthly": GroupedMart(
        source="transactions",
        partition_column="transaction_ts",
        group_column="month",
        rebuild=build.transactions_monthly,
    )
}

# Past this share of the mart's groups, one aggregate over everything costs less than finding
# the groups and merging them.
WHOLE_REBUILD_SHARE = 0.5


def _record_path(settings: LakehouseSettings, mart_table: str) -> Path:
    return state_record_path(settings, "mart_builds", mart_table)


def last_build(settings: LakehouseSettings, mart_table: str) -> MartBuild | None:
    """The recorded last build, if it made the mart's current snapshot (else None)."""
    path = _record_path(settings, mart_table)
    recorded = read_state_record(path, MartBuild, "build record", "the mart is rebuilt whole")
    if recorded is None or recorded.mart_snapshot != data_snapshot_id(settings, mart_table):
        return None  # none, or another writer, or a crash between the commit and the record
    return recorded


def record_build(settings: LakehouseSettings, mart_table: str, made: MartBuild) -> None:
    write_state_record(_record_path(settings, mart_table), made)


def changed_groups(
    settings: LakehouseSettings,
    grouped: GroupedMart,
    previous: MartBuild,
    sources: dict[str, int | None],
) -> list[date] | None:
    """The months whose source rows may have changed since ``previous`` (from the files each
    snapshot since added or removed), or None when that is not known."""
    table = load_entity(grouped.source).curated_table
    after, up_to = previous.sources.get(table), sources.get(table)
    if after is None or up_to is None:
        return None
    iceberg = load_iceberg_table(settings, table)
    between = snapshots_since(iceberg, after, up_to)
    if between is None:
        return None
    months: set[date] = set()
    for snapshot in between:
        if operation(snapshot) == Operation.REPLACE:
            continue  # a compaction rewrites files, not rows
        for manifest in snapshot.manifests(iceberg.io):
            if manifest.added_snapshot_id != snapshot.snapshot_id:
                continue  # written by an earlier snapshot: no file this one added or removed
            position = _month_position(iceberg, manifest.partition_spec_id, grouped)
            if position is None:
                return None
            for entry in manifest.fetch_manifest_entry(iceberg.io, discard_deleted=False):
                if entry.status == ManifestEntryStatus.EXISTING:
                    continue
                month = entry.data_file.partition[position]
                if month is None:
                    return None
                months.add(_month_start(month))
    return sorted(months)


def _month_position(iceberg: Table, spec_id: int, grouped: GroupedMart) -> int | None:
    """Where ``month(partition_column)`` sits in the partition tuple of spec ``spec_id``."""
    schema = iceberg.schema()
    for position, field in enumerate(iceberg.specs()[spec_id].fields):
        source = schema.find_field(field.source_id)
        if source.name == grouped.partition_column and isinstance(field.transform, MonthTransform):
            return position
    return None


def _month_start(months_since_epoch: int) -> date:
    """The first day of an Iceberg ``month`` partition value (months since 1970-01)."""
    return date(1970 + months_since_epoch // 12, months_since_epoch % 12 + 1, 1)


def merge_groups(
    spark: SparkSession,
    settings: LakehouseSettings,
    schema: EntitySchema,
    grouped: GroupedMart,
    groups: list[date],
    rows: DataFrame,
) -> None:
    """Replace the mart's rows of ``groups`` by ``rows`` (the groups recomputed): one commit.

    Rows of those groups that are no longer produced are deleted; rows of other groups stay.
    """
    table = settings.spark_table(schema.curated_table)
    matches = " AND ".join(f"target.{quote(c)} <=> source.{quote(c)}" for c in schema.key)
    listed = ", ".join(f"DATE {sql_string(group.isoformat())}" for group in groups)
    with temp_view(rows, f"mart_groups_{schema.entity}") as view:
        spark.sql(
            f"MERGE INTO {table} AS target USING {view} AS source ON {matches} "
            "WHEN MATCHED THEN UPDATE SET * "
            "WHEN NOT MATCHED THEN INSERT * "
            f"WHEN NOT MATCHED BY SOURCE AND target.{quote(grouped.group_column)} IN ({listed}) "
            "THEN DELETE"
        )


def mart_groups(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema, grouped: GroupedMart
) -> int:
    """How many groups the mart holds now."""
    column = quote(grouped.group_column)
    return spark.table(settings.spark_table(schema.curated_table)).select(column).distinct().count()
