"""The gap-limit carousel: once the run of unused addresses reaches the chain's gap_limit,
new invoices get the addresses of invoices that expired unpaid and whose monitoring
window is over; history those addresses got before being handed out again does not count
for the new invoice; with nothing free, a new address is handed out with a warning."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.daemon import Daemon
from tests.support.util import wait_for

from .flow import (
    Status,
    chain_info,
    create,
    due,
    electrum_config,
    get,
    pay,
    script_of,
    wait_connected,
    wait_height,
    wait_status,
)
from .server import ElectrumServer

MakeDaemon = Callable[..., Daemon]
EXPIRED = Status.INVOICE_STATUS_EXPIRED
PAID = Status.INVOICE_STATUS_PAID


def test_expired_unpaid_addresses_are_reused_past_the_gap_limit(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    daemon = make_daemon(
        lambda w: electrum_config(w, [electrum.url], confirmations=1, gap_limit=3, window=0)
    )
    wait_connected(daemon)
    first = [create(daemon, "0.001", expires=1) for _ in range(3)]
    addresses = {due(i)[0] for i in first}
    for invoice in first:
        wait_status(daemon, invoice.id, EXPIRED)
    # Paid after their windows closed (nobody watches them now): a restored wallet sees
    # these funds; a later invoice on the same address must not count them.
    for address in addresses:
        electrum.pay([(script_of(address), 100_000)])
    electrum.mine(1)
    wait_height(daemon, electrum.height)

    reused = create(daemon, "0.001")
    address = due(reused)[0]
    assert address in addresses
    reusing = "gap limit 3 reached: reusing addresses of expired unpaid invoices"
    wait_for(lambda: reusing in chain_info(daemon).state, 10, "carousel notice in GetInfo")
    others = [create(daemon, "0.001") for _ in range(2)]
    assert {due(i)[0] for i in [reused, *others]} == addresses
    # Nothing expired is free now: a new address, and a warning.
    fresh = create(daemon, "0.001")
    assert due(fresh)[0] not in addresses
    warning = wait_for(
        lambda: "no expired address is free" in (s := chain_info(daemon).state) and s,
        10,
        "gap warning",
    )
    assert "gap limit 3 reached" in warning

    for invoice in [reused, *others]:
        pay(electrum, invoice)
    electrum.mine(1)
    for invoice in [reused, *others]:
        # The earlier payment to the same address is not this invoice's.
        assert len(wait_status(daemon, invoice.id, PAID).payments) == 1
    # The earlier invoices keep their (expired) status and their own record.
    assert all(get(daemon, i.id).status == EXPIRED for i in first)


def test_addresses_inside_their_monitoring_window_are_not_reused(
    electrum: ElectrumServer, make_daemon: MakeDaemon
) -> None:
    daemon = make_daemon(
        lambda w: electrum_config(w, [electrum.url], confirmations=1, gap_limit=2, window=3600)
    )
    wait_connected(daemon)
    expired = [create(daemon, "0.001", expires=1) for _ in range(2)]
    for invoice in expired:
        wait_status(daemon, invoice.id, EXPIRED)
    later = create(daemon, "0.001")
    assert due(later)[0] not in {due(i)[0] for i in expired}
    # A late payment to an expired invoice still reaches that invoice.
    pay(electrum, expired[0], mine=True)
    wait_status(daemon, expired[0].id, Status.INVOICE_STATUS_UNRESOLVED)
