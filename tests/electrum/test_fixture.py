"""The fixture agrees with the Electrum protocol documentation: its examples of script
hashes, the status example (real regtest transactions, their heights and positions, mempool
heights 0 / -1 and ordering), headers, and merkle branches, over a real connection."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from bip_utils import SegwitBech32Decoder
from coinvoiced.chains.derivation import electrum_scripthash
from coinvoiced.chains.electrum.client import ElectrumClient, ServerUrl
from coinvoiced.chains.electrum.protocol import Header, merkle_root_from_branch, status_hash

from .server import ElectrumServer

# protocol-basics.rst, "Status Example": the raw transactions served to the client.
DOC_ADDRESS = "bcrt1qn7d2x7272lznt5hhk9s07q3cqnrqljnwladrd3"
DOC_SCRIPTHASH = "f04bf26fc16a27abaa2f10540da7a24e369e6ec408f2d901202a7c0cd4a6112d"
DOC_STATUS = "78e96c6562cafa71c115503b9411fdfdc595a45031e2ab76ff75162fe1b0590d"
DOC_TXS = dict(
    line.split()
    for line in (Path(__file__).parent / "status_example_txs.txt").read_text().splitlines()
    if line and not line.startswith("#")
)
# The history the docs show, in order (confirmed by height and block position, then the
# mempool: height 0 before -1, each by txid).
DOC_HISTORY = [
    ("a6c9c361bd0bc536d6a22648efbf8f9b200e425ef6c3a7a9669dc444c532a347", 2472),
    ("9c42f84b2fcdaff676ba25d9d4941741cc0d1a01cce0c23fdc4c0b2afa38431c", 2473),
    ("770f2d4371b3fabb902dd9a103e2dd005fcd3971181078fca4a2a1d6ff127b30", 2473),
    ("80b19848aed792565ab7c5a79b7c2a00fbf985741579396ebe0ab6098e607311", 0),
    ("e02a1dadfa83b996b24175df807b271ea5d02937ef5b35c195fac1e1bdc3198f", 0),
    ("bb4c8ab438c13b89ca80d1d5bee25b0b6b7f55673f4d801998ba97db161d9e85", -1),
]
# protocol-methods.rst, blockchain.block.headers example: Bitcoin blocks 0 and 1.
DOC_HEADERS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
    "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c010000006fe28c0a"
    "b6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee1467"
    "7ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299"
)


def test_script_hash_examples() -> None:
    p2pkh = bytes.fromhex("76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac")
    assert hashlib.sha256(p2pkh).hexdigest() == (
        "6191c3b590bfcfa0475e877c302da1e323497acf3b42c08d8fa28e364edf018b"
    )
    assert electrum_scripthash(p2pkh).hex() == (
        "8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161"
    )
    p2pk = bytes.fromhex(
        "4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38"
        "c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac"
    )
    assert electrum_scripthash(p2pk).hex() == (
        "740485f380ff6379d11ef6fe7d7cdd68aea7f8bd0d953d9fdf3531fb7d531833"
    )


def test_headers_example_parses_and_links() -> None:
    raw = bytes.fromhex(DOC_HEADERS_HEX)
    genesis, first = Header.parse(0, raw[:80]), Header.parse(1, raw[80:])
    assert genesis.hash == "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
    assert first.prev_hash == genesis.hash
    assert genesis.merkle_root == (
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    )


def doc_script() -> bytes:
    version, program = SegwitBech32Decoder.Decode("bcrt", DOC_ADDRESS)
    assert version == 0
    return bytes([0, len(program)]) + program


@pytest.fixture
def doc_server() -> Iterator[ElectrumServer]:
    """The status example's chain: blocks 2472 and 2473 hold the example's confirmed
    transactions at their positions; the other three wait in the mempool."""
    server = ElectrumServer().start()
    try:

        def build() -> None:
            chain = server.chain
            chain.mine(2471)
            txs = {txid: chain.add_raw(raw) for txid, raw in DOC_TXS.items()}
            assert set(txs) == {tx.txid for tx in txs.values()}  # real txids
            chain.mine(1, [DOC_HISTORY[0][0]])
            chain.mine(1, [DOC_HISTORY[1][0], DOC_HISTORY[2][0]])
            for txid, _ in DOC_HISTORY[3:]:
                chain.add_to_mempool(txs[txid])

        server._call(build)
        yield server
    finally:
        server.close()


def test_status_example_from_the_protocol_docs(doc_server: ElectrumServer) -> None:
    script = doc_script()
    assert electrum_scripthash(script).hex() == DOC_SCRIPTHASH
    assert doc_server.history(script) == DOC_HISTORY
    assert status_hash(DOC_HISTORY) == DOC_STATUS

    async def over_the_wire() -> None:
        client = ElectrumClient(ServerUrl.parse(doc_server.url), lambda m, a: None)
        await client.connect()
        try:
            assert await client.call("blockchain.scripthash.subscribe", DOC_SCRIPTHASH) == (
                DOC_STATUS
            )
            history = await client.call("blockchain.scripthash.get_history", DOC_SCRIPTHASH)
            assert [(e["tx_hash"], e["height"]) for e in history] == DOC_HISTORY
            for txid, raw in DOC_TXS.items():
                assert await client.call("blockchain.transaction.get", txid) == raw
            # Confirmed ones: the merkle branch leads to the header's merkle root, at the
            # positions the docs give (1 in 2472; 1 and 2 in 2473).
            for (txid, height), pos in zip(DOC_HISTORY[:3], (1, 1, 2), strict=True):
                proof = await client.call("blockchain.transaction.get_merkle", txid, height)
                assert proof["pos"] == pos and proof["block_height"] == height
                header = Header.parse(
                    height, bytes.fromhex(await client.call("blockchain.block.header", height))
                )
                assert merkle_root_from_branch(txid, proof["merkle"], pos) == header.merkle_root
            # Headers chain by hash; the tip is announced by headers.subscribe.
            chunk = await client.call("blockchain.block.headers", 2470, 4)
            raw = bytes.fromhex(chunk["hex"])
            assert chunk["count"] == 4 and len(raw) == 320
            headers = [Header.parse(2470 + i, raw[i * 80 : (i + 1) * 80]) for i in range(4)]
            for lower, upper in pairwise(headers):
                assert upper.prev_hash == lower.hash
            tip = await client.call("blockchain.headers.subscribe")
            assert tip["height"] == 2473 and tip["hex"] == headers[-1].raw.hex()
        finally:
            await client.close()

    asyncio.run(over_the_wire())


def test_notifications_follow_changes(electrum: ElectrumServer) -> None:
    """One notification per status change, newest tip only, optionally before the reply."""
    script = bytes.fromhex("0014") + bytes(20)
    key = electrum_scripthash(script).hex()
    seen: list[tuple[str, list[object]]] = []

    async def run() -> None:
        client = ElectrumClient(ServerUrl.parse(electrum.url), lambda m, a: seen.append((m, a)))
        await client.connect()
        try:
            await client.call("blockchain.headers.subscribe")
            assert await client.call("blockchain.scripthash.subscribe", key) is None
            await asyncio.to_thread(electrum.pay, [(script, 1000)])
            await asyncio.to_thread(electrum.mine, 3)
            history = await client.call("blockchain.scripthash.get_history", key)
            assert [e["height"] for e in history] == [1]
        finally:
            await client.close()

    asyncio.run(run())
    statuses = [a for m, a in seen if m == "blockchain.scripthash.subscribe"]
    tips = [a[0]["height"] for m, a in seen if m == "blockchain.headers.subscribe"]
    assert len(statuses) == 2  # mempool, then mined
    assert tips == [3]  # three blocks at once: only the newest tip

    electrum.notify_before_reply = True
    early: list[str] = []

    async def quirk() -> None:
        client = ElectrumClient(ServerUrl.parse(electrum.url), lambda m, a: early.append(m))
        await client.connect()
        try:
            status = await client.call("blockchain.scripthash.subscribe", key)
            assert early == ["blockchain.scripthash.subscribe"] and status is not None
        finally:
            await client.close()

    asyncio.run(quirk())
