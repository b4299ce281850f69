"""Loading the product's declarative YAML files into validated models, with readable errors.

Schemas, rules, mart rules, policies and the manifest are all YAML validated by pydantic; a
mistake in any of them must read ``<file>: rules.3.check: Input should be 'not_null', ...``,
never a traceback. One loader for all of them: safe (no Python objects) and strict (a repeated
key is an error: PyYAML would silently keep the last one, so a second ``priority:`` or
``required:`` would win unseen).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from customer_overview.errors import LakehouseError

Model = TypeVar("Model", bound=BaseModel)


def repeated(names: Iterable[str]) -> list[str]:
    """Names that occur more than once, sorted (for "duplicate ..." validation errors)."""
    return sorted(name for name, count in Counter(names).items() if count > 1)


def validation_problems(exc: ValidationError) -> str:
    """``field.path: message; ...`` for every problem pydantic found."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or '(top level)'}: {err['msg']}"
        for err in exc.errors()
    )


class StrictYamlLoader(yaml.SafeLoader):
    """Safe YAML loader (no Python objects) that rejects duplicate keys (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                continue  # the product's files have string keys; their models report others
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key '{key}'",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """YAML text parsed with :class:`StrictYamlLoader` (every file of the product reads so)."""
    return yaml.load(text, Loader=StrictYamlLoader)


def describe_validation(
    error: ValidationError, prefix: tuple[str, ...] = (), noun: str = "field"
) -> str:
    """Turn pydantic's errors into one line per problem, phrased for the author of the file."""
    details = error.errors(include_url=False)
    # A container error caused by a failing item (e.g. "too short" after an invalid tag) only
    # repeats the item's problem: report the most specific locations.
    locations = [detail["loc"] for detail in details]
    problems = []
    for detail in details:
        if any(
            len(other) > len(detail["loc"]) and other[: len(detail["loc"])] == detail["loc"]
            for other in locations
        ):
            continue
        location = ".".join(str(part) for part in (*prefix, *detail["loc"]))
        if detail["type"] == "missing":
            problems.append(f"missing {noun} '{location}'")
        elif detail["type"] == "extra_forbidden":
            problems.append(f"unknown {noun} '{location}'")
        else:
            message = detail["msg"].removeprefix("Value error, ")
            problems.append(
                f"bad {noun} '{location}': {message} (got {short_repr(detail['input'])})"
            )
    return "; ".join(problems)


def yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(error)


def kind_of(value: object) -> str:
    """``an empty file`` or ``a list``: what a file held instead of the mapping it should."""
    return "an empty file" if value is None else f"a {type(value).__name__}"


def short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_yaml(path: Path, error: type[LakehouseError], what: str) -> Any:
    """The parsed content of ``path``.

    Raises:
        error: The file is missing (``what`` names it) or is not YAML; the message starts with
            the path.
    """
    try:
        return parse_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {yaml_problem(exc)}") from None


def load_yaml_model(
    path: Path, model: type[Model], error: type[LakehouseError], what: str
) -> Model:
    """Read ``path`` as YAML and validate it as ``model``.

    Raises:
        error: The file is missing (``what`` names it), is not YAML, or is invalid; the message
            starts with the path.
    """
    data = read_yaml(path, error, what)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{path}: {validation_problems(exc)}") from None
