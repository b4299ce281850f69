# Non-ASCII look-alike characters (typographic apostrophes, Arabic-Indic digits) are what
# this file tests.
# ruff: noqa: RUF001
"""Regex rules mean the same in Spark (Java regex) and in Python (the ``regex`` package).

Curation evaluates a ``regex`` rule with Spark's ``RLIKE`` (``java.util.regex``, ``find``), the
Great Expectations suite with ``Column.rlike`` on the same Spark; any Python-side evaluation of a
rule (tools, tests) uses ``regex.search``. Java and Python read several constructs differently
(``$`` before a final line break, ``.``, ``\\d``/``\\w``/``\\s`` on non-ASCII text, inline flags), so
the rules avoid them (``quality.rules`` refuses them) and these tests check, for every regex rule of
every rules file, that both engines give the same verdict: on hand-picked values in many scripts
with line breaks around them, and on text drawn by hypothesis from the whole of Unicode.

Characters are drawn only from those Unicode 3.2 already classified the way today's database does:
Java 17 knows Unicode 13 and the ``regex`` package a newer version, so a letter added since is
``\\p{L}`` to one and unassigned to the other. That is a difference of data, not of the rules.
"""

from __future__ import annotations

import unicodedata
from functools import cache

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from customer_overview.entities import load_entity
from customer_overview.errors import InvalidRulesError
from quality.rules import RULES_DIR, Rule, load_rules, violation_sql

NAME_RULES = ("first_name_letters", "middle_name_letters", "last_name_letters")


def regex_rules() -> list[tuple[str, Rule]]:
    """(entity, rule) for every regex rule of every shipped rules file, ``when`` dropped."""
    found = []
    for path in sorted(RULES_DIR.glob("*.yaml")):
        for rule in load_rules(path.stem).rules:
            if rule.check == "regex":
                found.append((path.stem, rule.model_copy(update={"when": None})))
    return found


REGEX_RULES = regex_rules()
CUSTOMER_RULES = {rule.name: rule for entity, rule in REGEX_RULES if entity == "customers"}


def python_violates(rule: Rule, value: str | None) -> bool:
    """The rule's verdict in Python: violated when the value is present and does not match."""
    return value is not None and regex.search(rule.pattern or "", value) is None


def spark_verdicts(
    spark: SparkSession,
    values: list[str | None],
    rules: list[tuple[str, Rule]] = REGEX_RULES,
) -> dict[str, list[bool]]:
    """Each rule's verdict (violated?) on every value, with the SQL curation uses (one Spark job)."""
    frame = spark.createDataFrame(list(enumerate(values)), "id int, value string")
    columns = sorted({rule.column for _, rule in rules})
    frame = frame.select("id", *[F.col("value").alias(column) for column in columns])
    verdicts = frame.select(
        "id",
        *[
            F.expr(violation_sql(rule, load_entity(entity))).alias(f"{entity}.{rule.name}")
            for entity, rule in rules
        ],
    ).collect()
    by_id = sorted(verdicts, key=lambda row: row.id)
    return {
        f"{entity}.{rule.name}": [bool(row[f"{entity}.{rule.name}"]) for row in by_id]
        for entity, rule in rules
    }


def customer_rules(*names: str) -> list[tuple[str, Rule]]:
    return [("customers", CUSTOMER_RULES[name]) for name in names]


def disagreements(spark: SparkSession, values: list[str | None]) -> list[tuple[str, str, bool]]:
    """(rule, value, Spark's verdict) wherever Spark and Python disagree."""
    spark_says = spark_verdicts(spark, values)
    return [
        (f"{entity}.{rule.name}", repr(value), spark_says[f"{entity}.{rule.name}"][index])
        for entity, rule in REGEX_RULES
        for index, value in enumerate(values)
        if spark_says[f"{entity}.{rule.name}"][index] != python_violates(rule, value)
    ]


