"""The account entity: opening accounts, monthly status/balance changes, CSV fields.

Attributes follow seeds/001's dim_account (CASA, Credit Card, Loan, Insurance,
Securities; status Active/Dormant/Closed; maturity for loans and insurance,
credit limit for cards, principal for loans, coverage for insurance). Every
customer's first account (slot 0) is a CASA account, so every Personal customer
has one; a customer holds 1 to 5 accounts in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa

from generator import encoding
from generator.frames import ColumnarFrame
from generator.products import CATALOGUE, PRODUCT_TYPES, Audience, ProductType
from generator.reference import CUSTOMER_ID_BASE
from generator.sampling import categorical
from generator.timeline import shift_years, to_days

ACCOUNT_COLUMNS: tuple[str, ...] = (
    "account_id",
    "cust_id",
    "product_id",
    "account_type",
    "account_status",
    "open_date",
    "maturity_date",
    "credit_limit",
    "principal_amount",
    "coverage_amount",
    "interest_rate",
    "balance",
    "currency",
    "created_at",
    "modified_at",
)

MAX_ACCOUNTS_PER_CUSTOMER = 5
ACCOUNT_STATUSES: tuple[str, ...] = ("Active", "Dormant", "Closed")
ACTIVE, DORMANT, CLOSED = range(3)
# Status of accounts in the initial snapshot (seed is silent).
INITIAL_STATUS_SHARES = np.array([0.85, 0.10, 0.05])
# Share of changed accounts whose status changes (the rest change balance only).
STATUS_CHANGE_SHARE = 0.15
# Active -> Closed (else Dormant); Dormant -> Closed (else Active).
ACTIVE_TO_CLOSED_SHARE = 0.4
DORMANT_TO_CLOSED_SHARE = 0.3
# A customer's first account is opened within an hour of onboarding.
FIRST_ACCOUNT_DELAY_SECONDS = 3_600
CURRENCY = "INR"

_NONE = -1
_NO_DATE = np.iinfo(np.int64).min
_PRODUCT_TYPE_OF = np.array([PRODUCT_TYPES.index(p.product_type) for p in CATALOGUE])
_CASA = CASA_TYPE = PRODUCT_TYPES.index(ProductType.CASA)
_CARD = CARD_TYPE = PRODUCT_TYPES.index(ProductType.CREDIT_CARD)
_LOAN = LOAN_TYPE = PRODUCT_TYPES.index(ProductType.LOAN)
_INSURANCE = PRODUCT_TYPES.index(ProductType.INSURANCE)
AUDIENCES: tuple[Audience, ...] = tuple(Audience)

_LABELS = {
    "product_id": encoding.encoded_labels([p.product_id for p in CATALOGUE]),
    "account_type": encoding.encoded_labels([t.value for t in PRODUCT_TYPES]),
    "status": encoding.encoded_labels(ACCOUNT_STATUSES),
}


@dataclass(frozen=True)
class _ProductChoice:
    """Products an audience may open, with their probabilities."""

    codes: np.ndarray
    probabilities: np.ndarray

    @classmethod
    def of(cls, audience: Audience, *, primary_only: bool) -> _ProductChoice:
        codes = [
            code
            for code, product in enumerate(CATALOGUE)
            if audience in product.audiences and (product.primary or not primary_only)
        ]
        weights = np.array([CATALOGUE[code].weight for code in codes])
        return cls(np.array(codes, dtype=np.int8), weights / weights.sum())


_PRIMARY_CHOICES = {a: _ProductChoice.of(a, primary_only=True) for a in AUDIENCES}
_OTHER_CHOICES = {a: _ProductChoice.of(a, primary_only=False) for a in AUDIENCES}
NO_TYPE = -1  # no restriction in `choose_products`' only_type


def type_mask(*product_types: int) -> int:
    """Bit mask of `PRODUCT_TYPES` indices, for `choose_products`' excluded_types."""
    mask = 0
    for product_type in product_types:
        mask |= 1 << product_type
    return mask


