"""coinvoice.Client against the real daemon process over real gRPC."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal

import grpc
import pytest
from coinvoice import Client, CoinvoiceError
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon

# Generous for a loaded CI machine; events normally arrive in milliseconds.
STEP = 10.0


async def next_event(events: AsyncIterator[pb.InvoiceEvent]) -> pb.InvoiceEvent:
    return await asyncio.wait_for(anext(events), STEP)


async def test_create_and_get(daemon: Daemon) -> None:
    async with Client(
        daemon.address, api_key=daemon.admin_key, metadata={"x-request-source": "tests"}
    ) as client:
        invoice = await client.create_invoice(
            amount=Decimal("25.00"),
            currency="USD",
            accepted_assets=["ETH"],
            tracking_id="order-1",
            label="Blue mug",
            metadata={"sku": "42"},
        )
        assert invoice.id.startswith("inv_")
        assert invoice.status == pb.INVOICE_STATUS_NEW
        assert Decimal(invoice.amount) == Decimal("25")
        assert invoice.currency == "USD"
        assert [(o.asset, o.rate) for o in invoice.payment_options] == [("ETH", "3000")]
        assert dict(invoice.metadata) == {"sku": "42"}

        assert await client.get_invoice(invoice.id) == invoice
        assert (await client.get_invoice(tracking_id="order-1")).id == invoice.id

        # Exponent-form Decimals go out as plain digits, which is all the API accepts.
        tens = await client.create_invoice(amount=Decimal("1E+1"), currency="USD")
        assert tens.amount == "10"

        open_amount = await client.create_invoice()
        assert open_amount.amount == ""
        assert {o.asset for o in open_amount.payment_options} == {"ETH", "BTC"}


async def test_request_id_makes_create_idempotent(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        first = await client.create_invoice(amount="1", currency="USD", request_id="req-1")
        again = await client.create_invoice(amount="1", currency="USD", request_id="req-1")
        assert again.id == first.id
        assert len((await client.list_invoices()).invoices) == 1


async def test_errors_carry_code_and_details(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        with pytest.raises(CoinvoiceError) as missing:
            await client.get_invoice("inv_aaaaaaaaaaaaaaaa")
        assert missing.value.code is grpc.StatusCode.NOT_FOUND
        assert "inv_aaaaaaaaaaaaaaaa" in missing.value.details
        assert str(missing.value).startswith("NOT_FOUND: ")

        with pytest.raises(CoinvoiceError) as bad:
            await client.create_invoice(amount="-1", currency="USD")
        assert bad.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert "amount" in bad.value.details

        await client.create_invoice(amount="1", currency="USD", tracking_id="dup")
        with pytest.raises(CoinvoiceError) as dup:
            await client.create_invoice(amount="2", currency="USD", tracking_id="dup")
        assert dup.value.code is grpc.StatusCode.ALREADY_EXISTS


async def test_unreachable_daemon_is_unavailable() -> None:
    from tests.support.util import free_port

    async with Client(f"127.0.0.1:{free_port()}", timeout=5) as client:
        with pytest.raises(CoinvoiceError) as err:
            await client.get_info()
    assert err.value.code is grpc.StatusCode.UNAVAILABLE


async def test_float_amounts_are_refused_before_sending(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        with pytest.raises(TypeError, match="float"):
            await client.create_invoice(amount=0.1, currency="ETH")  # type: ignore[arg-type]
        # An int is ambiguous with base units (wei, satoshi): refused as well.
        with pytest.raises(TypeError):
            await client.create_invoice(amount=1, currency="ETH")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="finite"):
            await client.create_invoice(amount=Decimal("NaN"), currency="ETH")
        invoice = await client.create_invoice(amount="0.1", currency="ETH")
        with pytest.raises(TypeError):
            await client.update_invoice(invoice.id, amount=0.2)  # type: ignore[arg-type]
        # Nothing but the one string-amount invoice reached the daemon.
        listed = await client.list_invoices()
        assert [i.id for i in listed.invoices] == [invoice.id]
        assert listed.invoices[0].amount == "0.1"


async def test_list_pages_and_filters(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        created = [
            await client.create_invoice(amount=str(n + 1), currency="USD", tracking_id=f"t{n}")
            for n in range(7)
        ]
        newest_first = [i.id for i in reversed(created)]

        page = await client.list_invoices(page_size=3)
        assert [i.id for i in page.invoices] == newest_first[:3]
        assert page.next_page_token
        second = await client.list_invoices(page_size=3, page_token=page.next_page_token)
        assert [i.id for i in second.invoices] == newest_first[3:6]

        assert [i.id async for i in client.iter_invoices(page_size=3)] == newest_first
        # The default page size covers them all in one request: same answer.
        assert [i.id async for i in client.iter_invoices()] == newest_first

        await client.cancel_invoice(created[0].id)
        await client.cancel_invoice(created[1].id)
        cancelled = [i.id async for i in client.iter_invoices(statuses=["cancelled"], page_size=1)]
        assert cancelled == [created[1].id, created[0].id]
        still_new = client.iter_invoices(statuses=[pb.INVOICE_STATUS_NEW, "Processing"])
        assert len([i async for i in still_new]) == 5

        by_tracking = await client.list_invoices(tracking_id="t3")
        assert [i.id for i in by_tracking.invoices] == [created[3].id]

        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        assert not (await client.list_invoices(created_after=later)).invoices
        assert len((await client.list_invoices(created_before=later)).invoices) == 7
        with pytest.raises(ValueError, match="timezone"):
            await client.list_invoices(created_after=dt.datetime(2026, 1, 1))
        with pytest.raises(ValueError, match="status"):
            await client.list_invoices(statuses=["bogus"])


async def test_update_changes_only_the_fields_passed(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        invoice = await client.create_invoice(
            amount="10", currency="USD", label="a", tracking_id="t1", metadata={"x": "1"}
        )

        updated = await client.update_invoice(invoice.id, label="b")
        assert (updated.label, updated.tracking_id, dict(updated.metadata)) == (
            "b",
            "t1",
            {"x": "1"},
        )

        # An empty value is a real change (clears), unlike an argument not passed.
        updated = await client.update_invoice(invoice.id, tracking_id="")
        assert (updated.label, updated.tracking_id) == ("b", "")
        updated = await client.update_invoice(invoice.id, metadata={})
        assert dict(updated.metadata) == {}
        assert updated.label == "b"

        updated = await client.update_invoice(invoice.id, amount=Decimal("30.50"))
        assert Decimal(updated.amount) == Decimal("30.5")
        assert updated.label == "b"

        before = dt.datetime.now(dt.UTC)
        updated = await client.update_invoice(invoice.id, expires_in_seconds=60)
        expires = updated.expires_at.ToDatetime(tzinfo=dt.UTC)
        assert before + dt.timedelta(seconds=55) < expires < before + dt.timedelta(seconds=70)

        with pytest.raises(CoinvoiceError) as empty:
            await client.update_invoice(invoice.id)
        assert empty.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert "update_mask" in empty.value.details


async def test_cancel_and_resolve(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        invoice = await client.create_invoice(amount="5", currency="USD")
        with pytest.raises(CoinvoiceError) as err:
            await client.resolve_invoice(invoice.id, "accept")
        assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(CoinvoiceError) as err:
            await client.resolve_invoice(invoice.id, pb.RESOLUTION_REFUND, note="sent back")
        assert err.value.code is grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(ValueError):
            await client.resolve_invoice(invoice.id, "maybe")

        cancelled = await client.cancel_invoice(invoice.id)
        assert cancelled.status == pb.INVOICE_STATUS_CANCELLED


async def test_get_info(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        info = await client.get_info()
        assert info.version
        assert info.profile == "test"
        assert {c.name: list(c.assets) for c in info.chains} == {
            "anvil": ["ETH"],
            "regtest": ["BTC"],
        }
        await client.create_invoice(amount="1", currency="USD")
        assert (await client.get_info()).last_event_sequence == info.last_event_sequence + 1


async def test_stream_events_live_then_resume_without_duplicates(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        first = await client.create_invoice(amount="1", currency="USD")

        async with contextlib.aclosing(client.stream_events(after_sequence=0)) as events:
            replayed = await next_event(events)
            assert (replayed.type, replayed.invoice.id) == (pb.INVOICE_CREATED, first.id)
            # The stream is open (it delivered): this one can only arrive live.
            second = await client.create_invoice(amount="2", currency="USD")
            live = await next_event(events)
            assert (live.type, live.invoice.id) == (pb.INVOICE_CREATED, second.id)
            assert live.sequence == replayed.sequence + 1

        # A subscriber that processed `replayed` and then went away resumes after it.
        third = await client.create_invoice(amount="3", currency="USD")
        async with contextlib.aclosing(
            client.stream_events(after_sequence=replayed.sequence)
        ) as events:
            resumed = [await next_event(events), await next_event(events)]
            assert [e.invoice.id for e in resumed] == [second.id, third.id]
            assert [e.sequence for e in resumed] == [live.sequence, live.sequence + 1]
            # And nothing else is pending: the next event is the next change, not a repeat.
            await client.cancel_invoice(first.id)
            after = await next_event(events)
            assert (after.type, after.sequence) == (pb.INVOICE_CANCELLED, live.sequence + 2)

        # Filtered by invoice: only that invoice's events, in order.
        async with contextlib.aclosing(client.stream_events(0, invoice_id=first.id)) as events:
            mine = [await next_event(events), await next_event(events)]
            assert [e.type for e in mine] == [pb.INVOICE_CREATED, pb.INVOICE_CANCELLED]
            assert {e.invoice.id for e in mine} == {first.id}


async def test_stream_ends_when_the_daemon_shuts_down(daemon: Daemon) -> None:
    # A clean shutdown ends the stream; the caller reconnects with its last sequence.
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        await client.create_invoice(amount="1", currency="USD")
        events = client.stream_events()
        assert (await next_event(events)).sequence == 1
        stopping = asyncio.get_running_loop().run_in_executor(None, daemon.stop)
        with pytest.raises(StopAsyncIteration):
            await next_event(events)
        assert await stopping == 0


async def test_stream_fails_unavailable_when_the_connection_drops(daemon: Daemon) -> None:
    async with Client(daemon.address, api_key=daemon.admin_key) as client:
        await client.create_invoice(amount="1", currency="USD")
        events = client.stream_events()
        assert (await next_event(events)).sequence == 1
        daemon.kill()
        with pytest.raises(CoinvoiceError) as err:
            await next_event(events)
        assert err.value.code is grpc.StatusCode.UNAVAILABLE
