"""The API-shaped view of an invoice: plain dicts with decimal strings.

One shape serves the stored event snapshots, the gRPC conversion (rpc/convert.py)
and, later, callback bodies. Times stay integer microseconds here.
"""

from __future__ import annotations

from typing import Any

from . import ledger, money
from .ledger import Tips
from .model import Invoice, Payment, PaymentState


def payment_view(invoice: Invoice, payment: Payment, tips: Tips) -> dict[str, Any]:
    option = invoice.option_for(payment.asset)
    decimals = option.asset_decimals if option else 0
    return {
        "asset": payment.asset,
        "chain": payment.chain,
        "txid": payment.txid,
        "index": payment.index,
        "amount": money.format_units(payment.amount, decimals),
        "block_height": payment.height or 0,
        "block_hash": payment.block_hash or "",
        "confirmations": payment.confirmations(tips.get(payment.chain)),
        "state": int(payment.state),
        "seen_at": payment.seen_at,
        "late": payment.late,
        "address": payment.address,
    }


def invoice_view(invoice: Invoice, tips: Tips) -> dict[str, Any]:
    counting = [p for p in invoice.payments if p.counts]
    paid = ledger.paid_value(invoice, counting)
    confirmed = ledger.paid_value(
        invoice, (p for p in counting if p.state is PaymentState.CONFIRMED)
    )
    cur = invoice.currency_decimals
    return {
        "id": invoice.id,
        "tracking_id": invoice.tracking_id or "",
        "label": invoice.label,
        "status": int(invoice.status),
        "unresolved_reason": int(invoice.reason),
        "currency": invoice.currency,
        "amount": "" if invoice.amount is None else money.format_units(invoice.amount, cur),
        "paid_amount": "" if paid is None else money.format_units(paid, cur),
        "confirmed_amount": "" if confirmed is None else money.format_units(confirmed, cur),
        "payment_options": [
            {
                "asset": o.asset,
                "chain": o.chain,
                "address": o.address,
                "amount_due": ""
                if o.amount_due is None
                else money.format_units(o.amount_due, o.asset_decimals),
                "rate": "" if o.rate is None else money.format_rate(o.rate),
                "payment_uri": o.payment_uri,
                "required_confirmations": o.required_confirmations,
            }
            for o in invoice.options
        ],
        "payments": [payment_view(invoice, p, tips) for p in invoice.payments],
        "required_confirmations": invoice.required_confirmations or 0,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
        "expires_at": invoice.expires_at,
        "monitor_until": invoice.monitor_until,
        "metadata": dict(invoice.metadata),
        "resolution_note": invoice.resolution_note,
        "callback_url": invoice.callback_url or "",
    }
