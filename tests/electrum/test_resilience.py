"""What deployments do to the Electrum watcher: the daemon killed (-9) while payments
arrive, the server connection dropped or the server restarted, a dead first server
(fail over), TLS with a pinned self-signed certificate, and ten thousand subscriptions
made again on reconnect."""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon
from tests.support.util import free_port, wait_for

from .flow import (
    Status,
    chain_info,
    create,
    electrum_config,
    event_types,
    get,
    pay,
    wait_connected,
    wait_height,
    wait_status,
)
from .server import ElectrumServer

MakeDaemon = Callable[..., Daemon]
PROCESSING = Status.INVOICE_STATUS_PROCESSING
PAID = Status.INVOICE_STATUS_PAID
UNRESOLVED = Status.INVOICE_STATUS_UNRESOLVED


def test_daemon_killed_while_payments_arrive_finds_each_once(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=1))
    wait_connected(daemon)
    invoices = [create(daemon, f"0.00{i + 1}") for i in range(8)]

    def pay_all() -> None:
        for invoice in invoices:
            pay(electrum, invoice)
            electrum.mine(1)

    payer = threading.Thread(target=pay_all)
    payer.start()
    try:
        wait_for(lambda: get(daemon, invoices[1].id).status in (PROCESSING, PAID), 30, "seen")
        daemon.kill()  # SIGKILL while transactions and blocks keep coming
    finally:
        payer.join()
    pay(electrum, invoices[0], 1000)  # and one more while it is down (to a paid invoice)
    electrum.mine(1)

    daemon.start()
    for invoice in invoices[1:]:
        wait_status(daemon, invoice.id, PAID, timeout=30)
    for invoice in invoices[1:]:
        assert len(get(daemon, invoice.id).payments) == 1
        types = event_types(daemon, invoice.id)
        assert types.count("PAYMENT_CONFIRMED") == 1, types
        assert types.count("INVOICE_PAID") == 1, types
    # The extra payment to the already paid invoice is found too, and makes it overpaid.
    first = wait_for(lambda: len((i := get(daemon, invoices[0].id)).payments) == 2 and i, 20)
    assert {p.amount for p in first.payments} == {"0.001", "0.00001"}
    wait_status(daemon, invoices[0].id, UNRESOLVED, timeout=30)
    assert get(daemon, invoices[0].id).unresolved_reason == pb.UNRESOLVED_REASON_OVERPAID
    wait_height(daemon, electrum.height)


def test_connection_dropped_and_server_restarted(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    # This server also sends status notifications ahead of the subscribe replies.
    electrum.notify_before_reply = True
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=1))
    wait_connected(daemon)
    first, second, third = (create(daemon, "0.001") for _ in range(3))

    electrum.drop_connections()
    pay(electrum, first, mine=True)  # possibly while the daemon is reconnecting
    wait_status(daemon, first.id, PAID)
    assert chain_info(daemon).connected

    electrum.stop()  # server down: payments made meanwhile are found afterwards
    wait_for(lambda: not chain_info(daemon).connected, 20, "disconnected")
    assert "connecting" in chain_info(daemon).state
    pay(electrum, second, mine=True)
    pay(electrum, third)
    electrum.start()
    wait_status(daemon, second.id, PAID, timeout=40)
    wait_status(daemon, third.id, PROCESSING, timeout=40)
    wait_height(daemon, electrum.height)


