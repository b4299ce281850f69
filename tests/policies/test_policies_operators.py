"""Operators in pure Python: the reference semantics, SQL quoting and type checks (no Spark)."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from customer_overview.errors import InvalidPolicyError
from customer_overview.sql import quote, sql_string
from policies import OPERATORS, spark_string
from policies.operators import (
    BucketDateParams,
    BucketNumberParams,
    HashParams,
    PassThroughParams,
    RedactParams,
    RegexReplaceParams,
)

SHA256 = HashParams(algo="sha256")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_registry_is_keyed_by_operator_name() -> None:
    assert sorted(OPERATORS) == [
        "bucket_date",
        "bucket_number",
        "hash",
        "pass_through",
        "redact",
        "regex_replace",
    ]
    for name, operator in OPERATORS.items():
        assert operator.name == name


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("Zoë", "Zoë"),
        (9876543210, "9876543210"),
        (-7, "-7"),
        (True, "true"),
        (Decimal("12.50"), "12.50"),
        (Decimal("0E-2"), "0.00"),
        (Decimal("1E-10"), "1E-10"),  # Java's BigDecimal.toString(), as Spark prints it
        (date(2024, 1, 31), "2024-01-31"),
        (date(1, 1, 1), "0001-01-01"),
        (datetime(2024, 1, 31, 10, 0), "2024-01-31 10:00:00"),
        (datetime(2024, 1, 31, 10, 0, 0, 120000), "2024-01-31 10:00:00.12"),
    ],
)
def test_spark_string_renders_like_spark_cast(value: Any, rendered: str) -> None:
    assert spark_string(value) == rendered


def test_spark_string_refuses_floats() -> None:
    with pytest.raises(TypeError, match="no exact Spark string form for float"):
        spark_string(1.5)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Île-de-France", "Île-de-France"),
        ("😀", "😀"),
        (9876543210, "9876543210"),
        (date(1990, 5, 17), "1990-05-17"),
        (datetime(2024, 1, 31, 10, 0), "2024-01-31 10:00:00"),
    ],
)
def test_hash_is_sha256_hex_of_the_rendered_value(value: Any, text: str) -> None:
    assert OPERATORS["hash"].python_reference(value, SHA256) == sha256_hex(text)


def test_hash_keeps_null() -> None:
    assert OPERATORS["hash"].python_reference(None, SHA256) is None


def test_salted_hash_reads_the_salt_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_PII_SALT", "pepper")
    params = HashParams(algo="sha256", salt_env="CUSTOMER_PII_SALT")
    assert OPERATORS["hash"].python_reference("Ada", params) == sha256_hex("pepperAda")
    assert "'pepper'" in OPERATORS["hash"].spark_sql("`name`", "string", params)


def test_missing_salt_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOMER_PII_SALT", raising=False)
    params = HashParams(algo="sha256", salt_env="CUSTOMER_PII_SALT")
    with pytest.raises(InvalidPolicyError, match="environment variable CUSTOMER_PII_SALT"):
        OPERATORS["hash"].spark_sql("`name`", "string", params)
    with pytest.raises(InvalidPolicyError, match="CUSTOMER_PII_SALT"):
        OPERATORS["hash"].python_reference("Ada", params)


@pytest.mark.parametrize(
    ("value", "precision", "expected"),
    [
        (date(1990, 5, 17), "quarter", date(1990, 4, 1)),
        (date(2024, 2, 29), "quarter", date(2024, 1, 1)),
        (date(2024, 2, 29), "month", date(2024, 2, 1)),
        (date(2024, 2, 29), "week", date(2024, 2, 26)),  # a Monday
        (date(2024, 2, 29), "year", date(2024, 1, 1)),
        (date(2024, 2, 29), "day", date(2024, 2, 29)),
        (date(2024, 2, 29), "hour", date(2024, 2, 29)),
        (date(9999, 12, 31), "week", date(9999, 12, 27)),
        (date(2025, 1, 1), "week", date(2024, 12, 30)),  # across a year boundary
        (datetime(2024, 12, 31, 23, 59, 59, 999999), "hour", datetime(2024, 12, 31, 23, 0)),
        (datetime(2024, 12, 31, 23, 59, 59), "day", datetime(2024, 12, 31)),
        (datetime(2024, 11, 30, 0, 0), "quarter", datetime(2024, 10, 1)),
        (datetime(2024, 1, 1, 0, 0), "year", datetime(2024, 1, 1)),
    ],
)
def test_bucket_date_truncates_to_the_bucket_start(
    value: date, precision: str, expected: date
) -> None:
    params = BucketDateParams(precision=precision)  # type: ignore[arg-type]
    result = OPERATORS["bucket_date"].python_reference(value, params)
    assert result == expected
    assert type(result) is type(value)


@pytest.mark.parametrize(
    ("value", "size", "data_type", "expected"),
    [
        (17, "10", None, 10),
        (-5, "10", None, -10),
        (0, "10", None, 0),
        (-10, "10", None, -10),
        (Decimal("12.34"), "0.5", None, Decimal("12.0")),
        (Decimal("-0.01"), "0.5", None, Decimal("-0.5")),
        (-128, "10", "tinyint", None),  # -130 does not fit a tinyint
        (-120, "10", "tinyint", -120),
        (Decimal("-999.99"), "10", "decimal(5,2)", None),  # -1000.00 needs 6 digits
        (Decimal("999.99"), "10", "decimal(5,2)", Decimal("990.00")),
        (None, "10", None, None),
    ],
)
def test_bucket_number_gives_the_lower_bound(
    value: Any, size: str, data_type: str | None, expected: Any
) -> None:
    params = BucketNumberParams(bucket_size=Decimal(size))
    assert OPERATORS["bucket_number"].python_reference(value, params, data_type) == expected


@pytest.mark.parametrize(
    ("value", "data_type", "expected"),
    [
        ("Ada", "string", "REDACTED"),
        ("Ada", None, "REDACTED"),
        (date(1990, 5, 17), "date", None),
        (9876543210, "bigint", None),
        (None, "string", None),
    ],
)
def test_redact_never_returns_the_value(value: Any, data_type: str | None, expected: Any) -> None:
    assert OPERATORS["redact"].python_reference(value, RedactParams(), data_type) == expected


@pytest.mark.parametrize(
    ("pattern", "replacement", "value", "expected"),
    [
        (r"\d(?=\d{4})", "*", 9876543210, "******3210"),
        (r"^(\w)\w*", "$1.", "Ada", "A."),
        (r"(\w+)@(\w+)", "$2 at $1", "zoe@example", "example at zoe"),
        # Java reads "$12" as group 1 then "2" when the pattern has fewer than 12 groups.
        (r"(a)", "$12", "a", "a2"),
        (r"\w", "x", "é1", "éx"),  # \w is ASCII-only, as in Java
    ],
)
def test_regex_replace_uses_java_group_references(
    pattern: str, replacement: str, value: Any, expected: str
) -> None:
    params = RegexReplaceParams(pattern=pattern, replacement=replacement)
    assert OPERATORS["regex_replace"].python_reference(value, params) == expected


def test_pass_through_returns_the_value() -> None:
    value = datetime(2024, 1, 31, 10, 0)
    assert OPERATORS["pass_through"].python_reference(value, PassThroughParams()) is value


@pytest.mark.parametrize(
    ("operator", "params", "data_type", "problem"),
    [
        ("bucket_date", BucketDateParams(precision="quarter"), "string", "type string"),
        ("hash", SHA256, "double", "type double"),
        ("hash", SHA256, "array<string>", "type array<string>"),
        ("bucket_number", BucketNumberParams(bucket_size=Decimal("2.5")), "int", "not a whole"),
        (
            "bucket_number",
            BucketNumberParams(bucket_size=Decimal("0.005")),
            "decimal(18,2)",
            "more decimal places",
        ),
        ("bucket_number", BucketNumberParams(bucket_size=Decimal("10")), "double", "type double"),
        (
            "regex_replace",
            RegexReplaceParams(pattern="a", replacement="b"),
            "binary",
            "type binary",
        ),
    ],
)
def test_operator_refuses_column_types_it_cannot_mask(
    operator: str, params: Any, data_type: str, problem: str
) -> None:
    with pytest.raises(InvalidPolicyError, match=problem):
        OPERATORS[operator].spark_sql("`c`", data_type, params)


def test_sql_quoting() -> None:
    assert quote("odd`name") == "`odd``name`"
    assert sql_string("O'Brien \\ x") == "'O\\'Brien \\\\ x'"
