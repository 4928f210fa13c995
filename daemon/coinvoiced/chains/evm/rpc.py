"""JSON-RPC 2.0 transports to an EVM node: a persistent websocket (requests, batches and
subscription notifications on one connection) and plain HTTP (batches, for bulk catch-up
when the chain has an `http_url`).

Responses come back as orjson-decoded Python objects straight off the wire. web3's
persistent provider is not used here: it decodes with the stdlib json module, waits for
responses by spinning the event loop with sleep(0), installs process signal handlers when
awaited, and would make us re-implement resubscription anyway. The watcher needs raw
blocks decoded fast and a connection whose loss it can see and recover from itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import aiohttp
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from ..redact import redact

log = logging.getLogger(__name__)

# A full block with thousands of transactions is several MiB of JSON, and a catch-up
# batch holds many blocks; websockets' default 1 MiB limit would drop the connection.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024

Call = tuple[str, Sequence[Any]]


class RpcError(Exception):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, code: int, message: str, method: str = "") -> None:
        super().__init__(f"{method + ': ' if method else ''}{message} (code {code})")
        self.code = code
        self.method = method


class NodeUnavailable(ConnectionError):
    """No working connection: refused, dropped, or no answer in time."""


class Rpc(Protocol):
    async def call(self, method: str, params: Sequence[Any] = ()) -> Any: ...
    async def batch(self, calls: Sequence[Call]) -> list[Any]: ...


def _result(response: dict[str, Any], method: str) -> Any:
    error = response.get("error")
    if error is not None:
        raise RpcError(int(error.get("code", 0)), str(error.get("message", error)), method)
    return response.get("result")


def describe(exc: BaseException) -> str:
    """One line for status/state strings: the exception's text or, failing that, its type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


