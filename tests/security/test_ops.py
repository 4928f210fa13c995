"""Transport and operations: TLS with the generated certificate, the Unix socket, the
metrics endpoint, online backups, the systemd watchdog."""

from __future__ import annotations

import hashlib
import shutil
import socket
import sqlite3
import threading
from pathlib import Path

import aiohttp
import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc
from coinvoiced.app.application import Application
from coinvoiced.app.invoices import CreateRequest
from coinvoiced.config import parse
from coinvoiced.domain.model import Transfer

from tests.support.daemon import Daemon, base_config
from tests.support.util import free_port, wait_for


def test_tls_with_generated_certificate(tmp_path: Path) -> None:
    config = base_config(tmp_path / "data", free_port())
    config["server"].update(tls="on", tls_extra_names=["coinvoice.example"])
    daemon = Daemon(tmp_path, config)
    daemon.write_config()
    # Health probing in Daemon.start() is plaintext; start by hand and probe over TLS.
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "coinvoiced", "--config", str(daemon.config_path)],
        stderr=subprocess.PIPE,
    )
    try:
        cert_path = tmp_path / "data" / "tls.cert"
        wait_for(
            lambda: (tmp_path / "data" / "admin.key").exists() and cert_path.exists(),
            20,
            "the certificate and admin key",
        )
        key = (tmp_path / "data" / "admin.key").read_text().strip()
        credentials = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(cert_path.read_bytes()),
            grpc.access_token_call_credentials(key),
        )
        with grpc.secure_channel(f"localhost:{daemon.port}", credentials) as channel:
            stub = pb_grpc.InvoiceServiceStub(channel)
            created = wait_for(
                lambda: stub.CreateInvoice(
                    pb.CreateInvoiceRequest(amount="1", currency="ETH"), timeout=2
                ),
                20,
                "TLS call",
            )
            assert created.id.startswith("inv_")
        # The generated certificate names localhost, 127.0.0.1 and the extra name.
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert "coinvoice.example" in san.get_values_for_type(x509.DNSName)
        assert "localhost" in san.get_values_for_type(x509.DNSName)
        assert (tmp_path / "data" / "tls.key").stat().st_mode & 0o077 == 0
        # Plaintext is refused on a TLS listener.
        with grpc.insecure_channel(daemon.address) as plain:
            with pytest.raises(grpc.RpcError) as info:
                pb_grpc.InvoiceServiceStub(plain).ListInvoices(pb.ListInvoicesRequest(), timeout=3)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        proc.terminate()
        proc.wait(15)


def test_unix_socket_listener(tmp_path: Path) -> None:
    sock = tmp_path / "coinvoiced.sock"
    config = base_config(tmp_path / "data", free_port())
    config["server"]["unix_socket"] = str(sock)
    daemon = Daemon(tmp_path, config).start()
    try:
        assert sock.exists()
        from tests.support.daemon import _AuthMetadata

        channel = grpc.intercept_channel(
            grpc.insecure_channel(f"unix:{sock}"), _AuthMetadata(daemon.admin_key)
        )
        with channel:
            info = pb_grpc.NodeServiceStub(channel).GetInfo(pb.GetInfoRequest())
            assert info.profile == "test"
        with grpc.insecure_channel(f"unix:{sock}") as plain, pytest.raises(grpc.RpcError) as e:
            pb_grpc.NodeServiceStub(plain).GetInfo(pb.GetInfoRequest())
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        daemon.stop()


