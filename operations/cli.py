"""``customer-overview``: the product's one console command.

Subcommands: ``generate`` (synthetic landing files), ``run`` (materialize the Dagster graph
headless), ``demo`` (both, on the embedded defaults), ``config show``, ``tables``.
Errors a user can cause print one clear line and exit 2; a failed run exits 1; a run refused
because another run is writing the lakehouse exits 3 (``lock.BUSY_EXIT_CODE``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from customer_overview.config import LakehouseSettings, available_profiles, load_settings
from customer_overview.errors import LakehouseError
from customer_overview.lock import BUSY_EXIT_CODE, LakehouseBusyError, LockHolder

if TYPE_CHECKING:
    from pipelines.runner import RunSummary

console = Console(stderr=False, width=140)
err_console = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> int:
    from customer_overview.file_modes import restrict_new_files

    # Everything this process creates (landing files, tables, exports, reports) is owner-only.
    restrict_new_files()
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args))
    except LakehouseBusyError as exc:
        err_console.print(f"[bold red]refused:[/] {exc}", highlight=False, soft_wrap=True)
        return BUSY_EXIT_CODE
    except LakehouseError as exc:
        err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False)
        return 2


def _settings(args: argparse.Namespace) -> LakehouseSettings:
    """Settings from the global options, falling back to the environment and the defaults."""
    return load_settings(profile=args.profile, lakehouse_dir=args.lakehouse_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customer-overview",
        description="Customer-overview data product: Spark + Iceberg lakehouse on Dagster.",
    )
    parser.add_argument(
        "--lakehouse-dir", help="state directory (default $LAKEHOUSE_DIR or ./lakehouse)"
    )
    parser.add_argument(
        "--profile", help="deployment profile (default $LAKEHOUSE_PROFILE or local)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser(
        "generate", help="write synthetic bank data as landing CSV files"
    )
    from generator.cli import add_arguments as add_generator_arguments

    add_generator_arguments(generate)
    generate.set_defaults(handler=_generate)

    run = commands.add_parser("run", help="materialize the pipeline headless (exit 1 on failure)")
    _add_run_arguments(run)
    run.set_defaults(handler=_run)

    demo = commands.add_parser(
        "demo", help="generate a sample into LAKEHOUSE_DIR/landing (if empty) and run everything"
    )
    demo.add_argument("--customers", type=int, default=20_000, help="sample size (default 20000)")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--months", type=int, default=3)
    _add_wait_argument(demo)
    demo.set_defaults(handler=_demo)

    config = commands.add_parser("config", help="show the effective configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser(
        "show", help="print the effective configuration (secrets hidden)"
    )
    show.set_defaults(handler=_config_show)
    profiles = config_commands.add_parser("profiles", help="list the deployment profiles")
    profiles.set_defaults(handler=_config_profiles)
    instance = config_commands.add_parser(
        "dagster-instance",
        help="add the product's Dagster instance settings (one run at a time, run monitoring, "
        "no telemetry) to $DAGSTER_HOME/dagster.yaml (default LAKEHOUSE_DIR/dagster_home)",
    )
    instance.set_defaults(handler=_config_dagster_instance)

    tables = commands.add_parser("tables", help="list the lakehouse's Iceberg tables (PyIceberg)")
    tables.set_defaults(handler=_tables)

    query = commands.add_parser(
        "query", help="run SQL on DuckDB over a role group's published tables (no copy)"
    )
    query.add_argument(
        "sql", help='e.g. "SELECT country, count(*) FROM customer_overview GROUP BY 1"'
    )
    query.add_argument(
        "--role", default="restricted", help="consumer role group (default restricted)"
    )
    query.add_argument("--as-of", help="published version, e.g. 1.0.0+2 (default: the latest)")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.set_defaults(handler=_query)

    export = commands.add_parser(
        "export-duckdb", help="write a DuckDB file with views over a role group's published tables"
    )
    export.add_argument("path", type=Path, help="the .duckdb file to write")
    export.add_argument(
        "--role", default="restricted", help="consumer role group (default restricted)"
    )
    export.add_argument(
        "--follow-latest",
        action="store_true",
        help="views read the newest published snapshot instead of the current version's",
    )
    export.set_defaults(handler=_export)

    cluster = commands.add_parser(
        "cluster", help="local scale-out environment: standalone Spark + private PostgreSQL"
    )
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True)
    cluster_start = cluster_commands.add_parser(
        "start", help="start Spark (master + workers) and PostgreSQL"
    )
    cluster_start.add_argument("--workers", type=int, default=2)
    cluster_start.add_argument("--worker-memory", default="1g")
    cluster_start.set_defaults(handler=_cluster_start)
    cluster_stop = cluster_commands.add_parser(
        "stop", help="stop everything `cluster start` started"
    )
    cluster_stop.set_defaults(handler=_cluster_stop)
    cluster_env = cluster_commands.add_parser(
        "env", help='print the exports that select the cluster profile (eval "$(... cluster env)")'
    )
    cluster_env.set_defaults(handler=_cluster_env)

    catalog = commands.add_parser("catalog", help="catalog administration")
    catalog_commands = catalog.add_subparsers(dest="catalog_command", required=True)
    migrate = catalog_commands.add_parser(
        "migrate",
        help="register every table of this lakehouse's catalog in another profile's catalog",
    )
    migrate.add_argument("--to", required=True, dest="target_profile", help="target profile")
    migrate.set_defaults(handler=_catalog_migrate)

    versions = commands.add_parser("versions", help="list the published versions of the product")
    versions.add_argument("--role", help="only this role group")
    versions.set_defaults(handler=_versions)

    reports = commands.add_parser("reports", help="quality reports, profiles and product cards")
    reports_commands = reports.add_subparsers(dest="reports_command", required=True)
    reports_serve = reports_commands.add_parser(
        "serve",
        help="serve LAKEHOUSE_DIR/reports read-only on http://127.0.0.1:PORT/ until Ctrl-C",
    )
    reports_serve.add_argument(
        "--port", type=int, help="TCP port (default: the profile's reports.port, 3030)"
    )
    reports_serve.set_defaults(handler=_reports_serve)

    update = commands.add_parser(
        "update-customer",
        help="write a landing drop with one customer's current row changed (refused, exit 2, "
        "if the rules would quarantine it); the next run curates it",
    )
    update.add_argument("cust_id", metavar="CUST_ID", help="the customer to change")
    update.add_argument(
        "--set",
        dest="assignments",
        action="append",
        required=True,
        metavar="COLUMN=VALUE",
        help="new value of a column (repeatable; an empty VALUE means no value)",
    )
    update.set_defaults(handler=_update_customer)
    return parser


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--select",
        help="Dagster asset selection, e.g. 'key:\"fs_accelerator/customer_overview_dp\"' or "
        "'group:ingest' (default: the whole graph)",
    )
    parser.add_argument(
        "--full-refresh", action="store_true", help="rebuild curated tables from the raw tables"
    )
    parser.add_argument(
        "--reingest-all", action="store_true", help="read every landing file again (idempotent)"
    )
    _add_wait_argument(parser)


def _add_wait_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        nargs="?",
        type=float,
        const=math.inf,
        default=0.0,
        metavar="SECONDS",
        help="when another run is writing the lakehouse, wait for it (at most SECONDS) instead "
        f"of refusing with exit code {BUSY_EXIT_CODE}",
    )


def _writer_lock(
    args: argparse.Namespace, settings: LakehouseSettings, command: str
) -> AbstractContextManager[LockHolder]:
    """The lakehouse's writer lock for this command, taken before any work starts."""
    from customer_overview.lock import writer_lock

    return writer_lock(
        settings,
        command=command,
        wait_seconds=args.wait,
        progress=lambda message: err_console.print(message, highlight=False, soft_wrap=True),
    )


