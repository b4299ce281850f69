"""The campaign entity: a credit-card cross-sell campaign's funnel events.

One campaign (`CMP<year of start_date>CC01`) starts in month 1 and runs every
month of the run. About 40 % of the Personal customers existing before the last
month are reached, spread over the months; each reached customer has a
"Customer Reached" event and one event per further funnel stage reached
(`FUNNEL_STAGES`, the funnel_stages of marts/rules.yaml), in order, with
increasing event_ts, all within the month they were reached in. Who is reached,
how far they get and which card they are offered depends on their latent
persona (see personas.py): Prosperous and Content customers and Deal Chasers
convert well, Self Aware Avoiders and the Financially Stressed drop early.

Only living adults are reached (a credit card needs both); customers who already
hold a card may be. Events of month m are in the file of batch K + m; the
customer was delivered in an earlier batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from generator import encoding
from generator.customers import CustomerFrame
from generator.frames import ColumnarFrame
from generator.personas import Persona
from generator.products import CATALOGUE
from generator.reference import AFFLUENCE_LEVEL, CUSTOMER_ID_BASE, DECEASED, PERSONAL
from generator.sampling import categorical
from generator.timeline import SECONDS_PER_DAY, MonthWindow

CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "event_id",
    "campaign_id",
    "cust_id",
    "stage",
    "stage_order",
    "channel",
    "product_id",
    "event_ts",
    "created_at",
    "modified_at",
)

# marts/rules.yaml funnel_stages, in order (tested against the file).
FUNNEL_STAGES: tuple[str, ...] = (
    "Customer Reached",
    "Explored Product",
    "Started to Apply",
    "Engagement",
    "Completed Application",
    "KYC",
    "Onboarded",
)
CHANNELS: tuple[str, ...] = ("Email", "SMS", "App", "Branch", "Call Center")
# Channel shares per stage: outreach by e-mail and SMS, applications in the app
# or a branch, KYC in a branch or the app.
_CHANNEL_SHARES = np.array(
    [
        [0.35, 0.25, 0.20, 0.08, 0.12],
        [0.30, 0.10, 0.45, 0.08, 0.07],
        [0.05, 0.00, 0.65, 0.20, 0.10],
        [0.05, 0.00, 0.65, 0.20, 0.10],
        [0.05, 0.00, 0.65, 0.20, 0.10],
        [0.00, 0.00, 0.45, 0.45, 0.10],
        [0.10, 0.05, 0.55, 0.25, 0.05],
    ]
)

# Share of the Personal customers (existing before the campaign's last month)
# reached over the campaign.
REACH_SHARE = 0.40
# Relative chance of being reached, per persona (in `Persona` order): the bank
# targets likely takers and holds back on customers with weak credit.
REACH_WEIGHT = np.array([0.5, 0.9, 1.5, 1.4, 0.7, 1.0])
# Probability of going on from stage k to stage k + 1 (k = 1..6), per persona.
CONTINUATION = np.array(
    [
        [0.35, 0.30, 0.55, 0.45, 0.30, 0.40],  # Financially Stressed: rejected at KYC
        [0.50, 0.45, 0.70, 0.70, 0.75, 0.80],  # Recovering Credit Users
        [0.75, 0.70, 0.85, 0.85, 0.92, 0.95],  # Prosperous and Content
        [0.80, 0.65, 0.80, 0.80, 0.88, 0.92],  # Deal Chasers
        [0.20, 0.15, 0.50, 0.50, 0.70, 0.80],  # Self Aware Avoiders
        [0.45, 0.40, 0.70, 0.70, 0.82, 0.88],  # Generic
    ]
)
# Time from one stage to the next: (shortest, longest) in seconds; at most 16
# days in all, so a journey fits in the month it starts in.
_STEP_DELAY_SECONDS = np.array(
    [
        (600, 2 * SECONDS_PER_DAY),
        (1_800, 3 * SECONDS_PER_DAY),
        (600, 2 * SECONDS_PER_DAY),
        (3_600, 3 * SECONDS_PER_DAY),
        (3_600, 3 * SECONDS_PER_DAY),
        (SECONDS_PER_DAY, 3 * SECONDS_PER_DAY),
    ]
)
# The card offered: Platinum to the Prosperous, Travel Rewards to Deal Chasers,
# otherwise Gold to affluence High and Classic to the rest.
_PRODUCT_CODE = {p.product_id: code for code, p in enumerate(CATALOGUE)}
_PLATINUM, _REWARDS = _PRODUCT_CODE["PRD0010"], _PRODUCT_CODE["PRD0011"]
_GOLD, _CLASSIC = _PRODUCT_CODE["PRD0009"], _PRODUCT_CODE["PRD0008"]
_HIGH = AFFLUENCE_LEVEL.index("High")

# event_id = "EV" + month (3 digits) + customer ordinal (8) + stage order (3):
# a customer is reached once, so ids never repeat.
_ID_MONTH_FACTOR = 10**11
_ID_ORDINAL_FACTOR = 10**3

_LABELS = {
    "stage": encoding.encoded_labels(FUNNEL_STAGES),
    "channel": encoding.encoded_labels(CHANNELS),
    "product_id": encoding.encoded_labels([p.product_id for p in CATALOGUE]),
}


def campaign_id(start_date: date) -> str:
    """Id of the run's campaign, e.g. CMP2024CC01."""
    return f"CMP{start_date.year}CC01"


@dataclass(frozen=True)
class CampaignPlan:
    """Per customer of a chunk: when they are reached and how far they get.

    Attributes:
        month: Month they are reached in (1..months), 0 if never.
        depth: Stages they reach (1..7; 0 if never reached).
        product: Index into `CATALOGUE` of the card offered.
    """

    month: np.ndarray
    depth: np.ndarray
    product: np.ndarray


