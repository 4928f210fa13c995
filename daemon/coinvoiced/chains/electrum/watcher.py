"""The Electrum watcher of one chain: one aiorpcx session at a time (failing over across
the configured servers), the header chain, and scripthash subscriptions for every address
in the address index (open invoices and those inside their monitoring window).

One task does all the chain work, in order: follow the tip (reorgs first), apply index
changes (subscribe / unsubscribe), then bring every scripthash whose announced status
differs from the status of its known history up to date:

  get_history -> diff against the known history -> fetch the new raw transactions ->
  prove confirmed ones into their block (merkle branch against the header) -> report
  outputs paying watched scripts (one Transfer per vout) -> report mempool transactions
  that vanished -> persist the new history.

Notifications only mark work and wake the task, so a notification arriving before the
reply to its subscribe request, or tips skipping heights, change nothing in the outcome:
every mismatch leads to fetching the current history, which is authoritative.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...domain.model import Transfer
from ...store import Store
from ...tasks import cancel_and_wait
from ..derivation import UTXO_NETWORKS
from ..registry import Chain
from .client import ElectrumClient, ServerError, ServerUrl
from .headers import ChainMoved, HeaderChain
from .protocol import GENESIS, Header, HistoryEntry, merkle_root_from_branch, status_hash
from .scripthashes import ScripthashBook, diff
from .transactions import BadTransaction, ParsedTx, address_of, parse

if TYPE_CHECKING:
    from ...app.payments import PaymentProcessor
    from ..matcher import AddressIndex

log = logging.getLogger(__name__)

BACKOFF_MIN = 0.25
BACKOFF_MAX = 30.0
STABLE_SECONDS = 30.0  # a connection that lasted this long resets the back-off
PING_TIMEOUT = 20.0
SYNC_CHUNK = 500  # scripthashes brought up to date per round
RETRY_DELAY = 2.0  # a scripthash whose proof failed (chain moving) is retried after this
TX_CACHE = 20_000  # parsed transactions kept


class WrongChain(ServerError):
    """The server follows another network than the one configured."""


class ElectrumWatcher:
    def __init__(
        self,
        chain: Chain,
        payments: PaymentProcessor,
        store: Store,
        index: AddressIndex,
        *,
        ping_interval: float = 60.0,
        certificates: dict[str, Path] | None = None,
    ) -> None:
        config = chain.config
        self.chain = chain
        self.name = chain.name
        self.payments = payments
        self.store = store
        self.servers = [ServerUrl.parse(url) for url in config.servers]
        self.certificates = certificates or {}
        self.ping_interval = ping_interval
        self.network = UTXO_NETWORKS[config.network]
        self.asset = next(a.code for a in config.assets if a.contract is None)
        self._table = index.table(chain.name)
        index.add_listener(chain.name, self._on_index_change)
        self.headers = HeaderChain(chain.name, payments, store)
        self.book = ScripthashBook(chain.name, store)
        self._client: ElectrumClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._tip: Header | None = None
        self._subscribed: set[bytes] = set()
        self._to_subscribe: set[bytes] = set()
        self._to_unsubscribe: set[bytes] = set()
        self._dirty: set[bytes] = set()
        self._forced: set[bytes] = set()
        # Latest status the server announced per scripthash, with a counter so that a sync
        # knows whether something newer arrived while it ran.
        self._announced: dict[bytes, tuple[int, str | None]] = {}
        self._announce_seq = 0
        self._txs: OrderedDict[str, ParsedTx] = OrderedDict()
        self._header_cache: dict[int, Header] = {}
        self._server_index = 0

    # -- lifecycle -- #

    async def start(self) -> None:
        await self.headers.load()
        await self.book.load()
        # State of addresses whose monitoring ended while the daemon was down.
        await self.book.forget([key for key in self.book.known if key not in self._table])
        self._set_state(False, "connecting")
        self._task = asyncio.create_task(self._run(), name=f"electrum-watcher {self.name}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        self._set_state(False, "stopped")

    def _set_state(self, connected: bool, state: str) -> None:
        status = self.chain.status
        status.connected = connected
        # Set by the address allocator (app/addresses.py) when the gap limit is reached.
        gap_warning = status.extra.get("gap_limit", "")
        if gap_warning:
            state = f"{state}; {gap_warning}"
        status.state = state
        client = self._client
        status.extra = {
            "server": client.server.url if client and connected else "",
            "server_version": client.software if client and connected else "",
            "protocol": client.protocol if client and connected else "",
            "subscriptions": str(len(self._subscribed)),
            "watched": str(len(self._table)),
        }
        if gap_warning:
            status.extra["gap_limit"] = gap_warning

    def _connected_state(self) -> None:
        client = self._client
        assert client is not None
        self.chain.status.endpoint = client.server.url
        self._set_state(
            True,
            f"connected to {client.software} (protocol {client.protocol}), "
            f"{len(self._subscribed)} subscriptions",
        )

    # -- connection management -- #

    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while True:
            server = self.servers[self._server_index]
            started = time.monotonic()
            try:
                await self._session(server)
            except asyncio.CancelledError:
                raise
            except WrongChain as exc:
                log.error("%s: refusing %s: %s", self.name, server.url, exc)
                self._set_state(False, f"refused: {exc}")
            except (OSError, TimeoutError, ConnectionError, ServerError, ChainMoved) as exc:
                if self.chain.status.connected:
                    log.warning("%s: lost %s (%s); reconnecting", self.name, server.url, exc)
                else:
                    log.warning("%s: cannot use %s (%s)", self.name, server.url, exc)
                self._set_state(False, f"connecting: {server.url}: {_describe(exc)}")
            except Exception as exc:  # a bug must not end the watcher for good
                log.exception("%s: watcher error", self.name)
                self._set_state(False, f"error: {_describe(exc)}")
            finally:
                if self._client is not None:
                    await self._client.close()
                    self._client = None
                self._subscribed.clear()
            if time.monotonic() - started > STABLE_SECONDS:
                delay = BACKOFF_MIN
            # Fail over: the next configured server gets the next attempt.
            self._server_index = (self._server_index + 1) % len(self.servers)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    async def _session(self, server: ServerUrl) -> None:
        client = ElectrumClient(server, self._on_notification, self.certificates.get(server.url))
        self._client = client
        await client.connect()
        await self._check_network(client)
        log.info(
            "%s: connected to %s (%s, protocol %s, %s)",
            self.name,
            server.url,
            client.software,
            client.protocol,
            "batches" if client.batches else "pipelined requests",
        )
        ping = asyncio.create_task(self._ping(client), name=f"electrum-ping {self.name}")
        try:
            reply = await client.call("blockchain.headers.subscribe")
            self._on_tip(reply)
            await self._follow_tip(client)
            self._to_subscribe.clear()  # everything watched now is subscribed below
            await self._subscribe(client, list(self._table))
            self._connected_state()
            while True:
                self._wake.clear()
                await self._follow_tip(client)
                await self._apply_index_changes(client)
                await self._sync_dirty(client)
                self._connected_state()
                if self._wake.is_set() or self._to_subscribe or self._to_unsubscribe:
                    continue
                waiter = asyncio.ensure_future(self._wake.wait())
                closed = asyncio.ensure_future(client.wait_closed())
                try:
                    await asyncio.wait({waiter, closed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
                    closed.cancel()
                if client.closed:
                    raise ConnectionError("connection closed")
        finally:
            ping.cancel()

    async def _check_network(self, client: ElectrumClient) -> None:
        expected = GENESIS.get(self.chain.config.network)
        if expected is None:
            return
        features = await client.call("server.features")
        genesis = features.get("genesis_hash") if isinstance(features, dict) else None
        if genesis not in expected:
            raise WrongChain(
                f"{client.server.url} serves a chain with genesis {genesis}, not "
                f"{self.chain.config.network}"
            )

    async def _ping(self, client: ElectrumClient) -> None:
        """Keep the session alive (servers drop idle clients) and notice a dead peer."""
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await asyncio.wait_for(client.call("server.ping"), PING_TIMEOUT)
            except (OSError, TimeoutError, ConnectionError, ServerError) as exc:
                log.warning("%s: ping failed (%s); dropping the connection", self.name, exc)
                await client.close()
                return

    # -- notifications (event loop callbacks: cheap, never raise) -- #

    def _on_notification(self, method: str, args: Sequence[Any]) -> None:
        try:
            if method == "blockchain.headers.subscribe" and args:
                self._on_tip(args[0])
            elif method == "blockchain.scripthash.subscribe" and len(args) == 2:
                self._on_status(bytes.fromhex(args[0]), args[1])
            else:
                return
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("%s: ignoring malformed %s notification (%s)", self.name, method, exc)
            return
        self._wake.set()

    def _on_tip(self, message: Any) -> None:
        header = Header.parse(int(message["height"]), bytes.fromhex(message["hex"]))
        if self._tip is None or header != self._tip:
            self._tip = header
            status = self.chain.status
            if status.tip_height is None or header.height >= status.tip_height:
                status.tip_height, status.tip_hash = header.height, header.hash

    def _on_status(self, key: bytes, status: str | None) -> None:
        if key not in self._table:
            return  # no longer watched (an unsubscribe may still be on its way)
        self._announce_seq += 1
        self._announced[key] = (self._announce_seq, status)
        if status != self.book.status(key):
            self._dirty.add(key)

    def _on_index_change(self, key: bytes, watched: bool) -> None:
        if watched:
            self._to_unsubscribe.discard(key)
            self._to_subscribe.add(key)
        else:
            self._to_subscribe.discard(key)
            self._to_unsubscribe.add(key)
            self._dirty.discard(key)
        self._wake.set()

    # -- tip -- #

    async def _fetch_headers(self, start: int, count: int) -> list[Header]:
        assert self._client is not None
        if count <= 0:
            return []
        reply = await self._client.call("blockchain.block.headers", start, count)
        raw = bytes.fromhex(reply["hex"])
        size = len(raw) // max(1, int(reply["count"])) if reply["count"] else 80
        return [
            Header.parse(start + i, raw[i * size : (i + 1) * size])
            for i in range(int(reply["count"]))
        ]

    async def _follow_tip(self, client: ElectrumClient) -> None:
        for _attempt in range(5):
            tip = self._tip
            if tip is None:
                return
            try:
                orphaned_from = await self.headers.advance(tip, self._fetch_headers)
            except ChainMoved as exc:
                log.info("%s: chain moved while reading headers (%s); again", self.name, exc)
                continue
            if orphaned_from is not None:
                self._header_cache.clear()
                affected = self.book.affected_from(orphaned_from) & self._table.keys()
                self._forced |= affected
                self._dirty |= affected
            if self._tip == tip:
                return
        raise ChainMoved("the server's chain kept changing while we followed it")

    # -- subscriptions -- #

    async def _subscribe(self, client: ElectrumClient, keys: list[bytes]) -> None:
        if not keys:
            return
        began = time.monotonic()
        await self.book.refresh_floor(keys)
        results = await client.call_many(
            "blockchain.scripthash.subscribe", [[key.hex()] for key in keys]
        )
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, Exception):
                log.warning("%s: subscribing %s failed: %s", self.name, key.hex(), result)
                self._to_subscribe.add(key)
                continue
            self._subscribed.add(key)
            if result != self.book.status(key):
                self._dirty.add(key)
        if len(keys) > 100:
            log.info(
                "%s: subscribed %d scripthashes in %.2fs; %d to bring up to date",
                self.name,
                len(keys),
                time.monotonic() - began,
                len(self._dirty),
            )

    async def _apply_index_changes(self, client: ElectrumClient) -> None:
        if self._to_subscribe:
            keys = [k for k in self._to_subscribe if k in self._table]
            self._to_subscribe.clear()
            await self._subscribe(client, keys)
        if self._to_unsubscribe:
            keys = [k for k in self._to_unsubscribe if k not in self._table]
            self._to_unsubscribe.clear()
            if client.can_unsubscribe:
                subscribed = [k for k in keys if k in self._subscribed]
                await client.call_many(
                    "blockchain.scripthash.unsubscribe", [[k.hex()] for k in subscribed]
                )
            self._subscribed.difference_update(keys)
            for key in keys:
                self._announced.pop(key, None)
            await self.book.forget(keys)

    # -- bringing scripthashes up to date -- #

    async def _sync_dirty(self, client: ElectrumClient) -> None:
        while self._dirty:
            keys = [k for k in list(self._dirty)[:SYNC_CHUNK]]
            self._dirty.difference_update(keys)
            keys = [k for k in keys if k in self._table]
            await self._sync(client, keys)
            await self._follow_tip(client)

    async def _sync(self, client: ElectrumClient, keys: list[bytes]) -> None:
        if not keys:
            return
        seen = {key: self._announced.get(key, (0, None))[0] for key in keys}
        forced = {key for key in keys if key in self._forced}
        self._forced -= forced
        results = await client.call_many(
            "blockchain.scripthash.get_history", [[key.hex()] for key in keys]
        )
        histories: dict[bytes, list[HistoryEntry]] = {}
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, Exception):
                log.warning("%s: get_history %s failed: %s", self.name, key.hex(), result)
                self._retry_later([key], forced)
                continue
            histories[key] = [(str(e["tx_hash"]), int(e["height"])) for e in result]

        diffs = {
            key: diff(self.book.history(key), new, key in forced) for key, new in histories.items()
        }
        wanted = {txid for d in diffs.values() for txid, _ in d.report}
        await self._fetch_transactions(client, wanted)

        # Confirmed entries that pay us need their block: prove each into a header.
        to_prove: set[tuple[str, int]] = set()
        for key, d in diffs.items():
            for txid, height in d.report:
                tx = self._txs.get(txid)
                if height > 0 and tx is not None and any(o.scripthash == key for o in tx.outputs):
                    to_prove.add((txid, height))
        proven = await self._prove(client, to_prove)

        transfers: list[Transfer] = []
        failed: list[bytes] = []
        for key, d in diffs.items():
            floor = self.book.floors.get(key, 0)
            for txid, height in d.report:
                tx = self._txs.get(txid)
                if tx is None:
                    failed.append(key)
                    break
                outputs = [o for o in tx.outputs if o.scripthash == key]
                if not outputs:
                    continue  # spends from the address, or pays other scripts
                block_hash: str | None = None
                if height > 0:
                    if height <= floor:
                        continue  # before this address was handed out again
                    block_hash = proven.get((txid, height))
                    if block_hash is None:
                        failed.append(key)
                        break
                elif tx.signals_rbf:
                    continue  # replaceable: counts once mined (as BTCPay does)
                for output in outputs:
                    transfers.append(
                        Transfer(
                            chain=self.name,
                            txid=txid,
                            index=output.vout,
                            asset=self.asset,
                            address=address_of(output.script, self.network),
                            amount=output.value,
                            watch_key=key,
                            height=height if height > 0 else None,
                            block_hash=block_hash,
                        )
                    )
        failed_set = set(failed)
        transfers = [t for t in transfers if t.watch_key not in failed_set]
        if transfers:
            await self.payments.transfers_seen(transfers)
        for key, d in diffs.items():
            if key in failed_set:
                continue
            for txid in d.dropped:
                log.info("%s: %s left the mempool without being mined", self.name, txid)
                await self.payments.transaction_dropped(self.name, txid)
        done = {key: hist for key, hist in histories.items() if key not in failed_set}
        await self.book.save(done)
        self._retry_later(failed, forced)
        # Something newer announced while we worked, and not what we now know: again.
        for key, hist in done.items():
            seq, status = self._announced.get(key, (0, None))
            if seq != seen[key] and status != status_hash(hist):
                self._dirty.add(key)

    def _retry_later(self, keys: list[bytes], forced: set[bytes]) -> None:
        if not keys:
            return
        loop = asyncio.get_running_loop()

        def again() -> None:
            self._dirty.update(k for k in keys if k in self._table)
            self._forced.update(k for k in keys if k in forced)
            self._wake.set()

        loop.call_later(RETRY_DELAY, again)

    async def _fetch_transactions(self, client: ElectrumClient, txids: set[str]) -> None:
        missing = [txid for txid in txids if txid not in self._txs]
        results = await client.call_many("blockchain.transaction.get", [[t] for t in missing])
        for txid, raw in zip(missing, results, strict=True):
            if isinstance(raw, Exception) or not isinstance(raw, str):
                log.warning("%s: cannot fetch %s: %s", self.name, txid, raw)
                continue
            try:
                self._txs[txid] = parse(raw, txid)
            except BadTransaction as exc:
                log.error("%s: %s", self.name, exc)
        while len(self._txs) > TX_CACHE:
            self._txs.popitem(last=False)

    async def _headers_at(self, client: ElectrumClient, heights: set[int]) -> dict[int, Header]:
        missing = sorted(h for h in heights if h not in self._header_cache)
        results = await client.call_many("blockchain.block.header", [[h] for h in missing])
        for height, raw in zip(missing, results, strict=True):
            if isinstance(raw, str):
                self._header_cache[height] = Header.parse(height, bytes.fromhex(raw))
        return {h: self._header_cache[h] for h in heights if h in self._header_cache}

    async def _prove(
        self, client: ElectrumClient, pairs: set[tuple[str, int]]
    ) -> dict[tuple[str, int], str]:
        """(txid, height) -> block hash, for transactions whose merkle branch leads to the
        header at that height (and that header is the one on the chain we follow)."""
        if not pairs:
            return {}
        ordered = sorted(pairs)
        headers = await self._headers_at(client, {h for _, h in ordered})
        branches = await client.call_many(
            "blockchain.transaction.get_merkle", [[txid, height] for txid, height in ordered]
        )
        proven: dict[tuple[str, int], str] = {}
        for (txid, height), branch in zip(ordered, branches, strict=True):
            header = headers.get(height)
            if header is None or isinstance(branch, Exception):
                continue
            ours = self.headers.hash_at(height)
            if ours is not None and ours != header.hash:
                continue  # the server moved on; our reorg handling goes first
            try:
                root = merkle_root_from_branch(txid, branch["merkle"], int(branch["pos"]))
            except (KeyError, TypeError, ValueError):
                continue
            if root == header.merkle_root:
                proven[(txid, height)] = header.hash
            else:
                log.warning("%s: merkle proof of %s at %d does not match", self.name, txid, height)
        return proven


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."
