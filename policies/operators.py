"""Masking operators: what each one does to a value, in Python (the spec) and in Spark SQL.

Every operator has three faces that must agree:

* a parameter model (pydantic), validated when a policy file is loaded;
* ``python_reference(value, params, data_type)``, the specification in plain Python, used by the
  tests and by leak checks to predict exactly what a consumer sees;
* ``spark_sql(column_sql, data_type, params)``, a Spark SQL expression made of built-in functions
  only (no Python UDFs, so masking runs in the JVM at full speed and on any cluster).

Adding an operator is a local change: write one ``MaskOperator`` subclass (with its parameter
model) below and add an instance to ``OPERATORS``. The loader, the resolution, the masking and
the access matrix pick it up from the registry.

Conventions shared by all operators:

* NULL stays NULL (a masked NULL is still NULL, so NULL-ness is not treated as secret).
* ``data_type`` is the column's Spark ``simpleString`` (``string``, ``date``, ``timestamp``,
  ``int``, ``bigint``, ``decimal(18,2)``...). An operator that cannot mask a type raises
  ``InvalidPolicyError`` rather than producing something a consumer could misread.
* Values are rendered to text exactly as Spark's ``CAST(x AS STRING)`` does (``spark_string``):
  dates as ``2024-01-31``, timestamps as ``2024-01-31 10:00:00[.ffffff]`` in the Spark session
  time zone (UTC in this product), decimals with their scale (``12.50``), booleans as ``true``.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from customer_overview.errors import InvalidPolicyError
from customer_overview.sql import sql_string

# Spark types as DataFrame.schema renders them (DataType.simpleString()).
_STRING_TYPE = re.compile(r"^(string|varchar\(\d+\)|char\(\d+\))$")
_DECIMAL_TYPE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_INTEGRAL_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "tinyint": (-(2**7), 2**7 - 1),
        "smallint": (-(2**15), 2**15 - 1),
        "int": (-(2**31), 2**31 - 1),
        "bigint": (-(2**63), 2**63 - 1),
    }
)
_DATETIME_TYPES = frozenset({"date", "timestamp", "timestamp_ntz"})
# Types whose CAST(x AS STRING) is reproduced exactly by spark_string(). Floating-point types are
# left out on purpose: Java and Python print doubles differently (1.0E7 vs 10000000.0), so a hash
# of a double could not be predicted in Python.
_RENDERABLE_DESCRIPTION = (
    "string, boolean, tinyint, smallint, int, bigint, decimal, date, timestamp, timestamp_ntz"
)


def _is_string_type(data_type: str) -> bool:
    """Whether ``data_type`` (a Spark simpleString) holds text."""
    return bool(_STRING_TYPE.match(data_type))


def _is_renderable_type(data_type: str) -> bool:
    return (
        _is_string_type(data_type)
        or data_type == "boolean"
        or data_type in _INTEGRAL_RANGES
        or bool(_DECIMAL_TYPE.match(data_type))
        or data_type in _DATETIME_TYPES
    )


def spark_string(value: Any) -> str:
    """Render a value exactly as Spark's ``CAST(value AS STRING)`` does.

    Args:
        value: A ``str``, ``bool``, ``int``, ``Decimal``, ``date`` or ``datetime`` (naive, wall
            clock time in the Spark session time zone).

    Returns:
        The text Spark produces for the same value.

    Raises:
        TypeError: The value's type has no exact Spark rendering (floats, bytes, containers).
    """
    if isinstance(value, str):
        return value
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        # Python's and Java's BigDecimal.toString() follow the same scientific-notation rule
        # (e.g. 1E-10 for 0.0000000001 at scale 10), and Spark uses the latter.
        return str(value)
    # datetime before date: datetime is a subclass of date.
    if isinstance(value, datetime):
        text = f"{_iso_date(value)} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
        if value.microsecond:
            # Spark prints the fraction without trailing zeros (10:00:00.12).
            text += "." + f"{value.microsecond:06d}".rstrip("0")
        return text
    if isinstance(value, date):
        return _iso_date(value)
    raise TypeError(
        f"no exact Spark string form for {type(value).__name__} values "
        f"(supported: {_RENDERABLE_DESCRIPTION})"
    )


def _iso_date(value: date) -> str:
    # strftime("%Y") does not zero-pad years below 1000 on Linux; Spark always prints 4 digits.
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _unsupported_type(operator: str, data_type: str, accepted: str) -> InvalidPolicyError:
    return InvalidPolicyError(
        f"operator '{operator}' cannot mask a column of type {data_type} (accepts: {accepted})"
    )


class OperatorParams(BaseModel):
    """Base of every operator's parameter model: immutable, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ParamsT = TypeVar("ParamsT", bound=OperatorParams)


