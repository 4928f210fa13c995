"""A small typed async client for the coinvoice gRPC API.

It is a thin layer over the generated stubs (`coinvoice.v1.invoice_pb2_grpc`): requests are
built from keyword arguments, replies are the protobuf messages themselves
(`coinvoice.v1.invoice_pb2.Invoice` and friends, typed by the generated `.pyi`), and every
gRPC failure is raised as one exception type, `CoinvoiceError`, carrying the canonical
status code and the daemon's message (which names the offending field).

    from decimal import Decimal
    from coinvoice import Client

    async with Client("127.0.0.1:50051") as client:
        invoice = await client.create_invoice(
            amount=Decimal("25.00"), currency="USD", tracking_id="order-1017"
        )
        for option in invoice.payment_options:
            print(option.asset, option.address, option.amount_due)

Amounts are decimal strings (or `decimal.Decimal`), never floats: a float cannot hold
0.1 exactly, so passing one raises TypeError before anything is sent.

Resuming the event stream
-------------------------
`stream_events` replays every stored event after `after_sequence` and then follows new
ones live, without gap or duplicate. The stream ends when the daemon shuts down (cleanly)
and raises `CoinvoiceError(UNAVAILABLE)` when the connection drops. A subscriber that
persists the sequence of the last event it has *processed* can therefore reconnect at
any time and miss nothing:

    import asyncio
    import contextlib

    import grpc

    async def follow(client: Client, handle, load_last_sequence, save_last_sequence):
        last = load_last_sequence()
        while True:
            try:
                async with contextlib.aclosing(client.stream_events(after_sequence=last)) as events:
                    async for event in events:
                        await handle(event)          # process first ...
                        last = event.sequence
                        save_last_sequence(last)     # ... then remember: at-least-once
            except CoinvoiceError as exc:
                if exc.code is not grpc.StatusCode.UNAVAILABLE:
                    raise
            await asyncio.sleep(1)  # daemon restarting or unreachable: back off, resume

Handlers should be idempotent (keyed by `event.sequence`), since an event processed just
before a crash, but not yet saved, is delivered again.

Credentials
-----------
Today the daemon serves plaintext gRPC without authentication. TLS is one argument:
`Client(target, credentials=grpc.ssl_channel_credentials(ca_pem))`. Per-call metadata
(for example an API key as `("authorization", "Bearer <key>")`) goes in `metadata=`, and
is sent with every call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from . import credentials
from .v1 import invoice_pb2 as pb
from .v1 import invoice_pb2_grpc as pb_grpc

__all__ = [
    "DEFAULT_TARGET",
    "Client",
    "CoinvoiceError",
    "invoice_status",
    "resolution",
]

DEFAULT_TARGET = "127.0.0.1:50051"

# Seconds. A deadline for unary calls so a hung daemon cannot hang the caller forever;
# the event stream is long-lived by design and never gets one.
DEFAULT_TIMEOUT = 30.0

# Status words a person may type, besides the enum names themselves.
_STATUS_ALIASES = {"CANCELED": "CANCELLED"}

StatusLike = pb.InvoiceStatus | int | str
ResolutionLike = pb.Resolution | int | str
Amount = str | Decimal


class CoinvoiceError(Exception):
    """A failed call: the canonical gRPC status code and the daemon's message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @classmethod
    def from_rpc_error(cls, error: grpc.aio.AioRpcError) -> CoinvoiceError:
        return cls(error.code(), error.details() or "")


def invoice_status(value: StatusLike) -> int:
    """An InvoiceStatus from its enum value, its name (INVOICE_STATUS_PAID) or the plain
    word in any case (paid, Processing). ValueError for anything else, UNSPECIFIED included."""
    if isinstance(value, str):
        word = value.strip().upper().replace("-", "_").replace(" ", "_")
        word = word.removeprefix("INVOICE_STATUS_")
        word = _STATUS_ALIASES.get(word, word)
        try:
            number = pb.InvoiceStatus.Value("INVOICE_STATUS_" + word)
        except ValueError:
            number = 0
        if number == 0:
            raise ValueError(
                f"unknown invoice status {value!r}; one of {', '.join(status_words())}"
            )
        return number
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in pb.InvoiceStatus.values() or value == 0:
            raise ValueError(f"unknown invoice status {value}")
        return value
    raise TypeError(f"invoice status must be a str or an InvoiceStatus, not {type(value).__name__}")


def status_words() -> list[str]:
    """The statuses as lower-case words (new, processing, ...), in enum order."""
    return [
        name.removeprefix("INVOICE_STATUS_").lower()
        for name, number in pb.InvoiceStatus.items()
        if number != 0
    ]


