"""Referential integrity and per-type rules of products, accounts and transactions."""

from __future__ import annotations

import pandas as pd
import pytest

MONEY = r"\d+\.\d\d"
MONTH_WINDOWS = {
    0: ("2023-12-01", "2024-01-01"),
    1: ("2024-01-01", "2024-02-01"),
    2: ("2024-02-01", "2024-03-01"),
    3: ("2024-03-01", "2024-04-01"),
}


def latest(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values("modified_at").drop_duplicates(key, keep="last").set_index(key)


def test_product_catalogue(products: pd.DataFrame) -> None:
    assert len(products) == 26
    assert products["product_id"].str.fullmatch(r"PRD\d{4}").all()
    assert products["product_id"].is_unique
    assert set(products["product_type"]) == {
        "CASA",
        "Credit Card",
        "Loan",
        "Insurance",
        "Securities",
    }
    assert {"Premium Savings", "Gold Card", "Home Mortgage"} <= set(products["product_name"])
    assert products["min_balance"].str.fullmatch(MONEY).all()
    rates = products[products["interest_rate_min"] != ""]
    assert (
        rates["interest_rate_min"].astype(float) <= rates["interest_rate_max"].astype(float)
    ).all()


def test_accounts_reference_customers_and_products(
    accounts: pd.DataFrame, customers: pd.DataFrame, products: pd.DataFrame
) -> None:
    assert accounts["cust_id"].isin(customers["cust_id"]).all()
    assert accounts["product_id"].isin(products["product_id"]).all()
    product_type = products.set_index("product_id")["product_type"]
    assert (accounts["account_type"] == accounts["product_id"].map(product_type)).all()


def test_account_fields_by_type(accounts: pd.DataFrame) -> None:
    assert accounts["account_id"].str.fullmatch(r"AC\d{10}").all()
    assert not accounts.duplicated(["account_id", "modified_at"]).any()
    kind = accounts["account_type"]
    for column, owner_types in {
        "maturity_date": {"Loan", "Insurance"},
        "credit_limit": {"Credit Card"},
        "principal_amount": {"Loan"},
        "coverage_amount": {"Insurance"},
    }.items():
        present = accounts[column] != ""
        assert (present == kind.isin(owner_types)).all(), column
    assert accounts["balance"].str.fullmatch(MONEY).all()
    assert (accounts["currency"] == "INR").all()
    assert accounts["account_status"].isin(["Active", "Dormant", "Closed"]).all()
    closed = accounts[accounts["account_status"] == "Closed"]
    assert (closed["balance"] == "0.00").all()


def test_accounts_open_after_customer_creation_and_product_launch(
    accounts: pd.DataFrame, customers: pd.DataFrame, products: pd.DataFrame
) -> None:
    created = customers.drop_duplicates("cust_id").set_index("cust_id")["created_at"].str[:10]
    assert (accounts["open_date"] >= accounts["cust_id"].map(created)).all()
    launched = products.set_index("product_id")["launch_date"]
    assert (accounts["open_date"] >= accounts["product_id"].map(launched)).all()
    assert (accounts["created_at"].str[:10] == accounts["open_date"]).all()
    assert (accounts["modified_at"] >= accounts["created_at"]).all()


def test_every_personal_customer_has_a_casa_account(
    accounts: pd.DataFrame, customers: pd.DataFrame
) -> None:
    personal = set(customers.loc[customers["customer_type"] == "Personal", "cust_id"])
    with_casa = set(accounts.loc[accounts["account_type"] == "CASA", "cust_id"])
    assert personal <= with_casa
    per_customer = latest(accounts, "account_id").groupby("cust_id").size()
    assert per_customer.between(1, 5).all()
    assert set(per_customer.index) == set(customers["cust_id"])


def test_transactions_reference_accounts_and_their_owner(
    transactions: pd.DataFrame, accounts: pd.DataFrame
) -> None:
    owner = accounts.drop_duplicates("account_id").set_index("account_id")["cust_id"]
    assert transactions["account_id"].isin(owner.index).all()
    assert (transactions["cust_id"] == transactions["account_id"].map(owner)).all()


def test_transactions_only_on_open_accounts_after_opening(
    transactions: pd.DataFrame, accounts: pd.DataFrame
) -> None:
    opened = accounts.drop_duplicates("account_id").set_index("account_id")["open_date"]
    assert (transactions["transaction_ts"].str[:10] >= transactions["account_id"].map(opened)).all()
    by_time = accounts.sort_values("modified_at", kind="stable")
    new = transactions[transactions["modified_at"] == transactions["created_at"]]
    for batch, rows in new.groupby("_batch"):
        # The account as delivered up to and including the transaction's file.
        delivered = by_time[by_time["_batch"] <= batch].drop_duplicates("account_id", keep="last")
        state = delivered.set_index("account_id").loc[rows["account_id"]]
        assert (state["account_status"] != "Closed").all(), batch
        assert state["account_type"].isin(["CASA", "Credit Card"]).all(), batch


def test_transactions_within_their_month(transactions: pd.DataFrame) -> None:
    new = transactions[transactions["modified_at"] == transactions["created_at"]]
    for month, (start, end) in MONTH_WINDOWS.items():
        rows = new[new["_month"] == month]
        assert len(rows) > 0
        assert rows["transaction_ts"].between(start, end, inclusive="left").all(), month
        assert rows["transaction_id"].str[2:5].eq(f"{month:03d}").all()


def test_transaction_fields(transactions: pd.DataFrame) -> None:
    assert transactions["transaction_id"].str.fullmatch(r"TX\d{14}").all()
    assert transactions["amount"].str.fullmatch(MONEY).all()
    assert (transactions["amount"].astype(float) > 0).all()
    assert (transactions["currency"] == "INR").all()
    assert (transactions["created_at"] == transactions["transaction_ts"]).all()
    assert set(transactions["transaction_type"]) == {"debit", "credit", "transfer"}
    assert set(transactions["transaction_mode"]) == {"UPI", "QR", "Card", "NetBanking", "Transfer"}
    assert set(transactions["transaction_reason"]) == {
        "Food & Grocery", "Travel", "Ecom", "Exam", "Utilities",
        "Healthcare", "Entertainment", "Fuel", "Salary", "Rent",
    }  # fmt: skip
    assert set(transactions["counterparty_type"]) == {"internal", "external"}
    assert set(transactions["status"]) == {"Posted", "Pending", "Reversed"}
    assert (transactions["merchant_name"] != "").all()


def test_amounts_depend_on_reason(transactions: pd.DataFrame) -> None:
    median = transactions.groupby("transaction_reason")["amount"].apply(
        lambda amounts: amounts.astype(float).median()
    )
    assert median["Salary"] > median["Rent"] > median["Food & Grocery"]
    assert median["Salary"] == pytest.approx(55_000, rel=0.2)


def test_pending_transactions_settle_next_month(transactions: pd.DataFrame) -> None:
    settled = transactions[transactions["modified_at"] != transactions["created_at"]]
    assert len(settled) > 0
    assert (settled["status"] == "Posted").all()
    original = transactions.drop_duplicates("transaction_id").set_index("transaction_id")
    before = original.loc[settled["transaction_id"]]
    assert (before["status"].to_numpy() == "Pending").all()
    assert (settled["_batch"].to_numpy() == before["_batch"].to_numpy() + 1).all()
    assert (settled["modified_at"].to_numpy() > before["modified_at"].to_numpy()).all()
    # Every pending transaction with a later file gets settled in it.
    pending_before_last_month = original[
        (original["status"] == "Pending") & (original["_month"] < 3)
    ]
    assert set(pending_before_last_month.index) == set(settled["transaction_id"])
