"""Text pools built once per run from Faker, then sampled with numpy.

Calling Faker per row costs tens of microseconds; at 10M customers that is
hours. Instead each pool is drawn once from a seeded Faker, cleaned (letters-
only names, one-line addresses of at most 50 characters, no double quotes),
de-duplicated and sorted, and rows pick from it by index. The pools depend on
the seed and on the installed Faker version (its word lists are the data).
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from faker import Faker

from generator.encoding import encoded_labels
from generator.reference import (
    ADDRESS_LINE_MAX_LENGTH,
    BUSINESS_NAME_SUFFIXES,
    COUNTRY_CODES,
    COUNTRY_LOCALES,
    SINGAPORE_STREETS,
)

# Seed validation: names ^[a-zA-Z]+$ and <= 35 characters; the tighter 15 keeps
# "first.last<number>@gmail.com" within the 50 characters allowed for e-mails.
NAME_PATTERN = re.compile(r"^[A-Za-z]+$")
# A house or flat number with a leading zero ("0", "005", "Apt. 017"), which
# Faker's digit patterns produce; Singapore unit numbers ("#01-016") are fine.
_LEADING_ZERO_NUMBER = re.compile(r"(?<![\w#-])0\d*(?![\w-])")
NAME_MAX_LENGTH = 15

NAME_DRAWS = 3_000
STREET_DRAWS = 800
LOCALITY_DRAWS = 400
LANDMARK_DRAWS = 400

# Faker method giving a locality / area line per locale; others use city(),
# which for European and Indonesian locales yields town-like district names.
_LOCALITY_METHOD: dict[str, str] = {
    "en_IN": "street_name",  # Indian street names read as localities ("Saha Nagar")
    "pt_BR": "bairro",  # Brazilian neighbourhoods
    "en_US": "secondary_address",
    "en_CA": "secondary_address",
    "it_IT": "secondary_address",
    "es_ES": "secondary_address",
}
_LANDMARK_KINDS: tuple[str, ...] = (
    "Park",
    "Market",
    "School",
    "Hospital",
    "Station",
    "Temple",
    "Church",
    "Mall",
)

COUNTRIES: tuple[str, ...] = tuple(COUNTRY_CODES)


@dataclass(frozen=True)
class PoolSection:
    """Where one group's entries sit in a flattened pool."""

    offset: int
    length: int


@dataclass(frozen=True)
class SectionedPool:
    """Encoded CSV fields of several groups in one Arrow array.

    Attributes:
        values: Encoded fields, group after group.
        offsets: Start of each group's entries, indexed by group code.
        lengths: Number of entries of each group, indexed by group code.
    """

    values: pa.StringArray
    offsets: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_groups(cls, groups: Iterable[list[str]]) -> SectionedPool:
        """Build from one list of plain strings per group (encoded here)."""
        group_list = list(groups)
        lengths = np.array([len(group) for group in group_list], dtype=np.int64)
        offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        flat = [text for group in group_list for text in group]
        return cls(encoded_labels(flat), offsets, lengths)


@dataclass(frozen=True)
class TextPools:
    """All Faker-derived vocabularies of a run.

    Attributes:
        names: Display names (letters only), sections below index into it.
        names_lower: `names` lower-cased, for e-mail addresses.
        male_first, female_first, neutral_first: First-name sections (en_IN).
        family: Family-name section (en_IN); also the first word of business names.
        business_suffix: Second word of business names (Enterprises, Traders...).
        address_line1, address_line2, address_line3: Street, locality and
            landmark lines, one section per country of `COUNTRIES`.
    """

    names: pa.StringArray
    names_lower: pa.StringArray
    male_first: PoolSection
    female_first: PoolSection
    neutral_first: PoolSection
    family: PoolSection
    business_suffix: PoolSection
    address_line1: SectionedPool
    address_line2: SectionedPool
    address_line3: SectionedPool

    def family_names(self) -> list[str]:
        """The family names as plain strings (for merchant and employer names)."""
        section = self.names.slice(self.family.offset, self.family.length)
        family_names: list[str] = section.to_pylist()
        return family_names


