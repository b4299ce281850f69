"""Who may read the lakehouse's files: its owner, and each role group's configured Unix group.

Everything under ``LAKEHOUSE_DIR`` holds clear personal data or leads to it (landing files, raw,
curated and quarantine tables, ``__pii_reader`` outputs, exports, the catalog, profiles with
samples, Dagster's run history), so it is created owner-only: processes run with umask 077
(directories 0700, files 0600), Spark's Hadoop file system gets the same umask for the files its
executors write, and ``LAKEHOUSE_DIR`` itself is tightened when a run starts, which also closes
lakehouses created before this rule.

A role group may name a ``unix_group`` in ``dataproduct.yaml`` (``consumers.role_groups``): its
DuckDB export (``exports/<group>.duckdb``) and the Iceberg tables the export's views read
(``<output>__<group>``) then belong to that group, readable by it (files 0640, folders 0750);
the folders above them may be traversed but not listed (0711), and everything else stays
owner-only.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from customer_overview.config import LakehouseSettings
from customer_overview.errors import ConfigurationError
from customer_overview.product import DataProductManifest
from customer_overview.version_hint import local_path

OWNER_ONLY_UMASK = 0o077
OWNER_ONLY_DIR = 0o700
OWNER_ONLY_FILE = 0o600
# Search without listing: a group member reaches its shared files by path, and nothing else.
TRAVERSE_ONLY_DIR = 0o711
GROUP_READ_DIR = 0o750
GROUP_READ_FILE = 0o640
_GROUP_AND_OTHER = 0o077


def restrict_new_files() -> None:
    """Create every later file and folder of this process owner-only (umask 077)."""
    os.umask(OWNER_ONLY_UMASK)


@dataclass(frozen=True)
class GroupShare:
    """Files one role group's Unix group may read: its export and its tables' folders."""

    role_group: str
    unix_group: str
    gid: int
    export: Path
    table_folders: tuple[Path, ...]


def group_shares(settings: LakehouseSettings, manifest: DataProductManifest) -> list[GroupShare]:
    """The role groups of ``manifest`` that name a ``unix_group``, with the paths they read.

    Raises:
        ConfigurationError: A ``unix_group`` does not exist on this machine.
    """
    shares = []
    for group in manifest.consumers.role_groups:
        if not group.unix_group:
            continue
        try:
            gid = grp.getgrnam(group.unix_group).gr_gid
        except KeyError:
            raise ConfigurationError(
                f"dataproduct.yaml: consumers.role_groups[{group.name}].unix_group "
                f"{group.unix_group!r}: no such Unix group on this machine"
            ) from None
        tables = [output.published_table(group.name) for output in manifest.outputs]
        shares.append(
            GroupShare(
                role_group=group.name,
                unix_group=group.unix_group,
                gid=gid,
                export=settings.duckdb_export(group.name),
                table_folders=tuple(_local_table_folders(settings, tables)),
            )
        )
    return shares


def secure_lakehouse(settings: LakehouseSettings, manifest: DataProductManifest) -> None:
    """Make ``LAKEHOUSE_DIR`` owner-only (0700), or traverse-only (0711) when groups share.

    With no group share, the folder's own mode protects everything beneath it. With shares,
    others may traverse it, so every existing file and folder under it that is not shared is
    made owner-only too (lakehouses created before this rule had 0644/0755 everywhere), then the
    shares are granted.

    Raises:
        ConfigurationError: A ``unix_group`` does not exist, or cannot be given to a file.
    """
    root = settings.lakehouse_dir
    root.mkdir(parents=True, exist_ok=True, mode=OWNER_ONLY_DIR)
    shares = group_shares(settings, manifest)
    if not shares:
        _set_mode(root, OWNER_ONLY_DIR)
        return
    shared = {path for share in shares for path in (share.export, *share.table_folders)}
    _set_mode(root, TRAVERSE_ONLY_DIR)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [name for name in dirs if here / name not in shared]
        for name in dirs:
            _remove_group_and_other(here / name)
        for name in files:
            if here / name not in shared:
                _remove_group_and_other(here / name)
    grant_group_shares(settings, shares)


def grant_group_shares(settings: LakehouseSettings, shares: Iterable[GroupShare]) -> None:
    """Give each share's export and table folders to its group (re-run after every publish).

    Raises:
        ConfigurationError: This user may not give files to the group (not a member).
    """
    for share in shares:
        targets = [share.export] if share.export.exists() else []
        targets += [folder for folder in share.table_folders if folder.exists()]
        for target in targets:
            _open_path_to(target, stop_at=_top_of(settings, target))
            for path in _tree(target):
                mode = GROUP_READ_DIR if path.is_dir() else GROUP_READ_FILE
                _give_to_group(path, share, mode)


# ------------------------------------------------------------------------------------ helpers
def _local_table_folders(settings: LakehouseSettings, tables: list[str]) -> Iterable[Path]:
    from pyiceberg.exceptions import NoSuchTableError

    from customer_overview.catalog import cached_catalog

    if not settings.warehouse.startswith("file:"):
        return  # object storage has its own access control
    catalog = cached_catalog(settings)
    for table in tables:
        try:
            location = catalog.load_table(settings.table_identifier(table)).location()
        except NoSuchTableError:
            continue  # not published yet
        yield Path(local_path(location))


def _top_of(settings: LakehouseSettings, target: Path) -> Path:
    """The highest folder whose search permission a share needs (the lakehouse or warehouse)."""
    if target.is_relative_to(settings.lakehouse_dir):
        return settings.lakehouse_dir
    return Path(local_path(settings.warehouse))


def _open_path_to(target: Path, stop_at: Path) -> None:
    """Let others search (not list) every folder from ``stop_at`` down to ``target``'s parent."""
    folder = target.parent
    while True:
        current = stat.S_IMODE(folder.stat().st_mode)
        wanted = (current & ~_GROUP_AND_OTHER) | 0o011
        if current != wanted:
            os.chmod(folder, wanted)
        if folder == stop_at or folder == folder.parent or not folder.is_relative_to(stop_at):
            return
        folder = folder.parent


def _tree(path: Path) -> Iterable[Path]:
    yield path
    if path.is_dir():
        for folder, dirs, files in os.walk(path):
            for name in (*dirs, *files):
                yield Path(folder) / name


def _give_to_group(path: Path, share: GroupShare, mode: int) -> None:
    info = path.lstat()
    if info.st_gid != share.gid:
        try:
            os.chown(path, -1, share.gid, follow_symlinks=False)
        except PermissionError:
            user = pwd.getpwuid(os.geteuid()).pw_name
            raise ConfigurationError(
                f"dataproduct.yaml: consumers.role_groups[{share.role_group}].unix_group "
                f"{share.unix_group!r}: user {user} may not give {path} to that group "
                f"(add {user} to the group, or remove unix_group)"
            ) from None
    if stat.S_IMODE(info.st_mode) != mode and not stat.S_ISLNK(info.st_mode):
        os.chmod(path, mode)


def _set_mode(path: Path, mode: int) -> None:
    if stat.S_IMODE(path.stat().st_mode) != mode:
        os.chmod(path, mode)


def _remove_group_and_other(path: Path) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return
    current = stat.S_IMODE(info.st_mode)
    if current & _GROUP_AND_OTHER:
        os.chmod(path, current & ~_GROUP_AND_OTHER)
