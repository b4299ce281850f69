"""Reconciliation: every raw row is curated, superseded by a newer curated version, or quarantined.

This is the product's "nothing disappears" guarantee, computed from the tables themselves (not
from run counters), so it also catches a bug in curation or a hand-made change to a table.

A quarantine row that a later run re-admitted (its late parent arrived, ``_resolved_at`` set) is
no longer quarantined: its raw row must be the curated version of its key or superseded by a
newer one, like any valid row; ``readmitted`` says how many of those there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from assets.curated.curation import ARRIVAL_ORDER, RESOLVED_AT, typed_column
from customer_overview.config import LakehouseSettings
from customer_overview.entities import SOURCE_FILE, SOURCE_LINE, EntitySchema
from customer_overview.sql import quote


@dataclass
class Reconciliation:
    """How the raw rows of one entity are accounted for."""

    raw: int = 0
    curated: int = 0
    superseded: int = 0
    quarantined: int = 0
    readmitted: int = 0
    lost: int = 0
    lost_sample: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        return {
            "raw_rows": self.raw,
            "curated_rows": self.curated,
            "superseded_rows": self.superseded,
            "quarantined_rows": self.quarantined,
            "readmitted_rows": self.readmitted,
            "unaccounted_rows": self.lost,
            "unaccounted_sample": ", ".join(self.lost_sample) or "none",
        }


def _ordering(version: Column) -> Column:
    """The order curation picks the latest by: version, then arrival (time, file, line)."""
    return F.struct(
        version.alias("version"),
        *[F.col(name).alias(name.lstrip("_")) for name in ARRIVAL_ORDER],
    )


def reconcile(
    spark: SparkSession, settings: LakehouseSettings, schema: EntitySchema
) -> Reconciliation:
    """Classify every raw row; ``lost`` must be 0."""
    key = list(schema.key)
    version = schema.version
    raw = spark.table(settings.spark_table(schema.raw_table))
    typed_version, _ = typed_column(schema.column(version))
    raw = raw.select(
        *[F.col(quote(name)) for name in key],
        typed_version.alias("_version"),
        *ARRIVAL_ORDER,
    )
    quarantine = spark.table(settings.spark_table(schema.quarantine_table))
    # A quarantine table from before re-admission existed has no _resolved_at: nothing resolved.
    resolved = F.col(RESOLVED_AT).isNotNull() if RESOLVED_AT in quarantine.columns else F.lit(False)
    quarantined = quarantine.select(
        *ARRIVAL_ORDER, (~resolved).alias("_quarantined"), resolved.alias("_readmitted")
    )
    curated = spark.table(settings.spark_table(schema.curated_table)).select(
        *[F.col(quote(name)) for name in key],
        _ordering(F.col(quote(version))).alias("_curated_order"),
        _arrival().alias("_curated_arrival"),
    )
    classified = (
        raw.join(quarantined, ARRIVAL_ORDER, "left")
        .join(curated, key, "left")
        .select(
            F.when(F.col("_quarantined"), "quarantined")
            .when(
                F.col("_curated_arrival") == _arrival(),
                "curated",
            )
            .when(F.col("_curated_order") > _ordering(F.col("_version")), "superseded")
            .otherwise("lost")
            .alias("state"),
            F.coalesce(F.col("_readmitted"), F.lit(False)).alias("readmitted"),
            F.concat_ws(":", F.col(SOURCE_FILE), F.col(SOURCE_LINE).cast("string")).alias("where"),
        )
    )
    counts: dict[str, int] = {}
    readmitted = 0
    for row in classified.groupBy("state", "readmitted").count().collect():
        counts[row.state] = counts.get(row.state, 0) + row["count"]
        readmitted += row["count"] if row.readmitted else 0
    result = Reconciliation(
        raw=sum(counts.values()),
        curated=counts.get("curated", 0),
        superseded=counts.get("superseded", 0),
        quarantined=counts.get("quarantined", 0),
        readmitted=readmitted,
        lost=counts.get("lost", 0),
    )
    if result.lost:
        result.lost_sample = [
            row["where"] for row in classified.where("state = 'lost'").limit(10).collect()
        ]
    return result


def _arrival() -> Column:
    """A row's place in arrival order, comparable across tables."""
    return F.struct(*[F.col(name).alias(f"a{i}") for i, name in enumerate(ARRIVAL_ORDER)])
