"""A regtest Electrum-protocol server for tests: aiorpcx over TCP (or TLS), backed by
RegtestChain, in a thread with its own event loop. Tests drive it through blocking
methods (pay, mine, replace, reorg, drop_connections, restart) that run on that loop.

It answers what coinvoice and Electrum wallets use from protocol 1.4-1.4.2 the way
ElectrumX does: status notifications only when a status changes, only the newest tip
when several blocks arrive at once, and (optionally) a status notification sent before
the reply to the subscribe request that caused it, as some servers do.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiorpcx import (
    JSONRPC,
    Notification,
    RPCError,
    RPCSession,
    serve_rs,
)
from coinvoiced.chains.derivation import electrum_scripthash

from .chain import RegtestChain, Tx

T = TypeVar("T")
SOFTWARE = "FixtureX 1.0"
PROTOCOLS = ("1.4", "1.4.1", "1.4.2")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


class FixtureSession(RPCSession):
    cost_hard_limit = 0  # no anti-DoS throttling in tests (a benchmark sends 100k calls)
    initial_concurrent = 1000

    def __init__(self, server: ElectrumServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = server
        self.protocol: str | None = None
        self.headers_subscribed = False
        self.statuses: dict[bytes, str | None] = {}  # subscribed scripthash -> last sent
        self.requests = 0
        server.sessions.add(self)

    async def connection_lost(self) -> None:
        await super().connection_lost()
        self.server.sessions.discard(self)

    async def handle_request(self, request: Any) -> Any:
        self.requests += 1
        self.server.requests += 1
        if isinstance(request, Notification):
            return None
        method = request.method
        calls = self.server.calls
        calls[method] = calls.get(method, 0) + 1
        args = list(request.args) if isinstance(request.args, list | tuple) else []
        if self.protocol is None and method != "server.version":
            raise RPCError(JSONRPC.INVALID_REQUEST, "server.version must come first")
        handler: Callable[..., Any] | None = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            raise RPCError(JSONRPC.METHOD_NOT_FOUND, f"unknown method {method!r}")
        try:
            return await handler(*args)
        except TypeError as exc:
            raise RPCError(JSONRPC.INVALID_ARGS, str(exc)) from None

    # -- methods -- #

    async def m_server_version(self, client_name: str = "", protocol: Any = "1.4") -> list[str]:
        if self.protocol is not None:
            raise RPCError(JSONRPC.INVALID_REQUEST, "server.version already sent")
        low, high = (protocol, protocol) if isinstance(protocol, str) else protocol
        ours = [p for p in PROTOCOLS if _version(low) <= _version(p) <= _version(high)]
        if not ours:
            await self.close()
            raise RPCError(JSONRPC.INVALID_REQUEST, "no common protocol version")
        self.protocol = max(ours, key=_version)
        return [SOFTWARE, self.protocol]

    async def m_server_ping(self) -> None:
        return None

    async def m_server_features(self) -> dict[str, Any]:
        return {
            "genesis_hash": self.server.chain.blocks[0].hash,
            "hosts": {},
            "protocol_min": PROTOCOLS[0],
            "protocol_max": PROTOCOLS[-1],
            "pruning": None,
            "server_version": SOFTWARE,
            "hash_function": "sha256",
        }

    async def m_blockchain_headers_subscribe(self) -> dict[str, Any]:
        self.headers_subscribed = True
        return self.server.tip_message()

    async def m_blockchain_block_header(self, height: int, cp_height: int = 0) -> str:
        chain = self.server.chain
        if not isinstance(height, int) or not 0 <= height <= chain.height:
            raise RPCError(JSONRPC.INVALID_ARGS, f"height {height} out of range")
        return chain.blocks[height].header.hex()

    async def m_blockchain_block_headers(
        self, start_height: int, count: int, cp_height: int = 0
    ) -> dict[str, Any]:
        chain = self.server.chain
        if start_height < 0 or count < 0:
            raise RPCError(JSONRPC.INVALID_ARGS, "bad range")
        count = min(count, 2016)
        headers = [b.header for b in chain.blocks[start_height : start_height + count]]
        return {"count": len(headers), "hex": b"".join(headers).hex(), "max": 2016}

    def _scripthash(self, text: Any) -> bytes:
        try:
            raw = bytes.fromhex(text)
        except (TypeError, ValueError):
            raw = b""
        if len(raw) != 32:
            raise RPCError(JSONRPC.INVALID_ARGS, f"{text!r} is not a scripthash")
        return raw  # the wire form is the hex of electrum_scripthash (reversed sha256)

    async def m_blockchain_scripthash_subscribe(self, scripthash: str) -> str | None:
        key = self._scripthash(scripthash)
        status = self.server.status(key)
        self.statuses[key] = status
        if self.server.notify_before_reply and status is not None:
            await self.send_notification("blockchain.scripthash.subscribe", (scripthash, status))
        return status

    async def m_blockchain_scripthash_unsubscribe(self, scripthash: str) -> bool:
        if _version(self.protocol or "1.4") < (1, 4, 2):
            raise RPCError(JSONRPC.METHOD_NOT_FOUND, "unknown method")
        return self.statuses.pop(self._scripthash(scripthash), ...) is not ...

    async def m_blockchain_scripthash_get_history(self, scripthash: str) -> list[dict[str, Any]]:
        chain = self.server.chain
        result: list[dict[str, Any]] = []
        for txid, height in chain.history(self._scripthash(scripthash)):
            entry: dict[str, Any] = {"tx_hash": txid, "height": height}
            if height <= 0:
                fee = chain.fee(chain.txs[txid])
                if fee is not None:
                    entry["fee"] = fee
            result.append(entry)
        return result

    async def m_blockchain_transaction_get(self, tx_hash: str, verbose: bool = False) -> str:
        if verbose:
            raise RPCError(JSONRPC.INVALID_ARGS, "verbose is not supported by this server")
        chain = self.server.chain
        tx = chain.txs.get(tx_hash)
        known = tx is not None and (tx_hash in chain.mempool or chain.confirmed_height(tx_hash))
        if not known:
            raise RPCError(2, f"no such mempool or blockchain transaction: {tx_hash}")
        assert tx is not None
        return tx.raw.hex()

    async def m_blockchain_transaction_get_merkle(
        self, tx_hash: str, height: int
    ) -> dict[str, Any]:
        chain = self.server.chain
        if chain.confirmed_height(tx_hash) != height:
            raise RPCError(2, f"tx {tx_hash} not in block at height {height}")
        return chain.merkle(tx_hash, height)


class ElectrumServer:
    """Start with `start()`; every public method is safe to call from the test thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.chain = RegtestChain()
        self.sessions: set[FixtureSession] = set()
        self.requests = 0
        self.calls: dict[str, int] = {}  # method -> requests received
        self.notify_before_reply = False
        self._status_cache: dict[bytes, str | None] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="electrum-fixture"
        )
        self._server: asyncio.base_events.Server | None = None
        self._thread.start()

    # -- plumbing -- #

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self._run(wrapper())

    @property
    def url(self) -> str:
        return f"{'ssl' if self.tls else 'tcp'}://{self.host}:{self.port}"

    def start(self) -> ElectrumServer:
        async def listen() -> None:
            self._server = await serve_rs(
                lambda transport: FixtureSession(self, transport),
                self.host,
                self.port,
                framer=None,
                ssl=self.tls,
                reuse_address=True,
            )
            self.port = self._server.sockets[0].getsockname()[1]

        self._run(listen())
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection (the chain is kept)."""

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for session in list(self.sessions):
                await session.abort()

        self._run(shutdown())

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def drop_connections(self) -> None:
        async def drop() -> None:
            for session in list(self.sessions):
                await session.abort()

        self._run(drop())

    def subscriptions(self) -> int:
        return self._call(lambda: sum(len(s.statuses) for s in self.sessions))

    def method_calls(self, method: str) -> int:
        return self._call(lambda: self.calls.get(method, 0))

    def session_count(self) -> int:
        return self._call(lambda: len(self.sessions))

    # -- protocol state (event loop only) -- #

    def status(self, key: bytes) -> str | None:
        if key not in self._status_cache:
            self._status_cache[key] = self.chain.status(key)
        return self._status_cache[key]

    def tip_message(self) -> dict[str, Any]:
        return {"height": self.chain.height, "hex": self.chain.tip.header.hex()}

    async def _announce(self, touched: set[bytes], tip_changed: bool) -> None:
        """Notify what changed, as a server does after processing a block or mempool
        update: the newest tip only, then each subscribed scripthash whose status moved."""
        for key in touched:
            self._status_cache.pop(key, None)
        for session in list(self.sessions):
            if tip_changed and session.headers_subscribed:
                await session.send_notification(
                    "blockchain.headers.subscribe", (self.tip_message(),)
                )
            for key in touched & session.statuses.keys():
                status = self.status(key)
                if status != session.statuses[key]:
                    session.statuses[key] = status
                    await session.send_notification(
                        "blockchain.scripthash.subscribe", (key.hex(), status)
                    )

    def _mutate(self, change: Callable[[], tuple[set[bytes], bool, T]]) -> T:
        async def run() -> T:
            touched, tip_changed, result = change()
            await self._announce(touched, tip_changed)
            return result

        return self._run(run())

    # -- driving the chain (test thread) -- #

    def pay(
        self, outputs: list[tuple[bytes, int]], *, rbf: bool = False, mine: bool = False
    ) -> str:
        """Broadcast a payment of (script, satoshi) outputs; with mine=True, also mine it."""

        def change() -> tuple[set[bytes], bool, str]:
            tx = self.chain.make_payment(outputs, rbf=rbf)
            self.chain.add_to_mempool(tx)
            if mine:
                self.chain.mine(1, [tx.txid])
            return self.chain.touched_by([tx.txid]), mine, tx.txid

        return self._mutate(change)

    def add_mempool(self, tx: Tx) -> None:
        def change() -> tuple[set[bytes], bool, None]:
            self.chain.add_to_mempool(tx)
            return self.chain.touched_by([tx.txid]), False, None

        self._mutate(change)

    def replace(self, txid: str, outputs: list[tuple[bytes, int]]) -> str:
        """RBF: a transaction spending the same inputs pays `outputs` instead."""

        def change() -> tuple[set[bytes], bool, str]:
            old = self.chain.mempool[txid]
            new = self.chain.make_payment(outputs, rbf=True, spends=old.spends)
            self.chain.remove_from_mempool(txid)
            self.chain.add_to_mempool(new)
            return self.chain.touched_by([txid, new.txid]), False, new.txid

        return self._mutate(change)

    def evict(self, txid: str) -> None:
        def change() -> tuple[set[bytes], bool, None]:
            self.chain.remove_from_mempool(txid)
            return self.chain.touched_by([txid]), False, None

        self._mutate(change)

    def mine(self, count: int = 1, txids: list[str] | None = None) -> list[str]:
        """Mine `count` blocks (the first takes `txids`, default the whole mempool); one
        headers notification for the new tip. Returns the block hashes."""

        def change() -> tuple[set[bytes], bool, list[str]]:
            before = list(self.chain.mempool) if txids is None else list(txids)
            blocks = self.chain.mine(count, txids)
            return self.chain.touched_by(before), True, [b.hash for b in blocks]

        return self._mutate(change)

    def reorg(
        self,
        depth: int,
        *,
        new_blocks: int | None = None,
        keep_in_mempool: bool = True,
        mine_orphaned: bool = False,
    ) -> list[str]:
        """Replace the top `depth` blocks with `new_blocks` (default depth + 1) new ones.
        Orphaned transactions go back to the mempool (or vanish with keep_in_mempool=False);
        with mine_orphaned=True the first new block includes them again."""

        def change() -> tuple[set[bytes], bool, list[str]]:
            orphaned = self.chain.reorg(depth, keep_in_mempool=keep_in_mempool)
            count = depth + 1 if new_blocks is None else new_blocks
            if count:
                take = orphaned if mine_orphaned else []
                self.chain.mine(count, take)
            return self.chain.touched_by(orphaned), True, orphaned

        return self._mutate(change)

    def history(self, script: bytes) -> list[tuple[str, int]]:
        return self._call(lambda: self.chain.history(electrum_scripthash(script)))

    @property
    def height(self) -> int:
        return self._call(lambda: self.chain.height)
