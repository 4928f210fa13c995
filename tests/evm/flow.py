"""gRPC-side helpers for the EVM tests: daemon configs pointing at a test anvil, invoice
creation, and waiting on statuses and events (never sleeping)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.domain.money import parse_amount

from tests.support.daemon import ABANDON_ETH_XPUB, Daemon, base_config
from tests.support.flow import event_types, events, get, wait_status  # noqa: F401
from tests.support.util import wait_for

from .anvil import CHAIN_ID, Anvil

Status = pb.InvoiceStatus
Event = pb.InvoiceEventType
TOKEN = "TUSD"


def evm_config(
    workdir: Path,
    anvil: Anvil,
    *,
    token: str | None = None,
    token_decimals: int = 6,
    confirmations: int = 2,
    http: bool = False,
    chain_id: int = CHAIN_ID,
) -> dict[str, Any]:
    config = base_config(workdir / "data", 0)
    assets: list[dict[str, Any]] = [{"code": "ETH", "decimals": 18}]
    fixed = {"ETH/USD": "3000"}
    if token is not None:
        assets.append({"code": TOKEN, "decimals": token_decimals, "contract": token})
        fixed[f"{TOKEN}/USD"] = "1"
    chain: dict[str, Any] = {
        "name": "anvil",
        "kind": "evm",
        "chain_id": chain_id,
        "ws_url": anvil.ws_url,
        "required_confirmations": confirmations,
        "xpub": ABANDON_ETH_XPUB,
        "assets": assets,
    }
    if http:
        chain["http_url"] = anvil.http_url
    config["chains"] = [chain]
    config["rates"]["fixed"] = fixed
    return config


def create(
    daemon: Daemon,
    amount: str,
    currency: str = "ETH",
    *,
    expires: int = 600,
    confirmations: int = 0,
    assets: tuple[str, ...] = (),
) -> pb.Invoice:
    return daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(
            amount=amount,
            currency=currency,
            accepted_assets=list(assets),
            expires_in_seconds=expires,
            required_confirmations=confirmations,
        ),
        timeout=10,
    )


def due(invoice: pb.Invoice, asset: str = "ETH") -> tuple[str, int]:
    """(address, amount due in base units) of the invoice's option for `asset`."""
    option = next(o for o in invoice.payment_options if o.asset == asset)
    decimals = 18 if asset == "ETH" else 6
    return option.address, parse_amount(option.amount_due, decimals, "amount_due")


def chain_info(daemon: Daemon) -> pb.ChainInfo:
    info = daemon.node.GetInfo(pb.GetInfoRequest(), timeout=10)
    return next(c for c in info.chains if c.name == "anvil")


def wait_processed(daemon: Daemon, height: int, timeout: float = 20.0) -> pb.ChainInfo:
    """Until the daemon has processed the node's block `height`."""
    return wait_for(
        lambda: (c := chain_info(daemon)).processed_height >= height and c,
        timeout,
        f"block {height} processed",
    )


def rpc_error(call: Any) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    raise AssertionError("the call succeeded")
