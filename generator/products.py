"""The product catalogue: a fixed list of the bank's products (deterministic).

seeds/001 names the product types (CASA, Credit Card, Loan, Insurance,
Securities), example names ("Premium Savings", "Gold Card", "Home Mortgage") and
the dim_product columns; the seed's interest_rate_range is split into
interest_rate_min / interest_rate_max so both are numbers. Figures are typical
of Indian retail banking (INR); the catalogue does not change over the run, so
products are delivered once, in the first batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import numpy as np
import pyarrow as pa

from generator import encoding
from generator.timeline import SECONDS_PER_DAY, epoch_days

PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_id",
    "product_name",
    "product_type",
    "product_category",
    "min_balance",
    "annual_fee",
    "interest_rate_min",
    "interest_rate_max",
    "launch_date",
    "created_at",
    "modified_at",
)


class ProductType(StrEnum):
    """Product families; also each account's account_type."""

    CASA = "CASA"
    CREDIT_CARD = "Credit Card"
    LOAN = "Loan"
    INSURANCE = "Insurance"
    SECURITIES = "Securities"


PRODUCT_TYPES: tuple[ProductType, ...] = tuple(ProductType)


class Audience(StrEnum):
    """Which customers may hold a product."""

    RETAIL = "retail"  # Personal customers aged 18+ when they joined
    MINOR = "minor"  # Personal customers under 18 when they joined
    BUSINESS = "business"  # Corporate and Merchant customers


@dataclass(frozen=True)
class Product:
    """One catalogue entry: its published columns and how its accounts look.

    Money is in paise and rates in basis points so that they stay exact.

    Attributes:
        audiences: Customer groups that may hold the product.
        weight: Relative popularity when a customer opens a non-primary account.
        primary: Whether it can be a customer's first (CASA) account.
        typical_balance: Median balance in paise (CASA, Securities: holdings).
        term_years: (shortest, longest) term of loans and insurance policies.
        limit_or_amount: (low, high) credit limit (cards), principal (loans) or
            coverage (insurance), in paise.
    """

    product_id: str
    name: str
    product_type: ProductType
    category: str
    min_balance: int
    annual_fee: int
    rate_min: int | None
    rate_max: int | None
    launch_date: date
    audiences: frozenset[Audience]
    weight: float
    primary: bool = False
    typical_balance: int = 0
    term_years: tuple[int, int] | None = None
    limit_or_amount: tuple[int, int] | None = None


_RETAIL = frozenset({Audience.RETAIL})
_MINOR = frozenset({Audience.MINOR})
_BUSINESS = frozenset({Audience.BUSINESS})
_RETAIL_AND_MINOR = frozenset({Audience.RETAIL, Audience.MINOR})
_EVERYONE = frozenset(Audience)
_LAKH = 100_000  # rupees
_CRORE = 100 * _LAKH


def _casa(
    product_id: str,
    name: str,
    category: str,
    *,
    min_balance: int,
    fee: int,
    rates: tuple[int, int] | None,
    launched: date,
    audiences: frozenset[Audience],
    weight: float,
    typical_balance: int,
) -> Product:
    """A savings or current account; money in rupees, rates in basis points."""
    return Product(
        product_id,
        name,
        ProductType.CASA,
        category,
        min_balance=min_balance * 100,
        annual_fee=fee * 100,
        rate_min=rates[0] if rates else None,
        rate_max=rates[1] if rates else None,
        launch_date=launched,
        audiences=audiences,
        weight=weight,
        primary=True,
        typical_balance=typical_balance * 100,
    )


def _limit_product(
    product_id: str,
    name: str,
    product_type: ProductType,
    category: str,
    *,
    fee: int,
    rates: tuple[int, int] | None,
    launched: date,
    audiences: frozenset[Audience],
    weight: float,
    amount: tuple[int, int],
    term_years: tuple[int, int] | None = None,
) -> Product:
    """A card, loan or policy: credit limit, principal or coverage range in rupees."""
    return Product(
        product_id,
        name,
        product_type,
        category,
        min_balance=0,
        annual_fee=fee * 100,
        rate_min=rates[0] if rates else None,
        rate_max=rates[1] if rates else None,
        launch_date=launched,
        audiences=audiences,
        weight=weight,
        term_years=term_years,
        limit_or_amount=(amount[0] * 100, amount[1] * 100),
    )


def _securities(
    product_id: str,
    name: str,
    category: str,
    *,
    min_balance: int,
    fee: int,
    launched: date,
    audiences: frozenset[Audience],
    weight: float,
    typical_balance: int,
) -> Product:
    """A fund or demat account: balance is the holdings' value; no interest rate."""
    return Product(
        product_id,
        name,
        ProductType.SECURITIES,
        category,
        min_balance=min_balance * 100,
        annual_fee=fee * 100,
        rate_min=None,
        rate_max=None,
        launch_date=launched,
        audiences=audiences,
        weight=weight,
        typical_balance=typical_balance * 100,
    )


