"""The header chain as the Electrum watcher follows it: a window of recent headers
(height -> hash, parent) mirrored in the store's blocks table, advanced to each new tip
and walked back to the fork point when a tip does not connect.

Electrum servers may skip intermediate tips and announce a reorg only as a new tip that
does not sit on the previous one; both look the same here: fetch the missing headers,
check that they link, and disconnect whatever of ours is not on the server's chain.
Every connected header goes through PaymentProcessor.block_connected (cursor, the block
row and confirmations in one store transaction); every orphaned one through
block_disconnected, top down, so payments recorded in it become REORGED.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ...app.payments import BLOCK_WINDOW
from ...store import Store
from .protocol import Header

if TYPE_CHECKING:
    from ...app.payments import PaymentProcessor

log = logging.getLogger(__name__)

# After a long absence, connect only this many of the newest headers (the window's
# depth): Electrum needs no per-block processing, only recent hashes to detect reorgs.
CATCH_UP_HEADERS = BLOCK_WINDOW
HEADERS_PER_CALL = 2016  # what servers return at most per blockchain.block.headers

FetchHeaders = Callable[[int, int], Awaitable[list[Header]]]  # (start, count) -> headers


class ChainMoved(Exception):
    """The server's chain changed while we were reading it; start over."""


class HeaderChain:
    def __init__(self, name: str, payments: PaymentProcessor, store: Store) -> None:
        self.name = name
        self.payments = payments
        self.store = store
        self.window: dict[int, tuple[str, str]] = {}  # height -> (hash, parent hash)
        self.head: tuple[int, str] | None = None

    async def load(self) -> None:
        name = self.name
        rows = await self.store.read(lambda r: r.recent_blocks(name, BLOCK_WINDOW))
        self.window = {height: (h, parent) for height, h, parent in rows}
        height, block_hash = await self.store.read(lambda r: r.chain_cursor(name))
        self.head = None if height is None or block_hash is None else (height, block_hash)

    def hash_at(self, height: int) -> str | None:
        entry = self.window.get(height)
        return None if entry is None else entry[0]

    async def advance(self, tip: Header, fetch: FetchHeaders) -> int | None:
        """Follow the server to `tip`. Returns the lowest orphaned height when a reorg
        happened (so the caller can re-check what was confirmed there), else None."""
        if self.head is None:
            await self._connect(tip)
            log.info("%s: first run, following from block %d", self.name, tip.height)
            return None
        if self.head == (tip.height, tip.hash):
            return None
        if tip.height < self.head[0]:
            # A lower tip is either stale (a notification overtaken by newer blocks) or a
            # reorg onto a shorter chain: the server's headers above it tell which.
            newer = await fetch(tip.height + 1, self.head[0] - tip.height)
            if newer:
                tip = newer[-1]
        ancestor = await self._common_ancestor(tip, fetch)
        orphaned_from: int | None = None
        for height in sorted(self.window, reverse=True):
            if ancestor is not None and height <= ancestor:
                break
            block_hash, parent = self.window[height]
            await self.payments.block_disconnected(self.name, height, block_hash, parent)
            del self.window[height]
            self.head = (height - 1, parent)
            orphaned_from = height
        if ancestor is None:
            log.error(
                "%s: reorg deeper than the %d recorded headers (or the server follows another "
                "chain); following the server from block %d",
                self.name,
                BLOCK_WINDOW,
                tip.height,
            )
            await self._connect(tip)
            return orphaned_from if orphaned_from is not None else tip.height
        if orphaned_from is not None:
            log.warning(
                "%s: reorg: blocks from %d orphaned, common ancestor %d, new tip %d",
                self.name,
                orphaned_from,
                ancestor,
                tip.height,
            )
        await self._connect_range(ancestor, tip, fetch)
        return orphaned_from

    async def _common_ancestor(self, tip: Header, fetch: FetchHeaders) -> int | None:
        """Highest height where our window and the server's chain agree (None: nowhere)."""
        assert self.head is not None
        ours = sorted((h for h in self.window if h <= tip.height), reverse=True)
        if ours and ours[0] == tip.height and self.window[tip.height][0] == tip.hash:
            return tip.height
        for start in range(0, len(ours), 64):
            chunk = ours[start : start + 64]
            lo, hi = chunk[-1], chunk[0]
            theirs = {h.height: h.hash for h in await fetch(lo, hi - lo + 1)}
            theirs[tip.height] = tip.hash
            for height in chunk:
                if theirs.get(height) == self.window[height][0]:
                    return height
        return None

    async def _connect_range(self, ancestor: int, tip: Header, fetch: FetchHeaders) -> None:
        """Connect the server's headers above `ancestor` up to `tip`, checking that each
        sits on the previous one."""
        start = max(ancestor + 1, tip.height - CATCH_UP_HEADERS + 1)
        if start > tip.height:
            return
        headers: list[Header] = []
        while start + len(headers) <= tip.height - 1:
            first = start + len(headers)
            got = await fetch(first, min(HEADERS_PER_CALL, tip.height - first))
            if not got:
                raise ChainMoved(f"server has no header at {first}")
            headers += got
        headers.append(tip)
        previous = self.window.get(start - 1)
        for header in headers:
            if previous is not None and header.prev_hash != previous[0]:
                raise ChainMoved(f"header {header.height} does not link to {header.height - 1}")
            previous = (header.hash, header.prev_hash)
        # All of them in one store transaction (one fsync), whatever their number.
        await self.payments.blocks_connected(
            self.name, [(h.height, h.hash, h.prev_hash, ()) for h in headers]
        )
        for header in headers:
            self._remember(header)

    async def _connect(self, header: Header) -> None:
        await self.payments.block_connected(
            self.name, header.height, header.hash, header.prev_hash, []
        )
        self._remember(header)

    def _remember(self, header: Header) -> None:
        self.window[header.height] = (header.hash, header.prev_hash)
        for stale in [h for h in self.window if h <= header.height - BLOCK_WINDOW]:
            del self.window[stale]
        self.head = (header.height, header.hash)
