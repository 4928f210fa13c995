"""Callback URL checks with `allow_private_addresses = false` (the default): API users
cannot point the daemon at loopback, private or reserved addresses, or at non-HTTP
schemes; refused requests write nothing. Host names are checked again when resolved."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import aiohttp
import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.webhooks.urls import BlockedDestination, GuardedResolver, check_url

from tests.support.daemon import Daemon
from tests.support.util import wait_for

from .conftest import STEP, Receiver, create, daemon_config, deliveries

REFUSED = [
    "http://127.0.0.1:8080/hook",
    "http://127.1/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
    "http://0x7f000001/hook",
    "http://0/hook",
    "http://localhost/hook",
    "http://LOCALHOST./hook",
    "http://api.localhost/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.1/hook",
    "http://192.168.1.1/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://user:pass@127.0.0.1/hook",
    "http://example.com@127.0.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "gopher://example.com/",
    "javascript:alert(1)",
    "example.com/hook",
    "http:///hook",
    "http://example.com:0/hook",
    "http://example.com:99999/hook",
    "http://exa mple.com/hook",
    "http://example.com/\nhook",
    "https://example.com/" + "a" * 2100,
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Daemon]:
    workdir = tmp_path_factory.mktemp("guarded")
    config = daemon_config(
        workdir,
        allow_private_addresses=False,
        default_url=f"http://localhost:{receiver.port}/trusted",
    )
    daemon = Daemon(workdir, config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def written(daemon: Daemon) -> tuple[int, int]:
    info = daemon.node.GetInfo(pb.GetInfoRequest())
    count = len(daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=1000)).invoices)
    return info.last_event_sequence, count


@pytest.mark.parametrize("url", REFUSED)
def test_create_refuses(guarded: Daemon, url: str) -> None:
    before = written(guarded)
    with pytest.raises(grpc.RpcError) as info:
        create(guarded, url)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "callback_url" in (info.value.details() or "")
    assert written(guarded) == before


@pytest.mark.parametrize("url", REFUSED[:8] + REFUSED[20:24])
def test_update_refuses(guarded: Daemon, url: str) -> None:
    invoice = create(guarded, "https://merchant.example/hook")
    before = written(guarded)
    with pytest.raises(grpc.RpcError) as info:
        guarded.invoices.UpdateInvoice(
            pb.UpdateInvoiceRequest(id=invoice.id, update_mask=["callback_url"], callback_url=url)
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "callback_url" in (info.value.details() or "")
    assert written(guarded) == before
    shown = guarded.invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
    assert shown.callback_url == "https://merchant.example/hook"


@pytest.mark.parametrize("secret", ["short", "x" * 257, "sixteen-chars-ok\n"])
def test_bad_secret_refused(guarded: Daemon, secret: str) -> None:
    before = written(guarded)
    with pytest.raises(grpc.RpcError) as info:
        create(guarded, "https://merchant.example/hook", callback_secret=secret)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "callback_secret" in (info.value.details() or "")
    assert written(guarded) == before


@pytest.mark.parametrize(
    "url",
    [
        "https://merchant.example/coinvoice?token=abc",
        "http://93.184.216.34:8080/hook",
        "https://[2606:4700:4700::1111]/hook",
        "HTTPS://Merchant.Example/Hook",
    ],
)
def test_public_urls_accepted(guarded: Daemon, url: str) -> None:
    assert create(guarded, url).callback_url == url


def test_host_name_resolving_to_loopback_is_blocked_at_delivery(
    guarded: Daemon, receiver: Receiver
) -> None:
    # This machine's own host name passes the URL check (it is not an address) but
    # resolves to a non-public address: the resolver refuses to connect.
    host = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(host, receiver.port)}
    if not addresses or any(not check_is_private(a) for a in addresses):
        pytest.skip(f"{host} does not resolve to private addresses only ({addresses})")
    url = f"http://{host}:{receiver.port}/ssrf"
    invoice = create(guarded, url)

    def attempted() -> pb.CallbackDelivery | None:
        [row] = deliveries(guarded, invoice.id)
        return row if row.attempts else None

    row = wait_for(attempted, STEP, "a refused attempt")
    assert "non-public" in row.last_error
    assert row.last_status_code == 0
    assert receiver.received("ssrf") == []


def check_is_private(address: str) -> bool:
    try:
        check_url("u", f"http://{address if ':' not in address else f'[{address}]'}/", False)
    except Exception:
        return True
    return False


async def test_guarded_resolver_and_session() -> None:
    resolver = GuardedResolver()
    with pytest.raises(BlockedDestination):
        await resolver.resolve("localhost", 80)
    await resolver.close()
    connector = aiohttp.TCPConnector(resolver=GuardedResolver())
    async with aiohttp.ClientSession(connector=connector) as session:
        with pytest.raises(aiohttp.ClientError) as info:
            await session.post("http://localhost:9/hook", data=b"{}")
        assert "non-public" in str(info.value)


def test_operator_default_url_is_trusted(guarded: Daemon, receiver: Receiver) -> None:
    # The operator's own default URL may be a local backend; only API users' URLs are
    # restricted.
    invoice = create(guarded)
    [request] = receiver.wait_answered("trusted", 1)
    assert request.json["invoice"]["id"] == invoice.id


def test_stored_private_url_is_blocked_once_not_allowed(
    make_daemon: Callable[..., Daemon], receiver: Receiver
) -> None:
    # Accepted while private addresses were allowed; the operator then turns that off.
    daemon = make_daemon(backoff_initial_ms=1500)
    receiver.program("was-allowed", 500)
    invoice = create(daemon, receiver.url("was-allowed"))
    wait_for(lambda: deliveries(daemon, invoice.id)[0].attempts == 1, STEP, "first attempt")
    daemon.stop()
    daemon.config["callbacks"]["allow_private_addresses"] = False
    daemon.start()

    def second() -> pb.CallbackDelivery | None:
        [row] = deliveries(daemon, invoice.id)
        return row if row.attempts == 2 else None

    row = wait_for(second, STEP, "the second attempt")
    assert row.last_error.startswith("BlockedDestination"), row.last_error
    assert len(receiver.received("was-allowed")) == 1
