"""coinvoice-cli as a subprocess against the real daemon process."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.cli import ENV, cli, ok
from tests.support.cli import LOCAL_TIME as LOCAL_TIME_PATTERN
from tests.support.daemon import Daemon
from tests.support.util import free_port

LOCAL_TIME = re.compile(LOCAL_TIME_PATTERN)
STEP = 10.0


def create(daemon: Daemon, **fields: Any) -> pb.Invoice:
    """Set-up through the daemon's own stub: quicker than another CLI process."""
    return daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(**fields), timeout=STEP)


class NoOutput(AssertionError):
    pass


class Running:
    """A long-running CLI process whose stdout lines are read with a timeout."""

    def __init__(self, daemon: Daemon, *args: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coinvoice.cli",
                "--server",
                daemon.address,
                "--datadir",
                str(daemon.data_dir),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout: float = STEP) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise NoOutput(f"no output within {timeout}s") from None
        assert line is not None, f"exited {self.proc.wait()}: {self.stderr()}"
        return line

    def event(self, timeout: float = STEP) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.line(timeout))
        return event

    def stop(self, sig: int = signal.SIGINT) -> tuple[int, str]:
        self.proc.send_signal(sig)
        return self.proc.wait(STEP), self.stderr()

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(STEP)


@pytest.fixture
def running() -> Any:
    started: list[Running] = []

    def start(daemon: Daemon, *args: str) -> Running:
        started.append(Running(daemon, *args))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


def test_create_and_get_human_and_json(daemon: Daemon) -> None:
    out = ok(
        daemon,
        "create",
        "--amount",
        "19.99",
        "--currency",
        "USD",
        "--tracking-id",
        "order-7",
        "--label",
        "Blue mug",
        "--meta",
        "sku=42",
        "--expires-in",
        "15m",
    )
    invoice_id = re.search(r"^id\s+(inv_\w+)$", out, re.M)
    assert invoice_id, out
    assert re.search(r"^status\s+new$", out, re.M)
    assert re.search(r"^amount\s+19\.99 USD$", out, re.M)
    assert re.search(r"^meta sku\s+42$", out, re.M)
    assert re.search(r"^created at\s+" + LOCAL_TIME.pattern + "$", out, re.M)
    # The payment options table: one row per configured asset, with address, due and rate.
    assert re.search(r"^ETH\s+anvil\s+0x[0-9a-fA-F]{40}\s+0\.\d+\s+3000 USD\s+2$", out, re.M)
    assert re.search(r"^BTC\s+regtest\s+bcrt1\w+\s+0\.\d{8}\s+60000 USD\s+1$", out, re.M)

    shown = ok(daemon, "get", invoice_id.group(1))
    assert "19.99 USD" in shown and "Blue mug" in shown

    # Global options are accepted after the command as well.
    as_json = json.loads(ok(daemon, "get", "--tracking-id", "order-7", "--json"))
    assert as_json["id"] == invoice_id.group(1)
    assert as_json["amount"] == "19.99"
    assert as_json["status"] == "INVOICE_STATUS_NEW"
    assert as_json["metadata"] == {"sku": "42"}
    assert as_json["payments"] == []  # empty fields are present, not dropped
    assert {o["asset"] for o in as_json["payment_options"]} == {"ETH", "BTC"}


def test_list_table_and_pages(daemon: Daemon) -> None:
    older = create(daemon, amount="5", currency="USD", tracking_id="a-1")
    newer = create(daemon, amount="0.5", currency="ETH")
    daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=older.id), timeout=STEP)

    lines = ok(daemon, "list").splitlines()
    assert lines[0].split() == ["ID", "STATUS", "AMOUNT", "PAID", "TRACKING", "ID", "CREATED", "AT"]
    assert lines[1].startswith(newer.id) and " new " in lines[1] and "0.5 ETH" in lines[1]
    assert lines[2].startswith(older.id) and " cancelled " in lines[2] and "a-1" in lines[2]
    assert LOCAL_TIME.search(lines[2])

    first = json.loads(ok(daemon, "--json", "list", "--limit", "1"))
    assert [i["id"] for i in first["invoices"]] == [newer.id]
    assert first["next_page_token"]
    rest = json.loads(ok(daemon, "--json", "list", "--page-token", first["next_page_token"]))
    assert [i["id"] for i in rest["invoices"]] == [older.id]

    everything = json.loads(ok(daemon, "--json", "list", "--all", "--limit", "1"))
    assert [i["id"] for i in everything["invoices"]] == [newer.id, older.id]

    only_cancelled = json.loads(ok(daemon, "--json", "list", "--status", "CANCELLED"))
    assert [i["id"] for i in only_cancelled["invoices"]] == [older.id]
    assert ok(daemon, "list", "--created-after", "2999-01-01").strip() == "no invoices"