# ------------------------------------------------------------------------------------ commands
def _generate(args: argparse.Namespace) -> int:
    from generator.cli import run as run_generator

    return run_generator(args)


def _run(args: argparse.Namespace) -> int:
    from pipelines.runner import run_config_for, run_pipeline

    settings = _settings(args)
    with _writer_lock(args, settings, "customer-overview run"):
        console.print(
            f"Running the pipeline on [bold]{settings.lakehouse_dir}[/] "
            f"(profile {settings.profile})"
        )
        summary = run_pipeline(
            settings,
            selection=args.select,
            run_config=run_config_for(
                full_refresh=args.full_refresh, reingest_all=args.reingest_all
            ),
        )
    _print_summary(summary, settings)
    return summary.exit_code


def _demo(args: argparse.Namespace) -> int:
    from customer_overview.entities import all_entities
    from customer_overview.landing import scan_landing
    from generator import GeneratorConfig, generate
    from pipelines.runner import run_config_for, run_pipeline

    settings = _settings(args)
    landing = settings.landing_dir
    with _writer_lock(args, settings, "customer-overview demo"):
        if any(scan_landing(landing, all_entities()).files.values()):
            console.print(
                f"Landing folder {landing} already has files: not generating a new sample."
            )
        else:
            console.print(f"Generating {args.customers:,} customers into {landing} ...")
            generate(
                GeneratorConfig(customers=args.customers, seed=args.seed, months=args.months),
                landing,
                progress=lambda message: err_console.print(f"  {message}", highlight=False),
            )
        summary = run_pipeline(settings, run_config=run_config_for())
    _print_summary(summary, settings)
    return summary.exit_code


def _config_show(args: argparse.Namespace) -> int:
    settings = _settings(args)
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


