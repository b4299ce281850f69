"""Runs with nothing new: no version, no commit, no file.

The session's first publish (a whole run) is restored; a real `customer-overview run` then finds
nothing new. From then on, ``MORE_NOOP_RUNS`` more runs (one process, real Dagster runs of the
whole graph, with the maintenance asset) must leave every table's metadata pointer and the
warehouse's set of files exactly as the first no-op run left them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from cli_runs import describe, run_cli
from lakehouse_runs import versions, warehouse_files
from published_copy import FirstPublish

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings

pytestmark = pytest.mark.slow

# Three no-op runs in all: a run that adds a file or a commit shows on the second. Ten passed
# by hand (README, Operations); each no-op run costs about a minute of CI time.
MORE_NOOP_RUNS = 2

_REPEATED_RUNS = """
import sys
from customer_overview.config import load_settings
from pipelines.runner import run_config_for, run_pipeline

settings = load_settings(profile="local", lakehouse_dir=sys.argv[1], env={})
for _ in range(int(sys.argv[2])):
    summary = run_pipeline(settings, run_config=run_config_for())
    print(f"exit={summary.exit_code} {summary.publication}", flush=True)
"""


def _pointers(settings: LakehouseSettings) -> dict[str, str]:
    catalog = cached_catalog(settings)
    return {
        name[-1]: catalog.load_table(name).metadata_location
        for name in catalog.list_tables(settings.namespace)
    }


def test_runs_without_new_data_publish_nothing_and_add_no_file(
    first_publish: FirstPublish,
) -> None:
    assert first_publish.summary.publication == "published v1.0.0+1"
    assert "fs_accelerator/lakehouse_maintenance" in {
        outcome.asset for outcome in first_publish.summary.materialized
    }
    settings = first_publish.restore()

    noop = run_cli(settings, "run")
    assert noop.returncode == 0, describe(noop)
    assert "Product: nothing published: no output changed since v1.0.0+1" in noop.stdout
    files, pointers = warehouse_files(settings), _pointers(settings)

    repeated = subprocess.run(
        [sys.executable, "-c", _REPEATED_RUNS, str(settings.lakehouse_dir), str(MORE_NOOP_RUNS)],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert repeated.returncode == 0, describe(repeated)
    outcomes = [line for line in repeated.stdout.splitlines() if line.startswith("exit=")]
    assert (
        outcomes == ["exit=0 nothing published: no output changed since v1.0.0+1"] * MORE_NOOP_RUNS
    ), repeated.stdout[-3000:]
    assert versions(settings) == ["1.0.0+1"]
    assert _pointers(settings) == pointers, "a run with nothing new committed to a table"
    after = warehouse_files(settings)
    assert after == files, (
        f"{len(files)} files after the first no-op run, {len(after)} after "
        f"{MORE_NOOP_RUNS} more: added {sorted(set(after) - set(files))[:5]}, "
        f"removed {sorted(set(files) - set(after))[:5]}"
    )
