"""Policy lint: configuration that loads fine but silently matches nothing (pure Python).

Deny by default fails closed, so a typo never shows a clear value; it does show nothing at all,
without a word. The lint says so: a policy whose user tags no role group holds, or whose column
tags no column carries (``roles:id:restricted-access`` for ``restricted-acess``), a role group
no policy selects, a column tag no policy mentions (``TW.maks``), a column every role group is
denied, and an empty policy set. Near misses get a "did you mean".

Findings are ``warning`` (something a consumer sees differs from what the files suggest) or
``note`` (harmless today, e.g. a descriptive tag like ``pii`` whose columns are all selected by
another tag). ``customer-overview config show`` prints them and the ``policies_lint`` asset
check on every masked output warns with the ones that concern it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from customer_overview.product import RoleGroup
from policies.model import MaskingPolicy, PolicySet
from policies.resolution import DefaultDeny, resolve_columns

if TYPE_CHECKING:
    from customer_overview.product import DataProductManifest

Severity = Literal["warning", "note"]


@dataclass(frozen=True)
class LintFinding:
    """One problem of the policy configuration.

    Attributes:
        kind: A stable identifier, e.g. ``policy_selects_no_role_group``.
        severity: ``warning`` or ``note``.
        message: For people: names the policy (and its file), tag, role group or columns.
        policy: The policy concerned, if any.
        role_group: The role group concerned, if any.
        table: The schema (entity) concerned, if any.
    """

    kind: str
    severity: Severity
    message: str
    policy: str | None = None
    role_group: str | None = None
    table: str | None = None

    def concerns(self, table: str, role_group: str) -> bool:
        """Whether the finding is about ``table`` as ``role_group`` sees it (or about all)."""
        return self.table in (None, table) and self.role_group in (None, role_group)


def lint_policies(
    policies: PolicySet,
    role_groups: Sequence[RoleGroup],
    column_tags: Mapping[str, Mapping[str, Iterable[str]]],
    default_deny: DefaultDeny = "redact",
) -> list[LintFinding]:
    """Everything in the policy configuration that matches nothing.

    Args:
        policies: The loaded policy set.
        role_groups: The product's consumer role groups.
        column_tags: Per table (entity schema name), every column with its tags.
        default_deny: What happens to a tagged column no policy grants (for the messages).

    Returns:
        Findings, warnings first, each group in a stable order.
    """
    tables = {
        table: {column: frozenset(tags) for column, tags in columns.items()}
        for table, columns in column_tags.items()
    }
    denied = "dropped" if default_deny == "drop" else "redacted"
    findings: list[LintFinding] = []
    if not len(policies):
        findings.append(
            LintFinding(
                "empty_policy_set",
                "warning",
                f"no masking policy is configured: every tagged column is {denied} for every "
                "role group",
            )
        )
    findings += _policy_findings(policies, role_groups, tables)
    findings += _role_group_findings(policies, role_groups, denied)
    findings += _column_tag_findings(policies, tables, denied)
    findings += _denied_everywhere(policies, role_groups, tables, default_deny, denied)
    return sorted(findings, key=lambda finding: finding.severity != "warning")


def lint_product(manifest: DataProductManifest) -> list[LintFinding]:
    """:func:`lint_policies` on the product's policies, role groups and output schemas.

    Raises:
        InvalidPolicyError: A policy file does not load (the lint needs a valid set).
    """
    from policies.model import load_policies

    role_groups = manifest.consumers.role_groups
    schemas = {output.entity_schema.entity: output.entity_schema for output in manifest.outputs}
    return lint_policies(
        load_policies(manifest.policies_path),
        role_groups,
        {entity: schema.column_tags() for entity, schema in schemas.items()},
        default_deny=manifest.consumers.default_deny,
    )


# ----------------------------------------------------------------------------- the findings
def _policy_findings(
    policies: PolicySet,
    role_groups: Sequence[RoleGroup],
    tables: Mapping[str, Mapping[str, frozenset[str]]],
) -> list[LintFinding]:
    held = sorted({tag for group in role_groups for tag in group.tags})
    carried = sorted(
        {tag for columns in tables.values() for tags in columns.values() for tag in tags}
    )
    findings = []
    for policy in sorted(policies, key=lambda policy: policy.name):
        where = f"policy {policy.name} ({_file_of(policy)})"
        unknown_users = sorted(policy.user_tags - set(held))
        if not any(policy.matches_user(group.tags) for group in role_groups):
            why = (
                f"user tag(s) {_tags(unknown_users, held)} held by no role group"
                if unknown_users
                else f"no role group holds all of {_tags(sorted(policy.user_tags), [])}"
            )
            findings.append(
                LintFinding(
                    "policy_selects_no_role_group",
                    "warning",
                    f"{where} selects no role group: {why}",
                    policy=policy.name,
                )
            )
        elif unknown_users:
            findings.append(
                LintFinding(
                    "user_tag_held_by_no_role_group",
                    "warning",
                    f"{where}: user tag(s) {_tags(unknown_users, held)} held by no role group",
                    policy=policy.name,
                )
            )
        unknown_columns = sorted(policy.column_tags - set(carried))
        if unknown_columns and len(unknown_columns) == len(policy.column_tags):
            findings.append(
                LintFinding(
                    "policy_selects_no_column",
                    "warning",
                    f"{where} selects no column: column tag(s) "
                    f"{_tags(unknown_columns, carried)} on no column of any schema",
                    policy=policy.name,
                )
            )
        elif unknown_columns:
            findings.append(
                LintFinding(
                    "column_tag_on_no_column",
                    "warning",
                    f"{where}: column tag(s) {_tags(unknown_columns, carried)} on no column of "
                    "any schema",
                    policy=policy.name,
                )
            )
    return findings


def _role_group_findings(
    policies: PolicySet, role_groups: Sequence[RoleGroup], denied: str
) -> list[LintFinding]:
    mentioned = sorted({tag for policy in policies for tag in policy.user_tags})
    findings = []
    for group in sorted(role_groups, key=lambda group: group.name):
        if policies and not any(policy.matches_user(group.tags) for policy in policies):
            findings.append(
                LintFinding(
                    "role_group_selected_by_no_policy",
                    "warning",
                    f"role group {group.name} (tags {_tags(sorted(group.tags), mentioned)}) is "
                    f"selected by no policy: every tagged column is {denied} for it",
                    role_group=group.name,
                )
            )
    return findings


def _column_tag_findings(
    policies: PolicySet, tables: Mapping[str, Mapping[str, frozenset[str]]], denied: str
) -> list[LintFinding]:
    if not policies:
        return []  # the empty set is one finding, not one per tag
    mentioned = {tag for policy in policies for tag in policy.column_tags}
    carriers: dict[str, list[tuple[str, str]]] = {}
    for table, columns in sorted(tables.items()):
        for column, tags in columns.items():
            for tag in tags:
                carriers.setdefault(tag, []).append((table, column))
    findings = []
    for tag in sorted(set(carriers) - mentioned):
        places = carriers[tag]
        listed = ", ".join(f"{table}.{column}" for table, column in places)
        close = difflib.get_close_matches(tag, sorted(mentioned), n=1, cutoff=0.75)
        uncovered = [
            (table, column) for table, column in places if not tables[table][column] & mentioned
        ]
        if not uncovered and not close:
            findings.append(
                LintFinding(
                    "column_tag_in_no_policy",
                    "note",
                    f"column tag '{tag}' is in no policy; every column carrying it ({listed}) "
                    "is selected by another tag, so it changes nothing today",
                )
            )
            continue
        consequence = (
            f"{', '.join(f'{t}.{c}' for t, c in uncovered)} carry no tag a policy mentions: "
            f"{denied} for every role group"
            if uncovered
            else "its columns are masked by their other tags only"
        )
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        for table in sorted({table for table, _ in places}):
            findings.append(
                LintFinding(
                    "column_tag_in_no_policy",
                    "warning",
                    f"column tag '{tag}'{hint} on {listed} is in no policy; {consequence}",
                    table=table,
                )
            )
    return findings


def _denied_everywhere(
    policies: PolicySet,
    role_groups: Sequence[RoleGroup],
    tables: Mapping[str, Mapping[str, frozenset[str]]],
    default_deny: DefaultDeny,
    denied: str,
) -> list[LintFinding]:
    """Columns whose tags some policy mentions, yet no role group is granted anything."""
    mentioned = {tag for policy in policies for tag in policy.column_tags}
    if not role_groups or not mentioned:
        return []
    findings = []
    for table, columns in sorted(tables.items()):
        covered = {column: tags for column, tags in columns.items() if tags & mentioned}
        decisions = [
            resolve_columns(policies, group.tags, covered, default_deny=default_deny)
            for group in role_groups
        ]
        everywhere = [
            column
            for column in covered
            if all(decision[column].denied_by_default for decision in decisions)
        ]
        if everywhere:
            findings.append(
                LintFinding(
                    "column_denied_to_every_role_group",
                    "warning",
                    f"{table}: column(s) {', '.join(everywhere)} are {denied} for every role "
                    "group: the policies that mention their tags select no role group",
                    table=table,
                )
            )
    return findings


def _file_of(policy: MaskingPolicy) -> str:
    """``policies/x.yaml``: short enough for a summary line, enough to find the file."""
    if policy.source is None:
        return "built in code"
    return f"{policy.source.parent.name}/{policy.source.name}"


def _tags(tags: Sequence[str], known: Sequence[str]) -> str:
    """``'a', 'b' (did you mean 'c'?)``: each tag with its nearest known one, if close."""
    described = []
    for tag in tags:
        close = difflib.get_close_matches(tag, [k for k in known if k != tag], n=1, cutoff=0.75)
        described.append(f"'{tag}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return ", ".join(described)
