"""Fixtures for the policy tests: the seed's policies, role groups and column tags."""

from __future__ import annotations

from pathlib import Path

import pytest

import policies
from policies import PolicySet, RoleGroup, load_policies

POLICY_DIR = Path(policies.__file__).parent


@pytest.fixture(scope="session")
def seed_policies() -> PolicySet:
    """The three policies of the seed, loaded from the product's policy folder."""
    return load_policies(POLICY_DIR)


@pytest.fixture(scope="session")
def seed_role_groups() -> tuple[RoleGroup, ...]:
    """The default consumer groups of the product, one per seed role tag."""
    return (
        RoleGroup(
            name="restricted",
            description="Analysts without PII clearance",
            tags=frozenset({"roles:id:restricted-acess"}),
        ),
        RoleGroup(
            name="dob_bucketed",
            description="Consumers who may see age bands only",
            tags=frozenset({"roles:id:dob-bucketing"}),
        ),
        RoleGroup(
            name="pii_reader",
            description="Consumers cleared to read PII",
            tags=frozenset({"roles:id:pii-reader"}),
        ),
    )


@pytest.fixture(scope="session")
def seed_column_tags() -> dict[str, tuple[str, ...]]:
    """Tags of the customer-overview columns (table order), untagged ones included."""
    mask = ("TW.mask",)
    return {
        "cust_id": (),
        "cust_first_name": mask,
        "cust_middle_name": mask,
        "cust_last_name": mask,
        "cust_dob": ("TW.dob",),
        "email_addr": mask,
        "mobile_number1": mask,
        "customer_addressline1": mask,
        "customer_addressline2": mask,
        "customer_addressline3": mask,
        "city": (),
        "pin": mask,
        "modified_at": (),
    }
