"""Hands out deposit addresses: one per chain per invoice.

`assign` and `record` run inside a store unit (the writer thread), so the
derivation index is allocated in the same transaction as the invoice that uses
it; `committed` runs after the commit, on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chains.address_pool import AddressPool
from ..chains.derivation import DerivedAddress
from ..chains.matcher import AddressIndex
from ..store import Tx


@dataclass(frozen=True, slots=True)
class AssignedAddress:
    chain: str
    index: int
    derived: DerivedAddress


class AddressAllocator:
    def __init__(self, pool: AddressPool, index: AddressIndex) -> None:
        self.pool = pool
        self.index = index

    def assign(self, tx: Tx, chain: str) -> AssignedAddress:
        """The next address of `chain` (writer thread, inside the creating transaction)."""
        index = tx.allocate_index(chain)
        return AssignedAddress(chain, index, self.pool.take(chain, index))

    def record(self, tx: Tx, invoice_pk: int, assigned: AssignedAddress) -> None:
        """Persist which invoice the address belongs to (same transaction as `assign`)."""
        derived = assigned.derived
        tx.insert_address(assigned.chain, derived.watch_key, derived.address, invoice_pk,
                          assigned.index)

    def committed(self, invoice_pk: int, assigned: AssignedAddress) -> None:
        """After commit: start watching the address and keep the pre-derived window full."""
        self.index.add(assigned.chain, assigned.derived.watch_key, invoice_pk)
        self.pool.used(assigned.chain, assigned.index)
