"""The chain-facing entry point: what watchers call with chain-neutral observations.

Watchers know nothing about invoices. They report transfers (mempool or in a
block), blocks connected and disconnected, new tips and transactions that left
the mempool. This class matches transfers to invoices through the address
index, asks the ledger what follows, and commits payment rows, invoice changes,
the chain cursor and events in one store transaction per observation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from ..chains.matcher import AddressIndex
from ..chains.registry import Chain
from ..config import Config
from ..domain import ledger
from ..domain.model import Invoice, PendingEvent, Transfer
from ..store import Store, Tx
from .clock import now_us
from .deadlines import Due

log = logging.getLogger(__name__)

# Blocks kept per chain for reorg detection (hash + parent hash).
BLOCK_WINDOW = 256


class PaymentProcessor:
    def __init__(
        self, config: Config, store: Store, index: AddressIndex, chains: dict[str, Chain]
    ) -> None:
        self.config = config
        self.store = store
        self.index = index
        self.chains = chains

    def tips(self) -> dict[str, int]:
        """Processed height per chain: confirmations are counted against what we processed."""
        return {
            name: chain.status.processed_height
            for name, chain in self.chains.items()
            if chain.status.processed_height is not None
        }

    def match(self, transfers: Iterable[Transfer]) -> dict[int, list[Transfer]]:
        by_invoice: dict[int, list[Transfer]] = defaultdict(list)
        for transfer in transfers:
            pk = self.index.lookup(transfer.chain, transfer.watch_key)
            if pk is not None:
                by_invoice[pk].append(transfer)
        return by_invoice

    def _apply(
        self,
        tx: Tx,
        pk: int,
        now: int,
        tips: dict[str, int],
        change: Callable[[Invoice], list[PendingEvent]],
    ) -> Invoice | None:
        invoice = tx.invoice_by_pk(pk)
        if invoice is None:
            return None
        events: list[PendingEvent] = change(invoice)
        if events:
            tx.save_invoice(invoice)
            tx.append_events(invoice, events, now, tips)
        return invoice

    def _record(
        self, tx: Tx, by_invoice: dict[int, list[Transfer]], now: int, tips: dict[str, int]
    ) -> set[int]:
        policy = self.config.policy

        def change_for(transfers: list[Transfer]) -> Callable[[Invoice], list[PendingEvent]]:
            def change(invoice: Invoice) -> list[PendingEvent]:
                events: list[PendingEvent] = []
                for transfer in transfers:
                    events += ledger.record_transfer(invoice, transfer, now, tips, policy)
                return events

            return change

        for pk, transfers in by_invoice.items():
            self._apply(tx, pk, now, tips, change_for(transfers))
        return set(by_invoice)

    def _confirm(self, tx: Tx, chain: str, now: int, tips: dict[str, int], skip: set[int]) -> None:
        policy = self.config.policy
        for pk in tx.unconfirmed_payment_invoices(chain):
            if pk not in skip:
                self._apply(tx, pk, now, tips, lambda inv: ledger.settle(inv, now, tips, policy))

    async def transfers_seen(self, transfers: Iterable[Transfer]) -> int:
        """Mempool (or otherwise unblocked) transfers. Returns how many matched an invoice."""
        by_invoice = self.match(transfers)
        if not by_invoice:
            return 0
        tips = self.tips()
        await self.store.write(lambda tx: self._record(tx, by_invoice, now_us(), tips))
        return sum(len(v) for v in by_invoice.values())

    async def block_connected(
        self,
        chain: str,
        height: int,
        block_hash: str,
        parent_hash: str,
        transfers: Iterable[Transfer],
    ) -> None:
        """Block `height` joined the best chain with these transfers (already matched or
        not). The block, its payments, new confirmations and the chain cursor commit
        together, so a crash never leaves half a block applied."""
        await self.blocks_connected(chain, [(height, block_hash, parent_hash, transfers)])

    async def blocks_connected(
        self,
        chain: str,
        blocks: Sequence[tuple[int, str, str, Iterable[Transfer]]],
    ) -> None:
        """Consecutive blocks (height, hash, parent hash, transfers), lowest first, joined
        the best chain, in one store transaction (one commit, one fsync), so that a
        watcher catching up thousands of blocks is not bound by commits. All of them or
        none are applied."""
        if not blocks:
            return
        base = dict(self.tips())
        steps = []
        for height, block_hash, parent_hash, transfers in blocks:
            tips = dict(base)
            tips[chain] = height
            steps.append((height, block_hash, parent_hash, self.match(transfers), tips))

        def unit(tx: Tx) -> None:
            for height, block_hash, parent_hash, by_invoice, tips in steps:
                now = now_us()
                tx.put_block(chain, height, block_hash, parent_hash)
                if height % 64 == 0:
                    tx.prune_blocks_below(chain, height - BLOCK_WINDOW)
                tx.set_chain_cursor(chain, height, block_hash)
                touched = self._record(tx, by_invoice, now, tips)
                self._confirm(tx, chain, now, tips, touched)

        await self.store.write(unit)
        height, block_hash = blocks[-1][0], blocks[-1][1]
        status = self.chains[chain].status
        status.processed_height = height
        if status.tip_height is None or status.tip_height < height:
            status.tip_height, status.tip_hash = height, block_hash

    async def block_disconnected(
        self, chain: str, height: int, block_hash: str, parent_hash: str
    ) -> None:
        """Block `height` (`block_hash`) left the best chain: its payments stop counting."""
        tips = dict(self.tips())
        tips[chain] = height - 1
        policy = self.config.policy

        def unit(tx: Tx) -> None:
            now = now_us()
            for pk in tx.invoices_in_block(chain, block_hash):
                self._apply(
                    tx,
                    pk,
                    now,
                    tips,
                    lambda inv: ledger.orphan_payments(
                        inv, chain, now, tips, policy, block_hash=block_hash
                    ),
                )
            tx.delete_blocks_from(chain, height)
            tx.set_chain_cursor(chain, height - 1, parent_hash)

        await self.store.write(unit)
        self.chains[chain].status.processed_height = height - 1

    async def new_tip(self, chain: str, height: int, block_hash: str) -> None:
        """For watchers that follow headers only (Electrum): count confirmations."""
        status = self.chains[chain].status
        status.tip_height, status.tip_hash = height, block_hash
        tips = dict(self.tips())
        tips[chain] = height

        def unit(tx: Tx) -> None:
            tx.set_chain_cursor(chain, height, block_hash)
            self._confirm(tx, chain, now_us(), tips, set())

        await self.store.write(unit)
        status.processed_height = height

    async def transaction_dropped(self, chain: str, txid: str) -> None:
        """An unconfirmed transaction left the mempool without being mined."""
        tips = self.tips()
        policy = self.config.policy

        def unit(tx: Tx) -> None:
            now = now_us()
            for pk in tx.invoices_with_transaction(chain, txid):
                self._apply(
                    tx,
                    pk,
                    now,
                    tips,
                    lambda inv: ledger.orphan_payments(inv, chain, now, tips, policy, txid=txid),
                )

        await self.store.write(unit)

    async def on_deadline(self, pk: int, due: Due) -> None:
        if due is Due.WATCH_END:
            rows = await self.store.read(lambda r: r.watch_keys(pk))
            for chain, watch_key in rows:
                if self.index.lookup(chain, watch_key) == pk:
                    self.index.remove(chain, watch_key)
            return
        tips = self.tips()
        policy = self.config.policy
        await self.store.write(
            lambda tx: self._apply(
                tx, pk, now_us(), tips, lambda inv: ledger.settle(inv, now_us(), tips, policy)
            )
        )
