"""Consuming the published product offline: DuckDB over the published Iceberg tables.

No copy of the data is made: DuckDB's iceberg extension (from the PyPI packages
``duckdb-extension-iceberg`` / ``-avro``, so it works offline) reads the tables' own metadata and
parquet files. Versions are resolved from the publish log through PyIceberg (no JVM), so a query
starts in well under a second.

A consumer only reaches its role group's tables: the DuckDB connection gets views for those
tables only, and file access is then restricted to their folders.

Reading never writes. DuckDB's ``allowed_directories`` grants writing as well as reading, and some
table functions write files from inside a SELECT (``enable_profiling(save_location => ...)``,
``enable_logging(storage => 'file', ...)``), so ``query`` guards in three layers:

1. DuckDB's own parser classifies the text: exactly one statement, of type SELECT (which covers
   ``WITH ... SELECT``, ``VALUES``, ``FROM ...``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE``); PRAGMA,
   which the parser rewrites into a SELECT, and EXPLAIN (``EXPLAIN ANALYZE`` executes what it
   explains) are refused by name;
2. the statement's syntax tree (``json_serialize_sql``) may call only table functions known to
   read (:data:`READ_ONLY_TABLE_FUNCTIONS`: a function DuckDB adds later is refused until it is
   reviewed) and no scalar function with a side effect;
3. the connection runs with external access limited to the role group's table folders, extension
   auto-loading off, spill files outside the lakehouse, and its configuration locked.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg

from customer_overview.catalog import cached_catalog
from customer_overview.config import LakehouseSettings
from customer_overview.errors import LakehouseError
from customer_overview.product import DataProductManifest
from customer_overview.publish_log import published_versions
from customer_overview.version_hint import local_path


class ConsumptionError(LakehouseError):
    """A query cannot be answered: nothing published, unknown version or role group."""


class ReadOnlyQueryError(ConsumptionError):
    """The SQL given to ``query`` is not one read-only statement."""


READ_ONLY_RULE = "query accepts one read-only statement (SELECT)"

# Table functions a consumer's SELECT may call, each reviewed to only read: the views' own
# iceberg_scan, the file readers (confined to the role group's folders by allowed_directories),
# generators and introspection. Every other table function is refused, so one that DuckDB or an
# extension adds later (or one that writes: enable_profiling, enable_logging, checkpoint,
# set_iceberg_table_properties, iceberg_to_ducklake, query, json_execute_serialized_sql) cannot
# run until someone adds it here.
READ_ONLY_TABLE_FUNCTIONS = frozenset(
    {
        "duckdb_columns",
        "duckdb_functions",
        "duckdb_keywords",
        "duckdb_settings",
        "duckdb_tables",
        "duckdb_types",
        "duckdb_views",
        "generate_series",
        "glob",
        "iceberg_metadata",
        "iceberg_scan",
        "iceberg_snapshots",
        "json_each",
        "json_tree",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_metadata",
        "parquet_scan",
        "parquet_schema",
        "pragma_table_info",
        "range",
        "read_avro",
        "read_blob",
        "read_csv",
        "read_csv_auto",
        "read_json",
        "read_json_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_parquet",
        "read_text",
        "repeat",
        "sniff_csv",
        "summary",
        "unnest",
    }
)
# Statements DuckDB's parser acts on while parsing (their PRAGMA handlers read files).
PARSE_TIME_KEYWORDS = frozenset({"PRAGMA", "IMPORT"})
# Scalar functions with an effect outside the result (write_log appends to DuckDB's log, which
# enable_logging can point at a file).
WRITING_SCALAR_FUNCTIONS = frozenset({"write_log"})


@dataclass(frozen=True)
class PublishedView:
    """One output as a role group sees it in one published version."""

    name: str  # the view name consumers query, e.g. customer_overview
    table: str  # the Iceberg table, e.g. customer_overview_dp__restricted
    version: str
    snapshot_id: int
    metadata_location: str
    table_location: str


def _extension_files() -> list[Path]:
    files = []
    for module in (duckdb_extension_avro, duckdb_extension_iceberg):
        files += sorted(Path(module.__file__).parent.glob("extensions/*/*.duckdb_extension"))
    if len(files) < 2:
        raise ConsumptionError(
            "DuckDB iceberg/avro extension files not found in the duckdb-extension-* packages"
        )
    return files


def duckdb_connection(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the iceberg and avro extensions loaded from the PyPI packages."""
    connection = duckdb.connect(database)
    for extension in _extension_files():
        connection.execute(f"LOAD '{extension}'")
    return connection


