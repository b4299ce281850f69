"""Unit tests of the generator's small pure helpers."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator import GeneratorConfig
from generator.encoding import csv_field, fixed2, join_fields, zero_padded
from generator.errors import GeneratorConfigError
from generator.pools import build_text_pools, clean_address_line
from generator.sampling import categorical, insertion_order, stochastic_round
from generator.timeline import add_months, age_at, birth_dates_for_ages, epoch_days, month_windows

EPOCH = date(1970, 1, 1)


# --- config ----------------------------------------------------------------------------


def test_config_defaults() -> None:
    config = GeneratorConfig(customers=10)
    assert (config.seed, config.start_date, config.months, config.files) == (
        42,
        date(2024, 1, 1),
        3,
        1,
    )
    assert (config.update_rate, config.duplicate_rate, config.bad_row_rate) == (0.05, 0.01, 0.0)
    assert config.transactions_per_customer_month == 2.0
    assert config.to_manifest_dict()["start_date"] == "2024-01-01"


def test_equal_configs_describe_themselves_identically() -> None:
    whole = GeneratorConfig(
        customers=10, transactions_per_customer_month=2, accounts_per_customer=2
    )
    floats = GeneratorConfig(
        customers=10, transactions_per_customer_month=2.0, accounts_per_customer=2.0
    )
    assert whole == floats
    assert repr(whole.to_manifest_dict()) == repr(floats.to_manifest_dict())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customers": 0}, "customers must be at least 1"),
        ({"customers": 2.5}, "customers must be an integer"),
        ({"customers": True}, "customers must be an integer"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"months": -1}, "months must be at least 0"),
        ({"months": 121}, "at most 120"),
        ({"update_rate": 1.0}, r"update_rate must be in \[0.0, 1.0\)"),
        ({"duplicate_rate": -0.1}, "duplicate_rate must be at least 0"),
        ({"bad_row_rate": float("nan")}, "bad_row_rate must be a finite number"),
        ({"files": 0}, "files must be at least 1"),
        ({"files": 11}, "files must be at most customers"),
        ({"start_date": "2024-01-01"}, "start_date must be a datetime.date"),
        ({"start_date": date(2019, 12, 31)}, "start_date must be between"),
        ({"transactions_per_customer_month": 101}, "at most 100"),
        ({"accounts_per_customer": 0.5}, "accounts_per_customer must be at least 1"),
        ({"customers": 99_000_000, "months": 120}, "exceed 99999999"),
    ],
)
def test_config_rejects_bad_values(changes: dict, message: str) -> None:
    with pytest.raises(GeneratorConfigError, match=message):
        GeneratorConfig(**{"customers": 10, **changes})


# --- timeline --------------------------------------------------------------------------

DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@given(DATES, st.integers(min_value=-36, max_value=36))
def test_add_months_clamps_to_month_end(day: date, months: int) -> None:
    moved = add_months(day, months)
    assert (moved.year * 12 + moved.month) - (day.year * 12 + day.month) == months
    assert moved.day == day.day or (moved.day < day.day and (moved + timedelta(days=1)).day == 1)


def test_month_windows() -> None:
    windows = month_windows(date(2024, 1, 1), 2)
    starts = [EPOCH + timedelta(seconds=w.start) for w in windows]
    assert starts == [date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)]
    assert all(a.end == b.start for a, b in pairwise(windows))


@given(DATES, st.integers(min_value=0, max_value=110), st.integers(min_value=0))
def test_birth_dates_give_exact_ages(at: date, age: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    at_days = np.full(50, epoch_days(at))
    ages = np.full(50, age)
    births = birth_dates_for_ages(rng, at_days, ages)
    assert (age_at(births, at_days) == age).all()


@given(DATES, DATES)
def test_age_matches_calendar_arithmetic(birth: date, at: date) -> None:
    expected = at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
    assert age_at(np.array([epoch_days(birth)]), np.array([epoch_days(at)]))[0] == expected


# --- encoding --------------------------------------------------------------------------

TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20
)


@given(st.lists(TEXT, min_size=1, max_size=5))
def test_fields_match_python_csv_minimal_quoting(values: list[str]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    expected = buffer.getvalue()[:-1]
    if values == [""]:  # the csv module quotes a lone empty field; a data row never is one
        expected = ""
    assert ",".join(csv_field(v) for v in values) == expected
    if expected:
        assert next(csv.reader([expected])) == values


def test_csv_field_rejects_line_breaks() -> None:
    with pytest.raises(ValueError, match="line breaks"):
        csv_field("a\nb")


def test_fixed_point_and_ids() -> None:
    assert fixed2(np.array([0, 5, 1234, 100_000_00])).to_pylist() == [
        "0.00",
        "0.05",
        "12.34",
        "100000.00",
    ]
    assert fixed2(np.array([7]), np.array([True])).to_pylist() == [None]
    assert zero_padded("AC", np.array([10, 1234567890]), 10).to_pylist() == [
        "AC0000000010",
        "AC1234567890",
    ]
    lines = join_fields(
        [zero_padded("X", np.array([1, 2]), 2), fixed2(np.array([1, 2]), np.array([True, False]))]
    )
    assert lines.to_pylist() == ["X01,", "X02,0.02"]


# --- sampling --------------------------------------------------------------------------


def test_categorical_shares() -> None:
    codes = categorical(np.random.default_rng(1), np.array([0.6, 0.3, 0.1]), 200_000)
    assert np.bincount(codes) / len(codes) == pytest.approx([0.6, 0.3, 0.1], abs=0.005)


def test_stochastic_round_is_unbiased() -> None:
    rng = np.random.default_rng(2)
    assert np.mean([stochastic_round(rng, 2.3) for _ in range(20_000)]) == pytest.approx(
        2.3, abs=0.02
    )


@given(st.integers(min_value=0, max_value=50), st.data())
def test_insertion_order_places_duplicates_after_originals(base: int, data: st.DataObject) -> None:
    originals = data.draw(st.lists(st.integers(0, max(base - 1, 0)), max_size=10)) if base else []
    earliest = np.array(originals, dtype=np.int64) + 1
    order = insertion_order(np.random.default_rng(data.draw(st.integers(0, 2**32))), base, earliest)
    assert sorted(order) == list(range(base + len(originals)))
    position = {row: i for i, row in enumerate(order)}
    assert [position[i] for i in range(base)] == sorted(position[i] for i in range(base))
    for j, original in enumerate(originals):
        assert position[base + j] > position[original]


# --- text pools ------------------------------------------------------------------------


@given(st.text(max_size=80))
def test_clean_address_line(text: str) -> None:
    line = clean_address_line(text)
    assert len(line) <= 50
    assert '"' not in line and "\n" not in line and "\r" not in line
    assert line == line.strip(" ,")


def test_text_pools_are_deterministic_and_clean() -> None:
    first, second = build_text_pools.__wrapped__(7), build_text_pools.__wrapped__(7)
    assert first.names.equals(second.names)
    assert first.address_line1.values.equals(second.address_line1.values)
    assert all(
        name.isascii() and name.isalpha() and len(name) <= 15 for name in first.names.to_pylist()
    )
    for pool in (first.address_line1, first.address_line2, first.address_line3):
        assert (pool.lengths > 0).all(), "every country has address lines"
