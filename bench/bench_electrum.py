"""Electrum watcher benchmark. Prints figures; asserts nothing.

1. (Re)subscribing N scripthashes over loopback against the regtest Electrum fixture
   (tests/electrum, run in its own process), with the daemon's client code, next to N bare
   `server.ping` round trips sent the same way: the ratio is what subscribing costs beyond
   the RPC plumbing itself. Both ways the client can talk are measured: JSON-RPC batches
   (what it uses when the server takes them) and pipelined single requests.
2. Latency from a scripthash status notification leaving the server to the
   PAYMENT_DETECTED InvoiceEvent reaching a StreamEvents subscriber, through a real
   coinvoiced process (p50 / p99 over sequential payments).

    .venv/bin/python bench/bench_electrum.py [--counts 10000,100000] [--payments 200]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.chains.electrum.client import ElectrumClient, ServerUrl

from tests.electrum.flow import create, due, electrum_config, script_of
from tests.electrum.server import ElectrumServer
from tests.support.daemon import Daemon

DETECTED = pb.InvoiceEventType.Value("PAYMENT_DETECTED")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_fixture() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.electrum.serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def subscribe_vs_ping(url: str, count: int, batches: bool) -> tuple[float, float]:
    keys = [[hashlib.sha256(b"bench-%d" % i).digest()[::-1].hex()] for i in range(count)]
    client = ElectrumClient(ServerUrl.parse(url), lambda method, args: None)
    await client.connect()
    try:
        client.batches = batches
        await client.call_many("server.ping", [[] for _ in range(1000)])  # warm-up
        began = time.perf_counter()
        pings = await client.call_many("server.ping", [[] for _ in range(count)])
        ping = time.perf_counter() - began
        assert len(pings) == count
        began = time.perf_counter()
        results = await client.call_many("blockchain.scripthash.subscribe", keys)
        subscribe = time.perf_counter() - began
        assert len(results) == count and all(r is None for r in results)
    finally:
        await client.close()
    return subscribe, ping


def part_one(counts: list[int]) -> None:
    proc, url = start_fixture()
    try:
        print(f"fixture: {url} (separate process)")
        print(
            f"{'scripthashes':>12} {'mode':>10} {'subscribe':>10} {'ping':>10} "
            f"{'subs/s':>9} {'ratio':>6}"
        )
        for count in counts:
            for batches in (True, False):
                subscribe, ping = asyncio.run(subscribe_vs_ping(url, count, batches))
                mode = "batched" if batches else "pipelined"
                print(
                    f"{count:>12} {mode:>10} {subscribe:>9.2f}s {ping:>9.2f}s "
                    f"{count / subscribe:>9.0f} {subscribe / ping:>6.2f}"
                )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


def part_two(payments: int) -> None:
    server = ElectrumServer().start()
    sent_at: dict[bytes, float] = {}
    original = server._announce

    async def timed_announce(touched: set[bytes], tip_changed: bool) -> None:
        now = time.perf_counter()
        for key in touched:
            sent_at.setdefault(key, now)
        await original(touched, tip_changed)

    server._announce = timed_announce  # type: ignore[method-assign]
    workdir = Path(tempfile.mkdtemp(prefix="bench-electrum-"))
    daemon = Daemon(workdir, electrum_config(workdir, [server.url], confirmations=1))
    daemon.start()
    arrived: dict[str, float] = {}
    ready = threading.Event()
    stopping = threading.Event()

    def listen() -> None:
        stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest(after_sequence=0))
        ready.set()
        try:
            for event in stream:
                if event.type == DETECTED:
                    arrived.setdefault(event.invoice.id, time.perf_counter())
        except Exception as exc:  # the daemon stopping ends the stream
            if not stopping.is_set():
                print(f"event stream failed: {exc}", file=sys.stderr)

    threading.Thread(target=listen, daemon=True).start()
    ready.wait(10)
    try:
        latencies: list[float] = []
        for _ in range(payments):
            invoice = create(daemon, "0.0001")
            address, owed = due(invoice)
            script = script_of(address)
            key = hashlib.sha256(script).digest()[::-1]
            while server.subscriptions() < len(latencies) + 1:
                time.sleep(0.001)  # the daemon subscribes the new address (bench: spin)
            server.pay([(script, owed)])
            deadline = time.monotonic() + 10
            while invoice.id not in arrived and time.monotonic() < deadline:
                time.sleep(0.0005)
            latencies.append(arrived[invoice.id] - sent_at[key])
        ms = [x * 1000 for x in latencies]
        print(
            f"notification -> StreamEvents PAYMENT_DETECTED over {payments} payments: "
            f"p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms, max {max(ms):.1f} ms"
        )
    finally:
        stopping.set()
        daemon.stop()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--payments", type=int, default=200)
    args = parser.parse_args()
    part_one([int(c) for c in args.counts.split(",")])
    part_two(args.payments)


if __name__ == "__main__":
    main()
