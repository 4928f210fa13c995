"""BTC invoices paid through the regtest Electrum fixture, the daemon running as a real
process and asserted over gRPC: exact, under, over, partial and late payments, mempool
then confirmations, replace-by-fee, transactions dropped from the mempool, and a reorg
that takes a confirmed payment away."""

from __future__ import annotations

from collections.abc import Callable

from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon

from .chain import FAUCET_SCRIPT
from .flow import (
    Status,
    chain_info,
    create,
    due,
    electrum_config,
    event_types,
    get,
    pay,
    script_of,
    wait_connected,
    wait_height,
    wait_status,
)
from .server import ElectrumServer

MakeDaemon = Callable[..., Daemon]
NEW = Status.INVOICE_STATUS_NEW
PROCESSING = Status.INVOICE_STATUS_PROCESSING
PAID = Status.INVOICE_STATUS_PAID
EXPIRED = Status.INVOICE_STATUS_EXPIRED
UNRESOLVED = Status.INVOICE_STATUS_UNRESOLVED
Reason = pb.UnresolvedReason
PaymentState = pb.PaymentState


def test_exact_under_over_partial_and_late(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    electrum.mine(3)
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=1))
    wait_connected(daemon)
    exact = create(daemon, "0.001")
    over = create(daemon, "0.001")
    partial = create(daemon, "0.001")
    under = create(daemon, "0.001", expires=4)
    late = create(daemon, "0.001", expires=2)

    pay(electrum, exact)
    pay(electrum, over, 150_000)
    pay(electrum, under, 40_000)
    pay(electrum, partial, 20_000)
    # One transaction, two outputs to the same address: two payments (txid, vout).
    address, _ = due(partial)
    script = script_of(address)
    both = electrum.pay([(script, 30_000), (script, 20_000)])
    wait_status(daemon, exact.id, PROCESSING)
    electrum.mine(1)

    assert len(wait_status(daemon, exact.id, PAID).payments) == 1
    wait_status(daemon, over.id, UNRESOLVED, Reason.UNRESOLVED_REASON_OVERPAID)
    partial_now = wait_status(daemon, partial.id, PROCESSING)
    assert sorted((p.txid == both, p.index) for p in partial_now.payments) == [
        (False, 0),
        (True, 0),
        (True, 1),
    ]
    pay(electrum, partial, 30_000, mine=True)
    assert len(wait_status(daemon, partial.id, PAID).payments) == 4

    wait_status(daemon, under.id, UNRESOLVED, Reason.UNRESOLVED_REASON_UNDERPAID, timeout=30)
    wait_status(daemon, late.id, EXPIRED, timeout=30)
    pay(electrum, late, mine=True)
    late_now = wait_status(daemon, late.id, UNRESOLVED, Reason.UNRESOLVED_REASON_PAID_LATE)
    assert late_now.payments[0].late

    info = chain_info(daemon)
    assert info.connected and info.tip_height == electrum.height == info.processed_height
    assert "FixtureX 1.0" in info.state and "5 subscriptions" in info.state
    assert info.endpoint == electrum.url


def test_mempool_then_confirmations(electrum: ElectrumServer, make_daemon: MakeDaemon) -> None:
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=3))
    wait_connected(daemon)
    invoice = create(daemon, "0.002")
    txid = pay(electrum, invoice)
    seen = wait_status(daemon, invoice.id, PROCESSING)
    assert seen.payments[0].state == PaymentState.PAYMENT_STATE_PENDING
    assert seen.payments[0].txid == txid and seen.payments[0].amount == "0.002"

    electrum.mine(1)
    mined_at = electrum.height
    wait_height(daemon, mined_at)
    one = wait_for_confirmations(daemon, invoice.id, 1)
    assert one.status == PROCESSING and one.payments[0].block_height == mined_at
    electrum.mine(1)
    assert wait_for_confirmations(daemon, invoice.id, 2).status == PROCESSING
    electrum.mine(1)
    paid = wait_status(daemon, invoice.id, PAID)
    assert paid.payments[0].state == PaymentState.PAYMENT_STATE_CONFIRMED
    assert event_types(daemon, invoice.id) == [
        "INVOICE_CREATED",
        "PAYMENT_DETECTED",  # mempool
        "INVOICE_UPDATED",
        "PAYMENT_DETECTED",  # mined
        "PAYMENT_CONFIRMED",
        "INVOICE_PAID",
    ]


def wait_for_confirmations(daemon: Daemon, invoice_id: str, n: int) -> pb.Invoice:
    from tests.support.util import wait_for

    return wait_for(
        lambda: (i := get(daemon, invoice_id)).payments and i.payments[0].confirmations == n and i,
        20,
        f"{n} confirmations",
    )


