"""The EVM chain watcher: follows one node and reports blocks, in order, to the
PaymentProcessor.

- `newHeads` over the websocket is only a wake-up. Blocks are fetched by number (with the
  node's latest header and the token logs in the same JSON-RPC batch, see fetch.py) and
  accepted only if they chain onto the last processed block (parent hash); otherwise the
  watcher walks back through the recent blocks it recorded to the common ancestor,
  disconnects the orphaned blocks top down and connects the new branch.
- A block's payments, the confirmations they bring and the chain cursor commit in one
  store transaction (PaymentProcessor.blocks_connected; while catching up, a run of
  blocks per transaction), so a crash or a dropped connection at any point resumes from
  the last committed block and never counts a payment twice.
- On start-up and after every reconnect it catches up from the cursor to the node's tip in
  batches (the next batch is fetched while the current one commits) before it waits for
  heads again. With no cursor yet it starts at the tip (or, when invoices already exist
  on the chain, at the block before the oldest was created), and persists that starting
  point before anything else.
- A dropped connection is retried with exponential back-off; the subscription is made
  again on each new connection, and the chain id (and token contracts) checked again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

from ...app.payments import BLOCK_WINDOW
from ...store import Store
from ...tasks import cancel_and_wait
from ..registry import Chain
from . import checks, decode
from .errors import ChainCheckError
from .fetch import BlockSource, Fetched, FetchedBlock
from .rpc import HttpRpc, NodeUnavailable, RpcError, WsRpc, describe, redact

if TYPE_CHECKING:
    from ...app.payments import PaymentProcessor
    from ..matcher import AddressIndex

log = logging.getLogger(__name__)

# The first connection attempt in start() is bounded: a node that is down or slow must not
# keep the daemon from serving. Later attempts run in the background.
START_TIMEOUT = 10.0
BACKOFF_MIN = 0.25
BACKOFF_MAX = 30.0
# Heads are the wake-up, but a subscription can die silently behind a proxy, and a reorg
# to a branch of the same height may come without one: look anyway this often.
IDLE_POLL = 15.0
# Catch-up batch size in blocks: grows while blocks are small, shrinks when they are big
# (a batch of full blocks is one websocket message).
BATCH_MIN, BATCH_START, BATCH_MAX = 1, 16, 256
BATCH_TARGET_TXS = 4000
# Blocks committed in one store transaction while catching up: one fsync for many blocks,
# yet short transactions (other writers wait for them) and little work redone after a crash.
COMMIT_MAX_BLOCKS = 128
COMMIT_MAX_TRANSFERS = 500
# Block timestamps may run ahead of wall clocks; start this much before the oldest invoice.
START_MARGIN_SECONDS = 15 * 60


class EvmWatcher:
    def __init__(
        self,
        chain: Chain,
        position: int,
        payments: PaymentProcessor,
        store: Store,
        index: AddressIndex,
    ) -> None:
        config = chain.config
        self.chain = chain
        self.name = chain.name
        self.position = position  # index in config.chains, for error messages
        self.payments = payments
        self.store = store
        self.native_asset = next((a.code for a in config.assets if a.contract is None), None)
        self.tokens = {a.contract: a.code for a in config.assets if a.contract is not None}
        self._table = index.table(chain.name)
        self._rpc: WsRpc | None = None
        self._http = HttpRpc(config.http_url) if config.http_url else None
        self._endpoint = redact(config.ws_url)  # for logs: no API keys
        self._source: BlockSource | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # height -> (hash, parent hash) of the recent blocks we processed (mirrors the
        # store's blocks table); the highest one is the head.
        self._window: dict[int, tuple[str, str]] = {}
        self._head: tuple[int, str] | None = None
        # Set after a reorg deeper than the window: accept the node's next block as is.
        self._trust_next = False
        self._batch = BATCH_START

    # -- lifecycle -- #

    async def start(self) -> None:
        """Connect once and check the node against the config (a contradiction is fatal);
        then follow it in the background. A node that cannot be reached is not fatal:
        the background task keeps trying, and GetInfo shows why it is not connected."""
        try:
            await asyncio.wait_for(self._open(), START_TIMEOUT)
        except ChainCheckError:
            await self._drop()
            raise
        except (NodeUnavailable, RpcError, OSError, TimeoutError) as exc:
            await self._drop()
            self._set_disconnected(f"connecting: {describe(exc)}")
            log.warning("%s: cannot reach %s yet (%s)", self.name, self._endpoint, exc)
        self._task = asyncio.create_task(self._run(), name=f"evm-watcher {self.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._drop()
        if self._http is not None:
            await self._http.close()
        self._set_disconnected("stopped")

    # -- connection -- #

    async def _open(self) -> None:
        config = self.chain.config
        rpc = WsRpc(config.ws_url, on_notification=self._on_head, on_close=self._wake.set)
        self._rpc = rpc
        await rpc.connect()
        await checks.check_chain_id(rpc, config, self.position)
        await checks.check_tokens(rpc, config, self.position)
        # Subscribe before catching up, so no head is missed between the two.
        await rpc.call("eth_subscribe", ["newHeads"])
        data_rpc = self._http if self._http is not None else rpc
        self._source = BlockSource(self.name, data_rpc, self._table, self.native_asset, self.tokens)
        await self._load_position()
        if self._head is None:
            await self._choose_start()
        status = self.chain.status
        status.connected = True
        status.state = "catching up"
        log.info("%s: connected to %s (chain id %d)", self.name, self._endpoint, config.chain_id)

    async def _drop(self) -> None:
        rpc, self._rpc = self._rpc, None
        if rpc is not None:
            await rpc.close()

    def _set_disconnected(self, state: str) -> None:
        status = self.chain.status
        status.connected = False
        status.state = state

    def _on_head(self, _subscription: str, head: object) -> None:
        if isinstance(head, dict) and isinstance(head.get("number"), str):
            height = int(head["number"], 16)
            status = self.chain.status
            if status.tip_height is None or height > status.tip_height:
                status.tip_height = height
        self._wake.set()

    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while True:
            try:
                if self._rpc is None or self._rpc.closed:
                    await self._drop()
                    await self._open()
                await self._sync()
                delay = BACKOFF_MIN  # a full round worked: the connection is good
                await self._follow()
            except asyncio.CancelledError:
                raise
            except ChainCheckError as exc:
                log.error("%s: refusing to follow %s: %s", self.name, self._endpoint, exc)
                self._set_disconnected(f"refused: {exc}")
                delay = BACKOFF_MAX
            except (NodeUnavailable, RpcError, OSError, TimeoutError) as exc:
                if self.chain.status.connected:
                    log.warning("%s: lost the node (%s); reconnecting", self.name, exc)
                self._set_disconnected(f"connecting: {describe(exc)}")
            except Exception as exc:  # a bug must not end the watcher for good
                log.exception("%s: watcher error", self.name)
                self._set_disconnected(f"error: {describe(exc)}")
            await self._drop()
            # Back-off between attempts (with jitter, so many daemons do not stampede).
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    async def _follow(self) -> None:
        """Sync whenever a head arrives (or every IDLE_POLL seconds) until the connection
        is lost."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL)
            except TimeoutError:
                pass
            if self._rpc is None or self._rpc.closed:
                raise NodeUnavailable(self._rpc.closed_reason if self._rpc else "not connected")
            await self._sync()

    # -- position -- #

    async def _load_position(self) -> None:
        name = self.name
        rows = await self.store.read(lambda r: r.recent_blocks(name, BLOCK_WINDOW))
        self._window = {height: (h, parent) for height, h, parent in rows}
        height, block_hash = await self.store.read(lambda r: r.chain_cursor(name))
        self._head = None if height is None or block_hash is None else (height, block_hash)

    async def _choose_start(self) -> None:
        """No block processed yet on this chain: start at the node's tip, or before the
        oldest invoice on this chain if there already is one (created while the node was
        unreachable), and persist that point before anything else."""
        assert self._source is not None
        name = self.name
        start = await self._source.latest()
        first = await self.store.read(lambda r: r.first_invoice_created(name))
        if first is not None:
            start = await self._block_before(first // 1_000_000 - START_MARGIN_SECONDS, start)
        await self.payments.block_connected(name, start.height, start.hash, start.parent_hash, [])
        self._window[start.height] = (start.hash, start.parent_hash)
        self._head = (start.height, start.hash)
        log.info("%s: first run, following from block %d", name, start.height)

    async def _block_before(self, timestamp: int, tip: decode.Header) -> decode.Header:
        """The last block with a timestamp before `timestamp` (binary search)."""
        assert self._source is not None
        rpc = self._source.rpc
        lo, hi = 0, tip.height
        while lo < hi:
            mid = (lo + hi + 1) // 2
            raw = await rpc.call("eth_getBlockByNumber", [hex(mid), False])
            if int(raw["timestamp"], 16) < timestamp:
                lo = mid
            else:
                hi = mid - 1
        return decode.header(await rpc.call("eth_getBlockByNumber", [hex(lo), False]))

    # -- following the chain -- #

    async def _sync(self) -> None:
        """Bring the processed head to the node's tip. Each round asks for the node's
        latest header together with the next run of blocks, so following a live chain
        costs one round trip per block (two when a block pays a watched address in the
        native coin: receipts). While catching up, the next run is fetched while the
        current one commits."""
        assert self._source is not None and self._head is not None
        self._wake.clear()  # heads arriving from now on call for another round
        source = self._source
        status = self.chain.status
        stalled = errors = 0
        ahead: asyncio.Task[Fetched] | None = None  # the next run, already asked for
        try:
            while True:
                head_height, head_hash = self._head
                try:
                    if ahead is not None:
                        fetched, ahead = await ahead, None
                    else:
                        fetched = await source.fetch(
                            head_height + 1, head_height + self._batch, status.tip_height
                        )
                except RpcError:
                    # A tip we knew that the node no longer has (its range query then
                    # fails), or a provider's limit on log ranges or batch sizes: re-read
                    # the tip and ask for less; give up (reconnect with back-off) only
                    # when that keeps failing.
                    errors += 1
                    if errors > 3:
                        raise
                    status.tip_height = (await source.latest()).height
                    self._batch = max(BATCH_MIN, self._batch // 2)
                    continue
                tip, blocks = fetched.latest, fetched.blocks
                status.tip_height, status.tip_hash = tip.height, tip.hash
                if blocks:
                    if blocks[0].parent_hash != head_hash and not self._trust_next:
                        await self._rewind()
                        continue
                    self._trust_next = False
                    last = blocks[-1].height
                    if tip.height > last:
                        status.state = f"catching up: {tip.height - head_height} blocks behind"
                        # Its first block must chain onto this run's last: checked as usual.
                        ahead = asyncio.create_task(
                            source.fetch(last + 1, last + self._batch, tip.height)
                        )
                    for group in _commit_groups(blocks):
                        await self._connect(group)
                    self._adapt_batch(blocks)
                    if self._head == (tip.height, tip.hash):
                        break  # at the tip the node reported with these very blocks
                    continue
                # Nothing above our head, as the node answered.
                if tip.height == head_height and tip.hash == head_hash:
                    break
                if tip.height > head_height:
                    # The parts of the batch saw different moments (a block arrived, or
                    # the node reorganised while answering): ask again, but do not spin
                    # on a node that keeps contradicting itself; the next head retries.
                    stalled += 1
                    if stalled > 3:
                        return
                    continue
                if tip.height < head_height:
                    ours = self._window.get(tip.height)
                    if ours is not None and ours[0] == tip.hash:
                        status.state = f"node behind: tip {tip.height} < processed {head_height}"
                        return
                if self._trust_next:
                    break  # nothing left to compare with: take the node's next block
                await self._rewind()  # our head is not on the node's chain any more
        finally:
            if ahead is not None:
                ahead.cancel()
                await asyncio.gather(ahead, return_exceptions=True)
        status.state = "connected"

    async def _connect(self, blocks: list[FetchedBlock]) -> None:
        """Record consecutive blocks (one store transaction), then move our head."""
        await self.payments.blocks_connected(
            self.name, [(b.height, b.hash, b.parent_hash, b.transfers) for b in blocks]
        )
        for block in blocks:
            self._window[block.height] = (block.hash, block.parent_hash)
            self._window.pop(block.height - BLOCK_WINDOW, None)
        self._head = (blocks[-1].height, blocks[-1].hash)

    def _adapt_batch(self, blocks: list[FetchedBlock]) -> None:
        txs = sum(b.tx_count for b in blocks)
        if txs > BATCH_TARGET_TXS and self._batch > BATCH_MIN:
            self._batch = max(BATCH_MIN, self._batch // 2)
        elif txs * 4 < BATCH_TARGET_TXS and len(blocks) == self._batch:
            self._batch = min(BATCH_MAX, self._batch * 2)

    async def _rewind(self) -> None:
        """Our head is not on the node's chain: find the highest recorded block that still
        is, and disconnect everything above it, top down."""
        assert self._source is not None and self._head is not None
        heights = sorted(self._window, reverse=True)
        ancestor: int | None = None
        for i in range(0, len(heights), 64):
            chunk = heights[i : i + 64]
            theirs = await self._source.headers(chunk)
            for height in chunk:
                header = theirs[height]
                if header is not None and header.hash == self._window[height][0]:
                    ancestor = height
                    break
            if ancestor is not None:
                break
        orphaned = 0
        for height in heights:
            if ancestor is not None and height <= ancestor:
                break
            block_hash, parent_hash = self._window[height]
            await self.payments.block_disconnected(self.name, height, block_hash, parent_hash)
            del self._window[height]
            self._head = (height - 1, parent_hash)
            orphaned += 1
        if ancestor is None:
            log.error(
                "%s: reorg deeper than the %d recorded blocks (or the node was reset); "
                "following the node from block %d. Payments in older blocks are not re-checked.",
                self.name,
                len(heights),
                self._head[0] + 1,
            )
            self._trust_next = True
        else:
            log.warning(
                "%s: reorg: %d block(s) orphaned, common ancestor %d",
                self.name,
                orphaned,
                ancestor,
            )


def _commit_groups(blocks: list[FetchedBlock]) -> list[list[FetchedBlock]]:
    groups: list[list[FetchedBlock]] = [[]]
    transfers = 0
    for block in blocks:
        current = groups[-1]
        if current and (
            len(current) >= COMMIT_MAX_BLOCKS
            or transfers + len(block.transfers) > COMMIT_MAX_TRANSFERS
        ):
            groups.append([])
            transfers = 0
        groups[-1].append(block)
        transfers += len(block.transfers)
    return groups
