"""The in-memory address index: (chain, watch_key) -> invoice pk.

One dict per chain, keyed by raw bytes (20-byte EVM addresses, 32-byte
Electrum scripthashes) with int values, so that matching a block costs one
dict lookup per output/log whatever the number of open invoices, and a
million watched addresses stay in the low hundreds of MB.
"""

from __future__ import annotations


class AddressIndex:
    def __init__(self) -> None:
        self._by_chain: dict[str, dict[bytes, int]] = {}

    def add(self, chain: str, watch_key: bytes, invoice_pk: int) -> None:
        self._by_chain.setdefault(chain, {})[watch_key] = invoice_pk

    def remove(self, chain: str, watch_key: bytes) -> None:
        self._by_chain.get(chain, {}).pop(watch_key, None)

    def lookup(self, chain: str, watch_key: bytes) -> int | None:
        table = self._by_chain.get(chain)
        return None if table is None else table.get(watch_key)

    def table(self, chain: str) -> dict[bytes, int]:
        """The live dict of one chain, for a watcher's hot loop (read-only use)."""
        return self._by_chain.setdefault(chain, {})

    def count(self, chain: str | None = None) -> int:
        if chain is not None:
            return len(self._by_chain.get(chain, {}))
        return sum(len(t) for t in self._by_chain.values())
