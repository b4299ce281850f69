"""What a run delivers and when: batches, month windows, customer numbering, chunks.

Arrival order (batch numbers are shared by all entities, so sorting every file
by batch gives the order in which a landing zone would receive them):

- batches 1..K: the initial load at start_date, customers split into K files by
  contiguous cust_id ranges. Products arrive in batch 1 (reference data first);
  accounts and month-0 transactions in batch K, after every customer they refer to.
- batch K + m (m = 1..months): month m's customers, accounts, transactions and
  campaign events.

Customer numbers (cust_id = 1000000000 + i): 1..N are the initial load, then
each month's new customers continue the sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from generator.config import GeneratorConfig
from generator.timeline import MonthWindow, add_months, epoch_seconds, month_windows

ENTITIES: tuple[str, ...] = ("customers", "products", "accounts", "transactions", "campaigns")
CUSTOMERS, PRODUCTS, ACCOUNTS, TRANSACTIONS, CAMPAIGNS = ENTITIES

# Customers were created in the 3 years before start_date.
HISTORY_MONTHS = 36
# Customers simulated together. Memory is proportional to it, not to N. Fewer
# when transactions are dense, so one chunk-month of transaction lines stays
# well below Arrow's 2 GiB string-array limit.
CHUNK_CUSTOMERS = 100_000
MAX_TRANSACTIONS_PER_CHUNK_MONTH = 1_000_000


@dataclass(frozen=True)
class Chunk:
    """A contiguous range of customer numbers simulated together."""

    index: int
    first_ordinal: int
    last_ordinal: int

    @property
    def ordinals(self) -> np.ndarray:
        """Customer numbers of the chunk."""
        return np.arange(self.first_ordinal, self.last_ordinal + 1, dtype=np.int64)


@dataclass(frozen=True)
class RunPlan:
    """Derived layout of one run; pure function of the config."""

    config: GeneratorConfig

    @cached_property
    def windows(self) -> tuple[MonthWindow, ...]:
        """Month 0 (before start_date) to month `months`."""
        return month_windows(self.config.start_date, self.config.months)

    @property
    def snapshot_at(self) -> int:
        """Time of the initial load: start_date 00:00:00 (epoch seconds)."""
        return epoch_seconds(self.config.start_date)

    @property
    def history_start(self) -> int:
        """Earliest created_at of an initial customer (epoch seconds)."""
        return epoch_seconds(add_months(self.config.start_date, -HISTORY_MONTHS))

    @property
    def products_batch(self) -> int:
        """Batch of the product catalogue."""
        return 1

    @property
    def initial_batch(self) -> int:
        """Batch of the initial accounts and month-0 transactions (the last initial file)."""
        return self.config.files

    def month_batch(self, month: int) -> int:
        """Batch of month `month` (0 = initial load's accounts and transactions)."""
        return self.config.files + month

    def initial_customer_batches(self, ordinals: np.ndarray) -> np.ndarray:
        """Batch (1..K) of initial customers: K contiguous ranges of cust_id."""
        return (ordinals - 1) * self.config.files // self.config.customers + 1

    def arrival_month(self, ordinals: np.ndarray) -> np.ndarray:
        """0 for the initial load, m for customers new in month m."""
        per_month = max(self.config.new_customers_per_month, 1)
        beyond = np.maximum(ordinals - self.config.customers, 0)
        return np.where(beyond > 0, (beyond - 1) // per_month + 1, 0)

    @property
    def chunk_customers(self) -> int:
        """Customers per chunk."""
        rate = max(self.config.transactions_per_customer_month, 1.0)
        return max(1_000, min(CHUNK_CUSTOMERS, int(MAX_TRANSACTIONS_PER_CHUNK_MONTH / rate)))

    def chunks(self) -> list[Chunk]:
        """Chunks covering customer numbers 1..total_customers."""
        size = self.chunk_customers
        total = self.config.total_customers
        return [
            Chunk(index, first, min(first + size - 1, total))
            for index, first in enumerate(range(1, total + 1, size))
        ]