# --------------------------------------------------------------------------- hand-picked values
NAMES = [
    "Mary-Jane",
    "O'Brien",
    "O’Brien",
    "van der Berg",
    "José Conceição",
    "José",
    "Conceição",
    "Søren",
    "Ødegård",
    "Zoë",
    "Nguyễn",
    "Дмитрий",
    "Αλέξανδρος",
    "अर्जुन",
    "முருகன்",
    "สมชาย",
    "محمد",
    "نیک\u200cنام",  # Persian: a zero-width non-joiner inside the word
    "王小明",
    "さくら",
    "김민준",
    "ნინო",
    "דוד",
    "ʻOlena",  # modifier letter (Lm) at the start
    unicodedata.normalize("NFD", "José Conceição"),
    unicodedata.normalize("NFD", "Nguyễn Thị Ánh"),
    unicodedata.normalize("NFD", "Zoë-Ødegård"),
]
NOT_NAMES = [
    "",
    " ",
    "Anna1",
    "An@na",
    "Anna_Lee",
    "Anna.",
    "-Anna",
    "Anna-",
    "'Anna",
    "Anna'",
    " Anna",
    "Anna ",
    "Anna  Lee",
    "Anna--Lee",
    "Anna -Lee",
    "O''Brien",
    "Anna\tLee",
    "Anna\u00a0Lee",  # no-break space
    "Anna\n",
    "Anna\r\n",
    "Anna\u2028",
    "\nAnna",
    "Anna\nLee",
    "٣",  # Arabic-Indic digit three: \d in Python, not in Java
    "Anna٣",
    "Ana①",
    "\u0301Anna",  # a combining mark with no letter before it
    "😀",
    "Anna😀",
]
OTHER_VALUES = [
    "1000000001",
    "100000000١",  # Arabic-Indic digit one
    "A1b2C3d4E5",
    "AC0000000012",
    "TX20240100000001",
    "EV20240100000001",
    "PRD0001",
    "asha.rao101@gmail.com",
    "ana.souza@empresa.com.br",
    "Ana@Empresa.com",
    "asha rao@gmail.com",
    "asharao@gmail",
    "14/17, Sodhi Chowk",
    "H.No. 69, Dhillon Road",
    "Blk 227 Tampines Avenue 5",
    "#04-123",
    "Praça de Freitas, 7",
    "Calle Mayor nº 5, 2ª",
    "12 rue de l’Église",
    "N° 12, Rue Saint-Honoré",
    "Straße 12a",
    "Tromsø",
    "Île-de-France",
    "'s-Hertogenbosch",
    "St. John's",
    "Rio de Janeiro",
    "Troms og Finnmark",
    "मुंबई",
    "12345",
    "Main St;",
    "<b>",
]
TERMINATORS = ["\n", "\r", "\r\n", "\u0085", "\u2028", "\u2029"]
BASES = NAMES + NOT_NAMES + OTHER_VALUES
CORPUS: list[str | None] = [
    None,
    *BASES,
    *[base + end for base in BASES for end in TERMINATORS],
    *[end + base for base in BASES for end in TERMINATORS[:2]],
]


@pytest.fixture(scope="module")
def corpus_verdicts(spark) -> dict[str, list[bool]]:
    return spark_verdicts(spark, CORPUS)


def test_every_rules_file_has_regex_rules_to_compare():
    assert {entity for entity, _ in REGEX_RULES} >= {
        "customers",
        "accounts",
        "products",
        "transactions",
        "campaigns",
    }
    assert set(NAME_RULES) <= set(CUSTOMER_RULES)


@pytest.mark.parametrize(
    ("entity", "rule"), REGEX_RULES, ids=[f"{e}.{r.name}" for e, r in REGEX_RULES]
)
def test_spark_and_python_agree_on_hand_picked_values(corpus_verdicts, entity, rule):
    spark_says = corpus_verdicts[f"{entity}.{rule.name}"]
    differ = [
        (value, spark_says[index])
        for index, value in enumerate(CORPUS)
        if spark_says[index] != python_violates(rule, value)
    ]
    assert not differ, f"{entity}.{rule.name} {rule.pattern!r}: Spark violated? {differ[:10]}"


