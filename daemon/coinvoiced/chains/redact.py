"""Node URLs without their secrets, for logs, messages and GetInfo."""

from __future__ import annotations

from urllib.parse import urlsplit


def redact(url: str) -> str:
    """scheme://host[:port] of a node URL, for logs and messages: providers put API keys in
    the path or the user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    rest = "/..." if parts.path not in ("", "/") or parts.query or parts.username else ""
    return f"{parts.scheme}://{host}{port}{rest}"
