"""One writer per lakehouse: a lock that every run takes and the operating system releases.

Two runs writing one lakehouse at once duplicate raw rows: an insert-only Iceberg ``MERGE`` that
finds no match commits as an append, without conflict validation (apache/iceberg issue 12653),
so isolation settings cannot prevent it. Every run therefore holds, for its whole duration:

* an exclusive ``flock`` on ``LAKEHOUSE_DIR/.lakehouse.lock``. It belongs to the open file
  description, so the kernel drops it when the process exits, however it exits (``kill -9``
  included): there is never a stale lock to clean up by hand. The file records the holder (pid,
  host, run id, command, start time) for the message a second run prints; it is never deleted
  (deleting a lock file lets two processes lock two different files).
* for a PostgreSQL catalog, also a session-level advisory lock
  (``pg_try_advisory_lock(<key of catalog name + namespace>)``) on a dedicated connection, so
  that runs on two machines sharing the catalog cannot write at once either. PostgreSQL drops it
  when the connection ends, which it does when the process dies.

The lock is re-entrant within a process: the CLI takes it before it starts any work (so that a
second run is refused before Spark starts) and the Dagster resource takes it again when the run
starts (so runs launched from the UI, the sensor or the schedule hold it too).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from customer_overview.config import LakehouseSettings
from customer_overview.errors import LakehouseError

LOCK_FILE_NAME = ".lakehouse.lock"
# `customer-overview run` / `demo` exit with this code when another run holds the lakehouse.
BUSY_EXIT_CODE = 3
POLL_SECONDS = 1.0
PROGRESS_EVERY_SECONDS = 15.0


class LakehouseBusyError(LakehouseError):
    """Another run holds the lakehouse's writer lock (the message names it)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lakehouse's writer lock, as recorded in the lock file."""

    pid: int
    host: str
    command: str
    started_at: str  # ISO 8601, UTC
    run_id: str | None = None
    # The kernel's start time of the process (Linux /proc), so a reused pid is not taken for it.
    process_start: str | None = None

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "no Dagster run yet"
        return (
            f"pid {self.pid} on host {self.host} ({run}, command `{self.command}`, "
            f"since {self.started_at})"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LockHolder | None:
        """The recorded holder, or ``None`` when the file is empty or not a holder record."""
        try:
            data = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError):
            return None


def current_holder(command: str, run_id: str | None = None) -> LockHolder:
    """A holder record describing this process."""
    return LockHolder(
        pid=os.getpid(),
        host=socket.gethostname(),
        command=command,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run_id=run_id,
        process_start=process_start_time(os.getpid()),
    )


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), ``None`` if it is gone.

    Together with the pid this names one process: pids are reused, start times are not.
    Returns ``"unknown"`` where ``/proc`` is not available but the process exists.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "unknown"
    # Field 2 (the command name) is in parentheses and may contain spaces: split after it.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19]  # field 22 of the whole line: starttime


def process_is_alive(pid: int, process_start: str | None) -> bool:
    """Whether the process recorded as (pid, start time) still runs on this host."""
    now = process_start_time(pid)
    if now is None:
        return False
    return process_start in (None, "unknown") or now in ("unknown", process_start)


def advisory_lock_key(catalog_name: str, namespace: str) -> int:
    """The PostgreSQL advisory lock key (signed 64-bit) of one catalog namespace; stable."""
    digest = hashlib.sha256(f"customer-overview:{catalog_name}.{namespace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file(settings: LakehouseSettings) -> Path:
    return settings.lakehouse_dir / LOCK_FILE_NAME


# ---------------------------------------------------------------------------- the lock itself
@dataclass
class _Held:
    """One process's hold on one lakehouse: the locked file, the catalog session, a count."""

    path: Path
    descriptor: int
    holder: LockHolder
    catalog_session: Any = None  # a SQLAlchemy connection holding the advisory lock
    advisory_key: int | None = None
    count: int = 1


_registry_lock = threading.Lock()
_held: dict[Path, _Held] = {}


