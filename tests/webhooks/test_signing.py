"""Callback signatures: checked by an HMAC written here from RFC 2104 (not the `hmac`
module the daemon uses) and by the receiver snippet in webhooks/signing.py's docstring."""

from __future__ import annotations

import hashlib
import re
import textwrap
import time
from collections.abc import Callable
from decimal import Decimal

from coinvoice.v1 import invoice_pb2 as pb
from coinvoiced.webhooks import signing

from tests.support.daemon import Daemon

from .conftest import Receiver, create, deliveries, wait_settled

SECRET = "whsec-0123456789abcdef"


def rfc2104_hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 from its definition: H((K ^ opad) || H((K ^ ipad) || m))."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + message).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def independent_verify(secret: str, header: str, body: bytes) -> bool:
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", header)
    assert match, header
    expected = rfc2104_hmac_sha256(secret.encode(), match.group(1).encode() + b"." + body)
    return expected == match.group(2)


def docstring_verify() -> Callable[..., bool]:
    """The `verify` function documented for receivers, executed as written."""
    doc = signing.__doc__ or ""
    code = textwrap.dedent(doc[doc.index("    import hashlib") :])
    namespace: dict[str, object] = {}
    exec(compile(code, "signing-docstring", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    return verify  # type: ignore[return-value]


def test_rfc2104_matches_known_vector() -> None:
    # RFC 4231 test case 2.
    assert rfc2104_hmac_sha256(b"Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_signature_matches_independent_hmac() -> None:
    body = b'{"type":"INVOICE_PAID","amount":"0.5"}'
    header = signing.signature(SECRET, 1_800_000_000, body)
    assert header.startswith("t=1800000000,v1=")
    assert independent_verify(SECRET, header, body)
    assert not independent_verify(SECRET + "x", header, body)
    # A key longer than the hash block is hashed first (RFC 2104), in both.
    long_secret = "k" * 200
    assert independent_verify(long_secret, signing.signature(long_secret, 5, body), body)


def test_docstring_snippet_accepts_good_and_refuses_bad_signatures() -> None:
    verify = docstring_verify()
    body = b'{"delivery_id":"dlv_x","sequence":7}'
    now = int(time.time())
    header = signing.signature(SECRET, now, body)
    assert verify(SECRET.encode(), header, body) is True
    assert verify(b"another-secret-0000", header, body) is False
    assert verify(SECRET.encode(), header, body + b" ") is False
    # Same digest, different claimed timestamp: the timestamp is signed too.
    forged = header.replace(f"t={now}", f"t={now + 1}")
    assert verify(SECRET.encode(), forged, body) is False
    # A replay of an old (correctly signed) delivery is refused by the tolerance.
    old = signing.signature(SECRET, now - 3600, body)
    assert verify(SECRET.encode(), old, body) is False
    assert verify(SECRET.encode(), old, body, tolerance=7200) is True


def test_delivered_callback_is_signed_and_shaped(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("signed", 200)
    invoice = create(
        shared_daemon,
        receiver.url("signed"),
        callback_secret=SECRET,
        amount="12.34",
        currency="USD",
        metadata={"order": "1017"},
    )
    assert invoice.callback_url == receiver.url("signed")
    [request] = receiver.wait_answered("signed", 1)
    [row] = wait_settled(shared_daemon, invoice.id, 1)

    header = request.headers[signing.HEADER]
    assert independent_verify(SECRET, header, request.body)
    assert docstring_verify()(SECRET.encode(), header, request.body) is True
    signed_at = int(header.split(",")[0].removeprefix("t="))
    assert abs(signed_at - request.at) < 5

    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Coinvoice-Delivery"] == row.id
    assert request.headers["Coinvoice-Event"] == "INVOICE_CREATED"
    assert request.headers["User-Agent"].startswith("coinvoice/")

    body = request.json
    assert set(body) == {"delivery_id", "sequence", "type", "created_at", "invoice", "payment"}
    assert body["delivery_id"] == row.id
    assert body["sequence"] == row.event_sequence
    assert body["type"] == "INVOICE_CREATED"
    assert body["payment"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["created_at"])
    snapshot = body["invoice"]
    assert snapshot["id"] == invoice.id
    assert snapshot["status"] == "NEW"
    assert (snapshot["amount"], snapshot["currency"], snapshot["paid_amount"]) == (
        "12.34",
        "USD",
        "0",
    )
    assert snapshot["metadata"] == {"order": "1017"}
    for option in snapshot["payment_options"]:
        # Amounts are decimal strings, never JSON numbers.
        assert isinstance(option["amount_due"], str) and Decimal(option["amount_due"]) > 0
        assert isinstance(option["rate"], str)
    assert SECRET not in request.body.decode()  # the secret never travels

    assert row.state == pb.CALLBACK_STATE_DELIVERED
    assert (row.attempts, row.last_status_code, row.last_error) == (1, 200, "")
    assert row.event_type == pb.INVOICE_CREATED
    assert row.url == receiver.url("signed")
    assert row.HasField("delivered_at") and not row.HasField("next_attempt_at")


def test_unsigned_without_any_secret(shared_daemon: Daemon, receiver: Receiver) -> None:
    receiver.program("unsigned", 200)
    invoice = create(shared_daemon, receiver.url("unsigned"))
    [request] = receiver.wait_answered("unsigned", 1)
    assert signing.HEADER not in request.headers
    assert request.json["invoice"]["id"] == invoice.id


def test_secret_changed_by_update_signs_later_deliveries(
    shared_daemon: Daemon, receiver: Receiver
) -> None:
    receiver.program("rekeyed", 200)
    invoice = create(shared_daemon, receiver.url("rekeyed"), callback_secret=SECRET)
    receiver.wait_answered("rekeyed", 1)
    new_secret = "rotated-secret-fedcba9876"
    shared_daemon.invoices.UpdateInvoice(
        pb.UpdateInvoiceRequest(
            id=invoice.id, update_mask=["callback_secret"], callback_secret=new_secret
        )
    )
    first, second = receiver.wait_answered("rekeyed", 2)
    assert independent_verify(SECRET, first.headers[signing.HEADER], first.body)
    assert independent_verify(new_secret, second.headers[signing.HEADER], second.body)
    assert second.json["type"] == "INVOICE_UPDATED"
    assert [r.event_type for r in deliveries(shared_daemon, invoice.id)] == [
        pb.INVOICE_CREATED,
        pb.INVOICE_UPDATED,
    ]
