"""Who sees what: the masking of every tagged column for every role group, as a table.

The matrix is derived from the same resolution that masks the published data, so the
documentation cannot drift from the behaviour. Untagged columns are left out: they pass
through for everyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from customer_overview.html_pages import render_template
from customer_overview.product import RoleGroup
from policies.model import PolicySet
from policies.operators import OPERATORS
from policies.resolution import ColumnDecision, DefaultDeny, resolve_role_groups


@dataclass(frozen=True)
class AccessMatrixRow:
    """How one tagged column is shown to one role group.

    Attributes:
        role_group: The role group's name.
        column: The column name.
        column_tags: The column's tags, sorted.
        operator: The operator applied, or ``drop``.
        summary: Operator and key parameters, e.g. ``bucket_date (quarter)``.
        policy: The winning policy's name, or ``None`` when denied by default.
        priority: The winning policy's priority, or ``None``.
        denied_by_default: Whether no policy grants this group anything for the column.
        reason: The resolution's explanation.
    """

    role_group: str
    column: str
    column_tags: tuple[str, ...]
    operator: str
    summary: str
    policy: str | None
    priority: int | None
    denied_by_default: bool
    reason: str

    @property
    def cell(self) -> str:
        """The matrix cell text: what the group sees and which policy decided it."""
        if self.denied_by_default:
            return f"{self.summary}: denied by default"
        return f"{self.summary}: {self.policy} ({self.priority})"


@dataclass(frozen=True)
class AccessMatrix:
    """Role groups x tagged columns.

    Attributes:
        role_groups: Group names, in declaration order (the matrix's columns).
        columns: Tagged column names with their sorted tags, in table order (its rows).
        rows: One entry per (role group, tagged column).
    """

    role_groups: tuple[str, ...]
    columns: tuple[tuple[str, tuple[str, ...]], ...]
    rows: tuple[AccessMatrixRow, ...]

    def row(self, role_group: str, column: str) -> AccessMatrixRow:
        """The entry for one role group and one column.

        Raises:
            KeyError: The group or the column is not in the matrix.
        """
        for row in self.rows:
            if row.role_group == role_group and row.column == column:
                return row
        raise KeyError((role_group, column))


def access_matrix(
    policies: PolicySet,
    role_groups: Sequence[RoleGroup],
    column_tags: Mapping[str, Iterable[str]],
    default_deny: DefaultDeny = "redact",
) -> AccessMatrix:
    """Resolve every role group against every tagged column.

    Args:
        policies: The validated policy set.
        role_groups: The consumer groups declared in the product manifest.
        column_tags: The table's columns with their tags, in table order.
        default_deny: ``redact`` or ``drop`` for tagged columns no policy grants.

    Returns:
        The matrix; untagged columns are omitted (they pass through for every group).

    Raises:
        InvalidPolicyError: See ``resolve_role_groups``.
    """
    tags_by_column = {column: tuple(sorted(tags)) for column, tags in column_tags.items()}
    tagged = tuple((column, tags) for column, tags in tags_by_column.items() if tags)
    decisions = resolve_role_groups(policies, role_groups, tags_by_column, default_deny)
    rows = tuple(
        _row(group, column, tags, decisions[group][column])
        for group in decisions
        for column, tags in tagged
    )
    return AccessMatrix(role_groups=tuple(decisions), columns=tagged, rows=rows)


def _row(
    group: str, column: str, tags: tuple[str, ...], decision: ColumnDecision
) -> AccessMatrixRow:
    if decision.params is None:
        summary = decision.operator
    else:
        summary = OPERATORS[decision.operator].summary(decision.params)
    return AccessMatrixRow(
        role_group=group,
        column=column,
        column_tags=tags,
        operator=decision.operator,
        summary=summary,
        policy=decision.policy,
        priority=decision.priority,
        denied_by_default=decision.denied_by_default,
        reason=decision.reason,
    )


def render_markdown(matrix: AccessMatrix) -> str:
    """Render the matrix as a Markdown table: one row per tagged column, one column per group.

    Args:
        matrix: The matrix from ``access_matrix``.

    Returns:
        The table, ending with a newline.
    """
    header = ["column", "tags", *matrix.role_groups]
    lines = [_markdown_line(header), _markdown_line(["---"] * len(header))]
    for column, tags in matrix.columns:
        cells = [matrix.row(group, column).cell for group in matrix.role_groups]
        lines.append(_markdown_line([f"`{column}`", ", ".join(tags), *cells]))
    return "\n".join(lines) + "\n"


def _markdown_line(cells: Sequence[str]) -> str:
    # A '|' inside a cell would split it; newlines would end the table.
    escaped = (cell.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") for cell in cells)
    return "| " + " | ".join(escaped) + " |"


def render_html(matrix: AccessMatrix, title: str = "Who sees what") -> str:
    """Render the matrix as a self-contained HTML page (inline CSS, every text escaped).

    Cells are coloured by outcome: clear (``pass_through``), masked, or denied by default; the
    resolution's reason is the cell's tooltip. The page is laid out by
    ``policies/templates/access_matrix.html.j2``.

    Args:
        matrix: The matrix from ``access_matrix``.
        title: Page title and heading.

    Returns:
        The HTML document.
    """
    # One (column, tags, cells) per tagged column; a cell is (outcome, reason, text) per group.
    lines = [
        (
            column,
            tags,
            [
                (_outcome(row), row.reason, row.cell)
                for row in (matrix.row(group, column) for group in matrix.role_groups)
            ],
        )
        for column, tags in matrix.columns
    ]
    return render_template(
        "policies",
        "access_matrix.html.j2",
        title=title,
        role_groups=matrix.role_groups,
        lines=lines,
    )


def _outcome(row: AccessMatrixRow) -> str:
    if row.denied_by_default:
        return "denied"
    return "clear" if row.operator == "pass_through" else "masked"
