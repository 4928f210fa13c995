"""Prometheus metrics, served on an optional HTTP listener ([metrics] listen).

Counters are updated where things happen (RPCs, committed events, callbacks);
gauges that describe state (invoices by status, chain tips, queue depth) are
read when scraped, from in-memory state or a cached store query, so a scrape
never blocks the event loop on the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .domain.model import EventType, InvoiceStatus
from .store import StoredEvent

if TYPE_CHECKING:
    from .app.application import Application

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpc_requests = Counter(
            "coinvoice_rpc_requests",
            "RPCs handled, by method and status code",
            ["method", "code"],
            registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "coinvoice_rpc_duration_seconds",
            "RPC handling time, by method",
            ["method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.events = Counter(
            "coinvoice_events", "Events committed, by type", ["type"], registry=self.registry
        )
        self.payments_detected = Counter(
            "coinvoice_payments_detected",
            "Payments detected (mempool or block)",
            ["chain", "asset"],
            registry=self.registry,
        )
        self.payments_confirmed = Counter(
            "coinvoice_payments_confirmed",
            "Payments that reached their confirmations",
            ["chain", "asset"],
            registry=self.registry,
        )

    def observe_rpc(self, method: str, code: str, seconds: float) -> None:
        self.rpc_requests.labels(method, code).inc()
        self.rpc_seconds.labels(method).observe(seconds)

    def observe_events(self, events: list[StoredEvent]) -> None:
        for event in events:
            name = EventType(event.type).name
            self.events.labels(name).inc()
            if event.type in (EventType.PAYMENT_DETECTED, EventType.PAYMENT_CONFIRMED):
                payment = orjson.loads(event.payload)["payment"] or {}
                counter = (
                    self.payments_detected
                    if event.type == EventType.PAYMENT_DETECTED
                    else self.payments_confirmed
                )
                counter.labels(payment.get("chain", ""), payment.get("asset", "")).inc()


class StateCollector(Collector):
    """Gauges read at scrape time from the application's in-memory state."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.invoices_by_status: dict[int, int] = {}
        self.pending_callbacks = 0

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.app
        invoices = GaugeMetricFamily("coinvoice_invoices", "Invoices by status", labels=["status"])
        for status in InvoiceStatus:
            invoices.add_metric([status.name.lower()], self.invoices_by_status.get(status, 0))
        yield invoices
        tip = GaugeMetricFamily("coinvoice_chain_tip_height", "Node tip", labels=["chain"])
        processed = GaugeMetricFamily(
            "coinvoice_chain_processed_height", "Last processed block", labels=["chain"]
        )
        lag = GaugeMetricFamily(
            "coinvoice_chain_lag_blocks", "Tip minus processed", labels=["chain"]
        )
        connected = GaugeMetricFamily(
            "coinvoice_chain_connected", "1 when the node connection works", labels=["chain"]
        )
        watched = GaugeMetricFamily(
            "coinvoice_watched_addresses", "Addresses in the in-memory index", labels=["chain"]
        )
        for name, chain in app.chains.items():
            status = chain.status
            tip.add_metric([name], status.tip_height or 0)
            processed.add_metric([name], status.processed_height or 0)
            lag.add_metric(
                [name], max(0, (status.tip_height or 0) - (status.processed_height or 0))
            )
            connected.add_metric([name], 1 if status.connected else 0)
            watched.add_metric([name], app.index.count(name))
        yield from (tip, processed, lag, connected, watched)
        yield GaugeMetricFamily(
            "coinvoice_callbacks_pending",
            "Callback deliveries waiting to be sent or retried",
            value=self.pending_callbacks,
        )
        yield GaugeMetricFamily(
            "coinvoice_callbacks_in_flight",
            "Callback POSTs in flight",
            value=app.deliverer.in_flight,
        )
        yield GaugeMetricFamily(
            "coinvoice_callbacks_failed",
            "Callback deliveries given up since start",
            value=app.deliverer.failures,
        )
        yield GaugeMetricFamily(
            "coinvoice_stream_subscribers",
            "Open StreamEvents calls",
            value=app.bus.subscriber_count,
        )
        yield GaugeMetricFamily(
            "coinvoice_last_event_sequence", "Newest event sequence", value=app.bus.last_sequence
        )


class MetricsServer:
    """Serves /metrics; refreshes the store-derived gauges every few seconds."""

    def __init__(self, app: Application, metrics: Metrics, listen: str) -> None:
        self.app = app
        self.metrics = metrics
        self.listen = listen
        self.state = StateCollector(app)
        metrics.registry.register(self.state)
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def refresh(self) -> None:
        self.state.invoices_by_status = await self.app.store.read(lambda r: r.count_by_status())
        self.state.pending_callbacks = await self.app.store.read(lambda r: r.pending_callbacks())

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("metrics refresh failed")
            await asyncio.sleep(5)

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        await self.refresh()
        return web.Response(
            body=generate_latest(self.metrics.registry), headers={"Content-Type": CONTENT_TYPE}
        )

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        application = web.Application()
        application.router.add_get("/metrics", self._serve_metrics)
        self._runner = web.AppRunner(application, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        self._task = asyncio.create_task(self._refresh_forever(), name="metrics")
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
