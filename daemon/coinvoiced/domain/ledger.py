"""The invoice state machine: pure functions from (invoice, observation, now) to changes.

Every function here mutates the invoice it is given (a working copy loaded inside
a store transaction) and returns the events that the change produces, in order.
The store commits the invoice, its payments and these events together.

How the status is derived (see DESIGN.md "Invoice lifecycle"):

- Only CONFIRMED payments settle an invoice; PENDING/CONFIRMING ones only move
  it to PROCESSING. REORGED payments do not count at all.
- "coverage" is the fraction of the invoice the payments cover, computed
  exactly (Fraction) per asset against that asset's amount due, so payments in
  several accepted assets add up. For an open-amount invoice any payment
  covers it.
- Before the deadline: enough confirmed -> PAID (OVERPAID beyond the
  tolerance); something seen -> PROCESSING; nothing -> NEW.
- After the deadline: enough confirmed -> PAID, unless it took payments first
  seen after the deadline (PAID_LATE) or exceeds the tolerance (OVERPAID).
  Not enough confirmed: on-time money still confirming -> PROCESSING; late
  money -> UNRESOLVED/PAID_LATE; on-time money confirmed but short ->
  UNRESOLVED/UNDERPAID; nothing -> EXPIRED (or CANCELLED).
- Resolved invoices (ResolveInvoice or an automatic rule) keep their status;
  later payments are still recorded and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from . import money
from .errors import FailedPrecondition
from .model import (
    EventType,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentState,
    PendingEvent,
    Policy,
    Resolution,
    Transfer,
    UnresolvedReason,
)

Tips = Mapping[str, int]  # chain name -> best block height

_STATUS_EVENT = {
    InvoiceStatus.NEW: EventType.INVOICE_UPDATED,
    InvoiceStatus.PROCESSING: EventType.INVOICE_UPDATED,
    InvoiceStatus.PAID: EventType.INVOICE_PAID,
    InvoiceStatus.EXPIRED: EventType.INVOICE_EXPIRED,
    InvoiceStatus.UNRESOLVED: EventType.INVOICE_UNRESOLVED,
    InvoiceStatus.REFUNDED: EventType.INVOICE_RESOLVED,
    InvoiceStatus.CANCELLED: EventType.INVOICE_CANCELLED,
}


def coverage(invoice: Invoice, payments: Iterable[Payment]) -> Fraction:
    """The fraction of the invoice that `payments` cover (exact)."""
    payments = list(payments)
    if invoice.amount is None:
        return Fraction(1) if payments else Fraction(0)
    total = Fraction(0)
    for payment in payments:
        option = invoice.option_for(payment.asset)
        if option is None or not option.amount_due:
            continue
        total += Fraction(payment.amount, option.amount_due)
    return total


def paid_value(invoice: Invoice, payments: Iterable[Payment]) -> int | None:
    """Sum of `payments` in invoice-currency base units, rounded down per payment."""
    if not invoice.currency:
        return None
    total = 0
    for payment in payments:
        option = invoice.option_for(payment.asset)
        if option is None or option.rate is None:
            continue
        total += money.currency_value(
            payment.amount, option.asset_decimals, option.rate, invoice.currency_decimals
        )
    return total


def _confirmed_coverage(invoice: Invoice) -> Fraction:
    return coverage(invoice, (p for p in invoice.payments if p.state is PaymentState.CONFIRMED))


def derive_status(
    invoice: Invoice, now: int, policy: Policy
) -> tuple[InvoiceStatus, UnresolvedReason]:
    """The status the payments and the clock imply (ignores resolution; see `settle`)."""
    active = [p for p in invoice.payments if p.counts]
    confirmed = [p for p in active if p.state is PaymentState.CONFIRMED]
    enough = 1 - policy.underpaid_tolerance
    too_much = 1 + policy.overpaid_tolerance
    covered = coverage(invoice, confirmed)

    if now < invoice.expires_at and not invoice.cancelled:
        if covered >= enough:
            if covered > too_much:
                return InvoiceStatus.UNRESOLVED, UnresolvedReason.OVERPAID
            return InvoiceStatus.PAID, UnresolvedReason.NONE
        if active:
            return InvoiceStatus.PROCESSING, UnresolvedReason.NONE
        return InvoiceStatus.NEW, UnresolvedReason.NONE

    on_time = [p for p in active if not p.late]
    if covered >= enough:
        if coverage(invoice, (p for p in confirmed if not p.late)) < enough:
            return InvoiceStatus.UNRESOLVED, UnresolvedReason.PAID_LATE
        if covered > too_much:
            return InvoiceStatus.UNRESOLVED, UnresolvedReason.OVERPAID
        return InvoiceStatus.PAID, UnresolvedReason.NONE
    if not active:
        closed = InvoiceStatus.CANCELLED if invoice.cancelled else InvoiceStatus.EXPIRED
        return closed, UnresolvedReason.NONE
    if coverage(invoice, on_time) >= enough:
        return InvoiceStatus.PROCESSING, UnresolvedReason.NONE
    if any(p.late for p in active):
        return InvoiceStatus.UNRESOLVED, UnresolvedReason.PAID_LATE
    if any(p.state is not PaymentState.CONFIRMED for p in on_time):
        return InvoiceStatus.PROCESSING, UnresolvedReason.NONE
    return InvoiceStatus.UNRESOLVED, UnresolvedReason.UNDERPAID


def _set_status(
    invoice: Invoice,
    status: InvoiceStatus,
    reason: UnresolvedReason,
    now: int,
    events: list[PendingEvent],
    event_type: EventType | None = None,
) -> None:
    if status == invoice.status and reason == invoice.reason:
        return
    invoice.status = status
    if status is InvoiceStatus.UNRESOLVED or reason is not UnresolvedReason.NONE:
        invoice.reason = reason
    invoice.updated_at = now
    events.append(PendingEvent(event_type or _STATUS_EVENT[status]))


def _confirm_payments(invoice: Invoice, tips: Tips, events: list[PendingEvent]) -> bool:
    changed = False
    for payment in invoice.payments:
        if payment.state is not PaymentState.CONFIRMING:
            continue
        if payment.confirmations(tips.get(payment.chain)) >= payment.required_confirmations:
            payment.state = PaymentState.CONFIRMED
            events.append(PendingEvent(EventType.PAYMENT_CONFIRMED, payment))
            changed = True
    return changed


def settle(
    invoice: Invoice,
    now: int,
    tips: Tips,
    policy: Policy,
    events: list[PendingEvent] | None = None,
) -> list[PendingEvent]:
    """Bring payments' confirmation states and the invoice status up to date."""
    events = [] if events is None else events
    if _confirm_payments(invoice, tips, events):
        invoice.updated_at = now
    if invoice.resolved:
        return events
    status, reason = derive_status(invoice, now, policy)
    _set_status(invoice, status, reason, now, events)
    if (
        status is InvoiceStatus.UNRESOLVED
        and reason in policy.auto_accept
        and _confirmed_coverage(invoice) >= 1 - policy.underpaid_tolerance
    ):
        # Automatic rules accept only money that is confirmed and enough.
        invoice.resolved = True
        _set_status(invoice, InvoiceStatus.PAID, reason, now, events, EventType.INVOICE_RESOLVED)
    return events