def _config_profiles(args: argparse.Namespace) -> int:
    for name, description in available_profiles().items():
        console.print(f"[bold]{name}[/]: {description}")
    return 0


def _config_dagster_instance(args: argparse.Namespace) -> int:
    from pipelines.runner import dagster_home, ensure_instance_settings

    home = dagster_home(_settings(args))
    added = ensure_instance_settings(home)
    what = f"added {', '.join(added)}" if added else "already complete"
    console.print(f"{home / 'dagster.yaml'}: {what}", highlight=False)
    return 0


def _tables(args: argparse.Namespace) -> int:
    from customer_overview.catalog import prepare_catalog

    settings = _settings(args)
    catalog = prepare_catalog(settings)
    table = Table(title=f"{settings.catalog_name}.{settings.namespace}")
    for column in ("table", "rows", "snapshot", "location"):
        table.add_column(column)
    for identifier in sorted(catalog.list_tables(settings.namespace)):
        iceberg = catalog.load_table(identifier)
        snapshot = iceberg.current_snapshot()
        rows = (
            snapshot.summary.get("total-records") if snapshot and snapshot.summary else None
        ) or "0"
        table.add_row(
            identifier[-1], rows, str(snapshot.snapshot_id if snapshot else "-"), iceberg.location()
        )
    console.print(table)
    return 0


def _query(args: argparse.Namespace) -> int:
    from assets.consumed.consume import query
    from customer_overview.product import load_manifest

    columns, rows, version = query(
        _settings(args), load_manifest(), args.sql, args.role, args.as_of
    )
    if args.format == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif args.format == "json":
        print(json.dumps([dict(zip(columns, row, strict=True)) for row in rows], default=str))
    else:
        table = Table(title=f"{args.role} @ {version}")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("NULL" if value is None else str(value) for value in row))
        console.print(table)
    return 0


def _export(args: argparse.Namespace) -> int:
    from assets.consumed.consume import export_duckdb
    from customer_overview.product import load_manifest

    views = export_duckdb(
        _settings(args), load_manifest(), args.path, args.role, pin_snapshots=not args.follow_latest
    )
    mode = "following the latest publish" if args.follow_latest else f"pinned to {views[0].version}"
    console.print(f"Wrote {args.path}: views {', '.join(v.name for v in views)} ({mode}).")
    console.print(
        "Open it with the duckdb CLI or duckdb-engine; LOAD the iceberg and avro extensions first."
    )
    return 0


def _cluster_folder(args: argparse.Namespace) -> Path:
    return _settings(args).lakehouse_dir / "cluster"


def _cluster_start(args: argparse.Namespace) -> int:
    from operations.local_cluster import start

    state = start(_cluster_folder(args), workers=args.workers, worker_memory=args.worker_memory)
    console.print(
        f"Spark master {state.spark_master_url} (UI {state.spark_master_ui}), "
        f"PostgreSQL catalog 127.0.0.1:{state.postgres_port}/lake; logs in {state.folder}/logs"
    )
    console.print(
        'Use it: eval "$(customer-overview --lakehouse-dir '
        f'{_settings(args).lakehouse_dir} cluster env)"'
    )
    return 0


def _cluster_stop(args: argparse.Namespace) -> int:
    from operations.local_cluster import stop

    stop(_cluster_folder(args))
    console.print("Stopped.")
    return 0


def _cluster_env(args: argparse.Namespace) -> int:
    import shlex

    from operations.local_cluster import ClusterState

    for key, value in ClusterState.load(_cluster_folder(args)).profile_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def _catalog_migrate(args: argparse.Namespace) -> int:
    from operations.migration import migrate_catalog

    source = _settings(args)
    target = load_settings(profile=args.target_profile, lakehouse_dir=args.lakehouse_dir)
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


def _reports_serve(args: argparse.Namespace) -> int:
    from operations.report_server import serve

    settings = _settings(args)
    port = settings.reports.port if args.port is None else args.port
    try:
        serve(
            settings.reports_dir, port, announce=lambda text: console.print(text, highlight=False)
        )
    except OSError as exc:
        err_console.print(f"[bold red]error:[/] cannot serve on 127.0.0.1:{port}: {exc}")
        return 2
    return 0


def _versions(args: argparse.Namespace) -> int:
    from customer_overview.publish_log import published_versions

    table = Table(title="Published versions")
    for column in ("version", "published_at", "run_id", "role_group", "table", "snapshot", "rows"):
        table.add_column(column)
    for row in published_versions(_settings(args), args.role):
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


def _update_customer(args: argparse.Namespace) -> int:
    from operations.update_customer import parse_assignments, update_customer

    settings = _settings(args)
    update = update_customer(None, settings, args.cust_id, parse_assignments(args.assignments))
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
            "Dagster UI:   make ui (run history, lineage, checks)",
            highlight=False,
            soft_wrap=True,
        )


if __name__ == "__main__":
    sys.exit(main())
