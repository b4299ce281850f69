"""``customer-overview``: the product's one console command (click).

Subcommands: ``generate`` (synthetic landing files), ``run`` (materialize the Dagster graph
headless), ``demo`` (both, on the embedded defaults), ``config show``, ``tables``, ...
Errors a user can cause print one clear line and exit 2; a failed run exits 1; a run refused
because another run is writing the lakehouse exits 3 (``lock.BUSY_EXIT_CODE``).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from customer_overview.config import LakehouseSettings, available_profiles, load_settings
from customer_overview.errors import LakehouseError
from customer_overview.lock import BUSY_EXIT_CODE, LakehouseBusyError, LockHolder
from generator.cli import options as generator_options
from generator.cli import run as run_generator

if TYPE_CHECKING:
    from pipelines.runner import RunSummary

console = Console(stderr=False, width=140)
err_console = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> int:
    from customer_overview.file_modes import restrict_new_files

    # Everything this process creates (landing files, tables, exports, reports) is owner-only.
    restrict_new_files()
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        with cli.make_context("customer-overview", args) as ctx:
            try:
                return int(cli.invoke(ctx))
            except LakehouseBusyError as exc:
                err_console.print(f"[bold red]refused:[/] {exc}", highlight=False, soft_wrap=True)
                return BUSY_EXIT_CODE
            except LakehouseError as exc:
                err_console.print(
                    f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False
                )
                return 2
    # As argparse did: -h prints the help and exits 0, a usage error prints the usage and the
    # error on stderr and exits 2 (SystemExit, also when called in-process).
    except click.exceptions.Exit as exit_:
        raise SystemExit(exit_.exit_code) from None
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None


@dataclass(frozen=True)
class _GlobalOptions:
    """The options given before the command."""

    lakehouse_dir: str | None
    profile: str | None

    def settings(self) -> LakehouseSettings:
        """Settings from the global options, falling back to the environment and the defaults."""
        return load_settings(profile=self.profile, lakehouse_dir=self.lakehouse_dir)


class _Argument(click.Argument):
    """A positional argument with a line in its command's help (click < 8.5 has no such help)."""

    def __init__(self, param_decls: Sequence[str], description: str, **attrs: Any) -> None:
        super().__init__(param_decls, **attrs)
        self.description = description


class _Command(click.Command):
    """A command whose help lists its positional arguments and shows in full in its group's."""

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.help or ""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments = [
            (param.human_readable_name, param.description)
            for param in self.get_params(ctx)
            if isinstance(param, _Argument)
        ]
        if arguments:
            with formatter.section("Positional arguments"):
                formatter.write_dl(arguments)
        super().format_options(ctx, formatter)


