"""Invoice helpers over real gRPC shared by the chain suites (EVM, Electrum)."""

from __future__ import annotations

from coinvoice.v1 import invoice_pb2 as pb

from .daemon import Daemon
from .util import wait_for

Status = pb.InvoiceStatus
Event = pb.InvoiceEventType


def get(daemon: Daemon, invoice_id: str) -> pb.Invoice:
    return daemon.invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice_id), timeout=10)


def wait_status(
    daemon: Daemon,
    invoice_id: str,
    status: int,
    reason: int | None = None,
    timeout: float = 20.0,
) -> pb.Invoice:
    def reached() -> pb.Invoice | None:
        invoice = get(daemon, invoice_id)
        if invoice.status == status and (reason is None or invoice.unresolved_reason == reason):
            return invoice
        return None

    what = f"{invoice_id} to reach {Status.Name(status)}"
    return wait_for(reached, timeout, what)


def events(daemon: Daemon, invoice_id: str | None = None) -> list[pb.InvoiceEvent]:
    """Every event stored so far (of one invoice, or all): the stream replays from 0 and
    we stop at the newest sequence GetInfo reported before we asked."""
    last = daemon.node.GetInfo(pb.GetInfoRequest(), timeout=10).last_event_sequence
    collected: list[pb.InvoiceEvent] = []
    if last == 0:
        return collected
    stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest(after_sequence=0), timeout=20)
    try:
        for event in stream:
            if invoice_id is None or event.invoice.id == invoice_id:
                collected.append(event)
            if event.sequence >= last:
                break
    finally:
        stream.cancel()
    return collected


def event_types(daemon: Daemon, invoice_id: str) -> list[str]:
    return [Event.Name(e.type) for e in events(daemon, invoice_id)]
