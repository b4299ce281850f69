"""Seeded random streams and vectorised sampling helpers.

Every random draw of a run comes from a stream identified by (seed, purpose,
keys...), e.g. (42, CUSTOMERS, chunk 3). A chunk's data therefore does not depend
on how many chunks ran before it, which keeps the output byte-identical for a
given config and lets chunks be produced in any order.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Stream(IntEnum):
    """Purpose of a random stream; part of its SeedSequence spawn key."""

    CUSTOMERS = 1
    ACCOUNTS = 2
    CUSTOMER_CHANGES = 3
    ACCOUNT_CHANGES = 4
    TRANSACTIONS = 5
    SETTLEMENTS = 6
    DUPLICATES = 7
    BAD_ROWS = 8
    PERSONAS = 9
    CAMPAIGN = 10


def random_stream(seed: int, stream: Stream, *keys: int) -> np.random.Generator:
    """A generator for one purpose and position, independent of all others.

    Args:
        seed: The run's seed.
        stream: What the numbers are used for.
        *keys: Position within the run (chunk index, month, batch...).

    Returns:
        A PCG64 generator seeded from `SeedSequence(seed, spawn_key=(stream, *keys))`,
        the same child `SeedSequence.spawn` would give.
    """
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(stream), *keys)))


def categorical(rng: np.random.Generator, probabilities: np.ndarray, size: int) -> np.ndarray:
    """Draw `size` category codes (int8) with the given probabilities.

    Inverse-CDF sampling with one uniform per draw; several times faster than
    `Generator.choice` with `p=` for large sizes.
    """
    cumulative = np.cumsum(probabilities)
    codes = np.searchsorted(cumulative, rng.random(size) * cumulative[-1], side="right")
    clamped: np.ndarray = np.minimum(codes, len(probabilities) - 1).astype(np.int8)
    return clamped


def stochastic_round(rng: np.random.Generator, expected: float) -> int:
    """Round `expected` up with probability equal to its fractional part.

    Used for counts like "1 % of this file's rows": small files then still get
    their share on average instead of always rounding to zero.
    """
    whole = int(np.floor(expected))
    return whole + int(rng.random() < expected - whole)


def pick_in_ranges(
    rng: np.random.Generator, offsets: np.ndarray, lengths: np.ndarray
) -> np.ndarray:
    """For each i, a uniform integer in [offsets[i], offsets[i] + lengths[i]).

    Used to draw from the section of a flattened pool that belongs to a group
    (e.g. the street names of one country).
    """
    picked: np.ndarray = offsets + np.floor(rng.random(len(offsets)) * lengths).astype(np.int64)
    return picked


def insertion_order(
    rng: np.random.Generator, base_rows: int, earliest_slot: np.ndarray
) -> np.ndarray:
    """Order that inserts extra rows among `base_rows` ordered rows at random places.

    Rows 0..base_rows-1 keep their order; extra row j (index base_rows + j) lands
    before base row s for a uniform s in [earliest_slot[j], base_rows] (s ==
    base_rows: at the end). A duplicate of base row p uses earliest_slot p + 1,
    so it always comes after its original.

    Returns:
        A permutation of range(base_rows + len(earliest_slot)) to `take` with.
    """
    slots = rng.integers(earliest_slot, base_rows + 1)
    keys = np.concatenate([np.arange(base_rows, dtype=np.int64) * 2 + 1, slots * 2])
    return np.argsort(keys, kind="stable")
