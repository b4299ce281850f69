"""Services in their own process group: real processes started, stopped with what they spawned."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from customer_overview.process_groups import free_port, is_alive, start_group, stop_group


def _wait_for_file(path: Path, seconds: float = 10) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written in {seconds} s")


def test_stopping_a_group_ends_the_leader_and_what_it_spawned(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {child_pid}; wait"
    leader = start_group(["sh", "-c", script], tmp_path / "service.log", os.environ)
    child = int(_wait_for_file(child_pid))
    assert is_alive(leader.pid) and is_alive(child)
    assert stop_group(leader.pid, grace_seconds=10)
    assert not is_alive(leader.pid)  # reaped: no zombie left
    deadline = time.monotonic() + 5
    while is_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(child)


def test_a_service_that_ignores_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    script = f"trap '' TERM; echo up > {ready}; while true; do sleep 0.1; done"
    leader = start_group(["sh", "-c", script], tmp_path / "service.log", os.environ)
    _wait_for_file(ready)
    started = time.monotonic()
    assert stop_group(leader.pid, grace_seconds=1)
    assert time.monotonic() - started >= 1  # it had its grace, then SIGKILL
    assert not is_alive(leader.pid)


def test_output_goes_to_the_log_and_a_gone_group_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("earlier line\n")
    leader = start_group(["sh", "-c", "echo hello; echo oops >&2"], log, os.environ)
    leader.wait(timeout=10)
    assert log.read_text().splitlines() == ["earlier line", "hello", "oops"]
    assert not stop_group(leader.pid, grace_seconds=1)


def test_free_port_can_be_bound_on_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", free_port()))
