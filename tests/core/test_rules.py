"""Validation rules: loading errors and the Spark SQL meaning of each check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from lakehouse_support import customer

from customer_overview.entities import all_entities, load_entity
from customer_overview.errors import InvalidRulesError
from quality.rules import RULES_DIR, Rule, check_rules_compile, load_rules, violation_sql

CUSTOMERS = load_entity("customers")


def shipped_rules(entity: str) -> dict[str, Any]:
    """The shipped rules file of ``entity`` as plain data, to change one thing in it."""
    return yaml.safe_load((RULES_DIR / f"{entity}.yaml").read_text(encoding="utf-8"))


def load_changed(tmp_path: Path, entity: str, data: dict[str, Any]):
    """Write ``data`` as ``tmp_path/<entity>.yaml`` and load it (uncached)."""
    (tmp_path / f"{entity}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return load_rules.__wrapped__(entity, tmp_path)


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
        {"check": "regex", "column": "cust_id", "pattern": "^[A-Za-z0-9]{10}\\z"},
        {"cust_id": "1234567890x"},
        True,
    ),
    (
        {"check": "regex", "column": "cust_id", "pattern": "^[A-Za-z0-9]{10}\\z"},
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
    # blank text is empty, as for not_null
    (
        {"check": "null_when", "column": "gender", "when": "customer_type <> 'Personal'"},
        {"gender": "  ", "customer_type": "Corporate"},
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
    data = shipped_rules("customers")
    data["rules"].append(yaml.safe_load(rule))
    rules = load_changed(tmp_path, "customers", data)
    with pytest.raises(InvalidRulesError, match=message) as error:
        check_rules_compile(spark, rules, CUSTOMERS)
    assert str(tmp_path / "customers.yaml") in str(error.value)
    assert f"rule {rules.rules[-1].name!r}" in str(error.value)


def test_every_shipped_rule_compiles(spark):
    for schema in (
        *all_entities(),
        load_entity("customer_archetype"),
        load_entity("campaign_funnel"),
    ):
        check_rules_compile(spark, load_rules(schema.entity), schema)


# ------------------------------------------------------------- what must be present, what may not
# The seed's filter rejects a row whose value is missing for every column it tests with IN,
# LENGTH, BETWEEN or REGEXP_like (none is true on NULL) or IS NOT NULL.
REQUIRED_BY_THE_SEED = (
    "cust_id",
    "cust_first_name",
    "cust_segment",
    "customer_category",
    "customer_privelege",
    "customer_type",
    "email_addr",
    "mobile_number1",
    "sourcing_channel",
    "customer_risk_category",
    "afflunce_level",
    "customer_status",
    "nationality",
    "customer_addressline1",
    "city",
    "state",
    "country",
    "pin",
    "cibil_check_date",
    "cibil_score",
    "country_code",
)
PERSONAL_FIELDS = (
    "cust_title",
    "gender",
    "marital_status",
    "minor_flag",
    "senior_citizen_flag",
    "occupation",
)
CORPORATE = {
    "customer_type": "Corporate",
    "cust_first_name": "Sharma",
    "cust_last_name": "Enterprises",
    "cust_dob": "2004-03-09",
    **dict.fromkeys(PERSONAL_FIELDS, ""),
}


def test_every_column_is_required_or_declared_optional_with_a_reason():
    for schema in all_entities():
        rules = load_rules(schema.entity)
        required = {rule.column for rule in rules.rules if rule.check == "not_null"}
        assert required | set(rules.optional_columns) == set(schema.column_names), schema.entity
        assert all(reason.strip() for reason in rules.optional_columns.values())


def test_every_column_the_seed_requires_has_an_unconditional_not_null_rule():
    rules = load_rules("customers")
    unconditional = {r.column for r in rules.rules if r.check == "not_null" and not r.when}
    assert set(REQUIRED_BY_THE_SEED) <= unconditional
    assert not set(REQUIRED_BY_THE_SEED) & set(rules.optional_columns)
    for column in PERSONAL_FIELDS:
        assert any(
            r.column == column and r.check == "not_null" and r.when == "customer_type = 'Personal'"
            for r in rules.rules
        ), column


def broken_rules(spark, rows: list[dict[str, str | None]]) -> list[set[str]]:
    """The reject rules each landed (text) customer row breaks, with curation's SQL."""
    rules = load_rules("customers")
    columns = CUSTOMERS.column_names
    text = spark.createDataFrame(
        [tuple(row.get(c) for c in columns) for row in rows],
        ", ".join(f"{c} string" for c in columns),
    )
    # An empty CSV field is NULL, as Spark's CSV parser reads it for curation.
    typed = text.selectExpr(
        *[f"CAST(nullif({c}, '') AS {CUSTOMERS.column(c).type}) AS {c}" for c in columns]
    )
    verdicts = typed.selectExpr(
        *[f"{violation_sql(r, CUSTOMERS)} AS {r.name}" for r in rules.reject_rules]
    ).collect()
    return [{name for name, broken in row.asDict().items() if broken} for row in verdicts]


