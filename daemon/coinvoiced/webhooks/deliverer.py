"""Delivers the callback outbox: HTTP POSTs with retries, per-endpoint order, bounded
concurrency, and all state in the store.

- Each URL is an endpoint with its own queue, in insertion order: only the oldest
  pending delivery of a URL is ever sent, so a receiver sees its events in order,
  and a dead endpoint only ever holds up itself.
- At most `max_in_flight` deliveries are in flight across all endpoints.
- Every attempt's outcome is written to the store before anything else happens;
  after a crash the scheduler simply reads the outbox again. A delivery the
  receiver acknowledged is marked DELIVERED and never sent again; one whose
  acknowledgement was not recorded (crash mid-request) is sent again, with the
  same delivery id, so receivers can drop duplicates (at-least-once).
- 2xx is success. 4xx other than 408/429 gives up at once; anything else retries
  with exponential backoff and jitter until `max_retries` or `max_age_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import aiohttp

from .. import __version__
from ..config import CallbacksConfig
from ..store import Store
from ..store.tx import DELIVERED, FAILED, PENDING, Delivery
from ..tasks import cancel_and_wait
from . import payload, signing
from .urls import literal_allowed, resolver

log = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0
MAX_RESPONSE_BYTES = 64 * 1024


def _now_us() -> int:
    return time.time_ns() // 1000


class Deliverer:
    def __init__(self, config: CallbacksConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # url -> attempt
        # URLs whose attempt has finished (and recorded its outcome) since the last
        # outbox read; see _schedule.
        self._finished: list[str] = []
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._session: aiohttp.ClientSession | None = None
        self._trusted: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failures = 0

    async def start(self) -> None:
        def session(allow_private: bool) -> aiohttp.ClientSession:
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver(allow_private), limit=0),
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
                headers={"User-Agent": f"coinvoice/{__version__}"},
                auto_decompress=False,
            )

        self._session = session(self.config.allow_private_addresses)
        # The operator's own default URL is trusted (it is often a backend on this host);
        # the guard is for URLs that API users choose.
        self._trusted = session(True) if self.config.default_url else None
        self._task = asyncio.create_task(self._schedule(), name="callbacks")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        for attempt in list(self._in_flight.values()):
            await cancel_and_wait(attempt)
        for session in (self._session, self._trusted):
            if session is not None:
                await session.close()

    def wake(self) -> None:
        """New outbox rows were committed (or one was queued for redelivery)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return sum(not task.done() for task in self._in_flight.values())

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            # An endpoint counts as busy until an outbox read that starts after its
            # attempt's outcome was committed: a read already under way (or a heads
            # list we keep using across the semaphore wait below) may still show the
            # finished delivery as pending, and it would be sent twice.
            for url in self._finished:
                self._in_flight.pop(url, None)
            self._finished.clear()
            try:
                heads = await self.store.read(lambda r: r.callback_heads())
            except Exception:
                # The scheduler must outlive a transient store error (locked, I/O ...).
                log.exception("reading the callback outbox failed; retrying")
                await asyncio.sleep(1.0)
                continue
            now = _now_us()
            next_due: int | None = None
            for delivery in heads:
                if delivery.url in self._in_flight:
                    continue
                if delivery.next_attempt_at > now:
                    due = delivery.next_attempt_at
                    next_due = due if next_due is None else min(next_due, due)
                    continue
                await self._slots.acquire()  # bounded concurrency across endpoints
                task = asyncio.create_task(self._attempt(delivery))
                self._in_flight[delivery.url] = task
            timeout = MAX_IDLE_WAIT if next_due is None else max(0.0, (next_due - now) / 1e6)
            try:
                await asyncio.wait_for(self._wake.wait(), min(timeout, MAX_IDLE_WAIT))
            except TimeoutError:
                pass

    async def _attempt(self, delivery: Delivery) -> None:
        try:
            try:
                status, error = await self._post(delivery)
            except Exception as exc:
                # Whatever went wrong counts as a failed attempt, so it backs off and
                # eventually gives up instead of being retried in a tight loop.
                log.exception("callback %s: unexpected error", delivery.id)
                status, error = 0, f"internal error: {type(exc).__name__}: {exc}"[:300]
            await self._record(delivery, status, error)
        except Exception:
            log.exception("callback attempt bookkeeping failed", extra={"delivery_id": delivery.id})
        finally:
            self._finished.append(delivery.url)
            self._slots.release()
            self._wake.set()

    async def _post(self, delivery: Delivery) -> tuple[int, str]:
        """POST once; returns (HTTP status or 0, error text or "")."""
        assert self._session is not None
        event = await self.store.read(lambda r: r.event_payload(delivery.event_sequence))
        if event is None:
            return 0, "event not found"
        event_type, created_at, stored = event
        body = payload.body(delivery.id, delivery.event_sequence, event_type, created_at, stored)
        headers = {
            "Content-Type": "application/json",
            "Coinvoice-Delivery": delivery.id,
            "Coinvoice-Event": payload.EventType(event_type).name,
        }
        secret = delivery.secret or self.config.default_secret
        if secret:
            headers[signing.HEADER] = signing.signature(secret, int(time.time()), body)
        session = self._session
        if self._trusted is not None and delivery.url == self.config.default_url:
            session = self._trusted
        elif not self.config.allow_private_addresses and not literal_allowed(delivery.url):
            # aiohttp connects to an IP literal without asking the resolver, so the
            # guard has to look at those itself (a URL stored while private addresses
            # were allowed, for instance).
            return 0, "BlockedDestination: private, loopback and reserved addresses are not allowed"
        try:
            async with session.post(
                delivery.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                # Only the status matters; a receiver cannot make us buffer a huge body.
                await response.content.read(MAX_RESPONSE_BYTES)
                return response.status, "" if 200 <= response.status < 300 else (
                    f"HTTP {response.status}"
                )
        except TimeoutError:
            return 0, f"timed out after {self.config.timeout_seconds}s"
        except (aiohttp.ClientError, OSError) as exc:
            return 0, f"{type(exc).__name__}: {exc}"[:300]

    async def _record(self, delivery: Delivery, status: int, error: str) -> None:
        now = _now_us()
        attempts = delivery.attempts + 1
        delivered_at = None
        if not error:
            state, next_at, delivered_at = DELIVERED, now, now
            self.sent += 1
        elif 400 <= status < 500 and status not in (408, 429):
            state, next_at = FAILED, now  # the receiver rejects it; retrying will not help
        else:
            backoff_ms = min(
                self.config.backoff_initial_ms * 2 ** (attempts - 1),
                self.config.backoff_max_seconds * 1000,
            )
            # Jitter spreads retries of many deliveries that failed together.
            next_at = now + int(backoff_ms * random.uniform(0.5, 1.0)) * 1000
            too_old = next_at - delivery.created_at > self.config.max_age_seconds * 1_000_000
            state = FAILED if attempts > self.config.max_retries or too_old else PENDING
        if state == FAILED:
            self.failures += 1
            log.warning(
                "callback %s to %s gave up after %d attempts: %s",
                delivery.id,
                delivery.url,
                attempts,
                error,
            )
        await self.store.write(
            lambda tx: tx.record_attempt(
                delivery.seq,
                state=state,
                status=status,
                error=error,
                next_attempt_at=next_at,
                delivered_at=delivered_at,
            )
        )
