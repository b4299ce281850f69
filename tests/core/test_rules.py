"""Validation rules: loading errors and the Spark SQL meaning of each check."""

from __future__ import annotations

from pathlib import Path

import pytest

from customer_overview.entities import all_entities, load_entity
from customer_overview.errors import InvalidRulesError
from quality.rules import Rule, check_rules_compile, load_rules, violation_sql

CUSTOMERS = load_entity("customers")


def test_every_rules_file_loads():
    for entity in ("customers", "products", "accounts", "transactions"):
        rules = load_rules(entity)
        assert rules.entity == entity and rules.reject_rules


def test_the_seed_filter_is_implemented_as_meant():
    names = {rule.name for rule in load_rules("customers").rules}
    # the seed's AND/OR precedence bug made the middle-name rules swallow the whole filter
    assert {
        "middle_name_letters",
        "middle_name_length",
        "segment_allowed",
        "gender_allowed",
    } <= names
    segment = next(r for r in load_rules("customers").rules if r.name == "segment_allowed")
    assert "Semi-Urban" in (segment.values or ())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "entity: customers\nrules:\n  - {name: x, description: d, column: nope, check: not_null}\n",
            "names unknown column",
        ),
        (
            "entity: customers\nrules:\n  - {name: x, description: d, column: cust_id, check: regex}\n",
            "check 'regex' needs \\['pattern'\\]",
        ),
        (
            "entity: customers\nrules:\n  - {name: x, description: d, column: cust_id, check: sometimes}\n",
            "rules.0.check",
        ),
        (
            "entity: customers\nrules:\n  - {name: x, description: d, column: cust_id, check: not_null}\n"
            "  - {name: x, description: d, column: cust_id, check: not_null}\n",
            "duplicate rule names",
        ),
        ("entity: [unclosed\n", "not valid YAML"),
        (
            "entity: customers\nrules:\n  - {name: x, description: d, column: cust_id, "
            "check: references, entity: clients, other: cust_id}\n",
            "rule 'x' references unknown entity 'clients'",
        ),
    ],
)
def test_broken_rules_files_fail_with_the_file_and_the_rule(tmp_path: Path, text, message):
    (tmp_path / "customers.yaml").write_text(text)
    with pytest.raises(InvalidRulesError, match=message) as error:
        load_rules.__wrapped__("customers", tmp_path)
    assert str(tmp_path / "customers.yaml") in str(error.value)


CASES = [
    # (rule, row values, violated?)
    ({"check": "not_null", "column": "cust_id"}, {"cust_id": None}, True),
    ({"check": "not_null", "column": "cust_id"}, {"cust_id": "  "}, True),
    (
        {"check": "regex", "column": "cust_id", "pattern": "^[A-Za-z0-9]{10}$"},
        {"cust_id": "1234567890x"},
        True,
    ),
    (
        {"check": "regex", "column": "cust_id", "pattern": "^[A-Za-z0-9]{10}$"},
        {"cust_id": None},
        False,
    ),
    ({"check": "max_length", "column": "pin", "max": 3}, {"pin": "1234"}, True),
    (
        {"check": "in_set", "column": "cust_segment", "values": ["Urban"]},
        {"cust_segment": "Metro"},
        True,
    ),
    (
        {"check": "in_set", "column": "cust_segment", "values": ["Urban"]},
        {"cust_segment": None},
        False,
    ),
    (
        {"check": "between", "column": "cibil_score", "min": 300, "max": 900},
        {"cibil_score": 901},
        True,
    ),
    (
        {"check": "between", "column": "cibil_score", "min": 300, "max": 900},
        {"cibil_score": 300},
        False,
    ),
    (
        {"check": "between", "column": "cust_dob", "min": "1900-01-01", "max": "2030-12-31"},
        {"cust_dob": "1899-12-31"},
        True,
    ),
    (
        {"check": "not_after_column", "column": "created_at", "other": "modified_at"},
        {"created_at": "2024-01-02 00:00:00", "modified_at": "2024-01-01 00:00:00"},
        True,
    ),
    (
        {"check": "null_when", "column": "gender", "when": "customer_type <> 'Personal'"},
        {"gender": "Male", "customer_type": "Corporate"},
        True,
    ),
    (
        {"check": "null_when", "column": "gender", "when": "customer_type <> 'Personal'"},
        {"gender": "Male", "customer_type": "Personal"},
        False,
    ),
    (
        {
            "check": "in_set",
            "column": "cust_title",
            "values": ["Mr"],
            "when": "customer_type = 'Personal'",
        },
        {"cust_title": "Sir", "customer_type": "Corporate"},
        False,
    ),
]


def test_each_check_means_what_it_says(spark):
    columns = (
        "cust_id string, pin string, cust_segment string, cibil_score int, cust_dob date, "
        "created_at timestamp, modified_at timestamp, gender string, customer_type string, cust_title string"
    )
    selects = []
    rows = []
    for index, (params, values, _) in enumerate(CASES):
        rule = Rule(name=f"r{index}", description="d", **params)
        selects.append(
            f"CASE WHEN id = {index} THEN {violation_sql(rule, CUSTOMERS)} END AS v{index}"
        )
        rows.append(
            (index, *[values.get(name) for name in [c.split()[0] for c in columns.split(", ")]])
        )
    frame = spark.createDataFrame(
        [(r[0], *r[1:]) for r in rows],
        "id int, "
        + columns.replace("cust_dob date", "cust_dob string")
        .replace("created_at timestamp", "created_at string")
        .replace("modified_at timestamp", "modified_at string"),
    ).selectExpr(
        "id",
        "cust_id",
        "pin",
        "cust_segment",
        "cibil_score",
        "CAST(cust_dob AS DATE) AS cust_dob",
        "CAST(created_at AS TIMESTAMP) AS created_at",
        "CAST(modified_at AS TIMESTAMP) AS modified_at",
        "gender",
        "customer_type",
        "cust_title",
    )
    result = {row.id: row for row in frame.selectExpr("id", *selects).collect()}
    for index, (_, _, violated) in enumerate(CASES):
        assert bool(result[index][f"v{index}"]) is violated, CASES[index]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{name: typo, description: d, column: cust_title, check: not_null, "
            "when: \"customer_typ = 'Personal'\"}",
            "customer_typ",
        ),
        (
            "{name: unparsable, description: d, column: cust_id, check: expression, "
            "expression: 'cust_id IS NOT NULL AND AND'}",
            "not valid Spark SQL",
        ),
    ],
    ids=["unknown-column-in-when", "bad-expression"],
)
def test_rules_whose_sql_spark_rejects_name_the_file_and_rule(spark, tmp_path: Path, rule, message):
    (tmp_path / "customers.yaml").write_text(f"entity: customers\nrules:\n  - {rule}\n")
    rules = load_rules.__wrapped__("customers", tmp_path)
    with pytest.raises(InvalidRulesError, match=message) as error:
        check_rules_compile(spark, rules, CUSTOMERS)
    assert str(tmp_path / "customers.yaml") in str(error.value)
    assert f"rule {rules.rules[0].name!r}" in str(error.value)


def test_every_shipped_rule_compiles(spark):
    for schema in (
        *all_entities(),
        load_entity("customer_archetype"),
        load_entity("campaign_funnel"),
    ):
        check_rules_compile(spark, load_rules(schema.entity), schema)
