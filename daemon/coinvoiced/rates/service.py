"""Rates kept fresh in the background and handed out only while fresh.

Sources are tried in the configured order (the first is the primary, the rest
are fallbacks). A rate older than `max_age_seconds` is never used for pricing:
CreateInvoice gets UNAVAILABLE instead. The configured markup is applied to
every rate handed out (identity rates excepted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace
from fractions import Fraction

import aiohttp

from ..config import RatesConfig
from ..tasks import cancel_and_wait
from .base import Rate, RateSource, RateUnavailable
from .providers import CoinbaseSource, FixedSource, JsonSource, KrakenSource

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateStatus:
    base: str
    quote: str
    rate: Rate | None  # after markup
    fresh: bool
    error: str


class RateService:
    def __init__(self, config: RatesConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._sources: list[RateSource] = []
        self._cache: dict[tuple[str, str], Rate] = {}
        self._errors: dict[tuple[str, str], str] = {}
        self._task: asyncio.Task[None] | None = None
        self._fetching: dict[tuple[str, str], asyncio.Task[Rate]] = {}

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        self._session = aiohttp.ClientSession(
            timeout=timeout, headers={"User-Agent": "coinvoice rates"}
        )
        c = self.config
        for name in c.providers:
            if name == "fixed":
                self._sources.append(FixedSource(c.fixed))
            elif name == "kraken":
                self._sources.append(KrakenSource(self._session, c.kraken_url))
            elif name == "coinbase":
                self._sources.append(CoinbaseSource(self._session, c.coinbase_url))
            else:
                self._sources.append(
                    JsonSource(self._session, c.json_url, c.json_value_path, c.json_timestamp_path)
                )
        self._task = asyncio.create_task(self._refresh_forever(), name="rates")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        if self._session is not None:
            await self._session.close()

    def _fresh(self, rate: Rate) -> bool:
        return time.time_ns() // 1000 - rate.at <= self.config.max_age_seconds * 1_000_000

    def _marked_up(self, rate: Rate) -> Rate:
        if not self.config.markup:
            return rate
        # A markup makes the asset cheaper in the invoice currency, so more of it is due.
        return replace(rate, value=rate.value / (1 + self.config.markup))

    async def get_rate(self, base: str, quote: str) -> Rate:
        if base == quote:
            return Rate(base, quote, Fraction(1), "identity", time.time_ns() // 1000)
        cached = self._cache.get((base, quote))
        if cached is not None and self._fresh(cached):
            return self._marked_up(cached)
        return self._marked_up(await self._fetch_shared(base, quote))

    async def _fetch_shared(self, base: str, quote: str) -> Rate:
        """One upstream fetch per pair at a time: callers that need the same pair while
        it is being fetched wait for that fetch instead of starting their own."""
        pair = (base, quote)
        task = self._fetching.get(pair)
        if task is None:
            task = asyncio.create_task(self._fetch(base, quote))
            self._fetching[pair] = task
            task.add_done_callback(lambda done, p=pair: self._fetched(p, done))
        # Shielded: a cancelled caller (client gone) does not cancel the others' fetch.
        return await asyncio.shield(task)

    def _fetched(self, pair: tuple[str, str], task: asyncio.Task[Rate]) -> None:
        self._fetching.pop(pair, None)
        if not task.cancelled():
            task.exception()  # retrieved, even if every caller has gone

    async def _fetch(self, base: str, quote: str) -> Rate:
        errors = []
        for source in self._sources:
            try:
                rate = await source.fetch(base, quote)
            except RateUnavailable as exc:
                errors.append(str(exc))
                continue
            except Exception as exc:  # a parser surprise must not kill the refresher
                log.exception("rate source %s failed", source.name)
                errors.append(f"{source.name}: {type(exc).__name__}: {exc}"[:200])
                continue
            if not self._fresh(rate):
                errors.append(f"{source.name}: quote is older than {self.config.max_age_seconds}s")
                continue
            self._cache[(base, quote)] = rate
            self._errors.pop((base, quote), None)
            return rate
        message = "; ".join(errors) or "no rate source configured"
        self._errors[(base, quote)] = message
        raise RateUnavailable(
            f"no fresh {base}/{quote} rate (max age {self.config.max_age_seconds}s): {message}"
        )

    async def refresh(self) -> None:
        async def one(pair: tuple[str, str]) -> None:
            try:
                await self._fetch_shared(*pair)
            except RateUnavailable as exc:
                log.warning("%s", exc)

        await asyncio.gather(*(one(pair) for pair in self.config.pairs))

    async def _refresh_forever(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self.config.refresh_seconds)

    def snapshot(self) -> list[RateStatus]:
        statuses = []
        for pair in self.config.pairs:
            rate = self._cache.get(pair)
            statuses.append(
                RateStatus(
                    base=pair[0],
                    quote=pair[1],
                    rate=None if rate is None else self._marked_up(rate),
                    fresh=rate is not None and self._fresh(rate),
                    error=self._errors.get(pair, ""),
                )
            )
        return statuses
