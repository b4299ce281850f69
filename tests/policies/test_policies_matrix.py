"""Who sees what: the access matrix, its renderings, and the README's copy of it."""

from __future__ import annotations

import re
from pathlib import Path

import policies
from policies import (
    AccessMatrix,
    MaskingPolicy,
    PolicySet,
    RoleGroup,
    access_matrix,
    render_html,
    render_markdown,
)
from policies.operators import RedactParams

README = Path(policies.__file__).parent / "README.md"


def seed_matrix_columns(column_tags: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The documented column order: the TW.mask columns, then cust_dob."""
    tagged = {column: tags for column, tags in column_tags.items() if tags}
    return {
        **{column: tags for column, tags in tagged.items() if tags == ("TW.mask",)},
        "cust_dob": tagged["cust_dob"],
    }


def test_seed_matrix(
    seed_policies: PolicySet,
    seed_role_groups: tuple[RoleGroup, ...],
    seed_column_tags: dict[str, tuple[str, ...]],
) -> None:
    matrix = access_matrix(seed_policies, seed_role_groups, seed_column_tags)
    assert matrix.role_groups == ("restricted", "dob_bucketed", "pii_reader")
    # Untagged columns are not listed.
    assert [column for column, _ in matrix.columns] == [
        column for column, tags in seed_column_tags.items() if tags
    ]
    assert len(matrix.rows) == 3 * len(matrix.columns)

    restricted_email = matrix.row("restricted", "email_addr")
    assert (restricted_email.operator, restricted_email.policy, restricted_email.priority) == (
        "hash",
        "customeroverviewrawpiipolicy",
        80,
    )
    restricted_dob = matrix.row("restricted", "cust_dob")
    assert restricted_dob.operator == "redact" and restricted_dob.denied_by_default
    assert matrix.row("dob_bucketed", "cust_dob").summary == "bucket_date (quarter)"
    assert matrix.row("dob_bucketed", "pin").denied_by_default
    assert all(
        row.operator == "pass_through" for row in matrix.rows if row.role_group == "pii_reader"
    )


def test_drop_mode_shows_in_the_matrix(
    seed_policies: PolicySet,
    seed_role_groups: tuple[RoleGroup, ...],
    seed_column_tags: dict[str, tuple[str, ...]],
) -> None:
    matrix = access_matrix(seed_policies, seed_role_groups, seed_column_tags, "drop")
    assert matrix.row("restricted", "cust_dob").cell == "drop: denied by default"


def test_readme_matrix_is_current(
    seed_policies: PolicySet,
    seed_role_groups: tuple[RoleGroup, ...],
    seed_column_tags: dict[str, tuple[str, ...]],
) -> None:
    expected = render_markdown(
        access_matrix(seed_policies, seed_role_groups, seed_matrix_columns(seed_column_tags))
    )
    documented = re.search(
        r"<!-- access-matrix:start -->\n(.*?)<!-- access-matrix:end -->",
        README.read_text(encoding="utf-8"),
        re.DOTALL,
    )
    assert documented is not None
    assert documented.group(1) == expected, f"update policies/README.md with:\n{expected}"


def single_policy_matrix(column: str, column_tag: str) -> AccessMatrix:
    """One redact policy on ``column_tag`` for one group: for testing the renderings."""
    policy = MaskingPolicy(
        name="evil",
        priority=1,
        user_match="any",
        user_tags=frozenset({"roles:id:a"}),
        column_tags=frozenset({column_tag}),
        operator="redact",
        params=RedactParams(),
    )
    groups = [RoleGroup(name="group_1", description="holders of a", tags=frozenset({"roles:id:a"}))]
    return access_matrix(PolicySet([policy]), groups, {column: [column_tag]})


def test_markdown_escapes_pipes() -> None:
    markdown = render_markdown(single_policy_matrix("x|y", "TW.a|b"))
    table_row = markdown.splitlines()[2]
    assert table_row == "| `x\\|y` | TW.a\\|b | redact: evil (1) |"
    assert table_row.count(" | ") == 2  # three cells, none split by the escaped pipes


def test_html_is_self_contained_and_escaped() -> None:
    matrix = single_policy_matrix('<script>alert("x")</script>', "TW.<b>")
    page = render_html(matrix, title="A & B")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "<b>" not in page
    # Jinja2's autoescape (MarkupSafe) writes " as &#34;.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<title>A &amp; B</title>" in page
    # No external resources: the page works offline and from a file.
    assert "http" not in page and "src=" not in page
