"""Pure functions from a node's raw JSON (as orjson decoded it) to chain-neutral Transfers.

This is the hot path: a block can hold thousands of transactions and the index hundreds of
thousands of addresses, so each transaction or log costs one hex-to-bytes conversion and
one dict lookup, and only the few that hit a watched address build anything more. No web3
formatters here (they cost hundreds of milliseconds per full block). Quantities are hex
strings turned into ints; nothing is ever a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

from ...domain.model import Transfer

# topic0 of ERC-20 Transfer(address indexed from, address indexed to, uint256 value).
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


@dataclass(frozen=True, slots=True)
class Header:
    height: int
    hash: str
    parent_hash: str


def header(raw: dict[str, Any]) -> Header:
    return Header(int(raw["number"], 16), raw["hash"].lower(), raw["parentHash"].lower())


def native_candidates(
    chain: str,
    asset: str,
    block: dict[str, Any],
    table: dict[bytes, int],
    height: int,
    block_hash: str,
) -> list[Transfer]:
    """Transactions of a full block (eth_getBlockByNumber(n, true)) that send a non-zero
    value to a watched address. They count only once their receipt says success: a
    reverted transaction moves no value (see receipt_succeeded)."""
    found: list[Transfer] = []
    fromhex = bytes.fromhex
    for tx in block["transactions"]:
        to = tx.get("to")
        if to is None:  # contract creation
            continue
        key = fromhex(to[2:])
        if key not in table:
            continue
        value = int(tx["value"], 16)
        if value == 0:
            continue
        found.append(
            Transfer(
                chain=chain,
                txid=tx["hash"].lower(),
                index=0,
                asset=asset,
                address=to_checksum_address(to),
                amount=value,
                watch_key=key,
                height=height,
                block_hash=block_hash,
            )
        )
    return found


def receipt_succeeded(receipt: dict[str, Any]) -> bool:
    # Receipts before Byzantium carry a state root instead of a status: those transactions
    # could not revert without consuming the value transfer, so they count.
    status = receipt.get("status")
    return status is None or int(status, 16) == 1


def token_transfers(
    chain: str,
    logs: list[dict[str, Any]],
    tokens: dict[str, str],
    table: dict[bytes, int],
    height: int,
    block_hash: str,
) -> list[Transfer]:
    """ERC-20 Transfer logs of the configured token contracts (`tokens`: lowercase contract
    address -> asset code) whose `to` topic is a watched address. Logs flagged
    `removed` (reorged away, as subscriptions report them) never count."""
    found: list[Transfer] = []
    fromhex = bytes.fromhex
    for log in logs:
        topics = log["topics"]
        # ERC-721 shares the signature with a 4th (tokenId) topic: not a fungible amount.
        if len(topics) != 3 or topics[0] != TRANSFER_TOPIC or log.get("removed"):
            continue
        key = fromhex(topics[2][26:])
        if key not in table:
            continue
        asset = tokens.get(log["address"].lower())
        data = log["data"]
        if asset is None or len(data) != 66:  # value is exactly one 32-byte word
            continue
        amount = int(data, 16)
        if amount == 0:
            continue
        found.append(
            Transfer(
                chain=chain,
                txid=log["transactionHash"].lower(),
                index=int(log["logIndex"], 16),
                asset=asset,
                address=to_checksum_address("0x" + topics[2][26:]),
                amount=amount,
                watch_key=key,
                height=height,
                block_hash=block_hash,
            )
        )
    return found


def bloom_mask(item: bytes) -> int:
    """The three bits an address or topic sets in a block's 2048-bit logsBloom (yellow
    paper M3:2048), as an int to test with one AND."""
    digest = keccak(item)
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 0x7FF)
    return mask


class LogsBloomFilter:
    """Whether a block *may* hold Transfer logs of our token contracts (a bloom filter: no
    false negatives, some false positives)."""

    def __init__(self, contracts: list[str]) -> None:
        self._topic = bloom_mask(bytes.fromhex(TRANSFER_TOPIC[2:]))
        self._contracts = [bloom_mask(bytes.fromhex(c[2:])) for c in contracts]

    def may_contain(self, logs_bloom: str | None) -> bool:
        if not logs_bloom:
            return True  # no bloom: cannot rule anything out
        bloom = int(logs_bloom, 16)
        if bloom & self._topic != self._topic:
            return False
        return any(bloom & mask == mask for mask in self._contracts)
