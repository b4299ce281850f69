"""Incremental runs build the same tables as one run over everything, row for row.

Hypothesis draws a change feed from the generator (seed, months, update and bad-row rates) and
an arrival schedule: the months are delivered over several runs, and a month's customers file
may arrive one run after the accounts and transactions that reference it (late parents). One
lakehouse takes every delivery with its own run (ingest and curate every entity, build the
marts, mask every output); another takes all the files at once, in one run. Every curated
table, every mart and every masked table (the audit branch each role group will be published
from) must then hold the same rows.

Rows are compared on every column but ``_ingested_at``, the one value that says when a run
happened. The source file and line stay in: they show that the same raw row won.

Real Spark, real Iceberg catalogs in temporary folders, the generator's real files.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dagster import materialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lakehouse_support import row_multiset
from pyspark.sql import SparkSession

from assets.curated.curation import curate_entity
from assets.governed.governance import AUDIT_BRANCH, product_policies, write_masked_outputs
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings
from customer_overview.entities import INGESTED_AT, all_entities, all_marts
from customer_overview.product import load_manifest
from customer_overview.resources import LakehouseResource
from customer_overview.spark import spark_session
from generator import GeneratorConfig, generate
from marts.asset import marts_asset
from quality.rules import load_rules

MANIFEST = load_manifest()


def deliveries(staging: Path, months: int, runs_after: list[bool], late_customers: bool) -> list:
    """The generated files grouped into deliveries, one per incremental run.

    ``runs_after[m]``: a run happens after month ``m`` lands (the last month always ends one).
    ``late_customers``: the first delivery's newest customers file arrives with the next
    delivery instead, after the accounts and transactions that reference its customers.
    """
    by_month: dict[int, list[Path]] = {}
    for path in sorted(staging.rglob("*.csv")):
        month = int(path.stem.rsplit("_", 1)[1]) - 1  # batch 1 is month 0
        by_month.setdefault(month, []).append(path)
    groups: list[list[Path]] = [[]]
    for month in range(months + 1):
        groups[-1] += by_month.get(month, [])
        if month < months and runs_after[month]:
            groups.append([])
    if late_customers and len(groups) > 1:
        customers = [path for path in groups[0] if path.parent.name == "customers"]
        if customers:
            groups[0].remove(customers[-1])
            groups[1].insert(0, customers[-1])
    return groups


def land(files: list[Path], staging: Path, settings: LakehouseSettings) -> None:
    for path in files:
        target = settings.landing_dir / path.relative_to(staging)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def pipeline_run(
    spark: SparkSession, settings: LakehouseSettings, run_id: str, merge: bool | None = None
) -> None:
    """What one `customer-overview run` writes: curated tables, marts, masked audit branches.

    ``merge=True``: masked tables take a MERGE wherever their changed keys are known, as large
    tables do (at these sizes the cost rule would rewrite them whole).
    """
    for schema in all_entities():
        ingest_entity(spark, settings, schema, run_id)
        curate_entity(spark, settings, schema, load_rules(schema.entity), run_id)
    resources = {"lakehouse": LakehouseResource(lakehouse_dir=str(settings.lakehouse_dir))}
    assert materialize([marts_asset()], resources=resources).success
    policies = product_policies(MANIFEST)
    for output in MANIFEST.outputs:
        write_masked_outputs(
            spark, settings, MANIFEST, output, policies, progress=lambda _: None, merge=merge
        )


def table_rows(spark: SparkSession, settings: LakehouseSettings, table: str, ref: str) -> Counter:
    """The rows of ``table`` at ``ref`` as a multiset (``_ingested_at`` left out)."""
    frame = spark.sql(f"SELECT * FROM {settings.spark_table(table)} VERSION AS OF '{ref}'")
    return row_multiset(frame, leave_out=[INGESTED_AT])


def compared_tables() -> list[tuple[str, str]]:
    """(table, ref) of every curated table, mart and masked table."""
    tables = [(schema.curated_table, "main") for schema in (*all_entities(), *all_marts())]
    tables += [
        (output.published_table(group.name), AUDIT_BRANCH)
        for output in MANIFEST.outputs
        for group in MANIFEST.consumers.role_groups
    ]
    return tables


def differences(spark: SparkSession, left: LakehouseSettings, right: LakehouseSettings) -> dict:
    """Per table that differs: rows only in ``left``, rows only in ``right`` (a few of each)."""
    found: dict[str, Any] = {}
    for table, ref in compared_tables():
        ours = table_rows(spark_session(left), left, table, ref)
        theirs = table_rows(spark_session(right), right, table, ref)
        if ours != theirs:
            found[table] = {
                "only_incremental": list((ours - theirs).elements())[:3],
                "only_full": list((theirs - ours).elements())[:3],
            }
    return found


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(min_value=0, max_value=10_000),
    months=st.integers(min_value=1, max_value=3),
    update_rate=st.sampled_from([0.1, 0.4]),
    bad_row_rate=st.sampled_from([0.0, 0.05]),
    runs_after=st.lists(st.booleans(), min_size=3, max_size=3),
    late_customers=st.booleans(),
)
def test_incremental_runs_build_what_one_run_over_everything_builds(
    spark: SparkSession,
    new_lakehouse: Callable[[Path], LakehouseSettings],
    seed: int,
    months: int,
    update_rate: float,
    bad_row_rate: float,
    runs_after: list[bool],
    late_customers: bool,
) -> None:
    with tempfile.TemporaryDirectory(prefix="incremental_equals_full_") as folder:
        root = Path(folder)
        staging = root / "staging"
        config = GeneratorConfig(
            customers=25,
            seed=seed,
            months=months,
            update_rate=update_rate,
            bad_row_rate=bad_row_rate,
            duplicate_rate=0.05,
            transactions_per_customer_month=1.5,
        )
        generate(config, staging)
        incremental = new_lakehouse(root / "incremental")
        full = new_lakehouse(root / "full")
        schedule = deliveries(staging, months, runs_after, late_customers)
        for number, files in enumerate(schedule, start=1):
            land(files, staging, incremental)
            pipeline_run(
                spark_session(incremental), incremental, f"incremental-{number}", merge=True
            )
        land([path for files in schedule for path in files], staging, full)
        pipeline_run(spark_session(full), full, "full")

        assert differences(spark, incremental, full) == {}
