"""The invoice state machine, exercised directly (pure functions, no I/O)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from coinvoiced.domain import ledger
from coinvoiced.domain.errors import FailedPrecondition
from coinvoiced.domain.model import (
    EventType,
    Invoice,
    InvoiceStatus,
    PaymentOption,
    PaymentState,
    Policy,
    Resolution,
    Transfer,
    UnresolvedReason,
)

S = 1_000_000
T0 = 1_800_000_000 * S
EXPIRES = T0 + 900 * S
ETH = 10**18
POLICY = Policy()


def make_invoice(amount: int | None = ETH, *, assets: tuple[str, ...] = ("ETH",)) -> Invoice:
    options = []
    for asset in assets:
        rate = Fraction(1) if asset == "ETH" else Fraction(1, 2)  # 1 TOK = 0.5 ETH
        due = None if amount is None else int(amount / rate) if asset != "ETH" else amount
        options.append(PaymentOption(asset, "eth", "0xabc", 18, 2, due, rate))
    return Invoice(
        pk=1,
        id="inv_aaaaaaaaaaaaaaaa",
        status=InvoiceStatus.NEW,
        currency="ETH",
        currency_decimals=18,
        amount=amount,
        options=options,
        created_at=T0,
        updated_at=T0,
        expires_at=EXPIRES,
        monitor_until=EXPIRES + 3600 * S,
    )


def pay(
    invoice: Invoice,
    amount: int,
    txid: str = "0x1",
    *,
    height: int | None = None,
    now: int = T0 + S,
    tip: int | None = None,
    asset: str = "ETH",
    policy: Policy = POLICY,
) -> list[EventType]:
    transfer = Transfer(
        "eth",
        txid,
        0,
        asset,
        "0xabc",
        amount,
        b"k",
        height,
        None if height is None else f"0xb{height}",
    )
    tips = {"eth": tip if tip is not None else (height or 0)}
    return [e.type for e in ledger.record_transfer(invoice, transfer, now, tips, policy)]


def tip(
    invoice: Invoice, height: int, now: int = T0 + 2 * S, policy: Policy = POLICY
) -> list[EventType]:
    return [e.type for e in ledger.settle(invoice, now, {"eth": height}, policy)]


def test_mempool_then_confirmations_then_paid() -> None:
    inv = make_invoice()
    assert pay(inv, ETH) == [EventType.PAYMENT_DETECTED, EventType.INVOICE_UPDATED]
    assert inv.status is InvoiceStatus.PROCESSING
    assert pay(inv, ETH, height=10) == [EventType.PAYMENT_DETECTED]
    assert inv.payments[0].state is PaymentState.CONFIRMING
    assert tip(inv, 11) == [EventType.PAYMENT_CONFIRMED, EventType.INVOICE_PAID]
    assert inv.status is InvoiceStatus.PAID
    assert len(inv.payments) == 1


def test_same_observation_twice_is_a_no_op() -> None:
    inv = make_invoice()
    pay(inv, ETH, height=10)
    assert pay(inv, ETH, height=10) == []
    assert len(inv.payments) == 1


def test_two_partial_payments_add_up() -> None:
    inv = make_invoice()
    pay(inv, ETH // 2, "0x1", height=10, tip=11)
    assert inv.status is InvoiceStatus.PROCESSING
    events = pay(inv, ETH - ETH // 2, "0x2", height=11, tip=12)
    assert EventType.INVOICE_PAID in events
    assert inv.status is InvoiceStatus.PAID


def test_payments_in_two_assets_add_up() -> None:
    inv = make_invoice(assets=("ETH", "TOK"))
    pay(inv, ETH // 2, "0x1", height=10, tip=11)
    pay(inv, ETH, "0x2", height=10, tip=11, asset="TOK")  # 1 TOK = 0.5 ETH
    assert inv.status is InvoiceStatus.PAID


def test_overpaid_beyond_tolerance_is_unresolved() -> None:
    inv = make_invoice()
    pay(inv, ETH + 1, height=10, tip=11)
    assert (inv.status, inv.reason) == (InvoiceStatus.UNRESOLVED, UnresolvedReason.OVERPAID)


def test_overpaid_within_tolerance_is_paid() -> None:
    policy = Policy(overpaid_tolerance=Fraction(1, 100))
    inv = make_invoice()
    pay(inv, ETH + ETH // 100, height=10, tip=11, policy=policy)
    assert inv.status is InvoiceStatus.PAID


def test_underpaid_within_tolerance_is_paid() -> None:
    policy = Policy(underpaid_tolerance=Fraction(1, 100))
    inv = make_invoice()
    pay(inv, ETH - ETH // 100, height=10, tip=11, policy=policy)
    assert inv.status is InvoiceStatus.PAID


def test_underpaid_at_expiry() -> None:
    inv = make_invoice()
    pay(inv, ETH // 2, height=10, tip=11)
    assert inv.status is InvoiceStatus.PROCESSING
    assert tip(inv, 11, now=EXPIRES) == [EventType.INVOICE_UNRESOLVED]
    assert (inv.status, inv.reason) == (InvoiceStatus.UNRESOLVED, UnresolvedReason.UNDERPAID)


def test_unconfirmed_on_time_payment_waits_past_deadline() -> None:
    inv = make_invoice()
    pay(inv, ETH)  # mempool before the deadline
    assert tip(inv, 5, now=EXPIRES + S) == []
    assert inv.status is InvoiceStatus.PROCESSING
    pay(inv, ETH, height=6, tip=7, now=EXPIRES + 2 * S)
    assert inv.status is InvoiceStatus.PAID
    assert inv.payments[0].late is False


def test_nothing_paid_expires() -> None:
    inv = make_invoice()
    assert tip(inv, 1, now=EXPIRES) == [EventType.INVOICE_EXPIRED]
    assert inv.status is InvoiceStatus.EXPIRED


def test_late_payment_is_paid_late() -> None:
    inv = make_invoice()
    tip(inv, 1, now=EXPIRES)
    events = pay(inv, ETH, now=EXPIRES + S)
    assert events == [EventType.PAYMENT_DETECTED, EventType.INVOICE_UNRESOLVED]
    assert (inv.status, inv.reason) == (InvoiceStatus.UNRESOLVED, UnresolvedReason.PAID_LATE)
    assert inv.payments[0].late


def test_auto_accept_paid_late() -> None:
    policy = Policy(auto_accept=frozenset({UnresolvedReason.PAID_LATE}))
    inv = make_invoice()
    tip(inv, 1, now=EXPIRES, policy=policy)
    pay(inv, ETH, now=EXPIRES + S, policy=policy)  # unconfirmed: not accepted yet
    assert inv.status is InvoiceStatus.UNRESOLVED
    events = pay(inv, ETH, height=5, tip=6, now=EXPIRES + 2 * S, policy=policy)
    assert events[-1] is EventType.INVOICE_RESOLVED
    assert inv.status is InvoiceStatus.PAID and inv.resolved


def test_open_amount_paid_on_any_confirmed_payment() -> None:
    inv = make_invoice(None)
    pay(inv, 7, height=10, tip=10)
    assert inv.status is InvoiceStatus.PROCESSING
    tip(inv, 11)
    assert inv.status is InvoiceStatus.PAID


def test_reorg_takes_paid_back_to_processing_and_reinclusion_restores() -> None:
    inv = make_invoice()
    pay(inv, ETH, height=10, tip=11)
    assert inv.status is InvoiceStatus.PAID
    events = ledger.orphan_payments(inv, "eth", T0 + 3 * S, {"eth": 9}, POLICY, block_hash="0xb10")
    assert [e.type for e in events] == [EventType.PAYMENT_REORGED, EventType.INVOICE_UPDATED]
    assert inv.status is InvoiceStatus.NEW
    assert inv.payments[0].state is PaymentState.REORGED
    pay(inv, ETH, height=11, tip=12, now=T0 + 4 * S)
    assert inv.status is InvoiceStatus.PAID
    assert len(inv.payments) == 1 and inv.payments[0].height == 11


def test_dropped_mempool_transaction() -> None:
    inv = make_invoice()
    pay(inv, ETH, "0xaa")
    events = ledger.orphan_payments(inv, "eth", T0 + 2 * S, {}, POLICY, txid="0xaa")
    assert [e.type for e in events] == [EventType.PAYMENT_REORGED, EventType.INVOICE_UPDATED]
    assert inv.status is InvoiceStatus.NEW


def test_cancel_only_when_nothing_paid() -> None:
    inv = make_invoice()
    assert [e.type for e in ledger.cancel(inv, T0 + S, {}, POLICY)] == [EventType.INVOICE_CANCELLED]
    paid = make_invoice()
    pay(paid, 1)
    with pytest.raises(FailedPrecondition):
        ledger.cancel(paid, T0 + S, {}, POLICY)


def test_payment_to_cancelled_invoice_is_reported_late() -> None:
    inv = make_invoice()
    ledger.cancel(inv, T0 + S, {}, POLICY)
    pay(inv, ETH, now=T0 + 2 * S)
    assert (inv.status, inv.reason) == (InvoiceStatus.UNRESOLVED, UnresolvedReason.PAID_LATE)


def test_resolve_only_unresolved() -> None:
    inv = make_invoice()
    with pytest.raises(FailedPrecondition):
        ledger.resolve(inv, Resolution.ACCEPT, "", T0)
    pay(inv, 2 * ETH, height=1, tip=2)
    events = ledger.resolve(inv, Resolution.REFUND, "sent back", T0 + S)
    assert [e.type for e in events] == [EventType.INVOICE_RESOLVED]
    assert inv.status is InvoiceStatus.REFUNDED and inv.resolution_note == "sent back"
    # A resolved invoice keeps its status when more money arrives.
    assert pay(inv, 1, "0x9", height=3, tip=4) == [
        EventType.PAYMENT_DETECTED,
        EventType.PAYMENT_CONFIRMED,
    ]
    assert inv.status is InvoiceStatus.REFUNDED


def test_every_status_change_emits_exactly_one_status_event() -> None:
    inv = make_invoice()
    statuses = [inv.status]
    all_events: list[EventType] = []
    steps = [
        lambda: pay(inv, ETH // 2, "0x1"),
        lambda: pay(inv, ETH // 2, "0x1", height=5, tip=5),
        lambda: tip(inv, 6),
        lambda: pay(inv, ETH, "0x2", height=6, tip=7),
        lambda: [
            e.type
            for e in ledger.orphan_payments(
                inv, "eth", T0 + 5 * S, {"eth": 5}, POLICY, block_hash="0xb6"
            )
        ],
        lambda: tip(inv, 5, now=EXPIRES),
    ]
    for step in steps:
        before = inv.status, inv.reason
        events = step()
        all_events += events
        status_events = [e for e in events if e.name.startswith("INVOICE_")]
        changed = (inv.status, inv.reason) != before
        assert len(status_events) == (1 if changed else 0), (before, inv.status, events)
        statuses.append(inv.status)
    assert statuses[-1] is InvoiceStatus.UNRESOLVED