def test_a_valid_personal_and_a_valid_business_customer_break_nothing(spark):
    rows = [customer("1000000001"), customer("1000000002", **CORPORATE)]
    no_dob = customer("1000000003", **{**CORPORATE, "cust_dob": ""})
    assert broken_rules(spark, [*rows, no_dob]) == [set(), set(), set()]


def test_a_row_missing_a_value_the_seed_requires_breaks_that_columns_not_null_rule(spark):
    rules = load_rules("customers")
    present_rule = {r.column: r.name for r in rules.rules if r.check == "not_null" and not r.when}
    rows = [{**customer("1000000001"), column: ""} for column in REQUIRED_BY_THE_SEED]
    verdicts = broken_rules(spark, rows)
    for column, broken in zip(REQUIRED_BY_THE_SEED, verdicts, strict=True):
        assert broken == {present_rule[column]}, column


def test_a_personal_customer_without_a_personal_field_is_rejected(spark):
    rows = [customer("1000000001", **{column: ""}) for column in (*PERSONAL_FIELDS, "cust_dob")]
    verdicts = broken_rules(spark, rows)
    assert all(len(broken) == 1 for broken in verdicts), verdicts
    names = [next(iter(broken)) for broken in verdicts]
    assert names == [
        "title_present",
        "gender_present",
        "marital_status_present",
        "minor_flag_present",
        "senior_flag_present",
        "occupation_present",
        "dob_present",
    ]


BUSINESS_HAS_NO = {
    "cust_title": ("Mr", "business_has_no_title"),
    "gender": ("Male", "business_has_no_gender"),
    "marital_status": ("Single", "business_has_no_marital_status"),
    "minor_flag": ("No", "business_has_no_minor_flag"),
    "senior_citizen_flag": ("No", "business_has_no_senior_flag"),
    "occupation": ("Salaried", "business_has_no_occupation"),
}


def test_a_business_customer_with_any_personal_field_is_rejected(spark):
    assert set(BUSINESS_HAS_NO) == set(PERSONAL_FIELDS)
    cases = [
        (customer_type, column, value, rule)
        for customer_type in ("Corporate", "Merchant")
        for column, (value, rule) in BUSINESS_HAS_NO.items()
    ]
    rows = [
        customer("1000000002", **{**CORPORATE, "customer_type": customer_type, column: value})
        for customer_type, column, value, _ in cases
    ]
    for case, broken in zip(cases, broken_rules(spark, rows), strict=True):
        assert broken == {case[3]}, case