def record_transfer(
    invoice: Invoice, transfer: Transfer, now: int, tips: Tips, policy: Policy
) -> list[PendingEvent]:
    """A watcher saw `transfer` to one of the invoice's addresses.

    Seeing the same (chain, txid, index) again is not a second payment: it only
    moves that payment (mempool -> block, or back after a reorg). Recording the
    same observation twice changes nothing and returns no events.
    """
    option = invoice.option_for(transfer.asset)
    if option is None or option.chain != transfer.chain or transfer.amount <= 0:
        return []
    in_block = transfer.height is not None
    new_state = PaymentState.CONFIRMING if in_block else PaymentState.PENDING
    events: list[PendingEvent] = []
    key = (transfer.chain, transfer.txid, transfer.index)
    payment = invoice.payment(key)
    if payment is None:
        payment = Payment(
            chain=transfer.chain,
            txid=transfer.txid,
            index=transfer.index,
            asset=transfer.asset,
            address=transfer.address,
            amount=transfer.amount,
            state=new_state,
            seen_at=now,
            late=now >= invoice.expires_at or invoice.cancelled,
            required_confirmations=option.required_confirmations,
            height=transfer.height,
            block_hash=transfer.block_hash,
        )
        invoice.payments.append(payment)
        events.append(PendingEvent(EventType.PAYMENT_DETECTED, payment))
    elif in_block and (payment.height, payment.block_hash) != (
        transfer.height,
        transfer.block_hash,
    ):
        # Mined, or mined again on the new branch after a reorg: the same payment.
        payment.height, payment.block_hash = transfer.height, transfer.block_hash
        payment.state = PaymentState.CONFIRMING
        events.append(PendingEvent(EventType.PAYMENT_DETECTED, payment))
    elif not in_block and payment.state is PaymentState.REORGED:
        # Back in the mempool after its block was orphaned.
        payment.state = PaymentState.PENDING
        events.append(PendingEvent(EventType.PAYMENT_DETECTED, payment))
    else:
        return []
    invoice.updated_at = now
    return settle(invoice, now, tips, policy, events)


