"""Which operator masks which column for which consumer (pure Python, no Spark).

The rules, for every column of a table:

1. A column without tags passes through.
2. A tagged column is masked by the winner among the policies that select the consumer (user
   tags, ``any``/``all``) and share at least one tag with the column: the lowest priority
   number wins.
3. A tagged column that no policy selects for this consumer is denied by default: ``redact``
   (the value is replaced, see the ``redact`` operator) or ``drop`` (the column is removed).
   Governance must grant access explicitly; forgetting a policy never shows data in clear.

The result depends only on the policies' contents, never on the order of files or arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from customer_overview.errors import InvalidPolicyError
from customer_overview.product import RoleGroup
from policies.model import MaskingPolicy, PolicySet
from policies.operators import OperatorParams, PassThroughParams, RedactParams

DefaultDeny = Literal["redact", "drop"]
DROP_OPERATOR = "drop"
"""``ColumnDecision.operator`` of a column removed by deny-by-default ``drop``."""
DEFAULT_DENY_MODES: tuple[DefaultDeny, ...] = ("redact", "drop")
UNTAGGED = "untagged"
"""``ColumnDecision.reason`` of a column without tags."""


@dataclass(frozen=True)
class ColumnDecision:
    """How one column is shown to one consumer.

    Attributes:
        column: The column name.
        operator: The operator to apply (a key of ``OPERATORS``), or ``"drop"``.
        params: The operator's parameters (``None`` for ``drop``).
        policy: The winning policy's name; ``None`` for untagged and denied columns.
        priority: The winning policy's priority; ``None`` when no policy applied.
        reason: Why, for people: e.g. ``customeroverviewrpiireaderpolicy (priority 75) beats
            customeroverviewrawpiipolicy (priority 80)``.
    """

    column: str
    operator: str
    params: OperatorParams | None
    policy: str | None
    priority: int | None
    reason: str

    @property
    def dropped(self) -> bool:
        """Whether the column is removed from the consumer's view."""
        return self.operator == DROP_OPERATOR

    @property
    def denied_by_default(self) -> bool:
        """Whether the column is tagged but no policy grants this consumer anything."""
        return self.policy is None and self.operator != "pass_through"


def resolve_columns(
    policies: PolicySet,
    user_tags: Iterable[str],
    column_tags: Mapping[str, Iterable[str]],
    default_deny: DefaultDeny = "redact",
) -> dict[str, ColumnDecision]:
    """Decide, for one consumer, how every column is masked.

    Args:
        policies: The validated policy set.
        user_tags: The consumer's tags, e.g. ``["roles:id:pii-reader"]``.
        column_tags: Every column of the table (in table order) with its tags; an empty list
            for untagged columns.
        default_deny: What happens to a tagged column that no policy selects for this
            consumer: ``redact`` or ``drop``.

    Returns:
        A decision per column, in the order of ``column_tags``.

    Raises:
        InvalidPolicyError: ``default_deny`` is neither ``redact`` nor ``drop``.
        TypeError: Tags were given as one string instead of a collection of strings.
    """
    _check_default_deny(default_deny)
    consumer_tags = _tag_set(user_tags, "user_tags")
    # PolicySet is ordered by (priority, name): the first match is the winner.
    candidates = [policy for policy in policies if policy.matches_user(consumer_tags)]
    return {
        column: _decide(
            column, _tag_set(tags, f"column_tags[{column!r}]"), candidates, default_deny
        )
        for column, tags in column_tags.items()
    }


def resolve_role_groups(
    policies: PolicySet,
    role_groups: Sequence[RoleGroup],
    column_tags: Mapping[str, Iterable[str]],
    default_deny: DefaultDeny = "redact",
) -> dict[str, dict[str, ColumnDecision]]:
    """Decide how every column is masked for each role group.

    Args:
        policies: The validated policy set.
        role_groups: The consumer groups declared in the product manifest.
        column_tags: Every column of the table with its tags (see ``resolve_columns``).
        default_deny: ``redact`` or ``drop`` for tagged columns no policy grants.

    Returns:
        ``{group name: {column: decision}}`` in the order of ``role_groups``.

    Raises:
        InvalidPolicyError: Two role groups share a name, or ``default_deny`` is invalid.
    """
    decisions: dict[str, dict[str, ColumnDecision]] = {}
    for group in role_groups:
        if group.name in decisions:
            raise InvalidPolicyError(f"role group '{group.name}' is declared twice")
        decisions[group.name] = resolve_columns(policies, group.tags, column_tags, default_deny)
    return decisions


def _decide(
    column: str,
    tags: frozenset[str],
    candidates: list[MaskingPolicy],
    default_deny: DefaultDeny,
) -> ColumnDecision:
    if not tags:
        return ColumnDecision(column, "pass_through", PassThroughParams(), None, None, UNTAGGED)
    matching = [policy for policy in candidates if policy.matches_column(tags)]
    if not matching:
        reason = (
            f"denied by default ({default_deny}): no policy for tag(s) "
            f"{', '.join(sorted(tags))} selects this consumer"
        )
        if default_deny == "drop":
            return ColumnDecision(column, DROP_OPERATOR, None, None, None, reason)
        return ColumnDecision(column, "redact", RedactParams(), None, None, reason)
    winner, *losers = matching
    reason = f"{_label(winner)} is the only matching policy"
    if losers:
        reason = f"{_label(winner)} beats {', '.join(_label(loser) for loser in losers)}"
    return ColumnDecision(
        column, winner.operator, winner.params, winner.name, winner.priority, reason
    )


def _label(policy: MaskingPolicy) -> str:
    return f"{policy.name} (priority {policy.priority})"


def _tag_set(tags: Iterable[str], argument: str) -> frozenset[str]:
    # A bare string is iterable too: "TW.mask" would silently become {"T", "W", ".", ...}.
    if isinstance(tags, str):
        raise TypeError(f"{argument} must be a collection of tags, not the string {tags!r}")
    return frozenset(tags)


def _check_default_deny(default_deny: str) -> None:
    if default_deny not in DEFAULT_DENY_MODES:
        raise InvalidPolicyError(
            f"default_deny must be one of {', '.join(DEFAULT_DENY_MODES)}, got {default_deny!r}"
        )
