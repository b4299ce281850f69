"""The seed's three policies, end to end on Spark, for each default role group."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from policies import PolicySet, RoleGroup, apply_masks, resolve_columns

CUSTOMER = {
    "cust_id": 1001,
    "cust_first_name": "Zoë",
    "cust_middle_name": None,
    "cust_last_name": "Ørsted-O'Brien",
    "cust_dob": date(1990, 5, 17),
    "email_addr": "zoe.orsted@example.com",
    "mobile_number1": 9876543210,
    "customer_addressline1": "12 Rue de l'Église",
    "customer_addressline2": "Île-de-France",
    "customer_addressline3": "🏠 Bâtiment B",
    "city": "Paris",
    "pin": "75001",
    "modified_at": datetime(2024, 1, 31, 10, 0),
}
SCHEMA = (
    "cust_id bigint, cust_first_name string, cust_middle_name string, cust_last_name string, "
    "cust_dob date, email_addr string, mobile_number1 bigint, customer_addressline1 string, "
    "customer_addressline2 string, customer_addressline3 string, city string, pin string, "
    "modified_at timestamp"
)
PII_COLUMNS = [
    "cust_first_name",
    "cust_middle_name",
    "cust_last_name",
    "email_addr",
    "mobile_number1",
    "customer_addressline1",
    "customer_addressline2",
    "customer_addressline3",
    "pin",
]
UNTAGGED = ["cust_id", "city", "modified_at"]


@pytest.fixture(scope="module")
def customers(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame([tuple(CUSTOMER.values())], SCHEMA)


def sha256_hex(value: Any) -> str | None:
    return None if value is None else hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def view(
    customers: DataFrame,
    policies: PolicySet,
    user_tags: list[str],
    column_tags: dict[str, tuple[str, ...]],
    default_deny: str = "redact",
) -> dict[str, Any]:
    decisions = resolve_columns(policies, user_tags, column_tags, default_deny)  # type: ignore[arg-type]
    return apply_masks(customers, decisions).collect()[0].asDict()


def test_restricted_sees_sha256_of_pii(
    customers: DataFrame, seed_policies: PolicySet, seed_column_tags: dict[str, tuple[str, ...]]
) -> None:
    row = view(customers, seed_policies, ["roles:id:restricted-acess"], seed_column_tags)
    for column in PII_COLUMNS:
        # mobile_number1 is a bigint: its hash is the hash of its decimal digits.
        assert row[column] == sha256_hex(CUSTOMER[column]), column
    assert row["mobile_number1"] == hashlib.sha256(b"9876543210").hexdigest()
    assert row["cust_dob"] is None  # no TW.dob policy for this role: denied, redacted to NULL
    assert {column: row[column] for column in UNTAGGED} == {
        column: CUSTOMER[column] for column in UNTAGGED
    }


def test_dob_bucketed_sees_the_quarter_start(
    customers: DataFrame, seed_policies: PolicySet, seed_column_tags: dict[str, tuple[str, ...]]
) -> None:
    row = view(customers, seed_policies, ["roles:id:dob-bucketing"], seed_column_tags)
    assert row["cust_dob"] == date(1990, 4, 1)
    # No TW.mask policy for this role: denied by default, never shown in clear.
    assert row["cust_first_name"] == "REDACTED"
    assert row["cust_middle_name"] is None  # NULL stays NULL
    assert row["mobile_number1"] is None  # non-strings are redacted to NULL


def test_pii_reader_sees_clear_values(
    customers: DataFrame, seed_policies: PolicySet, seed_column_tags: dict[str, tuple[str, ...]]
) -> None:
    row = view(customers, seed_policies, ["roles:id:pii-reader"], seed_column_tags)
    assert row == CUSTOMER


def test_pass_through_at_75_beats_hash_at_80(
    customers: DataFrame, seed_policies: PolicySet, seed_column_tags: dict[str, tuple[str, ...]]
) -> None:
    user_tags = ["roles:id:restricted-acess", "roles:id:pii-reader"]
    assert view(customers, seed_policies, user_tags, seed_column_tags) == CUSTOMER


def test_consumer_without_roles_sees_no_pii_and_drop_removes_it(
    customers: DataFrame, seed_policies: PolicySet, seed_column_tags: dict[str, tuple[str, ...]]
) -> None:
    redacted = view(customers, seed_policies, [], seed_column_tags)
    assert all(redacted[column] in ("REDACTED", None) for column in [*PII_COLUMNS, "cust_dob"])
    dropped = view(customers, seed_policies, [], seed_column_tags, default_deny="drop")
    assert list(dropped) == UNTAGGED


def test_role_group_tags_drive_the_view(
    customers: DataFrame,
    seed_policies: PolicySet,
    seed_role_groups: tuple[RoleGroup, ...],
    seed_column_tags: dict[str, tuple[str, ...]],
) -> None:
    dob_bucketed = next(group for group in seed_role_groups if group.name == "dob_bucketed")
    row = view(customers, seed_policies, sorted(dob_bucketed.tags), seed_column_tags)
    assert row["cust_dob"] == date(1990, 4, 1)
