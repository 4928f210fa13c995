"""Field checks shared by the application services. Each raises InvalidArgument naming the field."""

from __future__ import annotations

import re

from ..domain.errors import InvalidArgument

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ID_RE = re.compile(r"^inv_[a-z2-7]{16}$")

MAX_METADATA_ENTRIES = 32
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 1024


def text(field: str, value: str, max_len: int, *, multiline: bool = False) -> str:
    if len(value) > max_len:
        raise InvalidArgument(field, f"at most {max_len} characters (got {len(value)})")
    probe = value.replace("\n", "").replace("\t", "") if multiline else value
    if _CONTROL_RE.search(probe):
        raise InvalidArgument(field, "control characters are not allowed")
    return value


def identifier(field: str, value: str, max_len: int = 128) -> str | None:
    """Optional merchant identifiers (tracking_id, request_id): printable, no spaces at ends."""
    if value == "":
        return None
    text(field, value, max_len)
    if value != value.strip():
        raise InvalidArgument(field, "must not start or end with whitespace")
    return value


def invoice_id(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(field, "required")
    if not _ID_RE.match(value):
        raise InvalidArgument(field, f"{value[:40]!r} is not an invoice id (inv_...)")
    return value


def metadata(field: str, value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_METADATA_ENTRIES:
        raise InvalidArgument(field, f"at most {MAX_METADATA_ENTRIES} entries")
    for key, item in value.items():
        if not key:
            raise InvalidArgument(field, "keys must not be empty")
        text(f"{field}[{key[:20]!r}]", key, MAX_METADATA_KEY)
        text(f"{field}[{key[:20]!r}]", item, MAX_METADATA_VALUE, multiline=True)
    return dict(value)


def int_range(field: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}")
    return value