_CARD = ProductType.CREDIT_CARD
_LOAN = ProductType.LOAN
_INSURANCE = ProductType.INSURANCE

# Rates in basis points (270 = 2.70 % a year); card rates are the monthly
# finance charge expressed per year. Insurance and securities carry no rate.
CATALOGUE: tuple[Product, ...] = (
    _casa("PRD0001", "Basic Savings", "Savings", min_balance=0, fee=0, rates=(270, 300),
          launched=date(2006, 4, 1), audiences=_RETAIL, weight=3.0, typical_balance=25_000),
    _casa("PRD0002", "Premium Savings", "Savings", min_balance=25_000, fee=0, rates=(300, 350),
          launched=date(2009, 7, 1), audiences=_RETAIL, weight=1.5, typical_balance=150_000),
    _casa("PRD0003", "Salary Account", "Savings", min_balance=0, fee=0, rates=(270, 300),
          launched=date(2011, 1, 10), audiences=_RETAIL, weight=2.0, typical_balance=60_000),
    _casa("PRD0004", "Junior Savings", "Savings", min_balance=0, fee=0, rates=(300, 350),
          launched=date(2012, 11, 14), audiences=_MINOR, weight=1.0, typical_balance=5_000),
    _casa("PRD0005", "NRE Savings", "Savings", min_balance=10_000, fee=0, rates=(300, 350),
          launched=date(2008, 3, 3), audiences=_RETAIL, weight=0.5, typical_balance=200_000),
    _casa("PRD0006", "Business Current", "Current", min_balance=50_000, fee=2_500, rates=None,
          launched=date(2005, 6, 1), audiences=_BUSINESS, weight=2.0, typical_balance=800_000),
    _casa("PRD0007", "Merchant Current", "Current", min_balance=25_000, fee=1_200, rates=None,
          launched=date(2014, 8, 15), audiences=_BUSINESS, weight=1.0, typical_balance=300_000),
    _limit_product("PRD0008", "Classic Card", _CARD, "Card", fee=500, rates=(3_600, 4_200),
                   launched=date(2007, 2, 1), audiences=_RETAIL, weight=2.0,
                   amount=(50_000, 2 * _LAKH)),
    _limit_product("PRD0009", "Gold Card", _CARD, "Card", fee=1_500, rates=(3_400, 4_000),
                   launched=date(2010, 5, 20), audiences=_RETAIL, weight=1.5,
                   amount=(2 * _LAKH, 5 * _LAKH)),
    _limit_product("PRD0010", "Platinum Card", _CARD, "Card", fee=5_000, rates=(3_000, 3_600),
                   launched=date(2013, 9, 9), audiences=_RETAIL, weight=0.7,
                   amount=(5 * _LAKH, 15 * _LAKH)),
    _limit_product("PRD0011", "Travel Rewards Card", _CARD, "Card", fee=3_000,
                   rates=(3_200, 3_800), launched=date(2016, 3, 1), audiences=_RETAIL,
                   weight=0.6, amount=(3 * _LAKH, 10 * _LAKH)),
    _limit_product("PRD0012", "Business Card", _CARD, "Card", fee=2_000, rates=(3_000, 3_600),
                   launched=date(2015, 1, 5), audiences=_BUSINESS, weight=1.0,
                   amount=(5 * _LAKH, 25 * _LAKH)),
    _limit_product("PRD0013", "Home Mortgage", _LOAN, "Secured Loan", fee=0, rates=(840, 1_050),
                   launched=date(2005, 1, 15), audiences=_RETAIL, weight=0.8,
                   amount=(15 * _LAKH, 2 * _CRORE), term_years=(10, 30)),
    _limit_product("PRD0014", "Auto Loan", _LOAN, "Secured Loan", fee=0, rates=(875, 1_200),
                   launched=date(2006, 10, 2), audiences=_RETAIL, weight=0.8,
                   amount=(3 * _LAKH, 25 * _LAKH), term_years=(3, 7)),
    _limit_product("PRD0015", "Gold Loan", _LOAN, "Secured Loan", fee=0, rates=(900, 1_400),
                   launched=date(2012, 6, 18), audiences=_RETAIL, weight=0.5,
                   amount=(25_000, 10 * _LAKH), term_years=(1, 3)),
    _limit_product("PRD0016", "Personal Loan", _LOAN, "Unsecured Loan", fee=0,
                   rates=(1_050, 1_800), launched=date(2008, 8, 8), audiences=_RETAIL,
                   weight=0.9, amount=(50_000, 25 * _LAKH), term_years=(1, 5)),
    _limit_product("PRD0017", "Education Loan", _LOAN, "Unsecured Loan", fee=0,
                   rates=(850, 1_300), launched=date(2010, 6, 1), audiences=_RETAIL,
                   weight=0.4, amount=(2 * _LAKH, 40 * _LAKH), term_years=(5, 15)),
    _limit_product("PRD0018", "Business Term Loan", _LOAN, "Secured Loan", fee=0,
                   rates=(900, 1_450), launched=date(2007, 4, 16), audiences=_BUSINESS,
                   weight=0.8, amount=(10 * _LAKH, 5 * _CRORE), term_years=(3, 10)),
    _limit_product("PRD0019", "Working Capital Loan", _LOAN, "Unsecured Loan", fee=0,
                   rates=(1_000, 1_600), launched=date(2009, 1, 12), audiences=_BUSINESS,
                   weight=0.6, amount=(5 * _LAKH, 1 * _CRORE), term_years=(1, 3)),
    _limit_product("PRD0020", "Term Life Cover", _INSURANCE, "Life", fee=12_000, rates=None,
                   launched=date(2011, 2, 1), audiences=_RETAIL, weight=0.8,
                   amount=(25 * _LAKH, 2 * _CRORE), term_years=(10, 30)),
    _limit_product("PRD0021", "Family Health Cover", _INSURANCE, "Health", fee=18_000,
                   rates=None, launched=date(2013, 4, 1), audiences=_RETAIL, weight=0.9,
                   amount=(5 * _LAKH, 50 * _LAKH), term_years=(1, 3)),
    _limit_product("PRD0022", "Child Education Plan", _INSURANCE, "Life", fee=24_000,
                   rates=None, launched=date(2016, 7, 1), audiences=_RETAIL_AND_MINOR,
                   weight=0.3, amount=(10 * _LAKH, 50 * _LAKH), term_years=(10, 20)),
    _limit_product("PRD0023", "Group Health Cover", _INSURANCE, "Health", fee=150_000,
                   rates=None, launched=date(2014, 10, 1), audiences=_BUSINESS, weight=0.5,
                   amount=(50 * _LAKH, 5 * _CRORE), term_years=(1, 3)),
    _securities("PRD0024", "Equity Mutual Fund", "Mutual Fund", min_balance=500, fee=0,
                launched=date(2012, 1, 2), audiences=_RETAIL_AND_MINOR, weight=0.9,
                typical_balance=120_000),
    _securities("PRD0025", "Debt Mutual Fund", "Mutual Fund", min_balance=1_000, fee=0,
                launched=date(2012, 1, 2), audiences=_EVERYONE, weight=0.5,
                typical_balance=200_000),
    _securities("PRD0026", "Demat Trading Account", "Equity", min_balance=0, fee=750,
                launched=date(2015, 5, 11), audiences=_RETAIL, weight=0.9,
                typical_balance=250_000),
)  # fmt: skip