class _Group(_Command, click.Group):
    """A group of commands, listed in the order they are defined; one must be given (exit 2)."""

    command_class = _Command
    group_class = type  # subgroups are _Group too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", False)  # no command: a usage error, as argparse's
        super().__init__(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(
    cls=_Group,
    help="Customer-overview data product: Spark + Iceberg lakehouse on Dagster.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--lakehouse-dir",
    metavar="LAKEHOUSE_DIR",
    help="state directory (default $LAKEHOUSE_DIR or ./lakehouse)",
)
@click.option(
    "--profile", metavar="PROFILE", help="deployment profile (default $LAKEHOUSE_PROFILE or local)"
)
@click.option("-v", "--verbose", is_flag=True, help="log progress")
@click.pass_context
def cli(ctx: click.Context, lakehouse_dir: str | None, profile: str | None, verbose: bool) -> None:
    """The top-level options; the command that follows gets them as its context's object."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _GlobalOptions(lakehouse_dir=lakehouse_dir, profile=profile)


_wait_option = click.option(
    "--wait",
    type=float,
    is_flag=False,
    flag_value=math.inf,  # --wait without SECONDS: wait as long as it takes
    default=0.0,
    metavar="[SECONDS]",
    help="when another run is writing the lakehouse, wait for it (at most SECONDS) instead "
    f"of refusing with exit code {BUSY_EXIT_CODE}",
)


def _writer_lock(
    wait: float, settings: LakehouseSettings, command: str
) -> AbstractContextManager[LockHolder]:
    """The lakehouse's writer lock for this command, taken before any work starts."""
    from customer_overview.lock import writer_lock

    return writer_lock(
        settings,
        command=command,
        wait_seconds=wait,
        progress=lambda message: err_console.print(message, highlight=False, soft_wrap=True),
    )


# ------------------------------------------------------------------------------------ commands
@cli.command("generate", help="write synthetic bank data as landing CSV files")
@generator_options
def _generate(**params: Any) -> int:
    return run_generator(params)


@cli.command("run", help="materialize the pipeline headless (exit 1 on failure)")
@click.option(
    "--select",
    metavar="SELECT",
    help="Dagster asset selection, e.g. 'key:\"fs_accelerator/customer_overview_dp\"' or "
    "'group:ingest' (default: the whole graph)",
)
@click.option("--full-refresh", is_flag=True, help="rebuild curated tables from the raw tables")
@click.option("--reingest-all", is_flag=True, help="read every landing file again (idempotent)")
@_wait_option
@click.pass_obj
def _run(
    options: _GlobalOptions, select: str | None, full_refresh: bool, reingest_all: bool, wait: float
) -> int:
    from pipelines.runner import run_config_for, run_pipeline

    settings = options.settings()
    with _writer_lock(wait, settings, "customer-overview run"):
        console.print(
            f"Running the pipeline on [bold]{settings.lakehouse_dir}[/] "
            f"(profile {settings.profile})"
        )
        summary = run_pipeline(
            settings,
            selection=select,
            run_config=run_config_for(full_refresh=full_refresh, reingest_all=reingest_all),
        )
    _print_summary(summary, settings)
    return summary.exit_code


@cli.command(
    "demo", help="generate a sample into LAKEHOUSE_DIR/landing (if empty) and run everything"
)
@click.option(
    "--customers",
    type=int,
    default=20_000,
    metavar="CUSTOMERS",
    help="sample size (default 20000)",
)
@click.option("--seed", type=int, default=42, metavar="SEED")
@click.option("--months", type=int, default=3, metavar="MONTHS")
@_wait_option
@click.pass_obj
def _demo(options: _GlobalOptions, customers: int, seed: int, months: int, wait: float) -> int:
    from customer_overview.entities import all_entities
    from customer_overview.landing import scan_landing
    from generator import GeneratorConfig, generate
    from pipelines.runner import run_config_for, run_pipeline

    settings = options.settings()
    landing = settings.landing_dir
    with _writer_lock(wait, settings, "customer-overview demo"):
        if any(scan_landing(landing, all_entities()).files.values()):
            console.print(
                f"Landing folder {landing} already has files: not generating a new sample."
            )
        else:
            console.print(f"Generating {customers:,} customers into {landing} ...")
            generate(
                GeneratorConfig(customers=customers, seed=seed, months=months),
                landing,
                progress=lambda message: err_console.print(f"  {message}", highlight=False),
            )
        summary = run_pipeline(settings, run_config=run_config_for())
    _print_summary(summary, settings)
    return summary.exit_code


@cli.group("config", help="show the effective configuration")
def _config() -> None:
    """The ``config`` commands."""


@_config.command("show", help="print the effective configuration (secrets hidden)")
@click.pass_obj
def _config_show(options: _GlobalOptions) -> int:
    settings = options.settings()
    console.print_json(json.dumps(settings.redacted() | {"policy_lint": _policy_lint()}))
    return 0


def _policy_lint() -> dict[str, list[str]]:
    """Policies and tags that match nothing (policies/lint.py); warnings also on stderr."""
    from customer_overview.product import load_manifest
    from policies.lint import lint_product

    try:
        findings = lint_product(load_manifest())
    except LakehouseError as exc:  # a policy or manifest that does not load: say which
        err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False)
        return {"error": [str(exc)]}
    for finding in findings:
        if finding.severity == "warning":
            err_console.print(f"[yellow]warning:[/] {finding.message}", highlight=False)
    return {
        "warnings": [f.message for f in findings if f.severity == "warning"],
        "notes": [f.message for f in findings if f.severity == "note"],
    }


@_config.command("profiles", help="list the deployment profiles")
def _config_profiles() -> int:
    for name, description in available_profiles().items():
        console.print(f"[bold]{name}[/]: {description}")
    return 0


