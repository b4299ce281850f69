"""The rule -> Great Expectations mapping, directly.

For each check kind: which expectation a rule becomes and with which arguments (a native GX
expectation where GX has one that means the same, otherwise the rule's own Spark SQL as a computed
boolean column); the seed's column assertions (``missing_count``, ``invalid_count``,
``duplicate_count``) as expectations; and a real GX validation on a Spark DataFrame that reports an
unexpected count for a missing value and for an invalid one.
"""

from __future__ import annotations

from typing import Any

import great_expectations as gx
import pytest
from lakehouse_support import customer

from customer_overview.entities import load_entity
from quality.expectations import (
    build_expectations,
    rule_expectation,
    seed_assertion_expectations,
    with_rule_flags,
)
from quality.rules import Rule, load_rules

CUSTOMERS = load_entity("customers")
FLAG = "expect_column_values_to_be_in_set"  # a computed flag column must be all TRUE

MAPPING = [
    # (entity, rule fields, expectation type, expected kwargs)
    (
        "customers",
        {"check": "not_null", "column": "cibil_score"},
        "expect_column_values_to_not_be_null",
        {"column": "cibil_score"},
    ),
    # blank text counts as missing, as in curation: the rule's SQL as a flag
    (
        "customers",
        {"check": "not_null", "column": "city"},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
    (
        "customers",
        {"check": "regex", "column": "city", "pattern": "^\\p{L}+\\z"},
        "expect_column_values_to_match_regex",
        {"column": "city", "regex": "^\\p{L}+\\z"},
    ),
    (
        "customers",
        {"check": "max_length", "column": "city", "max": 30},
        "expect_column_value_lengths_to_be_between",
        {"column": "city", "max_value": 30},
    ),
    (
        "customers",
        {"check": "max_length", "column": "mobile_number1", "max": 10},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
    (
        "customers",
        {"check": "in_set", "column": "cust_segment", "values": ["Urban", "Rural"]},
        "expect_column_values_to_be_in_set",
        {"column": "cust_segment", "value_set": ["Urban", "Rural"]},
    ),
    (
        "customers",
        {"check": "between", "column": "cibil_score", "min": 300, "max": 900},
        "expect_column_values_to_be_between",
        {"column": "cibil_score", "min_value": 300.0, "max_value": 900.0},
    ),
    (
        "customers",
        {"check": "between", "column": "cust_dob", "min": "1900-01-01", "max": "2030-12-31"},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
    (
        "customers",
        {"check": "not_after_column", "column": "created_at", "other": "modified_at"},
        "expect_column_pair_values_a_to_be_greater_than_b",
        {"column_A": "modified_at", "column_B": "created_at", "or_equal": True},
    ),
    (
        "customers",
        {"check": "null_when", "column": "cust_dob", "when": "customer_type = 'Personal'"},
        "expect_column_values_to_be_null",
        {
            "column": "cust_dob",
            "condition_parser": "spark",
            "row_condition": {
                "type": "pass_through",
                "pass_through_filter": "customer_type = 'Personal'",
            },
        },
    ),
    # blank text is empty, as for not_null: the rule's SQL as a flag
    (
        "customers",
        {"check": "null_when", "column": "gender", "when": "customer_type <> 'Personal'"},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
    (
        "customers",
        {
            "check": "in_set",
            "column": "gender",
            "values": ["Male"],
            "when": "customer_type = 'Personal'",
        },
        "expect_column_values_to_be_in_set",
        {
            "column": "gender",
            "value_set": ["Male"],
            "condition_parser": "spark",
            "row_condition": {
                "type": "pass_through",
                "pass_through_filter": "customer_type = 'Personal'",
            },
        },
    ),
    (
        "customers",
        {"check": "expression", "column": "minor_flag", "expression": "minor_flag = 'No'"},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
    (
        "accounts",
        {"check": "references", "column": "cust_id", "entity": "customers", "other": "cust_id"},
        FLAG,
        {"column": "_rule_r", "value_set": [True]},
    ),
]


@pytest.mark.parametrize(
    ("entity", "fields", "expectation_type", "kwargs"),
    MAPPING,
    ids=[f"{m[1]['check']}-{m[1]['column']}" for m in MAPPING],
)
def test_each_check_kind_becomes_its_expectation(entity, fields, expectation_type, kwargs):
    rule = Rule(name="r", description="d", **fields)
    expectation = rule_expectation(rule, load_entity(entity))
    assert expectation.expectation_type == expectation_type
    assert {k: v for k, v in expectation.configuration.kwargs.items() if k in kwargs} == kwargs
    assert set(kwargs) >= {
        k for k in expectation.configuration.kwargs if k in ("column", "regex", "value_set")
    }


def test_seed_assertions_become_unexpected_count_expectations():
    rules = load_rules("customers")
    made = {
        expectation.meta["rule"]: expectation
        for assertion in rules.seed_assertions
        for expectation in seed_assertion_expectations(assertion, CUSTOMERS, rules)
    }
    kinds = {name: (e.expectation_type, e.configuration.kwargs) for name, e in made.items()}
    assert kinds["seed_cust_id_duplicate_count"] == (
        "expect_column_values_to_be_unique",
        {"column": "cust_id"},
    )
    assert kinds["seed_cust_id_invalid_count"][0] == "expect_column_values_to_match_regex"
    assert kinds["seed_cust_segment_missing_count"] == (
        "expect_column_values_to_not_be_null",
        {"column": "cust_segment"},
    )
    # uniqueness only where the column is a key; the seed's segment has no invalid_count test
    assert "seed_cust_segment_duplicate_count" not in kinds
    assert "seed_cust_segment_invalid_count" not in kinds
    for column in (
        "sourcing_channel",
        "customer_risk_category",
        "customer_category",
        "customer_privelege",
    ):
        assert kinds[f"seed_{column}_missing_count"] == (
            "expect_column_values_to_not_be_null",
            {"column": column},
        )
        kind, kwargs = kinds[f"seed_{column}_invalid_count"]
        assert kind == "expect_column_values_to_be_in_set" and kwargs["column"] == column
        assert f"seed_{column}_duplicate_count" not in kinds
    assert set(kinds["seed_sourcing_channel_invalid_count"][1]["value_set"]) == {
        "Branch",
        "Partner",
        "Online",
    }
    assert all(e.meta["blocking"] for e in made.values())
    # ...and they are part of the table's suite
    suite = {e.meta["rule"] for e in build_expectations(CUSTOMERS, rules)}
    assert set(made) <= suite


def _typed_customers(spark, rows: list[dict[str, str]]):
    columns = CUSTOMERS.column_names
    text = spark.createDataFrame(
        [tuple(row.get(c) for c in columns) for row in rows],
        ", ".join(f"{c} string" for c in columns),
    )
    return text.selectExpr(
        *[f"CAST(nullif({c}, '') AS {CUSTOMERS.column(c).type}) AS {c}" for c in columns]
    )


def _validate(frame, expectations: list[Any]) -> dict[str, Any]:
    """A real GX (ephemeral context, Spark data source) validation of ``frame``."""
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_spark(name="spark")
        .add_dataframe_asset(name="customers")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    suite = gx.ExpectationSuite(name="customers", expectations=expectations)
    result = batch.validate(suite, result_format="SUMMARY")
    return {r.expectation_config.meta["rule"]: r for r in result.results}


def test_a_real_validation_counts_missing_and_invalid_values(spark, session_settings):
    rules = load_rules("customers")
    rows = [
        customer("1000000001"),
        customer("1000000002", sourcing_channel=""),  # missing
        customer("1000000003", sourcing_channel="Kiosk"),  # invalid
        customer("1000000004", cust_segment="", city="  "),  # missing, blank
        customer("1000000004"),  # the key twice
    ]
    frame = with_rule_flags(
        spark, session_settings, _typed_customers(spark, rows), CUSTOMERS, rules
    ).persist()
    # The suite's expectations on the columns the rows break, and on two they keep (each
    # expectation is a few Spark jobs; the whole suite runs end to end in tests/test_end_to_end.py).
    columns = {"cust_id", "cust_segment", "sourcing_channel", "city"}
    on_columns = {r.name for r in rules.rules if r.column in columns}
    expectations = [
        e
        for e in build_expectations(CUSTOMERS, rules)
        if e.meta["rule"] in on_columns or e.meta["rule"].startswith(("seed_", "key_"))
    ]
    assert len(expectations) > 20
    try:
        results = _validate(frame, expectations)
    finally:
        frame.unpersist()
    unexpected = {
        name: r.result.get("unexpected_count") for name, r in results.items() if not r.success
    }
    assert unexpected == {
        "seed_sourcing_channel_missing_count": 1,
        "seed_sourcing_channel_invalid_count": 1,
        "sourcing_channel_present": 1,
        "sourcing_channel_allowed": 1,
        "seed_cust_segment_missing_count": 1,
        "segment_present": 1,
        "city_present": 1,
        "city_text": 1,
        "key_unique": 2,
        "seed_cust_id_duplicate_count": 2,
    }
    assert results["seed_sourcing_channel_invalid_count"].result["partial_unexpected_list"] == [
        "Kiosk"
    ]
