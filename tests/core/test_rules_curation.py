"""The customer rules through real curation: a hand-written landing file, Spark, Iceberg.

Names in any alphabet are curated; a row missing any value the seed requires, and a business row
carrying a personal attribute, are quarantined naming the one rule each breaks, and no row is lost.
"""

from __future__ import annotations

import unicodedata

from lakehouse_support import OSLO, customer, write_customers
from test_rules import REQUIRED_BY_THE_SEED

from assets.curated.curation import curate_entity
from assets.curated.reconciliation import reconcile
from assets.raw.ingestion import ingest_entity
from customer_overview.entities import load_entity
from quality.rules import load_rules

CUSTOMERS = load_entity("customers")
RULES = load_rules("customers")

NAMED = {
    "1000000001": {"cust_first_name": "José", "cust_last_name": "Conceição"},
    "1000000002": {"cust_first_name": "Søren", "cust_last_name": "Ødegård", **OSLO},
    "1000000003": {"cust_first_name": "Mary-Jane", "cust_last_name": "Smith"},
    "1000000004": {"cust_first_name": "Liam", "cust_last_name": "O'Brien"},
    "1000000005": {
        "cust_first_name": unicodedata.normalize("NFD", "Zoë"),
        "cust_middle_name": "van der",
        "cust_last_name": "O\u2019Brien",  # typographic apostrophe
    },
}
BUSINESS = {
    "customer_type": "Merchant",
    "cust_first_name": "Sharma",
    "cust_last_name": "Traders",
    "cust_dob": "",
    **dict.fromkeys(
        (
            "cust_title",
            "gender",
            "marital_status",
            "minor_flag",
            "senior_citizen_flag",
            "occupation",
        ),
        "",
    ),
}


def test_names_in_any_alphabet_curate_and_missing_required_values_are_quarantined(
    lake_spark, lakehouse
):
    present_rule = {r.column: r.name for r in RULES.rules if r.check == "not_null" and not r.when}
    missing = {f"11000000{index:02d}": column for index, column in enumerate(REQUIRED_BY_THE_SEED)}
    rows = [
        *[customer(cust_id, **names) for cust_id, names in NAMED.items()],
        customer("1200000001", **BUSINESS),
        customer("1200000002", **{**BUSINESS, "gender": "Female"}),
        customer("1200000003", **{**BUSINESS, "occupation": "Salaried"}),
        *[{**customer(cust_id), column: ""} for cust_id, column in missing.items()],
    ]
    write_customers(lakehouse.landing_dir, "customers_00001.csv", rows)
    ingest_entity(lake_spark, lakehouse, CUSTOMERS, "test")
    curate_entity(lake_spark, lakehouse, CUSTOMERS, RULES, "test")

    curated = {
        row.cust_id: row
        for row in lake_spark.table(lakehouse.spark_table(CUSTOMERS.curated_table)).collect()
    }
    assert set(curated) == {*NAMED, "1200000001"}
    for cust_id, names in NAMED.items():
        for column in ("cust_first_name", "cust_middle_name", "cust_last_name"):
            if column in names:
                assert curated[cust_id][column] == names[column]

    quarantined = lake_spark.table(lakehouse.spark_table(CUSTOMERS.quarantine_table)).collect()
    by_line = {row._source_line: row for row in quarantined}
    expected = {
        # header = line 1; rows in the order written
        len(NAMED) + 3: ["business_has_no_gender"],
        len(NAMED) + 4: ["business_has_no_occupation"],
        **{
            len(NAMED) + 5 + index: [present_rule[column]]
            for index, column in enumerate(REQUIRED_BY_THE_SEED)
        },
    }
    assert {line: list(row._rule_names) for line, row in by_line.items()} == expected
    for index, column in enumerate(REQUIRED_BY_THE_SEED):
        [reason] = by_line[len(NAMED) + 5 + index]._reasons
        assert reason.startswith(present_rule[column]) and f"({column}=NULL)" in reason
    assert reconcile(lake_spark, lakehouse, CUSTOMERS).lost == 0
