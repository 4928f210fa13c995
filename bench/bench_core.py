"""Core benchmark: CreateInvoice throughput and latency vs a no-op unary RPC, and
StreamEvents delivery latency with 100 subscribers. Prints figures; asserts nothing.

Runs a real coinvoiced process on loopback (fresh data dir), with the same client
code for both RPCs, so the ratio compares the daemon's work and nothing else:

    .venv/bin/python bench/bench_core.py [--seconds 5] [--concurrency 64]

The no-op RPC is grpc.health.v1.Health/Check on the same server: a unary call that
does no I/O, which is what a gRPC server costs by itself. CreateInvoice goes through
the API-key check like any client's call; Health/Check needs no key.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.daemon import Daemon


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(
    call: Callable[[], Awaitable[object]], seconds: float, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def throughput(address: str, key: str, seconds: float, concurrency: int) -> None:
    auth = [("authorization", f"Bearer {key}")]
    async with grpc.aio.insecure_channel(address) as channel:
        invoices = pb_grpc.InvoiceServiceStub(channel)
        health = health_pb2_grpc.HealthStub(channel)
        request = pb.CreateInvoiceRequest(amount="0.01", currency="ETH")
        check = health_pb2.HealthCheckRequest()
        await load(lambda: health.Check(check), 1.0, concurrency)  # warm-up
        noop_rate, noop_lat = await load(lambda: health.Check(check), seconds, concurrency)
        create_rate, create_lat = await load(
            lambda: invoices.CreateInvoice(request, metadata=auth), seconds, concurrency
        )
    print(
        f"no-op unary (Health/Check), {concurrency} callers: {noop_rate:8.0f} req/s   "
        f"p50 {pct(noop_lat, 0.5) * 1e3:6.2f} ms   p99 {pct(noop_lat, 0.99) * 1e3:6.2f} ms"
    )
    print(
        f"CreateInvoice (durable),    {concurrency} callers: {create_rate:8.0f} req/s   "
        f"p50 {pct(create_lat, 0.5) * 1e3:6.2f} ms   p99 {pct(create_lat, 0.99) * 1e3:6.2f} ms"
    )
    print(f"ratio CreateInvoice / no-op: {create_rate / noop_rate:.2f}  (target >= 0.50)")


async def stream_latency(address: str, key: str, subscribers: int, events: int) -> None:
    auth = [("authorization", f"Bearer {key}")]
    async with grpc.aio.insecure_channel(address) as channel:
        invoices = pb_grpc.InvoiceServiceStub(channel)
        info = await pb_grpc.NodeServiceStub(channel).GetInfo(pb.GetInfoRequest(), metadata=auth)
        start_after = info.last_event_sequence
        latencies: list[float] = []
        ready = 0
        all_ready = asyncio.Event()

        async def subscriber() -> None:
            nonlocal ready
            call = invoices.StreamEvents(
                pb.StreamEventsRequest(after_sequence=start_after), metadata=auth
            )
            ready += 1
            if ready == subscribers:
                all_ready.set()
            received = 0
            async for event in call:
                now_us = time.time_ns() // 1000
                created = event.created_at.seconds * 1_000_000 + event.created_at.nanos // 1000
                latencies.append((now_us - created) / 1e6)
                received += 1
                if received == events:
                    call.cancel()
                    return

        tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
        await all_ready.wait()
        await asyncio.sleep(0.5)  # let every stream reach the daemon before the first event
        request = pb.CreateInvoiceRequest(amount="0.01", currency="ETH")
        for _ in range(events):
            await invoices.CreateInvoice(request, metadata=auth)
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    print(
        f"StreamEvents commit->subscriber, {subscribers} subscribers x {events} events: "
        f"p50 {statistics.median(latencies) * 1e3:6.2f} ms   "
        f"p99 {pct(latencies, 0.99) * 1e3:6.2f} ms   max {max(latencies) * 1e3:6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp))
        daemon.config["logging"]["level"] = "warning"
        daemon.start()
        try:
            key = daemon.admin_key
            asyncio.run(throughput(daemon.address, key, args.seconds, args.concurrency))
            asyncio.run(stream_latency(daemon.address, key, args.subscribers, args.events))
        finally:
            daemon.stop()


if __name__ == "__main__":
    main()
