"""Callback benchmark: delivery throughput with 1,000 queued events and the latency from
event commit to the receiver's 200. Prints figures; asserts nothing.

Runs a real coinvoiced process and a local aiohttp receiver on loopback:

    .venv/bin/python bench/bench_callbacks.py [--events 1000] [--endpoints 50]

Throughput: the receiver holds every request while 1,000 invoices are created (one
INVOICE_CREATED event, hence one delivery, each), then lets them through; the figure is
deliveries acknowledged per second from that release to the last 200. Measured for one
endpoint (every event to the same URL: strictly one at a time, in order, by design) and
for events spread over several endpoints (delivered concurrently, at most
`max_in_flight` at once).

Latency: with the receiver answering at once, invoices are created one after another;
for each, the time from the event's commit (its created_at, in the body) to the moment
the receiver answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import grpc
import orjson
from aiohttp import web
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.daemon import Daemon
from tests.support.util import free_port


class AuthMetadata(grpc.aio.UnaryUnaryClientInterceptor):
    """Sends the daemon's admin key with every call."""

    def __init__(self, key: str) -> None:
        self.metadata = (("authorization", f"Bearer {key}"),)

    async def intercept_unary_unary(self, continuation, details, request):
        details = details._replace(metadata=self.metadata)
        return await continuation(details, request)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass(frozen=True, slots=True)
class Answer:
    at: float  # when the receiver answered 200
    path: str
    delivery_id: str
    sequence: int
    created_at: float  # the event's commit time, from the body


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    answered: list[Answer] = field(default_factory=list)
    all_in: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    async def handle(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        await self.gate.wait()
        created = datetime.fromisoformat(body["created_at"].replace("Z", "+00:00")).timestamp()
        self.answered.append(
            Answer(time.time(), request.path, body["delivery_id"], body["sequence"], created)
        )
        if len(self.answered) >= self.expected:
            self.all_in.set()
        return web.Response(text="ok")

    def reset(self, expected: int, open_gate: bool) -> None:
        self.answered.clear()
        self.all_in.clear()
        self.expected = expected
        if open_gate:
            self.gate.set()
        else:
            self.gate.clear()


async def create_many(stub: pb_grpc.InvoiceServiceStub, urls: list[str], workers: int) -> None:
    queue = list(reversed(urls))

    async def worker() -> None:
        while queue:
            url = queue.pop()
            await stub.CreateInvoice(
                pb.CreateInvoiceRequest(amount="0.01", currency="ETH", callback_url=url)
            )

    await asyncio.gather(*(worker() for _ in range(workers)))


async def throughput(
    stub: pb_grpc.InvoiceServiceStub, receiver: Receiver, events: int, endpoints: int
) -> None:
    receiver.reset(events, open_gate=False)
    urls = [receiver.url(f"ep{i % endpoints}") for i in range(events)]
    await create_many(stub, urls, workers=32)
    released = time.time()
    receiver.gate.set()
    await asyncio.wait_for(receiver.all_in.wait(), 600)
    elapsed = receiver.answered[-1].at - released
    ids = [a.delivery_id for a in receiver.answered]
    duplicates = len(ids) - len(set(ids))
    by_endpoint: dict[str, list[int]] = {}
    for answer in receiver.answered:  # in the order they were acknowledged
        by_endpoint.setdefault(answer.path, []).append(answer.sequence)
    in_order = all(seqs == sorted(seqs) for seqs in by_endpoint.values())
    label = "1 endpoint" if endpoints == 1 else f"{endpoints} endpoints"
    print(
        f"throughput, {events} queued events, {label:>12}: {events / elapsed:8.0f} deliveries/s"
        f"   ({elapsed:6.2f} s; {elapsed / events * 1e3:5.2f} ms each; duplicates "
        f"{duplicates}; per-endpoint order kept: {'yes' if in_order else 'NO'})"
    )


async def latency(stub: pb_grpc.InvoiceServiceStub, receiver: Receiver, events: int) -> None:
    receiver.reset(events, open_gate=True)
    url = receiver.url("live")
    for _ in range(events):
        await stub.CreateInvoice(
            pb.CreateInvoiceRequest(amount="0.01", currency="ETH", callback_url=url)
        )
        await asyncio.sleep(0.005)  # a steady trickle, not a queue
    await asyncio.wait_for(receiver.all_in.wait(), 120)
    delays = [a.at - a.created_at for a in receiver.answered]
    print(
        f"latency commit -> receiver's 200, {events} events one by one: "
        f"p50 {pct(delays, 0.5) * 1e3:6.2f} ms   p99 {pct(delays, 0.99) * 1e3:6.2f} ms   "
        f"max {max(delays) * 1e3:6.2f} ms"
    )


async def run(args: argparse.Namespace, daemon: Daemon, receiver: Receiver) -> None:
    auth = AuthMetadata(daemon.admin_key)
    async with grpc.aio.insecure_channel(daemon.address, interceptors=[auth]) as channel:
        stub = pb_grpc.InvoiceServiceStub(channel)
        await latency(stub, receiver, 50)  # warm-up
        await throughput(stub, receiver, args.events, 1)
        await throughput(stub, receiver, args.events, args.endpoints)
        await latency(stub, receiver, args.latency_events)


async def main_async(args: argparse.Namespace) -> None:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{path:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    with tempfile.TemporaryDirectory() as tmp:
        daemon = Daemon(Path(tmp))
        daemon.config["logging"]["level"] = "warning"
        daemon.config["callbacks"] = {
            "allow_private_addresses": True,
            "timeout_seconds": 120,  # held requests must not time out while queued
            "max_in_flight": args.max_in_flight,
        }
        await asyncio.to_thread(daemon.start)
        try:
            await run(args, daemon, receiver)
        finally:
            await asyncio.to_thread(daemon.stop)
            await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=50)
    parser.add_argument("--max-in-flight", type=int, default=16)
    parser.add_argument("--latency-events", type=int, default=300)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
