"""The EVM watcher against what a real chain and a real deployment do to it: reorgs, a
daemon killed mid-stream, a node that restarts or drops the connection, a node that is
down at start-up, and a node that contradicts the configuration."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon
from tests.support.util import free_port, wait_for

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
from .proxy import TcpProxy

PAID = Status.INVOICE_STATUS_PAID
PROCESSING = Status.INVOICE_STATUS_PROCESSING
NEW = Status.INVOICE_STATUS_NEW
REORGED = pb.PaymentState.PAYMENT_STATE_REORGED

MakeAnvil = Callable[..., Anvil]
MakeDaemon = Callable[..., Daemon]


def test_reorg_removes_a_confirmed_payment_then_it_is_mined_again(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    node = make_anvil()
    daemon = make_daemon(lambda w: evm_config(w, node))
    node.mine(5)  # recorded history below the blocks that will be replaced
    invoice = create(daemon, "0.4")
    address, wei = due(invoice)
    txid = node.send(address, wei)
    raw = node.rpc("eth_getRawTransactionByHash", txid)  # to mine the very same tx again
    node.mine()
    first = wait_status(daemon, invoice.id, PAID).payments[0]

    # Replace the last 3 blocks (the payment's among them) with empty ones; a new head
    # follows, as it would on a live chain.
    node.rpc("anvil_reorg", 3, [])
    node.mine()
    orphaned = wait_status(daemon, invoice.id, NEW)
    assert [p.state for p in orphaned.payments] == [REORGED]
    assert orphaned.payments[0].block_height == 0 and orphaned.payments[0].confirmations == 0

    # The same signed transaction is mined again on the new branch: the same payment.
    assert node.rpc("eth_sendRawTransaction", raw) == txid
    wait_status(daemon, invoice.id, PROCESSING)
    node.mine()
    again = wait_status(daemon, invoice.id, PAID)
    (payment,) = again.payments
    assert payment.txid == txid and payment.index == 0
    assert payment.block_hash != first.block_hash

    # A shallow reorg that keeps the transaction but moves it into the new tip block:
    # PAID goes back to PROCESSING (one confirmation short), then PAID again.
    node.rpc("anvil_reorg", 2, [[raw, 1]])
    moved = wait_status(daemon, invoice.id, PROCESSING)
    assert moved.payments[0].confirmations == 1
    node.mine()
    final = wait_status(daemon, invoice.id, PAID)
    assert len(final.payments) == 1

    types = event_types(daemon, invoice.id)
    assert types.count("PAYMENT_REORGED") == 2
    assert types.count("PAYMENT_DETECTED") == 3  # first seen, mined again, moved
    assert types.count("INVOICE_PAID") == 3
    assert types[-2:] == ["PAYMENT_CONFIRMED", "INVOICE_PAID"]


def test_daemon_killed_while_payments_are_mined_finds_each_once(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    node = make_anvil()
    # With an http_url, catch-up after the restart reads blocks over HTTP batches.
    daemon = make_daemon(lambda w: evm_config(w, node, http=True))
    invoices = [create(daemon, f"0.0{i + 1}") for i in range(8)]

    killed = threading.Event()

    def pay_all() -> None:
        for i, invoice in enumerate(invoices):
            if i == 6:
                killed.wait(30)  # the last ones certainly land while the daemon is down
            node.send(*due(invoice))  # automine: one block per payment
            node.mine()

    payer = threading.Thread(target=pay_all)
    payer.start()
    try:
        wait_for(lambda: get(daemon, invoices[1].id).payments, 30, "the 2nd payment seen")
        daemon.kill()  # SIGKILL while blocks with payments keep coming
    finally:
        killed.set()
        payer.join()
    node.mine(2)

    daemon.start()
    for invoice in invoices:
        wait_status(daemon, invoice.id, PAID, timeout=30)
    for invoice in invoices:
        assert len(get(daemon, invoice.id).payments) == 1
        types = event_types(daemon, invoice.id)
        assert types.count("PAYMENT_DETECTED") == 1, types
        assert types.count("PAYMENT_CONFIRMED") == 1, types
        assert types.count("INVOICE_PAID") == 1, types
    wait_processed(daemon, node.block_number())


def test_node_restarted_with_its_state_payments_found_after_reconnect(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    node = make_anvil(state=True)
    daemon = make_daemon(lambda w: evm_config(w, node))
    before, during, after = (create(daemon, "0.1") for _ in range(3))
    node.send(*due(before))
    wait_status(daemon, before.id, PROCESSING)

    node.stop()  # SIGTERM: anvil dumps its chain to the state file
    wait_for(lambda: not chain_info(daemon).connected, 15, "the daemon to notice")
    assert chain_info(daemon).state.startswith("connecting:")
    node.start()  # same port, same chain
    node.send(*due(during))  # paid before the daemon is back
    node.mine()
    wait_for(lambda: chain_info(daemon).connected, 30, "the daemon to reconnect")
    node.send(*due(after))
    node.mine()
    for invoice in (before, during, after):
        assert len(wait_status(daemon, invoice.id, PAID).payments) == 1


def test_node_reset_to_a_fresh_chain_is_followed(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    """A dev node restarted without its state: nothing we recorded is on its chain. The
    payments of the vanished chain stop counting, and the new chain is followed."""
    node = make_anvil()
    daemon = make_daemon(lambda w: evm_config(w, node))
    lost, found = create(daemon, "0.1"), create(daemon, "0.2")
    node.send(*due(lost))
    node.mine()
    wait_status(daemon, lost.id, PAID)

    node.stop()
    node.start()  # same port, a brand-new chain
    node.mine(3)
    node.send(*due(found))
    node.mine()
    wait_status(daemon, found.id, PAID)
    orphaned = wait_status(daemon, lost.id, NEW)
    assert [p.state for p in orphaned.payments] == [REORGED]


def test_connection_dropped_while_payments_happen(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    node = make_anvil()
    proxy = TcpProxy(node.port)
    try:

        def config(workdir: Path) -> dict:
            cfg = evm_config(workdir, node)
            cfg["chains"][0]["ws_url"] = proxy.ws_url
            return cfg

        daemon = make_daemon(config)
        first, second = create(daemon, "0.2"), create(daemon, "0.3")
        wait_for(lambda: chain_info(daemon).connected, 10, "connected")

        proxy.cut()
        wait_for(lambda: not chain_info(daemon).connected, 15, "the daemon to notice")
        node.send(*due(first))
        node.mine(3)
        node.send(*due(second))
        node.mine()
        tip = node.block_number()
        assert get(daemon, first.id).status == NEW  # the daemon cannot know yet

        proxy.restore()
        wait_processed(daemon, tip, timeout=30)
        wait_status(daemon, first.id, PAID)
        wait_status(daemon, second.id, PAID)
        assert chain_info(daemon).connected
    finally:
        proxy.close()


def test_node_down_at_start_up(anvil_path: str, tmp_path: Path, make_daemon: MakeDaemon) -> None:
    """The daemon serves while the node is unreachable, says so in GetInfo, and picks the
    node up when it comes; invoices created meanwhile are watched from before they were
    created."""
    node = Anvil(anvil_path, tmp_path / "late-node", port=free_port())
    daemon = make_daemon(lambda w: evm_config(w, node))
    try:
        info = chain_info(daemon)
        assert not info.connected and info.state.startswith("connecting:")
        invoice = create(daemon, "0.1")
        node.start()
        node.send(*due(invoice))
        node.mine()
        wait_status(daemon, invoice.id, PAID, timeout=45)
        assert chain_info(daemon).connected
    finally:
        node.stop()


def test_first_run_starts_at_the_tip_and_derives_the_known_address(
    make_anvil: MakeAnvil, make_daemon: MakeDaemon
) -> None:
    node = make_anvil()
    node.mine(50)
    daemon = make_daemon(lambda w: evm_config(w, node))
    # start() persisted the node's tip as the starting point before serving.
    assert chain_info(daemon).processed_height == node.block_number() == 50
    invoice = create(daemon, "0.01")
    address, wei = due(invoice)
    # m/44'/60'/0'/0/0 of "abandon ... about": the first invoice's address.
    assert address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    node.send(address, wei)
    node.mine()
    wait_status(daemon, invoice.id, PAID)


def _run_to_exit(workdir: Path, config: dict) -> subprocess.CompletedProcess[str]:
    """Run the daemon expecting it to refuse to start; it must exit by itself."""
    daemon = Daemon(workdir, config)
    daemon.write_config()
    try:
        return subprocess.run(
            [sys.executable, "-m", "coinvoiced", "--config", str(daemon.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"coinvoiced did not exit after refusing to start; it said: {exc.stderr!r}"
        ) from None


def test_chain_id_mismatch_refuses_to_start(anvil: Anvil, tmp_path: Path) -> None:
    result = _run_to_exit(tmp_path, evm_config(tmp_path, anvil, chain_id=1))
    assert result.returncode == 2
    assert (
        f"chains[0].chain_id: the node at {anvil.ws_url} is on chain id 31337, not 1"
        in result.stderr
    )


@pytest.mark.parametrize("problem", ["decimals", "no-contract"])
def test_token_contract_mismatch_refuses_to_start(
    anvil: Anvil, tmp_path: Path, problem: str
) -> None:
    token = anvil.deploy_token(decimals=6)
    if problem == "decimals":
        config = evm_config(tmp_path, anvil, token=token, token_decimals=18)
        expected = f"chains[0].assets[1].decimals: configured 18 but the {TOKEN} contract"
    else:
        nowhere = "0x" + "42" * 20
        config = evm_config(tmp_path, anvil, token=nowhere)
        expected = f"chains[0].assets[1].contract: no contract at {nowhere}"
    result = _run_to_exit(tmp_path, config)
    assert result.returncode == 2
    assert expected in result.stderr
