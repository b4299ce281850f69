"""kill -9 at every publish step: every consumer path shows one whole version, the next run repairs.

Real `customer-overview run` processes on a copy of the session's first publish, killed
by the fault points of ``customer_overview.faults`` (the process SIGKILLs itself: no cleanup
runs). After each kill the product is read through the CLI (a process), ``--as-of``, every
DuckDB export file, PyIceberg on ``main`` and on the version tags, and Spark on ``main``.
The module's lakehouse carries over from test to test; each test lands its own change first,
so each also runs alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runs import describe, run_cli
from lakehouse_runs import (
    KILLED,
    PUBLISH_ONLY,
    assert_whole_version,
    cli_view,
    consumer_views,
    export_views,
    land_new_customers,
    published_tables,
    tags_match_log,
    unlogged_tags,
    unreferenced_metadata_files,
    versions,
)
from published_copy import FirstPublish

from assets.published.publishing import published_state_problems
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.publish_log import PUBLISH_LOG_TABLE
from customer_overview.version_hint import stale_version_hints


def _embedded_settings(lakehouse_dir):
    # As tests/conftest.py's make_settings (a module named `conftest` is ambiguous across folders).
    return load_settings(profile="local", lakehouse_dir=lakehouse_dir, env={})


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(first_publish: FirstPublish) -> LakehouseSettings:
    """A copy of the session's first publish (one version); the tests here carry it over."""
    settings = first_publish.restore()
    assert len(versions(settings)) == 1
    return settings


def _pointer_count(settings: LakehouseSettings) -> int:
    """Pointers the publish transaction moves: every published table and the publish log."""
    return len(published_tables(settings)) + 1


def _assert_old_version_whole(settings: LakehouseSettings, old: str) -> None:
    assert versions(settings)[-1] == old, "a killed publish must not be the latest version"
    assert_whole_version(consumer_views(settings), {old})
    assert not unlogged_tags(settings)
    assert tags_match_log(settings, old)
    assert not published_state_problems(settings)


def test_a_kill_before_the_commit_leaves_the_old_version_whole(lake: LakehouseSettings) -> None:
    old = versions(lake)[-1]
    land_new_customers(lake, "kb", 7)
    pointers = _pointer_count(lake)
    # The first kill is a whole run (it also writes the new audit snapshots); the others
    # repeat the publish step alone, as the next runs would.
    kills = [
        ("run", "publish:prepared:1"),
        (PUBLISH_ONLY, f"publish:prepared:{pointers - 1}"),  # every table staged, not the log
        (PUBLISH_ONLY, "publish:swap:1"),  # inside the catalog transaction
        (PUBLISH_ONLY, f"publish:swap:{pointers}"),  # every pointer moved, no COMMIT yet
    ]
    for selection, fault in kills:
        arguments = ("run",) if selection == "run" else ("run", "--select", selection)
        finished = run_cli(lake, *arguments, fault=fault)
        assert finished.returncode == KILLED, f"{fault}: {describe(finished)}"
        _assert_old_version_whole(lake, old)
    leftovers = unreferenced_metadata_files(lake)
    assert leftovers, "the killed publishes prepared metadata files that nothing references"

    # The next run publishes the audited change as one new version, and maintenance (orphan
    # age 0 here) removes what the killed publishes had prepared.
    finished = run_cli(lake, "run", env={"LAKEHOUSE_ORPHAN_FILE_MIN_AGE_HOURS": "0"})
    assert finished.returncode == 0, describe(finished)
    new = versions(lake)[-1]
    assert new != old and "Product: published" in finished.stdout
    assert_whole_version(consumer_views(lake), {new})
    assert tags_match_log(lake, new) and tags_match_log(lake, old)
    assert cli_view(lake, as_of=old).versions == {old}
    assert not published_state_problems(lake)
    assert not [path for path in leftovers if Path(path).exists()]


def test_a_kill_after_the_commit_is_finished_by_the_next_run(lake: LakehouseSettings) -> None:
    old = versions(lake)[-1]
    land_new_customers(lake, "ka", 5)
    finished = run_cli(lake, "run", fault="publish:committed")
    assert finished.returncode == KILLED, describe(finished)
    new = versions(lake)[-1]
    assert new != old
    # The catalog moved as a whole: the CLI and every reader of main or of the tags are on the
    # new version; the exports still show the old one, whole; the folder hints lag behind.
    views = consumer_views(lake)
    for view in views:
        expected = old if view.path.startswith("export") else new
        assert expected in view.versions, (view.path, sorted(view.versions))
    assert tags_match_log(lake, new) and not published_state_problems(lake)
    assert stale_version_hints(lake, _published_snapshots(lake)), "hints move after the commit"

    # Killed again while the next run repairs: after two of the hints, then after one export.
    for fault in ("publish:hint:2", "publish:export:1"):
        finished = run_cli(lake, "run", "--select", PUBLISH_ONLY, fault=fault)
        assert finished.returncode == KILLED, f"{fault}: {describe(finished)}"
        assert versions(lake)[-1] == new, "repairing publishes nothing new"
        for view in export_views(lake):
            assert view.versions & {old, new}, (fault, view.path)

    finished = run_cli(lake, "run")
    assert finished.returncode == 0, describe(finished)
    assert versions(lake)[-1] == new
    assert f"nothing published: no output changed since v{new}" in finished.stdout
    assert_whole_version(consumer_views(lake), {new})
    assert not stale_version_hints(lake, _published_snapshots(lake))
    assert not published_state_problems(lake)


def _published_snapshots(settings: LakehouseSettings) -> dict[str, int]:
    """Each published table's snapshot in the latest version."""
    from customer_overview.publish_log import last_published

    return {
        table: int(row["snapshot_id"])
        for table, row in last_published(settings).items()
        if table != PUBLISH_LOG_TABLE
    }


# ------------------------------------------------------------------ the cluster profile (D)
def test_a_kill_on_the_cluster_profile_shows_one_whole_version(cluster_first_publish) -> None:
    # The session's first publish on a standalone Spark cluster with a PostgreSQL catalog.
    settings, env = cluster_first_publish
    old = versions(settings)[-1]
    land_new_customers(settings, "kc", 6)
    # Inside the PostgreSQL transaction, every pointer moved but not committed: the old version.
    finished = run_cli(settings, "run", fault=f"publish:swap:{_pointer_count(settings)}", env=env)
    assert finished.returncode == KILLED, describe(finished)
    assert versions(settings)[-1] == old
    assert_whole_version(consumer_views(settings, env, with_spark=False), {old})
    assert not unlogged_tags(settings) and not published_state_problems(settings)
    # Right after the commit: the catalog is on the new version, the exports still on the old.
    finished = run_cli(
        settings, "run", "--select", PUBLISH_ONLY, fault="publish:committed", env=env
    )
    assert finished.returncode == KILLED, describe(finished)
    new = versions(settings)[-1]
    assert new != old and tags_match_log(settings, new)
    for view in consumer_views(settings, env, with_spark=False):
        assert (old if view.path.startswith("export") else new) in view.versions, view.path
    finished = run_cli(settings, "run", env=env)
    assert finished.returncode == 0, describe(finished)
    assert f"nothing published: no output changed since v{new}" in finished.stdout
    assert_whole_version(consumer_views(settings, env, with_spark=False), {new})
    assert not published_state_problems(settings)
