"""Between the API-shaped views (domain/view.py) and protobuf messages."""

from __future__ import annotations

from typing import Any

from coinvoice.v1 import invoice_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

from ..domain.money import format_rate
from ..rates import RateStatus
from ..store import StoredEvent
from ..store.tx import PENDING, Delivery


def timestamp(us: int) -> Timestamp:
    seconds, micros = divmod(us, 1_000_000)
    return Timestamp(seconds=seconds, nanos=micros * 1000)


def from_timestamp(ts: Timestamp) -> int:
    return ts.seconds * 1_000_000 + ts.nanos // 1000


def payment(view: dict[str, Any]) -> pb.Payment:
    return pb.Payment(
        asset=view["asset"],
        chain=view["chain"],
        txid=view["txid"],
        index=view["index"],
        amount=view["amount"],
        block_height=view["block_height"],
        block_hash=view["block_hash"],
        confirmations=view["confirmations"],
        state=view["state"],
        seen_at=timestamp(view["seen_at"]),
        late=view["late"],
        address=view["address"],
    )


def invoice(view: dict[str, Any]) -> pb.Invoice:
    return pb.Invoice(
        id=view["id"],
        tracking_id=view["tracking_id"],
        label=view["label"],
        status=view["status"],
        unresolved_reason=view["unresolved_reason"],
        currency=view["currency"],
        amount=view["amount"],
        paid_amount=view["paid_amount"],
        confirmed_amount=view["confirmed_amount"],
        payment_options=[pb.PaymentOption(**o) for o in view["payment_options"]],
        payments=[payment(p) for p in view["payments"]],
        required_confirmations=view["required_confirmations"],
        created_at=timestamp(view["created_at"]),
        updated_at=timestamp(view["updated_at"]),
        expires_at=timestamp(view["expires_at"]),
        monitor_until=timestamp(view["monitor_until"]),
        metadata=view["metadata"],
        resolution_note=view["resolution_note"],
        callback_url=view.get("callback_url", ""),
    )


def delivery(row: Delivery) -> pb.CallbackDelivery:
    message = pb.CallbackDelivery(
        id=row.id,
        invoice_id=row.invoice_id,
        event_sequence=row.event_sequence,
        event_type=row.event_type,
        url=row.url,
        state=row.state,
        attempts=row.attempts,
        last_status_code=row.last_status,
        last_error=row.last_error,
        created_at=timestamp(row.created_at),
    )
    if row.state == PENDING:
        message.next_attempt_at.CopyFrom(timestamp(row.next_attempt_at))
    if row.delivered_at is not None:
        message.delivered_at.CopyFrom(timestamp(row.delivered_at))
    return message


def rate(status: RateStatus, now_us: int) -> pb.ExchangeRate:
    message = pb.ExchangeRate(
        base=status.base, quote=status.quote, fresh=status.fresh, error=status.error
    )
    if status.rate is not None:
        message.value = format_rate(status.rate.value)
        message.source = status.rate.source
        message.fetched_at.CopyFrom(timestamp(status.rate.at))
        message.age_seconds = max(0, now_us - status.rate.at) // 1_000_000
    return message


def event(stored: StoredEvent) -> pb.InvoiceEvent:
    body = stored.decoded()
    message = pb.InvoiceEvent(
        sequence=stored.sequence,
        type=stored.type,
        invoice=invoice(body["invoice"]),
        created_at=timestamp(stored.created_at),
    )
    if body["payment"] is not None:
        message.payment.CopyFrom(payment(body["payment"]))
    return message