@dataclass(frozen=True)
class CampaignEventFrame(ColumnarFrame):
    """Funnel events as arrays; stage 0..6 indexes `FUNNEL_STAGES`."""

    month: np.ndarray
    customer_ordinal: np.ndarray
    stage: np.ndarray
    channel: np.ndarray
    product: np.ndarray
    event_ts: np.ndarray


def plan_campaign(
    rng: np.random.Generator,
    customers: CustomerFrame,
    personas: np.ndarray,
    arrival: np.ndarray,
    months: int,
    snapshot_at: int,
) -> CampaignPlan:
    """Choose who is reached, when, how far they get and which card they are offered.

    Reachable: Personal customers alive when drawn, adult at the snapshot (or
    at joining), delivered before the last month. Each is reached with
    probability REACH_SHARE * weight(persona) * (Personal customers delivered
    before the last month) / (sum of the reachable customers' weights), so
    about 40 % of those Personal customers are reached; the month is uniform
    among the months after their arrival.
    """
    size = len(customers)
    reach_draw, month_draw = rng.random((2, size))
    steps = rng.random((size, len(FUNNEL_STAGES) - 1)) < CONTINUATION[personas]
    existing = (customers.customer_type == PERSONAL) & (arrival < months)
    adult = ~customers.is_minor_at(np.maximum(customers.created_at, snapshot_at))
    reachable = existing & (customers.status != DECEASED) & adult
    weight = REACH_WEIGHT[personas]
    total_weight = weight[reachable].sum()
    scale = REACH_SHARE * existing.sum() / total_weight if total_weight > 0 else 0.0
    reached = reachable & (reach_draw < np.minimum(1.0, scale * weight))
    first_month = arrival + 1
    month = first_month + np.floor(month_draw * np.maximum(months - arrival, 0)).astype(np.int64)
    depth = 1 + np.cumprod(steps, axis=1).sum(axis=1)
    product = np.select(
        [
            personas == Persona.PROSPEROUS_AND_CONTENT,
            personas == Persona.DEAL_CHASERS,
            customers.affluence_level == _HIGH,
        ],
        [_PLATINUM, _REWARDS, _GOLD],
        _CLASSIC,
    )
    return CampaignPlan(
        month=np.where(reached, month, 0),
        depth=np.where(reached, depth, 0).astype(np.int8),
        product=product.astype(np.int8),
    )


def draw_events(
    rng: np.random.Generator,
    plan: CampaignPlan,
    customers: CustomerFrame,
    window: MonthWindow,
) -> CampaignEventFrame:
    """The events of the customers planned for `window`'s month, still alive now.

    Each journey starts at a uniform time such that its last stage still falls
    in the month; stages follow each other after `_STEP_DELAY_SECONDS`.
    Ordered by customer, then stage.
    """
    rows = np.flatnonzero((plan.month == window.month) & (customers.status != DECEASED))
    depth = plan.depth[rows].astype(np.int64)
    delays = rng.integers(
        _STEP_DELAY_SECONDS[:, 0],
        _STEP_DELAY_SECONDS[:, 1] + 1,
        (len(rows), len(_STEP_DELAY_SECONDS)),
    )
    offsets = np.concatenate(
        [np.zeros((len(rows), 1), dtype=np.int64), delays.cumsum(axis=1)], axis=1
    )
    span = offsets[np.arange(len(rows)), depth - 1] if len(rows) else np.zeros(0, dtype=np.int64)
    start = window.start + np.floor(
        rng.random(len(rows)) * (window.end - window.start - span)
    ).astype(np.int64)

    journey = np.repeat(np.arange(len(rows)), depth)
    stage = np.arange(len(journey)) - np.repeat(np.cumsum(depth) - depth, depth)
    channel = np.zeros(len(journey), dtype=np.int8)
    for stage_code, shares in enumerate(_CHANNEL_SHARES):
        at_stage = np.flatnonzero(stage == stage_code)
        channel[at_stage] = categorical(rng, shares, len(at_stage))
    return CampaignEventFrame(
        month=np.full(len(journey), window.month, dtype=np.int64),
        customer_ordinal=customers.ordinal[rows][journey],
        stage=stage.astype(np.int8),
        channel=channel,
        product=plan.product[rows][journey],
        event_ts=start[journey] + offsets[journey, stage],
    )


def funnel_counts(events: CampaignEventFrame) -> np.ndarray:
    """Events per stage (= distinct customers per stage: one event per customer and stage)."""
    return np.bincount(events.stage, minlength=len(FUNNEL_STAGES)).astype(np.int64)


def render_events(events: CampaignEventFrame, campaign: str) -> dict[str, pa.Array]:
    """Encoded CSV fields, keyed by column in `CAMPAIGN_COLUMNS` order."""
    stage_order = events.stage.astype(np.int64) + 1
    event_ts = encoding.timestamps(events.event_ts)
    return {
        "event_id": encoding.zero_padded(
            "EV",
            events.month * _ID_MONTH_FACTOR
            + events.customer_ordinal * _ID_ORDINAL_FACTOR
            + stage_order,
            14,
        ),
        "campaign_id": encoding.constant(campaign, len(events)),
        "cust_id": encoding.integers(CUSTOMER_ID_BASE + events.customer_ordinal),
        "stage": encoding.take_codes(_LABELS["stage"], events.stage),
        "stage_order": encoding.integers(stage_order),
        "channel": encoding.take_codes(_LABELS["channel"], events.channel),
        "product_id": encoding.take_codes(_LABELS["product_id"], events.product),
        "event_ts": event_ts,
        "created_at": event_ts,
        "modified_at": event_ts,
    }
