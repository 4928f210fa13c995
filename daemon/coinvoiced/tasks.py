"""Stopping background tasks reliably."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[object] | None) -> None:
    """Cancel `task` and wait until it has ended.

    Cancels again every second: on Python 3.11 `asyncio.wait_for` can swallow a
    cancellation that arrives as its inner call fails (a refused connection, say), and a
    reconnect loop would then go on forever and hang shutdown.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError, Exception):
        task.result()
