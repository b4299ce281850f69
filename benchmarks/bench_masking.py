"""Benchmark of the two ways a masked table follows a change of known keys: MERGE or rewrite.

``assets.governed.governance.merge_pays`` chooses between them by the branch's size and the
share of keys changed; this measures both on the same change, in one invocation, so the rule's
``MERGE_MIN_ROWS`` comes from a ratio and not a guess. For each size N (customers):

1. generate an initial load of N customers and a month that changes 1% of them (seed 42,
   ``benchmarks/staging.py``); ingest and curate the load, and mask it (a whole write per role
   group, as the full run does);
2. land the month, ingest and curate it: the curated upsert records the keys it changed;
3. time ``write_masked_outputs`` (3 role groups) once per path and round (``--rounds``): the
   whole rewrite (``merge=False``, the baseline) and the MERGE (``merge=True``); after each, the
   audit branches go back to the snapshot they had, so every round masks the same change.

Prints, per size: the rows of a masked table, the keys changed, the best seconds of each path
over the rounds, and the MERGE's ratio to the rewrite; ``--json PATH`` writes the records
``{"size", "path", "round", "seconds", "rows", "changed_keys"}``. One Spark session (local[2],
the product's configuration) for everything, started before the first timing.

    python benchmarks/bench_masking.py                                  # 100k and 1M customers
    python benchmarks/bench_masking.py --sizes 20000 300000 --rounds 3 --json /tmp/masking.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from staging import Drops, generate_drops, land

from assets.curated.curation import curate_entity
from assets.governed.governance import (
    AUDIT_BRANCH,
    FULL,
    MERGED,
    MaskedOutput,
    product_policies,
    write_masked_outputs,
)
from assets.raw.ingestion import ingest_entity
from customer_overview.config import LakehouseSettings, load_settings
from customer_overview.entities import load_entity
from customer_overview.product import load_manifest
from customer_overview.spark import spark_session
from customer_overview.tables import load_iceberg_table
from quality.rules import load_rules

DEFAULT_SIZES = (100_000, 1_000_000)
OUTPUT = "customer_overview"
REWRITE, MERGE = "rewrite", "merge"


@dataclass(frozen=True)
class Timing:
    size: int
    path: str
    round: int
    seconds: float
    rows: int
    changed_keys: int


def _curate(settings: LakehouseSettings, run_id: str) -> None:
    spark = spark_session(settings)
    customers = load_entity("customers")
    ingest_entity(spark, settings, customers, run_id, progress=lambda _: None)
    curate_entity(spark, settings, customers, load_rules("customers"), run_id)


def _mask(settings: LakehouseSettings, merge: bool) -> tuple[float, list[MaskedOutput]]:
    manifest = load_manifest()
    output = manifest.output(OUTPUT)
    started = time.perf_counter()
    results = write_masked_outputs(
        spark_session(settings),
        settings,
        manifest,
        output,
        product_policies(manifest),
        progress=lambda _: None,
        merge=merge,
    )
    return time.perf_counter() - started, results


def _audit_snapshots(settings: LakehouseSettings) -> dict[str, int]:
    """The snapshot each role group's masked table has on its audit branch."""
    manifest = load_manifest()
    tables = [
        manifest.output(OUTPUT).published_table(group.name)
        for group in manifest.consumers.role_groups
    ]
    snapshots = {}
    for table in tables:
        snapshot = load_iceberg_table(settings, table).snapshot_by_name(AUDIT_BRANCH)
        if snapshot is None:
            raise RuntimeError(f"{table} has no {AUDIT_BRANCH} branch after the initial masking")
        snapshots[table] = snapshot.snapshot_id
    return snapshots


def _reset_audit_branches(settings: LakehouseSettings, snapshots: dict[str, int]) -> None:
    spark = spark_session(settings)
    for table, snapshot_id in snapshots.items():
        spark.sql(
            f"ALTER TABLE {settings.spark_table(table)} "
            f"REPLACE BRANCH {AUDIT_BRANCH} AS OF VERSION {snapshot_id}"
        )


def measure_size(size: int, workdir: Path, rounds: int) -> list[Timing]:
    """Both paths on the same 1% change of ``size`` customers, ``rounds`` times each."""
    drops = generate_drops(size, workdir / "staging", history=1)
    settings = load_settings(profile="local", lakehouse_dir=workdir / "lakehouse", env={})
    for month in (0, drops.drop_month):
        customers = [n for n in drops.files_by_month[month] if n.startswith("customers/")]
        land(Drops(drops.folder, {month: customers}), range(month, month + 1), settings.landing_dir)
        _curate(settings, f"bench-masking-{month}")
        if month == 0:
            _mask(settings, merge=False)  # the initial load, masked whole
    unchanged = _audit_snapshots(settings)
    timings = []
    for number in range(1, rounds + 1):
        for path, mode in ((REWRITE, FULL), (MERGE, MERGED)):
            seconds, results = _mask(settings, merge=path == MERGE)
            if {result.mode for result in results} != {mode}:
                raise RuntimeError(f"{path}: the masked writes were {results}, not all {mode}")
            rows = results[0].rows
            changed = max(result.keys_merged for result in results)  # 0 for the rewrite
            timings.append(Timing(size, path, number, round(seconds, 2), rows, changed))
            print(f"size {size:,}: {path} round {number}: {seconds:.1f} s", flush=True)
            _reset_audit_branches(settings, unchanged)  # the next timing masks the same change
    return timings


def format_table(timings: list[Timing]) -> str:
    """One row per size: the best of each path and the MERGE's ratio to the rewrite."""
    lines = [
        "| customers | masked rows | changed keys | rewrite s (baseline) | merge s "
        "| merge vs rewrite |",
        "|---|---|---|---|---|---|",
    ]
    for size in sorted({t.size for t in timings}):
        of_size = [t for t in timings if t.size == size]
        rewrite = min(t.seconds for t in of_size if t.path == REWRITE)
        merge = min(t.seconds for t in of_size if t.path == MERGE)
        rows = max(t.rows for t in of_size)
        changed = max(t.changed_keys for t in of_size)
        lines.append(
            f"| {size:,} | {rows:,} | {changed:,} | {rewrite:.1f} | {merge:.1f} | "
            f"{merge / rewrite:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--rounds", type=int, default=2, help="timings of each path per size")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the records here")
    parser.add_argument(
        "--workdir", type=Path, help="keep the lakehouses here (default: a temp dir)"
    )
    args = parser.parse_args()
    timings: list[Timing] = []
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_masking_"))
    try:
        for size in args.sizes:
            timings += measure_size(size, root / f"size_{size}", args.rounds)
    finally:
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    print(format_table(timings))
    if args.json:
        args.json.write_text(json.dumps([asdict(t) for t in timings], indent=1), encoding="utf-8")
        print(f"records: {args.json}")


if __name__ == "__main__":
    main()
