"""Masking policy files and role groups: parsing, validation and the validated policy set.

A policy file is a DataOS-style ``policy`` resource (see the README). Loading it checks
everything that can be checked without data: required fields, the priority range (1-100, a
lower number wins), the user selector's ``match`` (``any`` or ``all``), a known operator with
valid parameters, unique names and priorities that cannot tie. Every problem is an
``InvalidPolicyError`` whose message starts with the file's path and names the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from customer_overview.errors import InvalidPolicyError
from customer_overview.product import Tag
from customer_overview.yaml_files import describe_validation, kind_of, parse_yaml, yaml_problem
from policies.operators import OPERATORS, OperatorParams

UserMatch = Literal["any", "all"]


def _check_policy_name(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise ValueError(
            f"policy name {name!r} must be lowercase letters, digits and '-', "
            "starting with a letter"
        )
    return name


TagTuple = Annotated[tuple[Tag, ...], Field(min_length=1)]
PolicyName = Annotated[str, AfterValidator(_check_policy_name)]
Priority = Annotated[int, Field(strict=True, ge=1, le=100)]


class MaskingPolicy(BaseModel):
    """One validated masking policy: which users, which columns, which operator.

    Attributes:
        name: Unique name of the policy (the file's ``name``).
        priority: 1-100; among the policies that apply to a column, the lowest number wins.
        user_match: ``any``: the consumer holds at least one of ``user_tags``; ``all``: every one.
        user_tags: User tags the policy selects consumers by.
        column_tags: The policy applies to columns carrying at least one of these tags.
        operator: Name of the masking operator (a key of ``OPERATORS``).
        params: The operator's validated parameters.
        description: Free text from the file.
        owner: Owner from the file, if any.
        source: The file the policy was loaded from (``None`` when built in code).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: PolicyName
    priority: Priority
    user_match: UserMatch
    user_tags: Annotated[frozenset[Tag], Field(min_length=1)]
    column_tags: Annotated[frozenset[Tag], Field(min_length=1)]
    operator: str
    params: OperatorParams
    description: str | None = None
    owner: str | None = None
    source: Path | None = None

    @model_validator(mode="after")
    def _params_fit_operator(self) -> MaskingPolicy:
        operator = OPERATORS.get(self.operator)
        if operator is None:
            raise ValueError(_unknown_operator(self.operator))
        if not isinstance(self.params, operator.params_model):
            raise ValueError(
                f"operator '{self.operator}' needs {operator.params_model.__name__}, "
                f"got {type(self.params).__name__}"
            )
        return self

    @property
    def origin(self) -> str:
        """Where the policy comes from, for error messages: its file, else its name."""
        return str(self.source) if self.source is not None else f"policy '{self.name}'"

    def matches_user(self, user_tags: Set[str]) -> bool:
        """Whether a consumer holding ``user_tags`` is selected by this policy."""
        if self.user_match == "all":
            return self.user_tags <= user_tags
        return not self.user_tags.isdisjoint(user_tags)

    def matches_column(self, column_tags: Set[str]) -> bool:
        """Whether a column carrying ``column_tags`` is selected by this policy."""
        return not self.column_tags.isdisjoint(column_tags)


@dataclass(frozen=True, init=False)
class PolicySet:
    """A consistent set of masking policies, ordered by (priority, name).

    Building one checks what involves several policies: names are unique, and no two policies
    with the same priority can apply to the same column for the same consumer (their winner
    would be arbitrary).

    Raises:
        InvalidPolicyError: Duplicate names or conflicting priorities; the message names both
            policies' files.
    """

    policies: tuple[MaskingPolicy, ...]

    def __init__(self, policies: Iterable[MaskingPolicy] = ()) -> None:
        # Sorted by file (then name) so that error messages do not depend on the input order.
        by_origin = sorted(policies, key=lambda policy: (policy.origin, policy.name))
        _check_unique_names(by_origin)
        _check_priority_conflicts(by_origin)
        ordered = tuple(sorted(by_origin, key=lambda policy: (policy.priority, policy.name)))
        object.__setattr__(self, "policies", ordered)

    def __iter__(self) -> Iterator[MaskingPolicy]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)


def _check_unique_names(policies: list[MaskingPolicy]) -> None:
    first_by_name: dict[str, MaskingPolicy] = {}
    for policy in policies:
        first = first_by_name.setdefault(policy.name, policy)
        if first is not policy:
            raise InvalidPolicyError(
                f"{policy.origin}: duplicate policy name '{policy.name}' (also in {first.origin})"
            )


def _check_priority_conflicts(policies: list[MaskingPolicy]) -> None:
    # User selectors only require tags (any/all of a list), so a consumer holding the union of
    # two policies' user tags matches both: any two policies with equal priority and a shared
    # column tag can tie for some consumer.
    for index, first in enumerate(policies):
        for second in policies[index + 1 :]:
            shared = first.column_tags & second.column_tags
            if first.priority == second.priority and shared:
                raise InvalidPolicyError(
                    f"{first.origin}: conflicting priorities: policy '{first.name}' and policy "
                    f"'{second.name}' ({second.origin}) both have priority {first.priority} and "
                    f"select column tag(s) {', '.join(sorted(shared))}; a consumer matching both "
                    "would get an arbitrary winner: give one of them another priority"
                )


