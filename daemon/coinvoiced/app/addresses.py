"""Hands out deposit addresses: one per chain per invoice.

`assign` and `record` run inside a store unit (the writer thread), so the
derivation index is allocated in the same transaction as the invoice that uses
it; `committed` runs after the commit, on the event loop.

Gap limit (Electrum chains). A wallet restored from the seed finds funds only up to
`gap_limit` unused addresses past the last used one. So when the run of unused
addresses at the top of the derivation range has reached the limit, the next invoice
gets, instead of a new index, the address of an invoice that expired unpaid and whose
monitoring window is over (a carousel: no earlier invoice can still receive on it, and
nothing was ever paid to it while it was watched). Its older confirmed history is
ignored for the new invoice (`reused_at_height`). With no such address, a new one is
handed out anyway (refusing invoices would let spam stop the shop) and the overrun is
logged and shown in GetInfo. "Used" means a payment was mined to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..chains.address_pool import AddressPool
from ..chains.derivation import DerivedAddress
from ..chains.matcher import AddressIndex
from ..chains.registry import Chain
from ..store import Tx
from .clock import now_us

log = logging.getLogger(__name__)

NONE_FREE_RECHECK_US = 2_000_000  # look for a reusable address at most every 2 s


@dataclass(frozen=True, slots=True)
class AssignedAddress:
    chain: str
    index: int
    derived: DerivedAddress
    # Set when an expired invoice's address is handed out again: the tip height then.
    reused_at_height: int | None = None


class AddressAllocator:
    def __init__(self, pool: AddressPool, index: AddressIndex) -> None:
        self.pool = pool
        self.index = index
        self._gap_chains: dict[str, Chain] = {}
        # chain -> time (us) before which no reusable address is looked for again: when
        # none was free, invoices keep getting new addresses without a query each.
        self._none_free_until: dict[str, int] = {}

    def enforce_gap_limit(self, chain: Chain) -> None:
        """Keep `chain`'s run of unused addresses within its configured gap_limit."""
        self._gap_chains[chain.name] = chain

    def assign(self, tx: Tx, chain: str) -> AssignedAddress:
        """The next address of `chain` (writer thread, inside the creating transaction)."""
        gap_chain = self._gap_chains.get(chain)
        if gap_chain is not None:
            reused = self._reuse_if_over_gap(tx, gap_chain)
            if reused is not None:
                return reused
        index = tx.allocate_index(chain)
        return AssignedAddress(chain, index, self.pool.take(chain, index))

    def _reuse_if_over_gap(self, tx: Tx, chain: Chain) -> AssignedAddress | None:
        limit = chain.config.gap_limit
        next_index = tx.next_index(chain.name)
        last_used = tx.last_used_index(chain.name, max(0, next_index - limit))
        unused_run = next_index - 1 - last_used if last_used is not None else min(next_index, limit)
        extra = chain.status.extra
        if unused_run < limit:
            extra.pop("gap_limit", None)
            return None
        now = now_us()
        found = None
        if now >= self._none_free_until.get(chain.name, 0):
            found = tx.reusable_address(chain.name, now)
            if found is None:
                self._none_free_until[chain.name] = now + NONE_FREE_RECHECK_US
        if found is None:
            # Writer thread: only a dict write and a log line here.
            warning = (
                f"gap limit {limit} reached and no expired address is free: handing out "
                f"index {next_index}; wallets restored from the seed need a gap limit above "
                f"{unused_run + 1}"
            )
            if extra.get("gap_limit") != warning:
                log.warning("%s: %s", chain.name, warning)
            extra["gap_limit"] = warning
            return None
        watch_key, address, derivation_index = found
        height = tx.chain_cursor(chain.name)[0] or 0
        warning = f"gap limit {limit} reached: reusing addresses of expired unpaid invoices"
        if extra.get("gap_limit") != warning:
            log.warning("%s: %s (first: index %d)", chain.name, warning, derivation_index)
        extra["gap_limit"] = warning
        return AssignedAddress(
            chain.name, derivation_index, DerivedAddress(address, watch_key), height
        )

    def record(self, tx: Tx, invoice_pk: int, assigned: AssignedAddress) -> None:
        """Persist which invoice the address belongs to (same transaction as `assign`)."""
        derived = assigned.derived
        if assigned.reused_at_height is not None:
            tx.reassign_address(
                assigned.chain, derived.watch_key, invoice_pk, assigned.reused_at_height
            )
            return
        tx.insert_address(
            assigned.chain, derived.watch_key, derived.address, invoice_pk, assigned.index
        )

    def committed(self, invoice_pk: int, assigned: AssignedAddress) -> None:
        """After commit: start watching the address and keep the pre-derived window full."""
        self.index.add(assigned.chain, assigned.derived.watch_key, invoice_pk)
        if assigned.reused_at_height is None:
            self.pool.used(assigned.chain, assigned.index)
