"""Latent cross-sell personas: who each customer is, and how that shapes their data.

Every customer gets one of the six archetypes of `marts/rules.yaml`. The persona
is never written to any file: it only shapes the customer's accounts,
transactions, later changes and campaign journey, so that the pipeline's rules,
evaluated on the delivered data, recover it for the large majority of customers.

Personas are derived after the customer's attributes and first accounts are
drawn (from their own random stream), so the customer distributions of the
seed stay exactly as drawn:

- Financially Stressed: CIBIL score below 651 (the seed's 3 % low band).
- Recovering Credit Users: 70 % of the adults and businesses with a score of
  651-700; each holds a loan.
- Prosperous and Content: 50 % of the adult Personal and the Corporate
  customers with affluence High and a score of 750 or more; large CASA deposits.
- Deal Chasers: 15 % of the other living customers; 45-70 % of their
  transactions are e-commerce, at least 3 a month.
- Self Aware Avoiders: 10 % of the other living customers; no credit card,
  about one transaction every four months. Deceased customers (no activity by
  construction) without a card are Avoiders too: their data is exactly that.
- Generic: everyone else, with the generator's ordinary behaviour.

How the data keeps the rules recoverable is listed in `shape_accounts`,
`update_constraints` and `customer_activity`.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from generator import accounts as acc
from generator.accounts import AccountFrame
from generator.customers import NONE, CustomerFrame, UpdateConstraints
from generator.products import Audience
from generator.reference import AFFLUENCE_LEVEL, CUSTOMER_TYPE, DECEASED, LOW_CIBIL_RANGE
from generator.transactions import CustomerActivity


class Persona(IntEnum):
    """Archetype codes, in the order marts/rules.yaml evaluates them."""

    FINANCIALLY_STRESSED = 0
    RECOVERING_CREDIT_USERS = 1
    PROSPEROUS_AND_CONTENT = 2
    DEAL_CHASERS = 3
    SELF_AWARE_AVOIDERS = 4
    GENERIC = 5


# The archetype names of marts/rules.yaml (tested against the file).
PERSONA_NAMES: tuple[str, ...] = (
    "Financially Stressed",
    "Recovering Credit Users",
    "Prosperous and Content",
    "Deal Chasers",
    "Self Aware Avoiders",
    "Generic",
)

STRESSED_BAND = LOW_CIBIL_RANGE  # (310, 650): rules' cibil_score < 651
RECOVERING_BAND = (651, 700)
RECOVERING_SHARE = 0.70
PROSPEROUS_BAND = (750, 900)
PROSPEROUS_SHARE = 0.50
DEAL_CHASER_SHARE = 0.15
AVOIDER_SHARE = 0.10

# Rules: casa_balance >= 500,000 INR. A Prosperous customer's primary CASA
# account holds at least 7.5 lakh (so balance drift keeps it above 5 lakh);
# customers who would otherwise pass the rule keep their CASA total below 4 lakh.
PROSPEROUS_CASA_FLOOR_PAISE = 750_000 * 100
PROSPEROUS_CASA_EXTRA_MEDIAN_PAISE = 750_000 * 100
PROSPEROUS_CASA_EXTRA_SIGMA = 0.8
OTHERS_CASA_CAP_PAISE = 400_000 * 100

# Rules: ecom_share >= 0.4 AND transactions >= 3. Deal Chasers keep 45-70 %;
# everyone else stays below 35 % once they have 3 transactions.
DEAL_CHASER_ECOM_SHARE = (0.45, 0.70)
OTHERS_ECOM_CAP = 0.35
DEAL_CHASER_MINIMUM_PER_MONTH = 3
# Rules: transactions_per_month < 1 and no card. Poisson(0.25) a month: about 1
# transaction over the 4 months of a default run.
AVOIDER_MEAN_PER_MONTH = 0.25

# Purchase amounts: factor exp(mu + sigma * z) per customer, mu by affluence level
# and persona, calibrated so that with marts/rules.yaml's spend segments (Low
# below 40,000 INR, High from 150,000 INR over a default 4-month run) about half
# of the spending customers are Low and a tenth High.
AMOUNT_MU_BY_AFFLUENCE = {"High": 1.45, "Medium": 1.15, "Low": 0.9}
AMOUNT_MU_BY_PERSONA = np.array([-0.2, 0.0, 0.35, -0.3, 0.0, 0.0])
AMOUNT_SIGMA = 0.65

_HIGH = AFFLUENCE_LEVEL.index("High")
_MERCHANT = CUSTOMER_TYPE.index("Merchant")
_MINOR = acc.AUDIENCES.index(Audience.MINOR)


def assign_personas(
    rng: np.random.Generator, customers: CustomerFrame, accounts: AccountFrame, audience: np.ndarray
) -> np.ndarray:
    """The latent persona (a `Persona` code, int8) of every customer of a chunk.

    Args:
        rng: The chunk's persona stream.
        customers: The chunk's customers as drawn.
        accounts: Their first accounts as drawn (before persona shaping).
        audience: Per customer, index into `accounts.AUDIENCES` (minors hold
            no cards or loans).

    Returns:
        Persona code per customer.
    """
    size = len(customers)
    draws = rng.random((3, size))
    score = customers.cibil_score
    minor = audience == _MINOR
    alive = customers.status != DECEASED
    holds_card = np.bincount(
        accounts.owner, weights=accounts.product_type == acc.CARD_TYPE, minlength=size
    ).astype(bool)

    stressed = score <= STRESSED_BAND[1]
    recovering = _in_band(score, RECOVERING_BAND) & ~minor & (draws[0] < RECOVERING_SHARE)
    prosperous = (
        _prosperous_profile(customers)
        & ~minor
        & (customers.customer_type != _MERCHANT)
        & (draws[1] < PROSPEROUS_SHARE)
    )
    remaining = ~(stressed | recovering | prosperous)
    deal_chaser = remaining & alive & (draws[2] < DEAL_CHASER_SHARE)
    avoider = remaining & (
        (alive & (draws[2] >= DEAL_CHASER_SHARE) & (draws[2] < DEAL_CHASER_SHARE + AVOIDER_SHARE))
        | (~alive & ~holds_card)
    )
    return np.select(
        [stressed, recovering, prosperous, deal_chaser, avoider],
        [
            Persona.FINANCIALLY_STRESSED,
            Persona.RECOVERING_CREDIT_USERS,
            Persona.PROSPEROUS_AND_CONTENT,
            Persona.DEAL_CHASERS,
            Persona.SELF_AWARE_AVOIDERS,
        ],
        Persona.GENERIC,
    ).astype(np.int8)


def shape_accounts(
    rng: np.random.Generator,
    customers: CustomerFrame,
    accounts: AccountFrame,
    personas: np.ndarray,
    audience: np.ndarray,
    natural_balance: np.ndarray,
    horizon: np.ndarray,
) -> AccountFrame:
    """The chunk's first accounts adjusted to the personas.

    - Self Aware Avoiders hold no card: a drawn card becomes another product.
    - Customers with a score of 651-700 who are not Recovering hold no loan (a
      drawn loan becomes another product), so the rules do not take them for
      Recovering Credit Users.
    - Recovering Credit Users hold a loan that is not Closed: if none was
      drawn, a non-primary account becomes one, or, for a customer with only
      the primary CASA account, a loan is added (slot 1).
    - Prosperous and Content: the primary CASA account is not Closed and holds
      at least 7.5 lakh INR.
    - Customers with affluence High and a score of 750+ who are not Prosperous
      keep their CASA total below 4 lakh INR.
    - Deal Chasers and Generic customers alive at the snapshot have a payment
      account (CASA or card) Active: if none is, the primary CASA account is.

    Converted accounts keep their slot, opening time and status; reactivated
    ones get back their drawn balance and modified_at = opening time.

    Args:
        rng: The chunk's persona stream.
        customers: The chunk's customers.
        accounts: Their first accounts, statuses aged to the snapshot.
        personas: Result of `assign_personas`.
        audience: Per customer, index into `accounts.AUDIENCES`.
        natural_balance: Per account, the balance drawn at opening (before a
            Closed status zeroed it).
        horizon: Per customer, the time by which their first accounts exist
            (epoch seconds).

    Returns:
        The accounts, owner by owner and slot by slot.
    """
    excluded = excluded_account_types(customers, personas)[accounts.owner]
    not_allowed = (excluded >> accounts.product_type) & 1 == 1
    _convert(rng, accounts, np.flatnonzero(not_allowed), audience, natural_balance, excluded)

    accounts, natural_balance = _give_loans(
        rng, customers, accounts, personas, audience, natural_balance, horizon
    )
    owner_persona = personas[accounts.owner]

    # Recovering: no loan of theirs is Closed.
    _reactivate(
        accounts,
        natural_balance,
        np.flatnonzero(
            (owner_persona == Persona.RECOVERING_CREDIT_USERS)
            & (accounts.product_type == acc.LOAN_TYPE)
            & (accounts.status == acc.CLOSED)
        ),
    )

    # Prosperous: a large, open primary CASA account.
    primary = np.flatnonzero(
        (owner_persona == Persona.PROSPEROUS_AND_CONTENT) & (accounts.slot == 0)
    )
    _reactivate(accounts, natural_balance, primary[accounts.status[primary] == acc.CLOSED])
    extra = PROSPEROUS_CASA_EXTRA_MEDIAN_PAISE * rng.lognormal(
        0.0, PROSPEROUS_CASA_EXTRA_SIGMA, len(primary)
    )
    accounts.balance[primary] = PROSPEROUS_CASA_FLOOR_PAISE + np.round(extra).astype(np.int64)
    natural_balance[primary] = accounts.balance[primary]

    # Deal Chasers and Generic customers alive at the snapshot can pay.
    active_payment = (accounts.status == acc.ACTIVE) & acc.is_transactional(accounts)
    can_pay = np.bincount(accounts.owner, weights=active_payment, minlength=len(customers)) > 0
    needs_payment = (
        ((personas == Persona.DEAL_CHASERS) | (personas == Persona.GENERIC))
        & (customers.status != DECEASED)
        & ~can_pay
    )
    _reactivate(
        accounts,
        natural_balance,
        np.flatnonzero(needs_payment[accounts.owner] & (accounts.slot == 0)),
    )

    # Nobody else looks Prosperous to the rules.
    lookalike = _prosperous_profile(customers) & (personas != Persona.PROSPEROUS_AND_CONTENT)
    casa = accounts.product_type == acc.CASA_TYPE
    casa_total = np.bincount(
        accounts.owner, weights=np.where(casa, accounts.balance, 0), minlength=len(customers)
    )
    too_rich = lookalike & (casa_total >= OTHERS_CASA_CAP_PAISE)
    factor = np.ones(len(customers))
    factor[too_rich] = (
        OTHERS_CASA_CAP_PAISE * rng.uniform(0.3, 0.95, int(too_rich.sum())) / casa_total[too_rich]
    )
    scaled = np.flatnonzero(casa & too_rich[accounts.owner])
    accounts.balance[scaled] = np.floor(
        accounts.balance[scaled] * factor[accounts.owner[scaled]]
    ).astype(np.int64)
    return accounts


def update_constraints(customers: CustomerFrame, personas: np.ndarray) -> UpdateConstraints:
    """What later changes of a customer keep (a redrawn CIBIL score stays in the
    persona's band; a Prosperous customer stays affluence High)."""
    low = np.full(len(customers), NONE, dtype=np.int64)
    high = np.full(len(customers), NONE, dtype=np.int64)
    for persona, band in (
        (Persona.FINANCIALLY_STRESSED, STRESSED_BAND),
        (Persona.RECOVERING_CREDIT_USERS, RECOVERING_BAND),
        (Persona.PROSPEROUS_AND_CONTENT, PROSPEROUS_BAND),
    ):
        low[personas == persona], high[personas == persona] = band
    return UpdateConstraints(
        cibil_low=low,
        cibil_high=high,
        keep_affluence=personas == Persona.PROSPEROUS_AND_CONTENT,
    )


def customer_activity(
    rng: np.random.Generator, customers: CustomerFrame, personas: np.ndarray, mean: float
) -> CustomerActivity:
    """How each customer transacts.

    Poisson(mean) transactions a month (the configured mean), except Deal
    Chasers (3 + Poisson(mean), 45-70 % Ecom) and Self Aware Avoiders
    (Poisson(min(mean, 0.25))); nobody else reaches an Ecom share of 35 %
    once they have 3 transactions. Purchase amounts scale with affluence and
    persona.
    """
    size = len(customers)
    deal_chaser = personas == Persona.DEAL_CHASERS
    avoider = personas == Persona.SELF_AWARE_AVOIDERS
    target = np.full(size, np.nan)
    target[deal_chaser] = rng.uniform(*DEAL_CHASER_ECOM_SHARE, int(deal_chaser.sum()))
    mu_by_level = np.array([AMOUNT_MU_BY_AFFLUENCE[label] for label in AFFLUENCE_LEVEL.labels])
    mu = mu_by_level[customers.affluence_level] + AMOUNT_MU_BY_PERSONA[personas]
    minimum = DEAL_CHASER_MINIMUM_PER_MONTH if mean > 0 else 0
    return CustomerActivity(
        poisson_mean=np.where(avoider, min(mean, AVOIDER_MEAN_PER_MONTH), float(mean)),
        minimum=np.where(deal_chaser, minimum, 0).astype(np.int64),
        ecom_target=target,
        ecom_cap=OTHERS_ECOM_CAP,
        amount_scale=np.exp(mu + AMOUNT_SIGMA * rng.standard_normal(size)),
        total=np.zeros(size, dtype=np.int64),
        ecom=np.zeros(size, dtype=np.int64),
    )


def excluded_account_types(customers: CustomerFrame, personas: np.ndarray) -> np.ndarray:
    """Per customer, an `accounts.type_mask` of product types they never hold.

    Self Aware Avoiders hold no card; customers with a score of 651-700 (as
    drawn) who are not Recovering hold no loan.
    """
    band = _in_band(customers.cibil_score, RECOVERING_BAND)
    no_loan = band & (personas != Persona.RECOVERING_CREDIT_USERS)
    no_card = personas == Persona.SELF_AWARE_AVOIDERS
    excluded: np.ndarray = np.where(no_loan, acc.type_mask(acc.LOAN_TYPE), 0) | np.where(
        no_card, acc.type_mask(acc.CARD_TYPE), 0
    )
    return excluded


def frozen_account_status(accounts: AccountFrame, personas: np.ndarray) -> np.ndarray:
    """Accounts whose status never changes: Recovering customers' loans and
    Prosperous customers' primary CASA account."""
    owner_persona = personas[accounts.owner]
    frozen: np.ndarray = (
        (owner_persona == Persona.RECOVERING_CREDIT_USERS)
        & (accounts.product_type == acc.LOAN_TYPE)
    ) | ((owner_persona == Persona.PROSPEROUS_AND_CONTENT) & (accounts.slot == 0))
    return frozen


def _in_band(score: np.ndarray, band: tuple[int, int]) -> np.ndarray:
    return (score >= band[0]) & (score <= band[1])


def _prosperous_profile(customers: CustomerFrame) -> np.ndarray:
    prosperous: np.ndarray = (customers.affluence_level == _HIGH) & (
        customers.cibil_score >= PROSPEROUS_BAND[0]
    )
    return prosperous


def _convert(
    rng: np.random.Generator,
    accounts: AccountFrame,
    rows: np.ndarray,
    audience: np.ndarray,
    natural_balance: np.ndarray,
    excluded_types: np.ndarray | None = None,
    only_type: int | None = None,
) -> None:
    """Re-draw the product of non-primary accounts `rows` in place, keeping slot,
    opening time, status and modified_at; a Closed account keeps a zero balance."""
    if len(rows) == 0:
        return
    owner = accounts.owner[rows]
    product = acc.choose_products(
        rng,
        audience[owner],
        accounts.slot[rows],
        only_type=None if only_type is None else np.full(len(rows), only_type),
        excluded_types=None if excluded_types is None else excluded_types[rows],
    )
    fresh = acc.open_accounts(
        rng,
        owner=owner,
        customer_ordinal=accounts.customer_ordinal[rows],
        audience=audience[owner],
        slot=accounts.slot[rows],
        opened_at=accounts.opened_at[rows],
        product=product,
    )
    for name, values in fresh.columns().items():
        if name not in ("status", "modified_at"):
            getattr(accounts, name)[rows] = values
    natural_balance[rows] = fresh.balance
    accounts.balance[rows[accounts.status[rows] == acc.CLOSED]] = 0


def _give_loans(
    rng: np.random.Generator,
    customers: CustomerFrame,
    accounts: AccountFrame,
    personas: np.ndarray,
    audience: np.ndarray,
    natural_balance: np.ndarray,
    horizon: np.ndarray,
) -> tuple[AccountFrame, np.ndarray]:
    """Recovering Credit Users without a drawn loan get one (see `shape_accounts`)."""
    size = len(customers)
    loans = np.bincount(
        accounts.owner, weights=accounts.product_type == acc.LOAN_TYPE, minlength=size
    )
    held = np.bincount(accounts.owner, minlength=size)
    needs_loan = (personas == Persona.RECOVERING_CREDIT_USERS) & (loans == 0)

    # Customers with other accounts: one non-primary account, chosen at random, becomes a loan.
    candidates = np.flatnonzero(needs_loan[accounts.owner] & (accounts.slot > 0))
    candidates = candidates[np.argsort(rng.random(len(candidates)), kind="stable")]
    _, first = np.unique(accounts.owner[candidates], return_index=True)
    converted = np.sort(candidates[first])
    _convert(rng, accounts, converted, audience, natural_balance, only_type=acc.LOAN_TYPE)
    _reactivate(accounts, natural_balance, converted)

    # Customers with only their primary CASA account: a loan is added.
    adders = np.flatnonzero(needs_loan & (held == 1))
    created = customers.created_at[adders]
    added = acc.open_accounts(
        rng,
        owner=adders,
        customer_ordinal=customers.ordinal[adders],
        audience=audience[adders],
        slot=np.ones(len(adders), dtype=np.int64),
        opened_at=rng.integers(created, np.maximum(horizon[adders], created + 1)),
        product=acc.choose_products(
            rng,
            audience[adders],
            np.ones(len(adders), dtype=np.int64),
            only_type=np.full(len(adders), acc.LOAN_TYPE),
        ),
    )
    merged = AccountFrame.concat([accounts, added])
    order = np.argsort(merged.account_number, kind="stable")
    return merged.take(order), np.concatenate([natural_balance, added.balance])[order]


def _reactivate(accounts: AccountFrame, natural_balance: np.ndarray, rows: np.ndarray) -> None:
    """Make `rows` Active as opened: drawn balance, modified_at = opening time."""
    accounts.status[rows] = acc.ACTIVE
    accounts.balance[rows] = natural_balance[rows]
    accounts.modified_at[rows] = accounts.opened_at[rows]
