"""One typed configuration from which the Spark session and the PyIceberg catalog are both built.

The embedded default (profile ``local``) needs no variable at all: Spark ``local[2]``, an Iceberg
JDBC catalog in ``$LAKEHOUSE_DIR/catalog.db`` (SQLite) shared by Spark and PyIceberg, and a file
warehouse in ``$LAKEHOUSE_DIR/warehouse``. Other deployments (a Spark cluster, a PostgreSQL or REST
catalog, object storage) are profiles in ``profiles.yaml``: configuration, never code.

Nothing here reads the environment at import time; :func:`load_settings` does, when called.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from customer_overview.errors import ConfigurationError
from customer_overview.yaml_files import read_yaml, validation_problems

DEFAULT_LAKEHOUSE_DIR = "./lakehouse"
DEFAULT_PROFILE = "local"
CATALOG_NAME = "lakehouse"
NAMESPACE = "fs_accelerator"
PACKAGED_PROFILES_FILE = Path(__file__).with_name("profiles.yaml")
# Substrings of property names that hold secrets, e.g. ``s3.secret-access-key``, ``token``.
_SECRET_WORDS = ("secret", "password", "credential", "token", "key")

# Debian's libxerial-sqlite-jdbc-java and libpostgresql-jdbc-java (installed by `make setup`).
SQLITE_JDBC_JAR = "/usr/share/java/sqlite-jdbc.jar"
SQLITE_JDBC_NATIVE_DIR = "/usr/lib/x86_64-linux-gnu/jni"
POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar"
# `customer-overview reports serve` (next to Dagster's 3000 in `make ui`).
DEFAULT_REPORTS_PORT = 3030

_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SparkSettings(_Frozen):
    """How the Spark session starts. Static settings (master, jars, memory) apply per process."""

    master: str = "local[2]"
    app_name: str = "customer-overview"
    # In local mode the driver's JVM runs every task. 2g ran out of heap at 1M customers (6M
    # transactions: the ingest's persisted batch plus two tasks' sorts); 4g leaves most of a
    # 24 GB, 2-core machine to the page cache and spill files.
    driver_memory: str = "4g"
    executor_memory: str | None = None
    executor_cores: int | None = None
    # Many and small: adaptive query execution (on) coalesces them to ~64 MB each, so a small
    # run still has a few tasks, while a shuffle of millions of rows (the within-batch dedupe
    # of 6M transactions at 1M customers) is cut into smaller sorts. With 8 and a 2 GB heap each
    # sort held ~750k rows and ran out of memory; with 4 GB that ingest took 146 s with 64 and
    # 221 s with 8. Small runs pay for it (README, Performance).
    shuffle_partitions: int = Field(default=64, ge=1)
    ui_enabled: bool = False
    driver_host: str | None = None
    # An explicit path to iceberg-spark-runtime-3.5_2.12-*.jar wins; then Maven coordinates in
    # `packages` (online installs); then the jar shipped by the snowpark-connect-deps-iceberg wheel.
    iceberg_runtime_jar: str | None = None
    packages: tuple[str, ...] = ()
    extra_jars: tuple[str, ...] = ()
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("master")
    @classmethod
    def _known_master_scheme(cls, master: str) -> str:
        if not re.match(r"^(local(\[[0-9*]+(,[0-9]+)?\])?|spark://.+|k8s://.+|yarn)$", master):
            raise ValueError(
                f"unsupported Spark master {master!r}: use local[N], spark://host:port, "
                "k8s://https://host:port or yarn"
            )
        return master


class CatalogSettings(_Frozen):
    """Where the Iceberg catalog lives. Spark and PyIceberg always get the same one."""

    type: Literal["sqlite", "postgres", "rest"] = "sqlite"
    # sqlite: a file path (default $LAKEHOUSE_DIR/catalog.db); postgres: host:port/database;
    # rest: the catalog's base URL.
    uri: str | None = None
    user: str | None = None
    password: SecretStr | None = None
    # REST: OAuth2 client credential "id:secret" or a bearer token.
    credential: SecretStr | None = None
    token: SecretStr | None = None
    # Passed through to both engines (e.g. s3.endpoint, io-impl, warehouse-specific keys).
    properties: dict[str, str] = Field(default_factory=dict)


class MaintenanceSettings(_Frozen):
    """What maintenance keeps, removes and compacts (``assets/maintenance/maintenance.py``).

    Snapshots older than ``snapshot_max_age_hours`` are expired, except the last
    ``retain_last`` of every branch and every snapshot a tag (a published version) points at.
    Files no snapshot or metadata file references are removed once older than
    ``orphan_file_min_age_hours`` (Iceberg's own safety margin is a day: a file younger than that
    may belong to a commit in flight). Append-only tables are compacted where a partition holds
    at least ``compact_min_input_files`` files smaller than 75% of ``target_file_size_mb``.
    """

    snapshot_max_age_hours: float = Field(default=168.0, ge=0)
    retain_last: int = Field(default=5, ge=1)
    orphan_file_min_age_hours: float = Field(default=24.0, ge=0)
    compact_min_input_files: int = Field(default=5, ge=2)
    target_file_size_mb: int = Field(default=128, ge=1)


class ReportsSettings(_Frozen):
    """Where the reports folder is served, i.e. what Dagster metadata links to."""

    port: int = Field(default=DEFAULT_REPORTS_PORT, ge=1, le=65535)
    # Default http://127.0.0.1:<port>/ (`customer-overview reports serve`). For a shared
    # deployment, the URL under which another web server or a proxy serves the reports folder.
    base_url: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, base_url: str | None) -> str | None:
        if base_url is None:
            return None
        if not re.match(r"^https?://[^/\s]+", base_url):
            raise ValueError(f"base_url must be an http:// or https:// URL, got {base_url!r}")
        return base_url if base_url.endswith("/") else base_url + "/"

    @property
    def url(self) -> str:
        """The base URL of the reports folder, ending with ``/``."""
        return self.base_url or f"http://127.0.0.1:{self.port}/"


class LakehouseSettings(_Frozen):
    """The effective configuration of one lakehouse: paths, catalog and Spark."""

    profile: str
    lakehouse_dir: Path
    catalog_name: str = CATALOG_NAME
    namespace: str = NAMESPACE
    warehouse: str
    spark: SparkSettings = Field(default_factory=SparkSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)

    # ----------------------------------------------------------------- paths under LAKEHOUSE_DIR
    @property
    def landing_dir(self) -> Path:
        return self.lakehouse_dir / "landing"

    @property
    def reports_dir(self) -> Path:
        return self.lakehouse_dir / "reports"

    def duckdb_export(self, role_group: str) -> Path:
        """The DuckDB file a publish writes for ``role_group`` (BI tools read it)."""
        return self.lakehouse_dir / "exports" / f"{role_group}.duckdb"

    @property
    def dagster_home(self) -> Path:
        return self.lakehouse_dir / "dagster_home"

    @property
    def sqlite_catalog_path(self) -> Path:
        if self.catalog.type != "sqlite":
            raise ConfigurationError(f"profile {self.profile!r} does not use a SQLite catalog")
        return Path(self.catalog.uri) if self.catalog.uri else self.lakehouse_dir / "catalog.db"

    # ------------------------------------------------------------------------ table identifiers
    def table_identifier(self, table: str) -> str:
        """``namespace.table``, as PyIceberg names it."""
        return f"{self.namespace}.{table}"

    def spark_table(self, table: str) -> str:
        """``catalog.namespace.table``, as Spark SQL names it."""
        return f"{self.catalog_name}.{self.namespace}.{table}"

    # ------------------------------------------------------------------ engine configurations
    def spark_catalog_conf(self) -> dict[str, str]:
        """Session-level Spark settings that define the Iceberg catalog (runtime SQL confs)."""
        prefix = f"spark.sql.catalog.{self.catalog_name}"
        conf = {
            prefix: "org.apache.iceberg.spark.SparkCatalog",
            f"{prefix}.warehouse": self.warehouse,
            # Other engines (PyIceberg, DuckDB readers) commit to the same catalog: never serve a
            # cached table pointer.
            f"{prefix}.cache-enabled": "false",
        }
        kind = self.catalog.type
        if kind == "sqlite":
            conf |= {
                f"{prefix}.type": "jdbc",
                f"{prefix}.uri": f"jdbc:sqlite:{self.sqlite_catalog_path}",
                # PyIceberg creates the catalog tables first; Iceberg's own start-up check leaves
                # a ResultSet open that holds SQLite's read lock for the session (ARCHITECTURE).
                f"{prefix}.jdbc.init-catalog-tables": "false",
                f"{prefix}.jdbc.schema-version": "V1",
            }
        elif kind == "postgres":
            conf |= {
                f"{prefix}.type": "jdbc",
                f"{prefix}.uri": f"jdbc:postgresql://{self._require_uri()}",
                f"{prefix}.jdbc.schema-version": "V1",
            }
            if self.catalog.user:
                conf[f"{prefix}.jdbc.user"] = self.catalog.user
            if self.catalog.password:
                conf[f"{prefix}.jdbc.password"] = self.catalog.password.get_secret_value()
        else:
            conf |= {f"{prefix}.type": "rest", f"{prefix}.uri": self._require_uri()}
            if self.catalog.credential:
                conf[f"{prefix}.credential"] = self.catalog.credential.get_secret_value()
            if self.catalog.token:
                conf[f"{prefix}.token"] = self.catalog.token.get_secret_value()
        for key, value in self.catalog.properties.items():
            conf[f"{prefix}.{key}"] = value
        return conf

    def pyiceberg_properties(self) -> dict[str, str]:
        """Properties for ``pyiceberg.catalog.load_catalog(catalog_name, **properties)``."""
        props: dict[str, str] = {"warehouse": _pyiceberg_location(self.warehouse)}
        kind = self.catalog.type
        if kind == "sqlite":
            props |= {"type": "sql", "uri": f"sqlite:///{self.sqlite_catalog_path}"}
        elif kind == "postgres":
            auth = ""
            if self.catalog.user:
                auth = self.catalog.user
                if self.catalog.password:
                    auth += ":" + self.catalog.password.get_secret_value()
                auth += "@"
            props |= {"type": "sql", "uri": f"postgresql+psycopg2://{auth}{self._require_uri()}"}
        else:
            props |= {"type": "rest", "uri": self._require_uri()}
            if self.catalog.credential:
                props["credential"] = self.catalog.credential.get_secret_value()
            if self.catalog.token:
                props["token"] = self.catalog.token.get_secret_value()
        props |= self.catalog.properties
        return props

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as a plain dict, secrets hidden (for `config show`)."""
        data = self.model_dump(mode="json")
        for key in ("password", "credential", "token"):
            if data["catalog"].get(key):
                data["catalog"][key] = "**********"
        for settings in (data["catalog"].get("properties", {}), data["spark"].get("conf", {})):
            for key in settings:
                if is_secret_key(key):
                    settings[key] = "**********"
        return data

    def _require_uri(self) -> str:
        if not self.catalog.uri:
            raise ConfigurationError(
                f"profile {self.profile!r}: catalog type {self.catalog.type!r} needs catalog.uri"
            )
        return self.catalog.uri


