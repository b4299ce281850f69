"""Superset configuration for the customer-overview dashboards (read by SUPERSET_CONFIG_PATH).

Everything Superset keeps lives under ``$LAKEHOUSE_DIR/superset/`` (the metadata database, the
secret key, the generated passwords, the log); nothing secret is in the repository. Superset
here serves on 127.0.0.1, makes no external call (strict Content-Security-Policy: the browser
loads nothing but this server's own assets, which also blocks the navbar's telemetry pixel), and
caches no query results, so the dashboards show each new publish at the next load.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

LAKEHOUSE_DIR = Path(os.environ.get("LAKEHOUSE_DIR") or "./lakehouse").resolve()
STATE_DIR = LAKEHOUSE_DIR / "superset"
STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)


def _secret_key(path: Path) -> str:
    """The key signing sessions and encrypting stored credentials: generated on first start.

    Created with O_EXCL and mode 0600, so two processes starting at once agree on one key and
    nobody else on the machine can read it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new secret key")
    return key


SECRET_KEY = _secret_key(STATE_DIR / "secret_key")

# Superset's own metadata (users, roles, datasets, charts, dashboards): SQLite, local.
SQLALCHEMY_DATABASE_URI = f"sqlite:///{STATE_DIR / 'superset.db'}?check_same_thread=false"
DATA_DIR = str(STATE_DIR)
UPLOAD_FOLDER = str(STATE_DIR / "uploads")

FEATURE_FLAGS = {
    # A dashboard is visible to the roles it lists (each role group's copies list their role).
    "DASHBOARD_RBAC": True,
    # No sub-queries in ad-hoc chart expressions: a role's charts read only its own datasets.
    "ALLOW_ADHOC_SUBQUERY": False,
    "ENABLE_TEMPLATE_PROCESSING": False,
    # Nothing runs in the background (no Celery here): no thumbnails, alerts or reports.
    "THUMBNAILS": False,
    "ALERT_REPORTS": False,
    "GLOBAL_ASYNC_QUERIES": False,
    "EMBEDDED_SUPERSET": False,
}

# No result caching: the export files' views follow the latest publish, and a cached result
# would hide it. (NullCache is Superset's default too; stated here so nobody "speeds it up".)
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_DEFAULT_TIMEOUT = 0

# No external requests from the browser: only this server's own assets. Superset's default
# policy allows its telemetry pixel (scarf.sh), map tiles and web fonts.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
CONTENT_SECURITY_POLICY_WARNING = False
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []

# No anonymous access: every viewer logs in as a role group's user (see bi/README.md).
AUTH_ROLE_PUBLIC = "Public"
PUBLIC_ROLE_LIKE = None

# Only the product's DuckDB exports, never Superset's own SQLite or other local files.
PREVENT_UNSAFE_DB_CONNECTIONS = True

# Local, single-user scale: the rate limiter's in-memory storage warns at every start.
RATELIMIT_ENABLED = False
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120
LOG_LEVEL = os.environ.get("SUPERSET_LOG_LEVEL", "INFO")


# --- DuckDB connections: read only the role group's own table folders -------------------------
# Each role group's database is its export file, whose views call iceberg_scan('<table folder>')
# on that group's tables only. Superset's permissions already keep a group's users on their own
# database; on top of that, every DuckDB connection is locked right after duckdb-engine opened it
# (and loaded the iceberg/avro extensions): file access only under the folders its own views
# read, external access off, configuration locked. So even a crafted expression in a chart cannot
# read another group's tables (or any other file), as the product's `customer-overview query`.
_SCAN_PATH = re.compile(r"iceberg_scan\(\s*'([^']+)'")


def _table_folder(path: str) -> str:
    path = re.sub(r"^file:(//)?", "", path)
    if path.endswith(".metadata.json"):  # a pinned metadata file: <table>/metadata/<file>
        path = str(Path(path).parent.parent)
    return path.rstrip("/") + "/"


_LOCKING = threading.Lock()


@event.listens_for(Engine, "connect")
def _lock_duckdb_connection(dbapi_connection: Any, _record: Any) -> None:
    if not type(dbapi_connection).__module__.startswith("duckdb_engine"):
        return
    with _LOCKING:
        _lock_duckdb(dbapi_connection.cursor())


def _lock_duckdb(cursor: Any) -> None:
    # DuckDB shares one database instance among a process's open connections to the same file
    # (concurrent chart queries): the first connection locked it already, for the same folders.
    cursor.execute("SELECT current_setting('lock_configuration')")
    if cursor.fetchone()[0]:
        return
    cursor.execute("SELECT sql FROM duckdb_views() WHERE NOT internal")
    views = [sql or "" for (sql,) in cursor.fetchall()]
    folders = sorted({_table_folder(path) for sql in views for path in _SCAN_PATH.findall(sql)})
    listed = ", ".join("'" + folder.replace("'", "''") + "'" for folder in folders)
    cursor.execute(f"SET allowed_directories = [{listed}]")
    cursor.execute("SET enable_external_access = false")
    cursor.execute("SET lock_configuration = true")
