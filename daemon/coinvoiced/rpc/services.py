"""InvoiceService and NodeService servicers: protobuf in, application services, protobuf out."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc

from .. import __version__
from ..app import validation
from ..app.bus import follow
from ..app.invoices import CreateRequest, ListRequest, UpdateRequest
from ..domain.errors import InvalidArgument
from . import convert
from .admin import AdminServicer
from .auth import is_admin
from .errors import streaming, unary

if TYPE_CHECKING:
    from ..app.application import Application


class InvoiceServicer(pb_grpc.InvoiceServiceServicer):
    def __init__(self, app: Application) -> None:
        self.app = app
        self.invoices = app.invoices

    def _reply(self, invoice) -> pb.Invoice:
        return convert.invoice(self.invoices.view(invoice))

    @unary
    async def CreateInvoice(self, request: pb.CreateInvoiceRequest, context) -> pb.Invoice:
        invoice = await self.invoices.create(
            CreateRequest(
                amount=request.amount,
                currency=request.currency,
                accepted_assets=list(request.accepted_assets),
                tracking_id=request.tracking_id,
                label=request.label,
                expires_in_seconds=request.expires_in_seconds,
                required_confirmations=request.required_confirmations,
                metadata=dict(request.metadata),
                request_id=request.request_id,
                callback_url=request.callback_url,
                callback_secret=request.callback_secret,
            )
        )
        return self._reply(invoice)

    @unary
    async def GetInvoice(self, request: pb.GetInvoiceRequest, context) -> pb.Invoice:
        return self._reply(await self.invoices.get(request.id, request.tracking_id))

    @unary
    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, context
    ) -> pb.ListInvoicesResponse:
        invoices, token = await self.invoices.list(
            ListRequest(
                statuses=list(request.statuses),
                created_after=convert.from_timestamp(request.created_after)
                if request.HasField("created_after")
                else None,
                created_before=convert.from_timestamp(request.created_before)
                if request.HasField("created_before")
                else None,
                tracking_id=request.tracking_id,
                page_size=request.page_size,
                page_token=request.page_token,
            )
        )
        return pb.ListInvoicesResponse(
            invoices=[self._reply(i) for i in invoices], next_page_token=token
        )

    @unary
    async def UpdateInvoice(self, request: pb.UpdateInvoiceRequest, context) -> pb.Invoice:
        invoice = await self.invoices.update(
            UpdateRequest(
                id=request.id,
                update_mask=list(request.update_mask),
                label=request.label,
                tracking_id=request.tracking_id,
                metadata=dict(request.metadata),
                expires_in_seconds=request.expires_in_seconds,
                amount=request.amount,
                callback_url=request.callback_url,
                callback_secret=request.callback_secret,
            )
        )
        return self._reply(invoice)

    @unary
    async def CancelInvoice(self, request: pb.CancelInvoiceRequest, context) -> pb.Invoice:
        return self._reply(await self.invoices.cancel(request.id))

    @unary
    async def ResolveInvoice(self, request: pb.ResolveInvoiceRequest, context) -> pb.Invoice:
        return self._reply(
            await self.invoices.resolve(request.id, request.resolution, request.note)
        )

    @streaming
    async def StreamEvents(
        self, request: pb.StreamEventsRequest, context
    ) -> AsyncIterator[pb.InvoiceEvent]:
        invoice_id = request.invoice_id or None
        if invoice_id is not None:
            validation.invoice_id("invoice_id", invoice_id)
        if request.after_sequence > 2**63 - 1:
            raise InvalidArgument("after_sequence", "out of range")
        async for stored in follow(
            self.app.store, self.app.bus, request.after_sequence, invoice_id
        ):
            yield convert.event(stored)

    @unary
    async def ListCallbacks(
        self, request: pb.ListCallbacksRequest, context
    ) -> pb.ListCallbacksResponse:
        rows = await self.app.callbacks.list(request.invoice_id)
        return pb.ListCallbacksResponse(deliveries=[convert.delivery(r) for r in rows])

    @unary
    async def RedeliverCallback(
        self, request: pb.RedeliverCallbackRequest, context
    ) -> pb.CallbackDelivery:
        return convert.delivery(await self.app.callbacks.redeliver(request.delivery_id))


class NodeServicer(pb_grpc.NodeServiceServicer):
    def __init__(self, app: Application) -> None:
        self.app = app

    @unary
    async def GetInfo(self, request: pb.GetInfoRequest, context) -> pb.GetInfoResponse:
        chains = []
        for chain in self.app.chains.values():
            status = chain.status
            tip = status.tip_height or 0
            processed = status.processed_height or 0
            chains.append(
                pb.ChainInfo(
                    name=chain.name,
                    kind=chain.config.kind,
                    connected=status.connected,
                    tip_height=tip,
                    processed_height=processed,
                    lag=max(0, tip - processed),
                    assets=[a.code for a in chain.config.assets],
                    state=status.state,
                    # Node URLs can carry credentials: only admin keys see them.
                    endpoint=status.endpoint if is_admin() else "",
                    details={
                        k: str(v) for k, v in status.extra.items() if k != "server" or is_admin()
                    },
                )
            )
        return pb.GetInfoResponse(
            version=__version__,
            profile=self.app.config.profile,
            chains=chains,
            last_event_sequence=self.app.bus.last_sequence,
        )

    @unary
    async def GetRates(self, request: pb.GetRatesRequest, context) -> pb.GetRatesResponse:
        now = time.time_ns() // 1000
        return pb.GetRatesResponse(
            rates=[convert.rate(s, now) for s in self.app.rate_service.snapshot()]
        )


def add_to_server(server: grpc.aio.Server, app: Application) -> list[str]:
    """Register the servicers; return their full service names (for reflection/health)."""
    pb_grpc.add_InvoiceServiceServicer_to_server(InvoiceServicer(app), server)
    pb_grpc.add_NodeServiceServicer_to_server(NodeServicer(app), server)
    pb_grpc.add_AdminServiceServicer_to_server(AdminServicer(app), server)
    return [
        pb.DESCRIPTOR.services_by_name["AdminService"].full_name,
        pb.DESCRIPTOR.services_by_name["InvoiceService"].full_name,
        pb.DESCRIPTOR.services_by_name["NodeService"].full_name,
    ]