# Catalogue row times: created at 09:00 on the launch date, never modified since.
_CATALOGUE_ENTRY_SECOND_OF_DAY = 9 * 3600


def render_products() -> dict[str, pa.Array]:
    """Encoded CSV fields of the catalogue, keyed by column in `PRODUCT_COLUMNS` order."""
    launch_days = np.array([epoch_days(p.launch_date) for p in CATALOGUE], dtype=np.int64)
    entered_at = launch_days * SECONDS_PER_DAY + _CATALOGUE_ENTRY_SECOND_OF_DAY
    rate_min = np.array([p.rate_min or 0 for p in CATALOGUE], dtype=np.int64)
    rate_max = np.array([p.rate_max or 0 for p in CATALOGUE], dtype=np.int64)
    no_rate = np.array([p.rate_min is None for p in CATALOGUE])
    return {
        "product_id": encoding.encoded_labels([p.product_id for p in CATALOGUE]),
        "product_name": encoding.encoded_labels([p.name for p in CATALOGUE]),
        "product_type": encoding.encoded_labels([p.product_type.value for p in CATALOGUE]),
        "product_category": encoding.encoded_labels([p.category for p in CATALOGUE]),
        "min_balance": encoding.fixed2(np.array([p.min_balance for p in CATALOGUE])),
        "annual_fee": encoding.fixed2(np.array([p.annual_fee for p in CATALOGUE])),
        "interest_rate_min": encoding.fixed2(rate_min, no_rate),
        "interest_rate_max": encoding.fixed2(rate_max, no_rate),
        "launch_date": encoding.dates(launch_days),
        "created_at": encoding.timestamps(entered_at),
        "modified_at": encoding.timestamps(entered_at),
    }
