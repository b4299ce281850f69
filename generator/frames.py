"""A minimal columnar record type: a dataclass whose fields are equal-length numpy arrays.

Customers, accounts and transactions are simulated as integer codes (indices
into label lists and text pools), never as Python objects per row, so a chunk of
100k customers stays a few megabytes and every operation is vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Self, cast

import numpy as np

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class ColumnarFrame:
    """Mixin for dataclasses whose every field is a 1-D numpy array of one length."""

    def columns(self) -> dict[str, np.ndarray]:
        """Field name -> array."""
        # The mixin is only ever applied to dataclasses.
        frame = cast("DataclassInstance", self)
        return {f.name: getattr(self, f.name) for f in fields(frame)}

    def __len__(self) -> int:
        return len(next(iter(self.columns().values())))

    def take(self, rows: np.ndarray) -> Self:
        """A new frame holding copies of `rows` (indices or boolean mask)."""
        return type(self)(**{name: values[rows] for name, values in self.columns().items()})

    def copy(self) -> Self:
        """A deep copy, so the original survives in-place updates."""
        return type(self)(**{name: values.copy() for name, values in self.columns().items()})

    @classmethod
    def concat(cls, frames: Sequence[Self]) -> Self:
        """Rows of `frames`, one after the other."""
        names = frames[0].columns().keys()
        return cls(**{name: np.concatenate([getattr(f, name) for f in frames]) for name in names})