def resolution(value: ResolutionLike) -> int:
    """A Resolution from "accept" / "refund" (any case), its enum name or its value."""
    if isinstance(value, str):
        word = value.strip().upper().removeprefix("RESOLUTION_")
        if word not in ("ACCEPT", "REFUND"):
            raise ValueError(f"unknown resolution {value!r}; one of accept, refund")
        return pb.Resolution.Value("RESOLUTION_" + word)
    if isinstance(value, int) and not isinstance(value, bool):
        if value not in (pb.RESOLUTION_ACCEPT, pb.RESOLUTION_REFUND):
            raise ValueError(f"unknown resolution {value}")
        return value
    raise TypeError(f"resolution must be a str or a Resolution, not {type(value).__name__}")


def amount_text(value: Amount, field: str = "amount") -> str:
    """The decimal string sent on the wire for an amount.

    Only str and Decimal are accepted: a float has already lost the exact value
    (0.1 is 0.1000000000000000055...), and an int is ambiguous with base units (wei,
    satoshi), so both are refused rather than guessed at.
    """
    if isinstance(value, str):
        return value  # the daemon validates the text and names the field if it is wrong
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{field} must be a finite decimal, not {value}")
        # "f" never produces exponent form (Decimal("1E+2") -> "100"), which the API refuses.
        return format(value, "f")
    raise TypeError(
        f"{field} must be a str or decimal.Decimal, not {type(value).__name__} "
        "(floats cannot represent money exactly)"
    )


def _timestamp(value: dt.datetime | Timestamp, field: str) -> Timestamp:
    if isinstance(value, Timestamp):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        # A naive datetime would silently mean UTC to protobuf; refuse instead of guessing.
        raise ValueError(f"{field} must be a timezone-aware datetime")
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


