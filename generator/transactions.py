"""The transaction entity: monthly payments on CASA and card accounts, settlements.

seeds/001's fact_transaction gives the shape (amount, credit/debit/transfer,
payment method, category, internal/external counterparty); the brief fixes the
modes and reasons. Amounts are log-normal per reason, in INR.

A transaction near the end of its month may be Pending; its settlement
(Posted, later modified_at) arrives in the next month's file as a new version
of the same transaction_id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from generator import encoding
from generator.accounts import AccountFrame
from generator.frames import ColumnarFrame
from generator.pools import SectionedPool, TextPools
from generator.products import CATALOGUE, PRODUCT_TYPES, ProductType
from generator.reference import CUSTOMER_ID_BASE
from generator.sampling import categorical, pick_in_ranges
from generator.timeline import SECONDS_PER_DAY, MonthWindow

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "account_id",
    "cust_id",
    "transaction_ts",
    "amount",
    "currency",
    "transaction_type",
    "transaction_mode",
    "transaction_reason",
    "merchant_name",
    "merchant_category",
    "counterparty_type",
    "status",
    "created_at",
    "modified_at",
)

REASONS: tuple[str, ...] = (
    "Food & Grocery",
    "Travel",
    "Ecom",
    "Exam",
    "Utilities",
    "Healthcare",
    "Entertainment",
    "Fuel",
    "Salary",
    "Rent",
)
_SALARY, _RENT = REASONS.index("Salary"), REASONS.index("Rent")
ECOM = REASONS.index("Ecom")
MERCHANT_CATEGORIES: tuple[str, ...] = (
    "Grocery Stores",
    "Airlines & Travel Agencies",
    "Online Marketplaces",
    "Education Services",
    "Utilities",
    "Medical Services",
    "Entertainment",
    "Fuel Stations",
    "Payroll",
    "Real Estate",
)
# Counterparty names: "<family name> <suffix>", e.g. "Sharma Grocers"; for
# Salary the employer, for Rent the landlord's agency.
MERCHANT_SUFFIXES: tuple[tuple[str, ...], ...] = (
    ("Grocers", "Supermart", "Kirana Store"),
    ("Travels", "Tours", "Holidays"),
    ("Online", "Bazaar", "Shoppe"),
    ("Academy", "Institute", "Exam Board"),
    ("Power", "Gas Agency", "Broadband"),
    ("Hospital", "Pharmacy", "Diagnostics"),
    ("Cinemas", "Multiplex", "Events"),
    ("Fuels", "Petroleum", "Filling Station"),
    ("Industries", "Technologies", "Enterprises"),
    ("Properties", "Estates", "Realty"),
)
# Median amount (INR) and log-normal sigma per reason.
AMOUNT_MEDIAN_INR = np.array([800, 6_000, 1_500, 2_500, 1_800, 2_000, 700, 2_000, 55_000, 18_000])
AMOUNT_SIGMA = np.array([0.8, 0.9, 1.0, 0.6, 0.6, 1.0, 0.7, 0.5, 0.6, 0.5])
# Reason shares per account kind (card, retail CASA, business CASA). Business
# "Salary" is payroll paid out.
_CARD_KIND, _RETAIL_CASA_KIND, _BUSINESS_CASA_KIND = range(3)
REASON_SHARES = np.array(
    [
        [0.25, 0.12, 0.22, 0.00, 0.08, 0.08, 0.12, 0.13, 0.00, 0.00],
        [0.18, 0.05, 0.12, 0.03, 0.14, 0.07, 0.07, 0.07, 0.12, 0.15],
        [0.05, 0.15, 0.15, 0.00, 0.20, 0.02, 0.03, 0.10, 0.20, 0.10],
    ]
)
# The same without Ecom: reasons of transactions that must not be e-commerce.
_NON_ECOM_SHARES = REASON_SHARES * (np.arange(len(REASONS)) != ECOM)

TRANSACTION_TYPES: tuple[str, ...] = ("debit", "credit", "transfer")
_DEBIT, _CREDIT, _TRANSFER = range(3)
MODES: tuple[str, ...] = ("UPI", "QR", "Card", "NetBanking", "Transfer")
_UPI, _QR, _CARD_MODE, _NETBANKING, _TRANSFER_MODE = range(5)
# Mode of CASA payments other than salary and rent: UPI, QR, Card, NetBanking.
_PAYMENT_MODE_SHARES = np.array([0.50, 0.20, 0.15, 0.15, 0.0])
_RENT_MODE_SHARES = np.array([0.30, 0.0, 0.0, 0.40, 0.30])
COUNTERPARTY_TYPES: tuple[str, ...] = ("internal", "external")
# Share of counterparties banking with us: employers and landlords more often.
_INTERNAL_SHARE = 0.15
_INTERNAL_SHARE_SALARY_RENT = 0.30
STATUSES: tuple[str, ...] = ("Posted", "Pending", "Reversed")
POSTED, PENDING, REVERSED = range(3)
# Transactions in the last days of a month may still be pending at the cut-off;
# they settle within two days of the next month's start.
PENDING_WINDOW_SECONDS = 3 * SECONDS_PER_DAY
PENDING_SHARE_IN_WINDOW = 0.5
REVERSED_SHARE = 0.01
SETTLEMENT_DELAY_SECONDS = 2 * SECONDS_PER_DAY
_MAX_SEQUENCE = 999  # 3 digits of the transaction id
CURRENCY = "INR"

# transaction_id = "TX" + month (3 digits) + customer ordinal (8) + sequence (3).
_ID_MONTH_FACTOR = 10**11
_ID_ORDINAL_FACTOR = 10**3
# Ids starting "TX999" never belong to a valid transaction: config caps months
# at MAX_MONTHS (120).
INVALID_ID_MONTH = 999

_CURRENT_CATEGORY_PRODUCTS = np.array([p.category == "Current" for p in CATALOGUE])
_CASA = PRODUCT_TYPES.index(ProductType.CASA)
_LABELS = {
    "reason": encoding.encoded_labels(REASONS),
    "merchant_category": encoding.encoded_labels(MERCHANT_CATEGORIES),
    "type": encoding.encoded_labels(TRANSACTION_TYPES),
    "mode": encoding.encoded_labels(MODES),
    "counterparty": encoding.encoded_labels(COUNTERPARTY_TYPES),
    "status": encoding.encoded_labels(STATUSES),
}


@dataclass(frozen=True)
class CustomerActivity:
    """How each customer of a chunk transacts, and running counts over the run.

    Arrays are indexed by the customer's row in the chunk's CustomerFrame. Set by
    the latent personas (see personas.py); `total` and `ecom` are updated by
    `draw_transactions`.

    Attributes:
        poisson_mean: Poisson mean of the customer's transactions per month.
        minimum: Transactions added to the Poisson count every month (at least
            this many per month while the customer has an eligible account).
        ecom_target: Share of e-commerce transactions the customer keeps to over
            the run (NaN: no target; then `ecom_cap` applies).
        ecom_cap: Customers without a target keep their e-commerce share below
            this once they have 3 or more transactions: extra Ecom draws get
            another reason.
        amount_scale: Factor on the customer's purchase amounts (every reason
            but Salary and Rent).
        total: Transactions drawn so far.
        ecom: Ecom transactions drawn so far.
    """

    poisson_mean: np.ndarray
    minimum: np.ndarray
    ecom_target: np.ndarray
    ecom_cap: float
    amount_scale: np.ndarray
    total: np.ndarray
    ecom: np.ndarray


@dataclass(frozen=True)
class TransactionFrame(ColumnarFrame):
    """Transactions (or versions) as arrays; money in paise, times in epoch seconds."""

    month: np.ndarray
    customer_ordinal: np.ndarray
    sequence: np.ndarray
    account_number: np.ndarray
    transaction_ts: np.ndarray
    amount: np.ndarray
    transaction_type: np.ndarray
    mode: np.ndarray
    reason: np.ndarray
    merchant: np.ndarray
    counterparty: np.ndarray
    status: np.ndarray
    modified_at: np.ndarray

    @property
    def id_number(self) -> np.ndarray:
        """The 14 digits after "TX"."""
        id_number: np.ndarray = (
            self.month * _ID_MONTH_FACTOR
            + self.customer_ordinal * _ID_ORDINAL_FACTOR
            + self.sequence
        )
        return id_number


def build_merchant_pool(pools: TextPools) -> SectionedPool:
    """Counterparty names per reason (one section per entry of `REASONS`)."""
    families = pools.family_names()
    return SectionedPool.from_groups(
        [f"{family} {suffix}" for family in families for suffix in suffixes]
        for suffixes in MERCHANT_SUFFIXES
    )


def draw_transactions(
    rng: np.random.Generator,
    accounts: AccountFrame,
    eligible: np.ndarray,
    window: MonthWindow,
    activity: CustomerActivity,
    merchants: SectionedPool,
    *,
    may_stay_pending: bool,
) -> TransactionFrame:
    """One month of transactions of the customers owning `eligible` accounts.

    Each customer with at least one eligible account makes minimum +
    Poisson(mean) transactions (their `activity`; at most 999), each on one of
    those accounts chosen uniformly, at a uniform time between max(window
    start, account opening) and the window's end. Reasons follow the account
    kind's shares, then the customer's e-commerce target or cap (see
    `CustomerActivity`); purchase amounts are scaled by the customer's factor.

    Args:
        rng: Random stream of this chunk and month.
        accounts: The chunk's accounts.
        eligible: Boolean mask of accounts that may transact this month.
        window: The month.
        activity: Per-customer behaviour; its running counts are updated.
        merchants: Result of `build_merchant_pool`.
        may_stay_pending: Whether transactions at the month's end may be
            Pending (false in the last month: no later file would settle them).

    Returns:
        The month's transactions, ordered by transaction_id.
    """
    rows = np.flatnonzero(eligible)
    rows = rows[np.argsort(accounts.owner[rows], kind="stable")]
    owners, first, account_count = np.unique(
        accounts.owner[rows], return_index=True, return_counts=True
    )
    per_owner = np.minimum(
        activity.minimum[owners] + rng.poisson(activity.poisson_mean[owners]), _MAX_SEQUENCE
    )
    total = int(per_owner.sum())
    owner_of_tx = np.repeat(np.arange(len(owners)), per_owner)
    sequence = np.arange(total) - np.repeat(np.cumsum(per_owner) - per_owner, per_owner)
    account = rows[
        first[owner_of_tx]
        + np.floor(rng.random(total) * account_count[owner_of_tx]).astype(np.int64)
    ]

    timestamp = rng.integers(np.maximum(window.start, accounts.opened_at[account]), window.end)
    kind = np.where(
        accounts.product_type[account] == _CASA,
        np.where(
            _CURRENT_CATEGORY_PRODUCTS[accounts.product[account]],
            _BUSINESS_CASA_KIND,
            _RETAIL_CASA_KIND,
        ),
        _CARD_KIND,
    )
    reason = np.zeros(total, dtype=np.int8)
    for kind_code, shares in enumerate(REASON_SHARES):
        in_kind = kind == kind_code
        reason[in_kind] = categorical(rng, shares, int(in_kind.sum()))
    _steer_ecom(rng, reason, kind, owners, per_owner, activity)

    transaction_type, mode = _type_and_mode(rng, reason, kind)
    salary_or_rent = (reason == _SALARY) | (reason == _RENT)
    internal_share = np.where(salary_or_rent, _INTERNAL_SHARE_SALARY_RENT, _INTERNAL_SHARE)
    scale = np.where(salary_or_rent, 1.0, activity.amount_scale[owners][owner_of_tx])
    amount_inr = (
        AMOUNT_MEDIAN_INR[reason]
        * np.exp(AMOUNT_SIGMA[reason] * rng.standard_normal(total))
        * scale
    )

    pending = (
        may_stay_pending
        & (timestamp >= window.end - PENDING_WINDOW_SECONDS)
        & (rng.random(total) < PENDING_SHARE_IN_WINDOW)
    )
    reversed_ = ~pending & (rng.random(total) < REVERSED_SHARE)
    status = np.select([pending, reversed_], [PENDING, REVERSED], POSTED).astype(np.int8)

    return TransactionFrame(
        month=np.full(total, window.month, dtype=np.int64),
        customer_ordinal=accounts.customer_ordinal[account],
        sequence=sequence.astype(np.int64),
        account_number=accounts.account_number[account],
        transaction_ts=timestamp,
        amount=np.maximum(np.round(amount_inr * 100), 100).astype(np.int64),
        transaction_type=transaction_type,
        mode=mode,
        reason=reason,
        merchant=pick_in_ranges(rng, merchants.offsets[reason], merchants.lengths[reason]),
        counterparty=(rng.random(total) >= internal_share).astype(np.int8),
        status=status,
        modified_at=timestamp.copy(),
    )


def _steer_ecom(
    rng: np.random.Generator,
    reason: np.ndarray,
    kind: np.ndarray,
    owners: np.ndarray,
    per_owner: np.ndarray,
    activity: CustomerActivity,
) -> None:
    """Give each customer's month the number of Ecom transactions their activity asks for.

    Transactions are grouped by customer (in `owners` order). With a target s,
    the customer ends the month with round(s * all transactions so far) Ecom
    transactions (within what this month's count allows), so the share over the
    run stays close to s whatever the monthly counts. Without one, Ecom draws
    beyond what keeps the running share below `ecom_cap` (once the customer has
    3 or more transactions) get a non-Ecom reason. Updates the running counts.
    """
    count = per_owner.astype(np.int64)
    start = np.cumsum(count) - count
    owner_of_tx = np.repeat(np.arange(len(owners)), count)
    total_before = activity.total[owners]
    ecom_before = activity.ecom[owners]
    total_after = total_before + count
    target = activity.ecom_target[owners]
    has_target = ~np.isnan(target)

    # Customers with a target: the first `wanted` of their transactions in a
    # random order become Ecom (transactions are grouped by customer, so the
    # customer index plus a uniform in [0, 1) sorts them randomly within each).
    targeted = has_target[owner_of_tx]
    rows = np.flatnonzero(targeted)
    order = rows[np.argsort(owner_of_tx[rows] + rng.random(len(rows)), kind="stable")]
    rank = np.zeros(len(reason), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(
        np.cumsum(count[has_target]) - count[has_target], count[has_target]
    )
    wanted = np.clip(
        np.floor(np.where(has_target, target, 0.0) * total_after + 0.5).astype(np.int64)
        - ecom_before,
        0,
        count,
    )
    make_ecom = targeted & (rank < wanted[owner_of_tx])

    # Capped customers keep their first `allowed` Ecom draws (in transaction order).
    is_ecom = reason == ECOM
    running = np.cumsum(is_ecom)
    ecom_rank = running - 1 - np.concatenate(([0], running))[start][owner_of_tx]
    if np.isfinite(activity.ecom_cap):
        limit = np.ceil(activity.ecom_cap * total_after).astype(np.int64) - 1 - ecom_before
        allowed = np.where(total_after >= 3, np.clip(limit, 0, count), count)
    else:
        allowed = count
    too_many = ~targeted & is_ecom & (ecom_rank >= allowed[owner_of_tx])

    redraw = (targeted & ~make_ecom & is_ecom) | too_many
    for kind_code, shares in enumerate(_NON_ECOM_SHARES):
        rows = np.flatnonzero(redraw & (kind == kind_code))
        reason[rows] = categorical(rng, shares, len(rows))
    reason[make_ecom] = ECOM

    activity.total[owners] = total_after
    activity.ecom[owners] = ecom_before + np.bincount(
        owner_of_tx, weights=reason == ECOM, minlength=len(owners)
    ).astype(np.int64)


def settle(
    rng: np.random.Generator, pending: TransactionFrame, window: MonthWindow
) -> TransactionFrame:
    """Posted versions of `pending` transactions, settled early in `window`."""
    settled = pending.copy()
    settled.status[:] = POSTED
    settled.modified_at[:] = window.start + rng.integers(0, SETTLEMENT_DELAY_SECONDS, len(pending))
    return settled


def render_transactions(
    transactions: TransactionFrame, merchants: SectionedPool
) -> dict[str, pa.Array]:
    """Encoded CSV fields, keyed by column in `TRANSACTION_COLUMNS` order."""
    transaction_ts = encoding.timestamps(transactions.transaction_ts)
    settled = transactions.modified_at != transactions.transaction_ts
    modified_at = encoding.timestamps(transactions.modified_at) if settled.any() else transaction_ts
    return {
        "transaction_id": encoding.zero_padded("TX", transactions.id_number, 14),
        "account_id": encoding.zero_padded("AC", transactions.account_number, 10),
        "cust_id": encoding.integers(CUSTOMER_ID_BASE + transactions.customer_ordinal),
        "transaction_ts": transaction_ts,
        "amount": encoding.fixed2(transactions.amount),
        "currency": encoding.constant(CURRENCY, len(transactions)),
        "transaction_type": encoding.take_codes(_LABELS["type"], transactions.transaction_type),
        "transaction_mode": encoding.take_codes(_LABELS["mode"], transactions.mode),
        "transaction_reason": encoding.take_codes(_LABELS["reason"], transactions.reason),
        "merchant_name": merchants.values.take(pa.array(transactions.merchant)),
        "merchant_category": encoding.take_codes(_LABELS["merchant_category"], transactions.reason),
        "counterparty_type": encoding.take_codes(
            _LABELS["counterparty"], transactions.counterparty
        ),
        "status": encoding.take_codes(_LABELS["status"], transactions.status),
        "created_at": transaction_ts,
        "modified_at": modified_at,
    }


def _type_and_mode(
    rng: np.random.Generator, reason: np.ndarray, kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    size = len(reason)
    salary = reason == _SALARY
    rent = reason == _RENT
    transaction_type = np.select(
        [salary & (kind == _RETAIL_CASA_KIND), salary | rent],
        [_CREDIT, _TRANSFER],
        _DEBIT,
    ).astype(np.int8)
    mode = np.select(
        [kind == _CARD_KIND, salary, rent],
        [_CARD_MODE, _TRANSFER_MODE, categorical(rng, _RENT_MODE_SHARES, size)],
        categorical(rng, _PAYMENT_MODE_SHARES, size),
    ).astype(np.int8)
    return transaction_type, mode
