"""Benchmark of the whole product against the bare jobs it has to beat, on the same files.

For each size N (customers in the initial load), in one invocation:

1. generate the drops once (seed 42): a history of ``--history`` months (default 3: the initial
   load and two monthly changes) and one monthly drop after it; every month updates ~1% of the
   customers and adds a month of accounts, transactions and campaign events;
2. ``bare_spark``: Spark local[2] reads the history's customer CSV files, keeps the latest row
   per cust_id (row_number by modified_at) and writes an Iceberg table partitioned by country,
   state (benchmarks/baselines.py; Spark session start included);
3. ``duckdb``: the same job in DuckDB, written as hive-partitioned parquet by country/state;
4. ``full``: ``customer-overview run`` (every entity, every stage: ingest, curate, quality,
   profile, marts, mask, publish) on an empty lakehouse whose landing folder holds the history;
5. ``incremental``: the monthly drop lands, and ``customer-overview run`` again.

Every job is its own process, timed from outside (wall time, process start included) while the
resident memory of its whole process tree (the Spark JVM included) is sampled every 0.2 s. The
product's per-stage seconds are the durations Dagster recorded for the stage's steps; a stage's
rows are the row counts its tables report after the step (``dagster/row_count``, so whole-table
counts, also in the incremental run); checks write no table and report 0. ``ingest+curate`` is
the customers raw step plus ``curate_customers``, the part of the run that does what the bare
Spark job does; its rows are the curated customers table's. A product run's ``total`` is the
process's wall time, its rows the sum over all its stages.

Prints one table (seconds and the ratio: the baselines' and the full run's figures against the
bare Spark total of the same size; the incremental run's against the same stage of the full run),
the peak memory of each run, and each product run's profile: per stage, seconds in Spark SQL
executions and outside them, and the costliest executions (benchmarks/spark_profile.py, from
Spark's event log). ``--json PATH`` also writes the list of records
``{"size", "run", "stage", "seconds", "rows"}``, where each run's ``"stage": "total"`` record also
carries ``"peak_rss_mb"``; the profiles go next to it, as ``<PATH stem>.profile.json``.

    python benchmarks/bench_pipeline.py                       # 100k and 1M customers
    python benchmarks/bench_pipeline.py --sizes 2000 --json /tmp/bench.json
    python benchmarks/bench_pipeline.py --sizes 100000 --workdir /tmp/bench --keep
    python benchmarks/bench_pipeline.py --sizes 10000000 --runs bare_spark full
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from measure import Measurement, measure
from product_steps import (
    CUSTOMERS_CURATE_STEP,
    CUSTOMERS_CURATED_ASSET,
    CUSTOMERS_RAW_STEP,
    STAGES,
    StepResult,
    latest_run_steps,
)
from spark_profile import (
    StageProfile,
    format_profiles,
    newest_event_log,
    profiles_with_event_log,
    root_executions,
    stage_profiles,
)
from staging import DEFAULT_HISTORY_MONTHS, Drops, generate_drops, land

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINES = Path(__file__).resolve().parent / "baselines.py"
DEFAULT_SIZES = (100_000, 1_000_000)

BARE_SPARK, DUCKDB, FULL, INCREMENTAL = "bare_spark", "duckdb", "full", "incremental"
RUNS = (BARE_SPARK, DUCKDB, FULL, INCREMENTAL)
TOTAL, INGEST_CURATE = "total", "ingest+curate"
TAIL_LINES = 40


@dataclass(frozen=True)
class Record:
    """One line of the result: a stage of a run at a size (peak memory on ``total`` only)."""

    size: int
    run: str
    stage: str
    seconds: float
    rows: int
    peak_rss_mb: float | None = None

    def as_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "size": self.size,
            "run": self.run,
            "stage": self.stage,
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
        }
        if self.peak_rss_mb is not None:
            record["peak_rss_mb"] = round(self.peak_rss_mb, 1)
        return record


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def job_env() -> dict[str, str]:
    """This environment without what would point a job at another lakehouse or Spark master.

    DAGSTER_HOME and LAKEHOUSE_* would move the run's state out of the benchmark's lakehouse;
    SPARK_MASTER would give the product another master than the bare job's local[2].
    """
    return {
        name: value
        for name, value in os.environ.items()
        if name not in ("DAGSTER_HOME", "SPARK_MASTER") and not name.startswith("LAKEHOUSE_")
    }


def run_job(label: str, argv: Sequence[str], env: dict[str, str], logs: Path) -> Measurement:
    """``measure`` one job; a failure prints the job's last output lines and stops everything.

    Figures from a failed run would compare a partial job with complete ones. The whole output
    goes to ``<logs>.stdout.log`` and ``<logs>.stderr.log`` (kept with ``--keep``): the first
    error of a failed run is rarely in its last lines.
    """
    measured = measure(argv, env, cwd=REPO_ROOT)
    logs.with_name(f"{logs.name}.stdout.log").write_text(measured.stdout, encoding="utf-8")
    logs.with_name(f"{logs.name}.stderr.log").write_text(measured.stderr, encoding="utf-8")
    if measured.returncode != 0:
        for name, text in (("stdout", measured.stdout), ("stderr", measured.stderr)):
            tail = "\n".join(text.splitlines()[-TAIL_LINES:])
            print(f"--- {label}: last lines of {name} ---\n{tail}", file=sys.stderr)
        raise SystemExit(f"{label} failed with exit code {measured.returncode}")
    return measured


def baseline(size: int, run: str, argv: Sequence[str], env: dict[str, str], folder: Path) -> Record:
    """A baseline job's one record: its wall time, rows written (its last line) and peak memory."""
    measured = run_job(f"{run} (size {size:,})", argv, env, folder / run)
    rows = int(measured.stdout.strip().splitlines()[-1])
    progress(f"size {size:,}: {run.replace('_', ' ')} done in {measured.seconds:.1f} s")
    return Record(size, run, TOTAL, measured.seconds, rows, measured.peak_rss_mib)


