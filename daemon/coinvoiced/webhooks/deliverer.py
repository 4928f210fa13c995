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
from . import payload, signing
from .urls import resolver

log = logging.getLogger(__name__)

MAX_IDLE_WAIT = 60.0


def _now_us() -> int:
    return time.time_ns() // 1000


class Deliverer:
    def __init__(self, config: CallbacksConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self._wake = asyncio.Event()
        self._in_flight: dict[str, asyncio.Task[None]] = {}  # url -> attempt
        self._slots = asyncio.Semaphore(config.max_in_flight)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failures = 0

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            resolver=resolver(self.config.allow_private_addresses), limit=0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            headers={"User-Agent": f"coinvoice/{__version__}"},
            auto_decompress=False,
        )
        self._task = asyncio.create_task(self._schedule(), name="callbacks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            for attempt in list(self._in_flight.values()):
                attempt.cancel()
            await asyncio.gather(self._task, *self._in_flight.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def wake(self) -> None:
        """New outbox rows were committed (or one was queued for redelivery)."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def _schedule(self) -> None:
        while True:
            self._wake.clear()
            heads = await self.store.read(lambda r: r.callback_heads())
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
            status, error = await self._post(delivery)
            await self._record(delivery, status, error)
        except Exception:
            log.exception("callback attempt bookkeeping failed",
                          extra={"delivery_id": delivery.id})
        finally:
            self._in_flight.pop(delivery.url, None)
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
        try:
            async with self._session.post(delivery.url, data=body, headers=headers,
                                          allow_redirects=False) as response:
                await response.read()
                return response.status, "" if 200 <= response.status < 300 else (
                    f"HTTP {response.status}")
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
            backoff_ms = min(self.config.backoff_initial_ms * 2 ** (attempts - 1),
                             self.config.backoff_max_seconds * 1000)
            # Jitter spreads retries of many deliveries that failed together.
            next_at = now + int(backoff_ms * random.uniform(0.5, 1.0)) * 1000
            too_old = next_at - delivery.created_at > self.config.max_age_seconds * 1_000_000
            state = FAILED if attempts > self.config.max_retries or too_old else PENDING
        if state == FAILED:
            self.failures += 1
            log.warning("callback %s to %s gave up after %d attempts: %s", delivery.id,
                        delivery.url, attempts, error)
        await self.store.write(
            lambda tx: tx.record_attempt(delivery.seq, state=state, status=status, error=error,
                                         next_attempt_at=next_at, delivered_at=delivered_at)
        )
