"""Column-tag masking policies: policy files, the resolution engine and Spark masking.

Typical use, when publishing a consumer view::

    policies = load_policies(Path("policies"))
    decisions = resolve_columns(policies, user_tags, column_tags, default_deny="redact")
    view = apply_masks(curated_df, decisions)

See ``policies/README.md`` for how to add tags, policies, role groups and operators.
"""

from customer_overview.product import RoleGroup
from policies.masking import apply_masks, masked_select_list
from policies.matrix import (
    AccessMatrix,
    AccessMatrixRow,
    access_matrix,
    render_html,
    render_markdown,
)
from policies.model import (
    MaskingPolicy,
    PolicySet,
    load_policies,
    load_policy_file,
)
from policies.operators import (
    OPERATORS,
    MaskOperator,
    OperatorParams,
    spark_string,
)
from policies.resolution import (
    DROP_OPERATOR,
    ColumnDecision,
    DefaultDeny,
    resolve_columns,
    resolve_role_groups,
)

__all__ = [
    "DROP_OPERATOR",
    "OPERATORS",
    "AccessMatrix",
    "AccessMatrixRow",
    "ColumnDecision",
    "DefaultDeny",
    "MaskOperator",
    "MaskingPolicy",
    "OperatorParams",
    "PolicySet",
    "RoleGroup",
    "access_matrix",
    "apply_masks",
    "load_policies",
    "load_policy_file",
    "masked_select_list",
    "render_html",
    "render_markdown",
    "resolve_columns",
    "resolve_role_groups",
    "spark_string",
]
