"""Simulating one chunk of customers through the initial load and every month.

A chunk owns its customers and everything keyed by them (their accounts and
transactions carry the customer number in their ids), so chunks never share
keys and can be simulated independently. The simulation yields `Piece`s: the
chunk's share of one file, in arrival order; the caller appends them to the
files, so memory stays flat however many customers there are.

Per month m (brief, "Change feed"):
- customers: ~update_rate of the existing (not Deceased) customers change, with
  modified_at in month m; new customers (~1 % of N) join; late arrivals (~0.2 %
  of N) re-send an intermediate version older than one already delivered; exact
  duplicates (duplicate_rate) repeat rows delivered in an earlier file or earlier
  in the same file.
- accounts: ~update_rate of the open accounts change balance (some also
  status); ~1 % of customers open another account; new customers' accounts.
- transactions: the month's transactions plus settlements (Pending -> Posted)
  of the previous month's pending ones.
- campaigns: the funnel events of the customers the campaign reaches this month.

Every customer has a latent persona (personas.py), derived once the chunk's
customers and first accounts are drawn; it shapes their accounts, later
changes, transactions and campaign journey, and is never written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from generator import accounts as acc
from generator import campaigns, personas
from generator.accounts import AccountFrame
from generator.customers import (
    CustomerFrame,
    apply_update,
    draw_customers,
    late_versions,
    render_customers,
)
from generator.encoding import join_fields
from generator.plan import ACCOUNTS, CAMPAIGNS, CUSTOMERS, TRANSACTIONS, Chunk, RunPlan
from generator.pools import SectionedPool, TextPools
from generator.products import Audience
from generator.reference import ACTIVE, DECEASED, PERSONAL
from generator.sampling import Stream, insertion_order, random_stream, stochastic_round
from generator.timeline import MonthWindow
from generator.transactions import (
    PENDING,
    TransactionFrame,
    draw_transactions,
    render_transactions,
    settle,
)

# Late arrivals per month as a share of N (brief: ~0.2 %).
LATE_ARRIVAL_RATE = 0.002
# Existing customers opening one more account per month.
NEW_ACCOUNT_RATE = 0.01
# Share of a monthly file's duplicates that repeat a row of an earlier file
# (the rest repeat a row earlier in the same file).
EARLIER_FILE_DUPLICATE_SHARE = 0.5

_AUDIENCE_CODES = {audience: code for code, audience in enumerate(acc.AUDIENCES)}


@dataclass
class PieceCounts:
    """What a piece's valid rows are, for the manifest (see manifest.py)."""

    initial_rows: int = 0
    updates: int = 0
    new_keys: int = 0
    late_arrivals: int = 0
    exact_duplicates: int = 0


@dataclass
class Piece:
    """A chunk's rows of one file.

    Attributes:
        entity: customers, accounts or transactions.
        batch: Batch (file) the rows belong to.
        chunk: Index of the chunk that produced them.
        lines: Encoded CSV lines in file order (no index column, no line end).
        fields: Encoded columns of the distinct rows (duplicates excluded), from
            which malformed rows are derived.
        counts: Composition of `lines`.
        funnel: Campaign events only: events per funnel stage.
    """

    entity: str
    batch: int
    chunk: int
    lines: pa.Array
    fields: dict[str, pa.Array]
    counts: PieceCounts = field(default_factory=PieceCounts)
    funnel: np.ndarray | None = None


