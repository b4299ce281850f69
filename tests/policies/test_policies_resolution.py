"""Resolution: which policy masks which column for which consumer (pure, property-based)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_overview.errors import InvalidPolicyError
from policies import (
    DROP_OPERATOR,
    MaskingPolicy,
    PolicySet,
    RoleGroup,
    load_policies,
    resolve_columns,
    resolve_role_groups,
)
from policies.operators import (
    BucketDateParams,
    HashParams,
    OperatorParams,
    PassThroughParams,
    RedactParams,
)

USER_TAGS = ("roles:id:a", "roles:id:b", "roles:id:c", "roles:id:d")
COLUMN_TAGS = ("TW.mask", "TW.dob", "TW.x", "TW.y")
MASKS: tuple[tuple[str, OperatorParams], ...] = (
    ("hash", HashParams(algo="sha256")),
    ("bucket_date", BucketDateParams(precision="quarter")),
    ("redact", RedactParams(replacement="***")),
    ("pass_through", PassThroughParams()),
)

tag_sets = st.frozensets(st.sampled_from(USER_TAGS))
column_tag_maps = st.dictionaries(
    st.sampled_from([f"col_{index}" for index in range(8)]),
    st.frozensets(st.sampled_from(COLUMN_TAGS)),
    max_size=8,
)


@st.composite
def policy_sets(draw: st.DrawFn) -> list[MaskingPolicy]:
    """Up to 6 policies with distinct priorities (equal ones on shared tags are rejected)."""
    priorities = draw(st.lists(st.integers(1, 100), unique=True, max_size=6))
    policies = []
    for index, priority in enumerate(priorities):
        operator, params = draw(st.sampled_from(MASKS))
        policies.append(
            MaskingPolicy(
                name=f"policy-{index}",
                priority=priority,
                user_match=draw(st.sampled_from(["any", "all"])),
                user_tags=draw(st.frozensets(st.sampled_from(USER_TAGS), min_size=1)),
                column_tags=draw(st.frozensets(st.sampled_from(COLUMN_TAGS), min_size=1)),
                operator=operator,
                params=params,
            )
        )
    return policies


def selects(policy: MaskingPolicy, user: frozenset[str], column: frozenset[str]) -> bool:
    """The test's own statement of the selection rule."""
    if policy.user_match == "all":
        user_ok = all(tag in user for tag in policy.user_tags)
    else:
        user_ok = any(tag in user for tag in policy.user_tags)
    return user_ok and any(tag in column for tag in policy.column_tags)


@given(policy_sets(), tag_sets, column_tag_maps)
def test_lowest_priority_number_wins(
    policies: list[MaskingPolicy], user: frozenset[str], columns: dict[str, frozenset[str]]
) -> None:
    decisions = resolve_columns(PolicySet(policies), user, columns)
    assert list(decisions) == list(columns)
    for column, tags in columns.items():
        matching = [policy for policy in policies if selects(policy, user, tags)]
        decision = decisions[column]
        if tags and matching:
            winner = min(matching, key=lambda policy: policy.priority)
            assert (decision.policy, decision.priority) == (winner.name, winner.priority)
            assert (decision.operator, decision.params) == (winner.operator, winner.params)


@given(policy_sets(), tag_sets, column_tag_maps, st.sampled_from(["redact", "drop"]))
def test_tagged_columns_without_a_matching_policy_are_denied(
    policies: list[MaskingPolicy],
    user: frozenset[str],
    columns: dict[str, frozenset[str]],
    default_deny: str,
) -> None:
    decisions = resolve_columns(PolicySet(policies), user, columns, default_deny)  # type: ignore[arg-type]
    for column, tags in columns.items():
        if tags and not any(selects(policy, user, tags) for policy in policies):
            decision = decisions[column]
            assert decision.operator != "pass_through"
            assert decision.operator == ("redact" if default_deny == "redact" else DROP_OPERATOR)
            assert decision.policy is None
            assert decision.denied_by_default
            assert decision.reason.startswith(f"denied by default ({default_deny})")


@given(policy_sets(), tag_sets, column_tag_maps)
def test_untagged_columns_pass_through(
    policies: list[MaskingPolicy], user: frozenset[str], columns: dict[str, frozenset[str]]
) -> None:
    decisions = resolve_columns(PolicySet(policies), user, columns)
    for column, tags in columns.items():
        if not tags:
            assert decisions[column].operator == "pass_through"
            assert decisions[column].reason == "untagged"
            assert not decisions[column].denied_by_default


@given(
    policy_sets().flatmap(lambda ps: st.tuples(st.just(ps), st.permutations(ps))),
    tag_sets,
    column_tag_maps,
)
def test_policy_order_does_not_matter(
    policies_and_shuffled: tuple[list[MaskingPolicy], list[MaskingPolicy]],
    user: frozenset[str],
    columns: dict[str, frozenset[str]],
) -> None:
    policies, shuffled = policies_and_shuffled
    assert PolicySet(policies) == PolicySet(shuffled)
    assert resolve_columns(PolicySet(policies), user, columns) == resolve_columns(
        PolicySet(shuffled), sorted(user, reverse=True), columns
    )


