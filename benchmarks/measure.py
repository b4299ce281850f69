"""Wall time and peak memory of one command, measured from outside its process.

The memory figure is the largest sum of resident set sizes of the process and all its
descendants seen while it ran: a PySpark driver starts the JVM as a child process, so the
driver's own ``ru_maxrss`` would miss most of the memory a Spark job uses. Pages shared between
processes count once per process, so the figure is an upper bound.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

# Often enough to catch the JVM's peak in a job of a few seconds, rare enough to cost nothing.
SAMPLE_INTERVAL_SECONDS = 0.2


@dataclass(frozen=True)
class Measurement:
    """What one command cost and said."""

    seconds: float
    peak_rss_bytes: int
    returncode: int
    stdout: str
    stderr: str

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_bytes / 2**20


def measure(argv: Sequence[str], env: Mapping[str, str], cwd: Path | None = None) -> Measurement:
    """Run ``argv`` to completion, sampling its process tree's memory every 0.2 s.

    ``seconds`` is the wall time from before the process starts to its exit, so interpreter
    and JVM start-up are included.
    """
    # Output goes to files, not pipes: a chatty process would block on a full pipe while this
    # loop is sampling instead of reading.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        peak = _watch(process)
        seconds = time.perf_counter() - started
        return Measurement(seconds, peak, process.returncode, _read(out), _read(err))


def _watch(process: subprocess.Popen[bytes]) -> int:
    """Sample until ``process`` exits; the highest tree RSS seen."""
    root = psutil.Process(process.pid)
    peak = 0
    while True:
        peak = max(peak, _tree_rss(root))
        try:
            # Waiting (not sleeping) returns as soon as the process exits, so the wall time is
            # not rounded up to the next sample.
            process.wait(timeout=SAMPLE_INTERVAL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        return peak


def _tree_rss(root: psutil.Process) -> int:
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in members:
        # A member may exit between listing the tree and reading its memory.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += member.memory_info().rss
    return total


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode("utf-8", errors="replace")
