"""The lakehouse writer lock, Dagster instance settings and file modes, without Spark.

Other processes are real processes (``python -c``), killed for real; the lock is a real ``flock``.
"""

from __future__ import annotations

import grp
import math
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from customer_overview import lock as lock_module
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.errors import ConfigurationError
from customer_overview.file_modes import group_shares, secure_lakehouse
from customer_overview.lock import (
    LakehouseBusyError,
    LockHolder,
    acquire_writer_lock,
    advisory_lock_key,
    process_is_alive,
    process_start_time,
    recorded_holder,
)
from customer_overview.product import load_manifest, manifest_path
from pipelines.runner import INSTANCE_SETTINGS, ensure_instance_settings


def _settings(folder: Path) -> LakehouseSettings:
    return load_settings(profile="local", lakehouse_dir=folder, env={})


HOLD_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from customer_overview.config import load_settings
    from customer_overview.lock import acquire_writer_lock
    settings = load_settings(profile="local", lakehouse_dir=sys.argv[1], env={})
    acquire_writer_lock(settings, "holder script", run_id="run-of-the-holder")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    """
)

TRY_SCRIPT = textwrap.dedent(
    """
    import sys
    from customer_overview.config import load_settings
    from customer_overview.lock import LakehouseBusyError, acquire_writer_lock
    settings = load_settings(profile="local", lakehouse_dir=sys.argv[1], env={})
    try:
        acquire_writer_lock(settings, "second process")
    except LakehouseBusyError as busy:
        print(busy)
        sys.exit(3)
    print("acquired")
    """
)


def _holder_process(folder: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(folder), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "locked"
    return process


def _try_from_another_process(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", TRY_SCRIPT, str(folder)], capture_output=True, text=True, timeout=60
    )


# ------------------------------------------------------------------------------ pure parts
def test_advisory_key_is_stable_signed_64_bit_and_per_namespace():
    key = advisory_lock_key("lakehouse", "fs_accelerator")
    assert key == advisory_lock_key("lakehouse", "fs_accelerator")
    assert -(2**63) <= key < 2**63
    assert key != advisory_lock_key("lakehouse", "other_namespace")
    assert key != advisory_lock_key("other_catalog", "fs_accelerator")


def test_holder_record_round_trips_and_names_everything():
    holder = LockHolder(
        pid=42, host="h1", command="customer-overview run", started_at="2026-01-01T00:00:00+00:00"
    )
    assert LockHolder.from_json(holder.to_json()) == holder
    text = holder.describe()
    for part in ("pid 42", "host h1", "customer-overview run", "2026-01-01T00:00:00+00:00"):
        assert part in text
    assert LockHolder.from_json("") is None
    assert LockHolder.from_json('{"unexpected": 1}') is None


def test_a_process_is_named_by_pid_and_start_time():
    own = process_start_time(os.getpid())
    assert own is not None and process_is_alive(os.getpid(), own)
    assert not process_is_alive(os.getpid(), str(int(own) + 1))  # a reused pid is not us
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert process_start_time(finished.pid) is None
    assert not process_is_alive(finished.pid, None)


# ------------------------------------------------------------------------- real processes
def test_second_process_is_refused_naming_the_holder(tmp_path):
    folder = tmp_path / "lakehouse"
    holder = _holder_process(folder, 120)
    try:
        refused = _try_from_another_process(folder)
        assert refused.returncode == 3, refused.stdout + refused.stderr
        message = refused.stdout
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert "run run-of-the-holder" in message and "holder script" in message
        assert "--wait" in message
        recorded = recorded_holder(_settings(folder))
        assert recorded is not None and recorded.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_releases_the_lock_without_any_cleanup(tmp_path):
    folder = tmp_path / "lakehouse"
    holder = _holder_process(folder, 120)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    # The lock file (with the dead holder's record) is still there: nobody cleaned up.
    assert (folder / ".lakehouse.lock").exists()
    assert _try_from_another_process(folder).stdout.strip() == "acquired"


def test_lock_is_reentrant_within_a_process_and_freed_by_the_last_release(tmp_path):
    settings = _settings(tmp_path / "lakehouse")
    outer = acquire_writer_lock(settings, "outer")
    inner = acquire_writer_lock(settings, "inner", run_id="r-123")
    assert inner.holder.run_id == "r-123" and inner.holder.command == "outer"
    assert recorded_holder(settings).run_id == "r-123"  # the file names the run once known
    inner.release()
    assert _try_from_another_process(settings.lakehouse_dir).returncode == 3  # still held
    outer.release()
    outer.release()  # releasing twice is harmless
    assert _try_from_another_process(settings.lakehouse_dir).stdout.strip() == "acquired"


def test_waiting_reports_progress_and_gets_the_lock_when_the_holder_ends(tmp_path, monkeypatch):
    folder = tmp_path / "lakehouse"
    monkeypatch.setattr(lock_module, "PROGRESS_EVERY_SECONDS", 0.5)
    holder = _holder_process(folder, 3)
    messages: list[str] = []
    started = time.monotonic()
    with acquire_writer_lock(
        _settings(folder), "waiter", wait_seconds=math.inf, progress=messages.append
    ) as held:
        assert held.holder.command == "waiter"
    assert time.monotonic() - started >= 1.0
    assert messages and f"pid {holder.pid}" in messages[0] and messages[0].startswith("waiting")
    holder.wait()


def test_waiting_gives_up_after_the_timeout(tmp_path):
    folder = tmp_path / "lakehouse"
    holder = _holder_process(folder, 120)
    try:
        with pytest.raises(LakehouseBusyError, match=rf"pid {holder.pid}.*\(waited [12] s\)"):
            acquire_writer_lock(_settings(folder), "impatient", wait_seconds=1.5)
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------- Dagster instance file
def test_instance_settings_are_added_once_and_load_in_dagster(tmp_path):
    home = tmp_path / "dagster_home"
    assert ensure_instance_settings(home) == list(INSTANCE_SETTINGS)
    assert ensure_instance_settings(home) == []
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    instance = DagsterInstance.from_config(str(home))
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
    assert instance.run_monitoring_enabled


def test_an_existing_instance_file_keeps_its_values_and_comments(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "# operator's note\ntelemetry:\n  enabled: true\n", encoding="utf-8"
    )
    assert ensure_instance_settings(home) == ["concurrency", "run_monitoring"]
    text = (home / "dagster.yaml").read_text(encoding="utf-8")
    assert text.startswith("# operator's note\n")
    assert yaml.safe_load(text)["telemetry"] == {"enabled": True}

    other = tmp_path / "with_own_queue"
    other.mkdir()
    (other / "dagster.yaml").write_text(
        "run_queue:\n  max_concurrent_runs: 4\nrun_monitoring:\n  enabled: false\n",
        encoding="utf-8",
    )
    # Dagster rejects a second run limit: the operator's own limit stands.
    assert ensure_instance_settings(other) == ["telemetry", "run_monitoring.start_timeout_seconds"]
    config = yaml.safe_load((other / "dagster.yaml").read_text(encoding="utf-8"))
    assert "concurrency" not in config and config["run_monitoring"]["enabled"] is False
    DagsterInstance.from_config(str(other))


# ---------------------------------------------------------------------------- file modes
def _manifest_with_unix_group(tmp_path: Path, role_group: str, unix_group: str) -> Path:
    data = yaml.safe_load(manifest_path().read_text(encoding="utf-8"))
    for group in data["consumers"]["role_groups"]:
        if group["name"] == role_group:
            group["unix_group"] = unix_group
    path = tmp_path / "dataproduct.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _other_group() -> grp.struct_group:
    return next(group for group in grp.getgrall() if group.gr_gid != os.getgid())


def test_an_open_lakehouse_folder_is_made_owner_only(tmp_path):
    settings = _settings(tmp_path / "lakehouse")
    settings.lakehouse_dir.mkdir(mode=0o755)
    os.chmod(settings.lakehouse_dir, 0o755)
    secure_lakehouse(settings, load_manifest())
    assert stat.S_IMODE(settings.lakehouse_dir.stat().st_mode) == 0o700


def test_a_group_share_opens_only_its_export(tmp_path):
    group = _other_group()
    manifest = load_manifest(_manifest_with_unix_group(tmp_path, "dob_bucketed", group.gr_name))
    settings = _settings(tmp_path / "lakehouse")
    for path in (settings.duckdb_export("dob_bucketed"), settings.duckdb_export("pii_reader")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        os.chmod(path, 0o644)
    landing_file = settings.landing_dir / "customers" / "a.csv"
    landing_file.parent.mkdir(parents=True)
    landing_file.write_text("x", encoding="utf-8")
    os.chmod(landing_file, 0o644)
    os.chmod(landing_file.parent, 0o755)

    secure_lakehouse(settings, manifest)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    shared = settings.duckdb_export("dob_bucketed")
    assert (mode(shared), shared.stat().st_gid) == (0o640, group.gr_gid)
    assert mode(settings.lakehouse_dir) == 0o711 and mode(shared.parent) == 0o711
    assert mode(settings.duckdb_export("pii_reader")) == 0o600
    assert mode(landing_file) == 0o600 and mode(landing_file.parent) == 0o700


def test_an_unknown_unix_group_is_a_clear_error(tmp_path):
    manifest = load_manifest(_manifest_with_unix_group(tmp_path, "pii_reader", "no-such-group-x"))
    with pytest.raises(ConfigurationError, match=r"role_groups\[pii_reader\]\.unix_group"):
        group_shares(_settings(tmp_path / "lakehouse"), manifest)
