"""What the Electrum watcher knows per scripthash: the history (txid, height) it last
applied, from which the protocol status is computed and compared with what the server
announces. It is persisted (table scripthash_state) after the payments it implies are
committed, so a restart re-fetches only scripthashes whose status changed meanwhile, and
a crash in between only means fetching (and idempotently re-recording) once more.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ...store import Store
from .protocol import HistoryEntry, status_hash


@dataclass(frozen=True, slots=True)
class Diff:
    report: list[HistoryEntry]  # entries to (re)report: new, moved, or all when forced
    dropped: list[str]  # txids that were in the mempool and are gone without being mined


def diff(old: list[HistoryEntry], new: list[HistoryEntry], force: bool) -> Diff:
    before = set(old)
    report = list(new) if force else [entry for entry in new if entry not in before]
    present = {txid for txid, _ in new}
    dropped = [txid for txid, height in old if height <= 0 and txid not in present]
    return Diff(report, dropped)


class ScripthashBook:
    def __init__(self, chain: str, store: Store) -> None:
        self.chain = chain
        self.store = store
        self.known: dict[bytes, list[HistoryEntry]] = {}
        # Reused addresses: confirmed history up to this height belongs to an earlier invoice.
        self.floors: dict[bytes, int] = {}

    async def load(self) -> None:
        chain = self.chain
        rows = await self.store.read(lambda r: r.scripthash_states(chain))
        self.known = {
            key: [(txid, int(height)) for txid, height in orjson.loads(blob)] for key, blob in rows
        }
        # A payment committed just before a crash may be missing from the saved history;
        # knowing it as "in the mempool" makes its disappearance (a drop) detectable.
        for key, txid in await self.store.read(lambda r: r.pending_payment_keys(chain)):
            history = self.known.setdefault(key, [])
            if all(t != txid for t, _ in history):
                history.append((txid, 0))
        self.floors = await self.store.read(lambda r: r.address_floors(chain))

    async def refresh_floor(self, keys: list[bytes]) -> None:
        """Newly watched keys may be addresses handed out again (see app/addresses.py)."""
        chain = self.chain
        self.floors.update(await self.store.read(lambda r: r.address_floors(chain, keys)))

    def status(self, key: bytes) -> str | None:
        return status_hash(self.known.get(key, ()))

    def history(self, key: bytes) -> list[HistoryEntry]:
        return self.known.get(key, [])

    def affected_from(self, height: int) -> set[bytes]:
        """Scripthashes with history at or above `height` (after a reorg from there)."""
        return {key for key, hist in self.known.items() if any(h >= height for _, h in hist)}

    async def save(self, histories: dict[bytes, list[HistoryEntry]]) -> None:
        if not histories:
            return
        chain = self.chain
        rows = [(key, orjson.dumps(hist)) for key, hist in histories.items()]
        await self.store.write(lambda tx: tx.put_scripthash_states(chain, rows))
        self.known.update(histories)

    async def forget(self, keys: list[bytes]) -> None:
        if not keys:
            return
        chain = self.chain
        await self.store.write(lambda tx: tx.delete_scripthash_states(chain, keys))
        for key in keys:
            self.known.pop(key, None)
            self.floors.pop(key, None)
