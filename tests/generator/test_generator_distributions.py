"""Every stated proportion of the initial load is within 1 percentage point.

Expected shares are written out here from the brief and the seed (normalising
the seed's weights as random.choices does), not imported from the generator.
"""

from __future__ import annotations

import pandas as pd
import pytest
from generator_test_support import ages_at

TOLERANCE = 0.01


def assert_shares(values: pd.Series, expected: dict[str, float]) -> None:
    shares = values.value_counts(normalize=True)
    assert set(shares.index) == set(expected), (
        f"unexpected values: {set(shares.index) ^ set(expected)}"
    )
    for label, share in expected.items():
        assert shares[label] == pytest.approx(share, abs=TOLERANCE), (label, shares[label], share)


@pytest.fixture(scope="module")
def personal(initial_customers: pd.DataFrame) -> pd.DataFrame:
    return initial_customers[initial_customers["customer_type"] == "Personal"]


@pytest.fixture(scope="module")
def adults(initial_customers: pd.DataFrame) -> pd.DataFrame:
    return initial_customers[initial_customers["minor_flag"] != "Yes"]


def test_customer_type(initial_customers: pd.DataFrame) -> None:
    assert_shares(
        initial_customers["customer_type"], {"Personal": 0.90, "Corporate": 0.05, "Merchant": 0.05}
    )


def test_age_bands_at_creation(personal: pd.DataFrame) -> None:
    ages = ages_at(personal["cust_dob"], personal["created_at"])
    bands = pd.cut(
        ages, [9, 17, 30, 45, 59, 100], labels=["10-17", "18-30", "31-45", "46-59", "60-100"]
    )
    assert ages.between(10, 100).all()
    assert_shares(
        bands.astype(str),
        {"10-17": 0.10, "18-30": 0.30, "31-45": 0.35, "46-59": 0.10, "60-100": 0.15},
    )


def test_minor_and_senior_flags_share(personal: pd.DataFrame) -> None:
    assert_shares(personal["minor_flag"], {"Yes": 0.10, "No": 0.90})
    assert_shares(personal["senior_citizen_flag"], {"Yes": 0.15, "No": 0.85})


def test_gender(personal: pd.DataFrame) -> None:
    total = 0.6 + 0.6 + 0.1 * 4
    assert_shares(
        personal["gender"],
        {
            "Male": 0.6 / total,
            "Female": 0.6 / total,
            "Non Binary": 0.1 / total,
            "Transgender": 0.1 / total,
            "Intersex": 0.1 / total,
            "I prefer not to say": 0.1 / total,
        },
    )


def test_segment(initial_customers: pd.DataFrame) -> None:
    assert_shares(
        initial_customers["cust_segment"], {"Urban": 0.5, "Rural": 0.3, "Semi-Urban": 0.2}
    )


def test_category(initial_customers: pd.DataFrame) -> None:
    assert_shares(
        initial_customers["customer_category"],
        {"Non Resident": 0.5 / 1.1, "Resident Indian": 0.6 / 1.1},
    )


def test_privilege(initial_customers: pd.DataFrame) -> None:
    assert_shares(initial_customers["customer_privelege"], {"Yes": 0.5, "No": 0.5})


def test_nationality(initial_customers: pd.DataFrame) -> None:
    weights = {
        "Australian": 0.1,
        "Brazilian": 0.2,
        "Canadian": 0.2,
        "European": 0.2,
        "Indian": 0.5,
        "Indonesian": 0.2,
        "Norwegian": 0.2,
        "Singaporean": 0.2,
        "American": 0.5,
    }
    total = sum(weights.values())
    assert_shares(initial_customers["nationality"], {k: v / total for k, v in weights.items()})


def test_sourcing_channel(initial_customers: pd.DataFrame) -> None:
    assert_shares(
        initial_customers["sourcing_channel"], {"Branch": 0.4, "Partner": 0.2, "Online": 0.4}
    )


def test_status_of_adults(adults: pd.DataFrame) -> None:
    assert_shares(adults["customer_status"], {"Active": 0.8, "Dormant": 0.1, "Deceased": 0.1})


