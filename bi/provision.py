"""Superset objects for the role groups: users, roles, databases, datasets, charts, dashboards.

Runs inside ``.venv-superset`` with Superset's app context (``python -m bi.provision``), after
``superset db upgrade`` and ``superset init``; ``python -m bi.superset setup`` calls it. Every
step is idempotent: objects are found by UUID or name and updated in place.

Isolation, per role group G (restricted, dob_bucketed, pii_reader):
- Superset role ``G`` holds exactly: ``database_access`` on the database ``customer_overview (G)``
  (the DuckDB file ``exports/G.duckdb``) and ``datasource_access`` on that database's datasets.
- G's three dashboards list role ``G`` (DASHBOARD_RBAC) and are owned by the admin only.
- User ``G`` has the roles ``Gamma`` (Superset's base viewer role, no data access at all) and
  ``G``. So a group's user can reach no other group's database, dataset, chart or dashboard.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from unittest import mock

from bi.bundle import build_bundle, load_templates, manifest, write_zip
from bi.superset import ROLE_GROUPS, export_file

ADMIN = "admin"


def extension_files() -> list[str]:
    """Absolute paths of the avro and iceberg extension files inside this virtualenv.

    Avro first: loading iceberg would otherwise try to install avro from the network.
    """
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    files = []
    for module in (duckdb_extension_avro, duckdb_extension_iceberg):
        found = sorted(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))
        if not found:
            raise SystemExit(f"no DuckDB extension file in {Path(module.__file__).parent}")
        files.append(str(found[-1]))
    return files


def table_folders(export_path: Path) -> list[str]:
    """The Iceberg table folders the export file's views read (iceberg_scan('<folder>'))."""
    import re

    import duckdb

    connection = duckdb.connect(str(export_path), read_only=True)
    try:
        views = connection.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    finally:
        connection.close()
    found = {
        re.sub(r"^file:(//)?", "", path)
        for (sql,) in views
        for path in re.findall(r"iceberg_scan\(\s*'([^']+)'", sql or "")
    }
    return sorted(found)


def _load_logins(path: Path) -> dict[str, dict[str, Any]]:
    return json.loads(path.read_text()) if path.exists() else {}


def _save_logins(path: Path, logins: dict[str, dict[str, Any]]) -> None:
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(logins, handle, indent=2)
    os.replace(path.with_suffix(".tmp"), path)
    path.chmod(0o600)


def _split_contents(contents: dict[str, str]) -> dict[str, dict[str, str]]:
    """The bundle as Superset's per-type import commands expect it (root folder removed)."""
    plain = {name.split("/", 1)[1]: text for name, text in contents.items()}
    by_type = {}
    for kind in ("Database", "SqlaTable", "Slice", "Dashboard"):
        files = dict(plain)
        files["metadata.yaml"] = f"version: 1.0.0\ntype: {kind}\ntimestamp: '1970-01-01T00:00:00'\n"
        by_type[kind] = files
    return by_type


def _ensure_user(
    security_manager: Any,
    logins: dict[str, dict[str, Any]],
    username: str,
    roles: list[Any],
    first_name: str,
    created: list[str],
) -> Any:
    user = security_manager.find_user(username=username)
    password = logins.get(username, {}).get("password")
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user = security_manager.add_user(
            username, first_name, "viewer", f"{username}@localhost", roles, password=password
        )
        if not user:
            raise SystemExit(f"could not create Superset user {username}")
        created.append(username)
    else:
        user.roles = roles
        if password is None:  # lost the logins file: set a new password and record it
            password = secrets.token_urlsafe(12)
            security_manager.reset_password(user.id, password)
            created.append(username)
    logins[username] = {"password": password, "roles": [role.name for role in roles]}
    return user


