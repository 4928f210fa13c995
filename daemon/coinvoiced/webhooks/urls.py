"""Which callback URLs are acceptable, and a resolver that enforces it at connect time.

An API user must not be able to make the daemon probe the operator's internal
network. Unless `callbacks.allow_private_addresses` is set, URLs naming a
loopback/private/link-local/reserved address are refused when an invoice is
created or updated, and `GuardedResolver` refuses such addresses again when the
host name is resolved for each delivery (so DNS cannot point a public name at an
internal address later).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ..domain.errors import InvalidArgument

MAX_URL_LENGTH = 2048


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _literal(host: str) -> str | None:
    """The address a host names literally, including the legacy IPv4 spellings that
    resolvers accept (2130706433, 0x7f.1, 127.1); None for a host name."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    if ":" in host:
        return "::"  # not a valid IPv6 literal: treat as unspecified, i.e. refused
    if all(part.isdigit() or part.lower().startswith("0x") for part in host.split(".")):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def literal_allowed(url: str) -> bool:
    """False when the URL's host is an IP literal of a non-public address."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    literal = _literal(host)
    return literal is None or address_allowed(literal)


def check_url(field: str, url: str, allow_private: bool) -> str:
    if len(url) > MAX_URL_LENGTH:
        raise InvalidArgument(field, f"at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidArgument(field, "must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidArgument(field, "not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(field, "must be an http:// or https:// URL with a host")
    if port == 0:
        raise InvalidArgument(field, "port 0 is not valid")
    if not allow_private:
        host = parts.hostname.rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            raise InvalidArgument(field, "loopback destinations are not allowed by the operator")
        literal = _literal(host)
        if literal is not None and not address_allowed(literal):
            raise InvalidArgument(
                field, "private, loopback and reserved addresses are not allowed by the operator"
            )
    return url


class BlockedDestination(OSError):
    def __init__(self, message: str) -> None:
        # With an errno and strerror, aiohttp's connection error shows the reason.
        super().__init__(errno.EACCES, message)


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then drops non-public addresses."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if address_allowed(r["host"])]
        if not allowed:
            raise BlockedDestination(f"{host} resolves only to non-public addresses")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def resolver(allow_private: bool) -> Any:
    return DefaultResolver() if allow_private else GuardedResolver()