def orphan_payments(
    invoice: Invoice,
    chain: str,
    now: int,
    tips: Tips,
    policy: Policy,
    *,
    block_hash: str | None = None,
    txid: str | None = None,
) -> list[PendingEvent]:
    """Payments in an orphaned block (block_hash) or gone from the mempool (txid) stop
    counting; the invoice status follows."""
    events: list[PendingEvent] = []
    for payment in invoice.payments:
        if payment.chain != chain or payment.state is PaymentState.REORGED:
            continue
        if block_hash is not None and payment.block_hash != block_hash:
            continue
        if txid is not None and (payment.txid != txid or payment.height is not None):
            continue
        payment.state = PaymentState.REORGED
        payment.height = None
        payment.block_hash = None
        events.append(PendingEvent(EventType.PAYMENT_REORGED, payment))
    if not events:
        return []
    invoice.updated_at = now
    return settle(invoice, now, tips, policy, events)


def cancel(invoice: Invoice, now: int, tips: Tips, policy: Policy) -> list[PendingEvent]:
    if invoice.status is InvoiceStatus.CANCELLED:
        return []
    if not invoice.nothing_paid or invoice.status not in (
        InvoiceStatus.NEW,
        InvoiceStatus.EXPIRED,
    ):
        raise FailedPrecondition(
            f"invoice {invoice.id} is {invoice.status.name}; only an invoice with nothing "
            "paid can be cancelled"
        )
    invoice.cancelled = True
    invoice.expires_at = min(invoice.expires_at, now)
    return settle(invoice, now, tips, policy)


def resolve(invoice: Invoice, resolution: Resolution, note: str, now: int) -> list[PendingEvent]:
    if invoice.status is not InvoiceStatus.UNRESOLVED:
        raise FailedPrecondition(
            f"invoice {invoice.id} is {invoice.status.name}; only UNRESOLVED invoices "
            "can be resolved"
        )
    invoice.resolved = True
    invoice.resolution_note = note
    status = InvoiceStatus.PAID if resolution is Resolution.ACCEPT else InvoiceStatus.REFUNDED
    events: list[PendingEvent] = []
    _set_status(invoice, status, invoice.reason, now, events, EventType.INVOICE_RESOLVED)
    return events


def require_unpaid(invoice: Invoice, what: str) -> None:
    if not invoice.nothing_paid or invoice.status not in (InvoiceStatus.NEW,):
        raise FailedPrecondition(
            f"{what} can only change while the invoice is NEW with nothing paid "
            f"(it is {invoice.status.name})"
        )
