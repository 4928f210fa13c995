"""The application object: owns every component and starts/stops them in order.

Start: store (migrations) -> rebuild address index and deadlines from the store
-> watchers -> gRPC server (health SERVING). Stop runs the other way round:
health NOT_SERVING, end streams, stop the server with a grace period, stop
watchers and timers, close the database.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from ..chains.address_pool import AddressPool
from ..chains.matcher import AddressIndex
from ..chains.registry import Chain, Watcher
from ..chains.watchers import build_watchers
from ..config import Config
from ..domain.model import EventType
from ..metrics import Metrics, MetricsServer
from ..rates import RateProvider, RateService
from ..rpc.auth import AuthInterceptor
from ..rpc.observe import MetricsInterceptor
from ..rpc.services import add_to_server
from ..store import Store, StoredEvent
from ..webhooks.deliverer import Deliverer
from ..webhooks.outbox import CallbackRouter
from .addresses import AddressAllocator
from .bus import EventBus
from .callbacks import CallbackHistory
from .clock import now_us
from .deadlines import Deadlines
from .invoices import InvoiceManager
from .keys import KeyRing
from .payments import PaymentProcessor
from .tls import load_or_create

log = logging.getLogger(__name__)


class Application:
    def __init__(self, config: Config, rates: RateProvider | None = None) -> None:
        self.config = config
        self.bus = EventBus()
        self.store = Store(
            config.database_path, self._committed, outbox=CallbackRouter(config.callbacks)
        )
        self.deliverer = Deliverer(config.callbacks, self.store)
        self.callbacks = CallbackHistory(self.store, self.deliverer)
        self.index = AddressIndex()
        self.chains = {c.name: Chain(c) for c in config.chains}
        self.rate_service = RateService(config.rates)
        self.rates = rates or self.rate_service
        self.payments = PaymentProcessor(config, self.store, self.index, self.chains)
        self.deadlines = Deadlines(self.payments.on_deadline)
        self.address_pool = AddressPool(self.chains)
        self.invoices = InvoiceManager(
            config,
            self.store,
            self.chains,
            self.rates,
            AddressAllocator(self.address_pool, self.index),
            self.deadlines,
            self.payments.tips,
        )
        self.keys = KeyRing(self.store)
        self.metrics = Metrics()
        self.metrics_server = (
            MetricsServer(self, self.metrics, config.metrics_listen)
            if config.metrics_listen
            else None
        )
        self.watchers: list[Watcher] = build_watchers(self)
        self.server: grpc.aio.Server | None = None
        self.bound_port: int = 0

    def _committed(self, events: list[StoredEvent]) -> None:
        self.bus.publish(events)
        self.metrics.observe_events(events)
        for event in events:
            _log_event(event)
        if any(event.queued_callback for event in events):
            self.deliverer.wake()

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # Whatever started must stop, or its threads (sqlite, derivation workers) keep
            # the process alive after a failed start-up.
            await self.stop()
            raise

    async def _start(self) -> None:
        await self.store.open()
        await self.keys.load()
        await self.keys.ensure_admin_key_file(self.config.data_dir)
        await self._restore()
        self.deadlines.start()
        await self.rate_service.start()
        await self.deliverer.start()
        for watcher in self.watchers:
            await watcher.start()
        await self._start_server()
        if self.metrics_server is not None:
            await self.metrics_server.start()
        log.info(
            "coinvoiced ready on %s%s (profile %s)",
            self.config.server.listen,
            " with TLS" if self.config.server.tls else "",
            self.config.profile,
        )

    async def _restore(self) -> None:
        """Rebuild in-memory state (address index, deadlines, cursors) from the store."""
        now = now_us()
        addresses = await self.store.read(lambda r: r.watched_addresses(now))
        for chain, watch_key, pk in addresses:
            self.index.add(chain, watch_key, pk)
        for pk, _status, expires_at, monitor_until in await self.store.read(
            lambda r: r.open_deadlines(now)
        ):
            self.deadlines.schedule(pk, expires_at, monitor_until)
        for name, chain in self.chains.items():
            height, block_hash = await self.store.read(lambda r, n=name: r.chain_cursor(n))
            chain.status.processed_height = height
            chain.status.tip_height = height
            chain.status.tip_hash = block_hash
        self.bus.last_sequence = await self.store.read(lambda r: r.last_sequence())
        next_indexes = await self.store.read(lambda r: r.next_indexes())
        self.address_pool.start({name: next_indexes.get(name, 0) for name in self.chains})
        log.info(
            "restored %d watched addresses, %d deadlines",
            self.index.count(),
            self.deadlines.pending(),
        )

    async def _start_server(self) -> None:
        server_config = self.config.server
        security = self.config.security
        self.server = grpc.aio.server(
            interceptors=[
                MetricsInterceptor(self.metrics),
                AuthInterceptor(
                    self.keys,
                    security.failed_auth_per_minute,
                    security.create_invoice_per_minute,
                    security.create_invoice_burst,
                ),
            ],
            options=[
                ("grpc.max_receive_message_length", server_config.max_request_bytes),
                ("grpc.max_concurrent_streams", server_config.max_concurrent_streams),
                # Long-lived event streams: ping idle connections, and let clients ping us.
                ("grpc.keepalive_time_ms", 30_000),
                ("grpc.keepalive_timeout_ms", 10_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_permit_without_calls", 1),
                ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ],
        )
        names = add_to_server(self.server, self)
        # The asyncio servicer: the sync one would run every Check in a thread pool.
        health_servicer = health.aio.HealthServicer()
        self._health = health_servicer
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, self.server)
        reflection.enable_server_reflection(
            [
                *names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self.server,
        )
        listen = server_config.listen
        if server_config.tls:
            chain, key = load_or_create(
                self.config.data_dir,
                server_config.tls_cert,
                server_config.tls_key,
                server_config.tls_extra_names,
            )
            credentials = grpc.ssl_server_credentials([(key, chain)])
            self.bound_port = self.server.add_secure_port(listen, credentials)
        else:
            self.bound_port = self.server.add_insecure_port(listen)
        if self.bound_port == 0:
            raise OSError(f"cannot listen on {listen}")
        if server_config.unix_socket is not None:
            # Same-host clients; API keys are still required. Mode 0600 via our UMask.
            server_config.unix_socket.unlink(missing_ok=True)
            self.server.add_insecure_port(f"unix:{server_config.unix_socket}")
        await self.server.start()
        for name in ("", *names):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._service_names = names

    async def stop(self) -> None:
        """Stop in reverse order of start; safe after a partial start."""
        health_servicer = getattr(self, "_health", None)
        if health_servicer is not None:
            await health_servicer.enter_graceful_shutdown()  # every service NOT_SERVING
        self.bus.close()  # live streams end cleanly
        if self.server is not None:
            await self.server.stop(self.config.server.grace_seconds)
        steps = [
            *(w.stop for w in reversed(self.watchers)),
            self.deadlines.stop,
            self.deliverer.stop,
            self.rate_service.stop,
            self.address_pool.stop,
        ]
        if self.metrics_server is not None:
            steps.append(self.metrics_server.stop)
        for step in steps:
            try:
                await step()
            except Exception:
                log.exception("error while stopping %s", getattr(step, "__qualname__", step))
        await self.store.close()
        log.info("coinvoiced stopped")


_QUIET_EVENTS = (EventType.INVOICE_CREATED, EventType.INVOICE_UPDATED)


def _log_event(event: StoredEvent) -> None:
    """One log line per committed event, with structured fields for JSON logs."""
    level = logging.DEBUG if event.type in _QUIET_EVENTS else logging.INFO
    if not log.isEnabledFor(level):
        return
    fields: dict[str, object] = {"invoice_id": event.invoice_id, "sequence": event.sequence}
    payment = event.decoded()["payment"] if event.type in _PAYMENT_EVENTS else None
    if payment is not None:
        fields.update(
            chain=payment["chain"],
            txid=payment["txid"],
            amount=payment["amount"],
            asset=payment["asset"],
        )
    log.log(
        level,
        "%s %s%s",
        EventType(event.type).name,
        event.invoice_id,
        f" {payment['amount']} {payment['asset']} in {payment['txid']}" if payment else "",
        extra=fields,
    )


_PAYMENT_EVENTS = (
    EventType.PAYMENT_DETECTED,
    EventType.PAYMENT_CONFIRMED,
    EventType.PAYMENT_REORGED,
)