@pytest.mark.parametrize(
    ("entity", "rule"), REGEX_RULES, ids=[f"{e}.{r.name}" for e, r in REGEX_RULES]
)
def test_no_regex_rule_accepts_a_line_break_at_either_end(corpus_verdicts, entity, rule):
    spark_says = corpus_verdicts[f"{entity}.{rule.name}"]
    for value in [value for value in BASES if not python_violates(rule, value)]:
        for variant in [value + end for end in TERMINATORS] + [
            end + value for end in TERMINATORS[:2]
        ]:
            assert spark_says[CORPUS.index(variant)], (rule.name, variant)
            assert python_violates(rule, variant), (rule.name, variant)


@pytest.mark.parametrize("rule_name", NAME_RULES)
@pytest.mark.parametrize("name", NAMES)
def test_names_in_any_alphabet_are_names(corpus_verdicts, rule_name, name):
    assert not corpus_verdicts[f"customers.{rule_name}"][CORPUS.index(name)], (rule_name, name)


@pytest.mark.parametrize("rule_name", NAME_RULES)
@pytest.mark.parametrize("text", NOT_NAMES)
def test_digits_punctuation_and_stray_separators_are_not_names(corpus_verdicts, rule_name, text):
    assert corpus_verdicts[f"customers.{rule_name}"][CORPUS.index(text)], (rule_name, text)


@pytest.mark.parametrize(
    ("rule_name", "accepted", "rejected"),
    [
        (
            "addressline1_text",
            [
                "14/17, Sodhi Chowk",
                "H.No. 69, Dhillon Road",
                "#04-123",
                "Praça de Freitas, 7",
                "Calle Mayor nº 5, 2ª",
                "12 rue de l’Église",
                "N° 12, Rue Saint-Honoré",
                "Straße 12a",
                "मुंबई",
            ],
            ["Main  St", " Main St", "Main St ", "<b>", "a@b", "Main\tSt", "Main St\n", ""],
        ),
        (
            "city_text",
            ["Tromsø", "Rio de Janeiro", "'s-Hertogenbosch", "St. John's", "मुंबई", "Brasília"],
            ["12345", "Oslo1 ", "Oslo  Sentrum", "Oslo;", "", "-", "Oslo\n"],
        ),
        (
            "state_text",
            ["Île-de-France", "Troms og Finnmark", "Ceará", "Tamil Nadu"],
            ["Île-de-France ", "@", "Ceará\u2028"],
        ),
        (
            "email_format",
            ["asha.rao101@gmail.com", "ana.souza@empresa.com.br", "j_o+tag@my-bank.co.id"],
            ["Ana@Empresa.com", "asha rao@gmail.com", "asharao@gmail", "a@b.c", "a@@b.com"],
        ),
    ],
)
def test_addresses_places_and_e_mails_are_unicode_text_of_their_kind(
    spark, rule_name, accepted, rejected
):
    rule = CUSTOMER_RULES[rule_name]
    values = [*accepted, *rejected]
    spark_says = spark_verdicts(spark, values, customer_rules(rule_name))[f"customers.{rule_name}"]
    assert spark_says == [python_violates(rule, value) for value in values]
    assert spark_says == [False] * len(accepted) + [True] * len(rejected), rule.pattern


# --------------------------------------------------------------------------------- hypothesis
def _classified_alike_since_unicode_3_2(char: str) -> bool:
    old = unicodedata.ucd_3_2_0.category(char)
    return old not in ("Cn", "Cs") and old == unicodedata.category(char)


@cache
def stable_characters(category_prefix: str = "") -> list[str]:
    """Every character classified alike since Unicode 3.2 (whose category starts with the prefix).

    Hypothesis draws from these lists: filtering its characters one by one is far slower.
    """
    return [
        chr(point)
        for point in range(0x110000)
        if _classified_alike_since_unicode_3_2(chr(point))
        and unicodedata.category(chr(point)).startswith(category_prefix)
    ]