@_config.command(
    "dagster-instance",
    help="add the product's Dagster instance settings (one run at a time, run monitoring, "
    "no telemetry) to $DAGSTER_HOME/dagster.yaml (default LAKEHOUSE_DIR/dagster_home)",
)
@click.pass_obj
def _config_dagster_instance(options: _GlobalOptions) -> int:
    from pipelines.runner import dagster_home, ensure_instance_settings

    home = dagster_home(options.settings())
    added = ensure_instance_settings(home)
    what = f"added {', '.join(added)}" if added else "already complete"
    console.print(f"{home / 'dagster.yaml'}: {what}", highlight=False)
    return 0


@cli.command("tables", help="list the lakehouse's Iceberg tables (PyIceberg)")
@click.pass_obj
def _tables(options: _GlobalOptions) -> int:
    from customer_overview.catalog import prepare_catalog
    from customer_overview.tables import snapshot_row_count

    settings = options.settings()
    catalog = prepare_catalog(settings)
    table = Table(title=f"{settings.catalog_name}.{settings.namespace}")
    for column in ("table", "rows", "snapshot", "location"):
        table.add_column(column)
    for identifier in sorted(catalog.list_tables(settings.namespace)):
        iceberg = catalog.load_table(identifier)
        snapshot = iceberg.current_snapshot()
        rows = str(snapshot_row_count(snapshot))
        table.add_row(
            identifier[-1], rows, str(snapshot.snapshot_id if snapshot else "-"), iceberg.location()
        )
    console.print(table)
    return 0


@cli.command("query", help="run SQL on DuckDB over a role group's published tables (no copy)")
@click.argument(
    "sql",
    cls=_Argument,
    metavar="sql",
    description='e.g. "SELECT country, count(*) FROM customer_overview GROUP BY 1"',
)
@click.option(
    "--role", default="restricted", metavar="ROLE", help="consumer role group (default restricted)"
)
@click.option(
    "--as-of", metavar="AS_OF", help="published version, e.g. 1.0.0+2 (default: the latest)"
)
@click.option(
    "--format",
    type=click.Choice(("table", "csv", "json")),
    default="table",
    metavar="{table,csv,json}",
)
@click.pass_obj
def _query(options: _GlobalOptions, sql: str, role: str, as_of: str | None, format: str) -> int:
    from assets.consumed.consume import query
    from customer_overview.product import load_manifest

    columns, rows, version = query(options.settings(), load_manifest(), sql, role, as_of)
    if format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
    else:
        table = Table(title=f"{role} @ {version}")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("NULL" if value is None else str(value) for value in row))
        console.print(table)
    return 0


@cli.command(
    "export-duckdb", help="write a DuckDB file with views over a role group's published tables"
)
@click.argument(
    "path",
    cls=_Argument,
    type=click.Path(path_type=Path),
    metavar="path",
    description="the .duckdb file to write",
)
@click.option(
    "--role", default="restricted", metavar="ROLE", help="consumer role group (default restricted)"
)
@click.option(
    "--follow-latest",
    is_flag=True,
    help="views read the newest published snapshot instead of the current version's",
)
@click.pass_obj
def _export(options: _GlobalOptions, path: Path, role: str, follow_latest: bool) -> int:
    from assets.consumed.consume import export_duckdb
    from customer_overview.product import load_manifest

    views = export_duckdb(
        options.settings(), load_manifest(), path, role, pin_snapshots=not follow_latest
    )
    mode = "following the latest publish" if follow_latest else f"pinned to {views[0].version}"
    console.print(f"Wrote {path}: views {', '.join(v.name for v in views)} ({mode}).")
    console.print(
        "Open it with the duckdb CLI or duckdb-engine; LOAD the iceberg and avro extensions first."
    )
    return 0


@cli.group("cluster", help="local scale-out environment: standalone Spark + private PostgreSQL")
def _cluster() -> None:
    """The ``cluster`` commands."""


def _cluster_folder(options: _GlobalOptions) -> Path:
    return options.settings().lakehouse_dir / "cluster"


@_cluster.command("start", help="start Spark (master + workers) and PostgreSQL")
@click.option("--workers", type=int, default=2, metavar="WORKERS")
@click.option("--worker-memory", default="1g", metavar="WORKER_MEMORY")
@click.pass_obj
def _cluster_start(options: _GlobalOptions, workers: int, worker_memory: str) -> int:
    from operations.local_cluster import start

    state = start(_cluster_folder(options), workers=workers, worker_memory=worker_memory)
    console.print(
        f"Spark master {state.spark_master_url} (UI {state.spark_master_ui}), "
        f"PostgreSQL catalog 127.0.0.1:{state.postgres_port}/lake; logs in {state.folder}/logs"
    )
    console.print(
        'Use it: eval "$(customer-overview --lakehouse-dir '
        f'{options.settings().lakehouse_dir} cluster env)"'
    )
    return 0


