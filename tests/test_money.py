"""Exact money: parsing, formatting, conversions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from coinvoiced.domain import money
from coinvoiced.domain.errors import InvalidArgument
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1", 18, 10**18),
        ("0.5", 2, 50),
        ("19.99", 2, 1999),
        ("0.000000000000000001", 18, 1),
        ("123456789.12345678", 8, 12345678912345678),
    ],
)
def test_parse_amount(text: str, decimals: int, units: int) -> None:
    assert money.parse_amount(text, decimals, "amount") == units


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "plain positive decimal"),
        ("-1", "plain positive decimal"),
        ("+1", "plain"),
        ("1e5", "plain"),
        ("NaN", "plain"),
        ("inf", "plain"),
        (".5", "plain"),
        ("5.", "plain"),
        ("01", "plain"),
        (" 1", "plain"),
        ("1,5", "plain"),
        ("0", "greater than zero"),
        ("0.00", "greater than zero"),
        ("1.001", "at most 2 decimal"),
        ("1" * 31, "too large"),
        ("\u0661", "plain"),  # an Arabic-Indic digit one: digits must be ASCII
    ],
)
def test_parse_amount_rejects(text: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        money.parse_amount(text, 2, "amount")
    assert info.value.field == "amount"
    assert reason in str(info.value)


@given(st.integers(min_value=1, max_value=10**30 - 1), st.integers(min_value=0, max_value=24))
def test_format_parse_roundtrip(units: int, decimals: int) -> None:
    text = money.format_units(units, decimals)
    assert money.parse_amount(text, decimals, "x") == units


def test_format_units_trims() -> None:
    assert money.format_units(1500, 3) == "1.5"
    assert money.format_units(1000, 3) == "1"
    assert money.format_units(1, 18) == "0.000000000000000001"
    assert money.format_units(0, 2) == "0"


@given(
    st.integers(min_value=1, max_value=10**12),
    st.fractions(min_value=Fraction(1, 10**6), max_value=10**6),
    st.integers(min_value=0, max_value=18),
)
def test_asset_due_always_covers_amount(amount: int, rate: Fraction, asset_decimals: int) -> None:
    due = money.asset_due(amount, 2, rate, asset_decimals)
    # Paying the amount due is worth at least the amount; one base unit less is not.
    assert Fraction(due, 10**asset_decimals) * rate >= Fraction(amount, 100)
    assert Fraction(due - 1, 10**asset_decimals) * rate < Fraction(amount, 100)


def test_currency_value_rounds_down() -> None:
    # 1 wei at 3000 USD/ETH is far below a cent.
    assert money.currency_value(1, 18, Fraction(3000), 2) == 0
    assert money.currency_value(10**18, 18, Fraction(3000), 2) == 300000