def test_optional_columns_may_be_empty(spark):
    optional = load_rules("customers").optional_columns
    assert set(optional) == {
        "cust_middle_name",
        "cust_last_name",
        "customer_addressline2",
        "customer_addressline3",
        "cust_dob",
    }
    personal = customer(
        "1000000001",
        cust_middle_name="",
        cust_last_name="",
        customer_addressline2="",
        customer_addressline3="",
    )
    assert broken_rules(spark, [personal]) == [set()]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"optional_columns": {"nope": "x"}},
            "optional_columns names unknown column\\(s\\) \\['nope'\\]",
        ),
        (
            {"optional_columns": {"cust_segment": "x"}},
            "'cust_segment' is optional and required \\(rule 'segment_present'\\)",
        ),
        ({"optional_columns": {}}, "neither required by a not_null rule nor optional"),
        ({"optional_columns": {"cust_middle_name": " "}}, "optional_columns.cust_middle_name"),
    ],
)
def test_every_column_must_be_declared_required_or_optional(tmp_path, change, message):
    data = {**shipped_rules("customers"), **change}
    with pytest.raises(InvalidRulesError, match=message) as error:
        load_changed(tmp_path, "customers", data)
    assert str(tmp_path / "customers.yaml") in str(error.value)


# --------------------------------------------------------------------- the seed's column assertions
def test_the_seeds_column_assertions_are_all_there():
    assertions = {a.column: a for a in load_rules("customers").seed_assertions}
    assert list(assertions) == [
        "cust_id",
        "cust_segment",
        "sourcing_channel",
        "customer_risk_category",
        "customer_category",
        "customer_privelege",
    ]
    assert assertions["cust_id"].seed.tests == ("duplicate_count == 0", "invalid_count == 0")
    assert assertions["cust_id"].invalid_count == "cust_id_format"
    assert assertions["cust_segment"].seed.valid_format == "^\\d{4}$"
    assert assertions["cust_segment"].missing_count == "segment_present"
    assert assertions["sourcing_channel"].invalid_count == "sourcing_channel_allowed"
    # every one of them departs from the seed somewhere, and says why
    assert all(a.departure for a in assertions.values())


def _with_assertion(index: int, **change: Any) -> dict[str, Any]:
    data = shipped_rules("customers")
    data["seed_assertions"][index] = {**data["seed_assertions"][index], **change}
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with_assertion(1, missing_count="nope"), "missing_count names unknown rule 'nope'"),
        (
            _with_assertion(1, missing_count="segment_allowed"),
            "missing_count must name an unconditional not_null rule on cust_segment",
        ),
        (
            _with_assertion(2, invalid_count="sourcing_channel_present"),
            "invalid_count must name a regex, in_set, between or max_length rule on "
            "sourcing_channel",
        ),
        (
            _with_assertion(2, invalid_count="risk_category_allowed"),
            "invalid_count must name a regex, in_set, between or max_length rule on "
            "sourcing_channel",
        ),
        (_with_assertion(2, invalid_count=None), "tests invalid_count == 0 but names no rule"),
        (_with_assertion(1, invalid_count="segment_allowed"), "invalid_count is not a test"),
        (_with_assertion(1, departure=None), "departs from the seed but says nothing"),
        (_with_assertion(0, column="nope"), "seed assertion on unknown column 'nope'"),
        (_with_assertion(0, soda="x"), "Extra inputs are not permitted"),
        (
            _with_assertion(0, seed={"valid_format": "x", "tests": ["row_count > 0"]}),
            "seed_assertions.0.seed.tests.0",
        ),
    ],
)
def test_broken_seed_assertions_fail_naming_the_file_and_column(tmp_path, data, message):
    with pytest.raises(InvalidRulesError, match=message) as error:
        load_changed(tmp_path, "customers", data)
    assert str(tmp_path / "customers.yaml") in str(error.value)


def test_a_pattern_java_cannot_compile_fails_before_any_row_is_read(spark, tmp_path):
    data = shipped_rules("products")
    # `{,3}` is a quantifier to Python's regex, an illegal repetition to Java.
    data["rules"].append(
        {
            "name": "short_name",
            "description": "d",
            "column": "product_name",
            "check": "regex",
            "pattern": "^a{,3}\\z",
        }
    )
    rules = load_changed(tmp_path, "products", data)
    with pytest.raises(InvalidRulesError, match="rule 'short_name': Java cannot compile") as error:
        check_rules_compile(spark, rules, load_entity("products"))
    assert str(tmp_path / "products.yaml") in str(error.value)
