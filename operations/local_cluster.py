"""A local scale-out environment: a standalone Spark cluster and a private PostgreSQL catalog.

For people trying the ``cluster`` profile on one machine, and for the test that proves the
pipeline runs unchanged on it. Everything binds to 127.0.0.1 on free ports, lives in one folder
(data, logs, ``state.json`` with the PIDs), and ``stop`` ends every process it started.

Spark runs from the pyspark wheel itself (``SPARK_HOME`` = the pyspark package): a master and N
workers through ``bin/spark-class``. PostgreSQL comes from Debian (``initdb`` + ``pg_ctl``),
installed with apt-get when missing, as ``make setup`` does for the JDBC drivers; as root it runs
as the ``postgres`` user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyspark
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from customer_overview.config import POSTGRES_JDBC_JAR
from customer_overview.errors import ConfigurationError
from customer_overview.process_groups import free_port, start_group, stop_group

log = logging.getLogger(__name__)

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "lake"
CATALOG_USER = "lakehouse"
STATE_FILE = "state.json"


@dataclass
class ClusterState:
    """What ``start`` started; saved next to the data so that ``stop`` works from any process."""

    folder: str
    spark_master_url: str = ""
    spark_master_ui: str = ""
    spark_pids: list[int] = field(default_factory=list)
    postgres_port: int = 0
    postgres_data: str = ""
    postgres_password: str = ""

    def catalog_uri(self, database: str = DATABASE) -> str:
        return f"127.0.0.1:{self.postgres_port}/{database}"

    def profile_env(self, database: str = DATABASE) -> dict[str, str]:
        """Environment for ``LAKEHOUSE_PROFILE=cluster`` against this environment.

        ``database``: the catalog database (one per lakehouse sharing this server; see
        :func:`create_database`).
        """
        return {
            "LAKEHOUSE_PROFILE": "cluster",
            "SPARK_MASTER": self.spark_master_url,
            "SPARK_DRIVER_HOST": "127.0.0.1",
            "LAKEHOUSE_CATALOG_URI": self.catalog_uri(database),
            "LAKEHOUSE_CATALOG_USER": CATALOG_USER,
            "LAKEHOUSE_CATALOG_PASSWORD": self.postgres_password,
            "PYSPARK_PYTHON": sys.executable,
        }

    def save(self) -> None:
        path = Path(self.folder) / STATE_FILE
        # Created owner-only: it holds the catalog password.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle, indent=2)

    @classmethod
    def load(cls, folder: Path) -> ClusterState:
        path = folder / STATE_FILE
        if not path.exists():
            raise ConfigurationError(f"no local cluster in {folder} (run `cluster start` first)")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def ensure_debian_packages() -> None:
    """Install PostgreSQL and its JDBC driver with apt-get when they are missing."""
    missing = []
    if not (POSTGRES_BIN / "initdb").exists():
        missing.append("postgresql")
    if not Path(POSTGRES_JDBC_JAR).exists():
        missing.append("libpostgresql-jdbc-java")
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log.info("installing Debian packages %s", missing)
    environment = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=environment,
    )


def start(
    folder: Path, workers: int = 2, worker_cores: int = 1, worker_memory: str = "1g"
) -> ClusterState:
    """Start PostgreSQL and a Spark master with ``workers`` workers; returns their state."""
    folder = folder.resolve()
    if (folder / STATE_FILE).exists():
        raise ConfigurationError(f"a local cluster is already recorded in {folder}: stop it first")
    ensure_debian_packages()
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    state = ClusterState(folder=str(folder))
    try:
        _start_postgres(state, folder)
        state.save()
        _start_spark(state, folder, workers, worker_cores, worker_memory)
        state.save()
    except BaseException:
        stop(folder, state)
        raise
    return state


def stop(folder: Path, state: ClusterState | None = None) -> None:
    """Stop everything recorded in ``folder`` (idempotent)."""
    folder = folder.resolve()
    try:
        state = state or ClusterState.load(folder)
    except ConfigurationError:
        return
    for pid in reversed(state.spark_pids):
        stop_group(pid, grace_seconds=10)  # SIGTERM the group, SIGKILL after 10 s
    if state.postgres_data and Path(state.postgres_data).exists():
        _as_postgres_user(
            [str(POSTGRES_BIN / "pg_ctl"), "-D", state.postgres_data, "-m", "fast", "stop"],
            check=False,
        )
        home = Path(state.postgres_data).parent
        if (home / "postgres.log").exists():
            (folder / "logs").mkdir(parents=True, exist_ok=True)
            shutil.copy(home / "postgres.log", folder / "logs" / "postgres.log")
        if home.name.startswith("customer-overview-postgres-"):
            shutil.rmtree(home, ignore_errors=True)
    (folder / STATE_FILE).unlink(missing_ok=True)


# ------------------------------------------------------------------------------- PostgreSQL
def _postgres_home(folder: Path) -> Path:
    """Where PostgreSQL keeps its files: under ``folder``, or as root a folder it may enter.

    PostgreSQL refuses to run as root, so as root it runs as ``postgres``, which cannot enter
    private folders such as pytest's temporary directories: it gets its own temporary folder.
    """
    if not _running_as_root():
        home = folder / "postgres"
        home.mkdir(parents=True, exist_ok=True)
        return home
    home = Path(tempfile.mkdtemp(prefix="customer-overview-postgres-"))
    shutil.chown(home, user="postgres", group="postgres")
    return home


def _start_postgres(state: ClusterState, folder: Path) -> None:
    home = _postgres_home(folder)
    data = home / "data"
    password = secrets.token_urlsafe(16)
    port = free_port()
    # Recorded before anything starts, so that `stop` also cleans up a start that failed or
    # was interrupted half-way (pg_ctl may time out while the server keeps starting).
    state.postgres_port, state.postgres_data, state.postgres_password = port, str(data), password
    password_file = home / "password"
    password_file.write_text(password + "\n", encoding="utf-8")
    try:
        _own_for_postgres(password_file)
        _as_postgres_user(
            [
                str(POSTGRES_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                CATALOG_USER,
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "-E",
                "UTF8",
            ]
        )
    finally:
        password_file.unlink()
    log_file = home / "postgres.log"
    _as_postgres_user(
        [
            str(POSTGRES_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log_file),
            "-w",
            "start",
            "-o",
            f"-p {port} -c listen_addresses=127.0.0.1 -k {data}",
        ]
    )
    create_database(state, DATABASE)


def create_database(state: ClusterState, database: str) -> None:
    """A catalog database on the cluster's PostgreSQL: one per lakehouse on this cluster."""
    _as_postgres_user(
        [
            str(POSTGRES_BIN / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(state.postgres_port),
            "-U",
            CATALOG_USER,
            database,
        ],
        env={"PGPASSWORD": state.postgres_password},
    )


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _own_for_postgres(path: Path) -> None:
    if _running_as_root():
        shutil.chown(path, user="postgres", group="postgres")


def _as_postgres_user(
    command: list[str], check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    prefix = ["runuser", "-u", "postgres", "--"] if _running_as_root() else []
    result = subprocess.run(
        [*prefix, *command],
        capture_output=True,
        text=True,
        env=os.environ | (env or {}),
        cwd="/",
    )
    if check and result.returncode != 0:
        raise ConfigurationError(
            f"{' '.join(command[:2])} failed ({result.returncode}): {result.stderr.strip()[-800:]}"
        )
    return result


# ------------------------------------------------------------------------------------ Spark
def _start_spark(state: ClusterState, folder: Path, workers: int, cores: int, memory: str) -> None:
    spark_home = Path(pyspark.__file__).parent
    spark_class = spark_home / "bin" / "spark-class"
    environment = os.environ | {
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_WORKER_DIR": str(folder / "spark-work"),
        "SPARK_LOG_DIR": str(folder / "logs"),
    }
    port, ui = free_port(), free_port()
    state.spark_master_url = f"spark://127.0.0.1:{port}"
    state.spark_master_ui = f"http://127.0.0.1:{ui}"
    state.spark_pids.append(
        start_group(
            [
                str(spark_class),
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--webui-port",
                str(ui),
            ],
            folder / "logs" / "spark-master.log",
            environment,
        ).pid
    )
    _wait_for(lambda: _master_status(state) is not None, "the Spark master", 60)
    for index in range(workers):
        state.spark_pids.append(
            start_group(
                [
                    str(spark_class),
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(cores),
                    "--memory",
                    memory,
                    "--webui-port",
                    str(free_port()),
                    state.spark_master_url,
                ],
                folder / "logs" / f"spark-worker-{index + 1}.log",
                environment,
            ).pid
        )
    _wait_for(
        lambda: (_master_status(state) or {}).get("aliveworkers", 0) >= workers,
        f"{workers} Spark workers to register",
        90,
    )


def _master_status(state: ClusterState) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{state.spark_master_ui}/json/", timeout=2) as response:
            status: dict[str, Any] = json.loads(response.read())
            return status
    except OSError:
        return None


def _wait_for(condition: Callable[[], bool], what: str, seconds: float) -> None:
    retrying = Retrying(
        retry=retry_if_result(lambda ready: not ready),
        stop=stop_after_delay(seconds),
        wait=wait_fixed(0.5),
    )
    try:
        retrying(condition)
    except RetryError:
        raise ConfigurationError(f"timed out after {seconds:.0f} s waiting for {what}") from None
