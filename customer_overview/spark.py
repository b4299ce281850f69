"""The Spark side of the shared Iceberg catalog: one JVM per process, one session per lakehouse.

Static settings (master, jars, memory, SQL extensions) belong to the process-wide SparkContext
(PySpark allows one per process). Catalog settings are runtime SQL confs, so each lakehouse gets
its own ``newSession()`` on the shared context: tests can point sessions at separate temporary
catalogs without paying the JVM start-up (about 5 s) again, and a Dagster run uses exactly one
session (``LakehouseResource`` opens it on first use and clears its cached data at teardown).

Why the session outlives a run: it holds Iceberg's ``SparkCatalog`` for the lakehouse, whose JDBC
connection pool Spark offers no way to close; a session per run would leak one pool per run in a
long-lived process (the test session runs hundreds). The session lives as long as the JVM.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from customer_overview.catalog import prepare_catalog
from customer_overview.config import (
    POSTGRES_JDBC_JAR,
    SQLITE_JDBC_JAR,
    SQLITE_JDBC_NATIVE_DIR,
    LakehouseSettings,
    SparkSettings,
)
from customer_overview.errors import ConfigurationError
from customer_overview.file_modes import OWNER_ONLY_UMASK

log = logging.getLogger(__name__)

ICEBERG_RUNTIME_JAR_NAME = "iceberg-spark-runtime-3.5_2.12-1.9.2.jar"
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"

# How a stage keeps a frame it reads several times (a landing batch, the rows under curation, a
# validation frame): on local disk, not in the heap. Measured on 1.8M account lines (one 240 MB
# file): MEMORY_AND_DISK ran a 640 MB heap out of memory where DISK_ONLY completed, and with the
# default 4 GB heap DISK_ONLY took 40.5 s against 45.2 s. The 10M-customer ingest (2.4 GB of
# accounts) ran the 4 GB heap out of memory with MEMORY_AND_DISK: Spark fills the heap with
# cached blocks faster than it evicts them to disk, and the tasks' own objects find no room.
REUSED_FRAME_STORAGE = StorageLevel.DISK_ONLY

_lock = threading.Lock()
# Keyed by the settings' JSON: the models hold dicts, so they are not hashable.
_sessions: dict[str, SparkSession] = {}


def spark_session(settings: LakehouseSettings) -> SparkSession:
    """Return the Spark session for ``settings``, starting the JVM on first use.

    Raises:
        ConfigurationError: A required jar is missing, or a different Spark master is already
            running in this process.
    """
    with _lock:
        key = settings.model_dump_json()
        session = _sessions.get(key)
        if session is not None:
            return session
        prepare_catalog(settings)
        base = _base_session(settings.spark, settings.catalog.type)
        session = base.newSession()
        for name, value in _session_conf(settings).items():
            session.conf.set(name, value)
        _sessions[key] = session
        return session


def release_session(settings: LakehouseSettings) -> None:
    """Forget the session bound to ``settings``' catalog; the JVM and other sessions stay.

    The next :func:`spark_session` for these settings makes a new session, with a new Iceberg
    catalog instance and new JDBC connections: for a process that goes on after the catalog was
    replaced underneath it (a lakehouse folder restored from a copy).
    """
    with _lock:
        _sessions.pop(settings.model_dump_json(), None)


def stop_spark() -> None:
    """Stop the process-wide SparkContext (all sessions)."""
    with _lock:
        _stop_context()


def _running_session() -> SparkSession | None:
    """A session on the running context: every session this module made shares one context.

    (A context is stopped only through stop_spark, which forgets the sessions on it.)
    """
    return next(iter(_sessions.values()), None) or SparkSession.getActiveSession()


def _stop_context() -> None:
    running = _running_session()
    _sessions.clear()
    if running is not None:
        running.sparkContext.stop()


def iceberg_runtime_jar(spark: SparkSettings) -> str | None:
    """The Iceberg runtime jar: an explicit path, else the one in the PyPI wheel.

    Returns ``None`` when Maven ``packages`` are configured instead (online installs).
    """
    if spark.iceberg_runtime_jar:
        path = Path(spark.iceberg_runtime_jar)
        if not path.is_file():
            raise ConfigurationError(f"spark.iceberg_runtime_jar: no such file: {path}")
        return str(path)
    if any("iceberg-spark-runtime" in package for package in spark.packages):
        return None
    import snowpark_connect_deps_iceberg

    path = Path(snowpark_connect_deps_iceberg.__file__).parent / "jars" / ICEBERG_RUNTIME_JAR_NAME
    if not path.is_file():
        raise ConfigurationError(
            f"Iceberg runtime jar not found at {path}; "
            "install snowpark-connect-deps-iceberg==1.0.1 "
            "or set spark.iceberg_runtime_jar / spark.packages in the profile"
        )
    return str(path)


def _jdbc_driver_jar(catalog_type: str) -> str | None:
    jar = {"sqlite": SQLITE_JDBC_JAR, "postgres": POSTGRES_JDBC_JAR}.get(catalog_type)
    if jar and not Path(jar).is_file():
        package = {"sqlite": "libxerial-sqlite-jdbc-java", "postgres": "libpostgresql-jdbc-java"}
        raise ConfigurationError(
            f"JDBC driver {jar} is missing: run `make setup` "
            f"(installs the Debian package {package[catalog_type]})"
        )
    return jar


def _base_session(spark: SparkSettings, catalog_type: str) -> SparkSession:
    running = _running_session()
    if running is not None:
        running_master = running.sparkContext.master
        if running_master == spark.master:
            return running
        log.info("stopping Spark (%s) to start %s", running_master, spark.master)
        _stop_context()

    jars = [jar for jar in (iceberg_runtime_jar(spark), _jdbc_driver_jar(catalog_type)) if jar]
    jars += list(spark.extra_jars)
    # Executors on a cluster run the same interpreter as the driver (same virtualenv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(spark.master)
        .appName(spark.app_name)
        .config("spark.jars", ",".join(jars))
        .config("spark.sql.extensions", ICEBERG_EXTENSIONS)
        .config("spark.driver.memory", spark.driver_memory)
        .config("spark.ui.enabled", str(spark.ui_enabled).lower())
        .config("spark.ui.showConsoleProgress", "false")
        # The SQLite JDBC driver loads its native library from Debian's JNI directory.
        .config("spark.driver.extraJavaOptions", f"-Djava.library.path={SQLITE_JDBC_NATIVE_DIR}")
        .config("spark.sql.session.timeZone", "UTC")
        # Data and metadata files hold personal data: Hadoop's file system (the driver's and
        # every executor's) creates them owner-only, as the process umask does for the rest.
        .config("spark.hadoop.fs.permissions.umask-mode", f"{OWNER_ONLY_UMASK:03o}")
    )
    if spark.packages:
        builder = builder.config("spark.jars.packages", ",".join(spark.packages))
    if spark.executor_memory:
        builder = builder.config("spark.executor.memory", spark.executor_memory)
    if spark.executor_cores:
        builder = builder.config("spark.executor.cores", str(spark.executor_cores))
    if spark.driver_host:
        builder = builder.config("spark.driver.host", spark.driver_host).config(
            "spark.driver.bindAddress", spark.driver_host
        )
    for key, value in spark.conf.items():
        builder = builder.config(key, value)
    started = time.monotonic()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    log.info(
        "Spark %s started on %s in %.1f s",
        session.version,
        spark.master,
        time.monotonic() - started,
    )
    return session


def _session_conf(settings: LakehouseSettings) -> dict[str, str]:
    return settings.spark_catalog_conf() | {
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.sql.adaptive.enabled": "true",
        # Date/time strings in landing files are parsed strictly with the patterns in the schema.
        "spark.sql.legacy.timeParserPolicy": "CORRECTED",
        "spark.sql.ansi.enabled": "false",
    }