def test_risk_category(initial_customers: pd.DataFrame) -> None:
    third = 1 / 3
    assert_shares(
        initial_customers["customer_risk_category"], {"High": third, "Low": third, "Medium": third}
    )


def test_affluence_level(initial_customers: pd.DataFrame) -> None:
    assert_shares(
        initial_customers["afflunce_level"],
        {"High": 0.3 / 1.2, "Low": 0.4 / 1.2, "Medium": 0.5 / 1.2},
    )


def test_cibil_low_band(initial_customers: pd.DataFrame) -> None:
    scores = initial_customers["cibil_score"].astype(int)
    assert scores.between(310, 900).all()
    assert (scores <= 650).mean() == pytest.approx(0.03, abs=TOLERANCE)


def test_occupation_of_adults(personal: pd.DataFrame) -> None:
    adults = personal[personal["minor_flag"] == "No"]
    assert_shares(adults["occupation"], {"Salaried": 0.7, "Non Salaried": 0.3})


def test_optional_fields(initial_customers: pd.DataFrame, personal: pd.DataFrame) -> None:
    assert (personal["cust_middle_name"] != "").mean() == pytest.approx(0.5, abs=TOLERANCE)
    assert (initial_customers["customer_addressline2"] == "").mean() == pytest.approx(
        0.3, abs=TOLERANCE
    )
    assert (initial_customers["customer_addressline3"] == "").mean() == pytest.approx(
        0.6, abs=TOLERANCE
    )
    business = initial_customers[initial_customers["customer_type"] != "Personal"]
    assert (business["cust_dob"] != "").mean() == pytest.approx(0.8, abs=TOLERANCE)


def test_accounts_per_customer(
    drops, accounts: pd.DataFrame, initial_customers: pd.DataFrame
) -> None:
    initial = accounts[accounts["_month"] == 0]
    per_customer = initial.groupby("cust_id").size()
    assert per_customer.between(1, 5).all()
    # 1 + Binomial(4, 0.2) accounts (mean 1.8), plus the loan added to the
    # Recovering Credit Users (70 % of the adults and businesses scoring 651-700)
    # whose only drawn account is their CASA account (probability 0.8^4).
    scores = initial_customers["cibil_score"].astype(int)
    band = scores.between(651, 700) & (initial_customers["minor_flag"] != "Yes")
    assert per_customer.mean() == pytest.approx(1.8 + band.mean() * 0.7 * 0.8**4, abs=0.02)
    assert len(per_customer) == drops.manifest["entities"]["customers"]["initial_rows"]


def test_transactions_per_customer_month(
    transactions: pd.DataFrame, initial_customers: pd.DataFrame, accounts: pd.DataFrame
) -> None:
    """Customers whose persona is visible in the initial load transact Poisson(2) a month.

    Financially Stressed (score < 651), Recovering Credit Users (651-700 with a
    loan: nobody else of that band holds one) and Prosperous and Content
    (affluence High, score >= 750, CASA >= 5 lakh: everyone else of that profile
    holds less) keep the configured Poisson mean; Deal Chasers and Self Aware
    Avoiders do not (see test_generator_personas.py).
    """
    initial = accounts[accounts["_month"] == 0]
    customers = initial_customers.set_index("cust_id")
    scores = customers["cibil_score"].astype(int)
    loan_holders = set(initial.loc[initial["account_type"] == "Loan", "cust_id"])
    casa = initial[initial["account_type"] == "CASA"]
    casa_total = casa["balance"].astype(float).groupby(casa["cust_id"]).sum()
    visible = (
        (scores < 651)
        | (scores.between(651, 700) & customers.index.isin(loan_holders))
        | (
            (customers["afflunce_level"] == "High")
            & (scores >= 750)
            & (casa_total.reindex(customers.index, fill_value=0) >= 500_000)
        )
    )
    assert visible.mean() > 0.15
    month0 = transactions[
        (transactions["_month"] == 0) & transactions["cust_id"].isin(customers.index[visible])
    ]
    per_customer = month0.groupby("cust_id").size()
    # Poisson(2) over customers with an active payment account: P(0) = e^-2 of
    # them make none, so transacting customers average 2 / (1 - e^-2).
    assert per_customer.mean() == pytest.approx(2 / (1 - 0.1353), abs=0.05)
