"""`make bi`'s set-up steps: progress read from pip's log, and a step stopped with its process."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from bi.superset import pip_progress


def test_pip_progress_counts_resolved_packages_then_says_installing(tmp_path: Path) -> None:
    log = tmp_path / "install.log"
    log.write_text("earlier step\nCollecting old\n")
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write("$ pip install\nCollecting apache-superset==6.1.0\n")
        handle.write("  Downloading apache_superset-6.1.0.whl (40 MB)\nCollecting rich==15.0.0\n")
    assert pip_progress(log, offset, 156) == ("resolved 2 of 156 packages (downloading as it goes)")
    with log.open("a") as handle:
        handle.write("Installing collected packages: rich, apache-superset\n")
    assert pip_progress(log, offset, 156) == (
        "resolved and downloaded all 156 packages, now installing them"
    )


def test_sigterm_stops_the_running_step_and_its_process(tmp_path: Path) -> None:
    # As `python -m bi.superset` runs a step: SIGTERM raises KeyboardInterrupt in the step's
    # wait, which stops the step's process before it unwinds.
    script = textwrap.dedent(
        f"""
        import signal, sys
        from pathlib import Path
        from bi import superset
        signal.signal(signal.SIGTERM, superset._terminate)
        try:
            superset._run([sys.executable, "-c", "import time; time.sleep(300)"],
                          Path({str(tmp_path / "step.log")!r}), "sleep", {{}})
        except KeyboardInterrupt:
            sys.exit(130)
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 60
        while not psutil.Process(runner.pid).children():
            assert time.monotonic() < deadline, "the step's process never started"
            time.sleep(0.2)
        (step,) = psutil.Process(runner.pid).children()
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=30) == 130
        step.wait(timeout=10)  # raises psutil.TimeoutExpired if the step outlived the runner
        assert not step.is_running()
    finally:
        if runner.poll() is None:
            runner.kill()