# Characters the rules are about, then anything else Unicode has.
TRICKY = st.sampled_from(
    [*"-'’ .,/#&()@_0١٣\u0301\u0308\u200c\u200d\u00a0\t$^\\", "\u0000", "😀"]
    + [end for end in TERMINATORS if len(end) == 1]
)
ANY_CHARACTER = st.deferred(lambda: st.sampled_from(stable_characters()))
LETTER = st.deferred(lambda: st.sampled_from(stable_characters("L")))
MARK = st.deferred(lambda: st.sampled_from(stable_characters("M")))
WORD = st.builds(
    lambda first, rest: first + "".join(rest),
    LETTER,
    st.lists(st.one_of(LETTER, MARK, st.sampled_from(["\u200c", "\u200d"])), max_size=8),
)
NAME = st.builds(
    lambda first, rest: first + "".join(separator + word for separator, word in rest),
    WORD,
    st.lists(st.tuples(st.sampled_from(["-", "'", "’", " "]), WORD), max_size=3),
)
# Few examples of many values each: every example is a Spark job, and a job's cost is mostly
# planning, not rows.
HYPOTHESIS = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # CI sees the same values every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@HYPOTHESIS
@given(
    values=st.lists(
        st.text(alphabet=st.one_of(TRICKY, ANY_CHARACTER), max_size=20), min_size=50, max_size=100
    )
)
def test_spark_and_python_agree_on_any_unicode_text(spark, values):
    assert not disagreements(spark, values)


@HYPOTHESIS
@given(names=st.lists(NAME, min_size=40, max_size=80), noise=st.data())
def test_letters_of_any_script_joined_by_single_separators_are_names(spark, names, noise):
    broken = []
    for name in names:
        spot = noise.draw(st.integers(0, len(name)))
        junk = noise.draw(st.sampled_from(["1", "@", "_", "  ", "--", "\n", "٣", "."]))
        broken.append(name[:spot] + junk + name[spot:])
    spark_says = spark_verdicts(spark, names + broken, customer_rules(*NAME_RULES))
    for rule_name in NAME_RULES:
        rule = CUSTOMER_RULES[rule_name]
        verdicts = spark_says[f"customers.{rule_name}"]
        assert verdicts[: len(names)] == [False] * len(names), (rule_name, names)
        assert verdicts[len(names) :] == [True] * len(broken), (rule_name, broken)
        assert [python_violates(rule, value) for value in names + broken] == verdicts


# ------------------------------------------------------------- constructs the two engines differ on
@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("^[a-z]+$", r"\$"),
        ("^[0-9]{4}\\Z", r"\\Z"),
        ("^\\d{4}\\z", r"\\d"),
        ("^\\w+\\z", r"\\w"),
        ("^a\\sb\\z", r"\\s"),
        ("^a.b\\z", r"'\.'"),
        ("(?i)^abc\\z", "inline flag"),
        ("^\\p{Alpha}+\\z", "Alpha"),
        ("^[a-z[0-9]]+\\z", "nested"),
        ("^[a-z&&[^x]]+\\z", "intersection"),
        ("^\\Qa.b\\E\\z", r"\\Q"),
        ("^[a-z+\\z", "bad regex"),
    ],
)
def test_constructs_java_and_python_read_differently_are_refused(tmp_path, pattern, problem):
    escaped = pattern.replace("'", "''")
    (tmp_path / "products.yaml").write_text(
        "entity: products\nrules:\n"
        f"  - {{name: odd_pattern, description: d, column: product_id, check: regex, "
        f"pattern: '{escaped}'}}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidRulesError, match=problem) as error:
        load_rules.__wrapped__("products", tmp_path)
    assert str(tmp_path / "products.yaml") in str(error.value)
    assert "odd_pattern" in str(error.value)
