"""Timers that survive restart: each invoice's payment deadline and the end of its
monitoring window.

Deadlines live in the store (expires_at, monitor_until); this is only the
in-memory heap that wakes us at the right time. On start-up it is rebuilt from
the store, and anything already overdue fires at once.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Awaitable, Callable
from enum import IntEnum

from ..tasks import cancel_and_wait
from .clock import SECOND, now_us

log = logging.getLogger(__name__)


class Due(IntEnum):
    EXPIRY = 1  # re-evaluate the invoice: the deadline passed
    WATCH_END = 2  # stop watching its addresses


class Deadlines:
    def __init__(self, on_due: Callable[[int, Due], Awaitable[None]]) -> None:
        self._on_due = on_due
        self._heap: list[tuple[int, int, Due]] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The latest deadline per (pk, kind): an update supersedes older heap entries.
        self._current: dict[tuple[int, Due], int] = {}

    def schedule(self, pk: int, expires_at: int, monitor_until: int) -> None:
        for when, kind in ((expires_at, Due.EXPIRY), (monitor_until, Due.WATCH_END)):
            self._current[(pk, kind)] = when
            heapq.heappush(self._heap, (when, pk, kind))
        self._changed.set()

    def pending(self) -> int:
        return len(self._current)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="deadlines")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            now = now_us()
            while self._heap and self._heap[0][0] <= now:
                when, pk, kind = heapq.heappop(self._heap)
                if self._current.get((pk, kind)) != when:
                    continue  # superseded by a later schedule()
                del self._current[(pk, kind)]
                try:
                    await self._on_due(pk, kind)
                except Exception:
                    # Retry later rather than lose the deadline.
                    log.exception("deadline handler failed", extra={"invoice_pk": pk})
                    self._current[(pk, kind)] = now + 5 * SECOND
                    heapq.heappush(self._heap, (now + 5 * SECOND, pk, kind))
                now = now_us()
            delay = (self._heap[0][0] - now) / SECOND if self._heap else 3600.0
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.0, min(delay, 3600.0)))
            except TimeoutError:
                pass
