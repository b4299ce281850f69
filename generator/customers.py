"""The customer entity: drawing customers, changing them, and rendering CSV fields.

A customer is a row of integer codes (see `CustomerFrame`); labels, names and
addresses are looked up only when rendering. Distributions and their sources
are in `generator.reference`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import encoding
from generator.frames import ColumnarFrame
from generator.pools import COUNTRIES, PoolSection, SectionedPool, TextPools
from generator.reference import (
    ACTIVE,
    ADDRESS_LINE2_EMPTY_SHARE,
    ADDRESS_LINE3_EMPTY_SHARE,
    ADULT_AGE,
    AFFLUENCE_LEVEL,
    AGE_BANDS,
    CATEGORY,
    CIBIL_CHECK_MAX_AGE_DAYS,
    CITIES_BY_NATIONALITY,
    COUNTRY_CODES,
    CUSTOMER_ID_BASE,
    CUSTOMER_STATUS,
    CUSTOMER_TYPE,
    DECEASED,
    DORMANT,
    EMAIL_DOMAIN,
    EMAIL_NUMBER_OFFSET,
    FEMALE,
    GENDER,
    HIGH_CIBIL_RANGE,
    INCORPORATION_DATE_SHARE,
    LOW_CIBIL_RANGE,
    LOW_CIBIL_SHARE,
    MALE,
    MARITAL_BY_TITLE,
    MARITAL_STATUSES,
    MINOR_MARITAL_STATUS,
    MINOR_TITLE_BY_GENDER,
    MOBILE_NUMBER_OFFSET,
    NATIONALITY,
    NON_SALARIED,
    OCCUPATION,
    PERSONAL,
    PRIVILEGE,
    RESIDENT_INDIAN,
    RESIDENT_MAPPING,
    RISK_CATEGORY,
    SEGMENT,
    SENIOR_CITIZEN_AGE,
    SOURCING_CHANNEL,
    TITLES,
    TITLES_BY_GENDER,
    YES_NO,
)
from generator.sampling import categorical, pick_in_ranges
from generator.timeline import age_at, birth_dates_for_ages, epoch_days, to_days

CUSTOMER_COLUMNS: tuple[str, ...] = (
    "cust_id",
    "cust_dob",
    "cust_first_name",
    "cust_last_name",
    "cust_middle_name",
    "cust_segment",
    "cust_title",
    "customer_category",
    "customer_privelege",
    "customer_type",
    "email_addr",
    "gender",
    "marital_status",
    "minor_flag",
    "mobile_number1",
    "nationality",
    "occupation",
    "senior_citizen_flag",
    "sourcing_channel",
    "customer_risk_category",
    "afflunce_level",
    "customer_status",
    "customer_addressline1",
    "customer_addressline2",
    "customer_addressline3",
    "city",
    "state",
    "country",
    "pin",
    "created_at",
    "modified_at",
    "cibil_check_date",
    "cibil_score",
    "country_code",
)

# Code of an absent value in every code/index array.
NONE = -1
NO_DATE = np.iinfo(np.int64).min

# Seed: generate_random_date_list draws incorporation dates in 2000-01-01..2023-08-31.
# A business cannot be onboarded before it exists, so the upper end is also
# capped at the customer's created_at.
INCORPORATION_FIRST_DAY = epoch_days(date(2000, 1, 1))
INCORPORATION_LAST_DAY = epoch_days(date(2023, 8, 31))

MIDDLE_NAME_SHARE = 0.5  # seed: random.randint(1, 10) > 5

# Monthly change: probability that each attribute group changes for a customer
# picked for an update (at least one always changes; the brief lists the groups,
# the seed gives no rates).
ADDRESS_CHANGE_SHARE = 0.30
RISK_CHANGE_SHARE = 0.30
STATUS_CHANGE_SHARE = 0.20
CIBIL_CHANGE_SHARE = 0.50
AFFLUENCE_CHANGE_SHARE = 0.20
# A status change of an adult: Active -> Dormant or Deceased, Dormant -> Active
# or Deceased; Deceased is final.
STATUS_CHANGE_TO_DECEASED_SHARE = 0.20


@dataclass(frozen=True)
class _Geography:
    """The seed's city/state/pin/country rows flattened, with lookups by mapping."""

    mapping_of_row: np.ndarray
    country_of_row: np.ndarray
    mapping_offsets: np.ndarray
    mapping_lengths: np.ndarray
    mapping_of_nationality: np.ndarray
    resident_mapping: int
    city: pa.StringArray
    state: pa.StringArray
    pin: pa.StringArray
    country: pa.StringArray
    country_code: pa.StringArray


