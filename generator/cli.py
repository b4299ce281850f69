"""Command-line glue: the `customer-overview` command's generator arguments.

The main command (written elsewhere) calls `add_arguments` on its sub-parser and
`run` with the parsed arguments; `python -m generator` does the same on its own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

from generator.config import GeneratorConfig
from generator.errors import GeneratorError
from generator.run import generate

_DEFAULTS = {f.name: f.default for f in fields(GeneratorConfig) if f.name != "customers"}


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


# (flag, type, metavar, help) of the optional parameters; defaults come from
# GeneratorConfig so the CLI and the API cannot drift apart.
_OPTIONS: tuple[tuple[str, Callable[[str], Any], str, str], ...] = (
    ("--seed", int, "S", "random seed; same config and seed give identical files"),
    ("--start-date", _iso_date, "YYYY-MM-DD", "date of the initial load"),
    ("--months", int, "M", "monthly change batches after the initial load"),
    ("--update-rate", float, "F", "share of customers and accounts changed per month"),
    ("--duplicate-rate", float, "F", "exact duplicates per row of each customer file"),
    ("--bad-row-rate", float, "F", "malformed rows per row of each customer/transaction file"),
    ("--files", int, "K", "files the initial customer load is split into"),
    ("--transactions-per-customer-month", float, "F", "Poisson mean of monthly transactions"),
    ("--accounts-per-customer", float, "F", "mean accounts per customer (1 to 5)"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the generator's options to `parser`.

    Args:
        parser: Parser (or sub-command parser) to extend.
    """
    parser.add_argument(
        "--customers", type=int, required=True, metavar="N", help="customers in the initial load"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="output folder (created if missing; must not hold an earlier run)",
    )
    for flag, parse, metavar, help_text in _OPTIONS:
        default = _DEFAULTS[flag.removeprefix("--").replace("-", "_")]
        parser.add_argument(
            flag,
            type=parse,
            default=default,
            metavar=metavar,
            help=f"{help_text} (default: {default})",
        )


def run(args: argparse.Namespace) -> int:
    """Generate the drops described by `args` and print a summary to stdout.

    Progress lines go to stderr.

    Args:
        args: Parsed arguments from a parser set up by `add_arguments`.

    Returns:
        0 on success, 2 if the arguments are invalid (message on stderr).
    """
    try:
        # Every config field is a command-line option of the same name (see _OPTIONS).
        config = GeneratorConfig(**{f.name: getattr(args, f.name) for f in fields(GeneratorConfig)})
        started = time.perf_counter()
        manifest = generate(config, args.out, progress=_print_progress)
    except GeneratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(manifest, args.out, time.perf_counter() - started))
    return 0


def format_summary(manifest: dict[str, Any], out_dir: Path, seconds: float) -> str:
    """A table of files and rows per entity, then totals, seconds and rows/s."""
    header = (
        f"{'entity':<14}{'files':>6}{'rows':>13}{'valid_rows':>13}{'bad_rows':>10}"
        f"{'expected_latest':>17}"
    )
    lines = [header, "-" * len(header)]
    total_rows = total_files = 0
    for entity, entry in manifest["entities"].items():
        bad = sum(entry["bad_rows"].values())
        lines.append(
            f"{entity:<14}{len(entry['files']):>6}{entry['rows']:>13,}{entry['valid_rows']:>13,}"
            f"{bad:>10,}{entry['expected_latest']:>17,}"
        )
        total_rows += entry["rows"]
        total_files += len(entry["files"])
    rate = total_rows / seconds if seconds > 0 else float("inf")
    lines.append(
        f"wrote {total_rows:,} rows in {total_files} files to {out_dir} "
        f"in {seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    funnel = manifest["entities"].get("campaigns", {}).get("funnel")
    if funnel:
        lines.extend(["", *format_funnel(funnel)])
    return "\n".join(lines)


def format_funnel(funnel: dict[str, int]) -> list[str]:
    """The `campaigns` table: customers per funnel stage, and their share of those reached."""
    header = f"{'campaigns':<24}{'customers':>12}{'of reached':>12}"
    lines = [header, "-" * len(header)]
    reached = next(iter(funnel.values()), 0)
    for stage, customers in funnel.items():
        share = f"{customers / reached:.1%}" if reached else "-"
        lines.append(f"{stage:<24}{customers:>12,}{share:>12}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m generator`: parse `argv` and run."""
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Write synthetic customer-overview CSV drops and their manifest.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _print_progress(message: str) -> None:
    print(f"[generator] {message}", file=sys.stderr, flush=True)
