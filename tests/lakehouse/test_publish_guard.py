"""Publishing moves nothing unless it can move everything.

It refuses, before moving anything, a table whose main cannot fast-forward to audit; it moves
every table in one catalog transaction; and it rolls back what a publish the log never recorded
left on a table (a crash on a catalog without multi-table commits).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.table.update.snapshot import ManageSnapshots

from assets.governed.governance import AUDIT_BRANCH
from assets.published.publishing import _require_fast_forward, _roll_back_unlogged
from customer_overview.catalog import prepare_catalog
from customer_overview.errors import PublishError
from customer_overview.multi_table_commit import MultiTableCommit
from customer_overview.tables import load_iceberg_table
from customer_overview.version_hint import local_path


def test_main_must_be_an_ancestor_of_audit(lake_spark, lakehouse):
    table = "guard_probe"
    qualified = lakehouse.spark_table(table)
    lake_spark.sql(f"CREATE TABLE {qualified} (id bigint) USING iceberg")
    with pytest.raises(PublishError, match=f"no '{AUDIT_BRANCH}' branch"):
        _require_fast_forward(load_iceberg_table(lakehouse, table), table)

    lake_spark.sql(f"INSERT INTO {qualified} VALUES (1)")
    lake_spark.sql(f"ALTER TABLE {qualified} CREATE BRANCH {AUDIT_BRANCH}")
    lake_spark.sql(f"INSERT INTO {qualified}.branch_{AUDIT_BRANCH} VALUES (2)")
    _require_fast_forward(load_iceberg_table(lakehouse, table), table)  # audit is ahead: fine

    lake_spark.sql(f"INSERT INTO {qualified} VALUES (3)")  # main moved on its own
    with pytest.raises(PublishError, match=r"is not an ancestor of 'audit'.*nothing was published"):
        _require_fast_forward(load_iceberg_table(lakehouse, table), table)


def _two_tables_with_an_audit_branch(settings) -> list[str]:
    """Two PyIceberg tables, each with one snapshot on main and a newer one on ``audit``."""
    catalog = prepare_catalog(settings)
    names = []
    for name in ("probe_a", "probe_b"):
        identifier = settings.table_identifier(name)
        table = catalog.create_table(
            identifier,
            schema=pa.schema([pa.field("id", pa.int64())]),
            properties={"write.metadata.compression-codec": "gzip"},
        )
        table.append(pa.table({"id": [1]}))
        table.manage_snapshots().create_branch(
            table.current_snapshot().snapshot_id, AUDIT_BRANCH
        ).commit()
        catalog.load_table(identifier).append(pa.table({"id": [2]}), branch=AUDIT_BRANCH)
        names.append(identifier)
    return names


def _release(batch: MultiTableCommit, identifier: str) -> None:
    table = batch.table(identifier)
    audit = table.snapshot_by_name(AUDIT_BRANCH).snapshot_id
    with table.transaction() as transaction, ManageSnapshots(transaction) as refs:
        refs.set_current_snapshot(snapshot_id=audit)
        refs.create_tag(audit, "v1.0.0+1")


def test_every_table_moves_in_one_catalog_transaction(lakehouse):
    identifiers = _two_tables_with_an_audit_branch(lakehouse)
    catalog = prepare_catalog(lakehouse)
    before = {name: catalog.load_table(name).metadata_location for name in identifiers}
    swapped = []
    batch = MultiTableCommit(catalog, on_pointer_swapped=swapped.append)
    for identifier in identifiers:
        _release(batch, identifier)
    # Prepared: new metadata files exist (gzip, named as Spark names them), no pointer moved.
    for staged in batch.staged:
        assert staged.location.endswith(".gz.metadata.json")
        assert Path(local_path(staged.location)).read_bytes()[:2] == b"\x1f\x8b"
    assert {name: catalog.load_table(name).metadata_location for name in identifiers} == before
    batch.apply()
    assert swapped == [1, 2] and batch.atomic
    for identifier in identifiers:
        table = catalog.load_table(identifier)
        assert (
            table.current_snapshot().snapshot_id == table.snapshot_by_name(AUDIT_BRANCH).snapshot_id
        )
        assert table.metadata.refs["v1.0.0+1"].snapshot_id == table.current_snapshot().snapshot_id
        assert table.scan().to_arrow().num_rows == 2


def test_a_concurrent_commit_to_one_table_moves_none(lakehouse):
    identifiers = _two_tables_with_an_audit_branch(lakehouse)
    catalog = prepare_catalog(lakehouse)
    batch = MultiTableCommit(catalog)
    for identifier in identifiers:
        _release(batch, identifier)
    catalog.load_table(identifiers[1]).append(pa.table({"id": [3]}))  # another writer
    before = {name: catalog.load_table(name).metadata_location for name in identifiers}
    with pytest.raises(CommitFailedException, match="no table of this commit was changed"):
        batch.apply()
    assert {name: catalog.load_table(name).metadata_location for name in identifiers} == before
    assert "v1.0.0+1" not in catalog.load_table(identifiers[0]).metadata.refs


def test_a_publish_the_log_never_recorded_is_rolled_back(lakehouse):
    identifier = _two_tables_with_an_audit_branch(lakehouse)[0]
    catalog = prepare_catalog(lakehouse)
    published = catalog.load_table(identifier).current_snapshot().snapshot_id
    # What a crash between two tables' commits leaves on a catalog without multi-table commits.
    table = catalog.load_table(identifier)
    audit = table.snapshot_by_name(AUDIT_BRANCH).snapshot_id
    with table.manage_snapshots() as refs:
        refs.set_current_snapshot(snapshot_id=audit)
        refs.create_tag(audit, "v1.0.0+2")
        refs.create_tag(audit, "run-killed")
    row = {"snapshot_id": published, "run_id": "first", "version": "1.0.0+1"}
    assert _roll_back_unlogged(catalog.load_table(identifier), row, {"1.0.0+1"})
    table = catalog.load_table(identifier)
    assert table.current_snapshot().snapshot_id == published
    assert {"v1.0.0+2", "run-killed"}.isdisjoint(table.metadata.refs)
    assert table.snapshot_by_name(AUDIT_BRANCH).snapshot_id == audit  # the next publish moves it
    assert not _roll_back_unlogged(table, row, {"1.0.0+1"})