def resolve_views(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    role_group: str,
    as_of: str | None = None,
) -> list[PublishedView]:
    """The outputs of ``role_group`` in version ``as_of`` (default: the latest published).

    ``as_of`` is a published version (``1.0.0+2``, with or without a leading ``v``) or a
    manifest version (``1.0.0``: its latest publish).

    Raises:
        ConsumptionError: Unknown role group, nothing published, or an unknown version.
    """
    manifest.role_group(role_group)  # raises ManifestError naming the known groups
    rows = published_versions(settings, role_group)
    if not rows:
        raise ConsumptionError(
            f"nothing is published yet for role group {role_group!r}: run the pipeline first"
        )
    versions = list(dict.fromkeys(row["version"] for row in rows))
    if as_of is None:
        version = versions[-1]
    else:
        wanted = as_of[1:] if re.match(r"^v\d", as_of) else as_of
        matching = [v for v in versions if v == wanted or v.split("+")[0] == wanted]
        if not matching:
            raise ConsumptionError(
                f"version {as_of!r} was never published; published versions: {', '.join(versions)}"
            )
        version = matching[-1]
    catalog = cached_catalog(settings)
    views = []
    for row in rows:
        if row["version"] != version:
            continue
        table = catalog.load_table(settings.table_identifier(row["table_name"]))
        views.append(
            PublishedView(
                name=manifest.output(row["output"]).name,
                table=row["table_name"],
                version=version,
                snapshot_id=int(row["snapshot_id"]),
                metadata_location=table.metadata_location,
                table_location=table.location(),
            )
        )
    return views


def create_views(
    connection: duckdb.DuckDBPyConnection, views: list[PublishedView], pin_snapshots: bool = True
) -> None:
    """One DuckDB view per output: pinned to the published snapshot, or following the latest."""
    for view in views:
        if pin_snapshots:
            source = (
                f"iceberg_scan('{view.metadata_location}', snapshot_from_id => {view.snapshot_id})"
            )
        else:
            # The folder's version-hint.text, rewritten by every publish (write_version_hint).
            source = (
                f"iceberg_scan('{local_path(view.table_location)}', "
                "metadata_compression_codec => 'gzip')"
            )
        connection.execute(f'CREATE OR REPLACE VIEW "{view.name}" AS SELECT * FROM {source}')


def require_read_only(sql: str) -> None:
    """Refuse ``sql`` unless it is one SELECT-like statement that calls only reading functions.

    Raises:
        ReadOnlyQueryError: Not SQL DuckDB can parse, several statements, a statement that is
            not a SELECT (COPY, ATTACH, INSTALL, SET, PRAGMA, CREATE, EXPLAIN...), or a SELECT
            that calls a table function not known to only read; the message names the
            statement or function and the rule.
    """
    leading = _leading_keywords(sql)
    if PARSE_TIME_KEYWORDS.intersection(leading):
        # Refused before parsing: DuckDB's parser runs PRAGMA handlers (IMPORT DATABASE is
        # one), which read files while the SQL is parsed.
        described = f"{len(leading)} statements ({'; '.join(leading)})"
        raise ReadOnlyQueryError(
            f"{READ_ONLY_RULE}; got {described if len(leading) > 1 else leading[0]}"
        )
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ReadOnlyQueryError(f"{READ_ONLY_RULE}; the SQL does not parse: {exc}") from None
    if len(statements) != 1:
        if not statements:
            raise ReadOnlyQueryError(f"{READ_ONLY_RULE}; got no statement")
        kinds = "; ".join(statement.type.name for statement in statements)
        hint = (
            " (a PIVOT without an IN list creates a type first: list its values with IN (...))"
            if leading[:1] == ["PIVOT"]
            else ""
        )
        raise ReadOnlyQueryError(
            f"{READ_ONLY_RULE}; got {len(statements)} statements ({kinds}){hint}"
        )
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        keyword = leading[0] if leading else None
        name = keyword if keyword not in (None, "WITH", "FROM") else statement.type.name
        raise ReadOnlyQueryError(f"{READ_ONLY_RULE}; got {name}")
    for kind, function in _called_functions(sql):
        if kind == "table function" and function not in READ_ONLY_TABLE_FUNCTIONS:
            raise ReadOnlyQueryError(
                f"{READ_ONLY_RULE}; the SELECT calls table function {function}(), which is not "
                f"known to only read (allowed: {', '.join(sorted(READ_ONLY_TABLE_FUNCTIONS))})"
            )
        if kind == "function" and function in WRITING_SCALAR_FUNCTIONS:
            raise ReadOnlyQueryError(
                f"{READ_ONLY_RULE}; the SELECT calls {function}(), which writes outside its result"
            )


def _leading_keywords(sql: str) -> list[str]:
    """The first keyword of every statement in ``sql`` (upper case), by DuckDB's tokenizer.

    The tokenizer only splits the text (comments and string literals are single tokens), so
    this runs nothing, unlike the parser.
    """
    keywords: list[str] = []
    at_statement_start = True
    for position, token_type in duckdb.tokenize(sql):
        if token_type == duckdb.token_type.operator and sql[position] == ";":
            at_statement_start = True
        elif at_statement_start and token_type == duckdb.token_type.keyword:
            match = re.match(r"[A-Za-z_]+", sql[position:])
            keywords.append(match.group(0).upper() if match else "?")
            at_statement_start = False
    return keywords