@dataclass(frozen=True)
class RunProfile:
    """Where one product run's time went, per stage."""

    size: int
    run: str
    stages: list[StageProfile]

    def as_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "run": self.run,
            "stages": [stage.as_json() for stage in self.stages],
        }


def baselines(
    size: int, drops: Drops, folder: Path, env: dict[str, str], runs: set[str]
) -> list[Record]:
    """Bare Spark and DuckDB (those of them in ``runs``) on the history's customer files."""
    csv_files = [str(path) for path in drops.customer_files(drops.history)]
    records = []
    if BARE_SPARK in runs:
        spark = [sys.executable, str(BASELINES), "spark", *csv_files]
        records.append(
            baseline(
                size, BARE_SPARK, [*spark, "--warehouse", str(folder / BARE_SPARK)], env, folder
            )
        )
    if DUCKDB in runs:
        duckdb = [sys.executable, str(BASELINES), "duckdb", *csv_files]
        records.append(
            baseline(size, DUCKDB, [*duckdb, "--out", str(folder / DUCKDB)], env, folder)
        )
    return records


def product_run(
    size: int, run: str, lakehouse: Path, env: dict[str, str]
) -> tuple[list[Record], RunProfile]:
    """``customer-overview run`` on ``lakehouse``: a record per stage, ingest+curate and total.

    Spark's event log goes under ``lakehouse/..``, next to the lakehouse, for the profile.
    """
    argv = [sys.executable, "-m", "operations.cli", "--lakehouse-dir", str(lakehouse)]
    env = env | {"LAKEHOUSE_PROFILES_FILE": str(profiles_with_event_log(lakehouse.parent))}
    measured = run_job(
        f"the {run} run (size {size:,})",
        [*argv, "--profile", "local", "run"],
        env,
        lakehouse.parent / run,
    )
    progress(f"size {size:,}: {run} run done in {measured.seconds:.1f} s")
    steps = latest_run_steps(lakehouse / "dagster_home")
    executions = root_executions(newest_event_log(lakehouse.parent))
    records = [
        *stage_records(size, run, steps),
        Record(
            size, run, TOTAL, measured.seconds, sum(s.rows for s in steps), measured.peak_rss_mib
        ),
    ]
    return records, RunProfile(size, run, stage_profiles(steps, executions))


def stage_records(size: int, run: str, steps: list[StepResult]) -> list[Record]:
    """Seconds and rows summed per stage, then the customers ingest+curate figure."""
    records = []
    for stage in STAGES:
        members = [step for step in steps if step.stage == stage]
        if members:
            seconds = sum(step.seconds for step in members)
            records.append(Record(size, run, stage, seconds, sum(step.rows for step in members)))
    core = [s for s in steps if s.step_key in (CUSTOMERS_RAW_STEP, CUSTOMERS_CURATE_STEP)]
    curated = sum(step.rows_by_asset.get(CUSTOMERS_CURATED_ASSET, 0) for step in core)
    records.append(Record(size, run, INGEST_CURATE, sum(step.seconds for step in core), curated))
    return records