def is_secret_key(key: str) -> bool:
    """Whether a catalog property or Spark conf key names a secret (password, token, keys...)."""
    return any(word in key.lower() for word in _SECRET_WORDS)


def _pyiceberg_location(uri: str) -> str:
    # Hadoop's connectors say s3a:// and gs:// where PyIceberg's FileIO says s3:// and gs://.
    return re.sub(r"^s3a://", "s3://", uri)


def load_settings(
    profile: str | None = None,
    lakehouse_dir: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> LakehouseSettings:
    """Build the effective settings from a profile, the environment and explicit overrides.

    Args:
        profile: Profile name; default ``$LAKEHOUSE_PROFILE`` or ``local``.
        lakehouse_dir: State directory; default ``$LAKEHOUSE_DIR`` or ``./lakehouse``.
        env: Environment to read (default ``os.environ``), for ``${VAR}`` references in profiles.

    Returns:
        The validated settings.

    Raises:
        ConfigurationError: Unknown profile, a referenced variable that is not set, or an
            invalid value; the message names the profile and the key.
    """
    env = os.environ if env is None else env
    profile_name = profile or env.get("LAKEHOUSE_PROFILE") or DEFAULT_PROFILE
    profiles_file = _profiles_file(env)
    profiles = _read_profiles(profiles_file)
    if profile_name not in profiles:
        raise ConfigurationError(
            f"unknown profile {profile_name!r} in {profiles_file}; "
            f"known profiles: {', '.join(sorted(profiles))}"
        )
    raw = _interpolate(profiles[profile_name] or {}, env, f"{profiles_file}: {profile_name}")
    base_dir = Path(lakehouse_dir or env.get("LAKEHOUSE_DIR") or DEFAULT_LAKEHOUSE_DIR)
    base_dir = base_dir.expanduser().resolve()
    raw.pop("description", None)
    warehouse = raw.pop("warehouse", None) or (base_dir / "warehouse").as_uri()
    try:
        return LakehouseSettings(
            profile=profile_name, lakehouse_dir=base_dir, warehouse=warehouse, **raw
        )
    except ValidationError as exc:
        raise ConfigurationError(
            f"profile {profile_name!r} in {profiles_file} is invalid: {validation_problems(exc)}"
        ) from None


def available_profiles(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Profile names with their descriptions, for the CLI."""
    env = os.environ if env is None else env
    return {
        name: (body or {}).get("description", "")
        for name, body in _read_profiles(_profiles_file(env)).items()
    }


def _profiles_file(env: Mapping[str, str]) -> Path:
    """``$LAKEHOUSE_PROFILES_FILE``, else the profiles shipped with the package."""
    return Path(env.get("LAKEHOUSE_PROFILES_FILE") or PACKAGED_PROFILES_FILE)


def _read_profiles(path: Path) -> dict[str, Any]:
    data = read_yaml(path, ConfigurationError, "profiles file")
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise ConfigurationError(f"{path}: expected a top-level 'profiles:' mapping")
    profiles: dict[str, Any] = data["profiles"]
    return profiles


def _interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` so credentials stay in the environment."""
    if isinstance(value, dict):
        # A reference that resolves to "" means "not set": the key falls back to its default.
        resolved = {key: _interpolate(item, env, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item != ""}
    if isinstance(value, list):
        return [_interpolate(item, env, where) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group("name"), match.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigurationError(f"{where}: environment variable {name} is not set")

    return _ENV_REFERENCE.sub(substitute, value)