def provision(lakehouse_dir: Path, groups: tuple[str, ...]) -> dict[str, Any]:
    """Create or update everything; returns a summary with ids (and new passwords)."""
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db, security_manager
        from superset.commands.chart.importers.v1 import ImportChartsCommand
        from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
        from superset.commands.database.importers.v1 import ImportDatabasesCommand
        from superset.commands.dataset.importers.v1 import ImportDatasetsCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.models.core import Database
        from superset.models.dashboard import Dashboard
        from superset.models.slice import Slice
        from superset.utils.core import override_user

        state_dir = lakehouse_dir / "superset"
        logins_path = state_dir / "logins.json"
        logins = _load_logins(logins_path)
        created: list[str] = []

        admin_role = security_manager.find_role("Admin")
        gamma = security_manager.find_role("Gamma")
        if admin_role is None or gamma is None:
            raise SystemExit("Superset roles missing: run `superset init` first")
        admin = _ensure_user(security_manager, logins, ADMIN, [admin_role], "Superset", created)
        db.session.commit()

        templates = load_templates()
        contents = build_bundle(lakehouse_dir, extension_files(), groups, templates)
        write_zip(contents, state_dir / "dashboards_bundle.zip")
        by_type = _split_contents(contents)
        # Superset's dataset import asks the database whether each table exists, only to decide
        # whether to load sample data from a `data:` URL (unused here); for DuckDB that opens
        # several connections per dataset, each loading the extensions (~15 s in all). Our
        # datasets are virtual: answer "exists" for the duration of the import.
        with override_user(admin), mock.patch.object(Database, "has_table", return_value=True):
            # Each type with overwrite, so an edited template replaces the stored object
            # (the dashboard import alone would keep existing charts and datasets as they were).
            ImportDatabasesCommand(by_type["Database"], overwrite=True).run()
            ImportDatasetsCommand(by_type["SqlaTable"], overwrite=True).run()
            ImportChartsCommand(by_type["Slice"], overwrite=True).run()
            ImportDashboardsCommand(by_type["Dashboard"], overwrite=True).run()

        plan = manifest(groups, templates)
        summary: dict[str, Any] = {"groups": {}, "created_logins": created}
        for group in groups:
            spec = plan[group]
            database = db.session.query(Database).filter_by(uuid=spec["database"]["uuid"]).one()
            # Keep the connection in step with this virtualenv (import does not overwrite it).
            database.set_sqlalchemy_uri(f"duckdb:///{export_file(lakehouse_dir, group).resolve()}")
            permissions = [
                security_manager.add_permission_view_menu("database_access", database.perm)
            ]
            datasets = {}
            for view, dataset_uuid in spec["datasets"].items():
                dataset = db.session.query(SqlaTable).filter_by(uuid=dataset_uuid).one()
                dataset.fetch_metadata()  # columns and types from the export file's view
                dataset.owners = [admin]
                permissions.append(
                    security_manager.add_permission_view_menu("datasource_access", dataset.perm)
                )
                datasets[view] = dataset.id
            role = security_manager.find_role(group) or security_manager.add_role(group)
            role.permissions = permissions

            dashboards = {}
            charts = {}
            for name, dashboard_spec in spec["dashboards"].items():
                dashboard = db.session.query(Dashboard).filter_by(uuid=dashboard_spec["uuid"]).one()
                dashboard.roles = [role]
                dashboard.owners = [admin]
                dashboard.published = True
                dashboards[name] = dashboard.id
                for key, chart_spec in dashboard_spec["charts"].items():
                    chart = db.session.query(Slice).filter_by(uuid=chart_spec["uuid"]).one()
                    chart.owners = [admin]
                    charts[f"{name}.{key}"] = chart.id
            _ensure_user(security_manager, logins, group, [gamma, role], group, created)
            summary["groups"][group] = {
                "table_folders": table_folders(export_file(lakehouse_dir, group)),
                "database_id": database.id,
                "datasets": datasets,
                "dashboards": dashboards,
                "charts": charts,
            }
        db.session.commit()
        _save_logins(logins_path, logins)
        summary["logins_file"] = str(logins_path)
        return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lakehouse-dir", type=Path, required=True)
    parser.add_argument("--groups", nargs="*", default=list(ROLE_GROUPS))
    parser.add_argument("--summary", type=Path, help="write the summary JSON here")
    args = parser.parse_args(argv)
    summary = provision(args.lakehouse_dir.resolve(), tuple(args.groups))
    text = json.dumps(summary, indent=2)
    if args.summary:
        args.summary.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