class WsRpc:
    """One websocket connection. Not reconnecting by itself: when the connection is lost,
    every pending and future request fails with NodeUnavailable and `on_close` is called;
    the owner (the watcher) decides when to open a new one."""

    def __init__(
        self,
        url: str,
        *,
        request_timeout: float = 60.0,
        on_notification: Callable[[str, Any], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.url = url
        self.label = redact(url)
        self.request_timeout = request_timeout
        self._on_notification = on_notification
        self._on_close = on_close
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        # Request id (the first id of a batch) -> (future, batch size or 0 for a single call).
        self._pending: dict[int, tuple[asyncio.Future[Any], int]] = {}
        self._closed_reason: str | None = "not connected"

    @property
    def closed(self) -> bool:
        return self._closed_reason is not None

    @property
    def closed_reason(self) -> str:
        return self._closed_reason or ""

    async def connect(self, timeout: float = 10.0) -> None:
        try:
            self._ws = await connect(
                self.url,
                open_timeout=timeout,
                max_size=MAX_MESSAGE_BYTES,
                # Many messages may queue while a big batch is decoded; keep reading.
                max_queue=None,
                ping_interval=20,
                ping_timeout=20,
                close_timeout=2,
            )
        except (OSError, WebSocketException, TimeoutError) as exc:
            raise NodeUnavailable(describe(exc)) from exc
        self._closed_reason = None
        self._reader = asyncio.create_task(self._read_loop(), name=f"ws-reader {self.label}")

    async def close(self) -> None:
        self._fail("closed")
        if self._ws is not None:
            try:
                await self._ws.close()
            except Exception:  # closing a broken socket can raise; it is gone either way
                pass
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}
        response = await self._send(request_id, 0, payload)
        return _result(response, method)

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        """Results in the order of `calls`; the first error raises RpcError."""
        if not calls:
            return []
        first = next(self._ids)
        for _ in range(len(calls) - 1):
            next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        responses = await self._send(first, len(calls), payload)
        if not isinstance(responses, list):  # the node refused the batch as a whole
            _result(responses, "batch")
            raise RpcError(0, "batch answered with a single response", "batch")
        ordered: list[Any] = [None] * len(calls)
        seen = 0
        for response in responses:
            slot = response.get("id")
            if isinstance(slot, int) and 0 <= slot - first < len(calls):
                ordered[slot - first] = response
                seen += 1
        if seen != len(calls):
            raise RpcError(0, f"batch of {len(calls)} answered {seen} times", "batch")
        return [_result(r, calls[i][0]) for i, r in enumerate(ordered)]

    async def _send(self, request_id: int, size: int, payload: Any) -> Any:
        if self._closed_reason is not None or self._ws is None:
            raise NodeUnavailable(self._closed_reason or "not connected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, size)
        try:
            await self._ws.send(orjson.dumps(payload), text=True)
            return await asyncio.wait_for(future, self.request_timeout)
        except TimeoutError:
            # The answer may still come and would be misattributed to nothing: the
            # connection's state is unknown, so drop it and let the owner reconnect.
            self._fail(f"no answer within {self.request_timeout:g}s")
            if self._ws is not None:
                asyncio.get_running_loop().create_task(self._ws.close())
            raise NodeUnavailable(f"no answer within {self.request_timeout:g}s") from None
        except WebSocketException as exc:
            self._fail(describe(exc))
            raise NodeUnavailable(describe(exc)) from exc
        finally:
            self._pending.pop(request_id, None)

    async def _read_loop(self) -> None:
        assert self._ws is not None
        reason = "connection closed"
        try:
            while True:
                # decode=False: text frames as bytes, so orjson parses without a UTF-8 copy.
                raw = await self._ws.recv(decode=False)
                message = orjson.loads(raw)
                if isinstance(message, list):
                    ids = [m.get("id") for m in message if isinstance(m.get("id"), int)]
                    entry = self._pending.get(min(ids)) if ids else None
                    if entry is not None and not entry[0].done():
                        entry[0].set_result(message)
                elif message.get("method") == "eth_subscription":
                    params = message.get("params") or {}
                    if self._on_notification is not None:
                        self._on_notification(params.get("subscription"), params.get("result"))
                else:
                    entry = self._pending.get(message.get("id"))  # type: ignore[arg-type]
                    if entry is not None and not entry[0].done():
                        entry[0].set_result(message)
        except asyncio.CancelledError:
            reason = "closed"
            raise
        except (WebSocketException, OSError) as exc:
            reason = f"connection lost: {describe(exc)}"
        except orjson.JSONDecodeError as exc:
            reason = f"undecodable message from node: {describe(exc)}"
        finally:
            self._fail(reason)

    def _fail(self, reason: str) -> None:
        if self._closed_reason is not None and not self._pending:
            return
        first_failure = self._closed_reason is None
        self._closed_reason = self._closed_reason or reason
        for future, _ in list(self._pending.values()):
            if not future.done():
                future.set_exception(NodeUnavailable(self._closed_reason))
        self._pending.clear()
        if first_failure and self._on_close is not None:
            self._on_close()


class HttpRpc:
    """JSON-RPC over HTTP POST; used for bulk reads when an `http_url` is configured."""

    def __init__(self, url: str, *, request_timeout: float = 60.0) -> None:
        self.url = url
        self.label = redact(url)
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, payload: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self.url, data=orjson.dumps(payload), headers={"content-type": "application/json"}
            ) as response:
                body = await response.read()
                if response.status != 200:
                    raise NodeUnavailable(f"HTTP {response.status} from {self.label}")
                return orjson.loads(body)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise NodeUnavailable(describe(exc)) from exc
        except orjson.JSONDecodeError as exc:
            raise NodeUnavailable(f"undecodable answer from {self.label}") from exc

    async def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        payload = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        return _result(await self._post(payload), method)

    async def batch(self, calls: Sequence[Call]) -> list[Any]:
        if not calls:
            return []
        first = next(self._ids)
        for _ in range(len(calls) - 1):
            next(self._ids)
        payload = [
            {"jsonrpc": "2.0", "id": first + i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        responses = await self._post(payload)
        if not isinstance(responses, list):
            _result(responses, "batch")
            raise RpcError(0, "batch answered with a single response", "batch")
        by_id = {r.get("id"): r for r in responses}
        ordered = [by_id.get(first + i) for i in range(len(calls))]
        if any(r is None for r in ordered):
            raise RpcError(0, f"batch of {len(calls)} answered incompletely", "batch")
        return [_result(r, calls[i][0]) for i, r in enumerate(ordered)]  # type: ignore[arg-type]
