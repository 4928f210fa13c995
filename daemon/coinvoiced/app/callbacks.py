"""Callback history use cases: ListCallbacks and RedeliverCallback."""

from __future__ import annotations

import re

from ..domain.errors import InvalidArgument, NotFound
from ..store import Store, Tx
from ..store.tx import Delivery
from ..webhooks.deliverer import Deliverer
from . import validation
from .clock import now_us

_DELIVERY_ID_RE = re.compile(r"^dlv_[a-z2-7]{16}$")


class CallbackHistory:
    def __init__(self, store: Store, deliverer: Deliverer) -> None:
        self.store = store
        self.deliverer = deliverer

    async def list(self, invoice_id: str) -> list[Delivery]:
        validation.invoice_id("invoice_id", invoice_id)
        invoice = await self.store.read(lambda r: r.invoice_by_id(invoice_id))
        if invoice is None:
            raise NotFound(f"no invoice with id {invoice_id!r}")
        return await self.store.read(lambda r: r.callbacks_of_invoice(invoice.pk))

    async def redeliver(self, delivery_id: str) -> Delivery:
        if not delivery_id:
            raise InvalidArgument("delivery_id", "required")
        if not _DELIVERY_ID_RE.match(delivery_id):
            raise InvalidArgument(
                "delivery_id", f"{delivery_id[:40]!r} is not a delivery id (dlv_...)"
            )

        def unit(tx: Tx) -> Delivery:
            original = tx.callback_by_id(delivery_id)
            if original is None:
                raise NotFound(f"no callback delivery with id {delivery_id!r}")
            new_id = tx.insert_delivery(
                original.invoice_pk,
                original.event_sequence,
                original.event_type,
                original.url,
                now_us(),
            )
            copy = tx.callback_by_id(new_id)
            assert copy is not None
            return copy

        delivery = await self.store.write(unit)
        self.deliverer.wake()
        return delivery
