"""Background services in their own process group: start, probe, stop.

The local cluster (PostgreSQL aside: ``pg_ctl`` manages it) and Superset run services that
must end with everything they spawned (a Spark worker's executors, gunicorn's workers). Each
starts in its own session, so its process group holds all of it; stopping sends SIGTERM to the
group, waits, then sends SIGKILL to whatever is left.

Standard library only: ``bi/superset.py`` imports it from any Python 3.11, and from Superset's
own virtualenv, where the product's dependencies are not installed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


def start_group(
    command: Sequence[str],
    log_path: Path,
    environment: Mapping[str, str],
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (its own process group), output appended to a log."""
    with log_path.open("ab") as output:
        return subprocess.Popen(
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(environment),
            cwd=cwd,
            start_new_session=True,
        )


def is_alive(pid: int) -> bool:
    """Whether a process with this id exists (also one owned by another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pid: int, grace_seconds: float) -> bool:
    """SIGTERM the process group led by ``pid``; SIGKILL it if the leader outlives the grace.

    Returns whether anything was running. The leader is reaped when this process started it,
    so no zombie is left behind.
    """
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not our child: probe it instead
            if not is_alive(pid):
                return True
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
