"""Loading the product's declarative YAML files into validated models, with readable errors.

Schemas, rules, mart rules and the manifest are all YAML validated by pydantic; a mistake in any
of them must read ``<file>: rules.3.check: Input should be 'not_null', ...``, never a traceback.
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


def read_yaml(path: Path, error: type[LakehouseError], what: str) -> Any:
    """The parsed content of ``path``.

    Raises:
        error: The file is missing (``what`` names it) or is not YAML; the message starts with
            the path.
    """
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


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
