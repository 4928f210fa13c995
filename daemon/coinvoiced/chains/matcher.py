"""The in-memory address index: (chain, watch_key) -> invoice pk.

One dict per chain, keyed by raw bytes (20-byte EVM addresses, 32-byte
Electrum scripthashes) with int values, so that matching a block costs one
dict lookup per output/log whatever the number of open invoices, and a
million watched addresses stay in the low hundreds of MB.
"""

from __future__ import annotations

from collections.abc import Callable

# Called with (watch_key, watched): True when the key starts being watched (or moves to
# another invoice), False when it stops. Listeners must be cheap and must not raise.
Listener = Callable[[bytes, bool], None]


class AddressIndex:
    def __init__(self) -> None:
        self._by_chain: dict[str, dict[bytes, int]] = {}
        self._listeners: dict[str, list[Listener]] = {}

    def add_listener(self, chain: str, listener: Listener) -> None:
        """Be told about keys added to / removed from `chain` (watchers that subscribe
        per address, such as Electrum, follow the index this way instead of polling)."""
        self._listeners.setdefault(chain, []).append(listener)

    def add(self, chain: str, watch_key: bytes, invoice_pk: int) -> None:
        self._by_chain.setdefault(chain, {})[watch_key] = invoice_pk
        for listener in self._listeners.get(chain, ()):
            listener(watch_key, True)

    def remove(self, chain: str, watch_key: bytes) -> None:
        if self._by_chain.get(chain, {}).pop(watch_key, None) is None:
            return
        for listener in self._listeners.get(chain, ()):
            listener(watch_key, False)

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
