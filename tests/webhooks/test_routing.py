"""Where events go: the configured default URL and secret, per-invoice overrides, the
event-type filter, URL changes, and RedeliverCallback."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon

from .conftest import Receiver, create, daemon_config, deliveries, relabel, wait_settled
from .test_signing import independent_verify

DEFAULT_SECRET = "default-secret-0123456789"
OWN_SECRET = "own-secret-abcdefghijklmnop"


@pytest.fixture(scope="module")
def filtered(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Daemon]:
    """Default URL and secret in config; only created/cancelled/paid events are sent."""
    workdir = tmp_path_factory.mktemp("filtered")
    config = daemon_config(
        workdir,
        default_url=receiver.url("default"),
        default_secret=DEFAULT_SECRET,
        events=["INVOICE_CREATED", "INVOICE_CANCELLED", "INVOICE_PAID"],
    )
    daemon = Daemon(workdir, config).start()
    try:
        yield daemon
    finally:
        daemon.stop()


def cancel(daemon: Daemon, invoice_id: str) -> None:
    daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=invoice_id))


def test_default_url_and_secret(filtered: Daemon, receiver: Receiver) -> None:
    invoice = create(filtered)
    relabel(filtered, invoice.id, "not sent: INVOICE_UPDATED is filtered out")
    cancel(filtered, invoice.id)
    rows = wait_settled(filtered, invoice.id, 2)
    assert [r.event_type for r in rows] == [pb.INVOICE_CREATED, pb.INVOICE_CANCELLED]
    assert {r.url for r in rows} == {receiver.url("default")}
    mine = [r for r in receiver.received("default") if r.json["invoice"]["id"] == invoice.id]
    assert [r.json["type"] for r in mine] == ["INVOICE_CREATED", "INVOICE_CANCELLED"]
    for request in mine:
        assert independent_verify(
            DEFAULT_SECRET, request.headers["Coinvoice-Signature"], request.body
        )
    # The secret is not shown, the default URL is not copied into the invoice.
    shown = filtered.invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
    assert "secret" not in str(shown)


def test_own_url_and_secret_override_defaults(filtered: Daemon, receiver: Receiver) -> None:
    invoice = create(filtered, receiver.url("own"), callback_secret=OWN_SECRET)
    cancel(filtered, invoice.id)
    rows = wait_settled(filtered, invoice.id, 2)
    assert {r.url for r in rows} == {receiver.url("own")}
    requests = receiver.answered("own")
    assert [r.json["type"] for r in requests] == ["INVOICE_CREATED", "INVOICE_CANCELLED"]
    for request in requests:
        assert independent_verify(OWN_SECRET, request.headers["Coinvoice-Signature"], request.body)
    assert not [r for r in receiver.received("default") if r.json["invoice"]["id"] == invoice.id]


def test_own_url_without_secret_is_signed_with_default(
    filtered: Daemon, receiver: Receiver
) -> None:
    invoice = create(filtered, receiver.url("own-unsigned"))
    [request] = receiver.wait_answered("own-unsigned", 1)
    assert request.json["invoice"]["id"] == invoice.id
    assert independent_verify(DEFAULT_SECRET, request.headers["Coinvoice-Signature"], request.body)


def test_url_changed_by_update(filtered: Daemon, receiver: Receiver) -> None:
    invoice = create(filtered, receiver.url("before"))
    receiver.wait_answered("before", 1)
    filtered.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(
            id=invoice.id, update_mask=["callback_url"], callback_url=receiver.url("after")
        )
    )
    cancel(filtered, invoice.id)
    [cancelled] = receiver.wait_answered("after", 1)
    assert cancelled.json["type"] == "INVOICE_CANCELLED"
    assert cancelled.json["invoice"]["callback_url"] == receiver.url("after")
    # Clearing it falls back to the default URL.
    other = create(filtered, receiver.url("before"))
    filtered.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(id=other.id, update_mask=["callback_url"], callback_url="")
    )
    cancel(filtered, other.id)
    rows = wait_settled(filtered, other.id, 2)
    assert [r.url for r in rows] == [receiver.url("before"), receiver.url("default")]


def test_redeliver(filtered: Daemon, receiver: Receiver) -> None:
    receiver.program("redeliver", 410)  # the receiver refuses it at first: given up at once
    invoice = create(filtered, receiver.url("redeliver"))
    [failed] = wait_settled(filtered, invoice.id, 1)
    assert failed.state == pb.CALLBACK_STATE_FAILED

    receiver.program("redeliver", 200)
    again = filtered.invoices.RedeliverCallback(pb.RedeliverCallbackRequest(delivery_id=failed.id))
    assert again.id != failed.id and again.id.startswith("dlv_")
    assert (again.event_sequence, again.event_type, again.url, again.invoice_id) == (
        failed.event_sequence,
        failed.event_type,
        failed.url,
        invoice.id,
    )
    assert again.state == pb.CALLBACK_STATE_PENDING and again.attempts == 0

    rows = wait_settled(filtered, invoice.id, 2)
    assert [(r.id, r.state) for r in rows] == [
        (failed.id, pb.CALLBACK_STATE_FAILED),
        (again.id, pb.CALLBACK_STATE_DELIVERED),
    ]
    first, second = receiver.received("redeliver")
    assert (first.answered, second.answered) == (410, 200)
    # Same event, new delivery id (in header and body).
    assert first.json["sequence"] == second.json["sequence"]
    assert second.delivery_id == second.json["delivery_id"] == again.id

    # A delivered one can be sent again as well.
    filtered.invoices.RedeliverCallback(pb.RedeliverCallbackRequest(delivery_id=again.id))
    assert len(wait_settled(filtered, invoice.id, 3)) == 3
    assert len(receiver.answered("redeliver")) == 2


@pytest.mark.parametrize(
    ("delivery_id", "code"),
    [
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("inv_aaaaaaaaaaaaaaaa", grpc.StatusCode.INVALID_ARGUMENT),
        ("dlv_" + "a" * 200, grpc.StatusCode.INVALID_ARGUMENT),
        ("dlv_aaaaaaaaaaaaaaaa", grpc.StatusCode.NOT_FOUND),
    ],
)
def test_redeliver_errors(filtered: Daemon, delivery_id: str, code: grpc.StatusCode) -> None:
    before = filtered.node.GetInfo(pb.GetInfoRequest()).last_event_sequence
    with pytest.raises(grpc.RpcError) as info:
        filtered.invoices.RedeliverCallback(pb.RedeliverCallbackRequest(delivery_id=delivery_id))
    assert info.value.code() == code
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        assert "delivery_id" in (info.value.details() or "")
    assert filtered.node.GetInfo(pb.GetInfoRequest()).last_event_sequence == before


def test_no_url_anywhere_means_no_deliveries(shared_daemon: Daemon) -> None:
    invoice = create(shared_daemon)
    relabel(shared_daemon, invoice.id, "x")
    assert deliveries(shared_daemon, invoice.id) == []
