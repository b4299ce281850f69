"""Operators on real Spark: the SQL expressions give exactly what the Python reference says.

Cases are batched into one DataFrame (one column per operator x type) so that the whole matrix
costs a single Spark job.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from customer_overview.errors import InvalidPolicyError
from customer_overview.sql import sql_string
from policies import (
    OPERATORS,
    ColumnDecision,
    OperatorParams,
    apply_masks,
    masked_select_list,
    spark_string,
)
from policies.operators import (
    BucketDateParams,
    BucketNumberParams,
    HashParams,
    PassThroughParams,
    RedactParams,
    RegexReplaceParams,
)

TIMESTAMPS = [
    "2024-02-29 00:00:00",
    "2024-12-31 23:59:59.999999",
    "2025-01-01 00:00:00",
    "1900-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2024-01-31 10:00:00.12",
    "1990-05-17 13:45:00",
]
# (column, Spark type, PySpark type, values); None is NULL. Timestamps are built in Spark from
# text, in the session time zone, so the test does not depend on the Python process's zone.
SOURCES: list[tuple[str, str, Any, list[Any]]] = [
    (
        "text",
        "string",
        StringType(),
        ["Ada", "Zoë", "Søren", "Île-de-France", "😀 👩‍👩‍👧", "O'Brien \\ x", "a\nb", "中文", ""],
    ),
    (
        "day",
        "date",
        DateType(),
        [
            date(2024, 2, 29),
            date(1900, 1, 1),
            date(9999, 12, 31),
            date(2024, 12, 31),
            date(2025, 1, 1),
            date(1990, 5, 17),
            date(1, 1, 1),
        ],
    ),
    ("ts_text", "string", StringType(), TIMESTAMPS),
    ("int_value", "int", IntegerType(), [0, -1, -5, 17, -(2**31), 2**31 - 1]),
    ("bigint_value", "bigint", LongType(), [9876543210, -(2**63), 2**63 - 1, 0, -15]),
    ("tinyint_value", "tinyint", ByteType(), [-128, 127, -120, -1]),
    (
        "amount",
        "decimal(18,2)",
        DecimalType(18, 2),
        [
            Decimal("0.00"),
            Decimal("-0.01"),
            Decimal("12.34"),
            Decimal("-999.99"),
            Decimal("9999999999999999.99"),
        ],
    ),
    ("flag", "boolean", BooleanType(), [True, False]),
]
DERIVED = {
    "ts": ("timestamp", "CAST(ts_text AS TIMESTAMP)"),
    "ts_ntz": ("timestamp_ntz", "CAST(ts_text AS TIMESTAMP_NTZ)"),
}
SHA256 = HashParams(algo="sha256")


def python_values(column: str) -> list[Any]:
    """The input values of a case column, as Python sees them (naive session-zone times)."""
    if column in DERIVED:
        return [datetime.fromisoformat(text) for text in TIMESTAMPS]
    return next(values for name, _, _, values in SOURCES if name == column)


def data_type_of(column: str) -> str:
    if column in DERIVED:
        return DERIVED[column][0]
    return next(data_type for name, data_type, _, _ in SOURCES if name == column)


def operator_cases() -> list[tuple[str, str, OperatorParams]]:
    """(source column, operator, params) for every operator on every type it accepts."""
    renderable = [
        "text",
        "day",
        "ts",
        "ts_ntz",
        "int_value",
        "bigint_value",
        "tinyint_value",
        "amount",
        "flag",
    ]
    cases: list[tuple[str, str, OperatorParams]] = []
    cases += [(column, "hash", SHA256) for column in renderable]
    cases += [(column, "pass_through", PassThroughParams()) for column in renderable]
    cases += [(column, "redact", RedactParams()) for column in renderable]
    cases.append(("text", "redact", RedactParams(replacement="n/a 'x'")))
    for precision in ("hour", "day", "week", "month", "quarter", "year"):
        cases += [
            (column, "bucket_date", BucketDateParams(precision=precision))  # type: ignore[arg-type]
            for column in ("day", "ts", "ts_ntz")
        ]
    for column in ("int_value", "bigint_value", "tinyint_value"):
        cases.append((column, "bucket_number", BucketNumberParams(bucket_size=Decimal(10))))
    for size in ("0.5", "100", "0.01"):
        cases.append(("amount", "bucket_number", BucketNumberParams(bucket_size=Decimal(size))))
    cases += [
        ("text", "regex_replace", RegexReplaceParams(pattern=r"[aeiouéø]", replacement="*")),
        ("text", "regex_replace", RegexReplaceParams(pattern=r"^(\w)(\w*)", replacement="$2$1")),
        ("text", "regex_replace", RegexReplaceParams(pattern=r"\s", replacement="_")),
        (
            "bigint_value",
            "regex_replace",
            RegexReplaceParams(pattern=r"\d(?=\d{4})", replacement="#"),
        ),
        ("day", "regex_replace", RegexReplaceParams(pattern=r"-\d\d$", replacement="-XX")),
    ]
    return cases


def build_source_frame(spark: SparkSession) -> Any:
    length = max(len(values) for _, _, _, values in SOURCES) + 1  # the last row is all NULL
    rows = [
        (index, *[values[index] if index < len(values) else None for _, _, _, values in SOURCES])
        for index in range(length)
    ]
    schema = StructType(
        [StructField("row_id", IntegerType())]
        + [StructField(name, spark_type) for name, _, spark_type, _ in SOURCES]
    )
    frame = spark.createDataFrame(rows, schema)
    return frame.selectExpr("*", *[f"{sql} AS {name}" for name, (_, sql) in DERIVED.items()])


def expected_value(value: Any, operator: str, params: OperatorParams, data_type: str) -> Any:
    result = OPERATORS[operator].python_reference(value, params, data_type)
    # Timestamps are compared as Spark prints them (session time zone), see spark_view().
    return spark_string(result) if isinstance(result, datetime) else result


def test_spark_masks_equal_the_python_reference(spark: SparkSession) -> None:
    source = build_source_frame(spark)
    cases = operator_cases()
    aliases = [f"case_{index}" for index in range(len(cases))]
    cases_frame = source.selectExpr(
        "row_id",
        *[f"{column} AS {alias}" for alias, (column, _, _) in zip(aliases, cases, strict=True)],
    )
    decisions = {
        "row_id": ColumnDecision(
            "row_id", "pass_through", PassThroughParams(), None, None, "untagged"
        )
    }
    for alias, (_, operator, params) in zip(aliases, cases, strict=True):
        decisions[alias] = ColumnDecision(alias, operator, params, "test", 1, "test case")
    columns = [("row_id", "int")] + [
        (alias, data_type_of(column)) for alias, (column, _, _) in zip(aliases, cases, strict=True)
    ]
    masked = cases_frame.selectExpr(*masked_select_list(decisions, columns))
    spark_view = masked.selectExpr(
        *[
            f"CAST({field.name} AS STRING) AS {field.name}"
            if field.dataType.simpleString().startswith("timestamp")
            else field.name
            for field in masked.schema.fields
        ]
    )
    rows = sorted(spark_view.collect(), key=lambda row: row["row_id"])

    mismatches = []
    for alias, (column, operator, params) in zip(aliases, cases, strict=True):
        inputs = python_values(column)
        for row in rows:
            value = inputs[row["row_id"]] if row["row_id"] < len(inputs) else None
            expected = expected_value(value, operator, params, data_type_of(column))
            if row[alias] != expected:
                mismatches.append(
                    f"{operator} {params!r} on {column}={value!r}: "
                    f"spark {row[alias]!r}, python {expected!r}"
                )
    assert not mismatches, "\n".join(mismatches)
    # Types are kept where the operator promises it.
    types = dict(masked.dtypes)
    for alias, (column, operator, _) in zip(aliases, cases, strict=True):
        if operator in ("bucket_date", "bucket_number", "pass_through"):
            assert types[alias] == data_type_of(column), (alias, operator, column)


def test_seed_example_bucket_and_hash_values(spark: SparkSession) -> None:
    frame = spark.createDataFrame(
        [(date(1990, 5, 17), 9876543210)], "cust_dob date, mobile_number1 bigint"
    )
    decisions = {
        "cust_dob": ColumnDecision(
            "cust_dob", "bucket_date", BucketDateParams(precision="quarter"), "p", 85, ""
        ),
        "mobile_number1": ColumnDecision("mobile_number1", "hash", SHA256, "p", 80, ""),
    }
    row = apply_masks(frame, decisions).collect()[0]
    assert row["cust_dob"] == date(1990, 4, 1)
    assert row["mobile_number1"] == hashlib.sha256(b"9876543210").hexdigest()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(), min_size=1, max_size=80))
def test_hash_regex_and_literals_agree_with_python_for_any_text(
    spark: SparkSession, texts: list[str]
) -> None:
    regex = RegexReplaceParams(pattern=r"[a-z\d]", replacement="x")
    frame = spark.createDataFrame(list(enumerate(texts)), "row_id int, text string")
    # One job per example: the masked columns plus every text as a SQL literal.
    rows = frame.selectExpr(
        "row_id",
        f"{OPERATORS['hash'].spark_sql('`text`', 'string', SHA256)} AS hashed",
        f"{OPERATORS['regex_replace'].spark_sql('`text`', 'string', regex)} AS regexed",
        *[f"{sql_string(text)} AS literal_{index}" for index, text in enumerate(texts)],
    ).collect()
    for row in rows:
        text = texts[row["row_id"]]
        assert row["hashed"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert row["regexed"] == OPERATORS["regex_replace"].python_reference(text, regex)
    assert [rows[0][f"literal_{index}"] for index in range(len(texts))] == texts


def test_salted_hash_on_spark(spark: SparkSession, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUSTOMER_PII_SALT", "s'al\\t é")
    params = HashParams(algo="sha256", salt_env="CUSTOMER_PII_SALT")
    frame = spark.createDataFrame([("Zoë",), (None,)], "name string")
    decisions = {"name": ColumnDecision("name", "hash", params, "p", 1, "")}
    assert [row["name"] for row in apply_masks(frame, decisions).collect()] == [
        OPERATORS["hash"].python_reference("Zoë", params),
        None,
    ]


def test_dropped_columns_disappear_and_undecided_columns_fail(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("Ada", date(1990, 5, 17), 1)], "name string, dob date, id int")
    decisions = {
        "id": ColumnDecision("id", "pass_through", PassThroughParams(), None, None, "untagged"),
        "name": ColumnDecision("name", "redact", RedactParams(), None, None, "denied"),
        "dob": ColumnDecision("dob", "drop", None, None, None, "denied"),
    }
    view = apply_masks(frame, decisions)
    assert view.columns == ["name", "id"]
    assert view.collect()[0].asDict() == {"name": "REDACTED", "id": 1}

    del decisions["id"]
    with pytest.raises(InvalidPolicyError, match="column 'id' has no masking decision"):
        apply_masks(frame, decisions)


def test_type_mismatch_names_the_column_and_policy() -> None:
    decisions = {
        "email_addr": ColumnDecision(
            "email_addr",
            "bucket_date",
            BucketDateParams(precision="quarter"),
            "customerbucketdob",
            85,
            "",
        )
    }
    with pytest.raises(
        InvalidPolicyError,
        match=r"column 'email_addr' \(string\), policy 'customerbucketdob': operator 'bucket_date' "
        r"cannot mask a column of type string",
    ):
        masked_select_list(decisions, [("email_addr", "string")])


def test_identifiers_are_quoted(spark: SparkSession) -> None:
    frame = spark.createDataFrame([("Ada",)], "`odd name``x` string")
    decisions = {"odd name`x": ColumnDecision("odd name`x", "hash", SHA256, "p", 1, "")}
    assert apply_masks(frame, decisions).columns == ["odd name`x"]
