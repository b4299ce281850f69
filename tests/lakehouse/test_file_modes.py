"""Personal data on disk is owner-only; a role group's export is readable by its Unix group only.

A real ``customer-overview generate`` + ``run`` on a small sample, with ``dob_bucketed`` given a
Unix group in the manifest, on a lakehouse folder created 0755 the way older versions did. Then
every file's mode is checked, and another user opens the exports through DuckDB: with the group
it reads the dob_bucketed export, without it nothing.
"""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import yaml

from customer_overview.config import load_settings
from customer_overview.file_modes import OWNER_ONLY_UMASK
from customer_overview.product import load_manifest, manifest_path
from customer_overview.tables import load_iceberg_table
from customer_overview.version_hint import local_path

CLI = (sys.executable, "-m", "operations.cli")
SHARED_GROUP = "dob_bucketed"
NOBODY = 65534
SWITCH_TO_NOBODY = ("setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}")
# Acting as another user takes root (the test machines and CI run as root).
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="switching users needs root"
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_spark_writes_owner_only_files_whatever_the_process_umask(lakehouse, lake_spark):
    table = lakehouse.spark_table("modes_probe")
    lake_spark.sql(
        f"CREATE TABLE {table} (id bigint, part string) USING iceberg PARTITIONED BY (part)"
    )
    lake_spark.sql(f"INSERT INTO {table} VALUES (1, 'a'), (2, 'b')")
    folder = Path(local_path(load_iceberg_table(lakehouse, "modes_probe").location()))
    written = [Path(root) / name for root, dirs, files in os.walk(folder) for name in dirs + files]
    assert any(path.suffix == ".parquet" for path in written)
    assert {oct(_mode(path)) for path in written if _mode(path) & OWNER_ONLY_UMASK} == set()


@pytest.fixture(scope="module")
def shared_group() -> grp.struct_group:
    return next(g for g in grp.getgrall() if g.gr_gid not in (0, NOBODY, os.getgid()))


@pytest.fixture(scope="module")
def published(shared_group: grp.struct_group):
    """A lakehouse after one real run, in a folder another user could reach if allowed."""
    # pytest's own temporary folders are private to root: another user could not even try.
    top = Path(tempfile.mkdtemp(prefix="file-modes-"))
    os.chmod(top, 0o711)
    lakehouse_dir = top / "lakehouse"
    lakehouse_dir.mkdir(mode=0o755)
    os.chmod(lakehouse_dir, 0o755)  # as created before: readable by everyone
    manifest = yaml.safe_load(manifest_path().read_text(encoding="utf-8"))
    for group in manifest["consumers"]["role_groups"]:
        if group["name"] == SHARED_GROUP:
            group["unix_group"] = shared_group.gr_name
    manifest_file = top / "dataproduct.yaml"
    manifest_file.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"} | {
        "LAKEHOUSE_PROFILE": "local",
        "DATAPRODUCT_MANIFEST": str(manifest_file),
    }
    landing = lakehouse_dir / "landing"
    for command in (
        [*CLI, "generate", "--customers", "300", "--months", "1", "--out", str(landing)],
        [*CLI, "--lakehouse-dir", str(lakehouse_dir), "run"],
    ):
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
        assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    settings = load_settings(profile="local", lakehouse_dir=lakehouse_dir, env={})
    yield settings, load_manifest(manifest_file)
    shutil.rmtree(top)


def test_personal_data_is_owner_only_and_shares_are_the_configured_group(published, shared_group):
    settings, manifest = published
    root = settings.lakehouse_dir
    shared_tables = [
        Path(local_path(load_iceberg_table(settings, o.published_table(SHARED_GROUP)).location()))
        for o in manifest.outputs
    ]
    shared_export = settings.duckdb_export(SHARED_GROUP)
    traversed = {root, shared_export.parent, *(p for t in shared_tables for p in t.parents)}
    checked = 0
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if path == shared_export or any(path.is_relative_to(t) for t in shared_tables):
                assert path.lstat().st_gid == shared_group.gr_gid, path
                assert _mode(path) == (0o750 if path.is_dir() else 0o640), path
            elif path in traversed:
                assert _mode(path) == 0o711, path
            checked += 1
    assert checked > 500
    assert _mode(root) == 0o711
    # The kinds the issue names, explicitly: landing, catalog, exports, PII outputs, reports, runs.
    pii_folder = Path(
        local_path(load_iceberg_table(settings, "customer_overview_dp__pii_reader").location())
    )
    for path in (
        next((settings.landing_dir / "customers").glob("*.csv")),
        settings.sqlite_catalog_path,
        settings.duckdb_export("pii_reader"),
        next(pii_folder.rglob("*.parquet")),
        next((settings.reports_dir / "profiles").rglob("*.html")),
        settings.lakehouse_dir / ".lakehouse.lock",
    ):
        assert _mode(path) == 0o600, path
    for path in (settings.dagster_home, settings.landing_dir, pii_folder):
        assert _mode(path) == 0o700, path


TRY_EVERY_PATH = textwrap.dedent(
    """
    import os, sys
    opened = []
    for path in open(sys.argv[1], encoding="utf-8").read().splitlines():
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                os.close(os.open(path, os.O_RDONLY))
            opened.append(path)
        except OSError:
            pass
    print("\\n".join(opened))
    """
)


@needs_root
def test_another_user_can_open_nothing_under_the_lakehouse(published):
    settings, _ = published
    root = settings.lakehouse_dir
    paths = [str(Path(f) / n) for f, dirs, files in os.walk(root) for n in dirs + files]
    listing = Path(tempfile.mkdtemp()) / "paths.txt"
    listing.write_text("\n".join(paths), encoding="utf-8")
    os.chmod(listing.parent, 0o755)
    os.chmod(listing, 0o644)
    try:
        finished = subprocess.run(
            [*SWITCH_TO_NOBODY, "--clear-groups", sys.executable, "-c", TRY_EVERY_PATH, listing],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        shutil.rmtree(listing.parent)
    assert finished.returncode == 0, finished.stderr
    assert len(paths) > 500
    assert finished.stdout.split() == []  # not one file or folder: landing, tables, reports...


READ_EXPORT = textwrap.dedent(
    """
    import sys
    import duckdb
    from assets.consumed.consume import _extension_files
    try:
        connection = duckdb.connect(sys.argv[1], read_only=True)
        for extension in _extension_files():
            connection.execute(f"LOAD '{extension}'")
        print(connection.execute("SELECT count(*) FROM customer_overview").fetchone()[0])
    except (duckdb.Error, OSError) as error:
        print("refused:", error)
    """
)


def _read_as_nobody(export: Path, groups: str) -> str:
    """Open ``export`` with DuckDB as user nobody with supplementary ``groups`` (``""``: none)."""
    group_option = [f"--groups={groups}"] if groups else ["--clear-groups"]
    finished = subprocess.run(
        [*SWITCH_TO_NOBODY, *group_option, sys.executable, "-c", READ_EXPORT, str(export)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": os.environ["PATH"], "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stdout.strip()


@needs_root
def test_only_the_configured_group_reads_its_export(published, shared_group):
    settings, _ = published
    shared = settings.duckdb_export(SHARED_GROUP)
    rows = _read_as_nobody(shared, str(shared_group.gr_gid))
    assert rows.isdigit() and int(rows) > 0, rows
    assert _read_as_nobody(shared, "").startswith("refused:")
    assert _read_as_nobody(
        settings.duckdb_export("pii_reader"), str(shared_group.gr_gid)
    ).startswith("refused:")