class MaskOperator(ABC, Generic[ParamsT]):
    """One masking operator: its parameters, its Python specification and its Spark SQL form.

    Subclasses set ``name`` (the ``mask.operator`` value in policy files) and ``params_model``
    (the model of the block under ``mask.<name>``).
    """

    name: ClassVar[str]
    params_model: ClassVar[type[OperatorParams]]

    def parse_params(self, raw: Mapping[str, Any]) -> ParamsT:
        """Validate the operator's parameter block of a policy file.

        Args:
            raw: The mapping under ``mask.<operator name>`` (empty when the block is absent).

        Returns:
            The validated, immutable parameters.

        Raises:
            pydantic.ValidationError: A parameter is missing, unknown or invalid (the policy
                loader turns it into an ``InvalidPolicyError`` naming the file).
        """
        # ``params_model`` is the model of ``ParamsT``: a ClassVar cannot name a type variable.
        return cast(ParamsT, self.params_model.model_validate(raw))

    def summary(self, params: ParamsT) -> str:
        """A short human-readable description for the access matrix, e.g. ``hash (sha256)``."""
        return self.name

    @abstractmethod
    def python_reference(self, value: Any, params: ParamsT, data_type: str | None = None) -> Any:
        """What a consumer sees for ``value``: the specification of the operator.

        Args:
            value: The clear value, as PySpark returns it for the column type (``None`` for
                NULL).
            params: The operator's validated parameters.
            data_type: The column's Spark simpleString. Operators whose result depends on the
                column type (the range of an integer type, string vs. other types) use it;
                without it they follow the value's Python type.

        Returns:
            The masked value.
        """

    @abstractmethod
    def spark_sql(self, column_sql: str, data_type: str, params: ParamsT) -> str:
        """The Spark SQL expression that masks a column.

        Args:
            column_sql: The column reference, already quoted (see ``customer_overview.sql.quote``).
            data_type: The column's Spark simpleString, e.g. ``decimal(18,2)``.
            params: The operator's validated parameters.

        Returns:
            An expression using only Spark built-in functions.

        Raises:
            InvalidPolicyError: The operator cannot mask this column type, or a parameter
                cannot be applied to it (for example a missing salt variable).
        """


# --- hash -----------------------------------------------------------------------------------


def _check_env_var_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(
            "must be the name of an environment variable (letters, digits, '_'), "
            "never the salt itself"
        )
    return name


EnvVarName = Annotated[str, AfterValidator(_check_env_var_name)]


class HashParams(OperatorParams):
    """``hash``: ``algo`` (only ``sha256``), ``salt_env`` (name of a variable holding a salt)."""

    algo: Literal["sha256"]
    # The name of the variable, never the salt itself: policy files live in version control.
    salt_env: EnvVarName | None = None


class HashOperator(MaskOperator[HashParams]):
    """Lowercase hex SHA-256 of the UTF-8 bytes of ``salt + CAST(value AS STRING)``.

    The output column is a string. Without a salt, equal values hash equally across tables and
    products (joinable pseudonyms), but short values such as phone numbers can be brute-forced;
    set ``salt_env`` where that matters. The salt is read from the environment when the mask is
    applied, and it appears as a literal in the Spark plan of the publishing job.
    """

    name = "hash"
    params_model = HashParams

    def summary(self, params: HashParams) -> str:
        return f"hash ({params.algo}{', salted' if params.salt_env else ''})"

    def python_reference(
        self, value: Any, params: HashParams, data_type: str | None = None
    ) -> str | None:
        if value is None:
            return None
        text = _salt(params) + spark_string(value)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def spark_sql(self, column_sql: str, data_type: str, params: HashParams) -> str:
        if not _is_renderable_type(data_type):
            raise _unsupported_type(self.name, data_type, _RENDERABLE_DESCRIPTION)
        rendered = f"CAST({column_sql} AS STRING)"
        salt = _salt(params)
        if salt:
            # concat() is NULL when the column is NULL, so NULL stays NULL.
            rendered = f"concat({sql_string(salt)}, {rendered})"
        # sha2 hashes the UTF-8 bytes of a string and returns lowercase hex, like hexdigest().
        return f"sha2({rendered}, 256)"


def _salt(params: HashParams) -> str:
    if params.salt_env is None:
        return ""
    salt = os.environ.get(params.salt_env, "")
    if not salt:
        raise InvalidPolicyError(
            f"hash.salt_env: environment variable {params.salt_env} is not set or empty "
            "(it must hold the secret salt)"
        )
    return salt


