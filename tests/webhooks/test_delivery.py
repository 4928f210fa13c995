"""Delivery behaviour against a real receiver: retries, timeouts, dropped connections,
slow answers, giving up, per-endpoint order, isolation of endpoints, bounded in-flight.

One daemon for the module (timeout 1 s, backoff from 50 ms, max_retries 4); each test
uses its own receiver paths, so tests do not see each other's deliveries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb

from tests.support.daemon import Daemon
from tests.support.util import wait_for

from .conftest import (
    STEP,
    Receiver,
    Reply,
    create,
    deliveries,
    relabel,
    wait_settled,
)

MAX_RETRIES = 4  # callbacks_config() default


def test_retries_until_success(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("flaky", 500, 500, 200)
    invoice = create(shared_daemon, receiver.url("flaky"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_DELIVERED
    assert (row.attempts, row.last_status_code, row.last_error) == (3, 200, "")
    requests = receiver.received("flaky")
    assert [r.answered for r in requests] == [500, 500, 200]
    # Every attempt is the same delivery with the same bytes (only the signature's
    # timestamp may differ).
    assert {r.delivery_id for r in requests} == {row.id}
    assert len({r.body for r in requests}) == 1
    # Backoff: attempts are spaced (>= half of 50 ms, then of 100 ms, with jitter).
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05, gaps


def test_pending_delivery_shows_error_and_next_attempt(
    shared_daemon: Daemon, receiver: Receiver
) -> None:
    receiver.program("later", 503, Reply(503, hold=True))
    invoice = create(shared_daemon, receiver.url("later"))
    receiver.wait_requests("later", 2)  # the second attempt is being held
    [row] = deliveries(shared_daemon, invoice.id)
    assert row.state == pb.CALLBACK_STATE_PENDING
    assert (row.attempts, row.last_status_code, row.last_error) == (1, 503, "HTTP 503")
    assert row.HasField("next_attempt_at") and not row.HasField("delivered_at")
    receiver.program("later", 200)
    receiver.release("later")
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_DELIVERED
    assert not row.HasField("next_attempt_at")


def test_timeout_then_success(shared_daemon: Daemon, receiver: Receiver) -> None:
    # Answers after 1.6 s, past the daemon's 1 s timeout; then answers at once.
    receiver.program("sleepy", Reply(200, delay=1.6), 200)
    invoice = create(shared_daemon, receiver.url("sleepy"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_DELIVERED
    assert row.attempts == 2
    first, second = receiver.received("sleepy")
    assert first.delivery_id == second.delivery_id == row.id


def test_timeouts_are_recorded(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("hung", Reply(200, hold=True))
    invoice = create(shared_daemon, receiver.url("hung"))
    receiver.wait_requests("hung", 2)  # first attempt timed out, second is held

    def recorded() -> pb.CallbackDelivery | None:
        [row] = deliveries(shared_daemon, invoice.id)
        return row if row.attempts >= 1 else None

    row = wait_for(recorded, STEP, "the timed-out attempt to be recorded")
    assert row.state == pb.CALLBACK_STATE_PENDING
    assert row.last_status_code == 0
    assert "timed out after 1s" in row.last_error
    receiver.release("hung")
    assert wait_settled(shared_daemon, invoice.id, 1)[0].state == pb.CALLBACK_STATE_DELIVERED


def test_connection_closed_by_receiver(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("dropper", Reply(close=True), 200)
    invoice = create(shared_daemon, receiver.url("dropper"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert (row.state, row.attempts) == (pb.CALLBACK_STATE_DELIVERED, 2)
    assert [r.answered for r in receiver.received("dropper")] == [None, 200]


def test_receiver_that_always_drops_is_given_up(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("always-drops", Reply(close=True))
    invoice = create(shared_daemon, receiver.url("always-drops"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_FAILED
    assert row.attempts == MAX_RETRIES + 1
    assert row.last_status_code == 0
    assert "disconnect" in row.last_error.lower() or "closed" in row.last_error.lower()
    assert len(receiver.received("always-drops")) == MAX_RETRIES + 1


def test_slow_receiver_within_timeout(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("slow", Reply(200, delay=0.5))
    invoice = create(shared_daemon, receiver.url("slow"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert (row.state, row.attempts, row.last_status_code) == (pb.CALLBACK_STATE_DELIVERED, 1, 200)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_client_errors_give_up_at_once(
    shared_daemon: Daemon, receiver: Receiver, status: int
) -> None:
    path = f"reject-{status}"
    receiver.program(path, status, 200)
    invoice = create(shared_daemon, receiver.url(path))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_FAILED
    assert (row.attempts, row.last_status_code, row.last_error) == (1, status, f"HTTP {status}")
    assert not row.HasField("next_attempt_at")
    assert len(receiver.received(path)) == 1


@pytest.mark.parametrize("statuses", [(429, 200), (408, 200), (429, 408, 502, 200)])
def test_408_429_and_5xx_are_retried(
    shared_daemon: Daemon, receiver: Receiver, statuses: tuple[int, ...]
) -> None:
    path = "retry-" + "-".join(map(str, statuses))
    receiver.program(path, *statuses)
    invoice = create(shared_daemon, receiver.url(path))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert (row.state, row.attempts) == (pb.CALLBACK_STATE_DELIVERED, len(statuses))


def test_redirect_is_not_followed(shared_daemon: Daemon, receiver: Receiver) -> None:
    # A redirect could point anywhere (an internal address): it counts as a failure.
    receiver.program("moved", 307, 200)
    invoice = create(shared_daemon, receiver.url("moved"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert (row.state, row.attempts) == (pb.CALLBACK_STATE_DELIVERED, 2)


def test_gives_up_after_max_retries(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("down", 500)
    invoice = create(shared_daemon, receiver.url("down"))
    [row] = wait_settled(shared_daemon, invoice.id, 1)
    assert row.state == pb.CALLBACK_STATE_FAILED
    assert (row.attempts, row.last_status_code) == (MAX_RETRIES + 1, 500)
    assert len(receiver.received("down")) == MAX_RETRIES + 1


def test_per_endpoint_order_survives_failures(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("ordered", 500, 500, Reply(close=True), 503, 200)
    first = create(shared_daemon, receiver.url("ordered"))
    second = create(shared_daemon, receiver.url("ordered"))  # same endpoint, other invoice
    for i in range(12):
        relabel(shared_daemon, first.id if i % 3 else second.id, f"label {i}")
    total = 14
    rows = wait_settled(shared_daemon, first.id, 9) + wait_settled(shared_daemon, second.id, 5)
    assert len(rows) == total
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in rows)

    requests = receiver.received("ordered")
    sequences = [r.json["sequence"] for r in requests]
    # Attempts go out in sequence order: a later event never overtakes a retried one...
    assert sequences == sorted(sequences)
    # ... and each event is acknowledged exactly once, in order.
    acknowledged = [r.json["sequence"] for r in requests if r.answered == 200]
    assert acknowledged == sorted(r.event_sequence for r in rows)
    assert [r.json["type"] for r in requests if r.answered == 200][:2] == [
        "INVOICE_CREATED",
        "INVOICE_CREATED",
    ]


def test_dead_endpoint_does_not_delay_others(
    make_daemon: Callable[..., Daemon], receiver: Receiver
) -> None:
    # A long timeout: the dead endpoint's first attempt stays hung for the whole test.
    daemon = make_daemon(timeout_seconds=60)
    receiver.program("dead", Reply(500, hold=True))
    receiver.program("alive", 200)
    dead = create(daemon, receiver.url("dead"))
    [held] = receiver.wait_requests("dead", 1)
    alive = create(daemon, receiver.url("alive"))
    for i in range(5):
        relabel(daemon, alive.id, f"alive {i}")
        relabel(daemon, dead.id, f"dead {i}")
    receiver.wait_answered("alive", 6)
    # All six went through while the dead endpoint's first attempt was still hanging.
    assert held.done is None
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in deliveries(daemon, alive.id))
    dead_rows = deliveries(daemon, dead.id)
    assert len(dead_rows) == 6 and all(r.state == pb.CALLBACK_STATE_PENDING for r in dead_rows)
    # The dead endpoint only ever has its oldest delivery in flight.
    assert {r.json["sequence"] for r in receiver.received("dead")} == {dead_rows[0].event_sequence}
    receiver.program("dead", 200)
    receiver.release("dead")
    assert len(wait_settled(daemon, dead.id, 6)) == 6


def test_in_flight_is_bounded(make_daemon: Callable[..., Daemon], receiver: Receiver) -> None:
    daemon = make_daemon(max_in_flight=3, timeout_seconds=20)
    paths = [f"bounded-{i}" for i in range(10)]
    for path in paths:
        receiver.program(path, Reply(200, hold=True))
    invoices = [create(daemon, receiver.url(path)) for path in paths]

    def held() -> list[str]:
        return [r.path for r in receiver.received() if r.path in paths and r.answered is None]

    wait_for(lambda: len(held()) == 3, STEP, "three held requests")
    # Release held paths one by one; each frees a slot for exactly one more endpoint.
    released: set[str] = set()
    while len(released) < len(paths):
        path = wait_for(
            lambda: next((p for p in held() if p not in released), None),
            STEP,
            "the next held request",
        )
        assert len(held()) <= 3, held()
        released.add(path)
        receiver.release(path)
        wait_for(lambda p=path: receiver.answered(p), STEP, f"/{path} answered")
    for invoice in invoices:
        [row] = wait_settled(daemon, invoice.id, 1)
        assert (row.state, row.attempts) == (pb.CALLBACK_STATE_DELIVERED, 1)
    assert sorted(r.path for r in receiver.received() if r.path in paths) == sorted(paths)
    assert receiver.max_concurrent(paths) == 3


def test_max_retries_zero_means_one_attempt(
    make_daemon: Callable[..., Daemon], receiver: Receiver
) -> None:
    daemon = make_daemon(max_retries=0)
    receiver.program("once", 500, 200)
    invoice = create(daemon, receiver.url("once"))
    [row] = wait_settled(daemon, invoice.id, 1)
    assert (row.state, row.attempts, row.last_status_code) == (pb.CALLBACK_STATE_FAILED, 1, 500)
    assert len(receiver.received("once")) == 1


def test_list_callbacks_errors(shared_daemon: Daemon) -> None:
    with pytest.raises(grpc.RpcError) as bad:
        shared_daemon.invoices.ListCallbacks(pb.ListCallbacksRequest(invoice_id="nope"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "invoice_id" in (bad.value.details() or "")
    with pytest.raises(grpc.RpcError) as missing:
        shared_daemon.invoices.ListCallbacks(
            pb.ListCallbacksRequest(invoice_id="inv_aaaaaaaaaaaaaaaa")
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # An invoice without any callback URL has an empty history.
    assert deliveries(shared_daemon, create(shared_daemon).id) == []


def test_busy_endpoints_get_each_delivery_once(
    make_daemon: Callable[..., Daemon], receiver: Receiver
) -> None:
    # More endpoints than slots, several events each, receivers a little slow: the
    # scheduler keeps re-reading the outbox while attempts finish around it.
    daemon = make_daemon(max_in_flight=3)
    paths = [f"busy-{i}" for i in range(12)]
    for path in paths:
        receiver.program(path, Reply(200, delay=0.01))
    invoices = [create(daemon, receiver.url(path)) for path in paths for _ in range(2)]
    for invoice in invoices:
        for i in range(3):
            relabel(daemon, invoice.id, f"busy {i}")
    rows = [r for invoice in invoices for r in wait_settled(daemon, invoice.id, 4)]
    assert len(rows) == 96
    assert all((r.state, r.attempts) == (pb.CALLBACK_STATE_DELIVERED, 1) for r in rows)
    ids = [r.delivery_id for r in receiver.received() if r.path in paths]
    assert sorted(ids) == sorted(r.id for r in rows)  # each exactly once
    for path in paths:
        sequences = [r.json["sequence"] for r in receiver.received(path)]
        assert sequences == sorted(sequences)
