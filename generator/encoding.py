"""Vectorised CSV field encoding on Arrow string arrays.

Fields are produced already encoded (quoted where CSV needs it), then joined
into lines by `join_fields`; the writer only adds the index column and line
ends. Quoting follows pandas' `to_csv` (Python csv QUOTE_MINIMAL): a field is
quoted only if it holds a comma or a double quote. No field may hold a line
break (the pipeline reads one record per line), so free text is normalised
when the text pools are built, not here.

Arrow's own CSV writer was measured and not used: it quotes every string value
(`"Urban"`) rather than only those that need it, unlike the source system.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NEEDS_QUOTES = (",", '"')


def csv_field(text: str) -> str:
    """Encode one field the way pandas' `to_csv` does.

    Args:
        text: Field value without line breaks.

    Returns:
        `text`, or `text` in double quotes with inner quotes doubled if it holds
        a comma or a double quote.

    Raises:
        ValueError: If `text` contains a line break.
    """
    if "\n" in text or "\r" in text:
        raise ValueError(f"CSV fields must not contain line breaks: {text!r}")
    if any(mark in text for mark in _NEEDS_QUOTES):
        return '"' + text.replace('"', '""') + '"'
    return text


def encoded_labels(labels: Sequence[str]) -> pa.StringArray:
    """Encoded fields of a small vocabulary, to be indexed with `take_codes`."""
    return pa.array([csv_field(label) for label in labels], type=pa.string())


def take_codes(encoded: pa.Array, codes: np.ndarray) -> pa.Array:
    """`encoded[codes]`, with a null (empty field) where the code is negative."""
    missing = codes < 0
    indices = pa.array(np.where(missing, 0, codes), mask=missing if missing.any() else None)
    return encoded.take(indices)


def integers(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Decimal text of integers; null where `missing`."""
    return pc.cast(pa.array(values, type=pa.int64(), mask=_mask(missing)), pa.string())


def zero_padded(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """`prefix` + `values` left-padded with zeros to `width` digits (ids like AC0000000010)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(values, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def fixed2(hundredths: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Non-negative fixed-point numbers with two decimals from integer hundredths.

    Rupee amounts are held in paise and percentages in basis points, so money is
    exact and 1234.5 is written "1234.50" as a bank extract would.
    """
    values = np.asarray(hundredths, dtype=np.int64)
    whole = pa.array(values // 100, type=pa.int64(), mask=_mask(missing))
    cents = pa.array(values % 100, type=pa.int64())
    return pc.binary_join_element_wise(
        pc.cast(whole, pa.string()), pc.utf8_lpad(pc.cast(cents, pa.string()), 2, "0"), "."
    )


def dates(days: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """`YYYY-MM-DD` text of epoch days; null where `missing`."""
    day_values = np.asarray(days, dtype=np.int64).astype(np.int32)
    return pa.array(day_values, type=pa.date32(), mask=_mask(missing)).cast(pa.string())


def timestamps(seconds: np.ndarray) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS` text of epoch seconds."""
    return pa.array(np.asarray(seconds, dtype=np.int64), type=pa.timestamp("s")).cast(pa.string())


def constant(text: str, length: int) -> pa.Array:
    """A column holding the same field `length` times."""
    return pa.repeat(pa.scalar(csv_field(text), type=pa.string()), length)


def join_fields(columns: Sequence[pa.Array]) -> pa.Array:
    """Join encoded columns into CSV lines (no index, no line end); nulls become empty fields."""
    return pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")


def _mask(missing: np.ndarray | None) -> np.ndarray | None:
    if missing is None or not missing.any():
        return None
    return missing
