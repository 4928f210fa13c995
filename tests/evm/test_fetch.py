"""BlockSource's consistency rules when the node changes branches while answering a batch.

A real node cannot be made to reorganise between two items of one JSON-RPC batch on
cue, so these tests answer the batches from a scripted node: plain JSON as a node sends
it, with the branch switched at a chosen moment. Everything else runs for real."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coinvoiced.chains.evm import decode
from coinvoiced.chains.evm.fetch import BlockSource

TOKEN = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
PAYER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
INVOICE = "0x9858effd232b4033e47d90003d41ec34ecaeda94"
TABLE = {bytes.fromhex(INVOICE[2:]): 1}
OUR_BLOOM = decode.bloom_mask(bytes.fromhex(TOKEN[2:])) | decode.bloom_mask(
    bytes.fromhex(decode.TRANSFER_TOPIC[2:])
)


def h(branch: str, height: int) -> str:
    return "0x" + f"{ord(branch):02x}{height:062x}"


class Branch:
    """Blocks 0..tip; block `paid_at` holds a native payment (tx n) and a token payment."""

    def __init__(self, name: str, tip: int, paid_at: int, forks_at: int = 0) -> None:
        self.name, self.tip, self.paid_at, self.forks_at = name, tip, paid_at, forks_at
        self.receipt_status = "0x1"

    def hash(self, height: int) -> str:
        return h("a" if height < self.forks_at else self.name, height)

    def block(self, height: int) -> dict[str, Any] | None:
        if height > self.tip:
            return None
        paid = height == self.paid_at
        txs = [{"hash": self.txid(height), "to": INVOICE, "value": hex(10**18)}] if paid else []
        bloom = OUR_BLOOM if paid else 0
        return {
            "number": hex(height),
            "hash": self.hash(height),
            "parentHash": self.hash(height - 1),
            "transactions": txs,
            "logsBloom": "0x" + bloom.to_bytes(256, "big").hex(),
        }

    def txid(self, height: int) -> str:
        return "0x" + f"{ord(self.name):02x}{height:062x}"

    def logs(self, heights: range) -> list[dict[str, Any]]:
        if self.paid_at not in heights or self.paid_at > self.tip:
            return []
        return [
            {
                "address": TOKEN,
                "topics": [
                    decode.TRANSFER_TOPIC,
                    "0x" + "00" * 12 + PAYER[2:],
                    "0x" + "00" * 12 + INVOICE[2:],
                ],
                "data": "0x" + (5_000_000).to_bytes(32, "big").hex(),
                "transactionHash": "0x" + "77" * 32,
                "logIndex": "0x0",
                "blockNumber": hex(self.paid_at),
                "blockHash": self.hash(self.paid_at),
            }
        ]

    def receipt(self, txid: str) -> dict[str, Any] | None:
        if txid != self.txid(self.paid_at):
            return None
        return {"blockHash": self.hash(self.paid_at), "status": self.receipt_status}


class ScriptedNode:
    """Answers batches from `branch`; `switch_after` items into the first batch, it
    answers from `then` instead (a reorg while the node is answering)."""

    def __init__(self, branch: Branch, then: Branch | None = None, switch_after: int = 0) -> None:
        self.branch, self.then, self.switch_after = branch, then, switch_after
        self.answered = 0
        self.batches: list[list[str]] = []

    def _current(self) -> Branch:
        if self.then is not None and self.answered >= self.switch_after:
            return self.then
        return self.branch

    def _answer(self, method: str, params: Sequence[Any]) -> Any:
        branch = self._current()
        self.answered += 1
        if method == "eth_getBlockByNumber":
            tag = params[0]
            return branch.block(branch.tip if tag == "latest" else int(tag, 16))
        if method == "eth_getLogs":
            where = params[0]
            if "blockHash" in where:
                heights = [n for n in range(branch.tip + 1) if branch.hash(n) == where["blockHash"]]
                return branch.logs(range(heights[0], heights[0] + 1)) if heights else []
            return branch.logs(range(int(where["fromBlock"], 16), int(where["toBlock"], 16) + 1))
        if method == "eth_getTransactionReceipt":
            return branch.receipt(params[0])
        raise AssertionError(method)

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        return self._answer(method, params)

    async def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        self.batches.append([m for m, _ in calls])
        return [self._answer(m, p) for m, p in calls]


def source(node: ScriptedNode, tokens: bool = True) -> BlockSource:
    return BlockSource("anvil", node, TABLE, "ETH", {TOKEN: "TUSD"} if tokens else {})


async def test_a_run_with_payments_in_one_round_trip_plus_receipts() -> None:
    node = ScriptedNode(Branch("a", tip=10, paid_at=7))
    fetched = await source(node).fetch(5, 10, known_tip=10)
    assert [b.height for b in fetched.blocks] == [5, 6, 7, 8, 9, 10]
    assert fetched.latest.height == 10
    paid = fetched.blocks[2]
    assert sorted((t.asset, t.amount) for t in paid.transfers) == [
        ("ETH", 10**18),
        ("TUSD", 5_000_000),
    ]
    # First batch: latest + 6 blocks + one ranged getLogs; second: the one receipt.
    assert node.batches[1] == ["eth_getTransactionReceipt"]


async def test_a_reverted_native_payment_counts_nothing() -> None:
    branch = Branch("a", tip=10, paid_at=7)
    branch.receipt_status = "0x0"
    fetched = await source(ScriptedNode(branch), tokens=False).fetch(7, 7, known_tip=10)
    assert fetched.blocks[0].transfers == []


async def test_logs_from_another_branch_cut_the_run_before_that_height() -> None:
    # Blocks come from branch a; by the time the node answers getLogs it is on branch b
    # (forked at 6), whose block 7 pays: that log is not of any block we hold.
    before = Branch("a", tip=10, paid_at=99)
    after = Branch("b", tip=10, paid_at=7, forks_at=6)
    node = ScriptedNode(before, then=after, switch_after=7)  # latest + blocks 5..10
    fetched = await source(node).fetch(5, 10, known_tip=10)
    assert [b.height for b in fetched.blocks] == [5, 6]
    assert all(not b.transfers for b in fetched.blocks)


async def test_a_bloom_hit_without_ranged_logs_asks_by_hash() -> None:
    # Blocks from branch a (block 7 pays in tokens, so its bloom says so); the ranged
    # getLogs is answered from branch b, which has no payment at all.
    before = Branch("a", tip=10, paid_at=7)
    after = Branch("b", tip=10, paid_at=99, forks_at=6)
    node = ScriptedNode(before, then=after, switch_after=7)
    fetched = await source(node, tokens=True).fetch(5, 10, known_tip=10)
    # By hash the node can only answer for branch a's block 7 - which it no longer
    # has: the by-hash query finds nothing, and the receipt is of another block.
    assert [b.height for b in fetched.blocks] == [5, 6]
    assert "eth_getLogs" in node.batches[1]


async def test_by_hash_logs_are_used_for_blocks_beyond_the_known_tip() -> None:
    node = ScriptedNode(Branch("a", tip=10, paid_at=10))
    fetched = await source(node).fetch(9, 10, known_tip=9)  # block 10 not announced yet
    assert node.batches[0].count("eth_getLogs") == 1
    assert "eth_getLogs" in node.batches[1]  # block 10's logs, asked by its hash
    assert sorted(t.asset for t in fetched.blocks[1].transfers) == ["ETH", "TUSD"]


async def test_a_receipt_from_another_block_cuts_the_run() -> None:
    before = Branch("a", tip=10, paid_at=8)
    after = Branch("b", tip=10, paid_at=8, forks_at=8)  # same height, other block
    node = ScriptedNode(before, then=after, switch_after=7)  # switch before the receipts
    fetched = await source(node, tokens=False).fetch(5, 10, known_tip=10)
    assert [b.height for b in fetched.blocks] == [5, 6, 7]


async def test_a_parent_that_does_not_chain_cuts_the_run() -> None:
    before = Branch("a", tip=10, paid_at=99)
    after = Branch("b", tip=10, paid_at=99, forks_at=7)
    node = ScriptedNode(before, then=after, switch_after=4)  # latest, 5, 6, 7 from a
    fetched = await source(node, tokens=False).fetch(5, 10, known_tip=10)
    assert [b.height for b in fetched.blocks] == [5, 6, 7]  # b's 8 does not follow a's 7
