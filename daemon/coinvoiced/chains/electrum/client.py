"""One Electrum-protocol connection over aiorpcx: TCP or TLS (optionally pinned to a
self-signed certificate), server.version negotiation, and calls sent many at a time.

Large numbers of calls (subscribing tens of thousands of scripthashes) go out as JSON-RPC
batches when the server answers a probe batch (ElectrumX, electrs >= 0.9, Fulcrum >= 1.9),
otherwise as pipelined single requests; either way many are in flight at once, so the
cost is bandwidth and server CPU, not round trips.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from aiorpcx import (
    JSONRPC,
    NewlineFramer,
    Notification,
    RPCError,
    RPCSession,
    connect_rs,
)

from .protocol import PROTOCOL_MAX, PROTOCOL_MIN, version_tuple

log = logging.getLogger(__name__)

CLIENT_NAME = "coinvoice"
# aiorpcx's default (1 MB) is too small for big transactions (hex doubles their size) and
# long histories; a bigger message is dropped by the framer and its request times out.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
CONNECT_TIMEOUT = 10.0
REQUEST_TIMEOUT = 60.0
BATCH_PROBE_TIMEOUT = 5.0
BATCH_SIZE = 500  # requests per JSON-RPC batch (a reply must stay under servers' limits)
PIPELINE_CHUNK = 2000  # single requests started together when batches are not supported
IN_FLIGHT = 64  # batches (or single requests) awaiting replies at once

Notify = Callable[[str, Sequence[Any]], None]
_AIORPCX_LOG = logging.getLogger(__name__ + ".aiorpcx")
_AIORPCX_LOG.setLevel(logging.WARNING)


class ServerError(Exception):
    """The server answered with a JSON-RPC error, or said something we cannot use."""


class CertificateMismatch(ServerError):
    pass


@dataclass(frozen=True, slots=True)
class ServerUrl:
    url: str
    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> ServerUrl:
        parsed = urlparse(url)
        if parsed.scheme not in ("tcp", "ssl") or not parsed.hostname or not parsed.port:
            raise ValueError(f"{url!r} is not tcp://host:port or ssl://host:port")
        return cls(url, parsed.hostname, parsed.port, parsed.scheme == "ssl")


def tls_context(pinned: Path | None) -> ssl.SSLContext:
    """Without a pinned certificate: the system's CAs and a host name check. With one: the
    peer must present exactly that certificate (checked after the handshake), which is how
    self-hosted Electrum servers with self-signed certificates are trusted."""
    if pinned is None:
        return ssl.create_default_context()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the pin below is stricter than any CA check
    return context


def pinned_fingerprint(pinned: Path) -> bytes:
    der = ssl.PEM_cert_to_DER_cert(pinned.read_text())
    return hashlib.sha256(der).digest()


class _Session(RPCSession):
    """Hands server notifications to the client; answers server.ping (protocol 1.6 lets
    servers ping clients)."""

    notify: Notify = staticmethod(lambda method, args: None)  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # aiorpcx logs every concurrency adjustment at INFO; keep only its warnings.
        self.logger = _AIORPCX_LOG
        self.sent_request_timeout = REQUEST_TIMEOUT
        self.closed = asyncio.Event()

    async def handle_request(self, request: Any) -> Any:
        if isinstance(request, Notification):
            self.notify(request.method, request.args)
            return None
        if request.method == "server.ping":
            return None
        raise RPCError(JSONRPC.METHOD_NOT_FOUND, f"unknown method {request.method!r}")

    async def connection_lost(self) -> None:
        await super().connection_lost()
        self.closed.set()


class ElectrumClient:
    def __init__(self, server: ServerUrl, notify: Notify, pinned: Path | None = None) -> None:
        self.server = server
        self._notify = notify
        self._pinned = pinned
        self._session: _Session | None = None
        self.software = ""
        self.protocol = ""
        self.batches = False

    @property
    def closed(self) -> bool:
        return self._session is None or self._session.closed.is_set()

    async def wait_closed(self) -> None:
        if self._session is not None:
            await self._session.closed.wait()

    async def connect(self) -> None:
        """Open the connection and negotiate; raises OSError/TimeoutError/ServerError."""
        notify = self._notify

        def factory(transport: Any) -> _Session:
            session = _Session(transport)
            session.notify = notify  # type: ignore[method-assign]
            return session

        context = tls_context(self._pinned) if self.server.tls else None
        client = connect_rs(
            self.server.host,
            self.server.port,
            session_factory=factory,
            framer=NewlineFramer(max_size=MAX_MESSAGE_BYTES),
            ssl=context,
        )
        _transport, protocol = await asyncio.wait_for(client.create_connection(), CONNECT_TIMEOUT)
        self._session = protocol.session
        try:
            if context is not None and self._pinned is not None:
                ssl_object = protocol._asyncio_transport.get_extra_info("ssl_object")
                der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
                if der is None or hashlib.sha256(der).digest() != pinned_fingerprint(self._pinned):
                    raise CertificateMismatch(
                        f"{self.server.url} presented a certificate other than the pinned one"
                    )
            await self._negotiate()
            await self._probe_batches()
        except BaseException:
            await self.close()
            raise

    async def _negotiate(self) -> None:
        # server.version must be the first message (mandatory from protocol 1.6 on).
        reply = await asyncio.wait_for(
            self.call("server.version", CLIENT_NAME, [PROTOCOL_MIN, PROTOCOL_MAX]),
            CONNECT_TIMEOUT,
        )
        if not (
            isinstance(reply, list) and len(reply) == 2 and all(isinstance(x, str) for x in reply)
        ):
            raise ServerError(f"unexpected server.version reply {reply!r}")
        software, version = reply
        try:
            negotiated = version_tuple(version)
        except ValueError:
            raise ServerError(f"server chose protocol {version!r}") from None
        if not version_tuple(PROTOCOL_MIN) <= negotiated <= version_tuple(PROTOCOL_MAX):
            raise ServerError(
                f"server chose protocol {version}, outside {PROTOCOL_MIN}-{PROTOCOL_MAX}"
            )
        self.software, self.protocol = software, version

    async def _probe_batches(self) -> None:
        session = self._session
        assert session is not None
        try:
            async with asyncio.timeout(BATCH_PROBE_TIMEOUT):
                async with session.send_batch(raise_errors=True) as batch:
                    batch.add_request("server.ping")
                    batch.add_request("server.ping")
            self.batches = list(batch.results) == [None, None]
        except Exception as exc:  # a server without batches may answer oddly or not at all
            log.info("%s does not take JSON-RPC batches (%s); pipelining", self.server.url, exc)
            self.batches = False

    @property
    def can_unsubscribe(self) -> bool:
        return version_tuple(self.protocol) >= (1, 4, 2)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                await session.close(force_after=2)
            except Exception:  # closing a broken transport may raise; it is closed either way
                pass
            session.closed.set()
            self._session = session  # keep `closed` answering True

    async def call(self, method: str, *args: Any) -> Any:
        session = self._session
        if session is None or session.closed.is_set():
            raise ConnectionError("not connected")
        try:
            return await session.send_request(method, args)
        except RPCError as exc:
            raise ServerError(f"{method}: {exc.message} (code {exc.code})") from None
        except asyncio.CancelledError:
            # aiorpcx cancels pending requests when the connection drops.
            if session.closed.is_set():
                raise ConnectionError("connection lost") from None
            raise

    async def call_many(self, method: str, arg_lists: Sequence[Sequence[Any]]) -> list[Any]:
        """Results in order; an RPC error for one call is returned as a ServerError in its
        place (the others still count). A dropped connection raises ConnectionError."""
        if not arg_lists:
            return []
        if self.batches:
            chunks = [arg_lists[i : i + BATCH_SIZE] for i in range(0, len(arg_lists), BATCH_SIZE)]
            parts = await self._bounded([self._batch(method, chunk) for chunk in chunks])
            return [item for part in parts for item in part]
        results: list[Any] = []
        for start in range(0, len(arg_lists), PIPELINE_CHUNK):
            chunk = arg_lists[start : start + PIPELINE_CHUNK]
            results += await self._bounded([self._single(method, args) for args in chunk])
        return results

    async def _bounded(self, coroutines: list[Any]) -> list[Any]:
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def run(coroutine: Any) -> Any:
            async with limit:
                return await coroutine

        return await asyncio.gather(*(run(c) for c in coroutines))

    async def _single(self, method: str, args: Sequence[Any]) -> Any:
        try:
            return await self.call(method, *args)
        except ServerError as exc:
            return exc

    async def _batch(self, method: str, chunk: Sequence[Sequence[Any]]) -> list[Any]:
        session = self._session
        if session is None or session.closed.is_set():
            raise ConnectionError("not connected")
        try:
            async with session.send_batch(raise_errors=False) as batch:
                for args in chunk:
                    batch.add_request(method, list(args))
        except asyncio.CancelledError:
            if session.closed.is_set():
                raise ConnectionError("connection lost") from None
            raise
        return [
            ServerError(f"{method}: {r.message} (code {r.code})") if isinstance(r, RPCError) else r
            for r in batch.results
        ]
