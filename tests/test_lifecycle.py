"""Process lifecycle: config errors at start-up, systemd notify, SIGTERM, kill -9 recovery."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc

from tests.support.daemon import Daemon, base_config, render_toml
from tests.support.util import free_port, wait_for


def run_with_config(tmp_path: Path, config: dict) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bad.toml"
    path.write_text(render_toml(config))
    return subprocess.run(
        [sys.executable, "-m", "coinvoiced", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _without(config: dict, *path: str | int) -> dict:
    target = config
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return config


BAD_CONFIGS = [
    (lambda c: c.update(unknown_key=1), "unknown_key: unknown key"),
    (lambda c: c["server"].update(listn="x"), "server.listn: unknown key"),
    (lambda c: _without(c, "chains", 0, "xpub"), "chains[0].xpub: missing"),
    (lambda c: c["chains"][0].update(xpub="xpubNOTAKEY"), "chains[0].xpub: not a usable"),
    (lambda c: c["chains"][0].update(ws_url="http//nope"), "chains[0].ws_url: "),
    (lambda c: c["chains"][1].update(servers=["udp://x:1"]), "chains[1].servers[0].url"),
    (lambda c: c["rates"]["fixed"].update({"DOGE/USD": "1"}), "unknown asset 'DOGE'"),
    (lambda c: c["chains"][0]["assets"][0].update(decimals=99), "chains[0].assets[0].decimals"),
    (lambda c: c["chains"][0].update(kind="solana"), "chains[0].kind"),
    (
        lambda c: c["invoices"].update(default_expiry_seconds="soon"),
        "invoices.default_expiry_seconds: expected an integer",
    ),
]


@pytest.mark.parametrize(("mutate", "message"), BAD_CONFIGS)
def test_bad_config_stops_startup_naming_the_key(tmp_path: Path, mutate, message: str) -> None:
    config = base_config(tmp_path / "data", free_port())
    mutate(config)
    result = run_with_config(tmp_path, config)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("coinvoiced: config error: ")
    assert message in lines[0]
    assert not (tmp_path / "data").exists()  # nothing was created


def test_unparseable_toml(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("profile = [unterminated\n")
    result = subprocess.run(
        [sys.executable, "-m", "coinvoiced", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_sd_notify_ready_and_stopping_and_clean_stream_end(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify_path))
    receiver.settimeout(20)
    daemon = Daemon(tmp_path, env={"NOTIFY_SOCKET": str(notify_path)})
    try:
        daemon.start()
        ready = receiver.recv(4096).decode()
        assert "READY=1" in ready.splitlines()
        stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest())
        daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(amount="1", currency="ETH"))
        assert next(stream).type == pb.INVOICE_CREATED
        assert daemon.proc is not None
        daemon.proc.terminate()
        assert "STOPPING=1" in receiver.recv(4096).decode().splitlines()
        # The live stream ends with OK, not with an error.
        assert list(stream) == []
        assert daemon.proc.wait(15) == 0
    finally:
        receiver.close()
        daemon.stop()


def test_kill_9_loses_nothing_and_resume_gets_exactly_the_missing_events(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    acknowledged: list[str] = []
    streamed: list[int] = []
    stop = threading.Event()

    def creator() -> None:
        with daemon.connect() as channel:
            stub = pb_grpc.InvoiceServiceStub(channel)
            while not stop.is_set():
                try:
                    reply = stub.CreateInvoice(pb.CreateInvoiceRequest(amount="1", currency="ETH"))
                except grpc.RpcError:
                    return
                acknowledged.append(reply.id)

    def subscriber() -> None:
        with daemon.connect() as channel:
            try:
                stream = pb_grpc.InvoiceServiceStub(channel).StreamEvents(pb.StreamEventsRequest())
                for event in stream:
                    streamed.append(event.sequence)
            except grpc.RpcError:
                return

    threads = [threading.Thread(target=creator, daemon=True) for _ in range(4)]
    threads.append(threading.Thread(target=subscriber, daemon=True))
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(acknowledged) >= 150, 30, "150 acknowledged creates")
    finally:
        daemon.kill()
        stop.set()
        for t in threads:
            t.join(10)

    daemon.start()
    try:
        stub = daemon.invoices
        for invoice_id in acknowledged:
            assert stub.GetInvoice(pb.GetInvoiceRequest(id=invoice_id)).id == invoice_id
        last = daemon.node.GetInfo(pb.GetInfoRequest()).last_event_sequence
        assert last >= len(acknowledged)
        # The subscriber saw a gap-free prefix; resuming gives exactly the rest.
        assert streamed == list(range(1, len(streamed) + 1))
        resumed = []
        if len(streamed) < last:
            stream = stub.StreamEvents(pb.StreamEventsRequest(after_sequence=len(streamed)))
            for event in stream:
                resumed.append(event.sequence)
                if event.sequence == last:
                    break
            stream.cancel()
        assert streamed + resumed == list(range(1, last + 1))
        # Each stored invoice has exactly one INVOICE_CREATED; no address was handed out twice.
        listed = stub.ListInvoices(pb.ListInvoicesRequest(page_size=1000)).invoices
        assert len(listed) == last
        addresses = [i.payment_options[0].address for i in listed]
        assert len(set(addresses)) == len(addresses)
    finally:
        daemon.stop()


def test_overdue_invoices_expire_at_start_up(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path).start()
    invoice = daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(amount="1", currency="ETH", expires_in_seconds=1)
    )
    daemon.kill()
    # The deadline passes while the daemon is down (a condition on the clock, not a guess).
    wait_for(lambda: time.time() > invoice.expires_at.seconds + 1, 5, "the deadline to pass")
    daemon.start()
    try:
        stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest(invoice_id=invoice.id))
        assert [next(stream).type, next(stream).type] == [pb.INVOICE_CREATED, pb.INVOICE_EXPIRED]
        stream.cancel()
        got = daemon.invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
        assert got.status == pb.INVOICE_STATUS_EXPIRED
    finally:
        daemon.stop()
