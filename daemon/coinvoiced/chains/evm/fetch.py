"""Fetching a run of consecutive blocks with everything needed to find payments in them,
in a fixed number of round trips whatever the run's length:

1. one JSON-RPC batch of eth_getBlockByNumber(n, true) for the whole run;
2. one batch of eth_getLogs by block hash (ERC-20 Transfer logs of the configured
   contracts) for every block, plus eth_getTransactionReceipt for each transaction that
   pays a watched address (only those: a reverted transaction pays nothing).

Logs are asked for by block *hash* (EIP-234), never by number, so they can only belong to
the block we hold. The run is cut short at the first sign that the node switched branches
while we were asking (a parent hash that does not chain, a receipt from another block):
the caller records what is consistent and asks again, where its parent-hash check against
stored blocks sees the reorg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...domain.model import Transfer
from . import decode
from .rpc import Call, Rpc


@dataclass(slots=True)
class FetchedBlock:
    height: int
    hash: str
    parent_hash: str
    transfers: list[Transfer] = field(default_factory=list)
    tx_count: int = 0


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
        self._log_filter_addresses = sorted(tokens)

    async def headers(self, heights: list[int]) -> dict[int, decode.Header | None]:
        """The node's current block header at each height (None beyond its tip)."""
        raws = await self.rpc.batch([("eth_getBlockByNumber", [hex(h), False]) for h in heights])
        return {h: (decode.header(r) if r else None) for h, r in zip(heights, raws, strict=True)}

    async def latest(self) -> decode.Header:
        return decode.header(await self.rpc.call("eth_getBlockByNumber", ["latest", False]))

    async def blocks(self, start: int, end: int) -> list[FetchedBlock]:
        """Blocks start..end (inclusive) as the node has them now, with their payments.
        Shorter than asked (possibly empty) when the node's tip is lower or its chain
        changed under us."""
        raws = await self.rpc.batch(
            [("eth_getBlockByNumber", [hex(h), True]) for h in range(start, end + 1)]
        )
        blocks: list[FetchedBlock] = []
        candidates: list[list[Transfer]] = []
        chain, table, native = self.chain, self.table, self.native_asset
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
        if not blocks:
            return blocks

        calls: list[Call] = []
        if self.tokens:
            address = self._log_filter_addresses
            topics = [decode.TRANSFER_TOPIC]
            calls += [
                ("eth_getLogs", [{"blockHash": b.hash, "address": address, "topics": topics}])
                for b in blocks
            ]
        receipt_of: list[tuple[int, Transfer]] = []  # (block position, candidate)
        for pos, found in enumerate(candidates):
            for transfer in found:
                receipt_of.append((pos, transfer))
                calls.append(("eth_getTransactionReceipt", [transfer.txid]))
        if not calls:
            return blocks
        results = await self.rpc.batch(calls)

        consistent = len(blocks)
        if self.tokens:
            for pos, block in enumerate(blocks):
                logs: list[dict[str, Any]] = results[pos]
                if any(log.get("blockHash", block.hash).lower() != block.hash for log in logs):
                    consistent = min(consistent, pos)
                    continue
                block.transfers.extend(
                    decode.token_transfers(
                        chain, logs, self.tokens, table, block.height, block.hash
                    )
                )
            results = results[len(blocks) :]
        for (pos, transfer), receipt in zip(receipt_of, results, strict=True):
            if receipt is None or receipt["blockHash"].lower() != blocks[pos].hash:
                consistent = min(consistent, pos)
            elif decode.receipt_succeeded(receipt):
                blocks[pos].transfers.append(transfer)
        return blocks[:consistent]
