"""Manual resilience check: kill a Spark worker in the middle of a cluster run.

Starts the local scale-out environment (2 workers + PostgreSQL), generates a sample, runs the
whole pipeline on the ``cluster`` profile in a subprocess, SIGKILLs one worker (and its
executor) once the run is busy, and reports whether the run still published the data the
generator promised. Spark re-runs the lost tasks on the surviving worker.

    python scripts/kill_worker_check.py [--customers 20000] [--kill-after 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assets.consumed.consume import query
from customer_overview.config import load_settings
from customer_overview.product import load_manifest
from generator import GeneratorConfig, generate
from operations import local_cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--kill-after", type=float, default=60.0, help="seconds into the run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kill_worker_"))
    lakehouse = folder / "lakehouse"
    manifest = generate(GeneratorConfig(customers=args.customers), lakehouse / "landing")
    state = local_cluster.start(folder / "cluster")
    try:
        env = os.environ | state.profile_env()
        started = time.monotonic()
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "operations.cli",
                "--lakehouse-dir",
                str(lakehouse),
                "run",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(args.kill_after)
        victim = state.spark_pids[-1]  # the last worker; the master is the first pid
        os.killpg(victim, signal.SIGKILL)
        print(f"killed worker process group {victim} after {time.monotonic() - started:.0f} s")
        output, _ = run.communicate()
        seconds = time.monotonic() - started
        lost = [
            line
            for line in output.splitlines()
            if "Lost executor" in line or "lost worker" in line.lower()
        ]
        print(
            f"run exit code {run.returncode} after {seconds:.0f} s; "
            f"executor-loss log lines: {len(lost)}"
        )
        for line in lost[:3]:
            print("  ", line.strip()[:160])
        settings = load_settings(lakehouse_dir=lakehouse, env=state.profile_env())
        _, rows, version = query(
            settings, load_manifest(), "select count(*) from customer_overview", "pii_reader"
        )
        expected = manifest["entities"]["customers"]["expected_latest"]
        print(f"published {version}: {rows[0][0]:,} customers, generator expected {expected:,}")
        return 0 if run.returncode == 0 and rows[0][0] == expected else 1
    finally:
        local_cluster.stop(folder / "cluster")


if __name__ == "__main__":
    sys.exit(main())
