"""kill -9 in the middle of retries and of a burst of new events: after a restart,
pending deliveries resume where they were (attempts, next retry time), nothing
acknowledged by the receiver is sent again, and no committed event loses its
delivery."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import grpc
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc

from tests.support.daemon import Daemon
from tests.support.util import wait_for

from .conftest import STEP, Receiver, create, deliveries, relabel, wait_settled


def outbox(daemon: Daemon) -> dict[str, tuple[int, int, int]]:
    """id -> (state, attempts, next_attempt_at µs), read from the database file of a
    daemon that is not running."""
    path = daemon.workdir / "data" / "coinvoice.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT id, state, attempts, next_attempt_at FROM callbacks ORDER BY seq"
        )
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_kill_9_during_retries(make_daemon: Callable[..., Daemon], receiver: Receiver) -> None:
    daemon = make_daemon(backoff_initial_ms=400, backoff_max_seconds=2, max_retries=20)
    receiver.program("acked", 200)
    receiver.program("retrying", 500)

    acked = create(daemon, receiver.url("acked"))
    retrying = create(daemon, receiver.url("retrying"))
    for i in range(3):
        relabel(daemon, acked.id, f"a{i}")
        relabel(daemon, retrying.id, f"r{i}")
    done = wait_settled(daemon, acked.id, 4)
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in done)

    def head_retried() -> list[pb.CallbackDelivery] | None:
        rows = deliveries(daemon, retrying.id)
        return rows if rows[0].attempts >= 2 else None

    wait_for(head_retried, STEP, "two failed attempts of the first delivery")
    daemon.kill()

    before = outbox(daemon)
    pending = [d for d in before if d not in {r.id for r in done}]
    assert len(pending) == 4
    head_state, head_attempts, head_next = before[pending[0]]
    assert head_state == 1 and head_attempts >= 2
    assert all(before[d][1] == 0 for d in pending[1:])  # held behind the head
    acked_requests = len(receiver.received("acked"))
    assert acked_requests == 4

    receiver.program("retrying", 200)
    daemon.start()
    rows = wait_settled(daemon, retrying.id, 4)
    assert [r.id for r in rows] == pending
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in rows)
    # The head kept its attempt count and was retried no earlier than scheduled.
    assert rows[0].attempts >= head_attempts + 1
    head_requests = [r for r in receiver.received("retrying") if r.delivery_id == pending[0]]
    # An attempt cut short by the kill reached the receiver without being recorded.
    assert len(head_requests) in (rows[0].attempts, rows[0].attempts + 1)
    resumed = [r for r in head_requests if r.answered == 200]
    assert resumed[0].at >= head_next / 1e6 - 0.05
    assert [r.attempts for r in rows[1:]] == [1, 1, 1]
    # Delivered in order after the restart, each acknowledged exactly once.
    answered = [r.json["sequence"] for r in receiver.answered("retrying")]
    assert answered == [r.event_sequence for r in rows]
    # Nothing the receiver had acknowledged before the kill was sent again.
    assert len(receiver.received("acked")) == acked_requests
    assert all(r.state == pb.CALLBACK_STATE_DELIVERED for r in deliveries(daemon, acked.id))


def test_kill_9_during_a_burst_loses_no_delivery(
    make_daemon: Callable[..., Daemon], receiver: Receiver
) -> None:
    daemon = make_daemon()
    receiver.program("burst", 200)
    created: list[str] = []
    stop = threading.Event()

    def creator() -> None:
        with daemon.connect() as channel:
            stub = pb_grpc.InvoiceServiceStub(channel)
            while not stop.is_set():
                try:
                    reply = stub.CreateInvoice(
                        pb.CreateInvoiceRequest(
                            amount="1", currency="ETH", callback_url=receiver.url("burst")
                        ),
                        timeout=STEP,
                    )
                except grpc.RpcError:
                    return
                created.append(reply.id)

    threads = [threading.Thread(target=creator) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: len(receiver.answered("burst")) >= 30, STEP, "deliveries under way")
        daemon.kill()
    finally:
        stop.set()
        for thread in threads:
            thread.join(STEP)

    before = outbox(daemon)
    delivered_before = {d for d, (state, _, _) in before.items() if state == 2}
    daemon.start()
    for invoice_id in list(created):
        [row] = wait_settled(daemon, invoice_id, 1)
        assert row.state == pb.CALLBACK_STATE_DELIVERED
    received_ids = [r.delivery_id for r in receiver.answered("burst")]
    # Every acknowledged create was delivered at least once ...
    invoices_seen = {r.json["invoice"]["id"] for r in receiver.answered("burst")}
    assert set(created) <= invoices_seen
    # ... and what was recorded as delivered before the kill was not sent again.
    again = [d for d in delivered_before if received_ids.count(d) > 1]
    assert again == []
