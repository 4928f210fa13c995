"""The JSON body of a callback: the stored event, named types, decimal-string amounts.

Built from the stored event, so every attempt of a delivery sends the same bytes.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..domain.model import EventType, InvoiceStatus, PaymentState, UnresolvedReason


def _iso(us: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")


def _named_payment(payment: dict[str, Any]) -> dict[str, Any]:
    return {
        **payment,
        "state": PaymentState(payment["state"]).name,
        "seen_at": _iso(payment["seen_at"]),
    }


def _named_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    named = dict(invoice)
    named["status"] = InvoiceStatus(invoice["status"]).name
    named["unresolved_reason"] = (
        UnresolvedReason(invoice["unresolved_reason"]).name if invoice["unresolved_reason"] else ""
    )
    for key in ("created_at", "updated_at", "expires_at", "monitor_until"):
        named[key] = _iso(invoice[key])
    named["payments"] = [_named_payment(p) for p in invoice["payments"]]
    return named


def body(
    delivery_id: str, sequence: int, event_type: int, created_at: int, stored_payload: bytes
) -> bytes:
    event = orjson.loads(stored_payload)
    return orjson.dumps(
        {
            "delivery_id": delivery_id,
            "sequence": sequence,
            "type": EventType(event_type).name,
            "created_at": _iso(created_at),
            "invoice": _named_invoice(event["invoice"]),
            "payment": None if event["payment"] is None else _named_payment(event["payment"]),
        }
    )
