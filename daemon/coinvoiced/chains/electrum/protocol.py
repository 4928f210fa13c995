"""Facts of the Electrum protocol that need no network: status hashes, 80-byte headers,
merkle proofs. Hashes travel as hex in display order (byte-reversed double-SHA256)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# What we ask for in server.version. 1.4 is what ElectrumX 1.16+, Fulcrum and electrs all
# speak; 1.4.2 adds blockchain.scripthash.unsubscribe. 1.6 renames the scripthash methods
# (blockchain.scriptpubkey.*) and is not offered until it is implemented here.
PROTOCOL_MIN = "1.4"
PROTOCOL_MAX = "1.4.2"

# Genesis block hashes per configured network, checked against server.features so that a
# server of another chain is refused instead of silently never showing a payment.
# Regtest chains each have their own genesis: not checked.
GENESIS: dict[str, frozenset[str]] = {
    "mainnet": frozenset({"000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"}),
    "testnet": frozenset(
        {
            "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",  # testnet3
            "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",  # testnet4
        }
    ),
    "signet": frozenset({"00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6"}),
    "litecoin": frozenset({"12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2"}),
    "litecoin-testnet": frozenset(
        {"4966625a4b2851d9fdee139e56211a0d88575f59ed816ff5e6a63deb4e3e29a0"}
    ),
}

HistoryEntry = tuple[str, int]  # (txid hex, height: >0 mined, 0 mempool, -1 mempool w/ parent)


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def status_hash(history: Iterable[HistoryEntry]) -> str | None:
    """The status of a scripthash (protocol-basics "Status"): sha256 of the concatenated
    "tx_hash:height:" strings in history order; None for an empty history."""
    text = "".join(f"{txid}:{height}:" for txid, height in history)
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def canonical_order(
    history: Sequence[HistoryEntry], positions: dict[str, int] | None = None
) -> list[HistoryEntry]:
    """History in the order the status is defined on: confirmed by (height, position in
    block), then mempool height-0 before height -1, each by txid."""
    positions = positions or {}
    mined = sorted((e for e in history if e[1] > 0), key=lambda e: (e[1], positions.get(e[0], 0)))
    pool = sorted((e for e in history if e[1] <= 0), key=lambda e: (-e[1], e[0]))
    return mined + pool


@dataclass(frozen=True, slots=True)
class Header:
    height: int
    hash: str  # display hex
    prev_hash: str  # display hex
    merkle_root: str  # display hex
    raw: bytes

    @classmethod
    def parse(cls, height: int, raw: bytes) -> Header:
        # Only the first 80 bytes are the Bitcoin header (AuxPoW chains append more).
        if len(raw) < 80:
            raise ValueError(f"header at {height} is {len(raw)} bytes, expected 80")
        head = raw[:80]
        return cls(
            height=height,
            hash=sha256d(head)[::-1].hex(),
            prev_hash=head[4:36][::-1].hex(),
            merkle_root=head[36:68][::-1].hex(),
            raw=head,
        )


def merkle_root_from_branch(txid: str, branch: Sequence[str], position: int) -> str:
    """Fold a blockchain.transaction.get_merkle branch (deepest pairing first) into the
    block's merkle root (display hex)."""
    node = bytes.fromhex(txid)[::-1]
    for sibling_hex in branch:
        sibling = bytes.fromhex(sibling_hex)[::-1]
        node = sha256d(sibling + node) if position & 1 else sha256d(node + sibling)
        position >>= 1
    return node[::-1].hex()


def merkle_root(txids: Sequence[str]) -> str:
    """Merkle root of a block's transactions (display hex in, display hex out)."""
    level = [bytes.fromhex(t)[::-1] for t in txids]
    if not level:
        raise ValueError("a block has at least one transaction")
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return level[0][::-1].hex()


def merkle_branch(txids: Sequence[str], index: int) -> list[str]:
    """The get_merkle branch of txids[index] (display hex)."""
    level = [bytes.fromhex(t)[::-1] for t in txids]
    branch: list[str] = []
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        branch.append(level[index ^ 1][::-1].hex())
        level = [sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        index >>= 1
    return branch
