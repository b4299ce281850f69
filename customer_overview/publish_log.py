"""The publish log: every published version of the product, one row per published table.

The publish step writes it; the quality checks (row counts), the consumers (DuckDB views,
``--as-of``), maintenance (what to keep) and the CLI read it, so it lives in the base layer, read
through PyIceberg without a JVM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import EqualTo
from pyiceberg.types import StringType
from pyspark.sql import SparkSession

from customer_overview.config import LakehouseSettings
from customer_overview.tables import create_table_if_missing, load_iceberg_table

PUBLISH_LOG_TABLE = "customer_overview_publish_log"
PUBLISH_LOG_COLUMNS = (
    "product string, version string, manifest_version string, run_id string, "
    "published_at timestamp, output string, role_group string, table_name string, "
    "snapshot_id bigint, row_count bigint, source_table string, source_snapshot_id bigint, "
    "checks string, status string, not_published string"
)
# Columns added after the first release: an older publish log gains them on the next publish.
_LATER_LOG_COLUMNS = {
    "status": "published: main moved to this run's audited snapshot; carried_forward: the "
    "output was held back by a failed gate and this version keeps its last published snapshot",
    "not_published": "JSON: outputs of the manifest not in this version (left out: input never "
    "landed) or carried forward (held back), with the reason",
}


def ensure_publish_log(spark: SparkSession, settings: LakehouseSettings) -> None:
    create_table_if_missing(
        spark,
        settings,
        PUBLISH_LOG_TABLE,
        PUBLISH_LOG_COLUMNS,
        comment="Every published version of the customer-overview data product, one row per "
        "published table: version, run, snapshot, row count and the checks that gated it.",
    )
    log_table = load_iceberg_table(settings, PUBLISH_LOG_TABLE)
    missing = [name for name in _LATER_LOG_COLUMNS if name not in log_table.schema().column_names]
    if missing:
        with log_table.update_schema() as update:
            for name in missing:
                update.add_column(name, StringType(), doc=_LATER_LOG_COLUMNS[name])


def published_versions(
    settings: LakehouseSettings, role_group: str | None = None
) -> list[dict[str, Any]]:
    """Rows of the publish log (optionally one role group), oldest first, via PyIceberg."""
    try:
        log_table = load_iceberg_table(settings, PUBLISH_LOG_TABLE)
    except NoSuchTableError:
        return []
    # PyIceberg's predicates are pydantic models: mypy types their constructor from the model
    # fields, not from the ``(term, literal)`` ``__init__`` they define.
    equal_to = cast(Callable[[str, Any], EqualTo], EqualTo)
    in_group = equal_to("role_group", role_group) if role_group else None
    scan = log_table.scan(row_filter=in_group) if in_group is not None else log_table.scan()
    rows = scan.to_arrow().to_pylist()
    return sorted(rows, key=lambda row: (row["published_at"], row["version"]))


def last_published(settings: LakehouseSettings) -> dict[str, dict[str, Any]]:
    """Each published table's most recent publish-log row, by table name."""
    return {row["table_name"]: row for row in published_versions(settings)}


def latest_version(settings: LakehouseSettings) -> str | None:
    rows = published_versions(settings)
    return rows[-1]["version"] if rows else None