# --- bucket_date ----------------------------------------------------------------------------

DatePrecision = Literal["hour", "day", "week", "month", "quarter", "year"]


class BucketDateParams(OperatorParams):
    """``bucket_date``: ``precision`` (hour, day, week, month, quarter or year)."""

    precision: DatePrecision


class BucketDateOperator(MaskOperator[BucketDateParams]):
    """Truncate a date or timestamp to the start of its bucket; the column keeps its type.

    ``quarter`` gives the first day of the quarter (1990-05-17 -> 1990-04-01), ``week`` the
    Monday. Timestamps are truncated in the Spark session time zone. On a date, ``hour`` and
    ``day`` leave the value unchanged.
    """

    name = "bucket_date"
    params_model = BucketDateParams

    def summary(self, params: BucketDateParams) -> str:
        return f"bucket_date ({params.precision})"

    def python_reference(
        self, value: Any, params: BucketDateParams, data_type: str | None = None
    ) -> date | None:
        if value is None:
            return None
        if not isinstance(value, date):
            raise TypeError(f"bucket_date needs a date or datetime, got {type(value).__name__}")
        return _truncate(value, params.precision)

    def spark_sql(self, column_sql: str, data_type: str, params: BucketDateParams) -> str:
        if data_type not in _DATETIME_TYPES:
            raise _unsupported_type(self.name, data_type, "date, timestamp, timestamp_ntz")
        if data_type == "date":
            if params.precision in ("hour", "day"):
                return column_sql
            # trunc() works on dates directly, without a detour through the session time zone.
            return f"trunc({column_sql}, '{params.precision.upper()}')"
        # date_trunc() returns a timestamp (also for timestamp_ntz input): cast back.
        return f"CAST(date_trunc('{params.precision.upper()}', {column_sql}) AS {data_type})"