def _build_geography() -> _Geography:
    mappings = tuple(CITIES_BY_NATIONALITY)
    rows = [(m, *row) for m, key in enumerate(mappings) for row in CITIES_BY_NATIONALITY[key]]
    lengths = np.array([len(CITIES_BY_NATIONALITY[key]) for key in mappings], dtype=np.int64)
    return _Geography(
        mapping_of_row=np.array([row[0] for row in rows], dtype=np.int64),
        country_of_row=np.array([COUNTRIES.index(row[4]) for row in rows], dtype=np.int64),
        mapping_offsets=np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64),
        mapping_lengths=lengths,
        mapping_of_nationality=np.array(
            [mappings.index(n) for n in NATIONALITY.labels], dtype=np.int64
        ),
        resident_mapping=mappings.index(RESIDENT_MAPPING),
        city=encoding.encoded_labels([row[1] for row in rows]),
        state=encoding.encoded_labels([row[2] for row in rows]),
        pin=encoding.encoded_labels([row[3] for row in rows]),
        country=encoding.encoded_labels([row[4] for row in rows]),
        country_code=encoding.encoded_labels([COUNTRY_CODES[row[4]] for row in rows]),
    )


GEOGRAPHY = _build_geography()

_LABELS = {
    "segment": encoding.encoded_labels(SEGMENT.labels),
    "title": encoding.encoded_labels(TITLES),
    "category": encoding.encoded_labels(CATEGORY.labels),
    "privilege": encoding.encoded_labels(PRIVILEGE.labels),
    "customer_type": encoding.encoded_labels(CUSTOMER_TYPE.labels),
    "gender": encoding.encoded_labels(GENDER.labels),
    "marital": encoding.encoded_labels(MARITAL_STATUSES),
    "yes_no": encoding.encoded_labels(YES_NO),
    "nationality": encoding.encoded_labels(NATIONALITY.labels),
    "occupation": encoding.encoded_labels(OCCUPATION.labels),
    "sourcing": encoding.encoded_labels(SOURCING_CHANNEL.labels),
    "risk": encoding.encoded_labels(RISK_CATEGORY.labels),
    "affluence": encoding.encoded_labels(AFFLUENCE_LEVEL.labels),
    "status": encoding.encoded_labels(CUSTOMER_STATUS.labels),
}
_YES, _NO = 0, 1


@dataclass(frozen=True)
class CustomerFrame(ColumnarFrame):
    """Customers (or customer versions) as arrays of codes, one element per row.

    Category fields hold indices into the `generator.reference` label tuples,
    name and address fields indices into the run's `TextPools`; `NONE` (-1)
    marks an absent value, `NO_DATE` an absent date. Times are epoch seconds,
    dates epoch days.
    """

    ordinal: np.ndarray
    customer_type: np.ndarray
    gender: np.ndarray
    title: np.ndarray
    marital_status: np.ndarray
    occupation: np.ndarray
    segment: np.ndarray
    category: np.ndarray
    privilege: np.ndarray
    nationality: np.ndarray
    sourcing_channel: np.ndarray
    risk_category: np.ndarray
    affluence_level: np.ndarray
    status: np.ndarray
    geography: np.ndarray
    address_line1: np.ndarray
    address_line2: np.ndarray
    address_line3: np.ndarray
    first_name: np.ndarray
    middle_name: np.ndarray
    last_name: np.ndarray
    birth_day: np.ndarray
    created_at: np.ndarray
    modified_at: np.ndarray
    cibil_score: np.ndarray
    cibil_check_day: np.ndarray

    def ages_at(self, seconds: np.ndarray) -> np.ndarray:
        """Age in completed years at `seconds` per row; -1 for non-personal rows."""
        personal = self.customer_type == PERSONAL
        ages = np.full(len(self), NONE, dtype=np.int64)
        ages[personal] = age_at(self.birth_day[personal], to_days(seconds[personal]))
        return ages

    def is_minor_at(self, seconds: np.ndarray) -> np.ndarray:
        """Personal customers younger than 18 at `seconds`."""
        ages = self.ages_at(seconds)
        return (ages >= 0) & (ages < ADULT_AGE)