def test_update_cancel_resolve(daemon: Daemon) -> None:
    invoice = create(daemon, amount="10", currency="USD", metadata={"a": "1"})
    out = ok(daemon, "update", invoice.id, "--label", "renamed", "--amount", "12.50")
    assert re.search(r"^label\s+renamed$", out, re.M)
    assert re.search(r"^amount\s+12\.5 USD$", out, re.M)
    assert re.search(r"^meta a\s+1$", out, re.M)  # not named, so unchanged

    cleared = json.loads(ok(daemon, "update", invoice.id, "--clear-meta", "--json"))
    assert cleared["metadata"] == {}
    assert cleared["label"] == "renamed"

    refused = cli(daemon, "resolve", invoice.id, "accept")
    assert refused.returncode == 5
    assert refused.stderr.startswith("error: FAILED_PRECONDITION: ")

    assert re.search(r"^status\s+cancelled$", ok(daemon, "cancel", invoice.id), re.M)


def test_errors_and_exit_codes(daemon: Daemon) -> None:
    missing = cli(daemon, "get", "inv_aaaaaaaaaaaaaaaa")
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: NOT_FOUND: ")
    assert "inv_aaaaaaaaaaaaaaaa" in missing.stderr
    assert missing.stdout == ""

    bad = cli(daemon, "create", "--amount", "1e3", "--currency", "USD")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: INVALID_ARGUMENT: amount")

    create(daemon, amount="1", currency="USD", tracking_id="taken")
    dup = cli(daemon, "create", "--amount", "1", "--currency", "USD", "--tracking-id", "taken")
    assert (dup.returncode, dup.stderr.split(":")[:2]) == (4, ["error", " ALREADY_EXISTS"])

    down = cli(f"127.0.0.1:{free_port()}", "info")
    assert down.returncode == 6
    assert down.stderr.startswith("error: UNAVAILABLE: ")

    # Usage errors are found before any call and have their own code.
    usage_errors = [
        ["list", "--status", "bogus"],
        ["get"],
        ["update", "inv_aaaaaaaaaaaaaaaa"],
        ["create", "--meta", "novalue"],
        ["frobnicate"],
    ]
    for args in usage_errors:
        usage = cli(daemon, *args)
        assert usage.returncode == 64, (args, usage.stderr)
        assert "usage:" in usage.stderr


def test_watch_json_replays_then_follows_and_resumes(daemon: Daemon, running: Any) -> None:
    first = create(daemon, amount="1", currency="USD")

    watch = running(daemon, "watch", "--after", "0", "--json")
    replayed = watch.event()
    assert (replayed["sequence"], replayed["type"]) == (1, "INVOICE_CREATED")
    assert replayed["invoice"]["id"] == first.id
    second = create(daemon, amount="2", currency="USD")  # the stream is open: arrives live
    live = watch.event()
    assert (live["sequence"], live["invoice"]["id"]) == (2, second.id)
    code, stderr = watch.stop(signal.SIGINT)
    assert code == 0
    assert "last sequence: 2" in stderr

    # Resuming after 1 gives exactly what came after it; SIGTERM ends a watch cleanly too.
    resumed = running(daemon, "--json", "watch", "--after", "1")
    assert resumed.event()["sequence"] == 2
    daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=first.id), timeout=STEP)
    cancelled = resumed.event()
    assert (cancelled["sequence"], cancelled["type"]) == (3, "INVOICE_CANCELLED")
    assert resumed.stop(signal.SIGTERM)[0] == 0

    # Human form, filtered to one invoice: one line per event.
    human = running(daemon, "watch", "--after", "0", "--invoice", first.id)
    line = human.line()
    assert re.match(rf"#1  {LOCAL_TIME.pattern}  invoice created\s+{first.id}  new  ", line)
    assert "paid 0/1 USD" in line
    assert re.match(rf"#3  .*  invoice cancelled\s+{first.id}  cancelled  ", human.line())
    assert human.stop()[0] == 0


def test_watch_without_after_starts_from_now(daemon: Daemon, running: Any) -> None:
    create(daemon, amount="1", currency="USD")
    watch = running(daemon, "watch", "--json")
    # The watcher's start is not observable from here, so keep making events until one
    # shows up; whichever does, the event from before the start never may.
    for attempt in range(40):
        create(daemon, amount="1", currency="USD", label=f"attempt {attempt}")
        try:
            event = watch.event(timeout=0.5)
            break
        except NoOutput:
            continue
    else:
        raise AssertionError("watch printed nothing")
    assert event["sequence"] > 1


def test_watch_exits_unavailable_when_the_daemon_stops(daemon: Daemon, running: Any) -> None:
    create(daemon, amount="1", currency="USD")
    watch = running(daemon, "watch", "--after", "0")
    assert watch.line().startswith("#1 ")
    assert daemon.stop() == 0
    assert watch.proc.wait(STEP) == 6
    stderr = watch.stderr()
    assert stderr.startswith("error: UNAVAILABLE: ")
    assert "watch --after 1" in stderr
