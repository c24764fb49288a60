"""Parse the display counts that Instagram and its data APIs show.

One parser serves every table: ``"27M followers"``, ``"1.2M"``, ``"12,345 posts"``,
``"1 234"`` and plain integers all become exact integers, and a missing value stays
``None`` (never 0). Arithmetic uses :class:`decimal.Decimal`, so ``"475.8m"`` is exactly
475,800,000 and decimals are never dropped.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from igtrends.errors import CountParseError

__all__ = ["ACCEPTED_FORMS", "parse_count", "parse_counts"]

ACCEPTED_FORMS = (
    'a whole number ("845", "12,345", "1 234"), optionally with a decimal part and a '
    'K, M or B suffix or the word thousand, million or billion ("1.2M", "10.5K", '
    '"475.8m", "1.2 M", "3 million"), optionally followed by words '
    '("27M followers", "1 follower"), or an empty value for missing'
)

_MULTIPLIERS = {
    "": 1,
    "k": 1_000,
    "thousand": 1_000,
    "m": 1_000_000,
    "million": 1_000_000,
    "b": 1_000_000_000,
    "billion": 1_000_000_000,
}

# Thousands separators seen on Instagram pages: comma, space, no-break space (U+00A0),
# narrow no-break space (U+202F) and thin space (U+2009). Groups after the first must
# have exactly three digits, so "1,2M" (a decimal comma) is rejected rather than read
# as 12 million.
_SEPARATORS = ",\u0020\u00a0\u202f\u2009"
_COUNT_PATTERN = re.compile(
    rf"""
    ^
    (?P<number>
        \d{{1,3}}(?:[{_SEPARATORS}]\d{{3}})+   # grouped: 1,234,567 or 1 234
        | \d+                                  # plain: 845
    )
    (?:\.(?P<fraction>\d+))?
    [{_SEPARATORS}]?
    (?P<suffix>(?i:thousand|million|billion|[kmb]))?
    (?![^\W\d_])                             # a suffix is a whole word: not "5 media"
    (?:\s+[^\W\d_]+)*                          # trailing words: followers, posts
    $
    """,
    re.VERBOSE,
)
_WHITESPACE = re.compile(r"[\s\u00a0\u202f\u2009]+")


def parse_count(value: Any) -> int | None:
    """Parse one display count into an integer.

    Args:
        value: A display string such as ``"27M followers"``, ``"1.2M"``,
            ``"12,345 posts"`` or ``"1 234"``; an integer; a whole float; or a
            missing value (``None``, ``""``, NaN, ``pd.NA``).

    Returns:
        The count as an ``int``, or ``None`` when the value is missing. A missing
        value is never turned into 0.

    Raises:
        CountParseError: If the value is a string that is not one of the accepted
            forms, a bool, a negative number, a float with a fractional part, or a
            string whose value is not a whole number (``"1.2345K"``). The message
            names the value and lists the accepted forms.
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool):
        raise CountParseError(
            f"invalid count {value!r}: a bool is not a count. Pass an integer or a "
            f"display string; accepted forms: {ACCEPTED_FORMS}."
        )
    if isinstance(value, numbers.Integral):
        return _check_non_negative(int(value), value)
    if isinstance(value, numbers.Real):
        return _parse_real(value)
    if isinstance(value, str):
        return _parse_string(value)
    raise CountParseError(
        f"invalid count {value!r} of type {type(value).__name__}. "
        f"Accepted forms: {ACCEPTED_FORMS}."
    )


def parse_counts(series: pd.Series) -> pd.Series:
    """Parse every value of a Series with :func:`parse_count`.

    Args:
        series: Display strings, integers or missing values.

    Returns:
        A Series of dtype ``Int64`` with the same index and name, where missing values
        are ``<NA>``.

    Raises:
        CountParseError: If a value cannot be read. The message names the index label
            and the value.
    """
    parsed: list[int | None] = []
    for label, value in series.items():
        try:
            parsed.append(parse_count(value))
        except CountParseError as error:
            raise CountParseError(
                f"column {series.name!r}, row {label!r}: {error}"
            ) from error
    return pd.Series(pd.array(parsed, dtype="Int64"), index=series.index, name=series.name)


def _parse_real(value: numbers.Real) -> int | None:
    number = float(value)
    if math.isnan(number):
        return None
    if not math.isfinite(number) or not number.is_integer():
        raise CountParseError(
            f"invalid count {value!r}: a count must be a whole number. "
            f"Accepted forms: {ACCEPTED_FORMS}."
        )
    return _check_non_negative(int(number), value)


def _parse_string(value: str) -> int | None:
    text = _WHITESPACE.sub(" ", value).strip()
    if text == "" or text.lower() in {"nan", "none", "null", "n/a"}:
        return None

    match = _COUNT_PATTERN.match(text)
    if match is None:
        raise CountParseError(f"invalid count {value!r}. Accepted forms: {ACCEPTED_FORMS}.")

    digits = re.sub(f"[{_SEPARATORS}]", "", match["number"])
    fraction = match["fraction"] or "0"
    suffix = (match["suffix"] or "").lower()
    try:
        amount = Decimal(f"{digits}.{fraction}") * _MULTIPLIERS[suffix]
    except InvalidOperation as error:  # unreachable for strings the pattern accepts
        raise CountParseError(f"invalid count {value!r}: {error}") from error

    if amount != amount.to_integral_value():
        raise CountParseError(
            f"invalid count {value!r}: it reads as {amount}, which is not a whole number. "
            f"Accepted forms: {ACCEPTED_FORMS}."
        )
    return int(amount)


def _check_non_negative(count: int, original: Any) -> int:
    if count < 0:
        raise CountParseError(
            f"invalid count {original!r}: a count cannot be negative. "
            f"Accepted forms: {ACCEPTED_FORMS}."
        )
    return count
