"""The rate provider interface. A rate is the price of one whole unit of `base` in `quote`."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol


class RateUnavailable(Exception):
    """No fresh rate for the pair; the caller must not price with anything else."""


@dataclass(frozen=True, slots=True)
class Rate:
    base: str
    quote: str
    value: Fraction
    source: str
    at: int  # microseconds since the epoch, when the provider gave it


class RateProvider(Protocol):
    """What InvoiceManager prices with."""

    async def get_rate(self, base: str, quote: str) -> Rate: ...


class RateSource(Protocol):
    """One upstream: the config table or a ticker API."""

    name: str

    async def fetch(self, base: str, quote: str) -> Rate: ...
