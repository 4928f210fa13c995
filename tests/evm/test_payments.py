"""ETH and ERC-20 payments found by the EVM watcher on a real anvil node, seen through the
real daemon's gRPC API. One anvil and one daemon serve the whole module (automine on;
required confirmations 2, so each payment needs one more block to confirm)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.chains.evm.decode import LogsBloomFilter

from tests.support.daemon import Daemon
from tests.support.util import wait_for

from .anvil import Anvil
from .flow import (
    TOKEN,
    Status,
    chain_info,
    create,
    due,
    event_types,
    evm_config,
    get,
    wait_processed,
    wait_status,
)

PAID = Status.INVOICE_STATUS_PAID
PROCESSING = Status.INVOICE_STATUS_PROCESSING
UNRESOLVED = Status.INVOICE_STATUS_UNRESOLVED
EXPIRED = Status.INVOICE_STATUS_EXPIRED
NEW = Status.INVOICE_STATUS_NEW
Reason = pb.UnresolvedReason
PaymentState = pb.PaymentState


@pytest.fixture(scope="module")
def token(anvil: Anvil) -> str:
    return anvil.deploy_token(decimals=6)


@pytest.fixture(scope="module")
def daemon(anvil: Anvil, token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    workdir: Path = tmp_path_factory.mktemp("daemon")
    d = Daemon(workdir, evm_config(workdir, anvil, token=token)).start()
    try:
        yield d
    finally:
        d.stop()


def test_exact_payment_confirms_to_paid(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "0.5")
    address, wei = due(invoice)
    txid = anvil.send(address, wei)
    receipt = anvil.receipt(txid)
    seen = wait_status(daemon, invoice.id, PROCESSING)
    assert [p.confirmations for p in seen.payments] == [1]
    anvil.mine()
    wait_status(daemon, invoice.id, PAID)
    # The view counts confirmations from the processed height, which the processor
    # updates just after the commit that made the invoice PAID.
    paid = wait_for(
        lambda: (inv := get(daemon, invoice.id)).payments[0].confirmations >= 2 and inv,
        10,
        "two confirmations in the view",
    )
    (payment,) = paid.payments
    assert payment.txid == txid
    assert payment.index == 0
    assert payment.amount == "0.5"
    assert payment.asset == "ETH" and payment.address == address
    assert payment.block_height == int(receipt["blockNumber"], 16)
    assert payment.block_hash == receipt["blockHash"]
    assert payment.state == PaymentState.PAYMENT_STATE_CONFIRMED
    assert event_types(daemon, invoice.id) == [
        "INVOICE_CREATED",
        "PAYMENT_DETECTED",
        "INVOICE_UPDATED",
        "PAYMENT_CONFIRMED",
        "INVOICE_PAID",
    ]


def test_underpaid(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "1", expires=3)
    address, wei = due(invoice)
    anvil.send(address, wei - 1)
    anvil.mine()
    # Confirmed but short: PROCESSING until the deadline, then UNRESOLVED/UNDERPAID.
    resolved = wait_status(
        daemon, invoice.id, UNRESOLVED, Reason.UNRESOLVED_REASON_UNDERPAID, timeout=15
    )
    assert resolved.paid_amount == "0.999999999999999999"  # one wei short


def test_overpaid(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "0.1")
    address, wei = due(invoice)
    anvil.send(address, wei * 3 // 2)
    anvil.mine()
    wait_status(daemon, invoice.id, UNRESOLVED, Reason.UNRESOLVED_REASON_OVERPAID)


def test_two_partial_payments(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "30", "USD")
    address, wei = due(invoice)
    first = wei * 2 // 5
    anvil.send(address, first)
    wait_status(daemon, invoice.id, PROCESSING)
    anvil.send(address, wei - first, sender=anvil.accounts[1])
    anvil.mine()
    paid = wait_status(daemon, invoice.id, PAID)
    assert len(paid.payments) == 2
    assert sum(int(p.block_height) > 0 for p in paid.payments) == 2
    assert paid.paid_amount == "30"


def test_late_payment_after_expiry(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "0.2", expires=2)
    address, wei = due(invoice)
    wait_status(daemon, invoice.id, EXPIRED, timeout=10)
    anvil.send(address, wei)
    anvil.mine()
    late = wait_status(daemon, invoice.id, UNRESOLVED, Reason.UNRESOLVED_REASON_PAID_LATE)
    assert [p.late for p in late.payments] == [True]


def test_erc20_payment(anvil: Anvil, daemon: Daemon, token: str) -> None:
    invoice = create(daemon, "12.5", TOKEN)
    address, units = due(invoice, TOKEN)
    assert units == 12_500_000  # 6 decimals
    payer = anvil.accounts[2]
    anvil.receipt(anvil.token_mint(token, payer, 100_000_000))
    txid = anvil.token_transfer(token, address, units, sender=payer)
    receipt = anvil.receipt(txid)
    anvil.mine()
    paid = wait_status(daemon, invoice.id, PAID)
    (payment,) = paid.payments
    assert (payment.asset, payment.amount, payment.txid) == (TOKEN, "12.5", txid)
    assert payment.index == int(receipt["logs"][0]["logIndex"], 16)
    assert anvil.token_balance(token, address) == units
    # The watcher's bloom filter agrees with the node's: this block may hold our logs.
    ours = LogsBloomFilter([token.lower()])
    assert ours.may_contain(anvil.block(payment.block_height)["logsBloom"])
    assert not ours.may_contain("0x" + "00" * 256)


def test_transfer_of_an_unconfigured_token_does_not_count(anvil: Anvil, daemon: Daemon) -> None:
    other_token = anvil.deploy_token(decimals=6)
    invoice = create(daemon, "5", TOKEN)
    address, units = due(invoice, TOKEN)
    txid = anvil.token_mint(other_token, address, units)  # same event, other contract
    height = int(anvil.receipt(txid)["blockNumber"], 16)
    wait_processed(daemon, height)
    assert list(get(daemon, invoice.id).payments) == []


def test_eth_and_token_in_one_block(anvil: Anvil, daemon: Daemon, token: str) -> None:
    """Native transfers and token logs of the same block are matched in one pass; an
    invoice priced in USD accepts both assets and adds them up."""
    invoice = create(daemon, "30", "USD", assets=("ETH", TOKEN))  # 0.01 ETH or 30 TUSD
    eth_address, wei = due(invoice, "ETH")
    token_address, units = due(invoice, TOKEN)
    assert eth_address == token_address  # one deposit address per chain
    payer = anvil.accounts[3]
    anvil.receipt(anvil.token_mint(token, payer, units))
    anvil.set_automine(False)
    try:
        native = anvil.send(eth_address, wei // 2, sender=payer)
        tokens = anvil.token_transfer(token, token_address, units // 2, sender=payer)
        anvil.mine()
    finally:
        anvil.set_automine(True)
    assert anvil.receipt(native)["blockHash"] == anvil.receipt(tokens)["blockHash"]
    anvil.mine()
    paid = wait_status(daemon, invoice.id, PAID)
    assert sorted(p.asset for p in paid.payments) == ["ETH", TOKEN]
    assert len({p.block_hash for p in paid.payments}) == 1


def test_reverted_transaction_does_not_count(anvil: Anvil, daemon: Daemon) -> None:
    """A contract at the invoice address that reverts every call: the transaction is mined
    (status 0) with value, but no value moves, so nothing is paid."""
    reverting = create(daemon, "0.3")
    address, wei = due(reverting)
    anvil.rpc("anvil_setCode", address, "0x60006000fd")  # PUSH1 0 PUSH1 0 REVERT
    # An explicit gas limit skips estimation, which would refuse a reverting call.
    failed = anvil.receipt(anvil.send(address, wei, gas=hex(100_000)))
    assert failed["status"] == "0x0"
    # A good payment in a later block: once it is seen, the reverted block was processed.
    control = create(daemon, "0.3")
    control_address, control_wei = due(control)
    anvil.send(control_address, control_wei)
    wait_status(daemon, control.id, PROCESSING)
    unpaid = get(daemon, reverting.id)
    assert unpaid.status == NEW and list(unpaid.payments) == []
    assert chain_info(daemon).processed_height >= int(failed["blockNumber"], 16)


def test_confirmations_count_up_with_manual_mining(anvil: Anvil, daemon: Daemon) -> None:
    invoice = create(daemon, "0.25", confirmations=3)
    address, wei = due(invoice)
    anvil.set_automine(False)
    try:
        txid = anvil.send(address, wei)
        tip = anvil.block_number()
        wait_processed(daemon, tip)
        assert get(daemon, invoice.id).status == NEW  # pending: not in a block yet
        counted = []
        for _ in range(3):
            anvil.rpc("evm_mine")
            target = anvil.block_number()
            wait_processed(daemon, target)
            counted.append(get(daemon, invoice.id))
    finally:
        anvil.set_automine(True)
    assert [inv.payments[0].confirmations for inv in counted] == [1, 2, 3]
    assert [inv.status for inv in counted] == [PROCESSING, PROCESSING, PAID]
    assert counted[0].payments[0].txid == txid
    types = event_types(daemon, invoice.id)
    assert types.count("PAYMENT_CONFIRMED") == 1 and types[-1] == "INVOICE_PAID"


def test_get_info_reports_the_chain(anvil: Anvil, daemon: Daemon) -> None:
    anvil.mine()
    tip = anvil.block_number()
    info = wait_processed(daemon, tip)
    assert info.connected and info.state == "connected"
    assert info.tip_height == tip and info.processed_height == tip and info.lag == 0
    assert info.endpoint == anvil.ws_url
    assert list(info.assets) == ["ETH", TOKEN]