def bench_size(
    size: int,
    folder: Path,
    history: int,
    runs: set[str],
    records: list[Record],
    profiles: list[RunProfile],
) -> None:
    """The jobs in ``runs`` of one size, in ``folder``; records and profiles are added as jobs
    finish.

    Added as they finish, so a job that fails (out of memory at a size too large) still leaves
    the figures of the jobs before it to print.
    """
    env = job_env()
    progress(f"size {size:,}: generating {history} month(s) of history and a monthly drop")
    started = time.perf_counter()
    drops = generate_drops(size, folder / "staging", history)
    progress(f"size {size:,}: generated in {time.perf_counter() - started:.1f} s")
    records += baselines(size, drops, folder, env, runs)
    if FULL not in runs:
        return
    lakehouse = folder / "lakehouse"
    land(drops, drops.history, lakehouse / "landing")
    full, full_profile = product_run(size, FULL, lakehouse, env)
    records += full
    profiles.append(full_profile)
    if INCREMENTAL not in runs:
        return
    landed = land(drops, range(drops.drop_month, drops.drop_month + 1), lakehouse / "landing")
    progress(f"size {size:,}: landed {landed} files of the monthly drop")
    incremental, incremental_profile = product_run(size, INCREMENTAL, lakehouse, env)
    records += incremental
    profiles.append(incremental_profile)


def ratio(record: Record, records: list[Record]) -> float | None:
    """Seconds relative to the figure the record is compared with (None: nothing to compare)."""
    if record.run == INCREMENTAL:
        wanted = (record.size, FULL, record.stage)
    else:
        wanted = (record.size, BARE_SPARK, TOTAL)
    for other in records:
        if (other.size, other.run, other.stage) == wanted and other.seconds > 0:
            return record.seconds / other.seconds
    return None


def format_table(records: list[Record]) -> str:
    header = (
        f"{'size':>10} | {'run':<11} | {'stage':<13} | {'rows':>12} | {'seconds':>8} | {'vs':>7}"
    )
    lines = [
        "vs: seconds / the bare Spark total of the same size (baselines and full run); "
        "incremental run: / the same stage of the full run",
        header,
        "-" * len(header),
    ]
    for record in records:
        factor = ratio(record, records)
        shown = f"{factor:>7.2f}" if factor is not None else f"{'-':>7}"
        lines.append(
            f"{record.size:>10,} | {record.run:<11} | {record.stage:<13} | {record.rows:>12,} | "
            f"{record.seconds:>8.1f} | {shown}"
        )
    return "\n".join(lines)


def format_memory(records: list[Record]) -> str:
    lines = ["peak memory (process tree, JVM included):"]
    for record in records:
        if record.peak_rss_mb is not None:
            lines.append(f"{record.size:>10,} | {record.run:<11} | {record.peak_rss_mb:>8,.0f} MiB")
    return "\n".join(lines)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Full and incremental runs of the whole product against bare Spark and "
        "DuckDB jobs, on the same generated files.",
    )
    parser.add_argument(
        "--sizes",
        type=positive_int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        metavar="N",
        help="customers in the initial load (default: 100000 1000000)",
    )
    parser.add_argument(
        "--history",
        type=positive_int,
        default=DEFAULT_HISTORY_MONTHS,
        metavar="MONTHS",
        help="months landed before the full run (default: %(default)s); one more month lands "
        "before the incremental run",
    )
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=RUNS,
        default=list(RUNS),
        metavar="RUN",
        help="the jobs to run (default: all of %(choices)s); the incremental run needs the full "
        "one. At sizes where a run takes hours, e.g. --runs bare_spark full",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the records here")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for the generated files and lakehouses (default: a new temporary folder)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the generated files and lakehouses afterwards"
    )
    args = parser.parse_args(argv)
    if INCREMENTAL in args.runs and FULL not in args.runs:
        parser.error("the incremental run follows the full one: add full to --runs")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="bench_pipeline_")) if temporary else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    records: list[Record] = []
    profiles: list[RunProfile] = []
    failure: SystemExit | None = None
    try:
        for size in dict.fromkeys(args.sizes):  # a size given twice runs once
            folder = workdir / f"size_{size}"
            if folder.exists():
                # Never benchmark on (or delete) files this invocation did not make.
                raise SystemExit(f"{folder} already exists: choose another --workdir")
            created.append(folder)
            bench_size(size, folder, args.history, set(args.runs), records, profiles)
    except SystemExit as stopped:
        failure = stopped  # the figures so far are still printed (and written) below
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            # Only what this invocation made: a --workdir may hold other things.
            for folder in created:
                shutil.rmtree(folder, ignore_errors=True)
            if temporary:
                shutil.rmtree(workdir, ignore_errors=True)
    print(format_table(records))
    print()
    print(format_memory(records))
    for profile in profiles:
        print()
        print(format_profiles(profile.size, profile.run, profile.stages))
    if args.json:
        args.json.write_text(
            json.dumps([record.as_json() for record in records], indent=2) + "\n", encoding="utf-8"
        )
        profile_json = args.json.with_name(f"{args.json.stem}.profile.json")
        profile_json.write_text(
            json.dumps([profile.as_json() for profile in profiles], indent=2) + "\n",
            encoding="utf-8",
        )
        progress(f"wrote {len(records)} records to {args.json}, the profiles to {profile_json}")
    if failure is not None:
        raise failure


if __name__ == "__main__":
    main()
