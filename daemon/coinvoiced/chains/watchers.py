"""Builds one watcher per configured chain. Watchers report to the PaymentProcessor
(app/payments.py) and update their Chain.status; they never touch invoices or the store
except through that processor and the read-only store queries it offers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .electrum import ElectrumWatcher
from .evm import EvmWatcher
from .registry import Watcher

if TYPE_CHECKING:
    from ..app.application import Application


def build_watchers(app: Application) -> list[Watcher]:
    watchers: list[Watcher] = []
    positions = {c.name: i for i, c in enumerate(app.config.chains)}
    for chain in app.chains.values():
        if chain.config.kind == "evm":
            watchers.append(
                EvmWatcher(chain, positions[chain.name], app.payments, app.store, app.index)
            )
        else:
            config = chain.config
            watchers.append(
                ElectrumWatcher(
                    chain,
                    app.payments,
                    app.store,
                    app.index,
                    ping_interval=config.ping_interval_seconds,
                    certificates={url: Path(p) for url, p in config.pinned_certificates},
                )
            )
            # The gap limit is a concern of xpub-derived UTXO addresses: the allocator
            # keeps the unused run within it and reports through this chain's status.
            app.invoices.addresses.enforce_gap_limit(chain)
    return watchers
