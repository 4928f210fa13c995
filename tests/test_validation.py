"""Bad input gets INVALID_ARGUMENT (or NOT_FOUND) naming the field, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.daemon import Daemon

BAD_CREATES: list[tuple[dict, str]] = [
    ({"amount": "-1", "currency": "ETH"}, "amount"),
    ({"amount": "0", "currency": "ETH"}, "amount"),
    ({"amount": "0.000", "currency": "ETH"}, "amount"),
    ({"amount": "NaN", "currency": "ETH"}, "amount"),
    ({"amount": "Infinity", "currency": "ETH"}, "amount"),
    ({"amount": "1e18", "currency": "ETH"}, "amount"),
    ({"amount": "1.5E2", "currency": "USD"}, "amount"),
    ({"amount": "0.001", "currency": "USD"}, "amount"),  # USD has 2 decimals
    ({"amount": "0.000000001", "currency": "BTC"}, "amount"),  # BTC has 8
    ({"amount": "9" * 40, "currency": "ETH"}, "amount"),
    ({"amount": " 1", "currency": "ETH"}, "amount"),
    ({"amount": "1", "currency": ""}, "currency"),
    ({"amount": "1", "currency": "DOGE"}, "currency"),
    ({"amount": "1", "currency": "eth"}, "currency"),
    ({"amount": "1", "currency": "ETH", "accepted_assets": ["XRP"]}, "accepted_assets[0]"),
    ({"amount": "1", "currency": "ETH", "accepted_assets": ["ETH", "ETH"]}, "accepted_assets[1]"),
    ({"amount": "1", "currency": "ETH", "label": "x" * 257}, "label"),
    ({"amount": "1", "currency": "ETH", "label": "bell\x07"}, "label"),
    ({"amount": "1", "currency": "ETH", "tracking_id": "t" * 129}, "tracking_id"),
    ({"amount": "1", "currency": "ETH", "tracking_id": "line\nbreak"}, "tracking_id"),
    ({"amount": "1", "currency": "ETH", "request_id": "r" * 129}, "request_id"),
    ({"amount": "1", "currency": "ETH", "expires_in_seconds": 10**9}, "expires_in_seconds"),
    ({"amount": "1", "currency": "ETH", "required_confirmations": 5000}, "required_confirmations"),
    ({"amount": "1", "currency": "ETH", "metadata": {"k": "v" * 1025}}, "metadata"),
    ({"amount": "1", "currency": "ETH", "metadata": {f"k{i}": "v" for i in range(33)}}, "metadata"),
    ({"amount": "1", "currency": "ETH", "metadata": {"": "v"}}, "metadata"),
]


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("validation")).start()
    yield d
    d.stop()


def count_invoices(daemon: Daemon) -> int:
    return len(daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=1000)).invoices)


@pytest.mark.parametrize(("fields", "field_name"), BAD_CREATES)
def test_bad_create_is_rejected_and_writes_nothing(
    shared_daemon: Daemon, fields: dict, field_name: str
) -> None:
    before = count_invoices(shared_daemon)
    last = shared_daemon.node.GetInfo(pb.GetInfoRequest()).last_event_sequence
    with pytest.raises(grpc.RpcError) as info:
        shared_daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(**fields))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith(field_name), info.value.details()
    assert count_invoices(shared_daemon) == before
    assert shared_daemon.node.GetInfo(pb.GetInfoRequest()).last_event_sequence == last


BAD_OTHERS = [
    ("GetInvoice", pb.GetInvoiceRequest(id="inv_!!"), grpc.StatusCode.INVALID_ARGUMENT, "id"),
    (
        "GetInvoice",
        pb.GetInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa", tracking_id="x"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "id",
    ),
    ("GetInvoice", pb.GetInvoiceRequest(tracking_id="missing"), grpc.StatusCode.NOT_FOUND, ""),
    (
        "ListInvoices",
        pb.ListInvoicesRequest(page_size=5000),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_size",
    ),
    (
        "ListInvoices",
        pb.ListInvoicesRequest(page_token="garbage!"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    ),
    (
        "ListInvoices",
        pb.ListInvoicesRequest(page_token="eyJjIjoxfQ"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "page_token",
    ),
    (
        "ListInvoices",
        pb.ListInvoicesRequest(statuses=[42]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "statuses",
    ),
    (
        "UpdateInvoice",
        pb.UpdateInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa", update_mask=["label"]),
        grpc.StatusCode.NOT_FOUND,
        "",
    ),
    (
        "UpdateInvoice",
        pb.UpdateInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "update_mask",
    ),
    ("CancelInvoice", pb.CancelInvoiceRequest(id=""), grpc.StatusCode.INVALID_ARGUMENT, "id"),
    (
        "CancelInvoice",
        pb.CancelInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa"),
        grpc.StatusCode.NOT_FOUND,
        "",
    ),
    (
        "ResolveInvoice",
        pb.ResolveInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa", resolution=9),
        grpc.StatusCode.INVALID_ARGUMENT,
        "resolution",
    ),
]


@pytest.mark.parametrize(("method", "request_", "code", "field_name"), BAD_OTHERS)
def test_bad_requests(shared_daemon: Daemon, method: str, request_, code, field_name: str) -> None:
    with pytest.raises(grpc.RpcError) as info:
        getattr(shared_daemon.invoices, method)(request_)
    assert info.value.code() == code
    assert info.value.details().startswith(field_name)


def test_bad_stream_request(shared_daemon: Daemon) -> None:
    stream = shared_daemon.invoices.StreamEvents(pb.StreamEventsRequest(invoice_id="bogus"))
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invoice_id" in info.value.details()


_text = st.text(max_size=40) | st.sampled_from(["", "ETH", "USD", "BTC", "1", "0.5", "-1"])
_creates = st.builds(
    pb.CreateInvoiceRequest,
    amount=st.one_of(st.from_regex(r"\A[0-9]{0,40}(\.[0-9]{0,20})?\Z"), _text),
    currency=_text,
    accepted_assets=st.lists(_text, max_size=3),
    tracking_id=_text,
    label=st.text(max_size=300),
    expires_in_seconds=st.integers(0, 2**32 - 1),
    required_confirmations=st.integers(0, 2**32 - 1),
    metadata=st.dictionaries(st.text(max_size=70), st.text(max_size=50), max_size=3),
    request_id=_text,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=_creates)
def test_random_creates_never_internal(
    shared_daemon: Daemon,
    request: pb.CreateInvoiceRequest,
) -> None:
    stub = shared_daemon.invoices
    try:
        invoice = stub.CreateInvoice(request, timeout=10)
    except grpc.RpcError as exc:
        assert exc.code() in {
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.ALREADY_EXISTS,
            grpc.StatusCode.UNAVAILABLE,  # no rate for the pair
        }, (exc.code(), exc.details())
        return
    # Whatever was accepted reads back the same and is consistent.
    got = stub.GetInvoice(pb.GetInvoiceRequest(id=invoice.id))
    assert got == invoice
    assert invoice.status == pb.INVOICE_STATUS_NEW
    assert all(o.address for o in invoice.payment_options)


def test_store_consistent_after_fuzzing(shared_daemon: Daemon) -> None:
    """Every invoice has its INVOICE_CREATED event, and event sequences have no gaps."""
    shared_daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(amount="1", currency="ETH"))
    invoices = shared_daemon.invoices.ListInvoices(pb.ListInvoicesRequest(page_size=1000))
    stream = shared_daemon.invoices.StreamEvents(pb.StreamEventsRequest())
    last = shared_daemon.node.GetInfo(pb.GetInfoRequest()).last_event_sequence
    events = []
    for event in stream:
        events.append(event)
        if event.sequence == last:
            break
    stream.cancel()
    assert [e.sequence for e in events] == list(range(1, last + 1))
    created = {e.invoice.id for e in events if e.type == pb.INVOICE_CREATED}
    assert {i.id for i in invoices.invoices} == created
