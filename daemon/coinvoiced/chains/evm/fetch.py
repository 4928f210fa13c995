"""Fetching the node's latest header and a run of consecutive blocks with everything needed
to find payments in them, in one round trip for most runs and two at most:

1. one JSON-RPC batch: the latest header, eth_getBlockByNumber(n, true) for every block of
   the run, and eth_getLogs over the run's range for ERC-20 Transfer logs of the
   configured contracts;
2. only if needed, one more batch: eth_getTransactionReceipt for each transaction that
   pays a watched address (a reverted transaction pays nothing), and eth_getLogs by block
   hash for blocks whose logs we cannot vouch for (below).

A log is credited to a block only if its blockHash is that block's hash. The batch's parts
may see different branches if the node reorganises while answering: a log of another
block at one of our heights, a receipt from another block, or a parent hash that does not
chain cuts the run short there; a block whose logsBloom says it may hold our logs while
the range query returned none for it gets its logs again by hash (EIP-234), which can
only answer for that very block. The caller records what is consistent and asks again,
where its parent-hash check against the blocks it recorded sees any reorg.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ...domain.model import Transfer
from . import decode
from .rpc import Call, Rpc

# Providers cap JSON-RPC batch sizes; receipts of a block where everything pays us (and
# logs asked by hash) go in batches of at most this many calls, sent together.
MAX_BATCH_CALLS = 500


@dataclass(slots=True)
class FetchedBlock:
    height: int
    hash: str
    parent_hash: str
    transfers: list[Transfer] = field(default_factory=list)
    tx_count: int = 0


@dataclass(slots=True)
class Fetched:
    latest: decode.Header  # the node's tip when it answered
    blocks: list[FetchedBlock]  # consecutive, chained by parent hash; maybe empty


class BlockSource:
    def __init__(
        self,
        chain: str,
        rpc: Rpc,
        table: dict[bytes, int],
        native_asset: str | None,
        tokens: dict[str, str],
    ) -> None:
        self.chain = chain
        self.rpc = rpc
        self.table = table  # the live address index of this chain (read only)
        self.native_asset = native_asset
        self.tokens = tokens  # lowercase contract -> asset code
        self._contracts = sorted(tokens)
        self._bloom = decode.LogsBloomFilter(self._contracts)

    async def headers(self, heights: list[int]) -> dict[int, decode.Header | None]:
        """The node's current block header at each height (None beyond its tip)."""
        raws = await self.rpc.batch([("eth_getBlockByNumber", [hex(h), False]) for h in heights])
        return {h: (decode.header(r) if r else None) for h, r in zip(heights, raws, strict=True)}

    async def latest(self) -> decode.Header:
        return decode.header(await self.rpc.call("eth_getBlockByNumber", ["latest", False]))

    async def _batch(self, calls: list[Call]) -> list[Any]:
        if len(calls) <= MAX_BATCH_CALLS:
            return await self.rpc.batch(calls)
        parts = await asyncio.gather(
            *(
                self.rpc.batch(calls[i : i + MAX_BATCH_CALLS])
                for i in range(0, len(calls), MAX_BATCH_CALLS)
            )
        )
        return [result for part in parts for result in part]

    def _logs_filter(self, **where: str) -> dict[str, Any]:
        return {**where, "address": self._contracts, "topics": [decode.TRANSFER_TOPIC]}

    async def fetch(self, start: int, end: int, known_tip: int | None) -> Fetched:
        """The latest header, and blocks start..end (inclusive) as the node has them now
        with their payments: fewer (maybe none) when its tip is lower or its chain changed
        while it answered. The range query for logs stops at `known_tip` (nodes refuse
        ranges beyond their head); blocks above it get their logs by hash if their bloom
        calls for it."""
        calls: list[Call] = [("eth_getBlockByNumber", ["latest", False])]
        calls += [("eth_getBlockByNumber", [hex(h), True]) for h in range(start, end + 1)]
        logs_end = min(end, known_tip if known_tip is not None else start - 1)
        ranged = bool(self.tokens) and logs_end >= start
        if ranged:
            calls.append(
                ("eth_getLogs", [self._logs_filter(fromBlock=hex(start), toBlock=hex(logs_end))])
            )
        results = await self.rpc.batch(calls)
        latest = decode.header(results[0])
        raws = results[1 : 2 + end - start]

        chain, table, native = self.chain, self.table, self.native_asset
        blocks: list[FetchedBlock] = []
        candidates: list[list[Transfer]] = []
        blooms: list[str | None] = []
        for raw in raws:
            if raw is None:
                break
            head = decode.header(raw)
            if blocks and head.parent_hash != blocks[-1].hash:
                break  # the node reorganised between two of our reads
            blocks.append(
                FetchedBlock(head.height, head.hash, head.parent_hash, [], len(raw["transactions"]))
            )
            candidates.append(
                decode.native_candidates(chain, native, raw, table, head.height, head.hash)
                if native is not None
                else []
            )
            blooms.append(raw.get("logsBloom"))
        if not blocks:
            return Fetched(latest, blocks)

        consistent = len(blocks)
        recheck: list[int] = []  # positions whose logs we fetch again by block hash
        if self.tokens:
            by_hash: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for log in results[-1] if ranged else ():
                by_hash[log["blockHash"].lower()].append(log)
            first = blocks[0].height
            for pos, block in enumerate(blocks):
                logs = by_hash.pop(block.hash, None)
                if logs:
                    block.transfers += decode.token_transfers(
                        chain, logs, self.tokens, table, block.height, block.hash
                    )
                elif self._bloom.may_contain(blooms[pos]):
                    # The range query (if it covered this block) said nothing where the
                    # bloom says there may be something: ask by hash, which cannot be
                    # answered from another branch.
                    recheck.append(pos)
            for logs in by_hash.values():  # logs of blocks we do not hold: another branch
                height = int(logs[0].get("blockNumber") or hex(first), 16)
                consistent = min(consistent, max(0, height - first))

        calls = [
            ("eth_getLogs", [self._logs_filter(blockHash=blocks[pos].hash)]) for pos in recheck
        ]
        receipt_of: list[tuple[int, Transfer]] = []  # (block position, candidate)
        for pos, found in enumerate(candidates):
            for transfer in found:
                receipt_of.append((pos, transfer))
                calls.append(("eth_getTransactionReceipt", [transfer.txid]))
        if calls:
            results = await self._batch(calls)
            for pos, logs in zip(recheck, results, strict=False):
                block = blocks[pos]
                if any(log["blockHash"].lower() != block.hash for log in logs):
                    consistent = min(consistent, pos)
                    continue
                block.transfers += decode.token_transfers(
                    chain, logs, self.tokens, table, block.height, block.hash
                )
            receipts = results[len(recheck) :]
            for (pos, transfer), receipt in zip(receipt_of, receipts, strict=True):
                if receipt is None or receipt["blockHash"].lower() != blocks[pos].hash:
                    consistent = min(consistent, pos)
                elif decode.receipt_succeeded(receipt):
                    blocks[pos].transfers.append(transfer)
        return Fetched(latest, blocks[:consistent])
