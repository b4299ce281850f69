"""Helpers for tests that write landing files by hand (small, exact cases)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from customer_overview.entities import EntitySchema, load_entity

CUSTOMER_COLUMNS = list(load_entity("customers").column_names)

BASE_CUSTOMER = {
    "cust_dob": "1990-05-17",
    "cust_first_name": "Asha",
    "cust_last_name": "Rao",
    "cust_middle_name": "",
    "cust_segment": "Urban",
    "cust_title": "Miss",
    "customer_category": "Resident Indian",
    "customer_privelege": "Yes",
    "customer_type": "Personal",
    "email_addr": "asha.rao101@gmail.com",
    "gender": "Female",
    "marital_status": "Single",
    "minor_flag": "No",
    "mobile_number1": "1100098144",
    "nationality": "Indian",
    "occupation": "Salaried",
    "senior_citizen_flag": "No",
    "sourcing_channel": "Branch",
    "customer_risk_category": "Low",
    "afflunce_level": "High",
    "customer_status": "Active",
    "customer_addressline1": "14/17, Sodhi Chowk",
    "customer_addressline2": "Île Nagar",
    "customer_addressline3": "",
    "city": "Delhi",
    "state": "Delhi",
    "country": "India",
    "pin": "110001",
    "created_at": "2023-01-01 10:00:00",
    "modified_at": "2023-01-01 10:00:00",
    "cibil_check_date": "2023-12-01",
    "cibil_score": "700",
    "country_code": "+91",
}

OSLO = {
    "city": "Oslo",
    "state": "Oslo",
    "country": "Norway",
    "pin": "0010",
    "country_code": "+47",
    "customer_category": "Non Resident",
    "nationality": "Norwegian",
}


def customer(cust_id: str, **changes: str) -> dict[str, str]:
    """A valid Personal customer row (text values, as landed), with ``changes`` applied."""
    row = {"cust_id": cust_id, **BASE_CUSTOMER}
    row.update(changes)
    return row


def write_customers(
    landing: Path, name: str, rows: Iterable[Mapping[str, str]], columns: list[str] | None = None
) -> Path:
    """Write ``landing/customers/<name>`` the way the source system does (pandas index first)."""
    columns = columns or CUSTOMER_COLUMNS
    path = landing / "customers" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", *columns])
        for index, row in enumerate(rows):
            writer.writerow([str(index), *(row.get(column, "") for column in columns)])
    return path


def row_multiset(frame: Any, leave_out: Iterable[str] = ()) -> Counter:
    """The rows of a Spark DataFrame as a multiset of tuples (columns sorted by name)."""
    skipped = set(leave_out)
    columns = sorted(name for name in frame.columns if name not in skipped)
    return Counter(tuple(row[name] for name in columns) for row in frame.select(*columns).collect())


def land(landing: Path, schema: EntitySchema, name: str, rows: Iterable[Mapping[str, str]]) -> Path:
    """Write ``landing/<folder>/<name>`` as the source system does (pandas index first)."""
    path = landing / schema.folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["", *schema.column_names])
        for index, row in enumerate(rows):
            writer.writerow([str(index), *(row.get(column, "") for column in schema.column_names)])
    return path
