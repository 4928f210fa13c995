"""The InvoiceService and NodeService over real gRPC against the real daemon process."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.support.daemon import Daemon
from tests.support.util import wait_for


def create(daemon: Daemon, **fields: object) -> pb.Invoice:
    fields.setdefault("amount", "0.5")
    fields.setdefault("currency", "ETH")
    return daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(**fields))


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def test_create_asset_invoice(daemon: Daemon) -> None:
    invoice = create(daemon, label="coffee", metadata={"order": "42"})
    assert invoice.id.startswith("inv_")
    assert invoice.status == pb.INVOICE_STATUS_NEW
    assert (invoice.amount, invoice.currency, invoice.paid_amount) == ("0.5", "ETH", "0")
    [option] = invoice.payment_options
    assert (option.asset, option.chain, option.amount_due, option.rate) == (
        "ETH",
        "anvil",
        "0.5",
        "1",
    )
    # The first invoice gets m/44'/60'/0'/0/0 of the test mnemonic.
    assert option.address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert option.payment_uri == (
        "ethereum:0x9858EfFD232B4033E47d90003D41EC34EcaEda94@31337?value=500000000000000000"
    )
    assert option.required_confirmations == 2
    assert invoice.metadata == {"order": "42"}
    assert invoice.expires_at.seconds - invoice.created_at.seconds == 900


def test_fiat_invoice_locks_rates_for_all_assets(daemon: Daemon) -> None:
    invoice = create(daemon, amount="19.99", currency="USD")
    options = {o.asset: o for o in invoice.payment_options}
    assert set(options) == {"ETH", "BTC"}
    assert options["ETH"].rate == "3000"
    assert options["ETH"].amount_due == "0.006663333333333334"  # rounded up, never short
    assert options["BTC"].amount_due == "0.00033317"
    assert options["BTC"].payment_uri.startswith("bitcoin:bcrt1q")
    assert options["BTC"].payment_uri.endswith("?amount=0.00033317")


def test_addresses_are_unique_per_invoice(daemon: Daemon) -> None:
    addresses = {create(daemon).payment_options[0].address for _ in range(5)}
    assert len(addresses) == 5


def test_open_amount_invoice(daemon: Daemon) -> None:
    invoice = create(daemon, amount="", currency="")
    assert invoice.amount == "" and invoice.currency == ""
    assert {o.asset for o in invoice.payment_options} == {"ETH", "BTC"}
    assert all(o.amount_due == "" and o.rate == "" for o in invoice.payment_options)


def test_request_id_makes_create_idempotent(daemon: Daemon) -> None:
    first = create(daemon, request_id="req-1")
    again = create(daemon, request_id="req-1", amount="7")
    assert again.id == first.id and again.amount == "0.5"
    listed = daemon.invoices.ListInvoices(pb.ListInvoicesRequest()).invoices
    assert [i.id for i in listed] == [first.id]


def test_concurrent_retries_with_one_request_id_create_one_invoice(daemon: Daemon) -> None:
    results: list[str] = []

    def call() -> None:
        results.append(create(daemon, request_id="same").id)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8


def test_duplicate_tracking_id(daemon: Daemon) -> None:
    first = create(daemon, tracking_id="order-1")
    err = rpc_error(lambda: create(daemon, tracking_id="order-1"))
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "order-1" in err.details()
    got = daemon.invoices.GetInvoice(pb.GetInvoiceRequest(tracking_id="order-1"))
    assert got.id == first.id


def test_get_unknown_and_bad_ids(daemon: Daemon) -> None:
    err = rpc_error(
        lambda: daemon.invoices.GetInvoice(pb.GetInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa"))
    )
    assert err.code() == grpc.StatusCode.NOT_FOUND
    err = rpc_error(lambda: daemon.invoices.GetInvoice(pb.GetInvoiceRequest(id="nope")))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "id" in err.details()
    err = rpc_error(lambda: daemon.invoices.GetInvoice(pb.GetInvoiceRequest()))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_paginates_newest_first_with_filters(daemon: Daemon) -> None:
    ids = [create(daemon, tracking_id=f"t{i}").id for i in range(7)]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        reply = daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=3, page_token=token))
        seen += [i.id for i in reply.invoices]
        pages += 1
        token = reply.next_page_token
        if not token:
            break
    assert seen == list(reversed(ids)) and pages == 3
    cancelled = daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=ids[2]))
    assert cancelled.status == pb.INVOICE_STATUS_CANCELLED
    only = daemon.invoices.ListInvoices(
        pb.ListInvoicesRequest(statuses=[pb.INVOICE_STATUS_CANCELLED])
    ).invoices
    assert [i.id for i in only] == [ids[2]]
    by_tracking = daemon.invoices.ListInvoices(pb.ListInvoicesRequest(tracking_id="t4"))
    assert [i.id for i in by_tracking.invoices] == [ids[4]]
    future = Timestamp(seconds=int(time.time()) + 3600)
    assert not daemon.invoices.ListInvoices(pb.ListInvoicesRequest(created_after=future)).invoices
    # A token only works with the filters it was issued for.
    token = daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=1)).next_page_token
    err = rpc_error(
        lambda: daemon.invoices.ListInvoices(
            pb.ListInvoicesRequest(page_size=1, page_token=token, tracking_id="t1")
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "page_token" in err.details()


def test_update_fields_and_rules(daemon: Daemon) -> None:
    invoice = create(daemon, amount="10", currency="USD", accepted_assets=["ETH"])
    updated = daemon.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(
            id=invoice.id,
            update_mask=["label", "metadata", "amount", "expires_in_seconds"],
            label="new label",
            metadata={"k": "v"},
            amount="30",
            expires_in_seconds=60,
        )
    )
    assert updated.label == "new label" and updated.metadata == {"k": "v"}
    assert updated.amount == "30"
    assert updated.payment_options[0].amount_due == "0.01"  # at the rate locked at creation
    assert updated.expires_at.seconds - updated.updated_at.seconds == 60
    # A field not in the mask is left alone.
    again = daemon.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(
            id=invoice.id, update_mask=["tracking_id"], tracking_id="x-1", label="ignored"
        )
    )
    assert again.label == "new label" and again.tracking_id == "x-1"
    err = rpc_error(
        lambda: daemon.invoices.UpdateInvoice(
            pb.UpdateInvoiceRequest(id=invoice.id, update_mask=["status"])
        )
    )
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "update_mask" in err.details()
    daemon.invoices.CancelInvoice(pb.CancelInvoiceRequest(id=invoice.id))
    err = rpc_error(
        lambda: daemon.invoices.UpdateInvoice(
            pb.UpdateInvoiceRequest(id=invoice.id, update_mask=["amount"], amount="5")
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_resolve_requires_unresolved(daemon: Daemon) -> None:
    invoice = create(daemon)
    err = rpc_error(
        lambda: daemon.invoices.ResolveInvoice(
            pb.ResolveInvoiceRequest(id=invoice.id, resolution=pb.RESOLUTION_ACCEPT)
        )
    )
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    err = rpc_error(lambda: daemon.invoices.ResolveInvoice(pb.ResolveInvoiceRequest(id=invoice.id)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT and "resolution" in err.details()


def test_expiry_fires_and_streams(daemon: Daemon) -> None:
    invoice = create(daemon, expires_in_seconds=1)
    stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest(invoice_id=invoice.id))
    try:
        types = [next(stream).type, next(stream).type]
    finally:
        stream.cancel()
    assert types == [pb.INVOICE_CREATED, pb.INVOICE_EXPIRED]
    got = daemon.invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
    assert got.status == pb.INVOICE_STATUS_EXPIRED


def test_stream_replays_then_continues_live_without_gap_or_duplicate(daemon: Daemon) -> None:
    before = [create(daemon).id for _ in range(3)]
    received: list[pb.InvoiceEvent] = []
    stream = daemon.invoices.StreamEvents(pb.StreamEventsRequest(after_sequence=1))

    def consume() -> None:
        try:
            for event in stream:
                received.append(event)
        except grpc.RpcError:
            pass

    reader = threading.Thread(target=consume)
    reader.start()
    after = [create(daemon).id for _ in range(20)]
    wait_for(lambda: len(received) >= 22, 10, "22 events")
    stream.cancel()
    reader.join(5)
    sequences = [e.sequence for e in received]
    assert sequences == list(range(2, 24))
    assert [e.invoice.id for e in received] == before[1:] + after
    assert all(e.type == pb.INVOICE_CREATED for e in received)


def test_get_info(daemon: Daemon) -> None:
    create(daemon)
    info = daemon.node.GetInfo(pb.GetInfoRequest())
    assert info.profile == "test" and info.version
    assert [c.name for c in info.chains] == ["anvil", "regtest"]
    assert list(info.chains[0].assets) == ["ETH"]
    assert info.last_event_sequence == 1


def test_reflection_lists_services(daemon: Daemon) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(daemon.channel())
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    names = {s.name for s in next(replies).list_services_response.service}
    assert {
        "coinvoice.v1.InvoiceService",
        "coinvoice.v1.NodeService",
        "grpc.health.v1.Health",
    } <= names