def draw_customers(
    rng: np.random.Generator,
    ordinals: np.ndarray,
    created_at: np.ndarray,
    pools: TextPools,
) -> CustomerFrame:
    """Draw new customers as of their creation.

    Args:
        rng: Random stream of this chunk.
        ordinals: Customer numbers i (cust_id = 1000000000 + i).
        created_at: Creation timestamps (epoch seconds); modified_at equals it.
        pools: The run's text pools.

    Returns:
        One row per ordinal.
    """
    size = len(ordinals)
    customer_type = categorical(rng, CUSTOMER_TYPE.probabilities, size)
    personal = customer_type == PERSONAL
    created_day = to_days(created_at)

    band = categorical(rng, np.array([share for _, _, share in AGE_BANDS]), size)
    youngest = np.array([low for low, _, _ in AGE_BANDS])[band]
    oldest = np.array([high for _, high, _ in AGE_BANDS])[band]
    ages = rng.integers(youngest, oldest + 1)
    minor = personal & (ages < ADULT_AGE)
    birth_day = np.where(
        personal,
        birth_dates_for_ages(rng, created_day, ages),
        _incorporation_days(rng, created_day),
    )

    gender = np.where(personal, categorical(rng, GENDER.probabilities, size), NONE).astype(np.int8)
    title = _titles(rng, gender, minor)
    category = categorical(rng, CATEGORY.probabilities, size)
    nationality = categorical(rng, NATIONALITY.probabilities, size)
    geography = _geography_rows(rng, category, nationality)
    address_line1, address_line2, address_line3 = _address_lines(
        rng, GEOGRAPHY.country_of_row[geography], pools
    )
    first_name, middle_name, last_name = _names(rng, gender, personal, pools)
    cibil_score, cibil_check_day = _cibil(rng, created_day)

    return CustomerFrame(
        ordinal=np.asarray(ordinals, dtype=np.int64),
        customer_type=customer_type,
        gender=gender,
        title=title,
        marital_status=_marital_statuses(rng, title, minor),
        occupation=np.where(
            personal,
            np.where(minor, NON_SALARIED, categorical(rng, OCCUPATION.probabilities, size)),
            NONE,
        ).astype(np.int8),
        segment=categorical(rng, SEGMENT.probabilities, size),
        category=category,
        privilege=categorical(rng, PRIVILEGE.probabilities, size),
        nationality=nationality,
        sourcing_channel=categorical(rng, SOURCING_CHANNEL.probabilities, size),
        risk_category=categorical(rng, RISK_CATEGORY.probabilities, size),
        affluence_level=categorical(rng, AFFLUENCE_LEVEL.probabilities, size),
        status=np.where(
            minor, ACTIVE, categorical(rng, CUSTOMER_STATUS.probabilities, size)
        ).astype(np.int8),
        geography=geography,
        address_line1=address_line1,
        address_line2=address_line2,
        address_line3=address_line3,
        first_name=first_name,
        middle_name=middle_name,
        last_name=last_name,
        birth_day=birth_day,
        created_at=np.asarray(created_at, dtype=np.int64),
        modified_at=np.asarray(created_at, dtype=np.int64).copy(),
        cibil_score=cibil_score,
        cibil_check_day=cibil_check_day,
    )


