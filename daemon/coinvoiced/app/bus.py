"""Event bus: fans committed events out to live subscribers, and `follow` turns the stored
log plus the live feed into one gap-free, duplicate-free stream.

A subscriber that cannot keep up is not allowed to grow memory without bound:
its buffer overflows, it is told so, and `follow` recovers by reading the
missed events back from the store. Nothing is lost either way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator

from ..store import Store, StoredEvent

BACKFILL_PAGE = 500


class Overflowed(Exception):
    pass


class Subscription:
    def __init__(self, invoice_id: str | None, max_buffer: int) -> None:
        self.invoice_id = invoice_id
        self._buffer: deque[StoredEvent] = deque()
        self._max = max_buffer
        self._ready = asyncio.Event()
        self.overflowed = False
        self.closed = False

    def push(self, event: StoredEvent) -> None:
        if self.invoice_id is not None and event.invoice_id != self.invoice_id:
            return
        if len(self._buffer) >= self._max:
            self.overflowed = True
            self._buffer.clear()
        else:
            self._buffer.append(event)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> StoredEvent | None:
        """The next live event; None once the bus is closed."""
        while True:
            if self.overflowed:
                raise Overflowed()
            if self._buffer:
                return self._buffer.popleft()
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class EventBus:
    def __init__(self, max_buffer: int = 10_000) -> None:
        self._subs: set[Subscription] = set()
        self._max_buffer = max_buffer
        self.last_sequence = 0
        self.closed = False

    def publish(self, events: list[StoredEvent]) -> None:
        """Called by the store right after a commit, in sequence order."""
        for event in events:
            self.last_sequence = max(self.last_sequence, event.sequence)
            for sub in self._subs:
                sub.push(event)

    def subscribe(self, invoice_id: str | None) -> Subscription:
        sub = Subscription(invoice_id, self._max_buffer)
        if self.closed:
            sub.close()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def close(self) -> None:
        """End every live stream (shutdown)."""
        self.closed = True
        for sub in self._subs:
            sub.close()


async def follow(
    store: Store, bus: EventBus, after: int, invoice_id: str | None
) -> AsyncIterator[StoredEvent]:
    """Every stored event with sequence > `after`, then live ones, without gap or duplicate.

    Register first, then backfill, then dedupe by sequence: an event committed
    while we backfill is both in the store and in our buffer, and is sent once.
    """
    last = after
    while True:
        sub = bus.subscribe(invoice_id)
        try:
            while True:
                page = await store.read(
                    lambda r, last=last: r.events_after(last, invoice_id, BACKFILL_PAGE)
                )
                for event in page:
                    yield event
                    last = event.sequence
                if len(page) < BACKFILL_PAGE:
                    break
            while True:
                event = await sub.next()
                if event is None:
                    return
                if event.sequence <= last:
                    continue
                yield event
                last = event.sequence
        except Overflowed:
            continue  # fell behind: re-register and read the gap back from the store
        finally:
            bus.unsubscribe(sub)
