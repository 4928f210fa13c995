"""Human-readable rendering of API messages for coinvoice-cli.

Amounts are printed exactly as the API returns them (decimal strings; nothing here parses
them into numbers), times in the local time zone at seconds precision, enums as lower-case
words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from .v1 import invoice_pb2 as pb

# Shown for an empty field in tables, so columns stay aligned and the gap is visible.
NONE = "-"


def as_dict(message: Message) -> dict[str, object]:
    """The --json form: field names as in the .proto, every field present (scripts should
    not have to know proto3 drops empty values), enums by name, 64-bit integers (sequence,
    block_height) as JSON numbers rather than the canonical strings, since none of ours come
    near 2**53."""
    return MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
        unquote_int64_if_possible=True,
    )


def local_time(ts: Timestamp) -> str:
    """2026-11-21T17:03:05+01:00; empty for an unset timestamp."""
    if ts.seconds == 0 and ts.nanos == 0:
        return ""
    moment = dt.datetime.fromtimestamp(ts.seconds, tz=dt.UTC)
    return moment.astimezone().isoformat(timespec="seconds")


def _word(enum: object, number: int, prefix: str) -> str:
    name: str = enum.Name(number) if number in enum.values() else str(number)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower().replace("_", " ")


def status_text(invoice: pb.Invoice) -> str:
    """paid, processing, unresolved (overpaid), paid (was paid late) ..."""
    status = _word(pb.InvoiceStatus, invoice.status, "INVOICE_STATUS_")
    reason = invoice.unresolved_reason
    if not reason:
        return status
    why = _word(pb.UnresolvedReason, reason, "UNRESOLVED_REASON_")
    if invoice.status == pb.INVOICE_STATUS_UNRESOLVED:
        return f"{status} ({why})"
    # The reason is kept after resolution, to say why the invoice needed one.
    return f"{status} (was {why})"


def payment_state(state: int) -> str:
    return _word(pb.PaymentState, state, "PAYMENT_STATE_")


def event_type(kind: int) -> str:
    return _word(pb.InvoiceEventType, kind, "")


def _money(amount: str, currency: str) -> str:
    if not amount:
        return NONE
    return f"{amount} {currency}".strip()


def amount_text(invoice: pb.Invoice) -> str:
    if not invoice.amount:
        return f"open amount {invoice.currency}".strip()
    return _money(invoice.amount, invoice.currency)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces; no trailing blanks."""
    cells = [list(headers)] + [[cell or NONE for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _block(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(key) for key, _ in pairs)
    return [f"{key.ljust(width)}  {value}" for key, value in pairs]


def invoice_text(invoice: pb.Invoice) -> str:
    """A key/value block, then the payment options and the payments as tables."""
    pairs: list[tuple[str, str]] = [
        ("id", invoice.id),
        ("status", status_text(invoice)),
        ("amount", amount_text(invoice)),
    ]
    if invoice.currency:
        paid = _money(invoice.paid_amount or "0", invoice.currency)
        pairs.append(("paid", f"{paid} (confirmed {invoice.confirmed_amount or '0'})"))
    if invoice.tracking_id:
        pairs.append(("tracking id", invoice.tracking_id))
    if invoice.label:
        pairs.append(("label", invoice.label))
    pairs += [
        ("created at", local_time(invoice.created_at)),
        ("updated at", local_time(invoice.updated_at)),
        ("expires at", local_time(invoice.expires_at)),
        ("monitored until", local_time(invoice.monitor_until)),
    ]
    if invoice.required_confirmations:
        pairs.append(("confirmations", str(invoice.required_confirmations)))
    for key in sorted(invoice.metadata):
        pairs.append((f"meta {key}", invoice.metadata[key]))
    if invoice.resolution_note:
        pairs.append(("note", invoice.resolution_note))
    if invoice.callback_url:
        pairs.append(("callback url", invoice.callback_url))
    lines = _block(pairs)

    lines += ["", "payment options"]
    if invoice.payment_options:
        lines.append(
            table(
                ["ASSET", "CHAIN", "ADDRESS", "AMOUNT DUE", "RATE", "CONFS"],
                [
                    [
                        o.asset,
                        o.chain,
                        o.address,
                        o.amount_due,
                        f"{o.rate} {invoice.currency}" if o.rate else "",
                        str(o.required_confirmations),
                    ]
                    for o in invoice.payment_options
                ],
            )
        )
    else:
        lines.append("(none)")

    lines += ["", "payments"]
    if invoice.payments:
        lines.append(payments_table(invoice.payments))
    else:
        lines.append("(none)")
    return "\n".join(lines)


def payments_table(payments: Sequence[pb.Payment]) -> str:
    return table(
        ["ASSET", "AMOUNT", "STATE", "CONFS", "BLOCK", "SEEN AT", "TXID:INDEX"],
        [
            [
                p.asset,
                p.amount,
                payment_state(p.state) + (" (late)" if p.late else ""),
                str(p.confirmations),
                str(p.block_height) if p.block_height else "",
                local_time(p.seen_at),
                f"{p.txid}:{p.index}",
            ]
            for p in payments
        ],
    )


def invoices_table(invoices: Sequence[pb.Invoice]) -> str:
    return table(
        ["ID", "STATUS", "AMOUNT", "PAID", "TRACKING ID", "CREATED AT"],
        [
            [
                i.id,
                status_text(i),
                amount_text(i),
                _money(i.paid_amount, i.currency),
                i.tracking_id,
                local_time(i.created_at),
            ]
            for i in invoices
        ],
    )


_EVENT_WIDTH = max(len(event_type(n)) for n in pb.InvoiceEventType.values() if n)


def event_line(event: pb.InvoiceEvent) -> str:
    """One line per event: sequence, time, type, invoice, status, paid/amount, and the
    payment for PAYMENT_* events."""
    invoice = event.invoice
    parts = [
        f"#{event.sequence}",
        local_time(event.created_at),
        # Padded to the longest type name so the invoice column lines up.
        event_type(event.type).ljust(_EVENT_WIDTH),
        invoice.id,
        status_text(invoice),
    ]
    if invoice.currency:
        parts.append(
            f"paid {invoice.paid_amount or '0'}/{invoice.amount or 'open'} {invoice.currency}"
        )
    if event.HasField("payment"):
        p = event.payment
        parts.append(
            f"payment {p.amount} {p.asset} {payment_state(p.state)} "
            f"confs {p.confirmations} tx {p.txid}:{p.index}"
        )
    return "  ".join(parts)


def info_text(info: pb.GetInfoResponse) -> str:
    lines = _block(
        [
            ("version", info.version),
            ("profile", info.profile),
            ("last event", str(info.last_event_sequence)),
        ]
    )
    lines += ["", "chains"]
    if info.chains:
        lines.append(
            table(
                [
                    "NAME",
                    "KIND",
                    "ASSETS",
                    "CONNECTED",
                    "TIP",
                    "PROCESSED",
                    "LAG",
                    "ENDPOINT",
                    "STATE",
                ],
                [
                    [
                        c.name,
                        c.kind,
                        ",".join(c.assets),
                        "yes" if c.connected else "no",
                        str(c.tip_height),
                        str(c.processed_height),
                        str(c.lag),
                        c.endpoint,
                        c.state,
                    ]
                    for c in info.chains
                ],
            )
        )
    else:
        lines.append("(none)")
    return "\n".join(lines)


def callback_state(state: int) -> str:
    return _word(pb.CallbackState, state, "CALLBACK_STATE_")


# Errors can be long (a connection error names host, port and reason); tables show the
# start, --json and `redeliver`'s block show all of it.
_ERROR_WIDTH = 60


def _last_outcome(delivery: pb.CallbackDelivery, width: int | None = _ERROR_WIDTH) -> str:
    """The error text ("HTTP 500", "timed out after 10s", ...) or, after a success, the
    status code; empty before the first attempt."""
    if delivery.last_error:
        text = " ".join(delivery.last_error.split())
        return text if width is None or len(text) <= width else text[: width - 3] + "..."
    return str(delivery.last_status_code) if delivery.last_status_code else ""


def callbacks_table(deliveries: Sequence[pb.CallbackDelivery]) -> str:
    return table(
        ["ID", "SEQ", "EVENT", "URL", "STATE", "ATTEMPTS", "LAST", "NEXT RETRY"],
        [
            [
                d.id,
                str(d.event_sequence),
                event_type(d.event_type),
                d.url,
                callback_state(d.state),
                str(d.attempts),
                _last_outcome(d),
                local_time(d.next_attempt_at),
            ]
            for d in deliveries
        ],
    )


def delivery_text(delivery: pb.CallbackDelivery) -> str:
    pairs = [
        ("id", delivery.id),
        ("invoice", delivery.invoice_id),
        ("event", f"#{delivery.event_sequence} {event_type(delivery.event_type)}"),
        ("url", delivery.url),
        ("state", callback_state(delivery.state)),
        ("attempts", str(delivery.attempts)),
        ("last", _last_outcome(delivery, None) or NONE),
        ("created at", local_time(delivery.created_at)),
    ]
    if delivery.HasField("next_attempt_at"):
        pairs.append(("next attempt", local_time(delivery.next_attempt_at)))
    if delivery.HasField("delivered_at"):
        pairs.append(("delivered at", local_time(delivery.delivered_at)))
    return "\n".join(_block(pairs))


def rates_table(rates: Sequence[pb.ExchangeRate]) -> str:
    return table(
        ["PAIR", "RATE", "SOURCE", "AGE", "FRESH", "ERROR"],
        [
            [
                f"{r.base}/{r.quote}",
                f"{r.value} {r.quote}" if r.value else "",
                r.source,
                f"{r.age_seconds}s" if r.value else "",
                "yes" if r.fresh else "no",
                " ".join(r.error.split()),
            ]
            for r in rates
        ],
    )
