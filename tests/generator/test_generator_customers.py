"""Customer rows are internally consistent and pass the seed's validation intent."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from generator_test_support import ages_at

from generator.reference import CITIES_BY_NATIONALITY, COUNTRY_CODES

NAME = re.compile(r"^[a-zA-Z]+$")
EMAIL = re.compile(r"^[a-z0-9.]+@[a-z]+\.[a-z]{2,3}$")
PERSONAL_ONLY = [
    "cust_title",
    "gender",
    "marital_status",
    "minor_flag",
    "occupation",
    "senior_citizen_flag",
    "cust_middle_name",
]
BUSINESS_SUFFIXES = {
    "Enterprises",
    "Traders",
    "Industries",
    "Exports",
    "Holdings",
    "Solutions",
    "Foods",
    "Textiles",
}


@pytest.fixture(scope="module")
def personal(customers: pd.DataFrame) -> pd.DataFrame:
    rows = customers[customers["customer_type"] == "Personal"].copy()
    rows["age_now"] = ages_at(rows["cust_dob"], rows["modified_at"])
    rows["minor_at_creation"] = ages_at(rows["cust_dob"], rows["created_at"]) < 18
    return rows


def test_ids_in_initial_load(initial_customers: pd.DataFrame) -> None:
    ids = initial_customers["cust_id"]
    assert ids.str.len().eq(10).all()
    assert ids.is_unique
    assert sorted(ids.astype(int)) == list(range(1_000_000_001, 1_000_100_001))


def test_flags_match_age_at_modified_at(personal: pd.DataFrame) -> None:
    assert ((personal["age_now"] < 18) == (personal["minor_flag"] == "Yes")).all()
    assert ((personal["age_now"] >= 60) == (personal["senior_citizen_flag"] == "Yes")).all()
    assert personal["minor_flag"].isin(["Yes", "No"]).all()


def test_titles_follow_gender(personal: pd.DataFrame) -> None:
    allowed = {
        "Male": {"Mr", "Dr"},
        "Female": {"Miss", "Mrs", "Dr"},
        "Non Binary": {"Mx"},
        "Transgender": {"Mx"},
        "Intersex": {"Mx"},
        "I prefer not to say": {"Mx"},
    }
    for gender, titles in allowed.items():
        assert set(personal.loc[personal["gender"] == gender, "cust_title"]) <= titles, gender
    minors = personal[personal["minor_at_creation"]]
    assert (minors.loc[minors["gender"] == "Male", "cust_title"] == "Mr").all()
    assert (minors.loc[minors["gender"] == "Female", "cust_title"] == "Miss").all()


def test_marital_status_follows_title(personal: pd.DataFrame) -> None:
    allowed = {
        "Mr": {"Single", "Married"},
        "Dr": {"Single", "Married"},
        "Mrs": {"Married"},
        "Miss": {"Single", "Widowed"},
        "Mx": {"I prefer not to say"},
    }
    adults = personal[~personal["minor_at_creation"]]
    for title, statuses in allowed.items():
        assert set(adults.loc[adults["cust_title"] == title, "marital_status"]) <= statuses, title
    assert (personal.loc[personal["minor_at_creation"], "marital_status"] == "Single").all()


def test_minors_are_active_and_not_salaried(personal: pd.DataFrame) -> None:
    assert (personal.loc[personal["minor_flag"] == "Yes", "customer_status"] == "Active").all()
    assert (personal.loc[personal["minor_at_creation"], "occupation"] == "Non Salaried").all()


def test_corporates_have_no_personal_attributes(customers: pd.DataFrame) -> None:
    business = customers[customers["customer_type"].isin(["Corporate", "Merchant"])]
    assert len(business) > 0
    assert (business[PERSONAL_ONLY] == "").all().all()
    assert business["cust_last_name"].isin(BUSINESS_SUFFIXES).all()
    incorporated = business[business["cust_dob"] != ""]
    assert incorporated["cust_dob"].between("2000-01-01", "2023-08-31").all()
    assert (incorporated["cust_dob"] <= incorporated["created_at"].str[:10]).all()


def test_names_are_letters_only(customers: pd.DataFrame) -> None:
    for column in ("cust_first_name", "cust_last_name"):
        assert customers[column].str.match(NAME).all(), column
        assert customers[column].str.len().le(35).all(), column
    middle = customers["cust_middle_name"]
    assert middle[middle != ""].str.match(NAME).all()


def test_email_and_mobile_derive_from_id(customers: pd.DataFrame) -> None:
    emails = customers["email_addr"]
    assert emails.str.match(EMAIL).all()
    assert emails.str.len().le(50).all()
    number = customers["cust_id"].astype(int) - 1_000_000_000 + 100
    expected = (
        customers["cust_first_name"].str.lower()
        + "."
        + customers["cust_last_name"].str.lower()
        + number.astype(str)
        + "@gmail.com"
    )
    assert (emails == expected).all()
    mobile = customers["cust_id"].astype(int) + 100_098_143
    assert (customers["mobile_number1"] == mobile.astype(str)).all()
    assert customers["mobile_number1"].str.len().le(10).all()


def test_address_comes_from_one_mapping_row(customers: pd.DataFrame) -> None:
    rows = {
        (city, state, pin, country): nationality
        for nationality, entries in CITIES_BY_NATIONALITY.items()
        for city, state, pin, country in entries
    }
    place = list(
        zip(
            customers["city"],
            customers["state"],
            customers["pin"],
            customers["country"],
            strict=True,
        )
    )
    mapping = pd.Series([rows.get(p) for p in place], index=customers.index)
    assert mapping.notna().all()
    resident = customers["customer_category"] == "Resident Indian"
    assert (mapping[resident] == "Indian").all()
    assert (mapping[~resident] == customers.loc[~resident, "nationality"]).all()
    assert (customers["country_code"] == customers["country"].map(COUNTRY_CODES)).all()


def test_seed_place_names_kept_verbatim(drops) -> None:
    text = "".join(
        (drops.out_dir / f["file"]).read_text(encoding="utf-8")
        for f in drops.manifest["entities"]["customers"]["files"]
    )
    for literal in (
        "Brasília",
        "Tromsø",
        "Île-de-France",
        "Ceará",
        ",01000,",
        ",0010,",
        ",M5V 1J9,",
    ):
        assert literal in text, literal


def test_address_lines(customers: pd.DataFrame) -> None:
    for column in ("customer_addressline1", "customer_addressline2", "customer_addressline3"):
        assert customers[column].str.len().le(50).all(), column
    line1 = customers["customer_addressline1"]
    assert (line1 != "").all()
    assert line1.str.contains(",").any(), "commas exercise CSV quoting"
    assert line1.str.contains(r"[^\x00-\x7f]").any(), "non-ASCII letters expected"


def test_cibil_check_within_42_days_before_modified(customers: pd.DataFrame) -> None:
    checked = pd.to_datetime(customers["cibil_check_date"])
    modified = pd.to_datetime(customers["modified_at"].str[:10])
    age_days = (modified - checked).dt.days
    assert age_days.between(0, 42).all()
    assert customers["cibil_score"].str.fullmatch(r"\d{3}").all()


def test_timestamps_and_dates_format(customers: pd.DataFrame) -> None:
    for column in ("created_at", "modified_at"):
        assert customers[column].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert customers["cust_dob"].str.fullmatch(r"(\d{4}-\d\d-\d\d)?").all()
    initial = customers[customers["_month"] == 0]
    assert (initial["modified_at"] == initial["created_at"]).all()
    assert initial["created_at"].between("2021-01-01 00:00:00", "2023-12-31 23:59:59").all()
