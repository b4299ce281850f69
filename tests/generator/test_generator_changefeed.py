"""Change feed: arrival order, updates, new keys, late arrivals, exact duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from generator_test_support import KEY_COLUMNS, SESSION_CONFIG

FILES = SESSION_CONFIG.files
MONTH_STARTS = {1: "2024-01-01", 2: "2024-02-01", 3: "2024-03-01", 4: "2024-04-01"}


def classify_versions(versions: pd.DataFrame, key: str) -> pd.DataFrame:
    """Label each distinct version against the versions of earlier files.

    initial: month 0; new_key: key never seen in an earlier file; update: newer
    than every earlier version; late: older than some earlier version; clash:
    same modified_at as an earlier version (must never happen).
    """
    modified = pd.to_datetime(versions["modified_at"], format="%Y-%m-%d %H:%M:%S")
    per_batch = (
        modified.groupby([versions[key], versions["_batch"]]).max().rename("latest").reset_index()
    )
    per_batch = per_batch.sort_values([key, "_batch"])
    running = per_batch.groupby(key)["latest"].cummax()
    per_batch["earlier"] = running.groupby(per_batch[key]).shift(1)
    earlier = versions[[key, "_batch"]].merge(per_batch, on=[key, "_batch"], how="left")["earlier"]
    earlier.index = versions.index
    kind = np.select(
        [
            versions["_month"] == 0,
            earlier.isna(),
            modified > earlier,
            modified < earlier,
        ],
        ["initial", "new_key", "update", "late"],
        "clash",
    )
    return versions.assign(kind=kind)


@pytest.fixture(scope="module")
def customer_versions(customers: pd.DataFrame) -> pd.DataFrame:
    return classify_versions(customers, "cust_id")


def test_batches_give_arrival_order(drops) -> None:
    batches = {
        e: [f["batch"] for f in entry["files"]] for e, entry in drops.manifest["entities"].items()
    }
    months = SESSION_CONFIG.months
    assert batches["customers"] == list(range(1, FILES + months + 1))
    assert batches["products"] == [1]
    assert batches["accounts"] == batches["transactions"] == list(range(FILES, FILES + months + 1))
    every_file = [f for entry in drops.manifest["entities"].values() for f in entry["files"]]
    by_name = sorted(every_file, key=lambda f: f["file"].rsplit("_", 1)[1])
    assert [f["month"] for f in by_name] == sorted(f["month"] for f in every_file)
    for entity, entry in drops.manifest["entities"].items():
        names = [f["file"] for f in entry["files"]]
        assert names == sorted(names)
        assert all(name.startswith(f"{entity}/{entity}_") for name in names)
        assert all(len(name.rsplit("_", 1)[1]) == len("00001.csv") for name in names)


def test_initial_load_is_split_into_contiguous_ranges(initial_customers: pd.DataFrame) -> None:
    ranges = initial_customers.groupby("_batch")["cust_id"].agg(["min", "max", "size"])
    assert list(ranges.index) == [1, 2, 3]
    assert (
        ranges["max"].shift(1).astype(float).dropna().astype(int) + 1
        == ranges["min"].iloc[1:].astype(int)
    ).all()
    assert ranges["size"].sum() == SESSION_CONFIG.customers
    assert ranges["size"].max() - ranges["size"].min() <= 1


def test_versions_never_share_a_modified_at(customer_versions: pd.DataFrame, drops) -> None:
    assert not (customer_versions["kind"] == "clash").any()
    assert not customer_versions.duplicated(["cust_id", "modified_at"]).any()
    expected = drops.manifest["entities"]["customers"]["distinct_versions"]
    assert len(customer_versions) == expected


def test_customer_change_counts_match_manifest(customer_versions: pd.DataFrame, drops) -> None:
    entry = drops.manifest["entities"]["customers"]
    kinds = customer_versions["kind"].value_counts()
    assert kinds["initial"] == entry["initial_rows"] == SESSION_CONFIG.customers
    assert kinds["update"] == entry["updates"]
    assert kinds["new_key"] == entry["new_keys"]
    assert kinds["late"] == entry["late_arrivals"]
    per_month = entry["updates"] / SESSION_CONFIG.months / SESSION_CONFIG.customers
    assert per_month == pytest.approx(SESSION_CONFIG.update_rate * 0.9, rel=0.15)
    assert entry["new_keys"] == SESSION_CONFIG.months * SESSION_CONFIG.customers // 100


def test_updates_are_later_and_inside_their_month(customer_versions: pd.DataFrame) -> None:
    updates = customer_versions[customer_versions["kind"] == "update"]
    for month, rows in updates.groupby("_month"):
        assert (
            rows["modified_at"]
            .between(MONTH_STARTS[month], MONTH_STARTS[month + 1], inclusive="left")
            .all()
        )
    # An update changes at least one attribute besides modified_at.
    compared = [
        "customer_risk_category",
        "customer_status",
        "cibil_score",
        "afflunce_level",
        "city",
        "customer_addressline1",
    ]
    first = customer_versions.drop_duplicates("cust_id").set_index("cust_id")
    for _, rows in updates.groupby("_batch"):
        before = first.loc[rows["cust_id"], compared].to_numpy()
        assert (before != rows[compared].to_numpy()).any(axis=1).mean() > 0.9


def test_new_customers_continue_the_id_sequence(customer_versions: pd.DataFrame) -> None:
    new = customer_versions[customer_versions["kind"] == "new_key"]
    ids = sorted(new["cust_id"].astype(int))
    assert ids == list(range(1_000_100_001, 1_000_100_001 + len(ids)))
    for month, rows in new.groupby("_month"):
        assert (
            rows["created_at"]
            .between(MONTH_STARTS[month], MONTH_STARTS[month + 1], inclusive="left")
            .all()
        )
        assert (rows["modified_at"] == rows["created_at"]).all()


def test_late_arrivals_are_older_than_a_delivered_version(customer_versions: pd.DataFrame) -> None:
    late = customer_versions[customer_versions["kind"] == "late"]
    assert len(late) > 0
    assert 0 not in set(late["_month"]) and 1 not in set(late["_month"])
    assert (late["modified_at"] > late["created_at"]).all()
    # A latest-by-modified_at dedupe keeps the earlier-delivered version, never the late one.
    winners = customer_versions.sort_values("modified_at").drop_duplicates("cust_id", keep="last")
    assert not winners["kind"].eq("late").any()


def test_exact_duplicates_repeat_earlier_rows(drops) -> None:
    rows = drops.frame("customers")  # file order: batch, then position in the file
    fingerprint = pd.util.hash_pandas_object(rows[drops.data_columns("customers")], index=False)
    repeated = fingerprint.duplicated(keep="first")
    assert repeated.sum() == drops.manifest["entities"]["customers"]["exact_duplicates"]
    first_batch = rows["_batch"].groupby(fingerprint).transform("min")
    assert (repeated & (rows["_batch"] > first_batch)).any(), "monthly files repeat earlier files"
    assert (repeated & (rows["_batch"] == first_batch)).any(), "files repeat their own rows"
    assert repeated.mean() == pytest.approx(SESSION_CONFIG.duplicate_rate, rel=0.2)
    for entity in ("products", "accounts", "transactions"):
        frame = drops.frame(entity)
        assert not frame.duplicated(drops.data_columns(entity)).any(), entity


@pytest.mark.parametrize("entity", ["accounts", "transactions"])
def test_account_and_transaction_versions_match_manifest(drops, entity: str) -> None:
    versions = classify_versions(drops.distinct_versions(entity), KEY_COLUMNS[entity])
    kinds = versions["kind"].value_counts()
    entry = drops.manifest["entities"][entity]
    assert kinds["initial"] == entry["initial_rows"]
    assert kinds["update"] == entry["updates"]
    assert kinds["new_key"] == entry["new_keys"]
    assert "late" not in kinds and "clash" not in kinds
