"""gRPC-side helpers for the Electrum tests: configs pointing the regtest chain at the
fixture, BTC invoices, paying them through the fixture, and waiting on statuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.chains.derivation import UtxoDeriver
from coinvoiced.domain.money import parse_amount

from tests.support.daemon import ABANDON_BTC_VPUB, Daemon, base_config
from tests.support.flow import event_types, events, get, wait_status  # noqa: F401
from tests.support.util import wait_for

from .server import ElectrumServer

Status = pb.InvoiceStatus
Event = pb.InvoiceEventType
CHAIN = "regtest"
DERIVER = UtxoDeriver(ABANDON_BTC_VPUB, "regtest")


def electrum_config(
    workdir: Path,
    servers: list[str],
    *,
    confirmations: int = 2,
    gap_limit: int = 1000,
    window: int = 3600,
    **chain_extra: Any,
) -> dict[str, Any]:
    config = base_config(workdir / "data", 0)
    chain = next(c for c in config["chains"] if c["kind"] == "electrum")
    chain.update(
        servers=servers,
        required_confirmations=confirmations,
        gap_limit=gap_limit,
        ping_interval_seconds=5,
        **chain_extra,
    )
    config["chains"] = [chain]
    config["invoices"]["monitoring_window_seconds"] = window
    config["rates"]["fixed"] = {"BTC/USD": "60000"}
    return config


def create(
    daemon: Daemon,
    amount: str,
    currency: str = "BTC",
    *,
    expires: int = 600,
    confirmations: int = 0,
) -> pb.Invoice:
    return daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(
            amount=amount,
            currency=currency,
            expires_in_seconds=expires,
            required_confirmations=confirmations,
        ),
        timeout=10,
    )


def due(invoice: pb.Invoice) -> tuple[str, int]:
    option = next(o for o in invoice.payment_options if o.asset == "BTC")
    return option.address, parse_amount(option.amount_due, 8, "amount_due")


def script_of(address: str, scan: int = 20_000) -> bytes:
    """The scriptPubKey of one of the daemon's addresses (found by deriving, as a payer's
    wallet would decode it)."""
    for i in range(scan):
        derived = DERIVER.derive(i)
        if derived.address == address:
            return derived.script
    raise LookupError(address)


_SCRIPTS: dict[str, bytes] = {}


def pay(
    server: ElectrumServer,
    invoice: pb.Invoice,
    amount: int | None = None,
    *,
    rbf: bool = False,
    mine: bool = False,
) -> str:
    address, owed = due(invoice)
    if address not in _SCRIPTS:
        _SCRIPTS[address] = script_of(address)
    return server.pay([(_SCRIPTS[address], owed if amount is None else amount)], rbf=rbf, mine=mine)


def chain_info(daemon: Daemon) -> pb.ChainInfo:
    info = daemon.node.GetInfo(pb.GetInfoRequest(), timeout=10)
    return next(c for c in info.chains if c.name == CHAIN)


def wait_connected(daemon: Daemon, timeout: float = 20.0) -> pb.ChainInfo:
    return wait_for(lambda: (c := chain_info(daemon)).connected and c, timeout, "connected")


def wait_height(daemon: Daemon, height: int, timeout: float = 20.0) -> pb.ChainInfo:
    return wait_for(
        lambda: (c := chain_info(daemon)).processed_height == height and c,
        timeout,
        f"block {height} processed",
    )
