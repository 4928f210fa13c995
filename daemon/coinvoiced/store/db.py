"""The store: one sqlite file in WAL mode, a writer connection and a reader connection.

Writes are units of work: plain functions `fn(tx) -> result` that run in the
writer connection's thread. Concurrent units are group-committed: the writer
takes every unit queued so far, runs each inside its own SAVEPOINT (so one
failing unit rolls back alone) and commits them with a single COMMIT and a
single fsync. A caller's await returns only after its unit is durable, and the
events it appended are handed to `on_commit` in sequence order.

aiosqlite runs each call in its worker thread; we hand it a whole batch as one
call (`Connection._execute`, its internal "run this function in the thread")
instead of one thread hop per statement, which is what makes group commit pay.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from .schema import migrate
from .tx import OutboxRouter, Reader, StoredEvent, Tx

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[Tx], Any]


class Store:
    def __init__(
        self,
        path: Path,
        on_commit: Callable[[list[StoredEvent]], None],
        outbox: OutboxRouter | None = None,
    ) -> None:
        self.path = path
        self._on_commit = on_commit
        self._outbox = outbox
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._writer_task: asyncio.Task[None] | None = None
        self._closing = False

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged write survives power loss, not only a crash.
        await self._writer.execute("PRAGMA synchronous=FULL")
        await self._writer.execute("PRAGMA busy_timeout=5000")
        await self._writer._execute(migrate, self._writer._conn)
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await self._reader.execute("PRAGMA busy_timeout=5000")
        await self._reader.execute("PRAGMA query_only=1")
        self._writer_task = asyncio.create_task(self._write_loop(), name="store-writer")

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        if self._writer_task is not None:
            await self._writer_task
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def write(self, unit: Callable[[Tx], T]) -> T:
        """Run `unit` in a transaction; return its result once committed."""
        if self._closing or self._writer is None:
            raise RuntimeError("store is closed")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((unit, future))
        self._wakeup.set()
        return await future

    async def read(self, query: Callable[[Reader], T]) -> T:
        """Run a read-only `query` against a consistent snapshot."""
        reader = self._reader
        if reader is None:
            raise RuntimeError("store is closed")
        return await reader._execute(_run_read, reader._conn, query)

    async def backup(self, target: Path) -> None:
        """Online, consistent copy of the database (sqlite backup API)."""
        assert self._reader is not None
        async with aiosqlite.connect(target) as dest:
            await self._reader.backup(dest)

    async def _write_loop(self) -> None:
        assert self._writer is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._queue:
                if self._closing:
                    return
                continue
            batch, self._queue = self._queue, []
            try:
                outcomes, events = await self._writer._execute(
                    _run_batch, self._writer._conn, [unit for unit, _ in batch], self._outbox
                )
            except Exception as exc:  # commit itself failed: nobody's unit is durable
                log.exception("store commit failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if events:
                self._on_commit(events)
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            if self._closing and not self._queue:
                return


def _run_read(conn: sqlite3.Connection, query: Callable[[Reader], T]) -> T:
    conn.execute("BEGIN")
    try:
        return query(Reader(conn))
    finally:
        conn.execute("COMMIT")


def _run_batch(
    conn: sqlite3.Connection, units: list[Unit], outbox: OutboxRouter | None
) -> tuple[list[tuple[bool, Any]], list[StoredEvent]]:
    """Runs in the writer thread: every unit in its own savepoint, one commit for all."""
    outcomes: list[tuple[bool, Any]] = []
    committed_events: list[StoredEvent] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for unit in units:
            unit_events: list[StoredEvent] = []
            conn.execute("SAVEPOINT unit")
            try:
                result = unit(Tx(conn, unit_events, outbox))
            except Exception as exc:
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                outcomes.append((False, exc))
                continue
            conn.execute("RELEASE unit")
            outcomes.append((True, result))
            committed_events.extend(unit_events)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes, committed_events
