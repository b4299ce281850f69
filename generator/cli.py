"""Command-line glue: the `customer-overview generate` options, and `python -m generator`.

The main command (written elsewhere) puts `options` on its `generate` command and calls `run`
with the parsed options; `python -m generator` (`main`) does the same on its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from generator.config import GeneratorConfig
from generator.errors import GeneratorError
from generator.run import generate

_DEFAULTS = {f.name: f.default for f in fields(GeneratorConfig) if f.name != "customers"}

F = TypeVar("F", bound=Callable[..., Any])


def _iso_date(ctx: click.Context, param: click.Parameter, value: str | date) -> date:
    if isinstance(value, date):  # the default
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, got {value!r}") from None


# (flag, type, metavar, help) of the optional parameters; defaults come from
# GeneratorConfig so the CLI and the API cannot drift apart.
_OPTIONS: tuple[tuple[str, type[Any], str, str], ...] = (
    ("--seed", int, "S", "random seed; same config and seed give identical files"),
    ("--start-date", str, "YYYY-MM-DD", "date of the initial load"),
    ("--months", int, "M", "monthly change batches after the initial load"),
    ("--update-rate", float, "F", "share of customers and accounts changed per month"),
    ("--duplicate-rate", float, "F", "exact duplicates per row of each customer file"),
    ("--bad-row-rate", float, "F", "malformed rows per row of each customer/transaction file"),
    ("--files", int, "K", "files the initial customer load is split into"),
    ("--transactions-per-customer-month", float, "F", "Poisson mean of monthly transactions"),
    ("--accounts-per-customer", float, "F", "mean accounts per customer (1 to 5)"),
)


def options(command: F) -> F:
    """Put the generator's options on a click command function (`--customers`, `--out`, ...).

    Args:
        command: The function a click command decorator is applied to next.
    """
    decorators = [
        click.option(
            "--customers",
            type=int,
            required=True,
            metavar="N",
            help="customers in the initial load",
        ),
        click.option(
            "--out",
            type=click.Path(path_type=Path),
            required=True,
            metavar="DIR",
            help="output folder (created if missing; must not hold an earlier run)",
        ),
    ]
    for flag, kind, metavar, help_text in _OPTIONS:
        default = _DEFAULTS[flag.removeprefix("--").replace("-", "_")]
        decorators.append(
            click.option(
                flag,
                type=kind,
                default=default,
                metavar=metavar,
                callback=_iso_date if flag == "--start-date" else None,
                help=f"{help_text} (default: {default})",
            )
        )
    for decorator in reversed(decorators):  # click lists a function's options bottom-up
        command = decorator(command)
    return command


def run(params: Mapping[str, Any]) -> int:
    """Generate the drops described by `params` and print a summary to stdout.

    Progress lines go to stderr.

    Args:
        params: Parsed options of a command set up by `options` (click's `ctx.params`).

    Returns:
        0 on success, 2 if the arguments are invalid (message on stderr).
    """
    out: Path = params["out"]
    try:
        # Every config field is a command-line option of the same name (see _OPTIONS).
        config = GeneratorConfig(**{f.name: params[f.name] for f in fields(GeneratorConfig)})
        started = time.perf_counter()
        manifest = generate(config, out, progress=_print_progress)
    except GeneratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(manifest, out, time.perf_counter() - started))
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


def parse_args(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """The options of `python -m generator` from `argv` (default: the process's arguments).

    As argparse: a usage error prints the usage and the error on stderr and exits 2, ``-h``
    prints the help and exits 0.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with _command.make_context("python -m generator", args) as ctx:
            return dict(ctx.params)
    except click.exceptions.Exit as exit_:  # after --help
        raise SystemExit(exit_.exit_code) from None
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m generator`: parse `argv` and run."""
    return run(parse_args(argv))


def _print_progress(message: str) -> None:
    print(f"[generator] {message}", file=sys.stderr, flush=True)


@click.command(
    help="Write synthetic customer-overview CSV drops and their manifest.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@options
def _command(**params: Any) -> int:
    return run(params)