# --- policy files ---------------------------------------------------------------------------


class _FileModel(BaseModel):
    """The shape of a policy file; unknown keys are errors, so typos cannot go unnoticed."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class _UserSelector(_FileModel):
    match: UserMatch
    tags: TagTuple


class _ColumnSelector(_FileModel):
    tags: TagTuple


class _Selector(_FileModel):
    user: _UserSelector
    column: _ColumnSelector


class _DataPolicy(_FileModel):
    type: Literal["mask"]
    priority: Priority
    selector: _Selector
    # Checked by _parse_mask: its keys depend on the operator.
    mask: dict[str, Any]


class _PolicyBody(_FileModel):
    data: _DataPolicy


class _PolicyDocument(_FileModel):
    version: Literal["v1"]
    name: PolicyName
    type: Literal["policy"]
    layer: Literal["user"]
    description: str | None = None
    owner: str | None = None
    policy: _PolicyBody


def load_policy_file(path: Path) -> MaskingPolicy:
    """Read and validate one policy file.

    Args:
        path: A ``*.yaml`` policy file.

    Returns:
        The validated policy, with ``source`` set to ``path``.

    Raises:
        InvalidPolicyError: The file cannot be read, is not YAML, or is not a valid policy; the
            message starts with ``path`` and names the offending field.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InvalidPolicyError(f"{path}: cannot read the file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidPolicyError(f"{path}: not UTF-8 text") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as error:
        raise InvalidPolicyError(f"{path}: not valid YAML: {yaml_problem(error)}") from None
    if not isinstance(data, dict):
        raise InvalidPolicyError(
            f"{path}: expected a YAML mapping with version, name, type, layer and policy, "
            f"got {kind_of(data)}"
        )
    try:
        document = _PolicyDocument.model_validate(data)
    except ValidationError as error:
        raise InvalidPolicyError(f"{path}: {describe_validation(error)}") from None
    operator, params = _parse_mask(path, document.policy.data.mask)
    data_policy = document.policy.data
    return MaskingPolicy(
        name=document.name,
        priority=data_policy.priority,
        user_match=data_policy.selector.user.match,
        user_tags=frozenset(data_policy.selector.user.tags),
        column_tags=frozenset(data_policy.selector.column.tags),
        operator=operator,
        params=params,
        description=document.description,
        owner=document.owner,
        source=path,
    )


def load_policies(directory: Path) -> PolicySet:
    """Load every ``*.yaml`` policy file of a folder (in sorted order) into a ``PolicySet``.

    Args:
        directory: The policy folder, e.g. ``policies/``.

    Returns:
        The validated policy set.

    Raises:
        InvalidPolicyError: The folder does not exist, holds a ``*.yml`` file, or any file or
            the set as a whole is invalid.
    """
    if not directory.is_dir():
        raise InvalidPolicyError(f"{directory}: not a directory of policy files")
    misnamed = sorted(directory.glob("*.yml"))
    if misnamed:
        # Refuse rather than skip: an ignored restrictive policy could let a weaker one win.
        raise InvalidPolicyError(f"{misnamed[0]}: policy files must end in .yaml, not .yml")
    return PolicySet(load_policy_file(path) for path in sorted(directory.glob("*.yaml")))


def _parse_mask(path: Path, mask: dict[str, Any]) -> tuple[str, OperatorParams]:
    if "operator" not in mask:
        raise InvalidPolicyError(f"{path}: missing field 'policy.data.mask.operator'")
    name = mask["operator"]
    if not isinstance(name, str) or name not in OPERATORS:
        raise InvalidPolicyError(f"{path}: {_unknown_operator(name)}")
    unexpected = sorted(str(key) for key in mask if key not in ("operator", name))
    if unexpected:
        raise InvalidPolicyError(
            f"{path}: unexpected key(s) {', '.join(unexpected)} under policy.data.mask: "
            f"operator '{name}' takes its parameters under 'policy.data.mask.{name}'"
        )
    raw_params = mask.get(name)
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        raise InvalidPolicyError(
            f"{path}: 'policy.data.mask.{name}' must be a mapping of parameters, "
            f"got {kind_of(raw_params)}"
        )
    try:
        params = OPERATORS[name].parse_params(raw_params)
    except ValidationError as error:
        location = ("policy", "data", "mask", name)
        raise InvalidPolicyError(
            f"{path}: {describe_validation(error, location, 'parameter')}"
        ) from None
    return name, params


def _unknown_operator(name: object) -> str:
    return f"unknown operator {name!r} (known: {', '.join(sorted(OPERATORS))})"
