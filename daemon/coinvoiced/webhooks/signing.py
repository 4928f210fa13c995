"""Callback signatures: HMAC-SHA256 over "<timestamp>.<raw body>".

Header: ``Coinvoice-Signature: t=<unix seconds>,v1=<hex digest>``. Including the
timestamp in what is signed lets a receiver refuse replays of old deliveries.
A receiver verifies it like this (tested in tests/webhooks/test_signing.py):

    import hashlib, hmac, time

    def verify(secret: bytes, header: str, body: bytes, tolerance: int = 300) -> bool:
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = hmac.new(secret, parts["t"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(parts["t"])) <= tolerance
        return fresh and hmac.compare_digest(expected, parts["v1"])
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Coinvoice-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"