async def test_metrics_after_a_paid_invoice(tmp_path: Path) -> None:
    config = base_config(tmp_path, 0)
    config["server"]["listen"] = "127.0.0.1:0"
    config["metrics"] = {"listen": "127.0.0.1:0"}
    app = Application(parse(config))
    await app.start()
    try:
        invoice = await app.invoices.create(CreateRequest(amount="1", currency="ETH"))
        address = invoice.options[0].address
        transfer = Transfer(
            "anvil", "0xt1", 0, "ETH", address, 10**18, bytes.fromhex(address[2:]), 5, "0xb5"
        )
        await app.payments.block_connected("anvil", 5, "0xb5", "0xb4", [transfer])
        await app.payments.block_connected("anvil", 6, "0xb6", "0xb5", [])
        key = (tmp_path / "admin.key").read_text().strip()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.bound_port}") as channel:
            stub = pb_grpc.InvoiceServiceStub(channel)
            got = await stub.GetInvoice(
                pb.GetInvoiceRequest(id=invoice.id), metadata=[("authorization", f"Bearer {key}")]
            )
            assert got.status == pb.INVOICE_STATUS_PAID
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
        assert app.metrics_server is not None
        url = f"http://127.0.0.1:{app.metrics_server.port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            text = await response.text()
        lines = set(text.splitlines())
        assert 'coinvoice_invoices{status="paid"} 1.0' in lines
        assert 'coinvoice_payments_detected_total{asset="ETH",chain="anvil"} 1.0' in lines
        assert 'coinvoice_payments_confirmed_total{asset="ETH",chain="anvil"} 1.0' in lines
        assert 'coinvoice_chain_processed_height{chain="anvil"} 6.0' in lines
        assert 'coinvoice_rpc_requests_total{code="OK",method="GetInvoice"} 1.0' in lines
        assert (
            'coinvoice_rpc_requests_total{code="UNAUTHENTICATED",method="GetInvoice"} 1.0' in lines
        )
        assert "coinvoice_callbacks_pending 0.0" in lines
        assert key.split(".")[1] not in text
    finally:
        await app.stop()


def test_backup_during_writes_restores_consistently(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    daemon = Daemon(tmp_path / "a").start()
    stop = threading.Event()
    created: list[str] = []

    def writer() -> None:
        with daemon.connect() as channel:
            stub = pb_grpc.InvoiceServiceStub(channel)
            while not stop.is_set():
                created.append(
                    stub.CreateInvoice(pb.CreateInvoiceRequest(amount="1", currency="ETH")).id
                )

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(lambda: len(created) >= 50, 30, "writes under way")
        admin = pb_grpc.AdminServiceStub(daemon.channel())
        chunks = list(admin.BackupDatabase(pb.BackupDatabaseRequest()))
        during = len(created)
    finally:
        stop.set()
        thread.join(10)
    data = b"".join(c.data for c in chunks)
    assert chunks[-1].sha256 == hashlib.sha256(data).hexdigest()
    backup = tmp_path / "backup.sqlite"
    backup.write_bytes(data)
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        sequences = [r[0] for r in db.execute("SELECT sequence FROM events ORDER BY sequence")]
        invoices = {r[0] for r in db.execute("SELECT id FROM invoices")}
        created_events = {r[0] for r in db.execute("SELECT invoice_id FROM events WHERE type = 1")}
    assert sequences == list(range(1, len(sequences) + 1))
    assert invoices == created_events
    assert 50 <= len(invoices) <= during + 4
    daemon.stop()

    # Restore: the backup file becomes the database of a fresh daemon.
    restored_dir = tmp_path / "b"
    (restored_dir / "data").mkdir(parents=True)
    shutil.copy(backup, restored_dir / "data" / "coinvoice.sqlite")
    restored = Daemon(restored_dir, base_config(restored_dir / "data", free_port()))
    shutil.copy(tmp_path / "a" / "data" / "admin.key", restored_dir / "data" / "admin.key")
    restored.start()
    try:
        some = next(iter(invoices))
        assert restored.invoices.GetInvoice(pb.GetInvoiceRequest(id=some)).id == some
        info = restored.node.GetInfo(pb.GetInfoRequest())
        assert info.last_event_sequence == len(sequences)
    finally:
        restored.stop()


def test_watchdog_pings(tmp_path: Path) -> None:
    notify_path = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(notify_path))
    receiver.settimeout(10)
    daemon = Daemon(tmp_path, env={"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "200000"})
    try:
        daemon.start()
        seen: list[str] = []
        while seen.count("WATCHDOG=1") < 3:
            seen += receiver.recv(4096).decode().splitlines()
        assert "READY=1" in seen
    finally:
        daemon.stop()
        receiver.close()
