"""The chain-facing entry point (what watchers call), driven directly against a real store.

These run the Application in-process (real sqlite file, real gRPC server on a
free port) and feed it chain-neutral observations, the way the watchers will.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from coinvoiced.app.application import Application
from coinvoiced.app.invoices import CreateRequest
from coinvoiced.config import parse
from coinvoiced.domain.model import EventType, InvoiceStatus, PaymentState, Transfer

from tests.support.daemon import base_config

ETH = 10**18


def make_app(data_dir: Path) -> Application:
    config = base_config(data_dir, 0)
    config["server"]["listen"] = "127.0.0.1:0"
    return Application(parse(config))


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Application]:
    application = make_app(tmp_path)
    await application.start()
    yield application
    await application.stop()


def eth_transfer(
    address: str, amount: int, txid: str, height: int | None = None, block_hash: str | None = None
) -> Transfer:
    return Transfer(
        "anvil", txid, 0, "ETH", address, amount, bytes.fromhex(address[2:]), height, block_hash
    )


async def events_of(app: Application, invoice_id: str) -> list[int]:
    stored = await app.store.read(lambda r: r.events_after(0, invoice_id, 1000))
    return [e.type for e in stored]


async def create_eth(app: Application, amount: str = "1") -> tuple[str, str]:
    invoice = await app.invoices.create(CreateRequest(amount=amount, currency="ETH"))
    return invoice.id, invoice.options[0].address


async def test_block_payment_confirms_to_paid(app: Application) -> None:
    invoice_id, address = await create_eth(app)
    await app.payments.block_connected(
        "anvil", 100, "0xb100", "0xb99", [eth_transfer(address, ETH, "0xt1", 100, "0xb100")]
    )
    invoice = await app.invoices.get(invoice_id, "")
    assert invoice.status is InvoiceStatus.PROCESSING
    await app.payments.block_connected("anvil", 101, "0xb101", "0xb100", [])
    invoice = await app.invoices.get(invoice_id, "")
    assert invoice.status is InvoiceStatus.PAID
    assert invoice.payments[0].state is PaymentState.CONFIRMED
    assert await events_of(app, invoice_id) == [
        EventType.INVOICE_CREATED,
        EventType.PAYMENT_DETECTED,
        EventType.INVOICE_UPDATED,
        EventType.PAYMENT_CONFIRMED,
        EventType.INVOICE_PAID,
    ]
    assert (await app.store.read(lambda r: r.chain_cursor("anvil"))) == (101, "0xb101")


async def test_replayed_block_is_not_double_counted(app: Application) -> None:
    invoice_id, address = await create_eth(app, "2")
    transfer = eth_transfer(address, ETH, "0xt2", 200, "0xb200")
    for _ in range(3):
        await app.payments.block_connected("anvil", 200, "0xb200", "0xb199", [transfer])
    invoice = await app.invoices.get(invoice_id, "")
    assert len(invoice.payments) == 1
    assert app.invoices.view(invoice)["paid_amount"] == "1"
    assert (await events_of(app, invoice_id)).count(EventType.PAYMENT_DETECTED) == 1


async def test_reorg_and_reinclusion(app: Application) -> None:
    invoice_id, address = await create_eth(app)
    transfer = eth_transfer(address, ETH, "0xt3", 300, "0xb300")
    await app.payments.block_connected("anvil", 300, "0xb300", "0xb299", [transfer])
    await app.payments.block_connected("anvil", 301, "0xb301", "0xb300", [])
    assert (await app.invoices.get(invoice_id, "")).status is InvoiceStatus.PAID
    await app.payments.block_disconnected("anvil", 301, "0xb301", "0xb300")
    await app.payments.block_disconnected("anvil", 300, "0xb300", "0xb299")
    invoice = await app.invoices.get(invoice_id, "")
    assert invoice.status is InvoiceStatus.NEW
    assert invoice.payments[0].state is PaymentState.REORGED
    # The same transaction mined on the new branch is the same payment.
    await app.payments.block_connected(
        "anvil", 300, "0xc300", "0xb299", [eth_transfer(address, ETH, "0xt3", 300, "0xc300")]
    )
    await app.payments.block_connected("anvil", 301, "0xc301", "0xc300", [])
    invoice = await app.invoices.get(invoice_id, "")
    assert invoice.status is InvoiceStatus.PAID
    assert len(invoice.payments) == 1 and invoice.payments[0].block_hash == "0xc300"
    types = await events_of(app, invoice_id)
    assert types.count(EventType.PAYMENT_REORGED) == 1
    assert types.count(EventType.INVOICE_PAID) == 2


async def test_unwatched_address_is_ignored(app: Application) -> None:
    stranger = "0x" + "11" * 20
    matched = await app.payments.transfers_seen([eth_transfer(stranger, ETH, "0xt4")])
    assert matched == 0


async def test_mempool_drop(app: Application) -> None:
    invoice_id, address = await create_eth(app)
    await app.payments.transfers_seen([eth_transfer(address, ETH, "0xt5")])
    assert (await app.invoices.get(invoice_id, "")).status is InvoiceStatus.PROCESSING
    await app.payments.transaction_dropped("anvil", "0xt5")
    invoice = await app.invoices.get(invoice_id, "")
    assert invoice.status is InvoiceStatus.NEW
    assert (await events_of(app, invoice_id))[-2:] == [
        EventType.PAYMENT_REORGED,
        EventType.INVOICE_UPDATED,
    ]


async def test_restart_rebuilds_index_and_cursor(tmp_path: Path) -> None:
    first = make_app(tmp_path)
    await first.start()
    invoice_id, address = await create_eth(first)
    await first.payments.block_connected("anvil", 10, "0xa10", "0xa9", [])
    last = first.bus.last_sequence
    await first.stop()

    second = make_app(tmp_path)
    await second.start()
    try:
        assert second.index.lookup("anvil", bytes.fromhex(address[2:])) is not None
        assert second.chains["anvil"].status.processed_height == 10
        assert second.bus.last_sequence == last
        await second.payments.block_connected(
            "anvil", 11, "0xa11", "0xa10", [eth_transfer(address, ETH, "0xt6", 11, "0xa11")]
        )
        await second.payments.block_connected("anvil", 12, "0xa12", "0xa11", [])
        assert (await second.invoices.get(invoice_id, "")).status is InvoiceStatus.PAID
    finally:
        await second.stop()
