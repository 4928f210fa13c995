"""Invoice use cases behind the InvoiceService RPCs: create, read, list, update, cancel,
resolve. Validation happens here (names the field), the decisions in domain.ledger, the
writes in one store unit each."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import orjson

from ..chains.registry import Chain
from ..config import Config
from ..domain import ledger, money
from ..domain.errors import AlreadyExists, InvalidArgument, NotFound, Unavailable
from ..domain.model import (
    EventType,
    Invoice,
    InvoiceStatus,
    PaymentOption,
    PendingEvent,
    Resolution,
)
from ..domain.view import invoice_view
from ..rates import RateProvider, RateUnavailable
from ..store import Store, Tx
from ..store.tx import Reader
from ..webhooks.urls import check_url
from . import validation
from .addresses import AddressAllocator, AssignedAddress
from .clock import SECOND, now_us
from .deadlines import Deadlines

MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100


@dataclass(slots=True)
class CreateRequest:
    amount: str = ""
    currency: str = ""
    accepted_assets: list[str] = field(default_factory=list)
    tracking_id: str = ""
    label: str = ""
    expires_in_seconds: int = 0
    required_confirmations: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    callback_url: str = ""
    callback_secret: str = ""


@dataclass(slots=True)
class UpdateRequest:
    id: str
    update_mask: list[str]
    label: str = ""
    tracking_id: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    expires_in_seconds: int = 0
    amount: str = ""
    callback_url: str = ""
    callback_secret: str = ""


@dataclass(slots=True)
class ListRequest:
    statuses: list[int] = field(default_factory=list)
    created_after: int | None = None
    created_before: int | None = None
    tracking_id: str = ""
    page_size: int = 0
    page_token: str = ""


UPDATABLE = (
    "label",
    "tracking_id",
    "metadata",
    "expires_in_seconds",
    "amount",
    "callback_url",
    "callback_secret",
)


def new_invoice_id() -> str:
    return "inv_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()


class InvoiceManager:
    def __init__(
        self,
        config: Config,
        store: Store,
        chains: dict[str, Chain],
        rates: RateProvider,
        addresses: AddressAllocator,
        deadlines: Deadlines,
        tips: Callable[[], dict[str, int]],
    ) -> None:
        self.config = config
        self.store = store
        self.chains = chains
        self.rates = rates
        self.addresses = addresses
        self.deadlines = deadlines
        self.tips = tips

    # -- reads --------------------------------------------------------------

    def view(self, invoice: Invoice) -> dict[str, Any]:
        return invoice_view(invoice, self.tips())

    async def get(self, invoice_id: str, tracking_id: str) -> Invoice:
        if bool(invoice_id) == bool(tracking_id):
            raise InvalidArgument("id", "set exactly one of id or tracking_id")
        if invoice_id:
            validation.invoice_id("id", invoice_id)
            found = await self.store.read(lambda r: r.invoice_by_id(invoice_id))
        else:
            validation.identifier("tracking_id", tracking_id)
            found = await self.store.read(lambda r: r.invoice_by_tracking_id(tracking_id))
        if found is None:
            raise NotFound(
                f"no invoice with {'id' if invoice_id else 'tracking_id'} "
                f"{(invoice_id or tracking_id)!r}"
            )
        return found

    async def list(self, req: ListRequest) -> tuple[list[Invoice], str]:
        valid_statuses = {int(s) for s in InvoiceStatus}
        for status in req.statuses:
            if status not in valid_statuses:
                raise InvalidArgument("statuses", f"{status} is not a valid InvoiceStatus")
        page_size = req.page_size or DEFAULT_PAGE_SIZE
        validation.int_range("page_size", page_size, 1, MAX_PAGE_SIZE)
        tracking_id = validation.identifier("tracking_id", req.tracking_id)
        if (
            req.created_after is not None
            and req.created_before is not None
            and req.created_after >= req.created_before
        ):
            raise InvalidArgument("created_before", "must be later than created_after")
        fingerprint = hashlib.sha256(
            orjson.dumps([sorted(req.statuses), req.created_after, req.created_before, tracking_id])
        ).hexdigest()[:12]
        cursor = _decode_page_token(req.page_token, fingerprint) if req.page_token else None
        invoices = await self.store.read(
            lambda r: r.list_invoices(
                sorted(set(req.statuses)),
                req.created_after,
                req.created_before,
                tracking_id,
                cursor,
                page_size + 1,
            )
        )
        next_token = ""
        if len(invoices) > page_size:
            invoices = invoices[:page_size]
            last = invoices[-1]
            next_token = _encode_page_token(last.created_at, last.pk, fingerprint)
        return invoices, next_token

    # -- create -------------------------------------------------------------

    async def create(self, req: CreateRequest) -> Invoice:
        plan = self._plan(req)
        if plan.request_id is not None:
            existing = await self.store.read(lambda r: r.invoice_by_request_id(plan.request_id))
            if existing is not None:
                return existing
        rates = await self._lock_rates(plan.currency, plan.assets)
        now = now_us()
        expires_at = now + plan.expires_in * SECOND
        invoice = Invoice(
            pk=0,
            id=new_invoice_id(),
            status=InvoiceStatus.NEW,
            currency=plan.currency,
            currency_decimals=plan.currency_decimals,
            amount=plan.amount,
            options=[],
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            monitor_until=expires_at + self.config.monitoring_window_seconds * SECOND,
            tracking_id=plan.tracking_id,
            request_id=plan.request_id,
            label=plan.label,
            metadata=plan.metadata,
            required_confirmations=plan.confirmations or None,
            callback_url=plan.callback_url,
            callback_secret=plan.callback_secret,
        )
        tips = self.tips()

        def unit(tx: Tx) -> tuple[Invoice, bool, list[AssignedAddress]]:
            if invoice.request_id is not None:
                first = tx.invoice_by_request_id(invoice.request_id)
                if first is not None:
                    return first, False, []
            if invoice.tracking_id is not None and tx.invoice_by_tracking_id(invoice.tracking_id):
                raise AlreadyExists(f"an invoice with tracking_id {invoice.tracking_id!r} exists")
            assigned: dict[str, AssignedAddress] = {}
            for code in plan.assets:
                chain = self.config.assets[code].chain
                if chain not in assigned:
                    assigned[chain] = self.addresses.assign(tx, chain)
                address = assigned[chain].derived.address
                invoice.options.append(self._option(invoice, code, address, rates.get(code)))
            tx.insert_invoice(invoice)
            for item in assigned.values():
                self.addresses.record(tx, invoice.pk, item)
            tx.append_events(invoice, [PendingEvent(EventType.INVOICE_CREATED)], now, tips)
            return invoice, True, list(assigned.values())

        created, is_new, assigned_addresses = await self.store.write(unit)
        if is_new:
            for item in assigned_addresses:
                self.addresses.committed(created.pk, item)
            self.deadlines.schedule(created.pk, created.expires_at, created.monitor_until)
        return created

    def _option(
        self, invoice: Invoice, code: str, address: str, rate: Fraction | None
    ) -> PaymentOption:
        asset = self.config.assets[code]
        due = None
        if invoice.amount is not None:
            assert rate is not None
            due = money.asset_due(invoice.amount, invoice.currency_decimals, rate, asset.decimals)
        chain = self.chains[asset.chain]
        return PaymentOption(
            asset=code,
            chain=asset.chain,
            address=address,
            asset_decimals=asset.decimals,
            required_confirmations=invoice.required_confirmations
            or chain.config.required_confirmations,
            amount_due=due,
            rate=rate,
            payment_uri=chain.payment_uri(asset, address, due),
        )

    @dataclass(slots=True)
    class _Plan:
        amount: int | None
        currency: str
        currency_decimals: int
        assets: list[str]
        tracking_id: str | None
        request_id: str | None
        label: str
        metadata: dict[str, str]
        expires_in: int
        confirmations: int
        callback_url: str | None
        callback_secret: str | None

    def _currency_decimals(self, field_name: str, code: str) -> int:
        if code in self.config.assets:
            return self.config.assets[code].decimals
        if code in self.config.fiat:
            return self.config.fiat[code]
        known = ", ".join(sorted([*self.config.assets, *self.config.fiat]))
        raise InvalidArgument(field_name, f"unknown currency {code[:20]!r} (known: {known})")

    def _plan(self, req: CreateRequest) -> _Plan:
        currency = req.currency.strip() if req.currency == req.currency.strip() else None
        if currency is None:
            raise InvalidArgument("currency", "must not contain whitespace")
        decimals = 0
        amount: int | None = None
        if currency:
            validation.text("currency", currency, 16)
            decimals = self._currency_decimals("currency", currency)
        if req.amount:
            if not currency:
                raise InvalidArgument("currency", "required when amount is set")
            validation.text("amount", req.amount, 64)
            amount = money.parse_amount(req.amount, decimals, "amount")
        if len(req.accepted_assets) > len(self.config.assets):
            raise InvalidArgument("accepted_assets", "more entries than configured assets")
        assets: list[str] = []
        for i, code in enumerate(req.accepted_assets):
            validation.text(f"accepted_assets[{i}]", code, 16)
            if code not in self.config.assets:
                raise InvalidArgument(f"accepted_assets[{i}]", f"unknown asset {code[:20]!r}")
            if code in assets:
                raise InvalidArgument(f"accepted_assets[{i}]", f"{code} is listed twice")
            assets.append(code)
        if not assets:
            if currency in self.config.assets:
                assets = [currency]
            else:
                assets = list(self.config.assets)
        if not assets:
            raise InvalidArgument("accepted_assets", "no assets are configured on this daemon")
        expires_in = req.expires_in_seconds or self.config.default_expiry_seconds
        validation.int_range("expires_in_seconds", expires_in, 1, self.config.max_expiry_seconds)
        validation.int_range("required_confirmations", req.required_confirmations, 0, 1000)
        return self._Plan(
            amount=amount,
            currency=currency,
            currency_decimals=decimals,
            assets=assets,
            tracking_id=validation.identifier("tracking_id", req.tracking_id),
            request_id=validation.identifier("request_id", req.request_id),
            label=validation.text("label", req.label, 256),
            metadata=validation.metadata("metadata", req.metadata),
            expires_in=expires_in,
            confirmations=req.required_confirmations,
            callback_url=self._callback_url(req.callback_url),
            callback_secret=_callback_secret(req.callback_secret),
        )

    def _callback_url(self, url: str) -> str | None:
        if not url:
            return None
        return check_url("callback_url", url, self.config.callbacks.allow_private_addresses)

    async def _lock_rates(self, currency: str, assets: list[str]) -> dict[str, Fraction]:
        """Price of one unit of each asset in the invoice currency, fixed for its lifetime."""
        if not currency:
            return {}
        locked: dict[str, Fraction] = {}
        for code in assets:
            try:
                locked[code] = (await self.rates.get_rate(code, currency)).value
            except RateUnavailable as exc:
                raise Unavailable(f"cannot price {code} in {currency}: {exc}") from None
        return locked

    # -- changes ------------------------------------------------------------

    async def _change(
        self, invoice_id: str, change: Callable[[Tx, Invoice, int], list[PendingEvent]]
    ) -> Invoice:
        validation.invoice_id("id", invoice_id)
        tips = self.tips()

        def unit(tx: Tx) -> Invoice:
            invoice = tx.invoice_by_id(invoice_id)
            if invoice is None:
                raise NotFound(f"no invoice with id {invoice_id!r}")
            now = now_us()
            events = change(tx, invoice, now)
            if events:
                tx.save_invoice(invoice)
                tx.append_events(invoice, events, now, tips)
            return invoice

        return await self.store.write(unit)

    async def update(self, req: UpdateRequest) -> Invoice:
        validation.invoice_id("id", req.id)
        if not req.update_mask:
            raise InvalidArgument("update_mask", "name at least one field to update")
        for name in req.update_mask:
            if name not in UPDATABLE:
                raise InvalidArgument(
                    "update_mask", f"{name[:40]!r} is not one of {', '.join(UPDATABLE)}"
                )
        mask = set(req.update_mask)
        label = validation.text("label", req.label, 256) if "label" in mask else None
        tracking_id = validation.identifier("tracking_id", req.tracking_id)
        metadata = validation.metadata("metadata", req.metadata) if "metadata" in mask else None
        if "expires_in_seconds" in mask:
            validation.int_range(
                "expires_in_seconds", req.expires_in_seconds, 1, self.config.max_expiry_seconds
            )
        callback_url = self._callback_url(req.callback_url) if "callback_url" in mask else None
        callback_secret = (
            _callback_secret(req.callback_secret) if "callback_secret" in mask else None
        )
        window = self.config.monitoring_window_seconds * SECOND
        policy = self.config.policy
        tips = self.tips()

        def change(tx: Tx, invoice: Invoice, now: int) -> list[PendingEvent]:
            if "amount" in mask:
                ledger.require_unpaid(invoice, "amount")
                if not req.amount:
                    raise InvalidArgument("amount", "required when named in update_mask")
                if not invoice.currency:
                    raise InvalidArgument("amount", "the invoice has no currency")
                validation.text("amount", req.amount, 64)
                invoice.amount = money.parse_amount(req.amount, invoice.currency_decimals, "amount")
                # A currency means rates were locked at creation, so dues can be recomputed.
                invoice.options = [
                    self._option(invoice, o.asset, o.address, o.rate) for o in invoice.options
                ]
            if "expires_in_seconds" in mask:
                ledger.require_unpaid(invoice, "expiry")
                invoice.expires_at = now + req.expires_in_seconds * SECOND
                invoice.monitor_until = invoice.expires_at + window
            if label is not None:
                invoice.label = label
            if "tracking_id" in mask and tracking_id != invoice.tracking_id:
                if tracking_id is not None and tx.invoice_by_tracking_id(tracking_id):
                    raise AlreadyExists(f"an invoice with tracking_id {tracking_id!r} exists")
                invoice.tracking_id = tracking_id
            if metadata is not None:
                invoice.metadata = metadata
            if "callback_url" in mask:
                invoice.callback_url = callback_url
            if "callback_secret" in mask:
                invoice.callback_secret = callback_secret
            invoice.updated_at = now
            events = [PendingEvent(EventType.INVOICE_UPDATED)]
            return ledger.settle(invoice, now, tips, policy, events)

        invoice = await self._change(req.id, change)
        if "expires_in_seconds" in mask:
            self.deadlines.schedule(invoice.pk, invoice.expires_at, invoice.monitor_until)
        return invoice

    async def cancel(self, invoice_id: str) -> Invoice:
        policy = self.config.policy
        tips = self.tips()
        return await self._change(
            invoice_id, lambda tx, inv, now: ledger.cancel(inv, now, tips, policy)
        )

    async def resolve(self, invoice_id: str, resolution: int, note: str) -> Invoice:
        validation.invoice_id("id", invoice_id)
        if resolution not in (Resolution.ACCEPT, Resolution.REFUND):
            raise InvalidArgument("resolution", "must be RESOLUTION_ACCEPT or RESOLUTION_REFUND")
        validation.text("note", note, 1024, multiline=True)
        return await self._change(
            invoice_id,
            lambda tx, inv, now: ledger.resolve(inv, Resolution(resolution), note, now),
        )


def _callback_secret(secret: str) -> str | None:
    if not secret:
        return None
    validation.text("callback_secret", secret, 256)
    if len(secret) < 16:
        raise InvalidArgument("callback_secret", "at least 16 characters")
    return secret


def _encode_page_token(created_at: int, pk: int, fingerprint: str) -> str:
    raw = orjson.dumps({"c": created_at, "p": pk, "f": fingerprint})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_page_token(token: str, fingerprint: str) -> tuple[int, int]:
    bad = InvalidArgument("page_token", "not a token returned by ListInvoices with these filters")
    if len(token) > 200:
        raise bad
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise bad from None
    if (
        not isinstance(data, dict)
        or data.get("f") != fingerprint
        or not isinstance(data.get("c"), int)
        or not isinstance(data.get("p"), int)
    ):
        raise bad
    return data["c"], data["p"]


__all__ = ["CreateRequest", "InvoiceManager", "ListRequest", "Reader", "UpdateRequest"]
