"""The websocket JSON-RPC transport against a real anvil: calls, ordered batches, errors,
newHeads notifications, and what a lost connection looks like to its owner."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coinvoiced.chains.evm.rpc import HttpRpc, NodeUnavailable, RpcError, WsRpc, redact

from .anvil import Anvil


async def test_calls_batches_and_errors(anvil: Anvil) -> None:
    await asyncio.to_thread(anvil.mine, 2)
    rpc = WsRpc(anvil.ws_url)
    await rpc.connect()
    try:
        assert int(await rpc.call("eth_chainId"), 16) == 31337
        heights = [hex(n) for n in range(3)]
        blocks = await rpc.batch([("eth_getBlockByNumber", [n, False]) for n in heights])
        assert [b["number"] for b in blocks] == heights  # in the order asked
        far = await rpc.batch([("eth_getBlockByNumber", [hex(10**6), False])])
        assert far == [None]  # beyond the tip: a null result, not an error
        with pytest.raises(RpcError, match="no_such_method"):
            await rpc.call("no_such_method")
        with pytest.raises(RpcError):
            await rpc.batch([("eth_chainId", []), ("no_such_method", [])])
        assert int(await rpc.call("eth_blockNumber"), 16) >= 0  # still usable
    finally:
        await rpc.close()


async def test_http_transport(anvil: Anvil) -> None:
    rpc = HttpRpc(anvil.http_url)
    try:
        chain_id, number = await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
        assert int(chain_id, 16) == 31337 and int(number, 16) >= 0
    finally:
        await rpc.close()


async def test_new_heads_and_a_lost_connection(make_anvil: Any) -> None:
    node: Anvil = make_anvil()
    heads: asyncio.Queue[int] = asyncio.Queue()
    closed = asyncio.Event()
    rpc = WsRpc(
        node.ws_url,
        on_notification=lambda _sub, head: heads.put_nowait(int(head["number"], 16)),
        on_close=closed.set,
    )
    await rpc.connect()
    try:
        await rpc.call("eth_subscribe", ["newHeads"])
        await asyncio.to_thread(node.mine)
        assert await asyncio.wait_for(heads.get(), 10) == 1
        await asyncio.to_thread(node.stop)
        await asyncio.wait_for(closed.wait(), 10)
        assert rpc.closed
        with pytest.raises(NodeUnavailable):
            await rpc.call("eth_blockNumber")
    finally:
        await rpc.close()


async def test_unreachable_node() -> None:
    rpc = WsRpc("ws://127.0.0.1:1")
    with pytest.raises(NodeUnavailable):
        await rpc.connect(timeout=5)


def test_redact_keeps_keys_out_of_logs() -> None:
    assert redact("ws://127.0.0.1:8545") == "ws://127.0.0.1:8545"
    assert redact("wss://mainnet.infura.io/ws/v3/0123abcd") == "wss://mainnet.infura.io/..."
    assert redact("https://user:secret@node.example:8443") == "https://node.example:8443/..."