class Client:
    """An async client for InvoiceService and NodeService.

    `target` is HOST:PORT. `credentials` (grpc.ChannelCredentials) switches to a TLS
    channel; `metadata` is sent with every call (API keys go here once the daemon takes
    them); `timeout` (seconds, None for none) is the deadline of every unary call;
    `options` are extra gRPC channel options. Use as `async with Client(...) as client:`
    or call `await client.close()`.

    The channel is created on first use, inside the running event loop.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        api_key: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        options: Sequence[tuple[str, Any]] | None = None,
    ) -> None:
        self.target = target
        self._credentials = credentials
        if isinstance(metadata, Mapping):
            metadata = list(metadata.items())
        metadata = list(metadata or ())
        if api_key:
            metadata.append(("authorization", f"Bearer {api_key}"))
        self._metadata: tuple[tuple[str, str], ...] = tuple(metadata)
        self._timeout = timeout
        self._options = list(options or ())
        self._channel: grpc.aio.Channel | None = None
        self._invoices: Any = None
        self._node: Any = None
        self._admin: Any = None

    @classmethod
    def from_environment(
        cls, target: str = DEFAULT_TARGET, *, datadir: str | None = None, **kwargs: Any
    ) -> Client:
        """A client with the credentials coinvoice-cli would find: $COINVOICE_API_KEY or
        the daemon's admin.key, and its tls.cert if it serves TLS (see credentials.py)."""
        found = credentials.find(datadir=datadir)
        return cls(target, api_key=found.api_key, credentials=found.channel_credentials(), **kwargs)

    # -- lifecycle ---------------------------------------------------------------------

    def _connect(self) -> None:
        if self._channel is not None:
            return
        if self._credentials is None:
            self._channel = grpc.aio.insecure_channel(self.target, options=self._options)
        else:
            self._channel = grpc.aio.secure_channel(
                self.target, self._credentials, options=self._options
            )
        self._invoices = pb_grpc.InvoiceServiceStub(self._channel)
        self._node = pb_grpc.NodeServiceStub(self._channel)
        self._admin = pb_grpc.AdminServiceStub(self._channel)

    @property
    def invoices_stub(self) -> pb_grpc.InvoiceServiceStub:
        """The generated InvoiceService stub on this client's channel (for anything the
        methods below do not cover; remember to pass metadata yourself)."""
        self._connect()
        return self._invoices

    @property
    def node_stub(self) -> pb_grpc.NodeServiceStub:
        self._connect()
        return self._node

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    async def __aenter__(self) -> Client:
        self._connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _unary(self, method: Any, request: Any) -> Any:
        try:
            return await method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise CoinvoiceError.from_rpc_error(exc) from exc

    # -- InvoiceService ----------------------------------------------------------------

    async def create_invoice(
        self,
        *,
        amount: Amount | None = None,
        currency: str = "",
        accepted_assets: Iterable[str] = (),
        tracking_id: str = "",
        label: str = "",
        expires_in_seconds: int = 0,
        required_confirmations: int = 0,
        metadata: Mapping[str, str] | None = None,
        request_id: str = "",
        callback_url: str = "",
        callback_secret: str = "",
    ) -> pb.Invoice:
        """Create an invoice. `amount` None (or "") makes an open-amount invoice; 0 for
        `expires_in_seconds` / `required_confirmations` means the configured default.
        Pass a `request_id` to make retries safe: the same id returns the first invoice.
        `callback_url` receives the invoice's events as signed HTTP callbacks (with
        `callback_secret`, 16 to 256 characters; else the daemon's defaults apply)."""
        request = pb.CreateInvoiceRequest(
            amount="" if amount is None else amount_text(amount),
            currency=currency,
            accepted_assets=list(accepted_assets),
            tracking_id=tracking_id,
            label=label,
            expires_in_seconds=expires_in_seconds,
            required_confirmations=required_confirmations,
            metadata=dict(metadata or {}),
            request_id=request_id,
            callback_url=callback_url,
            callback_secret=callback_secret,
        )
        self._connect()
        return await self._unary(self._invoices.CreateInvoice, request)

    async def get_invoice(
        self, id: str | None = None, tracking_id: str | None = None
    ) -> pb.Invoice:
        """One invoice by id or by tracking id (exactly one of them; the daemon checks)."""
        request = pb.GetInvoiceRequest(id=id or "", tracking_id=tracking_id or "")
        self._connect()
        return await self._unary(self._invoices.GetInvoice, request)

    async def list_invoices(
        self,
        *,
        statuses: Iterable[StatusLike] = (),
        created_after: dt.datetime | Timestamp | None = None,
        created_before: dt.datetime | Timestamp | None = None,
        tracking_id: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> pb.ListInvoicesResponse:
        """One page of invoices, newest first. Statuses may be words ("paid") or enum
        values; datetimes must be timezone-aware. Pass the reply's `next_page_token` as
        `page_token` (with the same filters) for the next page; see iter_invoices."""
        request = pb.ListInvoicesRequest(
            statuses=[invoice_status(s) for s in statuses],
            tracking_id=tracking_id,
            page_size=page_size,
            page_token=page_token,
        )
        if created_after is not None:
            request.created_after.CopyFrom(_timestamp(created_after, "created_after"))
        if created_before is not None:
            request.created_before.CopyFrom(_timestamp(created_before, "created_before"))
        self._connect()
        return await self._unary(self._invoices.ListInvoices, request)

    async def iter_invoices(
        self,
        *,
        statuses: Iterable[StatusLike] = (),
        created_after: dt.datetime | Timestamp | None = None,
        created_before: dt.datetime | Timestamp | None = None,
        tracking_id: str = "",
        page_size: int = 0,
    ) -> AsyncIterator[pb.Invoice]:
        """Every matching invoice, newest first, fetching pages as it goes."""
        statuses = list(statuses)  # iterated once per page
        token = ""
        while True:
            page = await self.list_invoices(
                statuses=statuses,
                created_after=created_after,
                created_before=created_before,
                tracking_id=tracking_id,
                page_size=page_size,
                page_token=token,
            )
            for invoice in page.invoices:
                yield invoice
            token = page.next_page_token
            if not token:
                return

    async def update_invoice(
        self,
        id: str,
        *,
        label: str | None = None,
        tracking_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
        expires_in_seconds: int | None = None,
        amount: Amount | None = None,
        callback_url: str | None = None,
        callback_secret: str | None = None,
    ) -> pb.Invoice:
        """Change the given fields and only those: the update mask names exactly the
        keyword arguments that are not None. An empty value clears a field (label="",
        tracking_id="", metadata={} — metadata is replaced whole). The deadline can change
        only while NEW (counted from now), the amount only while nothing has been paid."""
        request = pb.UpdateInvoiceRequest(id=id)
        mask: list[str] = []
        if label is not None:
            request.label = label
            mask.append("label")
        if tracking_id is not None:
            request.tracking_id = tracking_id
            mask.append("tracking_id")
        if metadata is not None:
            request.metadata.update(metadata)
            mask.append("metadata")
        if expires_in_seconds is not None:
            request.expires_in_seconds = expires_in_seconds
            mask.append("expires_in_seconds")
        if amount is not None:
            request.amount = amount_text(amount)
            mask.append("amount")
        if callback_url is not None:  # "" falls back to the daemon's default URL
            request.callback_url = callback_url
            mask.append("callback_url")
        if callback_secret is not None:
            request.callback_secret = callback_secret
            mask.append("callback_secret")
        # An empty mask is sent as is: the daemon answers INVALID_ARGUMENT naming the field.
        request.update_mask.extend(mask)
        self._connect()
        return await self._unary(self._invoices.UpdateInvoice, request)

    async def cancel_invoice(self, id: str) -> pb.Invoice:
        """Cancel an invoice on which nothing has been paid (FAILED_PRECONDITION otherwise)."""
        self._connect()
        return await self._unary(self._invoices.CancelInvoice, pb.CancelInvoiceRequest(id=id))

    async def resolve_invoice(
        self, id: str, resolution: ResolutionLike, note: str = ""
    ) -> pb.Invoice:
        """Settle an UNRESOLVED invoice: "accept" (becomes PAID) or "refund" (REFUNDED)."""
        request = pb.ResolveInvoiceRequest(id=id, resolution=_resolution(resolution), note=note)
        self._connect()
        return await self._unary(self._invoices.ResolveInvoice, request)

    async def list_callbacks(self, invoice_id: str) -> pb.ListCallbacksResponse:
        """The invoice's callback deliveries, oldest first: event, URL, state, attempts,
        last HTTP status or error, next retry."""
        request = pb.ListCallbacksRequest(invoice_id=invoice_id)
        self._connect()
        return await self._unary(self._invoices.ListCallbacks, request)

    async def redeliver_callback(self, delivery_id: str) -> pb.CallbackDelivery:
        """Queue the delivery's event again for its URL; returns the new delivery (it has
        its own id, so a receiver that dropped the first as a duplicate takes this one)."""
        request = pb.RedeliverCallbackRequest(delivery_id=delivery_id)
        self._connect()
        return await self._unary(self._invoices.RedeliverCallback, request)

    async def stream_events(
        self, after_sequence: int = 0, invoice_id: str | None = None
    ) -> AsyncIterator[pb.InvoiceEvent]:
        """Every stored event with a sequence above `after_sequence`, then live ones.

        Ends when the daemon closes the stream (shutdown); raises CoinvoiceError with
        UNAVAILABLE if the connection drops. See the module docstring for resuming. To
        stop early and release the stream at once, wrap it in `contextlib.aclosing`.
        """
        request = pb.StreamEventsRequest(after_sequence=after_sequence, invoice_id=invoice_id or "")
        self._connect()
        # No deadline: the stream is meant to stay open.
        call = self._invoices.StreamEvents(request, metadata=self._metadata)
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as exc:
            raise CoinvoiceError.from_rpc_error(exc) from exc
        finally:
            # No-op when the stream already ended; tells the daemon when the consumer
            # stopped early, so it does not keep a subscription for nobody.
            call.cancel()

    # -- NodeService -------------------------------------------------------------------

    async def get_info(self) -> pb.GetInfoResponse:
        """Daemon version, profile, last event sequence and the state of each chain."""
        self._connect()
        return await self._unary(self._node.GetInfo, pb.GetInfoRequest())

    async def get_rates(self) -> pb.GetRatesResponse:
        """The exchange rates the daemon keeps fresh: value (after markup), source, age,
        whether CreateInvoice would use it, and the last error."""
        self._connect()
        return await self._unary(self._node.GetRates, pb.GetRatesRequest())

    # -- AdminService ------------------------------------------------------------------

    async def create_api_key(
        self, permissions: Sequence[str], label: str = ""
    ) -> pb.CreateApiKeyResponse:
        """A new key; its secret is in the response only (the daemon keeps a hash)."""
        self._connect()
        request = pb.CreateApiKeyRequest(permissions=list(permissions), label=label)
        return await self._unary(self._admin.CreateApiKey, request)

    async def list_api_keys(self) -> pb.ListApiKeysResponse:
        self._connect()
        return await self._unary(self._admin.ListApiKeys, pb.ListApiKeysRequest())

    async def revoke_api_key(self, key_id: str) -> pb.ApiKey:
        self._connect()
        return await self._unary(self._admin.RevokeApiKey, pb.RevokeApiKeyRequest(id=key_id))

    async def backup_database(self) -> AsyncIterator[pb.BackupChunk]:
        """The chunks of an online backup; the last one carries the file's SHA-256."""
        self._connect()
        call = self._admin.BackupDatabase(pb.BackupDatabaseRequest(), metadata=self._metadata)
        try:
            async for chunk in call:
                yield chunk
        except grpc.aio.AioRpcError as exc:
            raise CoinvoiceError.from_rpc_error(exc) from exc
        finally:
            call.cancel()


# resolve_invoice's parameter shadows the module-level helper inside the method.
_resolution = resolution