@cache
def _restricted_choice(audience: Audience, only_type: int, excluded_types: int) -> _ProductChoice:
    """Non-primary products of `audience` of type `only_type`, of no type in `excluded_types`."""
    base = _OTHER_CHOICES[audience]
    types = _PRODUCT_TYPE_OF[base.codes]
    keep = (excluded_types >> types) & 1 == 0
    if only_type != NO_TYPE:
        keep &= types == only_type
    if not keep.any():
        raise ValueError(f"no {audience} product fits only={only_type} excluded={excluded_types}")
    weights = base.probabilities[keep]
    return _ProductChoice(base.codes[keep], weights / weights.sum())


@dataclass(frozen=True)
class AccountFrame(ColumnarFrame):
    """Accounts as arrays: one element per account (or account version).

    Money in paise and rates in basis points; `_NONE` (-1) marks an absent
    amount, times are epoch seconds and dates epoch days.
    """

    owner: np.ndarray  # row of the owner in the chunk's CustomerFrame
    customer_ordinal: np.ndarray
    slot: np.ndarray  # 0..4: position among the owner's accounts (0 = primary CASA)
    product: np.ndarray
    status: np.ndarray
    opened_at: np.ndarray
    modified_at: np.ndarray
    maturity_day: np.ndarray
    credit_limit: np.ndarray
    principal: np.ndarray
    coverage: np.ndarray
    interest_rate: np.ndarray
    balance: np.ndarray

    @property
    def product_type(self) -> np.ndarray:
        """Index into `PRODUCT_TYPES` per account."""
        product_type: np.ndarray = _PRODUCT_TYPE_OF[self.product]
        return product_type

    @property
    def account_number(self) -> np.ndarray:
        """The 10 digits after "AC": customer ordinal * 10 + slot, unique per account."""
        number: np.ndarray = self.customer_ordinal * 10 + self.slot
        return number


def account_counts(rng: np.random.Generator, size: int, mean: float) -> np.ndarray:
    """Accounts per new customer: 1 + Binomial(4, (mean - 1) / 4), so 1..5 with the given mean."""
    extra = rng.binomial(
        MAX_ACCOUNTS_PER_CUSTOMER - 1, (mean - 1) / (MAX_ACCOUNTS_PER_CUSTOMER - 1), size
    )
    return (1 + extra).astype(np.int64)


def choose_products(
    rng: np.random.Generator,
    audience: np.ndarray,
    slot: np.ndarray,
    *,
    only_type: np.ndarray | None = None,
    excluded_types: np.ndarray | None = None,
) -> np.ndarray:
    """Product code per new account: slot 0 a primary CASA product, others any of the audience's.

    Args:
        rng: Random stream.
        audience: Owner's index into `AUDIENCES`, per account.
        slot: Position among the owner's accounts.
        only_type: Per account, the `PRODUCT_TYPES` index the product must have,
            or `NO_TYPE` (persona shaping: a Recovering Credit User's loan).
            Applies to non-primary slots only.
        excluded_types: Per account, a `type_mask` of types the product must
            not have, or 0 (e.g. no card for a Self Aware Avoider). Non-primary
            slots only.

    Returns:
        Index into `CATALOGUE` per account (int8).
    """
    size = len(audience)
    only = np.full(size, NO_TYPE, dtype=np.int64) if only_type is None else np.asarray(only_type)
    excluded = np.zeros(size, dtype=np.int64) if excluded_types is None else excluded_types
    restricted = (slot != 0) & ((only != NO_TYPE) | (excluded != 0))
    product = np.zeros(size, dtype=np.int8)
    for audience_code, audience_name in enumerate(AUDIENCES):
        for primary, choices in ((True, _PRIMARY_CHOICES), (False, _OTHER_CHOICES)):
            rows = (audience == audience_code) & ((slot == 0) == primary) & ~restricted
            choice = choices[audience_name]
            product[rows] = choice.codes[categorical(rng, choice.probabilities, int(rows.sum()))]
        in_audience = restricted & (audience == audience_code)
        if not in_audience.any():
            continue
        pairs = np.unique(np.stack([only[in_audience], excluded[in_audience]]), axis=1)
        for only_code, excluded_code in pairs.T:
            rows = in_audience & (only == only_code) & (excluded == excluded_code)
            choice = _restricted_choice(audience_name, int(only_code), int(excluded_code))
            product[rows] = choice.codes[categorical(rng, choice.probabilities, int(rows.sum()))]
    return product


