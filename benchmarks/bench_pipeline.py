"""Benchmark of the lakehouse core: full and incremental runs at 100k and 1M raw customer rows.

For each size: generate the initial customer load, run ingest -> curate -> validate (Great
Expectations) -> mask (all role groups) once on an empty lakehouse (full run), then land a file
that changes 1% of the customers and run the same stages again (incremental run). Prints one
table with seconds and rows/s per stage, and the incremental/full ratio per stage, all from the
same process on the same machine.

    python benchmarks/bench_pipeline.py [--sizes 100000 1000000] [--profile local]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from assets.curated.curation import curate_entity
from assets.governed.governance import product_policies, write_masked_outputs
from assets.raw.ingestion import ingest_entity
from customer_overview.config import load_settings
from customer_overview.entities import load_entity
from customer_overview.product import load_manifest
from customer_overview.spark import spark_session, stop_spark
from generator import GeneratorConfig, generate
from quality.expectations import validate_table
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")


def _timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _change_one_percent(landing: Path) -> int:
    """Land customers_99999.csv: 1% of the initial customers with a new status and timestamp."""
    source = sorted((landing / "customers").glob("*.csv"))[0]
    target = landing / "customers" / "customers_99999.csv"
    with (
        source.open(encoding="utf-8", newline="") as reader,
        target.open("w", encoding="utf-8", newline="") as writer,
    ):
        rows = csv.reader(reader)
        out = csv.writer(writer, lineterminator="\n")
        header = next(rows)
        out.writerow(header)
        status, modified = header.index("customer_status"), header.index("modified_at")
        changed = 0
        for index, row in enumerate(rows):
            if index % 100 == 0:
                row[status] = "Dormant" if row[status] != "Dormant" else "Active"
                row[modified] = "2025-12-31 23:00:00"
                out.writerow(row)
                changed += 1
    return changed


def run_stages(settings, label: str, rows_hint: int) -> list[tuple[str, str, int, float]]:
    spark = spark_session(settings)
    manifest = load_manifest()
    output = manifest.output("customer_overview")
    results = []
    ingested, seconds = _timed(lambda: ingest_entity(spark, settings, CUSTOMERS, label))
    results.append((label, "ingest (CSV -> raw merge)", ingested.rows_read, seconds))
    curated, seconds = _timed(
        lambda: curate_entity(spark, settings, CUSTOMERS, load_rules("customers"), label)
    )
    results.append((label, "curate (validate, dedupe, merge)", curated.raw_rows_read, seconds))
    outcome, seconds = _timed(
        lambda: validate_table(spark, settings, CUSTOMERS, load_rules("customers"), label)
    )
    results.append(
        (label, f"GX suite ({len(outcome.outcomes)} expectations)", outcome.rows, seconds)
    )
    masked, seconds = _timed(
        lambda: write_masked_outputs(spark, settings, manifest, output, product_policies(manifest))
    )
    results.append(
        (label, f"mask ({len(masked)} role groups)", sum(m.rows for m in masked), seconds)
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    table = []
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as folder:
            settings = load_settings(profile=args.profile, lakehouse_dir=Path(folder) / "lakehouse")
            generate(
                GeneratorConfig(
                    customers=size,
                    months=0,
                    duplicate_rate=0.0,
                    transactions_per_customer_month=0.0,
                ),
                settings.landing_dir,
            )
            table += [(size, *row) for row in run_stages(settings, "full", size)]
            changed = _change_one_percent(settings.landing_dir)
            table += [
                (size, *row)
                for row in run_stages(settings, f"incremental ({changed:,} changed)", size)
            ]
    stop_spark()
    full = {(size, stage): seconds for size, label, stage, _, seconds in table if label == "full"}
    print(
        f"{'raw rows':>10} | {'run':<26} | {'stage':<34} | {'rows':>10} | {'seconds':>8} | "
        f"{'rows/s':>10} | {'vs full':>7}"
    )
    print("-" * 125)
    for size, label, stage, rows, seconds in table:
        ratio = seconds / full[(size, stage)] if (size, stage) in full and label != "full" else 1.0
        print(
            f"{size:>10,} | {label:<26} | {stage:<34} | {rows:>10,} | {seconds:>8.1f} | "
            f"{rows / seconds if seconds else 0:>10,.0f} | {ratio:>7.2f}"
        )


if __name__ == "__main__":
    main()
