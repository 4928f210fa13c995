"""The invoice model: plain dataclasses and enums shared by the ledger, store and rpc layers.

Times are integer microseconds since the Unix epoch (UTC). Amounts are integers
in base units (wei, satoshi, token units, cents).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from fractions import Fraction


class InvoiceStatus(enum.IntEnum):
    # Values match coinvoice.v1.InvoiceStatus.
    NEW = 1
    PROCESSING = 2
    PAID = 3
    EXPIRED = 4
    UNRESOLVED = 5
    REFUNDED = 6
    CANCELLED = 7


class UnresolvedReason(enum.IntEnum):
    # Values match coinvoice.v1.UnresolvedReason; NONE is its UNSPECIFIED.
    NONE = 0
    UNDERPAID = 1
    OVERPAID = 2
    PAID_LATE = 3


class PaymentState(enum.IntEnum):
    # Values match coinvoice.v1.PaymentState.
    PENDING = 1
    CONFIRMING = 2
    CONFIRMED = 3
    REORGED = 4


class EventType(enum.IntEnum):
    # Values match coinvoice.v1.InvoiceEventType.
    INVOICE_CREATED = 1
    INVOICE_UPDATED = 2
    PAYMENT_DETECTED = 3
    PAYMENT_CONFIRMED = 4
    PAYMENT_REORGED = 5
    INVOICE_PAID = 6
    INVOICE_EXPIRED = 7
    INVOICE_UNRESOLVED = 8
    INVOICE_RESOLVED = 9
    INVOICE_CANCELLED = 10


class Resolution(enum.IntEnum):
    ACCEPT = 1
    REFUND = 2


@dataclass(slots=True)
class PaymentOption:
    """Where and how much to pay in one asset; fixed at creation (amount_due changes only
    with an amount update before anything is paid)."""

    asset: str
    chain: str
    address: str
    asset_decimals: int
    required_confirmations: int
    # Asset base units due; None for an open-amount invoice.
    amount_due: int | None
    # Whole currency units per whole asset unit; None when the invoice has no currency.
    rate: Fraction | None
    # BIP21 / EIP-681 URI for wallets, built by the chain layer.
    payment_uri: str = ""


@dataclass(slots=True)
class Payment:
    """One transfer to an invoice address, identified by (chain, txid, index)."""

    chain: str
    txid: str
    index: int
    asset: str
    address: str
    amount: int
    state: PaymentState
    seen_at: int
    late: bool
    required_confirmations: int
    height: int | None = None
    block_hash: str | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.chain, self.txid, self.index)

    @property
    def counts(self) -> bool:
        return self.state is not PaymentState.REORGED

    def confirmations(self, tip_height: int | None) -> int:
        if self.height is None or tip_height is None or tip_height < self.height:
            return 0
        return tip_height - self.height + 1


@dataclass(slots=True)
class Invoice:
    pk: int  # internal row id; 0 until stored
    id: str
    status: InvoiceStatus
    currency: str  # "" for an open invoice without currency
    currency_decimals: int
    amount: int | None  # currency base units; None for open amount
    options: list[PaymentOption]
    created_at: int
    updated_at: int
    expires_at: int
    monitor_until: int
    tracking_id: str | None = None
    request_id: str | None = None
    label: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    required_confirmations: int | None = None  # per-invoice override
    reason: UnresolvedReason = UnresolvedReason.NONE
    resolved: bool = False  # settled by ResolveInvoice or an automatic rule
    cancelled: bool = False
    resolution_note: str = ""
    callback_url: str | None = None
    callback_secret: str | None = None
    payments: list[Payment] = field(default_factory=list)

    def option_for(self, asset: str) -> PaymentOption | None:
        for option in self.options:
            if option.asset == asset:
                return option
        return None

    def payment(self, key: tuple[str, str, int]) -> Payment | None:
        for payment in self.payments:
            if payment.key == key:
                return payment
        return None

    @property
    def nothing_paid(self) -> bool:
        return not any(p.counts for p in self.payments)


@dataclass(slots=True, frozen=True)
class PendingEvent:
    """An event the ledger decided on; the store gives it a sequence and a snapshot."""

    type: EventType
    payment: Payment | None = None


@dataclass(slots=True, frozen=True)
class Policy:
    """Settlement rules from the [invoices] section of the config."""

    underpaid_tolerance: Fraction = Fraction(0)  # fraction of the amount, e.g. 1/100
    overpaid_tolerance: Fraction = Fraction(0)
    auto_accept: frozenset[UnresolvedReason] = frozenset()


@dataclass(slots=True, frozen=True)
class Transfer:
    """A chain-neutral observation from a watcher: `amount` base units of `asset` paid to
    `address` in (txid, index), in the mempool (height None) or in block (height, hash).
    `watch_key` is what the address index is keyed by (see chains.matcher)."""

    chain: str
    txid: str
    index: int
    asset: str
    address: str
    amount: int
    watch_key: bytes
    height: int | None = None
    block_hash: str | None = None
