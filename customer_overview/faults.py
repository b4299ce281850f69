"""Named crash points, so tests can kill a real run at an exact step (``kill -9`` semantics).

``CUSTOMER_OVERVIEW_FAULT=<stage>:<step>[:<n>]`` makes the process SIGKILL itself when it
reaches that point: ``publish:swap:3`` dies inside the catalog transaction after the third
table pointer moved, ``publish:committed`` right after the commit. SIGKILL, not an exception:
no ``finally`` block, no atexit handler, no flush runs, as when the machine loses power or the
OOM killer strikes. Unset (always, outside tests), every point is a no-op.
"""

from __future__ import annotations

import os
import signal

FAULT_VARIABLE = "CUSTOMER_OVERVIEW_FAULT"

# Every point the code defines, for tests and documentation: (stage, step, counted).
PUBLISH_FAULT_POINTS = (
    ("publish", "prepared", True),  # after the n-th table's new metadata file was written
    ("publish", "swap", True),  # inside the catalog transaction, after the n-th pointer moved
    ("publish", "committed", False),  # after the catalog transaction committed
    ("publish", "hint", True),  # after the n-th version-hint.text was written
    ("publish", "export", True),  # after the n-th role group's DuckDB export was replaced
)


def fault_point(stage: str, step: str, count: int | None = None) -> None:
    """Kill this process now if ``$CUSTOMER_OVERVIEW_FAULT`` names this point."""
    wanted = os.environ.get(FAULT_VARIABLE)
    if not wanted:
        return
    parts = wanted.split(":")
    if parts[:2] != [stage, step]:
        return
    if len(parts) > 2 and (count is None or parts[2] != str(count)):
        return
    os.kill(os.getpid(), signal.SIGKILL)
