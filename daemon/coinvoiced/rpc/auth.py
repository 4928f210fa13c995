"""API-key authentication and permissions for every RPC (health checking excepted).

- `authorization: Bearer <key>` metadata; missing or unknown -> UNAUTHENTICATED,
  a key without the method's permission -> PERMISSION_DENIED (see permissions.py).
- Failed attempts are rate-limited per peer (RESOURCE_EXHAUSTED while over the
  limit), so keys cannot be guessed at line rate.
- CreateInvoice is rate-limited per key, so a leaked or buggy client cannot burn
  through thousands of addresses.
- Streams: a key revoked while its stream is open ends that stream at once
  with UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from ..app.keys import KeyRecord, KeyRing
from ..app.ratelimit import RateLimiter
from .handlers import Behaviour, wrap
from .permissions import ADMIN, METHOD_PERMISSIONS, PUBLIC_PREFIXES, allows

CREATE_METHOD = "/coinvoice.v1.InvoiceService/CreateInvoice"

# The key of the call being handled (each RPC runs in its own task, so its own context).
current_key: contextvars.ContextVar[KeyRecord | None] = contextvars.ContextVar(
    "current_key", default=None
)


def is_admin() -> bool:
    key = current_key.get()
    return key is not None and ADMIN in key.permissions


def _bearer(metadata: Any) -> str | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def _peer_host(peer: str) -> str:
    # "ipv4:127.0.0.1:50322" / "ipv6:[::1]:50322" / "unix:..." -> without the port
    if peer.startswith(("ipv4:", "ipv6:")):
        return peer.rsplit(":", 1)[0]
    return peer.split(":", 1)[0]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self, keys: KeyRing, failed_per_minute: int, creates_per_minute: int, create_burst: int
    ) -> None:
        self.keys = keys
        self.failures = RateLimiter(failed_per_minute, failed_per_minute)
        self.creates = RateLimiter(creates_per_minute, create_burst)
        self._guarded: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        if handler is None or method.startswith(PUBLIC_PREFIXES):
            return handler
        # Built once per method: the per-call work reads the call's own metadata.
        guarded = self._guarded.get(method)
        if guarded is None:
            guarded = self._guarded[method] = self._guard(handler, method)
        return guarded

    def _guard(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        needed = METHOD_PERMISSIONS.get(method)

        async def check(context: grpc.aio.ServicerContext) -> KeyRecord:
            peer = _peer_host(context.peer())
            if self.failures.exhausted(peer):
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "too many failed authentication attempts; try again later",
                )
            token = _bearer(context.invocation_metadata())
            record = self.keys.authenticate(token) if token else None
            if record is None:
                self.failures.allow(peer)
                message = (
                    "invalid or revoked API key"
                    if token
                    else "missing 'authorization: Bearer <api key>' metadata"
                )
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
            assert record is not None
            if needed is None or not allows(record.permissions, needed):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"this API key lacks the {needed or 'admin'} permission",
                )
            if method == CREATE_METHOD and not self.creates.allow(record.id):
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    "invoice creation rate limit reached for this API key",
                )
            current_key.set(record)
            return record

        def unary(behaviour: Behaviour) -> Behaviour:
            async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await check(context)
                return await behaviour(request, context)

            return guarded

        def streaming(behaviour: Behaviour) -> Behaviour:
            async def guarded(
                request: Any, context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                record = await check(context)
                async for item in _until_revoked(behaviour(request, context), record, context):
                    yield item

            return guarded

        return wrap(handler, unary, streaming)


async def _until_revoked(
    stream: AsyncIterator[Any], record: KeyRecord, context: grpc.aio.ServicerContext
) -> AsyncIterator[Any]:
    """Yield from `stream` until it ends or the key is revoked, whichever comes first."""
    revoked = asyncio.ensure_future(record.revoked.wait())
    iterator = stream.__aiter__()
    following: asyncio.Future[Any] | None = None
    try:
        while True:
            following = asyncio.ensure_future(iterator.__anext__())
            await asyncio.wait({following, revoked}, return_when=asyncio.FIRST_COMPLETED)
            if revoked.done() and not following.done():
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, "API key revoked")
            try:
                item = following.result()
            except StopAsyncIteration:
                return
            following = None
            yield item
    finally:
        revoked.cancel()
        if following is not None and not following.done():
            # The client went away (or the key was revoked) mid-wait: stop the pending
            # step first, so that closing the generator does not find it still running.
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