def _truncate(value: date, precision: DatePrecision) -> date:
    if isinstance(value, datetime):
        start_of_day = value.replace(hour=0, minute=0, second=0, microsecond=0)
        if precision == "hour":
            return value.replace(minute=0, second=0, microsecond=0)
        if precision == "day":
            return start_of_day
        return datetime.combine(_truncate(value.date(), precision), start_of_day.time())
    if precision in ("hour", "day"):
        return value
    if precision == "week":
        return value - timedelta(days=value.weekday())
    if precision == "month":
        return value.replace(day=1)
    if precision == "quarter":
        return value.replace(month=3 * ((value.month - 1) // 3) + 1, day=1)
    return value.replace(month=1, day=1)


# --- bucket_number --------------------------------------------------------------------------


class BucketNumberParams(OperatorParams):
    """``bucket_number``: ``bucket_size``, a positive number (decimals allowed, e.g. 0.5)."""

    bucket_size: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class BucketNumberOperator(MaskOperator[BucketNumberParams]):
    """Replace a number by the lower bound of its bucket: ``floor(value / size) * size``.

    The column keeps its type (``-5`` with size 10 -> ``-10``). Integer columns need a whole
    bucket size, decimal columns a size with no more decimal places than the column. The
    arithmetic is exact (decimal ``pmod``); a lower bound that does not fit the column type
    (a value within one bucket of the type's minimum) becomes NULL. Floating-point columns are
    not supported: bucket them after casting to decimal in the pipeline.
    """

    name = "bucket_number"
    params_model = BucketNumberParams

    def summary(self, params: BucketNumberParams) -> str:
        return f"bucket_number ({_plain(params.bucket_size)})"

    def python_reference(
        self, value: Any, params: BucketNumberParams, data_type: str | None = None
    ) -> int | Decimal | None:
        if value is None:
            return None
        size = params.bucket_size
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TypeError(f"bucket_number needs an int or Decimal, got {type(value).__name__}")
        if isinstance(value, int):
            if size != size.to_integral_value():
                raise TypeError(f"bucket_size {_plain(size)} is not a whole number")
            lower_bound: int | Decimal = value - value % int(size)
        else:
            # Enough precision for any decimal(38, s) operand: the result is exact.
            with localcontext() as context:
                context.prec = 80
                # Decimal's % keeps the dividend's sign; shift negatives to the floor bucket.
                remainder = value % size
                if remainder < 0:
                    remainder += size
                lower_bound = value - remainder
        return _fit(lower_bound, data_type) if data_type else lower_bound

    def spark_sql(self, column_sql: str, data_type: str, params: BucketNumberParams) -> str:
        size = params.bucket_size
        size_literal = f"{_plain(size)}BD"
        if data_type in _INTEGRAL_RANGES:
            if size != size.to_integral_value():
                raise InvalidPolicyError(
                    f"bucket_number.bucket_size {_plain(size)} is not a whole number, "
                    f"but the column is {data_type}"
                )
            # decimal(20,0) holds every bigint and its lower bound: no silent overflow.
            exact = f"CAST({column_sql} AS DECIMAL(20,0))"
        else:
            decimal_type = _DECIMAL_TYPE.match(data_type)
            if decimal_type is None:
                raise _unsupported_type(
                    self.name, data_type, "tinyint, smallint, int, bigint, decimal"
                )
            if _scale(size) > int(decimal_type.group(2)):
                raise InvalidPolicyError(
                    f"bucket_number.bucket_size {_plain(size)} has more decimal places than "
                    f"the column type {data_type}"
                )
            exact = column_sql
        # pmod() is the non-negative remainder, so value - pmod is the floor bucket's bound.
        # try_cast gives NULL (in ANSI mode too) when that bound does not fit the column type.
        return f"try_cast({exact} - pmod({exact}, {size_literal}) AS {data_type})"


def _plain(number: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 1E+3 -> 1000, 2.50 -> 2.5."""
    return format(number.normalize(), "f")


def _scale(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite by validation
    return max(0, -exponent)


def _fit(number: int | Decimal, data_type: str) -> int | Decimal | None:
    """``number`` as Spark's try_cast to ``data_type`` would give it (NULL when out of range)."""
    if data_type in _INTEGRAL_RANGES:
        low, high = _INTEGRAL_RANGES[data_type]
        return int(number) if low <= number <= high else None
    decimal_type = _DECIMAL_TYPE.match(data_type)
    if decimal_type is None:
        raise TypeError(f"bucket_number cannot produce values of type {data_type}")
    precision, scale = int(decimal_type.group(1)), int(decimal_type.group(2))
    with localcontext() as context:
        context.prec = 80
        scaled = Decimal(number).quantize(Decimal(1).scaleb(-scale))
    return scaled if len(scaled.as_tuple().digits) <= precision else None


# --- redact ---------------------------------------------------------------------------------


class RedactParams(OperatorParams):
    """``redact``: ``replacement``, the text shown instead of a string (default ``REDACTED``)."""

    replacement: str = "REDACTED"


class RedactOperator(MaskOperator[RedactParams]):
    """Hide the value entirely.

    Strings become the constant ``replacement`` (default ``REDACTED``), so a consumer can tell a
    hidden value from a missing one; every other type becomes NULL, which is the only constant
    that is valid for every type and cannot be mistaken for data. NULL stays NULL.
    """

    name = "redact"
    params_model = RedactParams

    def python_reference(
        self, value: Any, params: RedactParams, data_type: str | None = None
    ) -> str | None:
        if value is None:
            return None
        holds_text = _is_string_type(data_type) if data_type else isinstance(value, str)
        return params.replacement if holds_text else None

    def spark_sql(self, column_sql: str, data_type: str, params: RedactParams) -> str:
        if _is_string_type(data_type):
            return f"nvl2({column_sql}, {sql_string(params.replacement)}, NULL)"
        return f"CAST(NULL AS {data_type})"


# --- regex_replace --------------------------------------------------------------------------

# Constructs that Python's re accepts but Java's java.util.regex (Spark) reads differently or
# rejects. Java-only syntax (\p{L}, \Q..\E, possessive classes) already fails to compile in
# Python, and set operations ([a&&b], nested sets) are caught through re's FutureWarning.
_PYTHON_ONLY_REGEX = {
    "(?P": "named groups (?P<name>...) and back-references (?P=name)",
    "(?#": "inline comments (?#...)",
    "(?(": "conditional groups (?(id)yes|no)",
    "\\Z": "\\Z (end of input differs between Java and Python)",
}
_PYTHON_ONLY_FLAGS = re.compile(r"\(\?[imsx]*[aLu]")
_GROUP_REFERENCE = re.compile(r"\$(\d+)")


class RegexReplaceParams(OperatorParams):
    """``regex_replace``: ``pattern`` and ``replacement`` with ``$1``-style group references.

    Only the subset of regular expressions that Java (Spark) and Python read the same way is
    accepted; ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only as in Java. ``.`` and ``$``
    treat ``\\r``, U+0085, U+2028 and U+2029 as line ends in Java but not in Python; avoid
    relying on them around those characters. The replacement uses Java's ``$n`` group
    references (translated to ``\\g<n>`` for Python); it may not contain backslashes or any
    other ``$``.
    """

    pattern: Annotated[str, StringConstraints(min_length=1)]
    replacement: str

    @field_validator("pattern")
    @classmethod
    def _portable_pattern(cls, pattern: str) -> str:
        for construct, description in _PYTHON_ONLY_REGEX.items():
            if construct in pattern:
                raise ValueError(f"{description} are not supported by Spark's Java regex")
        if _PYTHON_ONLY_FLAGS.search(pattern):
            raise ValueError("only the inline flags i, m, s and x mean the same in Java")
        _compile(pattern)
        return pattern

    @model_validator(mode="after")
    def _portable_replacement(self) -> RegexReplaceParams:
        if "\\" in self.replacement:
            raise ValueError("replacement may not contain backslashes")
        if "$" in _GROUP_REFERENCE.sub("", self.replacement):
            raise ValueError("replacement may use '$' only in group references like $1")
        groups = _compile(self.pattern).groups
        for reference in _GROUP_REFERENCE.finditer(self.replacement):
            group, _ = _java_group_reference(reference.group(1), groups)
            if group > groups:
                raise ValueError(
                    f"replacement refers to group ${group} but the pattern has {groups} group(s)"
                )
        return self


def _compile(pattern: str) -> re.Pattern[str]:
    try:
        with warnings.catch_warnings():
            # Python warns (FutureWarning) on '[[', '&&', '--', '~~' in sets, which Java reads
            # as set operations: treat them as incompatibilities.
            warnings.simplefilter("error")
            return re.compile(pattern, re.ASCII)
    except (re.error, FutureWarning) as error:
        raise ValueError(f"invalid or non-portable pattern: {error}") from error


def _java_group_reference(digits: str, group_count: int) -> tuple[int, str]:
    """Split ``$<digits>`` as Java's Matcher does: the longest prefix that names a group.

    Java reads the first digit, then keeps appending digits while the number stays a valid
    group, so with 2 groups ``$12`` is group 1 followed by the text ``2``.

    Returns:
        The group number and the digits that follow it as literal text.
    """
    group = int(digits[0])
    used = 1
    while used < len(digits) and int(digits[: used + 1]) <= group_count:
        group = int(digits[: used + 1])
        used += 1
    return group, digits[used:]


def _python_replacement(replacement: str, group_count: int) -> str:
    def translate(reference: re.Match[str]) -> str:
        group, literal_digits = _java_group_reference(reference.group(1), group_count)
        return f"\\g<{group}>{literal_digits}"

    return _GROUP_REFERENCE.sub(translate, replacement)


class RegexReplaceOperator(MaskOperator[RegexReplaceParams]):
    """Replace every match of ``pattern`` (e.g. keep the last 4 digits of a phone number).

    The value is first rendered as text (``spark_string``), so the output column is a string.
    """

    name = "regex_replace"
    params_model = RegexReplaceParams

    def summary(self, params: RegexReplaceParams) -> str:
        return f"regex_replace ({params.pattern} -> {params.replacement})"

    def python_reference(
        self, value: Any, params: RegexReplaceParams, data_type: str | None = None
    ) -> str | None:
        if value is None:
            return None
        pattern = _compile(params.pattern)
        return pattern.sub(
            _python_replacement(params.replacement, pattern.groups), spark_string(value)
        )

    def spark_sql(self, column_sql: str, data_type: str, params: RegexReplaceParams) -> str:
        if not _is_renderable_type(data_type):
            raise _unsupported_type(self.name, data_type, _RENDERABLE_DESCRIPTION)
        return (
            f"regexp_replace(CAST({column_sql} AS STRING), {sql_string(params.pattern)}, "
            f"{sql_string(params.replacement)})"
        )


# --- pass_through ---------------------------------------------------------------------------


class PassThroughParams(OperatorParams):
    """``pass_through`` takes no parameters."""


class PassThroughOperator(MaskOperator[PassThroughParams]):
    """Show the value unchanged (for consumers entitled to see it in clear)."""

    name = "pass_through"
    params_model = PassThroughParams

    def python_reference(
        self, value: Any, params: PassThroughParams, data_type: str | None = None
    ) -> Any:
        return value

    def spark_sql(self, column_sql: str, data_type: str, params: PassThroughParams) -> str:
        return column_sql


# --- registry -------------------------------------------------------------------------------

OPERATORS: Mapping[str, MaskOperator[Any]] = MappingProxyType(
    {
        operator.name: operator
        for operator in (
            HashOperator(),
            BucketDateOperator(),
            BucketNumberOperator(),
            RedactOperator(),
            RegexReplaceOperator(),
            PassThroughOperator(),
        )
    }
)
"""Every operator a policy file may name, by its ``mask.operator`` value."""
