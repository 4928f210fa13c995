"""Exact money: integer base units inside, decimal strings at the edges.

No float ever touches an amount. Conversions between assets and currencies use
Fraction (exact) and round explicitly.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from .errors import InvalidArgument

# Plain positive decimal: no sign, no exponent, no leading zeros, no bare ".5".
_DECIMAL_RE = re.compile(r"^(0|[1-9][0-9]*)(?:\.([0-9]+))?$")

# Integer digits we accept before the decimal point. 10^30 whole units is more
# than any real invoice; it keeps base-unit integers comfortably bounded.
MAX_INTEGER_DIGITS = 30


def parse_amount(text: str, decimals: int, field: str) -> int:
    """Parse a positive decimal string into base units with `decimals` places.

    Raises InvalidArgument naming `field` for anything that is not a plain,
    positive decimal with at most `decimals` fractional digits.
    """
    match = _DECIMAL_RE.match(text)
    if match is None:
        raise InvalidArgument(
            field, f"{text[:40]!r} is not a plain positive decimal such as '12.50'"
        )
    whole, frac = match.group(1), match.group(2) or ""
    if len(whole) > MAX_INTEGER_DIGITS:
        raise InvalidArgument(field, "amount is too large")
    if len(frac) > decimals:
        raise InvalidArgument(field, f"at most {decimals} decimal places are allowed")
    units = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if decimals else 0)
    if units <= 0:
        raise InvalidArgument(field, "amount must be greater than zero")
    return units


def parse_rate(text: str) -> Fraction:
    """Parse a positive decimal rate (config or provider output) exactly."""
    value = Decimal(text)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"rate must be a positive decimal, got {text!r}")
    return Fraction(value)


def format_units(units: int, decimals: int) -> str:
    """Base units to a decimal string, trailing zeros trimmed ("1.5", "0.000001", "3")."""
    sign = "-" if units < 0 else ""
    units = abs(units)
    if decimals == 0:
        return f"{sign}{units}"
    whole, frac = divmod(units, 10**decimals)
    frac_text = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


def format_rate(rate: Fraction, max_decimals: int = 18) -> str:
    """A rate as a decimal string, rounded down to max_decimals places."""
    scaled = rate.numerator * 10**max_decimals // rate.denominator
    return format_units(scaled, max_decimals)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def asset_due(amount: int, currency_decimals: int, rate: Fraction, asset_decimals: int) -> int:
    """Asset base units due for `amount` currency base units at `rate`.

    `rate` is the price of one whole asset unit in whole currency units. The
    result is rounded up so that paying it always covers the amount.
    """
    exact = Fraction(amount, 10**currency_decimals) / rate * 10**asset_decimals
    return ceil_div(exact.numerator, exact.denominator)


def currency_value(units: int, asset_decimals: int, rate: Fraction, currency_decimals: int) -> int:
    """Currency base units that `units` of an asset are worth at `rate`, rounded down."""
    exact = Fraction(units, 10**asset_decimals) * rate * 10**currency_decimals
    return exact.numerator // exact.denominator
