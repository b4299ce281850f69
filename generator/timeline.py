"""Calendar arithmetic of the run: month windows, timestamps and ages.

Timestamps are naive (no time zone, as the source system writes them) and held
as int64 seconds since 1970-01-01; dates as int64 days since 1970-01-01.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

import numpy as np

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)


def add_months(day: date, months: int) -> date:
    """`day` moved by `months` calendar months, clamped to the month's last day."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def epoch_days(day: date) -> int:
    """Days since 1970-01-01."""
    return (day - _EPOCH).days


def epoch_seconds(day: date) -> int:
    """Seconds since 1970-01-01 00:00:00 at the start of `day`."""
    return epoch_days(day) * SECONDS_PER_DAY


@dataclass(frozen=True)
class MonthWindow:
    """Half-open time range [start, end) in epoch seconds covered by one month.

    Month 0 is the month before start_date (its transactions arrive with the
    initial load); month m >= 1 is the m-th month from start_date and its
    changes arrive in the m-th monthly batch.
    """

    month: int
    start: int
    end: int


def month_windows(start_date: date, months: int) -> tuple[MonthWindow, ...]:
    """Windows of months 0..`months` around `start_date`."""
    return tuple(
        MonthWindow(
            month=month,
            start=epoch_seconds(add_months(start_date, month - 1)),
            end=epoch_seconds(add_months(start_date, month)),
        )
        for month in range(months + 1)
    )


def to_days(seconds: np.ndarray) -> np.ndarray:
    """Calendar day (epoch days) of epoch-second timestamps."""
    days: np.ndarray = np.floor_divide(seconds, SECONDS_PER_DAY)
    return days


def shift_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same calendar day `years` later (negative: earlier), Feb 29 -> Feb 28.

    Args:
        days: Epoch days.
        years: Whole years to add, broadcastable to `days`.

    Returns:
        Epoch days (int64).
    """
    day = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month_start = day.astype("datetime64[M]")
    day_of_month = (day - month_start.astype("datetime64[D]")).astype(np.int64)
    shifted_month = month_start + (np.asarray(years, dtype=np.int64) * 12).astype("timedelta64[M]")
    shifted_start = shifted_month.astype("datetime64[D]")
    month_length = ((shifted_month + 1).astype("datetime64[D]") - shifted_start).astype(np.int64)
    shifted: np.ndarray = (
        shifted_start.astype(np.int64) + np.minimum(day_of_month, month_length - 1)
    ).astype(np.int64)
    return shifted


def age_at(birth_days: np.ndarray, at_days: np.ndarray) -> np.ndarray:
    """Completed years of age on `at_days` of people born on `birth_days`.

    A birthday on Feb 29 counts as reached on Mar 1 in common years.
    """
    birth_year, birth_month_day = _year_and_month_day(birth_days)
    at_year, at_month_day = _year_and_month_day(at_days)
    ages: np.ndarray = at_year - birth_year - (at_month_day < birth_month_day).astype(np.int64)
    return ages


def birth_dates_for_ages(
    rng: np.random.Generator, at_days: np.ndarray, ages: np.ndarray
) -> np.ndarray:
    """Uniform birth dates such that each person is exactly `ages[i]` on `at_days[i]`.

    Returns:
        Epoch days (int64).
    """
    latest = shift_years(at_days, -ages)
    earliest = shift_years(at_days, -(ages + 1)) + 1
    return rng.integers(earliest, latest + 1)


def _year_and_month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    day = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    month_index = day.astype("datetime64[M]").astype(np.int64)
    day_of_month = (day - day.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64)
    # month (0-11) * 32 + day orders (month, day) pairs like tuples do.
    return 1970 + month_index // 12, (month_index % 12) * 32 + day_of_month