@given(
    st.frozensets(st.sampled_from(USER_TAGS), min_size=1),
    tag_sets,
    st.sampled_from(["any", "all"]),
)
def test_match_all_needs_every_tag_and_any_needs_one(
    selector: frozenset[str], user: frozenset[str], match: str
) -> None:
    policy = MaskingPolicy(
        name="policy",
        priority=50,
        user_match=match,  # type: ignore[arg-type]
        user_tags=selector,
        column_tags=frozenset({"TW.mask"}),
        operator="pass_through",
        params=PassThroughParams(),
    )
    decision = resolve_columns(PolicySet([policy]), user, {"c": ["TW.mask"]})["c"]
    expected = selector <= user if match == "all" else bool(selector & user)
    assert (decision.policy == "policy") is expected


def test_equal_priorities_on_shared_tags_are_rejected_in_code_too() -> None:
    first, second = (
        MaskingPolicy(
            name=name,
            priority=10,
            user_match="any",
            user_tags=frozenset({user_tag}),
            column_tags=frozenset({"TW.mask"}),
            operator="pass_through",
            params=PassThroughParams(),
        )
        for name, user_tag in (("first", "roles:id:a"), ("second", "roles:id:b"))
    )
    with pytest.raises(InvalidPolicyError, match=r"conflicting priorities.*'first'.*'second'"):
        PolicySet([second, first])


def test_seed_reasons_explain_the_winner(seed_policies: PolicySet) -> None:
    both_roles = ["roles:id:restricted-acess", "roles:id:pii-reader"]
    decisions = resolve_columns(
        seed_policies, both_roles, {"email_addr": ["TW.mask"], "cust_dob": ["TW.dob"]}
    )
    assert decisions["email_addr"].operator == "pass_through"
    assert decisions["email_addr"].reason == (
        "customeroverviewrpiireaderpolicy (priority 75) beats "
        "customeroverviewrawpiipolicy (priority 80)"
    )
    assert decisions["cust_dob"].reason == (
        "customeroverviewrpiireaderpolicy (priority 75) is the only matching policy"
    )


def test_resolve_role_groups_per_group(
    seed_policies: PolicySet,
    seed_role_groups: tuple[RoleGroup, ...],
    seed_column_tags: dict[str, tuple[str, ...]],
) -> None:
    by_group = resolve_role_groups(seed_policies, seed_role_groups, seed_column_tags)
    assert list(by_group) == ["restricted", "dob_bucketed", "pii_reader"]
    assert by_group["restricted"]["email_addr"].operator == "hash"
    assert by_group["restricted"]["cust_dob"].operator == "redact"  # no policy: denied
    assert by_group["dob_bucketed"]["cust_dob"].operator == "bucket_date"
    assert by_group["dob_bucketed"]["email_addr"].operator == "redact"  # no policy: denied
    assert {decision.operator for decision in by_group["pii_reader"].values()} == {"pass_through"}


def test_duplicate_role_groups_are_rejected(
    seed_policies: PolicySet, seed_role_groups: tuple[RoleGroup, ...]
) -> None:
    with pytest.raises(InvalidPolicyError, match="role group 'restricted' is declared twice"):
        resolve_role_groups(seed_policies, [seed_role_groups[0]] * 2, {})


def test_invalid_default_deny_is_rejected(seed_policies: PolicySet) -> None:
    with pytest.raises(InvalidPolicyError, match="default_deny must be one of redact, drop"):
        resolve_columns(seed_policies, [], {}, "show")  # type: ignore[arg-type]


def test_tags_given_as_a_single_string_are_refused(seed_policies: PolicySet) -> None:
    with pytest.raises(TypeError, match="user_tags must be a collection"):
        resolve_columns(seed_policies, "roles:id:pii-reader", {})
    with pytest.raises(TypeError, match="column_tags\\['email_addr'\\]"):
        resolve_columns(seed_policies, [], {"email_addr": "TW.mask"})


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_file_names_and_order_do_not_matter(
    tmp_path: Path,
    seed_policies: PolicySet,
    seed_column_tags: dict[str, tuple[str, ...]],
    order: tuple[int, int, int],
) -> None:
    sources = [policy.source for policy in seed_policies]
    for rank, index in enumerate(order):
        source = sources[index]
        assert source is not None
        shutil.copy(source, tmp_path / f"{rank}_{source.name}")
    reloaded = load_policies(tmp_path)
    for user in (
        ["roles:id:restricted-acess"],
        ["roles:id:restricted-acess", "roles:id:pii-reader"],
    ):
        assert resolve_columns(reloaded, user, seed_column_tags) == resolve_columns(
            seed_policies, user, seed_column_tags
        )
