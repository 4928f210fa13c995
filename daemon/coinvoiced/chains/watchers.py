"""Builds one watcher per configured chain. Watchers report to the PaymentProcessor
(app/payments.py) and update their Chain.status; they never touch invoices or the store
except through that processor and the read-only store queries it offers."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
            chain.status.state = "no watcher (Electrum support is not built yet)"
    return watchers
