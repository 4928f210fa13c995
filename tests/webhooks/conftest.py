"""A real HTTP callback receiver on loopback, and daemons configured to call it.

`Receiver` is an aiohttp server running in its own thread and event loop, so both
sync tests (gRPC stubs) and the daemon process can talk to it. Every path has a
programme: a list of `Reply`s consumed one per request (the last one repeats), each
saying what status to answer, how long to wait first, whether to hang until the
path is released, or to drop the connection without answering. Every request is
recorded (path, headers, raw body) before it is answered.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon, base_config
from tests.support.util import free_port, wait_for

STEP = 15.0  # seconds: generous bound for any single condition to become true


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay: float = 0.0  # seconds before answering (a slow receiver)
    hold: bool = False  # wait until Receiver.release(path) (a hung receiver)
    close: bool = False  # drop the connection without an HTTP answer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival
    answered: int | None = None  # status sent; None while pending or when dropped
    done: float | None = None  # time.time() when answered or dropped

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data

    @property
    def delivery_id(self) -> str:
        return self.headers.get("Coinvoice-Delivery", "")


@dataclass
class _Path:
    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    gate: asyncio.Event | None = None


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self._lock = threading.Condition()
        self._paths: dict[str, _Path] = {}
        self.requests: list[Received] = []
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, name="receiver", daemon=True)

    # -- control (any thread) ---------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def program(self, path: str, *replies: Reply | int) -> None:
        """What `path` answers from now on: one reply per request, the last repeats."""
        items = [r if isinstance(r, Reply) else Reply(status=r) for r in replies] or [Reply()]
        with self._lock:
            self._state(path).replies = items

    def release(self, path: str) -> None:
        """Let requests held on `path` (Reply(hold=True)) answer, and stop holding."""
        with self._lock:
            state = self._state(path)
            state.replies = [Reply(r.status, r.delay, False, r.close) for r in state.replies]
            gate = state.gate
        if gate is not None:
            self._loop.call_soon_threadsafe(gate.set)

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path.lstrip("/")]

    def answered(self, path: str, status: int = 200) -> list[Received]:
        return [r for r in self.received(path) if r.answered == status]

    def max_concurrent(self, paths: Collection[str]) -> int:
        """The most requests on `paths` that were open at the same moment."""
        marks: list[tuple[float, int]] = []
        for r in self.received():
            if r.path in paths:
                marks += [(r.at, 1), (r.done if r.done is not None else float("inf"), -1)]
        open_now = peak = 0
        for _, step in sorted(marks):  # at equal times, -1 sorts before +1
            open_now += step
            peak = max(peak, open_now)
        return peak

    def wait_requests(self, path: str, count: int, timeout: float = STEP) -> list[Received]:
        return wait_for(
            lambda: len(self.received(path)) >= count and self.received(path),
            timeout,
            f"{count} requests on /{path}",
        )

    def wait_answered(
        self, path: str, count: int, status: int = 200, timeout: float = STEP
    ) -> list[Received]:
        return wait_for(
            lambda: len(self.answered(path, status)) >= count and self.answered(path, status),
            timeout,
            f"{count} requests answered {status} on /{path}",
        )

    # -- server (its own thread and loop) ---------------------------------------------

    def _state(self, path: str) -> _Path:
        return self._paths.setdefault(path.lstrip("/"), _Path())

    def start(self) -> Receiver:
        self._thread.start()
        if not self._started.wait(STEP):
            raise RuntimeError("receiver did not start")
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._runner is not None
            with self._lock:
                gates = [p.gate for p in self._paths.values() if p.gate is not None]
            for gate in gates:
                gate.set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(STEP)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STEP)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=0.1
        )
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._started.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = request.match_info["path"]
        record = Received(path, dict(request.headers), body, time.time())
        with self._lock:
            self.requests.append(record)
            state = self._state(path)
            reply = state.replies[0]
            if len(state.replies) > 1:
                state.replies.pop(0)
            if reply.hold and state.gate is None:
                state.gate = asyncio.Event()
            gate = state.gate if reply.hold else None
        if gate is not None:
            await gate.wait()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.close:
            assert request.transport is not None
            record.done = time.time()
            request.transport.close()
            raise asyncio.CancelledError  # nothing more to write on a closed connection
        with self._lock:
            record.answered = reply.status
            record.done = time.time()
        return web.Response(status=reply.status, text="ok" if reply.status < 300 else "no")


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()


def callbacks_config(**overrides: Any) -> dict[str, Any]:
    """Quick retries and short timeouts, loopback allowed."""
    config: dict[str, Any] = {
        "allow_private_addresses": True,
        "backoff_initial_ms": 50,
        "backoff_max_seconds": 1,
        "timeout_seconds": 1,
        "max_retries": 4,
        "max_in_flight": 8,
    }
    config.update(overrides)
    return config


def daemon_config(workdir: Path, **callbacks: Any) -> dict[str, Any]:
    config = base_config(workdir / "data", 0)
    config["callbacks"] = callbacks_config(**callbacks)
    return config


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Private daemons, stopped (or found dead) at the end of the test."""
    started: list[Daemon] = []

    def make(name: str = "daemon", **callbacks: Any) -> Daemon:
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        daemon = Daemon(workdir, daemon_config(workdir, **callbacks))
        started.append(daemon)
        return daemon.start()

    yield make
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon per module for tests that use their own receiver paths."""
    workdir = tmp_path_factory.mktemp("daemon")
    daemon = Daemon(workdir, daemon_config(workdir)).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def create(daemon: Daemon, callback_url: str = "", **fields: Any) -> pb.Invoice:
    fields.setdefault("amount", "0.5")
    fields.setdefault("currency", "ETH")
    return daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(callback_url=callback_url, **fields), timeout=STEP
    )


def relabel(daemon: Daemon, invoice_id: str, label: str) -> pb.Invoice:
    return daemon.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(id=invoice_id, update_mask=["label"], label=label), timeout=STEP
    )


def deliveries(daemon: Daemon, invoice_id: str) -> list[pb.CallbackDelivery]:
    reply = daemon.invoices.ListCallbacks(
        pb.ListCallbacksRequest(invoice_id=invoice_id), timeout=STEP
    )
    return list(reply.deliveries)


def wait_settled(
    daemon: Daemon, invoice_id: str, count: int, timeout: float = STEP
) -> list[pb.CallbackDelivery]:
    """The invoice's deliveries once there are `count` and none is pending any more."""

    def settled() -> list[pb.CallbackDelivery] | None:
        rows = deliveries(daemon, invoice_id)
        if len(rows) >= count and all(r.state != pb.CALLBACK_STATE_PENDING for r in rows):
            return rows
        return None

    return wait_for(settled, timeout, f"{count} settled callbacks of {invoice_id}")