def test_fails_over_to_the_next_server(electrum: ElectrumServer, make_daemon: MakeDaemon) -> None:
    dead = f"tcp://127.0.0.1:{free_port()}"
    daemon = make_daemon(lambda w: electrum_config(w, [dead, electrum.url], confirmations=1))
    info = wait_connected(daemon)
    assert info.endpoint == electrum.url
    invoice = create(daemon, "0.001")
    pay(electrum, invoice, mine=True)
    wait_status(daemon, invoice.id, PAID)


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_tls_with_a_pinned_self_signed_certificate(tmp_path: Path, make_daemon: MakeDaemon) -> None:
    import ssl

    cert, key = self_signed(tmp_path, "electrum")
    other, _ = self_signed(tmp_path, "someone-else")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ElectrumServer(tls=context).start()
    try:
        pinned = make_daemon(
            lambda w: electrum_config(
                w, [server.url], confirmations=1, pinned_certificates={server.url: str(cert)}
            ),
            name="pinned",
        )
        wait_connected(pinned)
        invoice = create(pinned, "0.001")
        pay(server, invoice, mine=True)
        wait_status(pinned, invoice.id, PAID)

        wrong = make_daemon(
            lambda w: electrum_config(
                w, [server.url], confirmations=1, pinned_certificates={server.url: str(other)}
            ),
            name="wrong",
        )
        state = wait_for(lambda: "pinned" in (s := chain_info(wrong).state) and s, 20, "refusal")
        assert not chain_info(wrong).connected, state
    finally:
        server.close()


def _security(config: dict[str, Any]) -> dict[str, Any]:
    """Lift invoice-creation rate limits where this daemon has them (bulk test set-up)."""
    import coinvoiced.config as config_module

    if hasattr(config_module, "SecurityConfig"):
        config["security"] = {
            "create_invoice_per_minute": 1_000_000,
            "create_invoice_burst": 1_000_000,
        }
    return config


def test_ten_thousand_subscriptions_made_again_on_reconnect(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    count = 10_000
    daemon = make_daemon(lambda w: _security(electrum_config(w, [electrum.url], confirmations=1)))
    wait_connected(daemon)
    began = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        invoices = list(pool.map(lambda _: create(daemon, "0.0001", expires=3600), range(count)))
    print(f"\n{count} invoices created in {time.monotonic() - began:.1f}s")
    wait_for(lambda: electrum.subscriptions() == count, 60, f"{count} subscriptions")
    paid_before = invoices[:3]
    for invoice in paid_before:
        pay(electrum, invoice)
    for invoice in paid_before:
        wait_status(daemon, invoice.id, PROCESSING)

    electrum.stop()
    wait_for(lambda: not chain_info(daemon).connected, 30, "disconnected")
    paid_while_away = invoices[-3:]
    for invoice in paid_while_away:
        pay(electrum, invoice)
    history_calls = electrum.method_calls("blockchain.scripthash.get_history")
    began = time.monotonic()
    electrum.start()
    wait_for(lambda: electrum.subscriptions() == count, 120, f"{count} subscriptions again")
    elapsed = time.monotonic() - began
    for invoice in paid_while_away:
        wait_status(daemon, invoice.id, PROCESSING, timeout=60)
    measured = re.findall(rf"subscribed {count} scripthashes in ([0-9.]+)s", daemon.log())
    print(
        f"{count} scripthashes subscribed again {elapsed:.2f}s after the server came back "
        f"(reconnect back-off included); the subscription itself took {measured[-1]}s"
    )
    assert f"{count} subscriptions" in wait_for(
        lambda: f"{count} subscriptions" in (s := chain_info(daemon).state) and s, 30, "state"
    )
    # Only the three whose status changed were fetched again, not ten thousand.
    assert electrum.method_calls("blockchain.scripthash.get_history") - history_calls == 3
    assert all(get(daemon, i.id).status == PROCESSING for i in paid_before)
    assert pb.InvoiceStatus.Name(get(daemon, invoices[5000].id).status) == "INVOICE_STATUS_NEW"


def test_a_server_of_another_network_is_refused(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    # The fixture's genesis is its own regtest block, not testnet's.
    daemon = make_daemon(
        lambda w: {
            **(c := electrum_config(w, [electrum.url])),
            "chains": [{**c["chains"][0], "network": "testnet"}],
        }
    )
    state = wait_for(lambda: "refused" in (s := chain_info(daemon).state) and s, 20, "refusal")
    assert "genesis" in state and not chain_info(daemon).connected