def _called_functions(sql: str) -> list[tuple[str, str]]:
    """(``table function`` | ``function``, name) for every call in a SELECT's syntax tree."""
    with duckdb.connect(":memory:") as parser:
        serialized = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(serialized[0]) if serialized else {}
    if tree.get("error"):
        raise ReadOnlyQueryError(f"{READ_ONLY_RULE}; {tree.get('error_message')}")
    return list(_walk_calls(tree))


def _walk_calls(node: object) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        if node.get("type") == "TABLE_FUNCTION" and isinstance(node.get("function"), dict):
            yield "table function", str(node["function"].get("function_name", "")).lower()
            yield from _walk_calls(node["function"].get("children", []))
            for key, value in node.items():
                if key != "function":
                    yield from _walk_calls(value)
            return
        if node.get("class") == "FUNCTION" and "function_name" in node:
            yield "function", str(node["function_name"]).lower()
        for value in node.values():
            yield from _walk_calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_calls(item)


def restrict_to(
    connection: duckdb.DuckDBPyConnection,
    views: list[PublishedView],
    spill_directory: str,
    local_warehouse: bool = True,
) -> None:
    """Confine a consumer's connection, then lock its configuration.

    On a local warehouse, files are reachable only under the role group's own tables (DuckDB
    then refuses every other path, also for reading). Whatever the warehouse, spill files go to
    ``spill_directory`` instead of DuckDB's default ``.tmp`` in the working directory (which may
    be the lakehouse), and no extension is installed or loaded behind the query's back.
    """
    # Before external access is limited: DuckDB refuses to move temp_directory afterwards.
    connection.execute(f"SET temp_directory = '{spill_directory}'")
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    if local_warehouse:
        folders = ", ".join(f"'{local_path(view.table_location)}'" for view in views)
        connection.execute(f"SET allowed_directories = [{folders}]")
        connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def query(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    sql: str,
    role_group: str,
    as_of: str | None = None,
) -> tuple[list[str], list[tuple[Any, ...]], str]:
    """Run ``sql`` on DuckDB over ``role_group``'s published outputs.

    Returns:
        (column names, rows, the version answered from).

    Raises:
        ReadOnlyQueryError: ``sql`` is not one read-only statement (checked before anything is
            opened).
    """
    require_read_only(sql)
    views = resolve_views(settings, manifest, role_group, as_of)
    with (
        tempfile.TemporaryDirectory(prefix="customer-overview-query-") as spill,
        duckdb_connection() as connection,
    ):
        create_views(connection, views, pin_snapshots=True)
        restrict_to(
            connection, views, spill, local_warehouse=settings.warehouse.startswith("file:")
        )
        try:
            cursor = connection.execute(sql)
            columns = [column[0] for column in cursor.description or []]
            return columns, cursor.fetchall(), views[0].version
        except duckdb.Error as exc:
            raise ConsumptionError(f"query failed: {exc}") from None


def export_duckdb(
    settings: LakehouseSettings,
    manifest: DataProductManifest,
    path: Path,
    role_group: str,
    pin_snapshots: bool = True,
) -> list[PublishedView]:
    """Write a DuckDB database file with one view per output of ``role_group``.

    BI tools that speak DuckDB (Superset through duckdb-engine, Metabase, Rill) open it and must
    load the iceberg and avro extensions (the views call ``iceberg_scan``).
    """
    _refuse_product_path(settings, path)
    views = resolve_views(settings, manifest, role_group)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built next to the target and renamed over it: a BI tool never opens a half-written file.
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    connection = duckdb_connection(str(partial))
    try:
        create_views(connection, views, pin_snapshots=pin_snapshots)
        connection.execute(
            "CREATE TABLE product_info AS SELECT * FROM (VALUES "
            + ", ".join(
                f"('{manifest.name}', '{view.version}', '{role_group}', '{view.name}', "
                f"'{view.table}', {view.snapshot_id})"
                for view in views
            )
            + ") AS t(product, version, role_group, view_name, iceberg_table, snapshot_id)"
        )
    finally:
        connection.close()
    partial.replace(path)
    return views


def _refuse_product_path(settings: LakehouseSettings, path: Path) -> None:
    """An export is a new file next to the product, never one of the product's own files.

    Raises:
        ConsumptionError: ``path`` is inside the warehouse or the landing folder, or is the
            SQLite catalog: renaming the export over it would corrupt the lakehouse.
    """
    target = path.resolve()
    protected: list[tuple[str, Path]] = [("the landing folder", settings.landing_dir)]
    if settings.warehouse.startswith("file:"):
        protected.append(("the warehouse", Path(local_path(settings.warehouse))))
    for name, folder in protected:
        if target.is_relative_to(folder.resolve()):
            raise ConsumptionError(
                f"{path}: an export is never written inside {name} ({folder}); "
                f"the default place is {settings.duckdb_export('<role group>')}"
            )
    if settings.catalog.type == "sqlite":
        catalog = settings.sqlite_catalog_path.resolve()
        if target.parent == catalog.parent and target.name.startswith(catalog.name):
            raise ConsumptionError(f"{path}: an export is never written over the catalog")