@dataclass(frozen=True)
class UpdateConstraints:
    """What a customer's changes must preserve, per row of the chunk's CustomerFrame.

    Set by the latent personas (see personas.py) so that a later version of a
    customer still shows the persona's credit profile.

    Attributes:
        cibil_low, cibil_high: A redrawn CIBIL score stays in [low, high];
            `NONE` (-1) where the score is free (the seed's 3 % / 97 % draw).
        keep_affluence: The affluence level never changes (a drawn affluence
            change becomes a CIBIL refresh instead).
    """

    cibil_low: np.ndarray
    cibil_high: np.ndarray
    keep_affluence: np.ndarray

    def banded_scores(
        self, rng: np.random.Generator, rows: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """`scores` of `rows`, redrawn inside the row's band where it has one."""
        low, high = self.cibil_low[rows], self.cibil_high[rows]
        banded = low != NONE
        inside = rng.integers(np.where(banded, low, 0), np.where(banded, high, 0) + 1)
        return np.where(banded, inside, scores)


def apply_update(
    rng: np.random.Generator,
    customers: CustomerFrame,
    rows: np.ndarray,
    modified_at: np.ndarray,
    pools: TextPools,
    constraints: UpdateConstraints | None = None,
) -> None:
    """Change `rows` of `customers` in place as of `modified_at`.

    Each row changes at least one of: address (another row of the same
    city/state/pin/country mapping, so it may move state or country, with new
    address lines of the new country), risk category, status, CIBIL score,
    affluence level. The CIBIL check date is refreshed on every change.

    Args:
        rng: Random stream of this chunk and month.
        customers: The chunk's current state, modified in place.
        rows: Indices of the customers to change.
        modified_at: New modified_at per row, later than the current one.
        pools: The run's text pools.
        constraints: Persona constraints on the new values (None: none).
    """
    size = len(rows)
    changes = rng.random((5, size)) < np.array(
        [
            [ADDRESS_CHANGE_SHARE],
            [RISK_CHANGE_SHARE],
            [STATUS_CHANGE_SHARE],
            [CIBIL_CHANGE_SHARE],
            [AFFLUENCE_CHANGE_SHARE],
        ]
    )
    if constraints is not None:
        # An affluence change of a customer whose affluence is fixed becomes a bureau refresh.
        keep = constraints.keep_affluence[rows]
        changes[3] |= changes[4] & keep
        changes[4] &= ~keep
    # A credit-bureau refresh is the most common change; use it when none was drawn.
    changes[3] |= ~changes.any(axis=0)
    address, risk, status, cibil, affluence = changes

    moved = rows[address]
    customers.geography[moved] = _other_row_of_same_mapping(rng, customers.geography[moved])
    line1, line2, line3 = _address_lines(
        rng, GEOGRAPHY.country_of_row[customers.geography[moved]], pools
    )
    customers.address_line1[moved] = line1
    customers.address_line2[moved] = line2
    customers.address_line3[moved] = line3

    customers.risk_category[rows[risk]] = _other_code(rng, customers.risk_category[rows[risk]], 3)
    customers.affluence_level[rows[affluence]] = _other_code(
        rng, customers.affluence_level[rows[affluence]], 3
    )

    adult = ~customers.take(rows).is_minor_at(modified_at)
    restatus = rows[status & adult]
    customers.status[restatus] = _next_status(rng, customers.status[restatus])

    # Any change of the record comes with a fresh bureau check (the seed keeps
    # cibil_check_date within 42 days of the record); the score itself changes
    # only for the CIBIL group.
    score, check_day = _cibil(rng, to_days(modified_at))
    if constraints is not None:
        score = constraints.banded_scores(rng, rows, score)
    customers.cibil_score[rows[cibil]] = score[cibil]
    customers.cibil_check_day[rows] = check_day

    customers.modified_at[rows] = modified_at


def late_versions(
    rng: np.random.Generator,
    customers: CustomerFrame,
    rows: np.ndarray,
    after: np.ndarray,
    constraints: UpdateConstraints | None = None,
) -> CustomerFrame:
    """Versions of `rows` dated before their latest delivered version.

    They model a source system re-sending an intermediate change late: the risk
    category and CIBIL score differ from the delivered version and modified_at
    is strictly between `after` and the current modified_at, so a
    latest-by-modified_at dedupe must keep the version already delivered.

    Args:
        rng: Random stream of this chunk and month.
        customers: The chunk's current state (not modified).
        rows: Customers to re-send a version of.
        after: Per row, a time the late version must be later than (at least
            created_at); at least 2 s before the current modified_at.
        constraints: Persona constraints on the re-drawn CIBIL score (None: none).

    Returns:
        One older version per row.
    """
    late = customers.take(rows)
    late.modified_at[:] = rng.integers(after + 1, late.modified_at)
    late.risk_category[:] = _other_code(rng, late.risk_category, 3)
    late.cibil_score[:], late.cibil_check_day[:] = _cibil(rng, to_days(late.modified_at))
    if constraints is not None:
        late.cibil_score[:] = constraints.banded_scores(rng, rows, late.cibil_score)
    # Minors are Active (seed); the customer may have been one at the older date.
    late.status[late.is_minor_at(late.modified_at)] = ACTIVE
    return late


def render_customers(customers: CustomerFrame, pools: TextPools) -> dict[str, pa.Array]:
    """Encoded CSV fields of every row, keyed by column in `CUSTOMER_COLUMNS` order.

    minor_flag and senior_citizen_flag are derived from the age at the row's
    modified_at, so an updated row of a customer who turned 18 says No.
    """
    personal = customers.customer_type == PERSONAL
    age = customers.ages_at(customers.modified_at)
    minor_flag = np.where(personal, np.where(age < ADULT_AGE, _YES, _NO), NONE)
    senior_flag = np.where(personal, np.where(age >= SENIOR_CITIZEN_AGE, _YES, _NO), NONE)
    geography = pa.array(customers.geography)
    customer_id = CUSTOMER_ID_BASE + customers.ordinal
    email_local = pc.binary_join_element_wise(
        pools.names_lower.take(pa.array(customers.first_name)),
        pools.names_lower.take(pa.array(customers.last_name)),
        ".",
    )
    email = pc.binary_join_element_wise(
        email_local,
        encoding.integers(customers.ordinal + EMAIL_NUMBER_OFFSET),
        "@" + EMAIL_DOMAIN,
        "",
    )
    labels = _LABELS
    fields = {
        "cust_id": encoding.integers(customer_id),
        "cust_dob": encoding.dates(customers.birth_day, customers.birth_day == NO_DATE),
        "cust_first_name": pools.names.take(pa.array(customers.first_name)),
        "cust_last_name": pools.names.take(pa.array(customers.last_name)),
        "cust_middle_name": encoding.take_codes(pools.names, customers.middle_name),
        "cust_segment": encoding.take_codes(labels["segment"], customers.segment),
        "cust_title": encoding.take_codes(labels["title"], customers.title),
        "customer_category": encoding.take_codes(labels["category"], customers.category),
        "customer_privelege": encoding.take_codes(labels["privilege"], customers.privilege),
        "customer_type": encoding.take_codes(labels["customer_type"], customers.customer_type),
        "email_addr": email,
        "gender": encoding.take_codes(labels["gender"], customers.gender),
        "marital_status": encoding.take_codes(labels["marital"], customers.marital_status),
        "minor_flag": encoding.take_codes(labels["yes_no"], minor_flag),
        "mobile_number1": encoding.integers(customer_id + MOBILE_NUMBER_OFFSET),
        "nationality": encoding.take_codes(labels["nationality"], customers.nationality),
        "occupation": encoding.take_codes(labels["occupation"], customers.occupation),
        "senior_citizen_flag": encoding.take_codes(labels["yes_no"], senior_flag),
        "sourcing_channel": encoding.take_codes(labels["sourcing"], customers.sourcing_channel),
        "customer_risk_category": encoding.take_codes(labels["risk"], customers.risk_category),
        "afflunce_level": encoding.take_codes(labels["affluence"], customers.affluence_level),
        "customer_status": encoding.take_codes(labels["status"], customers.status),
        "customer_addressline1": pools.address_line1.values.take(pa.array(customers.address_line1)),
        "customer_addressline2": encoding.take_codes(
            pools.address_line2.values, customers.address_line2
        ),
        "customer_addressline3": encoding.take_codes(
            pools.address_line3.values, customers.address_line3
        ),
        "city": GEOGRAPHY.city.take(geography),
        "state": GEOGRAPHY.state.take(geography),
        "country": GEOGRAPHY.country.take(geography),
        "pin": GEOGRAPHY.pin.take(geography),
        "created_at": encoding.timestamps(customers.created_at),
        "modified_at": encoding.timestamps(customers.modified_at),
        "cibil_check_date": encoding.dates(customers.cibil_check_day),
        "cibil_score": encoding.integers(customers.cibil_score),
        "country_code": GEOGRAPHY.country_code.take(geography),
    }
    return {column: fields[column] for column in CUSTOMER_COLUMNS}


def _incorporation_days(rng: np.random.Generator, created_day: np.ndarray) -> np.ndarray:
    last = np.maximum(np.minimum(INCORPORATION_LAST_DAY, created_day), INCORPORATION_FIRST_DAY)
    days = rng.integers(INCORPORATION_FIRST_DAY, last + 1)
    present = rng.random(len(created_day)) < INCORPORATION_DATE_SHARE
    return np.where(present, days, NO_DATE)


def _titles(rng: np.random.Generator, gender: np.ndarray, minor: np.ndarray) -> np.ndarray:
    title = np.full(len(gender), NONE, dtype=np.int8)
    for code, label in enumerate(GENDER.labels):
        choices = np.array([TITLES.index(t) for t in TITLES_BY_GENDER[label]], dtype=np.int8)
        rows = gender == code
        title[rows] = choices[rng.integers(0, len(choices), int(rows.sum()))]
        if label in MINOR_TITLE_BY_GENDER:
            title[rows & minor] = TITLES.index(MINOR_TITLE_BY_GENDER[label])
    return title


def _marital_statuses(rng: np.random.Generator, title: np.ndarray, minor: np.ndarray) -> np.ndarray:
    marital = np.full(len(title), NONE, dtype=np.int8)
    for label, statuses in MARITAL_BY_TITLE.items():
        choices = np.array([MARITAL_STATUSES.index(s) for s in statuses], dtype=np.int8)
        rows = title == TITLES.index(label)
        marital[rows] = choices[rng.integers(0, len(choices), int(rows.sum()))]
    marital[minor] = MARITAL_STATUSES.index(MINOR_MARITAL_STATUS)
    return marital


def _names(
    rng: np.random.Generator, gender: np.ndarray, personal: np.ndarray, pools: TextPools
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(gender)

    def pick(section: PoolSection) -> np.ndarray:
        return section.offset + rng.integers(0, section.length, size)

    first_by_gender = np.where(
        gender == MALE,
        pick(pools.male_first),
        np.where(gender == FEMALE, pick(pools.female_first), pick(pools.neutral_first)),
    )
    family = pick(pools.family)
    has_middle = personal & (rng.random(size) < MIDDLE_NAME_SHARE)
    # Corporates and merchants: "<family name> <Enterprises|Traders|...>".
    first_name = np.where(personal, first_by_gender, family)
    last_name = np.where(personal, family, pick(pools.business_suffix))
    middle_name = np.where(has_middle, pick(pools.male_first), NONE)
    return first_name, middle_name, last_name


def _geography_rows(
    rng: np.random.Generator, category: np.ndarray, nationality: np.ndarray
) -> np.ndarray:
    mapping = np.where(
        category == RESIDENT_INDIAN,
        GEOGRAPHY.resident_mapping,
        GEOGRAPHY.mapping_of_nationality[nationality],
    )
    return pick_in_ranges(
        rng, GEOGRAPHY.mapping_offsets[mapping], GEOGRAPHY.mapping_lengths[mapping]
    )


def _other_row_of_same_mapping(rng: np.random.Generator, geography: np.ndarray) -> np.ndarray:
    mapping = GEOGRAPHY.mapping_of_row[geography]
    offset = GEOGRAPHY.mapping_offsets[mapping]
    length = GEOGRAPHY.mapping_lengths[mapping]
    step = 1 + np.floor(rng.random(len(geography)) * (length - 1)).astype(np.int64)
    other_row: np.ndarray = offset + (geography - offset + step) % length
    return other_row


def _address_lines(
    rng: np.random.Generator, country: np.ndarray, pools: TextPools
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    size = len(country)

    def pick(pool: SectionedPool) -> np.ndarray:
        return pick_in_ranges(rng, pool.offsets[country], pool.lengths[country])

    line2 = np.where(rng.random(size) < ADDRESS_LINE2_EMPTY_SHARE, NONE, pick(pools.address_line2))
    line3 = np.where(rng.random(size) < ADDRESS_LINE3_EMPTY_SHARE, NONE, pick(pools.address_line3))
    return pick(pools.address_line1), line2, line3


def _cibil(rng: np.random.Generator, as_of_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    size = len(as_of_day)
    low = rng.random(size) < LOW_CIBIL_SHARE
    score = np.where(
        low,
        rng.integers(LOW_CIBIL_RANGE[0], LOW_CIBIL_RANGE[1] + 1, size),
        rng.integers(HIGH_CIBIL_RANGE[0], HIGH_CIBIL_RANGE[1] + 1, size),
    )
    check_day = as_of_day - rng.integers(0, CIBIL_CHECK_MAX_AGE_DAYS + 1, size)
    return score.astype(np.int64), check_day.astype(np.int64)


def _other_code(rng: np.random.Generator, codes: np.ndarray, categories: int) -> np.ndarray:
    """A different code than `codes`, uniform over the other categories."""
    return ((codes + rng.integers(1, categories, len(codes))) % categories).astype(codes.dtype)


def _next_status(rng: np.random.Generator, status: np.ndarray) -> np.ndarray:
    to_deceased = rng.random(len(status)) < STATUS_CHANGE_TO_DECEASED_SHARE
    flipped = np.where(status == ACTIVE, DORMANT, ACTIVE)
    changed = np.where(to_deceased, DECEASED, flipped)
    return np.where(status == DECEASED, DECEASED, changed).astype(status.dtype)