def test_replace_by_fee_counts_only_once_mined(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=1))
    wait_connected(daemon)
    invoice = create(daemon, "0.001")
    watched = create(daemon, "0.001")  # a plain payment shows when the daemon has caught up
    address, owed = due(invoice)
    script = script_of(address)

    # Payer's wallet: the payment and its change; the replacement pays a higher fee
    # (less change), as BIP125 requires.
    first = electrum.pay([(script, owed), (FAUCET_SCRIPT, 50_000)], rbf=True)
    pay(electrum, watched)
    wait_status(daemon, watched.id, PROCESSING)
    assert get(daemon, invoice.id).status == NEW  # signals RBF: not counted unconfirmed

    second = electrum.replace(first, [(script, owed), (FAUCET_SCRIPT, 40_000)])
    electrum.mine(1)
    paid = wait_status(daemon, invoice.id, PAID)
    assert [p.txid for p in paid.payments] == [second]
    assert first not in {p.txid for p in paid.payments}


def test_mempool_payment_dropped_goes_back(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=1))
    wait_connected(daemon)
    invoice = create(daemon, "0.001")
    txid = pay(electrum, invoice)  # no RBF signal: counted at zero confirmations
    wait_status(daemon, invoice.id, PROCESSING)
    electrum.evict(txid)  # double-spent / evicted: gone without being mined
    back = wait_status(daemon, invoice.id, NEW)
    assert back.payments[0].state == PaymentState.PAYMENT_STATE_REORGED
    assert event_types(daemon, invoice.id)[-2:] == ["PAYMENT_REORGED", "INVOICE_UPDATED"]
    pay(electrum, invoice, mine=True)
    wait_status(daemon, invoice.id, PAID)


def test_reorg_removes_a_confirmed_payment(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    electrum.mine(5)
    daemon = make_daemon(lambda w: electrum_config(w, [electrum.url], confirmations=2))
    wait_connected(daemon)
    invoice = create(daemon, "0.001")
    txid = pay(electrum, invoice, mine=True)
    electrum.mine(1)
    first = wait_status(daemon, invoice.id, PAID).payments[0]

    # The two blocks go away; the transaction is not in the new branch (nor the mempool).
    electrum.reorg(2, new_blocks=3, keep_in_mempool=False)
    orphaned = wait_status(daemon, invoice.id, NEW)
    assert [p.state for p in orphaned.payments] == [PaymentState.PAYMENT_STATE_REORGED]
    wait_height(daemon, electrum.height)

    # Mined again, in a block at the same height as a new block of another reorg: the
    # scripthash status does not change then, the block hash does.
    electrum.add_mempool(electrum.chain.txs[txid])
    electrum.mine(1)
    electrum.mine(1)
    again = wait_status(daemon, invoice.id, PAID).payments[0]
    assert again.txid == txid and again.block_hash != first.block_hash
    electrum.reorg(2, new_blocks=2, mine_orphaned=True)
    moved = wait_for(
        lambda: (
            (p := get(daemon, invoice.id).payments[0]).block_hash != again.block_hash
            and p.state == PaymentState.PAYMENT_STATE_CONFIRMED
            and p
        ),
    )
    assert moved.block_height == again.block_height
    types = event_types(daemon, invoice.id)
    assert types.count("PAYMENT_REORGED") == 2
    assert types.count("INVOICE_PAID") == 3


def wait_for(predicate: Callable[[], object], timeout: float = 20.0) -> object:
    from tests.support.util import wait_for as wait

    return wait(predicate, timeout, "condition")


def test_taproot_invoice(electrum: ElectrumServer, make_daemon: MakeDaemon) -> None:
    """A BIP86 account key with script_type = "p2tr": bcrt1p addresses, paid and found."""
    from coinvoiced.chains.derivation import UtxoDeriver

    tpub = (
        "tpubDDfvzhdVV4unsoKt5aE6dcsNsfeWbTgmLZPi8LQDYU2xixrYemMfWJ3BaVneH3u7DBQePdTwhpybaKRU95p"
        "i6PMUtLPBJLVQRpzEnjfjZzX"
    )
    daemon = make_daemon(
        lambda w: electrum_config(w, [electrum.url], confirmations=1, xpub=tpub, script_type="p2tr")
    )
    wait_connected(daemon)
    invoice = create(daemon, "0.001")
    address, owed = due(invoice)
    derived = UtxoDeriver(tpub, "regtest", "p2tr").derive(0)
    assert address == derived.address and address.startswith("bcrt1p")
    electrum.pay([(derived.script, owed)], mine=True)
    assert wait_status(daemon, invoice.id, PAID).payments[0].address == address
