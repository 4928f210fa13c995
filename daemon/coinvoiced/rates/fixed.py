"""Rates read from the config ([rates.fixed] "ETH/USD" = "3000"), for development and for
merchants who set their own prices."""

from __future__ import annotations

import time
from fractions import Fraction

from .base import Rate, RateUnavailable


class FixedRates:
    def __init__(self, rates: dict[tuple[str, str], Fraction]) -> None:
        self._rates = dict(rates)

    async def get_rate(self, base: str, quote: str) -> Rate:
        now = time.time_ns() // 1000
        if base == quote:
            return Rate(base, quote, Fraction(1), "identity", now)
        value = self._rates.get((base, quote))
        if value is not None:
            return Rate(base, quote, value, "fixed", now)
        inverse = self._rates.get((quote, base))
        if inverse is not None:
            return Rate(base, quote, 1 / inverse, "fixed", now)
        raise RateUnavailable(f"no rate configured for {base}/{quote}")
