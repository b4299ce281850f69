"""The marts' written rules: spend segments, archetypes (first match wins), funnel grid."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from customer_overview.errors import InvalidRulesError
from marts import build
from marts.rules import load_mart_rules

RULES = load_mart_rules()

FEATURES = "cust_id string, cibil_score int, afflunce_level string, has_credit_card boolean, has_loan boolean, casa_balance double, transactions bigint, transactions_per_month double, ecom_share double"

# (features, expected archetype): one customer per rule, plus the order between rules.
ARCHETYPES = [
    (("c1", 600, "High", True, True, 900000, 50, 5.0, 0.9), "Financially Stressed"),
    (("c2", 680, "Low", True, True, 1000, 10, 2.5, 0.1), "Recovering Credit Users"),
    (("c3", 680, "Low", True, False, 1000, 10, 2.5, 0.1), "Generic"),
    (("c4", 800, "High", True, False, 600000, 40, 10.0, 0.6), "Prosperous and Content"),
    (("c5", 800, "High", True, False, 400000, 40, 10.0, 0.6), "Deal Chasers"),
    (("c6", 720, "Medium", False, False, 2000, 2, 0.5, 0.0), "Self Aware Avoiders"),
    (("c7", 720, "Medium", False, False, 2000, 2, 0.5, 0.5), "Self Aware Avoiders"),
    (("c8", 720, "Medium", False, False, 2000, 4, 1.0, 0.5), "Deal Chasers"),
    (("c9", 720, "Medium", True, False, 2000, 8, 2.0, 0.2), "Generic"),
]


def test_archetypes_follow_the_rules_in_order(spark):
    rows = [(*f[:5], float(f[5]), *f[6:]) for f, _ in ARCHETYPES]
    frame = spark.createDataFrame(rows, FEATURES)
    name, rule = build.archetype(RULES)
    got = {
        row.cust_id: (row.archetype, row.rule)
        for row in frame.select("cust_id", name.alias("archetype"), rule.alias("rule")).collect()
    }
    for features, expected in ARCHETYPES:
        assert got[features[0]][0] == expected, features
    assert got["c1"][1] == "low_credit_score" and got["c9"][1] == "everyone_else"


@pytest.mark.parametrize(
    ("spend", "segment"),
    [(0, "Low"), (39999.99, "Low"), (40000, "Medium"), (149999.99, "Medium"), (150000, "High")],
)
def test_spend_segments_spark_matches_python(spark, spend, segment):
    assert RULES.spend_segments.segment(spend) == segment
    frame = spark.createDataFrame([(float(spend),)], "total_spend double")
    [row] = frame.select(build.spend_segment(RULES, F.col("total_spend")).alias("s")).collect()
    assert row.s == segment


def test_funnel_lists_every_stage_and_narrows(spark, lake_spark, lakehouse):
    events = lake_spark.createDataFrame(
        [
            ("e1", "CMP1", "c1", "Customer Reached", 1),
            ("e2", "CMP1", "c1", "Explored Product", 2),
            ("e3", "CMP1", "c2", "Customer Reached", 1),
        ],
        "event_id string, campaign_id string, cust_id string, stage string, stage_order int",
    )
    lake_spark.sql(
        "CREATE TABLE lakehouse.fs_accelerator.campaign_events_dp (event_id string, campaign_id string, cust_id string, stage string, stage_order int) USING iceberg"
    )
    events.writeTo("lakehouse.fs_accelerator.campaign_events_dp").append()
    archetypes = lake_spark.createDataFrame(
        [("c1", "Deal Chasers"), ("c2", "Generic")], "cust_id string, archetype string"
    )
    funnel = build.campaign_funnel(lake_spark, lakehouse, archetypes, RULES).collect()
    assert len(funnel) == len(RULES.archetypes) * len(RULES.funnel_stages)
    deal = {
        row.stage: (row.customers, row.previous_stage_customers)
        for row in funnel
        if row.archetype == "Deal Chasers"
    }
    assert deal["Customer Reached"] == (1, None)
    assert deal["Explored Product"] == (1, 1)
    assert deal["Onboarded"] == (0, 0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "spend_segments: {low_below: 10, high_from: 5}\narchetypes: [{name: G, rule: g, when: 'TRUE', why: x}]\nfunnel_stages: [a, b]\n",
            "high_from must be greater",
        ),
        (
            "spend_segments: {low_below: 1, high_from: 5}\narchetypes: [{name: G, rule: g, when: 'x > 1', why: x}]\nfunnel_stages: [a, b]\n",
            "catch-all",
        ),
        ("spend_segments: [\n", "not valid YAML"),
    ],
)
def test_broken_rules_fail_clearly(tmp_path: Path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(InvalidRulesError, match=message):
        load_mart_rules.__wrapped__(path)
