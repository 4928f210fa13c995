"""An in-memory regtest chain for the Electrum fixture: real serialized transactions
(python-bitcointx), real 80-byte headers chained by hash, real merkle roots, and the
Electrum protocol's view of it (scripthash history in protocol order, status hashes,
mempool heights 0 / -1).

Not thread-safe on its own: the fixture server calls it from its event loop only.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass, field

from bitcointx.core import (
    CMutableTransaction,
    COutPoint,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    b2lx,
    lx,
)
from bitcointx.core.script import CScript, CScriptWitness
from coinvoiced.chains.derivation import electrum_scripthash
from coinvoiced.chains.electrum.protocol import (
    Header,
    canonical_order,
    merkle_branch,
    merkle_root,
    sha256d,
    status_hash,
)

REGTEST_BITS = 0x207FFFFF
FAUCET_SCRIPT = bytes.fromhex("0014") + bytes(range(20))  # coinbase outputs go here
FINAL = 0xFFFFFFFF
RBF = 0xFFFFFFFD


@dataclass(slots=True)
class Tx:
    txid: str
    raw: bytes
    # (prev txid, prev vout) spent; coinbase has none
    spends: list[tuple[str, int]]
    outputs: list[tuple[bytes, int]]  # (script, value)


@dataclass(slots=True)
class Block:
    height: int
    header: bytes
    txids: list[str]

    @property
    def hash(self) -> str:
        return sha256d(self.header)[::-1].hex()


@dataclass
class RegtestChain:
    blocks: list[Block] = field(default_factory=list)
    mempool: dict[str, Tx] = field(default_factory=dict)  # insertion order kept
    txs: dict[str, Tx] = field(default_factory=dict)  # every tx ever made (for lookups)
    _funding: itertools.count = field(default_factory=lambda: itertools.count(1))
    _time: int = 1_700_000_000
    # scripthash -> txids that pay to or spend from it (any tx ever made)
    _touching: dict[bytes, set[str]] = field(default_factory=dict)
    # txid -> (height, position) on the current best chain
    _where: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.blocks:
            self._add_block([])  # genesis

    # -- building -- #

    @property
    def height(self) -> int:
        return len(self.blocks) - 1

    @property
    def tip(self) -> Block:
        return self.blocks[-1]

    def _coinbase(self, height: int) -> Tx:
        # BIP34: the coinbase scriptSig starts with the height, which keeps txids unique.
        script_sig = CScript([height, b"coinvoice-fixture"])
        tx = CMutableTransaction(
            [CTxIn(COutPoint(), script_sig, FINAL)],
            [CTxOut(50_0000_0000, CScript(FAUCET_SCRIPT))],
        )
        return self._remember(tx, [])

    def _remember(self, tx: CMutableTransaction, spends: list[tuple[str, int]]) -> Tx:
        frozen = CTransaction.from_tx(tx)
        item = Tx(
            b2lx(frozen.GetTxid()),
            frozen.serialize(),
            spends,
            [(bytes(o.scriptPubKey), int(o.nValue)) for o in frozen.vout],
        )
        self.txs[item.txid] = item
        touched = {electrum_scripthash(script) for script, _ in item.outputs}
        for prev_txid, n in spends:
            prev = self.txs.get(prev_txid)
            if prev is not None:
                touched.add(electrum_scripthash(prev.outputs[n][0]))
        for scripthash in touched:
            self._touching.setdefault(scripthash, set()).add(item.txid)
        return item

    def _add_block(self, txids: list[str]) -> Block:
        height = len(self.blocks)
        coinbase = self._coinbase(height)
        all_txids = [coinbase.txid, *txids]
        prev = bytes.fromhex(self.blocks[-1].hash)[::-1] if self.blocks else bytes(32)
        self._time += 600
        header = (
            struct.pack("<i", 0x20000000)
            + prev
            + bytes.fromhex(merkle_root(all_txids))[::-1]
            + struct.pack("<III", self._time, REGTEST_BITS, height)
        )
        block = Block(height, header, all_txids)
        self.blocks.append(block)
        for position, txid in enumerate(all_txids):
            self._where[txid] = (height, position)
        return block

    def make_payment(
        self,
        outputs: list[tuple[bytes, int]],
        *,
        rbf: bool = False,
        spends: list[tuple[str, int]] | None = None,
    ) -> Tx:
        """A segwit transaction paying `outputs` (script, satoshi). It spends a fresh
        outpoint of an external funding transaction (always 'confirmed' to the server),
        or `spends` (e.g. to replace a transaction)."""
        if spends is None:
            funding = hashlib.sha256(b"funding-%d" % next(self._funding)).digest()
            spends = [(funding[::-1].hex(), 0)]
        vin = [
            CTxIn(COutPoint(lx(txid), n), CScript(), RBF if rbf else FINAL - 1)
            for txid, n in spends
        ]
        vout = [CTxOut(value, CScript(script)) for script, value in outputs]
        # A P2WPKH-shaped witness (signature + key); nobody verifies it here, but it makes
        # the serialization the segwit one, whose txid excludes the witness.
        witness = CTxWitness(
            [CTxInWitness(CScriptWitness([b"\x30" * 71, b"\x02" + bytes(32)])) for _ in vin]
        )
        tx = CMutableTransaction(vin, vout, nLockTime=self.height, nVersion=2, witness=witness)
        return self._remember(tx, spends)

    def add_raw(self, raw_hex: str) -> Tx:
        """Take a serialized transaction made elsewhere (e.g. the protocol docs' examples)."""
        frozen = CTransaction.deserialize(bytes.fromhex(raw_hex))
        spends = [(b2lx(i.prevout.hash), i.prevout.n) for i in frozen.vin]
        return self._remember(CMutableTransaction.from_tx(frozen), spends)

    # -- mutations -- #

    def add_to_mempool(self, tx: Tx) -> None:
        self.mempool[tx.txid] = tx

    def remove_from_mempool(self, txid: str) -> None:
        """Remove a transaction and everything in the mempool that spends it."""
        gone = {txid}
        self.mempool.pop(txid, None)
        changed = True
        while changed:
            changed = False
            for other in list(self.mempool.values()):
                if any(prev in gone for prev, _ in other.spends):
                    gone.add(other.txid)
                    del self.mempool[other.txid]
                    changed = True

    def mine(self, count: int = 1, txids: list[str] | None = None) -> list[Block]:
        """Mine `count` blocks; the first takes `txids` (default: the whole mempool)."""
        mined: list[Block] = []
        for i in range(count):
            take = (list(self.mempool) if txids is None else txids) if i == 0 else []
            for txid in take:
                self.mempool.pop(txid, None)
            mined.append(self._add_block(take))
        return mined

    def reorg(self, depth: int, *, keep_in_mempool: bool = True) -> list[str]:
        """Drop the top `depth` blocks; their transactions go back to the mempool (as a
        node does) unless `keep_in_mempool` is False. Returns the orphaned txids
        (coinbases excluded). Mine afterwards to build the new branch."""
        orphaned: list[str] = []
        for block in self.blocks[-depth:]:
            orphaned += block.txids[1:]
            for txid in block.txids:
                self._where.pop(txid, None)
        del self.blocks[-depth:]
        # A new branch must not reuse the old headers' timestamps, or identical empty
        # blocks would get identical hashes.
        self._time += 1
        if keep_in_mempool:
            restored = {txid: self.txs[txid] for txid in orphaned}
            self.mempool = {**restored, **self.mempool}
        return orphaned

    # -- protocol views -- #

    def confirmed_height(self, txid: str) -> int | None:
        where = self._where.get(txid)
        return None if where is None else where[0]

    def history(self, scripthash: bytes) -> list[tuple[str, int]]:
        """blockchain.scripthash.get_history, in the order the status is defined on."""
        positions: dict[str, int] = {}
        entries: list[tuple[str, int]] = []
        for txid in self._touching.get(scripthash, ()):
            where = self._where.get(txid)
            if where is not None:
                entries.append((txid, where[0]))
                positions[txid] = where[1]
            elif txid in self.mempool:
                tx = self.mempool[txid]
                parent_unconfirmed = any(prev in self.mempool for prev, _ in tx.spends)
                entries.append((txid, -1 if parent_unconfirmed else 0))
        return canonical_order(entries, positions)

    def touched_by(self, txids: list[str]) -> set[bytes]:
        """Scripthashes whose history may change when these transactions move."""
        found: set[bytes] = set()
        for txid in txids:
            tx = self.txs[txid]
            found |= {electrum_scripthash(script) for script, _ in tx.outputs}
            for prev_txid, n in tx.spends:
                prev = self.txs.get(prev_txid)
                if prev is not None:
                    found.add(electrum_scripthash(prev.outputs[n][0]))
        return found

    def status(self, scripthash: bytes) -> str | None:
        return status_hash(self.history(scripthash))

    def header(self, height: int) -> Header:
        return Header.parse(height, self.blocks[height].header)

    def merkle(self, txid: str, height: int) -> dict[str, object]:
        block = self.blocks[height]
        position = block.txids.index(txid)
        return {
            "block_height": height,
            "merkle": merkle_branch(block.txids, position),
            "pos": position,
        }

    def fee(self, tx: Tx) -> int | None:
        spent = 0
        for prev_txid, n in tx.spends:
            prev = self.txs.get(prev_txid)
            if prev is None:
                return None
            spent += prev.outputs[n][1]
        return spent - sum(value for _, value in tx.outputs)
