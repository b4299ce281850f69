"""``customer-overview query`` only reads: whatever the SQL, no byte under the lakehouse changes.

The classification tests are pure (DuckDB's parser, no lakehouse). The CLI tests run every kind
of writing statement against the session's published lakehouse (``first_run``) aimed at its own
files (a data file, a ``version-hint.text``, new files inside a table folder) and compare a hash
of every file under the warehouse and the exports before and after.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from assets.consumed.consume import (
    READ_ONLY_RULE,
    ConsumptionError,
    ReadOnlyQueryError,
    export_duckdb,
    require_read_only,
)
from customer_overview.product import load_manifest
from customer_overview.version_hint import local_path
from operations.cli import main as cli

ACCEPTED = [
    "SELECT 1",
    "select count(*) from customer_overview",
    "WITH c AS (SELECT 1 AS n) SELECT n FROM c",
    "VALUES (1, 'a'), (2, 'b')",
    "FROM range(3)",
    "DESCRIBE customer_overview",
    "SHOW TABLES",
    "SUMMARIZE SELECT 1 AS n",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT ';' AS semicolon_in_a_string",
    "-- a comment first\nSELECT 1;",
    "SELECT * FROM iceberg_scan('/somewhere') WHERE 1 IN (SELECT unnest([1, 2]))",
]

# (SQL, what the refusal names)
REFUSED = [
    ("COPY (SELECT 1) TO '/tmp/x.csv'", "got COPY"),
    ("ATTACH '/tmp/x.duckdb' AS x", "got ATTACH"),
    ("DETACH x", "got DETACH"),
    ("INSTALL httpfs", "got INSTALL"),
    ("LOAD httpfs", "got LOAD"),
    ("SET threads = 1", "got SET"),
    ("RESET threads", "got RESET"),
    ("PRAGMA version", "got PRAGMA"),
    ("pragma enable_profiling", "got PRAGMA"),
    ("IMPORT DATABASE '/tmp/x'", "got IMPORT"),
    ("CREATE TABLE t AS SELECT 1", "got CREATE"),
    ("INSERT INTO t VALUES (1)", "got INSERT"),
    ("WITH s AS (SELECT 1) INSERT INTO t SELECT * FROM s", "got INSERT"),
    ("UPDATE t SET a = 1", "got UPDATE"),
    ("DELETE FROM t", "got DELETE"),
    ("DROP TABLE t", "got DROP"),
    ("ALTER TABLE t ADD COLUMN b INT", "got ALTER"),
    ("EXPORT DATABASE '/tmp/x'", "got EXPORT"),
    ("CALL checkpoint()", "got CALL"),
    ("CHECKPOINT", "got CHECKPOINT"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/x.csv'", "got EXPLAIN"),
    ("USE memory", "got USE"),
    ("SELECT 1; COPY (SELECT 1) TO '/tmp/x.csv'", "got 2 statements (SELECT; COPY)"),
    ("SELECT 1; PRAGMA import_database('/tmp/x')", "got 2 statements (SELECT; PRAGMA)"),
    ("", "got no statement"),
    ("SELEC 1", "does not parse"),
    # SELECTs that write through a table function: refused by name.
    ("SELECT * FROM enable_profiling(save_location => '/tmp/p.json')", "enable_profiling()"),
    ("FROM enable_logging(storage => 'file', storage_path => '/tmp/logs')", "enable_logging()"),
    ("SELECT 1 WHERE 1 IN (SELECT 1 FROM main.checkpoint())", "checkpoint()"),
    ("FROM query('SELECT 1')", "query()"),
    ("SELECT write_log('x')", "write_log()"),
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_select_like_statements_are_accepted(sql):
    require_read_only(sql)


@pytest.mark.parametrize(("sql", "named"), REFUSED, ids=[sql[:40] for sql, _ in REFUSED])
def test_every_other_statement_is_refused_by_name(sql, named):
    with pytest.raises(ReadOnlyQueryError) as refused:
        require_read_only(sql)
    message = str(refused.value)
    assert message.startswith(READ_ONLY_RULE) and named in message


# ------------------------------------------------------------------ on a published lakehouse
def _fingerprint(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders`` (a new, changed or removed file changes it)."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def published(lake, first_run):
    assert first_run.exit_code == 0, (first_run.failed_steps, first_run.blocking_failures)
    warehouse = Path(local_path(lake.warehouse))
    table = warehouse / lake.namespace / "customer_overview_dp__restricted"
    data_file = next(iter(sorted((table / "data").rglob("*.parquet"))))
    return {
        "settings": lake,
        "folders": (warehouse, lake.lakehouse_dir / "exports"),
        "table": table,
        "data_file": data_file,
    }


WRITES = [
    (
        "COPY (SELECT 'broken') TO '{table}/metadata/version-hint.text' (FORMAT csv, HEADER false)",
        "got COPY",
    ),
    (
        "COPY (SELECT * FROM customer_overview LIMIT 1) TO '{data_file}' (FORMAT parquet)",
        "got COPY",
    ),
    ("ATTACH '{table}/metadata/attached.duckdb' AS attached", "got ATTACH"),
    ("INSTALL httpfs", "got INSTALL"),
    ("SET temp_directory = '{table}/metadata/spill'", "got SET"),
    ("PRAGMA import_database('{table}')", "got PRAGMA"),
    ("CREATE TABLE copied AS SELECT * FROM customer_overview", "got CREATE"),
    ("EXPORT DATABASE '{table}/metadata/exported'", "got EXPORT"),
    (
        "SELECT 1; COPY (SELECT * FROM customer_overview) TO '{table}/metadata/all.csv'",
        "got 2 statements (SELECT; COPY)",
    ),
    (
        "SELECT * FROM enable_profiling(format => 'json', "
        "save_location => '{table}/metadata/profile.json')",
        "enable_profiling()",
    ),
    (
        "SELECT * FROM enable_logging(storage => 'file', storage_path => '{table}/metadata/logs')",
        "enable_logging()",
    ),
]


@pytest.mark.parametrize(("template", "named"), WRITES, ids=[t[:45] for t, _ in WRITES])
def test_query_refuses_writes_and_the_lakehouse_is_unchanged(published, capsys, template, named):
    settings = published["settings"]
    before = _fingerprint(*published["folders"])
    sql = template.format(table=published["table"], data_file=published["data_file"])
    # The CLI's own path, as an operator types it; the hash is taken after the command
    # returned, so a write deferred to closing the connection (a profile) would show too.
    code = cli(
        ["--lakehouse-dir", str(settings.lakehouse_dir), "query", "--role", "restricted", sql]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "ReadOnlyQueryError" in err and READ_ONLY_RULE in " ".join(err.split())
    assert named in " ".join(err.split())
    assert _fingerprint(*published["folders"]) == before


def test_reads_still_answer_after_the_refusals(published, capsys):
    settings = published["settings"]
    code = cli(
        [
            "--lakehouse-dir",
            str(settings.lakehouse_dir),
            "query",
            "--format",
            "json",
            "WITH c AS (SELECT count(*) AS n FROM customer_overview) SELECT n > 0 AS some FROM c",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == [{"some": True}]


def test_export_is_never_written_inside_the_warehouse_or_landing(published, tmp_path):
    settings = published["settings"]
    before = _fingerprint(*published["folders"])
    for target in (
        published["table"] / "metadata" / "version-hint.text",
        published["data_file"],
        settings.landing_dir / "customers" / "export.duckdb",
    ):
        with pytest.raises(ConsumptionError, match="never written inside"):
            export_duckdb(settings, load_manifest(), target, "restricted")
    assert _fingerprint(*published["folders"]) == before
    # Anywhere else is fine.
    views = export_duckdb(settings, load_manifest(), tmp_path / "mine.duckdb", "restricted")
    assert views and (tmp_path / "mine.duckdb").stat().st_size > 0
