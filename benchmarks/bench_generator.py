"""Benchmark of the data generator: time, throughput and peak memory per size.

Each size runs in its own Python process (so peak RSS, from
resource.getrusage, is that run's alone) and writes into a temporary folder
that is deleted afterwards.

Usage:
    python benchmarks/bench_generator.py                     # 100k and 1M customers
    python benchmarks/bench_generator.py --sizes 100000 2000000 --months 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SIZES = (100_000, 1_000_000)
ENTITIES = ("customers", "products", "accounts", "transactions", "campaigns")


def measure(customers: int, months: int, seed: int) -> dict[str, float]:
    """Run the generator once in this process and return its measurements."""
    from generator import GeneratorConfig, generate

    config = GeneratorConfig(customers=customers, months=months, seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench_generator_") as folder:
        started = time.perf_counter()
        manifest = generate(config, Path(folder) / "landing")
        seconds = time.perf_counter() - started
        output_bytes = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    rows = {entity: manifest["entities"][entity]["rows"] for entity in ENTITIES}
    return {
        "customers": customers,
        **{f"{entity}_rows": count for entity, count in rows.items()},
        "total_rows": sum(rows.values()),
        "seconds": seconds,
        "rows_per_second": sum(rows.values()) / seconds,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "output_mb": output_bytes / 2**20,
    }


def measure_in_subprocess(customers: int, months: int, seed: int) -> dict[str, float]:
    """`measure` in a fresh interpreter, so peak memory is not shared between sizes."""
    command = [sys.executable, __file__, "--child", str(customers), "--months", str(months)]
    command += ["--seed", str(seed)]
    completed = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def format_table(results: list[dict[str, float]]) -> str:
    """Markdown table of the results."""
    header = (
        "| customers | customer rows | account rows | transaction rows | campaign rows "
        "| total rows | seconds | rows/s | peak RSS MB | output MB |"
    )
    lines = [header, "|" + "|".join("---:" for _ in range(10)) + "|"]
    for r in results:
        lines.append(
            f"| {r['customers']:,} | {r['customers_rows']:,} | {r['accounts_rows']:,} "
            f"| {r['transactions_rows']:,} | {r['campaigns_rows']:,} | {r['total_rows']:,} "
            f"| {r['seconds']:.1f} "
            f"| {r['rows_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} | {r['output_mb']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="customer counts to run (default: 100000 1000000)",
    )
    parser.add_argument("--months", type=int, default=3, help="monthly batches (default: 3)")
    parser.add_argument("--seed", type=int, default=42, help="seed (default: 42)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        print(json.dumps(measure(args.child, args.months, args.seed)))
        return 0
    results = []
    for size in args.sizes:
        print(f"running {size:,} customers ...", file=sys.stderr, flush=True)
        results.append(measure_in_subprocess(size, args.months, args.seed))
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