class ChunkSimulation:
    """The life of one chunk of customers over the run.

    State between months: the latest delivered version of every customer and
    account of the chunk, the previous month's pending transactions and each
    customer's running transaction counts. Fixed at the start: each customer's
    latent persona and what follows from it (constraints on changes,
    transaction behaviour, campaign journey).
    """

    _pending: TransactionFrame

    def __init__(
        self, plan: RunPlan, chunk: Chunk, pools: TextPools, merchants: SectionedPool
    ) -> None:
        """Draw the chunk's customers and their first accounts."""
        self._plan = plan
        self._config = plan.config
        self._chunk = chunk
        self._pools = pools
        self._merchants = merchants
        self._arrival = plan.arrival_month(chunk.ordinals)
        self._window_starts = np.array([w.start for w in plan.windows])
        self._window_ends = np.array([w.end for w in plan.windows])
        self._customers = self._draw_customers()
        # Late versions of a customer are dated after `_late_after` (the start of
        # the month of its latest change), and at most one per change: then no
        # two versions of a customer can share a modified_at, which the raw
        # table's MERGE on (cust_id, modified_at) relies on.
        self._late_after = np.zeros(len(self._customers), dtype=np.int64)
        self._late_sent = np.zeros(len(self._customers), dtype=bool)
        self._audience = _audiences(self._customers)
        self._accounts = self._open_first_accounts()

    @property
    def personas(self) -> np.ndarray:
        """Latent persona (`personas.Persona` code) per customer of the chunk."""
        return self._personas

    def pieces(self) -> Iterator[Piece]:
        """The chunk's pieces of every file, in arrival order (batch by batch)."""
        yield from self._initial_customer_pieces()
        yield self._initial_account_piece()
        yield self._initial_transaction_piece()
        for month in range(1, self._config.months + 1):
            yield from self._month_pieces(month)

    def _derive_personas(self, accounts: AccountFrame, natural_balance: np.ndarray) -> AccountFrame:
        """Personas of the chunk's customers and what follows from them; the shaped accounts."""
        rng = self._stream(Stream.PERSONAS)
        customers, config = self._customers, self._config
        self._personas = personas.assign_personas(rng, customers, accounts, self._audience)
        horizon = np.where(
            self._arrival == 0, self._plan.snapshot_at, self._window_ends[self._arrival]
        )
        accounts = personas.shape_accounts(
            rng, customers, accounts, self._personas, self._audience, natural_balance, horizon
        )
        self._constraints = personas.update_constraints(customers, self._personas)
        self._activity = personas.customer_activity(
            rng, customers, self._personas, config.transactions_per_customer_month
        )
        self._excluded_account_types = personas.excluded_account_types(customers, self._personas)
        self._campaign = campaigns.plan_campaign(
            self._stream(Stream.CAMPAIGN),
            customers,
            self._personas,
            self._arrival,
            config.months,
            self._plan.snapshot_at,
        )
        return accounts

    def _month_pieces(self, month: int) -> Iterator[Piece]:
        """Month m's customers, accounts and transactions pieces."""
        window = self._plan.windows[month]
        customers = self._customers
        customer_status_before = customers.status.copy()
        yield self._customer_month_piece(month, window)
        account_status_before = self._accounts.status.copy()
        yield self._account_month_piece(month, window)

        # A transaction needs its account Active and its owner alive all month
        # (at the month's start and after its changes). Accounts opened this
        # month did not exist before it; they open Active.
        accounts = self._accounts
        opened = len(accounts) - len(account_status_before)
        account_status_before = np.concatenate(
            [account_status_before, np.full(opened, acc.ACTIVE, dtype=np.int8)]
        )
        eligible = (
            (self._arrival[accounts.owner] <= month)
            & acc.is_transactional(accounts)
            & (account_status_before == acc.ACTIVE)
            & (accounts.status == acc.ACTIVE)
            & (customer_status_before[accounts.owner] != DECEASED)
            & (customers.status[accounts.owner] != DECEASED)
        )
        settled = settle(self._stream(Stream.SETTLEMENTS, month), self._pending, window)
        transactions = self._draw_transactions(eligible, window)
        self._pending = transactions.take(transactions.status == PENDING)
        yield self._piece(
            TRANSACTIONS,
            self._plan.month_batch(month),
            render_transactions(TransactionFrame.concat([settled, transactions]), self._merchants),
            PieceCounts(updates=len(settled), new_keys=len(transactions)),
        )
        yield self._campaign_piece(window)

    def _campaign_piece(self, window: MonthWindow) -> Piece:
        """The funnel events of customers reached this month (alive after its changes)."""
        events = campaigns.draw_events(
            self._stream(Stream.CAMPAIGN, window.month), self._campaign, self._customers, window
        )
        piece = self._piece(
            CAMPAIGNS,
            self._plan.month_batch(window.month),
            campaigns.render_events(events, campaigns.campaign_id(self._config.start_date)),
            PieceCounts(new_keys=len(events)),
        )
        piece.funnel = campaigns.funnel_counts(events)
        return piece

    def _stream(self, stream: Stream, month: int = 0) -> np.random.Generator:
        return random_stream(self._config.seed, stream, self._chunk.index, month)

    def _piece(
        self, entity: str, batch: int, fields: dict[str, pa.Array], counts: PieceCounts
    ) -> Piece:
        return Piece(
            entity, batch, self._chunk.index, join_fields(list(fields.values())), fields, counts
        )

    # --- customers -------------------------------------------------------------------

    def _draw_customers(self) -> CustomerFrame:
        rng = self._stream(Stream.CUSTOMERS)
        arrival = self._arrival
        # Initial customers were created in the 3 years before start_date;
        # customers new in month m during month m.
        start = np.where(arrival == 0, self._plan.history_start, self._window_starts[arrival])
        end = np.where(arrival == 0, self._plan.snapshot_at, self._window_ends[arrival])
        customers = draw_customers(rng, self._chunk.ordinals, rng.integers(start, end), self._pools)
        # The seed's status shares describe a customer base; someone onboarding
        # this month is Active.
        customers.status[arrival > 0] = ACTIVE
        return customers

    def _initial_customer_pieces(self) -> Iterator[Piece]:
        rng = self._stream(Stream.DUPLICATES)
        initial = np.flatnonzero(self._arrival == 0)
        batches = self._plan.initial_customer_batches(self._customers.ordinal[initial])
        for batch in np.unique(batches):
            rows = self._customers.take(initial[batches == batch])
            fields = render_customers(rows, self._pools)
            lines = join_fields(list(fields.values()))
            duplicates = stochastic_round(rng, self._config.duplicate_rate * len(rows))
            originals = rng.integers(0, len(rows), duplicates)
            order = insertion_order(rng, len(rows), originals + 1)
            lines = pa.concat_arrays([lines, lines.take(pa.array(originals))]).take(pa.array(order))
            counts = PieceCounts(initial_rows=len(rows), exact_duplicates=duplicates)
            yield Piece(CUSTOMERS, int(batch), self._chunk.index, lines, fields, counts)

    def _initial_account_piece(self) -> Piece:
        owner_arrival = self._arrival[self._accounts.owner]
        initial = self._accounts.take(np.flatnonzero(owner_arrival == 0))
        return self._piece(
            ACCOUNTS,
            self._plan.initial_batch,
            acc.render_accounts(initial),
            PieceCounts(initial_rows=len(initial)),
        )

    def _initial_transaction_piece(self) -> Piece:
        """Month 0 (the month before start_date) on accounts Active at the snapshot."""
        accounts, owner = self._accounts, self._accounts.owner
        eligible = (
            (self._arrival[owner] == 0)
            & acc.is_transactional(accounts)
            & (accounts.status == acc.ACTIVE)
            & (self._customers.status[owner] != DECEASED)
        )
        transactions = self._draw_transactions(eligible, self._plan.windows[0])
        self._pending = transactions.take(transactions.status == PENDING)
        return self._piece(
            TRANSACTIONS,
            self._plan.initial_batch,
            render_transactions(transactions, self._merchants),
            PieceCounts(initial_rows=len(transactions)),
        )

    def _customer_month_piece(self, month: int, window: MonthWindow) -> Piece:
        rng = self._stream(Stream.CUSTOMER_CHANGES, month)
        customers = self._customers
        delivered = np.flatnonzero(self._arrival < month)
        # A deceased customer's record is final.
        existing = delivered[customers.status[delivered] != DECEASED]
        updated = existing[rng.random(len(existing)) < self._config.update_rate]
        new = np.flatnonzero(self._arrival == month)
        late = self._late_versions(rng, delivered)

        base_rows = len(updated) + len(new) + len(late)
        duplicates = stochastic_round(rng, self._config.duplicate_rate * base_rows)
        from_earlier_file = (
            rng.binomial(duplicates, EARLIER_FILE_DUPLICATE_SHARE) if len(delivered) else 0
        )
        # Taken before this month's changes: the versions delivered in earlier files.
        earlier_versions = customers.take(rng.choice(delivered, from_earlier_file))

        apply_update(
            rng,
            customers,
            updated,
            rng.integers(window.start, window.end, len(updated)),
            self._pools,
            self._constraints,
        )
        self._late_after[updated] = window.start
        self._late_sent[updated] = False

        versions = CustomerFrame.concat([customers.take(updated), customers.take(new), late])
        versions = versions.take(np.lexsort((versions.modified_at, versions.ordinal)))
        fields = render_customers(versions, self._pools)
        lines = join_fields(list(fields.values()))
        same_file_originals = rng.integers(0, max(base_rows, 1), duplicates - from_earlier_file)
        earlier_lines = join_fields(list(render_customers(earlier_versions, self._pools).values()))
        order = insertion_order(
            rng,
            base_rows,
            np.concatenate([same_file_originals + 1, np.zeros(from_earlier_file, dtype=np.int64)]),
        )
        lines = pa.concat_arrays([lines, lines.take(pa.array(same_file_originals)), earlier_lines])
        counts = PieceCounts(
            updates=len(updated),
            new_keys=len(new),
            late_arrivals=len(late),
            exact_duplicates=duplicates,
        )
        return Piece(
            CUSTOMERS,
            self._plan.month_batch(month),
            self._chunk.index,
            lines.take(pa.array(order)),
            fields,
            counts,
        )

    def _late_versions(self, rng: np.random.Generator, delivered: np.ndarray) -> CustomerFrame:
        """~LATE_ARRIVAL_RATE * N late versions among customers changed in an earlier month.

        Customers never changed have only their creation version, so there is
        nothing older to re-send: month 1 has no late arrivals.
        """
        customers = self._customers
        after = np.maximum(customers.created_at, self._late_after)
        candidates = delivered[
            (self._late_after[delivered] > 0)
            & ~self._late_sent[delivered]
            & (customers.modified_at[delivered] - after[delivered] >= 2)
        ]
        wanted = LATE_ARRIVAL_RATE * len(delivered)
        share = min(1.0, wanted / len(candidates)) if len(candidates) else 0.0
        rows = candidates[rng.random(len(candidates)) < share]
        self._late_sent[rows] = True
        return late_versions(rng, customers, rows, after[rows], self._constraints)

    # --- accounts --------------------------------------------------------------------

    def _open_first_accounts(self) -> AccountFrame:
        """Every customer's accounts as of their first delivery, shaped by their persona."""
        rng = self._stream(Stream.ACCOUNTS)
        customers = self._customers
        counts = acc.account_counts(rng, len(customers), self._config.accounts_per_customer)
        owner = np.repeat(np.arange(len(customers)), counts)
        slot = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        created = customers.created_at[owner]
        # Accounts exist by the customer's first delivery: the snapshot for the
        # initial load, the month's end for customers new in that month.
        arrival = self._arrival[owner]
        horizon = np.where(arrival == 0, self._plan.snapshot_at, self._window_ends[arrival])
        first_opened = np.minimum(
            created + rng.integers(0, acc.FIRST_ACCOUNT_DELAY_SECONDS, len(owner)), horizon - 1
        )
        accounts = acc.open_accounts(
            rng,
            owner=owner,
            customer_ordinal=customers.ordinal[owner],
            audience=self._audience[owner],
            slot=slot,
            opened_at=np.where(slot == 0, first_opened, rng.integers(created, horizon)),
        )
        natural_balance = accounts.balance.copy()
        acc.age_initial_statuses(
            rng, accounts, np.flatnonzero(arrival == 0), self._plan.snapshot_at
        )
        return self._derive_personas(accounts, natural_balance)

    def _account_month_piece(self, month: int, window: MonthWindow) -> Piece:
        rng = self._stream(Stream.ACCOUNT_CHANGES, month)
        customers, accounts = self._customers, self._accounts
        delivered = np.flatnonzero(
            (self._arrival[accounts.owner] < month) & (accounts.status != acc.CLOSED)
        )
        changed = delivered[rng.random(len(delivered)) < self._config.update_rate]
        acc.apply_update(
            rng,
            accounts,
            changed,
            rng.integers(window.start, window.end, len(changed)),
            personas.frozen_account_status(accounts, self._personas)[changed],
        )

        held = np.bincount(accounts.owner, minlength=len(customers))
        can_open = np.flatnonzero(
            (self._arrival < month)
            & (customers.status != DECEASED)
            & (held < acc.MAX_ACCOUNTS_PER_CUSTOMER)
        )
        openers = can_open[rng.random(len(can_open)) < NEW_ACCOUNT_RATE]
        opened = acc.open_accounts(
            rng,
            owner=openers,
            customer_ordinal=customers.ordinal[openers],
            audience=self._audience[openers],
            slot=held[openers],
            opened_at=rng.integers(window.start, window.end, len(openers)),
            excluded_types=self._excluded_account_types[openers],
        )
        of_new_customers = np.flatnonzero(self._arrival[accounts.owner] == month)
        rows = AccountFrame.concat(
            [accounts.take(changed), accounts.take(of_new_customers), opened]
        )
        rows = rows.take(np.argsort(rows.account_number, kind="stable"))
        self._accounts = AccountFrame.concat([accounts, opened])
        return self._piece(
            ACCOUNTS,
            self._plan.month_batch(month),
            acc.render_accounts(rows),
            PieceCounts(updates=len(changed), new_keys=len(of_new_customers) + len(opened)),
        )

    # --- transactions ----------------------------------------------------------------

    def _draw_transactions(self, eligible: np.ndarray, window: MonthWindow) -> TransactionFrame:
        return draw_transactions(
            self._stream(Stream.TRANSACTIONS, window.month),
            self._accounts,
            eligible,
            window,
            self._activity,
            self._merchants,
            may_stay_pending=window.month < self._config.months,
        )


def _audiences(customers: CustomerFrame) -> np.ndarray:
    """Audience code per customer, fixed at creation: business, minor or retail."""
    minor_at_creation = customers.is_minor_at(customers.created_at)
    return np.select(
        [customers.customer_type != PERSONAL, minor_at_creation],
        [_AUDIENCE_CODES[Audience.BUSINESS], _AUDIENCE_CODES[Audience.MINOR]],
        _AUDIENCE_CODES[Audience.RETAIL],
    )
