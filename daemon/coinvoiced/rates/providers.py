"""Rate sources: the config table, Kraken's public Ticker, Coinbase's spot price, and a
generic JSON-over-HTTP endpoint (URL template + JSON path).

Every response is parsed with Decimal for numbers (never float), checked for the
fields we need, and anything unexpected becomes RateUnavailable with a message
that says which source and what was wrong.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import aiohttp

from .base import Rate, RateUnavailable

MAX_EXPONENT = 30  # prices from 1e-30 to 1e30
FUTURE_SKEW_US = 60_000_000  # a provider clock this far ahead is tolerated (and clamped)


def _now_us() -> int:
    return time.time_ns() // 1000


def positive(source: str, raw: Any) -> Fraction:
    """A positive, finite decimal from a JSON value (string or Decimal-parsed number)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        raise RateUnavailable(f"{source}: price is not a number ({raw!r:.40})")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise RateUnavailable(f"{source}: price {raw!r:.40} is not a decimal") from None
    if not value.is_finite() or value <= 0:
        raise RateUnavailable(f"{source}: price {raw!r:.40} is not positive")
    if not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        # Fraction(Decimal("1e999999999")) would build a billion-digit integer.
        raise RateUnavailable(f"{source}: price {raw!r:.40} is out of range")
    return Fraction(value)


async def get_json(session: aiohttp.ClientSession, source: str, url: str) -> Any:
    try:
        async with session.get(url) as response:
            body = await response.read()
            if response.status != 200:
                raise RateUnavailable(f"{source}: HTTP {response.status}")
    except aiohttp.ClientError as exc:
        raise RateUnavailable(f"{source}: {type(exc).__name__}: {exc}") from None
    except TimeoutError:
        raise RateUnavailable(f"{source}: timed out") from None
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise RateUnavailable(f"{source}: response is not JSON") from None


class FixedSource:
    name = "fixed"

    def __init__(self, rates: dict[tuple[str, str], Fraction]) -> None:
        self._rates = dict(rates)

    async def fetch(self, base: str, quote: str) -> Rate:
        value = self._rates.get((base, quote))
        if value is None and (quote, base) in self._rates:
            value = 1 / self._rates[(quote, base)]
        if value is None:
            raise RateUnavailable(f"fixed: no rate configured for {base}/{quote}")
        return Rate(base, quote, value, self.name, _now_us())


class KrakenSource:
    """GET /0/public/Ticker?pair=XBTUSD
    -> {"error": [], "result": {"XXBTZUSD": {"c": [last, vol], ...}}}"""

    name = "kraken"
    _CODES = {"BTC": "XBT"}

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    async def fetch(self, base: str, quote: str) -> Rate:
        pair = self._CODES.get(base, base) + self._CODES.get(quote, quote)
        data = await get_json(
            self._session, self.name, f"{self._base_url}/0/public/Ticker?pair={pair}"
        )
        if not isinstance(data, dict):
            raise RateUnavailable("kraken: unexpected response shape")
        errors = data.get("error")
        if errors:
            text = "; ".join(map(str, errors)) if isinstance(errors, list) else str(errors)
            raise RateUnavailable(f"kraken: {text[:200]}")
        result = data.get("result")
        if not isinstance(result, dict) or len(result) != 1:
            raise RateUnavailable(f"kraken: no ticker for {pair}")
        ticker = next(iter(result.values()))
        last = ticker.get("c") if isinstance(ticker, dict) else None
        if not isinstance(last, list) or not last:
            raise RateUnavailable("kraken: ticker has no last trade price ('c')")
        return Rate(base, quote, positive(self.name, last[0]), self.name, _now_us())


class CoinbaseSource:
    """GET /v2/prices/ETH-USD/spot
    -> {"data": {"amount": "...", "base": "ETH", "currency": "USD"}}"""

    name = "coinbase"

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")

    async def fetch(self, base: str, quote: str) -> Rate:
        data = await get_json(
            self._session, self.name, f"{self._base_url}/v2/prices/{base}-{quote}/spot"
        )
        body = data.get("data") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise RateUnavailable("coinbase: response has no 'data'")
        if body.get("base") != base or body.get("currency") != quote:
            raise RateUnavailable(
                f"coinbase: answered for {body.get('base')}/"
                f"{body.get('currency')}, not {base}/{quote}"
            )
        return Rate(base, quote, positive(self.name, body.get("amount")), self.name, _now_us())


def json_path(data: Any, path: str) -> Any:
    """Follow a dotted path ("data.rates.0.price"); numeric parts index lists."""
    current = data
    for part in path.split("."):
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            raise KeyError(part)
    return current


def parse_timestamp(raw: Any) -> int:
    """Unix seconds (number or digits) or an ISO 8601 string (UTC unless it has an
    offset) -> microseconds."""
    if isinstance(raw, int | Decimal) and not isinstance(raw, bool):
        seconds = Decimal(raw)
    elif isinstance(raw, str) and raw.isdigit():
        seconds = Decimal(raw)
    elif isinstance(raw, str):
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # not the daemon's local time
        return int(parsed.timestamp()) * 1_000_000
    else:
        raise ValueError(raw)
    if not seconds.is_finite() or not 0 <= seconds < 10**11:
        raise ValueError(raw)  # also refuses milliseconds passed off as seconds
    return int(seconds * 1_000_000)


class JsonSource:
    """Any JSON endpoint: a URL template with {base}/{quote}, a path to the price and,
    optionally, a path to the provider's own timestamp (so stale quotes are refused)."""

    name = "json"

    def __init__(
        self, session: aiohttp.ClientSession, url: str, value_path: str, timestamp_path: str
    ) -> None:
        self._session = session
        self._url = url
        self._value_path = value_path
        self._timestamp_path = timestamp_path

    async def fetch(self, base: str, quote: str) -> Rate:
        # Not str.format: a URL may contain other braces.
        url = self._url.replace("{base}", base).replace("{quote}", quote)
        data = await get_json(self._session, self.name, url)
        try:
            raw = json_path(data, self._value_path)
        except KeyError as exc:
            raise RateUnavailable(f"json: no {exc.args[0]!r} along {self._value_path!r}") from None
        now = at = _now_us()
        if self._timestamp_path:
            try:
                at = parse_timestamp(json_path(data, self._timestamp_path))
            except (KeyError, ValueError, ArithmeticError):
                raise RateUnavailable(
                    f"json: no usable timestamp at {self._timestamp_path!r}"
                ) from None
            if at > now + FUTURE_SKEW_US:
                # Trusting it would keep the quote "fresh" until that time comes.
                raise RateUnavailable(
                    f"json: timestamp at {self._timestamp_path!r} is in the future"
                )
            at = min(at, now)
        return Rate(base, quote, positive(self.name, raw), self.name, at)
