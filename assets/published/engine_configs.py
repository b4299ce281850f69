"""Connection settings for other engines, generated from the one lakehouse configuration.

Written on every publish under ``reports/product/connect/`` and shown in the product card, so a
consumer copies settings that match the catalog the product was published to. Secrets are never
written: they appear as ``${VARIABLE}`` placeholders.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from customer_overview.config import (
    POSTGRES_JDBC_JAR,
    SQLITE_JDBC_JAR,
    LakehouseSettings,
    is_secret_key,
)
from customer_overview.spark import iceberg_runtime_jar


def _placeholder(key: str) -> str:
    return "${LAKEHOUSE_CATALOG_" + key.rsplit(".", 1)[-1].upper().replace("-", "_") + "}"


def spark_sql_snippet(settings: LakehouseSettings) -> str:
    """``spark-sql`` / ``pyspark`` command line that opens the product's catalog."""
    jars = [iceberg_runtime_jar(settings.spark) or "<iceberg-spark-runtime-3.5_2.12-1.9.2.jar>"]
    if settings.catalog.type == "sqlite":
        jars.append(SQLITE_JDBC_JAR)
    elif settings.catalog.type == "postgres":
        jars.append(POSTGRES_JDBC_JAR)
    conf = settings.spark_catalog_conf() | {
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        "spark.sql.defaultCatalog": settings.catalog_name,
    }
    lines = ["spark-sql \\", f"  --jars {','.join(jars)} \\"]
    for key, value in conf.items():
        shown = _placeholder(key) if is_secret_key(key) else value
        lines.append(f"  --conf {key}={shown} \\")
    lines.append(
        f'  -e "SELECT country, count(*) '
        f"FROM {settings.namespace}.customer_overview_dp__restricted "
        'GROUP BY 1"'
    )
    return "\n".join(lines) + "\n"


def pyiceberg_yaml(settings: LakehouseSettings) -> str:
    """A ``.pyiceberg.yaml`` declaring the product's catalog."""
    properties = {
        key: (_placeholder(key) if is_secret_key(key) else value)
        for key, value in settings.pyiceberg_properties().items()
    }
    if settings.catalog.type == "postgres" and settings.catalog.password:
        properties["uri"] = properties["uri"].replace(
            settings.catalog.password.get_secret_value(), _placeholder("password")
        )
    return yaml.safe_dump({"catalog": {settings.catalog_name: properties}}, sort_keys=True)


def trino_catalog_properties(settings: LakehouseSettings) -> str:
    """``etc/catalog/<name>.properties`` for Trino's Iceberg connector on the same catalog."""
    lines = ["connector.name=iceberg"]
    kind = settings.catalog.type
    if kind in ("sqlite", "postgres"):
        driver = "org.sqlite.JDBC" if kind == "sqlite" else "org.postgresql.Driver"
        url = settings.spark_catalog_conf()[f"spark.sql.catalog.{settings.catalog_name}.uri"]
        lines += [
            "iceberg.catalog.type=jdbc",
            f"iceberg.jdbc-catalog.catalog-name={settings.catalog_name}",
            f"iceberg.jdbc-catalog.driver-class={driver}",
            f"iceberg.jdbc-catalog.connection-url={url}",
            f"iceberg.jdbc-catalog.default-warehouse-dir={settings.warehouse}",
        ]
        if kind == "postgres":
            lines += [
                f"iceberg.jdbc-catalog.connection-user={settings.catalog.user or ''}",
                "iceberg.jdbc-catalog.connection-password=${ENV:LAKEHOUSE_CATALOG_PASSWORD}",
            ]
    else:
        lines += ["iceberg.catalog.type=rest", f"iceberg.rest-catalog.uri={settings.catalog.uri}"]
        if settings.catalog.credential:
            lines.append("iceberg.rest-catalog.oauth2.credential=${ENV:ICEBERG_REST_CREDENTIAL}")
    if settings.warehouse.startswith("file:"):
        # Trino reads a local warehouse through its native local file system.
        lines += ["fs.native-local.enabled=true", "local.location=/"]
    return "\n".join(lines) + "\n"


def write_engine_configs(settings: LakehouseSettings, folder: Path) -> dict[str, Path]:
    """Write the three files into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "spark_sql": (folder / "spark-sql.sh", spark_sql_snippet(settings)),
        "pyiceberg": (folder / ".pyiceberg.yaml", pyiceberg_yaml(settings)),
        "trino": (
            folder / f"trino-{settings.catalog_name}.properties",
            trino_catalog_properties(settings),
        ),
    }
    for path, text in files.values():
        path.write_text(text, encoding="utf-8")
    return {name: path for name, (path, _) in files.items()}
