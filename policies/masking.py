"""Apply column decisions to a Spark DataFrame in one projection.

The masked view is a single ``selectExpr`` of built-in Spark SQL expressions, one per column in
table order, so masking costs one pass over the data and no Python UDF.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame

from customer_overview.errors import InvalidPolicyError
from customer_overview.sql import quote
from policies.operators import OPERATORS
from policies.resolution import ColumnDecision


def masked_select_list(
    decisions: Mapping[str, ColumnDecision], columns: Sequence[tuple[str, str]]
) -> list[str]:
    """Build the ``selectExpr`` arguments that produce a consumer's masked view.

    Args:
        decisions: A decision for every column (see ``resolve_columns``); decisions for columns
            the table does not have are ignored.
        columns: ``(name, Spark simpleString type)`` of every column, in table order, e.g.
            ``[("cust_id", "bigint"), ("cust_dob", "date")]``.

    Returns:
        One ``<expression> AS `<name>``` per kept column, in table order; dropped columns are
        omitted. With a salted hash the strings contain the salt: do not log them.

    Raises:
        InvalidPolicyError: A column has no decision (so it could be shown unmasked by
            mistake), or its operator cannot mask its type, or a hash salt variable is unset.
    """
    select_list = []
    for name, data_type in columns:
        decision = decisions.get(name)
        if decision is None:
            raise InvalidPolicyError(
                f"column '{name}' has no masking decision: resolve every column of the table, "
                "untagged ones included"
            )
        if decision.dropped:
            continue
        assert decision.params is not None  # only dropped columns have no parameters
        try:
            expression = OPERATORS[decision.operator].spark_sql(
                quote(name), data_type, decision.params
            )
        except InvalidPolicyError as error:
            origin = f"policy '{decision.policy}'" if decision.policy else decision.reason
            raise InvalidPolicyError(f"column '{name}' ({data_type}), {origin}: {error}") from None
        select_list.append(f"{expression} AS {quote(name)}")
    return select_list


def apply_masks(df: DataFrame, decisions: Mapping[str, ColumnDecision]) -> DataFrame:
    """Return the consumer's view of ``df``: every column masked, kept or dropped as decided.

    Args:
        df: The curated table.
        decisions: A decision for every column of ``df`` (see ``resolve_columns``).

    Returns:
        A DataFrame with the same column order, minus dropped columns.

    Raises:
        InvalidPolicyError: See ``masked_select_list``.
    """
    columns = [(column.name, column.dataType.simpleString()) for column in df.schema.fields]
    return df.selectExpr(*masked_select_list(decisions, columns))