@_cluster.command("stop", help="stop everything `cluster start` started")
@click.pass_obj
def _cluster_stop(options: _GlobalOptions) -> int:
    from operations.local_cluster import stop

    stop(_cluster_folder(options))
    console.print("Stopped.")
    return 0


@_cluster.command(
    "env", help='print the exports that select the cluster profile (eval "$(... cluster env)")'
)
@click.pass_obj
def _cluster_env(options: _GlobalOptions) -> int:
    import shlex

    from operations.local_cluster import ClusterState

    for key, value in ClusterState.load(_cluster_folder(options)).profile_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


@cli.group("catalog", help="catalog administration")
def _catalog() -> None:
    """The ``catalog`` commands."""


@_catalog.command(
    "migrate",
    help="register every table of this lakehouse's catalog in another profile's catalog",
)
@click.option(
    "--to", "target_profile", required=True, metavar="TARGET_PROFILE", help="target profile"
)
@click.pass_obj
def _catalog_migrate(options: _GlobalOptions, target_profile: str) -> int:
    from operations.migration import migrate_catalog

    source = options.settings()
    target = load_settings(profile=target_profile, lakehouse_dir=options.lakehouse_dir)
    report = migrate_catalog(source, target)
    console.print(
        f"registered {len(report.registered)}, already current {len(report.already_current)}, "
        f"conflicts {len(report.conflicts)}"
    )
    for name in report.conflicts:
        console.print(
            f"[red]conflict[/]: {name} exists in the target with another metadata location"
        )
    return 1 if report.conflicts else 0


@cli.command("versions", help="list the published versions of the product")
@click.option("--role", metavar="ROLE", help="only this role group")
@click.pass_obj
def _versions(options: _GlobalOptions, role: str | None) -> int:
    from customer_overview.publish_log import published_versions

    table = Table(title="Published versions")
    for column in ("version", "published_at", "run_id", "role_group", "table", "snapshot", "rows"):
        table.add_column(column)
    for row in published_versions(options.settings(), role):
        table.add_row(
            row["version"],
            f"{row['published_at']:%Y-%m-%d %H:%M:%S}",
            row["run_id"],
            row["role_group"],
            row["table_name"],
            str(row["snapshot_id"]),
            f"{row['row_count']:,}",
        )
    console.print(table)
    return 0


@cli.group("reports", help="quality reports, profiles and product cards")
def _reports() -> None:
    """The ``reports`` commands."""


@_reports.command(
    "serve",
    help="serve LAKEHOUSE_DIR/reports read-only on http://127.0.0.1:PORT/ until Ctrl-C",
)
@click.option(
    "--port",
    type=int,
    metavar="PORT",
    help="TCP port (default: the profile's reports.port, 3030)",
)
@click.pass_obj
def _reports_serve(options: _GlobalOptions, port: int | None) -> int:
    from operations.report_server import serve

    settings = options.settings()
    port = settings.reports.port if port is None else port
    try:
        serve(
            settings.reports_dir, port, announce=lambda text: console.print(text, highlight=False)
        )
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] cannot serve on 127.0.0.1:{port}: {exc}")
        return 2
    return 0


@cli.command(
    "update-customer",
    help="write a landing drop with one customer's current row changed (refused, exit 2, "
    "if the rules would quarantine it); the next run curates it",
)
@click.argument("cust_id", cls=_Argument, metavar="CUST_ID", description="the customer to change")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    required=True,
    metavar="COLUMN=VALUE",
    help="new value of a column (repeatable; an empty VALUE means no value)",
)
@click.pass_obj
def _update_customer(options: _GlobalOptions, cust_id: str, assignments: tuple[str, ...]) -> int:
    from operations.update_customer import parse_assignments, update_customer

    settings = options.settings()
    update = update_customer(None, settings, cust_id, parse_assignments(assignments))
    table = Table(title=f"{update.cust_id}: new version, modified_at {update.modified_at} UTC")
    for column in ("column", "current", "new"):
        table.add_column(column)
    for column, (current, new) in update.changes.items():
        table.add_row(
            column, "NULL" if current is None else current, "NULL" if new is None else new
        )
    console.print(table)
    for warning in update.warnings:
        console.print(f"[yellow]warning[/] (not quarantined): {warning.reason}", highlight=False)
    console.print(f"Wrote {update.path}", highlight=False, soft_wrap=True)
    console.print("The next `customer-overview run` curates it.", highlight=False)
    return 0


