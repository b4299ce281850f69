"""Spark SQL text helpers: quoting identifiers and literals in one place."""

from __future__ import annotations


def quote(identifier: str) -> str:
    """Backtick-quote a column name for Spark SQL."""
    return "`" + identifier.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """A single-quoted Spark SQL string literal that Spark parses back to exactly ``text``.

    Spark's parser processes backslash escapes inside quoted literals (the default,
    ``spark.sql.parser.escapedStringLiterals=false``), so backslashes and single quotes are
    escaped with a backslash; every other character, newlines and non-ASCII text included, is
    kept as is.
    """
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
