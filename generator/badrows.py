"""Malformed rows mixed into customer and transaction files (bad_row_rate > 0).

Each malformed row is a valid row of the same file with one defect, so a
pipeline rule catches it for exactly one reason. Kinds rotate (row k gets kind
k mod number-of-kinds), so counts per kind differ by at most one, and each kind
alternates between two variants of its defect.

Malformed rows carry fresh keys from a range no valid row uses (customers:
1900000000 + k; transactions: "TX999" + k), except missing_id rows which have
none: the expected curated state is fully determined by the valid rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator import encoding
from generator.changefeed import Piece
from generator.errors import GeneratorError
from generator.plan import CUSTOMERS, ENTITIES, TRANSACTIONS
from generator.reference import MOBILE_NUMBER_OFFSET
from generator.sampling import Stream, insertion_order, random_stream, stochastic_round
from generator.transactions import INVALID_ID_MONTH

CUSTOMER_BAD_ROW_KINDS: tuple[str, ...] = (
    "missing_id",
    "bad_date",
    "out_of_range_score",
    "bad_email",
    "wrong_enum",
    "unparseable_number",
    "extra_fields",
    "missing_fields",
)
TRANSACTION_BAD_ROW_KINDS: tuple[str, ...] = (
    "bad_amount",
    "missing_id",
    "unknown_account",
    "bad_timestamp",
)
BAD_ROW_KINDS: dict[str, tuple[str, ...]] = {
    CUSTOMERS: CUSTOMER_BAD_ROW_KINDS,
    TRANSACTIONS: TRANSACTION_BAD_ROW_KINDS,
}

# Valid cust_ids are 1000000001..1099999999 (at most 99,999,999 customers).
BAD_CUSTOMER_ID_BASE = 1_900_000_000
BAD_CUSTOMER_ID_CAPACITY = 100_000_000
# transaction_id digits: month 999 never occurs in a valid id.
_BAD_TRANSACTION_ID_BASE = INVALID_ID_MONTH * 10**11
# account_id digits of valid accounts are ordinal * 10 + slot < 1e9, so "AC9..." is unknown.
_UNKNOWN_ACCOUNT_BASE = 9 * 10**9
_EXTRA_FIELD = "unexpected"


class BadRowInjector:
    """Adds malformed rows to the pieces of one entity and counts them per kind."""

    def __init__(self, entity: str, seed: int, rate: float) -> None:
        """Prepare for `entity` (customers or transactions).

        Args:
            entity: Entity whose files get malformed rows.
            seed: The run's seed.
            rate: Malformed rows per valid row of each file.
        """
        self._entity = entity
        self._kinds = BAD_ROW_KINDS[entity]
        self._seed = seed
        self._rate = rate
        self._issued = 0
        self.counts: dict[str, int] = dict.fromkeys(self._kinds, 0)

    def inject(self, piece: Piece) -> pa.Array:
        """The piece's lines with malformed rows inserted at random places.

        Args:
            piece: A piece of this injector's entity.

        Returns:
            Encoded lines: the piece's lines plus about `rate` times as many
            malformed ones.

        Raises:
            GeneratorError: If the fresh customer id range is exhausted.
        """
        rng = random_stream(
            self._seed, Stream.BAD_ROWS, ENTITIES.index(self._entity), piece.batch, piece.chunk
        )
        valid_lines = len(piece.lines)
        templates_available = len(next(iter(piece.fields.values())))
        count = stochastic_round(rng, self._rate * valid_lines)
        if count == 0 or templates_available == 0:
            return piece.lines
        serial = self._issued + np.arange(count, dtype=np.int64)
        if self._entity == CUSTOMERS and serial[-1] >= BAD_CUSTOMER_ID_CAPACITY:
            raise GeneratorError("more malformed customer rows than fresh cust_ids (100 million)")
        self._issued += count
        kind = serial % len(self._kinds)
        variant = (serial // len(self._kinds)) % 2
        for code, name in enumerate(self._kinds):
            self.counts[name] += int((kind == code).sum())

        templates = rng.integers(0, templates_available, count)
        fields = {
            column: values.take(pa.array(templates)) for column, values in piece.fields.items()
        }
        if self._entity == CUSTOMERS:
            bad_lines = _malformed_customers(fields, kind, variant, serial)
        else:
            bad_lines = _malformed_transactions(fields, kind, variant, serial)
        order = insertion_order(rng, valid_lines, np.zeros(count, dtype=np.int64))
        return pa.concat_arrays([piece.lines, bad_lines]).take(pa.array(order))


def _malformed_customers(
    fields: dict[str, pa.Array], kind: np.ndarray, variant: np.ndarray, serial: np.ndarray
) -> pa.Array:
    def is_kind(name: str, which: int | None = None) -> np.ndarray:
        matches = kind == CUSTOMER_BAD_ROW_KINDS.index(name)
        selected: np.ndarray = matches if which is None else matches & (variant == which)
        return selected

    customer_id = BAD_CUSTOMER_ID_BASE + serial
    fields["cust_id"] = encoding.integers(customer_id, missing=is_kind("missing_id"))
    fields["mobile_number1"] = encoding.integers(customer_id + MOBILE_NUMBER_OFFSET)
    _overwrite(fields, "cust_dob", is_kind("bad_date", 0), "2023-13-45")
    _overwrite(fields, "cust_dob", is_kind("bad_date", 1), "31/02/2020")
    _overwrite(fields, "cibil_score", is_kind("out_of_range_score", 0), "950")
    _overwrite(fields, "cibil_score", is_kind("out_of_range_score", 1), "120")
    email = fields["email_addr"]
    fields["email_addr"] = pc.if_else(
        pa.array(is_kind("bad_email", 0)),
        pc.replace_substring(email, "@", "", max_replacements=1),
        pc.if_else(
            pa.array(is_kind("bad_email", 1)),
            pc.replace_substring(email, ".", " ", max_replacements=1),
            email,
        ),
    )
    _overwrite(fields, "cust_segment", is_kind("wrong_enum", 0), "Metro")
    _overwrite(fields, "gender", is_kind("wrong_enum", 1), "M")
    _overwrite(fields, "cibil_score", is_kind("unparseable_number", 0), "7x1")
    _overwrite(fields, "mobile_number1", is_kind("unparseable_number", 1), "98-abc")
    return _with_wrong_field_counts(
        fields, extra=is_kind("extra_fields"), missing=is_kind("missing_fields")
    )


def _malformed_transactions(
    fields: dict[str, pa.Array], kind: np.ndarray, variant: np.ndarray, serial: np.ndarray
) -> pa.Array:
    def is_kind(name: str, which: int | None = None) -> np.ndarray:
        matches = kind == TRANSACTION_BAD_ROW_KINDS.index(name)
        selected: np.ndarray = matches if which is None else matches & (variant == which)
        return selected

    fields["transaction_id"] = pc.if_else(
        pa.array(is_kind("missing_id")),
        pa.scalar(None, pa.string()),
        encoding.zero_padded("TX", _BAD_TRANSACTION_ID_BASE + serial, 14),
    )
    _overwrite(fields, "amount", is_kind("bad_amount", 0), "12,3x")
    _overwrite(fields, "amount", is_kind("bad_amount", 1), "1O0.00")
    unknown = is_kind("unknown_account")
    fields["account_id"] = pc.if_else(
        pa.array(unknown),
        encoding.zero_padded("AC", _UNKNOWN_ACCOUNT_BASE + serial, 10),
        fields["account_id"],
    )
    _overwrite(fields, "transaction_ts", is_kind("bad_timestamp", 0), "2024-02-30 25:61:00")
    _overwrite(fields, "transaction_ts", is_kind("bad_timestamp", 1), "yesterday")
    return encoding.join_fields(list(fields.values()))


def _overwrite(fields: dict[str, pa.Array], column: str, rows: np.ndarray, text: str) -> None:
    """Set `column` to the encoded `text` where `rows`."""
    fields[column] = pc.if_else(
        pa.array(rows), pa.scalar(encoding.csv_field(text), pa.string()), fields[column]
    )


def _with_wrong_field_counts(
    fields: dict[str, pa.Array], *, extra: np.ndarray, missing: np.ndarray
) -> pa.Array:
    """Lines of `fields`; one more field where `extra`, the last two dropped where `missing`."""
    columns = list(fields.values())
    lines = encoding.join_fields(columns)
    lines = pc.if_else(
        pa.array(extra), pc.binary_join_element_wise(lines, _EXTRA_FIELD, ","), lines
    )
    return pc.if_else(pa.array(missing), encoding.join_fields(columns[:-2]), lines)
