"""Spark SQL text helpers: quoting identifiers and literals in one place."""

from __future__ import annotations


def quote(identifier: str) -> str:
    """Backtick-quote a column name for Spark SQL."""
    return "`" + identifier.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """A single-quoted Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