@functools.lru_cache(maxsize=2)
def build_text_pools(seed: int) -> TextPools:
    """Draw all pools for `seed` (about 1.5 s; cached, the pools are immutable).

    Args:
        seed: The run's seed; each locale's Faker is seeded from it.

    Returns:
        The pools.
    """
    indian = _seeded_faker("en_IN", seed)
    sections = {
        "male_first": _name_pool(indian.first_name_male),
        "female_first": _name_pool(indian.first_name_female),
        "neutral_first": _name_pool(indian.first_name_nonbinary),
        "family": _name_pool(indian.last_name),
        "business_suffix": list(BUSINESS_NAME_SUFFIXES),
    }
    flat_names: list[str] = []
    positions: dict[str, PoolSection] = {}
    for key, pool in sections.items():
        positions[key] = PoolSection(len(flat_names), len(pool))
        flat_names.extend(pool)

    street_lines, locality_lines, landmark_lines = [], [], []
    for country in COUNTRIES:
        locale = COUNTRY_LOCALES[country]
        if locale is None:
            street, locality, landmark = _singapore_lines(random.Random(f"{seed}:{country}"))
        else:
            street, locality, landmark = _locale_lines(_seeded_faker(locale, seed))
        street_lines.append(street)
        locality_lines.append(locality)
        landmark_lines.append(landmark)

    return TextPools(
        names=pa.array(flat_names, type=pa.string()),
        names_lower=pa.array([name.lower() for name in flat_names], type=pa.string()),
        address_line1=SectionedPool.from_groups(street_lines),
        address_line2=SectionedPool.from_groups(locality_lines),
        address_line3=SectionedPool.from_groups(landmark_lines),
        **positions,
    )


def clean_address_line(text: str) -> str:
    """One line of at most 50 characters, no double quotes, single spaces.

    Faker's en_IN addresses contain line breaks ("170\\nSant Marg"); they become
    ", " because the pipeline needs one record per line.
    """
    one_line = re.sub(r"\s*[\r\n]+\s*", ", ", text.replace('"', ""))
    collapsed = re.sub(r"\s+", " ", one_line).strip(" ,")
    return collapsed[:ADDRESS_LINE_MAX_LENGTH].rstrip(" ,")


def _seeded_faker(locale: str, seed: int) -> Faker:
    fake = Faker(locale)
    # One stream per locale: en_CA and en_US share word lists and would
    # otherwise draw identical pools. (random.seed hashes str deterministically.)
    fake.seed_instance(f"{seed}:{locale}")
    return fake


def _name_pool(draw: Callable[[], str]) -> list[str]:
    names = {draw().strip() for _ in range(NAME_DRAWS)}
    return sorted(
        name for name in names if NAME_PATTERN.match(name) and len(name) <= NAME_MAX_LENGTH
    )


def _unique_lines(draw: Callable[[], str], count: int) -> list[str]:
    lines = {clean_address_line(draw()) for _ in range(count)}
    return sorted(line for line in lines if line and not _LEADING_ZERO_NUMBER.search(line))


def _locale_lines(fake: Faker) -> tuple[list[str], list[str], list[str]]:
    locality = getattr(fake, _LOCALITY_METHOD.get(_locale_of(fake), "city"))
    return (
        _unique_lines(fake.street_address, STREET_DRAWS),
        _unique_lines(locality, LOCALITY_DRAWS),
        _unique_lines(
            lambda: f"Near {fake.last_name()} {fake.random_element(_LANDMARK_KINDS)}",
            LANDMARK_DRAWS,
        ),
    )


def _singapore_lines(rand: random.Random) -> tuple[list[str], list[str], list[str]]:
    # HDB-style addresses: "Blk 123 Tampines Street 81", unit "#04-123".
    streets = _unique_lines(
        lambda: f"Blk {rand.randint(1, 999)} {rand.choice(SINGAPORE_STREETS)}", STREET_DRAWS
    )
    units = _unique_lines(
        lambda: f"#{rand.randint(1, 30):02d}-{rand.randint(1, 999):03d}", LOCALITY_DRAWS
    )
    landmarks = _unique_lines(
        lambda: f"Near {rand.choice(SINGAPORE_STREETS).split()[0]} {rand.choice(_LANDMARK_KINDS)}",
        LANDMARK_DRAWS,
    )
    return streets, units, landmarks


def _locale_of(fake: Faker) -> str:
    locale: str = fake.locales[0]
    return locale
