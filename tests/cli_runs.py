"""`customer-overview` run as a real process on a test lakehouse (the scenarios' one way to start it)."""

from __future__ import annotations

import os
import subprocess
import sys

from customer_overview.config import LakehouseSettings
from customer_overview.faults import FAULT_VARIABLE


def run_cli(
    settings: LakehouseSettings,
    *arguments: str,
    fault: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 5400,  # whole-graph runs on a shared 2-core machine took 33 min
) -> subprocess.CompletedProcess[str]:
    """``customer-overview --lakehouse-dir <dir> --profile <profile> <arguments>`` as a process.

    ``env`` adds variables (e.g. a cluster profile's catalog and Spark master).
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in (FAULT_VARIABLE, "DAGSTER_HOME", "LAKEHOUSE_PROFILE", "LAKEHOUSE_DIR")
    }
    if fault:
        environment[FAULT_VARIABLE] = fault
    environment |= env or {}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "operations.cli",
            "--lakehouse-dir",
            str(settings.lakehouse_dir),
            "--profile",
            settings.profile,
            *arguments,
        ],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def describe(finished: subprocess.CompletedProcess[str]) -> str:
    return f"exit {finished.returncode}\n{finished.stdout[-4000:]}\n{finished.stderr[-4000:]}"
