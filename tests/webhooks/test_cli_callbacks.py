"""coinvoice-cli callbacks / redeliver / rates (and create/update --callback-*), as a
subprocess against the real daemon and a real receiver."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.cli import LOCAL_TIME, cli, ok
from tests.support.daemon import Daemon, base_config
from tests.support.util import free_port, wait_for

from .conftest import STEP, Receiver, Reply, create, daemon_config, deliveries, wait_settled

SECRET = "cli-secret-0123456789"


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """This module's daemon: a held request stays held (20 s timeout) while the slower
    CLI processes look at it."""
    workdir = tmp_path_factory.mktemp("cli")
    daemon = Daemon(workdir, daemon_config(workdir, timeout_seconds=20)).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def as_json(daemon: Daemon, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ok(daemon, *args, "--json"))
    return data


def test_create_and_update_with_callback(shared_daemon: Daemon, receiver: Receiver) -> None:
    url = receiver.url("cli-create")
    out = ok(
        shared_daemon,
        "create",
        "--amount", "0.25",
        "--currency", "ETH",
        "--callback-url", url,
        "--callback-secret", SECRET,
    )  # fmt: skip
    assert re.search(rf"^callback url\s+{re.escape(url)}$", out, re.M), out
    invoice_id = re.search(r"^id\s+(inv_\w+)$", out, re.M)
    assert invoice_id
    [request] = receiver.wait_answered("cli-create", 1)
    assert request.json["invoice"]["id"] == invoice_id.group(1)
    assert "Coinvoice-Signature" in request.headers

    moved = receiver.url("cli-moved")
    shown = as_json(shared_daemon, "update", invoice_id.group(1), "--callback-url", moved)
    assert shown["callback_url"] == moved
    [update] = receiver.wait_answered("cli-moved", 1)
    assert update.json["type"] == "INVOICE_UPDATED"

    usage = cli(shared_daemon, "update", invoice_id.group(1))
    assert usage.returncode == 64 and "--callback-url" in usage.stderr


def test_callbacks_table_and_json(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("cli-table", 500, 200)
    invoice = create(shared_daemon, receiver.url("cli-table"))
    [delivered] = wait_settled(shared_daemon, invoice.id, 1)
    # A second event whose delivery is pending: answered 503, then held.
    receiver.program("cli-table", 503, Reply(200, hold=True))
    shared_daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=invoice.id))
    receiver.wait_requests("cli-table", 4)
    pending = wait_for(
        lambda: (rows := deliveries(shared_daemon, invoice.id)) and rows[1].attempts and rows[1],
        STEP,
        "the failed attempt recorded",
    )

    lines = ok(shared_daemon, "callbacks", invoice.id).splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "ID",
        "SEQ",
        "EVENT",
        "URL",
        "STATE",
        "ATTEMPTS",
        "LAST",
        "NEXT RETRY",
    ]
    first = re.split(r"\s{2,}", lines[1])
    assert first == [
        delivered.id, str(delivered.event_sequence), "invoice created",
        receiver.url("cli-table"), "delivered", "2", "200", "-"]  # fmt: skip
    second = re.split(r"\s{2,}", lines[2])
    assert second[:7] == [
        pending.id, str(pending.event_sequence), "invoice cancelled",
        receiver.url("cli-table"), "pending", "1", "HTTP 503"]  # fmt: skip
    assert re.fullmatch(LOCAL_TIME, second[7])

    data = as_json(shared_daemon, "callbacks", invoice.id)
    rows = data["deliveries"]
    assert [r["id"] for r in rows] == [delivered.id, pending.id]
    assert rows[0]["state"] == "CALLBACK_STATE_DELIVERED"
    assert rows[0]["event_type"] == "INVOICE_CREATED"
    assert (rows[0]["attempts"], rows[0]["last_status_code"]) == (2, 200)
    assert rows[1]["state"] == "CALLBACK_STATE_PENDING"
    assert rows[1]["last_error"] == "HTTP 503" and rows[1]["next_attempt_at"]
    receiver.release("cli-table")
    wait_settled(shared_daemon, invoice.id, 2)


def test_redeliver(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("cli-redeliver", 200)
    invoice = create(shared_daemon, receiver.url("cli-redeliver"))
    [original] = wait_settled(shared_daemon, invoice.id, 1)

    out = ok(shared_daemon, "redeliver", original.id)
    new_id = re.search(r"^id\s+(dlv_\w+)$", out, re.M)
    assert new_id and new_id.group(1) != original.id
    assert re.search(rf"^invoice\s+{invoice.id}$", out, re.M)
    assert re.search(rf"^event\s+#{original.event_sequence} invoice created$", out, re.M)
    assert re.search(r"^state\s+pending$", out, re.M)

    again = as_json(shared_daemon, "redeliver", original.id)
    assert again["state"] == "CALLBACK_STATE_PENDING" and again["attempts"] == 0
    rows = wait_settled(shared_daemon, invoice.id, 3)
    assert [r.id for r in rows][1:] == [new_id.group(1), again["id"]]
    assert len(receiver.answered("cli-redeliver")) == 3


def test_errors_and_empty(shared_daemon: Daemon) -> None:
    bad = cli(shared_daemon, "callbacks", "nope")
    assert bad.returncode == 2 and "INVALID_ARGUMENT" in bad.stderr and "invoice_id" in bad.stderr
    missing = cli(shared_daemon, "callbacks", "inv_aaaaaaaaaaaaaaaa")
    assert missing.returncode == 3 and "NOT_FOUND" in missing.stderr
    assert cli(shared_daemon, "redeliver", "dlv_aaaaaaaaaaaaaaaa").returncode == 3
    malformed = cli(shared_daemon, "redeliver", "x")
    assert malformed.returncode == 2 and "delivery_id" in malformed.stderr
    assert cli(shared_daemon, "redeliver").returncode == 64
    quiet = create(shared_daemon)
    assert ok(shared_daemon, "callbacks", quiet.id).strip() == "no callbacks"
    assert as_json(shared_daemon, "callbacks", quiet.id) == {"deliveries": []}


def test_rates_fixed(shared_daemon: Daemon) -> None:
    lines = ok(shared_daemon, "rates").splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["PAIR", "RATE", "SOURCE", "AGE", "FRESH", "ERROR"]
    rows = {re.split(r"\s{2,}", line)[0]: re.split(r"\s{2,}", line) for line in lines[1:]}
    assert rows["ETH/USD"][1:3] == ["3000 USD", "fixed"]
    assert re.fullmatch(r"\d+s", rows["ETH/USD"][3]) and rows["ETH/USD"][4:] == ["yes", "-"]
    assert rows["ETH/EUR"][1:5] == ["-", "-", "-", "no"]
    assert "no rate configured for ETH/EUR" in rows["ETH/EUR"][5]

    data = as_json(shared_daemon, "rates")
    by_pair = {f"{r['base']}/{r['quote']}": r for r in data["rates"]}
    assert by_pair["BTC/USD"]["value"] == "60000" and by_pair["BTC/USD"]["fresh"] is True
    assert by_pair["BTC/EUR"]["fresh"] is False and by_pair["BTC/EUR"]["value"] == ""


def test_rates_unreachable_provider(tmp_path: Path) -> None:
    config = base_config(tmp_path / "data", 0)
    config["rates"] = {
        "providers": ["coinbase"],
        "pairs": ["ETH/USD"],
        "timeout_seconds": 1,
        "coinbase": {"url": f"http://127.0.0.1:{free_port()}"},
    }
    daemon = Daemon(tmp_path, config).start()
    try:

        def failed() -> str | None:
            out = ok(daemon, "rates")
            return out if "coinbase: ClientConnectorError" in out else None

        out = wait_for(failed, STEP, "the failed fetch to show")
        row = re.split(r"\s{2,}", out.splitlines()[1])
        assert row[:5] == ["ETH/USD", "-", "-", "-", "no"]
        assert row[5].startswith("coinbase: ClientConnectorError")
    finally:
        daemon.stop()
