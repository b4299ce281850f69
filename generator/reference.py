"""Reference data and distributions of the customer entity, taken from the seed.

Source: seeds/003 (the Financial Services Accelerator's `customer_attribute_helper`:
`country_codes_dict`, `country_cities_states_mapping` and the `generate_*`
functions). Values are copied verbatim, including non-ASCII place names and
text postal codes with leading zeros. Where the seed is silent or contradicts its
own validation SQL, the choice made here is commented at the constant and listed
in generator/README.md ("Departures from the seed").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WeightedChoice:
    """A categorical distribution: labels and their (not necessarily normalised) weights.

    The seed writes several weights that do not sum to 1 (e.g. gender
    0.6/0.6/0.1/...) and feeds them to `random.choices`, which normalises them;
    `probabilities` does the same so the emitted shares equal the seed's intent.
    """

    labels: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.weights) or not self.labels:
            raise ValueError("labels and weights must be non-empty and of equal length")

    @property
    def probabilities(self) -> np.ndarray:
        """Weights normalised to sum to 1."""
        weights = np.asarray(self.weights, dtype=np.float64)
        normalised: np.ndarray = weights / weights.sum()
        return normalised

    def index(self, label: str) -> int:
        """Position of `label`, the integer code used in generated arrays."""
        return self.labels.index(label)


# --- Geography (seed: country_codes_dict, country_cities_states_mapping) -----------

COUNTRY_CODES: dict[str, str] = {
    "India": "+91",
    "Norway": "+47",
    "Australia": "+61",
    "Brazil": "+55",
    "United States": "+1",
    "France": "+33",
    "Germany": "+49",
    "Spain": "+34",
    "Indonesia": "+62",
    "Canada": "+1",
    "Singapore": "+65",
    "Netherlands": "+31",
    "Italy": "+39",
}

# (city, state, pin, country); keys are nationalities. Order as in the seed.
CITIES_BY_NATIONALITY: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "Australian": (
        ("Sydney", "New South Wales", "2000", "Australia"),
        ("Melbourne", "Victoria", "3000", "Australia"),
        ("Brisbane", "Queensland", "4000", "Australia"),
        ("Perth", "Western Australia", "6000", "Australia"),
        ("Adelaide", "South Australia", "5000", "Australia"),
    ),
    "Brazilian": (
        ("Rio de Janeiro", "Rio de Janeiro", "20000", "Brazil"),
        ("Sao Paulo", "Sao Paulo", "01000", "Brazil"),
        ("Brasília", "Federal District", "70000", "Brazil"),
        ("Salvador", "Bahia", "40000", "Brazil"),
        ("Fortaleza", "Ceará", "60000", "Brazil"),
    ),
    "American": (
        ("New York City", "New York", "10001", "United States"),
        ("Los Angeles", "California", "90001", "United States"),
        ("Chicago", "Illinois", "60601", "United States"),
        ("Houston", "Texas", "77001", "United States"),
        ("Miami", "Florida", "33101", "United States"),
    ),
    "Canadian": (
        ("Toronto", "Ontario", "M5V 1J9", "Canada"),
        ("Vancouver", "British Columbia", "V6B 1E2", "Canada"),
        ("Montreal", "Quebec", "H2X 1J1", "Canada"),
        ("Calgary", "Alberta", "T2P 0R5", "Canada"),
        ("Ottawa", "Ontario", "K1P 1J1", "Canada"),
    ),
    "European": (
        ("Paris", "Île-de-France", "75001", "France"),
        ("Rome", "Lazio", "00100", "Italy"),
        ("Madrid", "Madrid", "28001", "Spain"),
        ("Berlin", "Berlin", "10115", "Germany"),
        ("Amsterdam", "North Holland", "1012 JS", "Netherlands"),
    ),
    "Indonesian": (
        ("Jakarta", "Jakarta", "10110", "Indonesia"),
        ("Surabaya", "East Java", "60111", "Indonesia"),
        ("Bandung", "West Java", "40111", "Indonesia"),
        ("Medan", "North Sumatra", "20111", "Indonesia"),
        ("Makassar", "South Sulawesi", "90111", "Indonesia"),
    ),
    "Norwegian": (
        ("Oslo", "Oslo", "0010", "Norway"),
        ("Bergen", "Vestland", "5015", "Norway"),
        ("Trondheim", "Trondelag", "7010", "Norway"),
        ("Stavanger", "Rogaland", "4006", "Norway"),
        ("Tromsø", "Troms og Finnmark", "9008", "Norway"),
    ),
    "Singaporean": (
        ("Singapore", "Singapore", "049317", "Singapore"),
        ("Bedok", "Singapore", "469001", "Singapore"),
        ("Jurong East", "Singapore", "609731", "Singapore"),
        ("Tampines", "Singapore", "529653", "Singapore"),
        ("Woodlands", "Singapore", "738099", "Singapore"),
    ),
    "Indian": (
        ("Mumbai", "Maharashtra", "400001", "India"),
        ("Delhi", "Delhi", "110001", "India"),
        ("Bangalore", "Karnataka", "560001", "India"),
        ("Kolkata", "West Bengal", "700001", "India"),
        ("Chennai", "Tamil Nadu", "600001", "India"),
        ("Hyderabad", "Telangana", "500001", "India"),
        ("Pune", "Maharashtra", "411001", "India"),
        ("Chandigarh", "Chandigarh", "160001", "India"),
        ("Jaipur", "Rajasthan", "302001", "India"),
        ("Ahmedabad", "Gujarat", "380001", "India"),
        ("Kochi", "Kerala", "682001", "India"),
        ("Lucknow", "Uttar Pradesh", "226001", "India"),
        ("Bhopal", "Madhya Pradesh", "462001", "India"),
        ("Patna", "Bihar", "800001", "India"),
        ("Coimbatore", "Tamil Nadu", "641001", "India"),
    ),
}

# Resident Indians live at a row of this mapping whatever their nationality
# (seed: get_city_state_pincode).
RESIDENT_MAPPING = "Indian"

# Faker locale of each country, for address lines in the local language and
# format. The seed writes no address lines at all (its to_csv has the columns
# but no generator); Singapore has no Faker locale and uses SINGAPORE_STREETS.
COUNTRY_LOCALES: dict[str, str | None] = {
    "India": "en_IN",
    "Norway": "no_NO",
    "Australia": "en_AU",
    "Brazil": "pt_BR",
    "United States": "en_US",
    "France": "fr_FR",
    "Germany": "de_DE",
    "Spain": "es_ES",
    "Indonesia": "id_ID",
    "Canada": "en_CA",
    "Singapore": None,
    "Netherlands": "nl_NL",
    "Italy": "it_IT",
}

# Public street names of Singapore's housing estates, matching the seed's
# Singaporean cities (Bedok, Jurong East, Tampines, Woodlands).
SINGAPORE_STREETS: tuple[str, ...] = (
    "Bedok North Avenue 3",
    "Bedok Reservoir Road",
    "Jurong East Street 21",
    "Jurong West Avenue 1",
    "Tampines Street 81",
    "Tampines Avenue 5",
    "Woodlands Drive 14",
    "Woodlands Avenue 6",
    "Ang Mo Kio Avenue 3",
    "Clementi Avenue 2",
    "Orchard Road",
    "Serangoon Road",
)

# --- Customer attributes -----------------------------------------------------------

# The seed only says Personal vs. Corporate & Merchant (its generate_customer_type
# splits the non-personal rows 50/50) and never the personal share; 90/5/5 is
# the brief's choice for a retail bank.
CUSTOMER_TYPE = WeightedChoice(("Personal", "Corporate", "Merchant"), (0.90, 0.05, 0.05))
PERSONAL = CUSTOMER_TYPE.index("Personal")

# Age at created_at: (youngest, oldest, share). The seed's bands overlap at 30
# and 45 (18-30, 30-45, 45-59); 31-45 and 46-59 make each age belong to one band.
AGE_BANDS: tuple[tuple[int, int, float], ...] = (
    (10, 17, 0.10),
    (18, 30, 0.30),
    (31, 45, 0.35),
    (46, 59, 0.10),
    (60, 100, 0.15),
)
ADULT_AGE = 18
SENIOR_CITIZEN_AGE = 60

# The seed's generator emits "I Prefer not to say", which its own validation
# rejects; the validation's spelling ("I prefer not to say") is used.
GENDER = WeightedChoice(
    ("Male", "Female", "Non Binary", "Transgender", "Intersex", "I prefer not to say"),
    (0.60, 0.60, 0.1, 0.1, 0.1, 0.1),
)
MALE = GENDER.index("Male")
FEMALE = GENDER.index("Female")

TITLES: tuple[str, ...] = ("Mr", "Miss", "Mrs", "Mx", "Dr")
# Titles an adult of each gender may hold (seed: title_mappings). The seed maps
# "I prefer not to say" to '' which its validation (cust_title IN (...)) rejects;
# Mx is the gender-neutral title the validation allows.
TITLES_BY_GENDER: dict[str, tuple[str, ...]] = {
    "Male": ("Mr", "Dr"),
    "Female": ("Miss", "Mrs", "Dr"),
    "Non Binary": ("Mx",),
    "Transgender": ("Mx",),
    "Intersex": ("Mx",),
    "I prefer not to say": ("Mx",),
}
# Minors: Male -> Mr, Female -> Miss (seed: generate_cust_title); other genders Mx.
MINOR_TITLE_BY_GENDER: dict[str, str] = {"Male": "Mr", "Female": "Miss"}

MARITAL_STATUSES: tuple[str, ...] = ("Single", "Married", "Widowed", "I prefer not to say")
# Seed: marital_status_mapping; minors are always Single.
MARITAL_BY_TITLE: dict[str, tuple[str, ...]] = {
    "Mr": ("Single", "Married"),
    "Dr": ("Single", "Married"),
    "Mrs": ("Married",),
    "Miss": ("Single", "Widowed"),
    "Mx": ("I prefer not to say",),
}
MINOR_MARITAL_STATUS = "Single"

# The seed's generator emits "Semi", its validation expects "Semi-Urban".
SEGMENT = WeightedChoice(("Urban", "Rural", "Semi-Urban"), (0.50, 0.30, 0.20))
CATEGORY = WeightedChoice(("Non Resident", "Resident Indian"), (0.50, 0.60))
RESIDENT_INDIAN = CATEGORY.index("Resident Indian")
PRIVILEGE = WeightedChoice(("Yes", "No"), (0.50, 0.50))
NATIONALITY = WeightedChoice(
    (
        "Australian",
        "Brazilian",
        "Canadian",
        "European",
        "Indian",
        "Indonesian",
        "Norwegian",
        "Singaporean",
        "American",
    ),
    (0.1, 0.2, 0.2, 0.2, 0.5, 0.2, 0.2, 0.2, 0.5),
)
# Minors are Non Salaried (seed: get_customer_occupation).
OCCUPATION = WeightedChoice(("Salaried", "Non Salaried"), (0.70, 0.30))
NON_SALARIED = OCCUPATION.index("Non Salaried")
SOURCING_CHANNEL = WeightedChoice(("Branch", "Partner", "Online"), (0.40, 0.20, 0.40))
# Minors are Active (seed: generate_customer_status). Corporates and merchants
# follow the adult distribution, Deceased included, as in the seed.
CUSTOMER_STATUS = WeightedChoice(("Active", "Dormant", "Deceased"), (0.80, 0.10, 0.10))
ACTIVE = CUSTOMER_STATUS.index("Active")
DORMANT = CUSTOMER_STATUS.index("Dormant")
DECEASED = CUSTOMER_STATUS.index("Deceased")
RISK_CATEGORY = WeightedChoice(("High", "Low", "Medium"), (0.30, 0.30, 0.30))
AFFLUENCE_LEVEL = WeightedChoice(("High", "Low", "Medium"), (0.30, 0.40, 0.50))
YES_NO: tuple[str, str] = ("Yes", "No")

# Corporate and merchant names: a family name + one of these, so that names stay
# letters-only as the validation (^[a-zA-Z]+$) requires.
BUSINESS_NAME_SUFFIXES: tuple[str, ...] = (
    "Enterprises",
    "Traders",
    "Industries",
    "Exports",
    "Holdings",
    "Solutions",
    "Foods",
    "Textiles",
)

# Seed: generate_random_date_list(n, 0.8) for Corporate & Merchant cust_dob
# (the incorporation date): 80 % present, uniform in 2000-01-01..2023-08-31.
INCORPORATION_DATE_SHARE = 0.80

# Seed: generate_cibil_score_list: 3 % in 310-650, the rest in 651-900.
LOW_CIBIL_SHARE = 0.03
LOW_CIBIL_RANGE = (310, 650)
HIGH_CIBIL_RANGE = (651, 900)
# Seed: cibil check dates span 42 days (2023-10-01..2023-11-11); here the window
# is the 42 days before each row's modified_at, so the check is never in the future.
CIBIL_CHECK_MAX_AGE_DAYS = 42

# Address lines: seed validation LENGTH(customer_addressline*) <= 50.
ADDRESS_LINE_MAX_LENGTH = 50
ADDRESS_LINE2_EMPTY_SHARE = 0.30
ADDRESS_LINE3_EMPTY_SHARE = 0.60

# cust_id = str(1_000_000_000 + i) (seed: e-mail and mobile derive from it).
CUSTOMER_ID_BASE = 1_000_000_000
# Seed: generate_phone_number = int(cust_id) + 100098143.
MOBILE_NUMBER_OFFSET = 100_098_143
# Seed: generate_email_ids appends int(cust_id) - 1000000000 + 100.
EMAIL_NUMBER_OFFSET = 100
EMAIL_DOMAIN = "gmail.com"