def open_accounts(
    rng: np.random.Generator,
    *,
    owner: np.ndarray,
    customer_ordinal: np.ndarray,
    audience: np.ndarray,
    slot: np.ndarray,
    opened_at: np.ndarray,
    product: np.ndarray | None = None,
    excluded_types: np.ndarray | None = None,
) -> AccountFrame:
    """Open one account per element, Active, with product-specific attributes.

    Args:
        rng: Random stream of this chunk (and month).
        owner: Owner's row in the chunk's CustomerFrame.
        customer_ordinal: Owner's customer number.
        audience: Owner's index into `AUDIENCES`.
        slot: Position among the owner's accounts; slot 0 gets a primary CASA product.
        opened_at: Opening time (epoch seconds); also created_at and modified_at.
        product: Index into `CATALOGUE` per account; drawn with `choose_products`
            if None.
        excluded_types: Passed to `choose_products` when `product` is None.

    Returns:
        The new accounts.
    """
    size = len(owner)
    if product is None:
        product = choose_products(rng, audience, slot, excluded_types=excluded_types)
    product = np.asarray(product, dtype=np.int8)

    product_type = _PRODUCT_TYPE_OF[product]
    low = np.array([(p.limit_or_amount or (0, 0))[0] for p in CATALOGUE])[product]
    high = np.array([(p.limit_or_amount or (0, 0))[1] for p in CATALOGUE])[product]
    term_low = np.array([(p.term_years or (0, 0))[0] for p in CATALOGUE])[product]
    term_high = np.array([(p.term_years or (0, 0))[1] for p in CATALOGUE])[product]
    rate_min = np.array([p.rate_min if p.rate_min is not None else _NONE for p in CATALOGUE])
    rate_max = np.array([p.rate_max if p.rate_max is not None else _NONE for p in CATALOGUE])

    is_card = product_type == _CARD
    is_loan = product_type == _LOAN
    is_insurance = product_type == _INSURANCE
    # Card limits in multiples of 5,000 INR; loan principals log-uniform in
    # 1,000 INR steps; cover in multiples of 1 lakh.
    credit_limit = _round_to(rng.uniform(low, high), 5_000 * 100)
    principal = _round_to(
        np.exp(rng.uniform(np.log(np.maximum(low, 1)), np.log(np.maximum(high, 1)))), 1_000 * 100
    )
    coverage = _round_to(rng.uniform(low, high), 100_000 * 100)
    term = rng.integers(term_low, term_high + 1)
    has_rate = rate_min[product] >= 0
    rate = rate_min[product] + 5 * np.floor(
        rng.random(size) * ((rate_max[product] - rate_min[product]) // 5 + 1)
    ).astype(np.int64)

    typical = np.array([p.typical_balance for p in CATALOGUE])[product]
    holdings = _round_to(typical * rng.lognormal(0.0, 1.0, size), 1)
    balance = np.select(
        [is_card, is_loan, is_insurance],
        [
            _round_to(credit_limit * rng.uniform(0.0, 0.6, size), 1),
            _round_to(principal * rng.uniform(0.05, 1.0, size), 1),
            np.zeros(size, dtype=np.int64),
        ],
        holdings,
    )
    opened = np.asarray(opened_at, dtype=np.int64)
    return AccountFrame(
        owner=np.asarray(owner, dtype=np.int64),
        customer_ordinal=np.asarray(customer_ordinal, dtype=np.int64),
        slot=np.asarray(slot, dtype=np.int64),
        product=product,
        status=np.full(size, ACTIVE, dtype=np.int8),
        opened_at=opened,
        modified_at=opened.copy(),
        maturity_day=np.where(is_loan | is_insurance, shift_years(to_days(opened), term), _NO_DATE),
        credit_limit=np.where(is_card, credit_limit, _NONE),
        principal=np.where(is_loan, principal, _NONE),
        coverage=np.where(is_insurance, coverage, _NONE),
        interest_rate=np.where(has_rate, rate, _NONE),
        balance=balance,
    )


def age_initial_statuses(
    rng: np.random.Generator, accounts: AccountFrame, rows: np.ndarray, as_of: int
) -> None:
    """Give `rows` (accounts of the initial snapshot) their status as of `as_of`, in place.

    15 % are Dormant or Closed, changed at a random time between opening and
    `as_of` (their modified_at); Closed accounts have a zero balance.
    """
    status = categorical(rng, INITIAL_STATUS_SHARES, len(rows))
    changed = rows[status != ACTIVE]
    accounts.status[rows] = status
    accounts.modified_at[changed] = rng.integers(accounts.opened_at[changed], as_of)
    accounts.balance[rows[status == CLOSED]] = 0


def apply_update(
    rng: np.random.Generator,
    accounts: AccountFrame,
    rows: np.ndarray,
    modified_at: np.ndarray,
    frozen_status: np.ndarray | None = None,
) -> None:
    """Change the balance (and for some the status) of `rows` in place.

    Args:
        rng: Random stream of this chunk and month.
        accounts: The chunk's accounts, modified in place.
        rows: Indices of non-Closed accounts to change.
        modified_at: New modified_at per row, later than the current one.
        frozen_status: Per row of `rows`, True if only the balance may change
            (persona shaping: a Recovering Credit User's loan, a Prosperous
            customer's primary CASA account).
    """
    size = len(rows)
    product_type = accounts.product_type[rows]
    balance = accounts.balance[rows]
    drifted = np.select(
        [product_type == _CARD, product_type == _LOAN, product_type == _INSURANCE],
        [
            accounts.credit_limit[rows] * rng.uniform(0.0, 0.8, size),
            balance * rng.uniform(0.90, 0.99, size),  # monthly repayment
            balance,
        ],
        balance * rng.lognormal(0.0, 0.3, size),
    )
    status = accounts.status[rows]
    change_status = rng.random(size) < STATUS_CHANGE_SHARE
    if frozen_status is not None:
        change_status &= ~frozen_status
    close_share = np.where(status == ACTIVE, ACTIVE_TO_CLOSED_SHARE, DORMANT_TO_CLOSED_SHARE)
    reopened_or_dormant = np.where(status == ACTIVE, DORMANT, ACTIVE)
    new_status = np.where(
        change_status,
        np.where(rng.random(size) < close_share, CLOSED, reopened_or_dormant),
        status,
    ).astype(np.int8)
    accounts.status[rows] = new_status
    accounts.balance[rows] = np.where(new_status == CLOSED, 0, _round_to(drifted, 1))
    accounts.modified_at[rows] = modified_at


def is_transactional(accounts: AccountFrame) -> np.ndarray:
    """Accounts customers pay from: CASA and credit cards."""
    product_type = accounts.product_type
    transactional: np.ndarray = (product_type == _CASA) | (product_type == _CARD)
    return transactional


def render_accounts(accounts: AccountFrame) -> dict[str, pa.Array]:
    """Encoded CSV fields, keyed by column in `ACCOUNT_COLUMNS` order."""
    created_at = encoding.timestamps(accounts.opened_at)
    modified_at = encoding.timestamps(accounts.modified_at)
    return {
        "account_id": encoding.zero_padded("AC", accounts.account_number, 10),
        "cust_id": encoding.integers(CUSTOMER_ID_BASE + accounts.customer_ordinal),
        "product_id": encoding.take_codes(_LABELS["product_id"], accounts.product),
        "account_type": encoding.take_codes(_LABELS["account_type"], accounts.product_type),
        "account_status": encoding.take_codes(_LABELS["status"], accounts.status),
        "open_date": encoding.dates(to_days(accounts.opened_at)),
        "maturity_date": encoding.dates(accounts.maturity_day, accounts.maturity_day == _NO_DATE),
        "credit_limit": encoding.fixed2(accounts.credit_limit, accounts.credit_limit < 0),
        "principal_amount": encoding.fixed2(accounts.principal, accounts.principal < 0),
        "coverage_amount": encoding.fixed2(accounts.coverage, accounts.coverage < 0),
        "interest_rate": encoding.fixed2(accounts.interest_rate, accounts.interest_rate < 0),
        "balance": encoding.fixed2(accounts.balance),
        "currency": encoding.constant(CURRENCY, len(accounts)),
        "created_at": created_at,
        "modified_at": modified_at,
    }


def _round_to(values: np.ndarray, step: int) -> np.ndarray:
    """Round to the nearest multiple of `step` paise."""
    return np.round(np.asarray(values, dtype=np.float64) / step).astype(np.int64) * step
