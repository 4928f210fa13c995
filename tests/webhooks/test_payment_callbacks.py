"""A real payment on a real anvil node, seen as callbacks: every event of the invoice is
POSTed in sequence order, payment events carry the payment with decimal-string amounts,
and the bodies match the event log. Skipped without $COINVOICE_ANVIL (`make test`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.evm.anvil import Anvil, anvil_binary
from tests.evm.flow import due, evm_config
from tests.support.daemon import Daemon

from .conftest import STEP, Receiver, callbacks_config, wait_settled
from .test_signing import independent_verify

SECRET = "payment-secret-0123456789"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    binary = anvil_binary()
    if binary is None:
        pytest.skip("$COINVOICE_ANVIL is not set: run `make test`, which installs anvil")
    node = Anvil(binary, tmp_path_factory.mktemp("anvil")).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def paid_daemon(tmp_path_factory: pytest.TempPathFactory, chain: Anvil) -> Iterator[Daemon]:
    workdir: Path = tmp_path_factory.mktemp("paid")
    config = evm_config(workdir, chain)
    config["callbacks"] = callbacks_config()
    daemon = Daemon(workdir, config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def test_payment_events_as_callbacks(paid_daemon: Daemon, chain: Anvil, receiver: Receiver) -> None:
    invoice = paid_daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(
            amount="0.5",
            currency="ETH",
            callback_url=receiver.url("paid"),
            callback_secret=SECRET,
        ),
        timeout=STEP,
    )
    address, amount = due(invoice)
    txid = chain.send(address, amount)  # automine: in a block at once (1 confirmation)
    chain.mine(1)  # the second of the two required confirmations

    rows = wait_settled(paid_daemon, invoice.id, 4, timeout=30)
    types = [pb.InvoiceEventType.Name(r.event_type) for r in rows]
    assert types[0] == "INVOICE_CREATED" and types[-1] == "INVOICE_PAID", types
    assert "PAYMENT_DETECTED" in types and "PAYMENT_CONFIRMED" in types
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in rows)

    requests = receiver.answered("paid")
    assert [r.json["sequence"] for r in requests] == [r.event_sequence for r in rows]
    for request in requests:
        assert independent_verify(SECRET, request.headers["Coinvoice-Signature"], request.body)
    by_type = {r.json["type"]: r.json for r in requests}
    detected = by_type["PAYMENT_DETECTED"]["payment"]
    assert (detected["txid"], detected["amount"], detected["asset"]) == (txid, "0.5", "ETH")
    assert detected["address"] == address
    assert detected["state"] in ("PENDING", "CONFIRMING")
    confirmed = by_type["PAYMENT_CONFIRMED"]["payment"]
    assert (confirmed["state"], confirmed["confirmations"]) == ("CONFIRMED", 2)
    final = by_type["INVOICE_PAID"]["invoice"]
    assert (final["status"], final["paid_amount"], final["confirmed_amount"]) == (
        "PAID",
        "0.5",
        "0.5",
    )
    assert final["payments"][0]["txid"] == txid