class WriterLock:
    """A hold on a lakehouse's writer lock; :meth:`release` (or ``with``) gives it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._released = False

    @property
    def holder(self) -> LockHolder:
        return _held[self.path].holder

    def release(self) -> None:
        """Give this hold back; the lock is freed when the process's last hold is released."""
        if self._released:
            return
        self._released = True
        with _registry_lock:
            held = _held[self.path]
            held.count -= 1
            if held.count:
                return
            del _held[self.path]
            _unlock(held)

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def acquire_writer_lock(
    settings: LakehouseSettings,
    command: str,
    run_id: str | None = None,
    wait_seconds: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> WriterLock:
    """Take the lakehouse's writer lock, or raise naming who holds it.

    Args:
        settings: The lakehouse (its folder; its catalog, when PostgreSQL).
        command: What this process does, for another run's message (``customer-overview run``).
        run_id: The Dagster run, once known; a re-entrant call with a run id records it.
        wait_seconds: How long to wait for a busy lock (0: refuse at once; ``math.inf``: wait).
        progress: Receives a line every ~15 s while waiting.

    Raises:
        LakehouseBusyError: Another process holds the lock (after ``wait_seconds``).
    """
    path = lock_file(settings).resolve()
    with _registry_lock:
        held = _held.get(path)
        if held is not None:
            held.count += 1
            if run_id and held.holder.run_id != run_id:
                held.holder = replace(held.holder, run_id=run_id)
                _write_holder(held.descriptor, held.holder)
            return WriterLock(path)
    holder = current_holder(command, run_id)
    waited_since = time.monotonic()
    next_progress = waited_since + PROGRESS_EVERY_SECONDS

    def report_waiting(attempt: RetryCallState) -> None:
        nonlocal next_progress
        now = time.monotonic()
        if progress is not None and now >= next_progress and attempt.outcome is not None:
            busy = attempt.outcome.exception()
            reason = busy.args[0] if busy is not None and busy.args else "busy"
            progress(f"waiting ({now - waited_since:.0f} s): {reason}")
            next_progress = now + PROGRESS_EVERY_SECONDS

    # Only a busy lock is retried; any other error (a catalog that is down) fails at once.
    # stop_after_delay(0) tries once: refuse at once.
    retrying = Retrying(
        retry=retry_if_exception_type(LakehouseBusyError),
        stop=stop_after_delay(wait_seconds),
        wait=wait_fixed(POLL_SECONDS),
        before_sleep=report_waiting,
        reraise=True,
    )
    try:
        held = retrying(_try_lock, settings, path, holder)
    except LakehouseBusyError as busy:
        if wait_seconds:
            waited = time.monotonic() - waited_since
            raise LakehouseBusyError(f"{busy} (waited {waited:.0f} s)") from None
        raise
    with _registry_lock:
        _held[path] = held
    return WriterLock(path)


@contextlib.contextmanager
def writer_lock(
    settings: LakehouseSettings,
    command: str,
    run_id: str | None = None,
    wait_seconds: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[LockHolder]:
    """:func:`acquire_writer_lock` as a context manager; yields this process's holder record."""
    with acquire_writer_lock(settings, command, run_id, wait_seconds, progress) as lock:
        yield lock.holder


def recorded_holder(settings: LakehouseSettings) -> LockHolder | None:
    """The holder recorded in the lock file (whoever wrote it last; it may have exited)."""
    try:
        return LockHolder.from_json(lock_file(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _try_lock(settings: LakehouseSettings, path: Path, holder: LockHolder) -> _Held:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        recorded = _read_holder(descriptor)
        os.close(descriptor)
        who = recorded.describe() if recorded else "a process that is just starting"
        raise LakehouseBusyError(
            f"lakehouse {settings.lakehouse_dir} is being written by {who}; "
            "wait for it to finish, or run again with --wait"
        ) from None
    except BaseException:
        os.close(descriptor)
        raise
    held = _Held(path=path, descriptor=descriptor, holder=holder)
    try:
        if settings.catalog.type == "postgres":
            held.advisory_key = advisory_lock_key(settings.catalog_name, settings.namespace)
            held.catalog_session = _lock_catalog(settings, held.advisory_key, holder)
        _write_holder(descriptor, holder)
    except BaseException:
        _unlock(held)
        raise
    return held


def _write_holder(descriptor: int, holder: LockHolder) -> None:
    record = (holder.to_json() + "\n").encode()
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, record, 0)
    os.fsync(descriptor)


def _read_holder(descriptor: int) -> LockHolder | None:
    text = os.pread(descriptor, 64 * 1024, 0).decode("utf-8", errors="replace")
    return LockHolder.from_json(text)


def _unlock(held: _Held) -> None:
    try:
        if held.catalog_session is not None:
            with contextlib.suppress(Exception):  # a dropped connection has released it already
                _unlock_catalog(held.catalog_session, held.advisory_key)
        # Emptied while still locked: the next reader never sees a finished run as the holder.
        with contextlib.suppress(OSError):
            os.ftruncate(held.descriptor, 0)
    finally:
        os.close(held.descriptor)  # closing the last descriptor releases the flock


# ----------------------------------------------------------------- PostgreSQL advisory lock
def _lock_catalog(settings: LakehouseSettings, key: int, holder: LockHolder) -> Any:
    """A dedicated autocommit connection holding ``pg_try_advisory_lock(key)``."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    label = f"customer-overview pid {holder.pid}@{holder.host}"[:63]
    engine = sqlalchemy.create_engine(
        settings.pyiceberg_properties()["uri"],
        poolclass=NullPool,
        # Keepalives: a peer that vanished without closing the socket releases the lock soon.
        connect_args={
            "application_name": label,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        },
    )
    session = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        locked = session.execute(
            sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
        ).scalar()
        if locked:
            return session
        who = _catalog_lock_holder(session, key)
    except BaseException:
        session.close()
        engine.dispose()
        raise
    session.close()
    engine.dispose()
    raise LakehouseBusyError(
        f"catalog {settings.catalog_name}.{settings.namespace} at {settings.catalog.uri} is "
        f"being written by {who} (PostgreSQL advisory lock {key}); wait for it to finish, "
        "or run again with --wait"
    )


def _catalog_lock_holder(session: Any, key: int) -> str:
    import sqlalchemy

    # A bigint advisory key is stored as (classid, objid) = (high, low) 32 bits, objsubid 1.
    high, low = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    row = session.execute(
        sqlalchemy.text(
            "SELECT a.application_name, a.client_addr, a.backend_start, a.pid "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid = :high AND l.objid = :low"
        ),
        {"high": high, "low": low},
    ).first()
    if row is None:
        return "another session (it has just ended)"
    name, address, since, backend = row
    return (
        f"{name or 'an unnamed client'} from {address or 'a local socket'} "
        f"(connected since {since:%Y-%m-%d %H:%M:%S %Z}, backend pid {backend})"
    )


def _unlock_catalog(session: Any, key: int | None) -> None:
    import sqlalchemy

    try:
        session.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine = session.engine
        session.close()
        engine.dispose()
