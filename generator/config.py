"""Run parameters of the generator, validated once at construction."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from generator.errors import GeneratorConfigError

# Transaction ids are "TX" + 3 digits of month + 8 digits of customer ordinal +
# 3 digits of per-customer sequence, so these bounds keep every id 14 digits.
MAX_MONTHS = 120
MAX_CUSTOMER_ORDINAL = 99_999_999
MAX_TRANSACTIONS_PER_CUSTOMER_MONTH = 100.0

# Share of N that joins as new customers in every monthly batch. Not a CLI knob:
# the brief fixes it at ~1 %.
NEW_CUSTOMER_RATE = 0.01

# Customers (and their accounts) are created in the 3 years before start_date;
# from 2020 on every account opens after its product's launch (the latest
# product launched in 2016).
EARLIEST_START_DATE = date(2020, 1, 1)
LATEST_START_DATE = date(2099, 12, 31)


@dataclass(frozen=True)
class GeneratorConfig:
    """Parameters of one generator run; equal configs give byte-identical output.

    Attributes:
        customers: Customers in the initial load (N), at least 1.
        seed: Seed of every random stream (non-negative).
        start_date: Date of the initial load (2020-01-01 or later); customers
            were created in the 3 years before it, month m's change batch
            covers the m-th month after it.
        months: Monthly change batches after the initial load (0..120).
        update_rate: Share of existing customers (and of open accounts) changed
            per month, in [0, 1).
        duplicate_rate: Exact duplicate rows added to every customer file, as a
            share of the file's distinct rows, in [0, 1).
        bad_row_rate: Malformed rows added to every customer and transaction
            file, as a share of the file's valid rows, in [0, 1).
        files: Number of files the initial customer load is split into
            (1..customers).
        transactions_per_customer_month: Poisson mean of transactions per
            customer per month (0..100).
        accounts_per_customer: Mean accounts per customer (1..5); the count is
            1 + Binomial(4, (mean - 1) / 4).
    """

    customers: int
    seed: int = 42
    start_date: date = date(2024, 1, 1)
    months: int = 3
    update_rate: float = 0.05
    duplicate_rate: float = 0.01
    bad_row_rate: float = 0.0
    files: int = 1
    transactions_per_customer_month: float = 2.0
    accounts_per_customer: float = 1.8

    def __post_init__(self) -> None:
        _require_int("customers", self.customers, minimum=1)
        _require_int("seed", self.seed, minimum=0)
        _require_int("months", self.months, minimum=0, maximum=MAX_MONTHS)
        _require_int("files", self.files, minimum=1)
        if self.files > self.customers:
            raise GeneratorConfigError(
                f"files must be at most customers ({self.customers}), got {self.files}: "
                "every initial customer file needs at least one customer"
            )
        if not isinstance(self.start_date, date) or type(self.start_date) is not date:
            raise GeneratorConfigError(
                f"start_date must be a datetime.date (not a datetime), got {self.start_date!r}"
            )
        if not EARLIEST_START_DATE <= self.start_date <= LATEST_START_DATE:
            raise GeneratorConfigError(
                f"start_date must be between {EARLIEST_START_DATE} and {LATEST_START_DATE}, "
                f"got {self.start_date}"
            )
        for name in ("update_rate", "duplicate_rate", "bad_row_rate"):
            _require_number(name, getattr(self, name), minimum=0.0, below=1.0)
        _require_number(
            "transactions_per_customer_month",
            self.transactions_per_customer_month,
            minimum=0.0,
            maximum=MAX_TRANSACTIONS_PER_CUSTOMER_MONTH,
        )
        _require_number(
            "accounts_per_customer", self.accounts_per_customer, minimum=1.0, maximum=5.0
        )
        # 2 and 2.0 are equal configs: they must write byte-identical manifests.
        for name in _FLOAT_FIELDS:
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.total_customers > MAX_CUSTOMER_ORDINAL:
            raise GeneratorConfigError(
                f"customers plus the new customers of {self.months} months "
                f"({self.total_customers}) exceed {MAX_CUSTOMER_ORDINAL}, the capacity of "
                "the 14-digit transaction id"
            )

    @property
    def new_customers_per_month(self) -> int:
        """New customers (fresh ids) joining in each monthly batch."""
        return round(self.customers * NEW_CUSTOMER_RATE)

    @property
    def total_customers(self) -> int:
        """Customers delivered over the whole run: initial plus all new ones."""
        return self.customers + self.months * self.new_customers_per_month

    def to_manifest_dict(self) -> dict[str, Any]:
        """All parameters as JSON-ready values (dates as ISO strings)."""
        values = asdict(self)
        values["start_date"] = self.start_date.isoformat()
        return values


_FLOAT_FIELDS = (
    "update_rate",
    "duplicate_rate",
    "bad_row_rate",
    "transactions_per_customer_month",
    "accounts_per_customer",
)


def _require_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    # bool is an int subclass; True customers is a bug, not a 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise GeneratorConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise GeneratorConfigError(f"{name} must be at least {minimum}{upper}, got {value}")


def _require_number(
    name: str,
    value: object,
    *,
    minimum: float,
    maximum: float | None = None,
    below: float | None = None,
) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise GeneratorConfigError(f"{name} must be a finite number, got {value!r}")
    if value < minimum:
        raise GeneratorConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise GeneratorConfigError(f"{name} must be at most {maximum}, got {value}")
    if below is not None and value >= below:
        raise GeneratorConfigError(f"{name} must be in [{minimum}, {below}), got {value}")