def _print_summary(summary: RunSummary, settings: LakehouseSettings) -> None:
    assets = Table(title=f"Run {summary.run_id}")
    for column in ("asset", "rows", "details"):
        assets.add_column(column)
    for outcome in summary.materialized:
        details = ", ".join(
            f"{key}={outcome.metadata[key]}"
            for key in (
                "rows_inserted",
                "inserted",
                "updated",
                "quarantined",
                "readmitted",
                "seconds",
            )
            if key in outcome.metadata
        )
        assets.add_row(outcome.asset, "" if outcome.rows is None else f"{outcome.rows:,}", details)
    for asset in summary.skipped_assets:
        assets.add_row(asset, "-", "[yellow]not materialized[/]")
    console.print(assets)
    if summary.checks:
        checks = Table(title="Checks")
        for column in ("asset", "check", "result", "severity", "blocking"):
            checks.add_column(column)
        for check in summary.checks:
            result = "[green]passed[/]" if check.passed else "[red]FAILED[/]"
            checks.add_row(
                check.asset, check.check, result, check.severity, "yes" if check.blocking else "no"
            )
        console.print(checks)
    # A failed check names what failed here too, not only in Dagster's metadata.
    for check in summary.failed_checks:
        console.print(f"[red]{check.asset}: {check.check} failed[/]", highlight=False)
        for line in check.failure_details:
            console.print(f"  {line}", highlight=False, soft_wrap=True)
    if summary.publication:
        console.print(f"Product: {summary.publication}", highlight=False)
    for output, reason in summary.not_in_version.items():
        console.print(f"  not in this version: {output} ({reason})", highlight=False)
    reports = Path(settings.reports_dir)
    catalog_location = (
        settings.sqlite_catalog_path if settings.catalog.type == "sqlite" else settings.catalog.uri
    )
    console.print(
        f"Tables: catalog [bold]{settings.catalog_name}[/], "
        f"namespace [bold]{settings.namespace}[/] "
        f"({catalog_location}); "
        f"warehouse {settings.warehouse}"
    )
    if (reports / "index.html").exists():
        console.print(f"Reports: {reports / 'index.html'}")
    if summary.exit_code:
        failed = [f"{c.asset}:{c.check}" for c in summary.blocking_failures]
        console.print(
            f"[bold red]Run failed[/]: steps {summary.failed_steps or '-'}, "
            f"blocking checks {failed or '-'}"
        )
    else:
        console.print("[bold green]Run succeeded[/]")
        card = reports / "product" / "product_card.html"
        if card.exists():
            console.print(f"Product card: {card}", highlight=False)
        console.print(
            f"Query it:     customer-overview --lakehouse-dir {settings.lakehouse_dir} query "
            '--role restricted "SELECT country, count(*) FROM customer_overview GROUP BY 1"\n'
            f"Dagster UI:   {_ui_command(settings)} (run history, lineage, checks)",
            highlight=False,
            soft_wrap=True,
        )


def _ui_command(settings: LakehouseSettings) -> str:
    """How to open the Dagster UI on this lakehouse from where the user is."""
    from customer_overview.product import PRODUCT_ROOT
    from pipelines.runner import dagster_home

    in_checkout = (PRODUCT_ROOT / "Makefile").is_file() and Path.cwd().resolve() == PRODUCT_ROOT
    if in_checkout and settings.lakehouse_dir.resolve() == (PRODUCT_ROOT / "lakehouse").resolve():
        return "make ui"
    # An installed package (no Makefile), or another folder: what `make ui` runs, spelled out.
    return (
        f"DAGSTER_HOME={dagster_home(settings)} dagster dev -m pipelines.definitions "
        f"(reports: customer-overview --lakehouse-dir {settings.lakehouse_dir} reports serve)"
    )


if __name__ == "__main__":
    sys.exit(main())
