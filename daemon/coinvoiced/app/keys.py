"""API keys: created, listed, revoked, and checked on every call.

Only the SHA-256 of a key is stored; the key has 256 bits of randomness, so a
fast hash is enough (nothing to brute-force). Keys are cached in memory; a
revoked key stops working at once, and `revoked(key_id)` lets open streams end.
On first start, when no key exists, an admin key is written to
`<data_dir>/admin.key` (mode 0600) for coinvoice-cli to find, like LND's
admin.macaroon.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ..domain.errors import InvalidArgument, NotFound
from ..rpc.permissions import ADMIN, ALL
from ..store import Store
from . import validation
from .clock import SECOND, now_us

log = logging.getLogger(__name__)

ADMIN_KEY_FILE = "admin.key"


@dataclass(slots=True)
class KeyRecord:
    id: str
    label: str
    permissions: frozenset[str]
    created_at: int
    revoked_at: int | None = None
    last_used_at: int | None = None
    revoked: asyncio.Event = field(default_factory=asyncio.Event)


def key_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class KeyRing:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_hash: dict[bytes, KeyRecord] = {}
        self._by_id: dict[str, KeyRecord] = {}

    async def load(self) -> None:
        for key_id, digest, label, perms, created, revoked, used in await self.store.read(
            lambda r: r.api_keys()
        ):
            record = KeyRecord(key_id, label, frozenset(perms.split(",")), created, revoked, used)
            self._by_id[key_id] = record
            if revoked is None:
                self._by_hash[digest] = record
            else:
                record.revoked.set()

    async def ensure_admin_key_file(self, data_dir: Path) -> Path | None:
        """First start: create an admin key and write it where coinvoice-cli looks."""
        if self._by_id:
            return None
        _, secret = await self.create([ADMIN], "admin (created on first start)")
        path = data_dir / ADMIN_KEY_FILE
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        os.replace(tmp, path)
        log.info("created the admin API key in %s", path)
        return path

    def authenticate(self, secret: str) -> KeyRecord | None:
        record = self._by_hash.get(key_hash(secret))
        if record is not None:
            now = now_us()
            if record.last_used_at is None or now - record.last_used_at > 60 * SECOND:
                record.last_used_at = now
                task = asyncio.get_running_loop().create_task(
                    self.store.write(lambda tx: tx.touch_api_key(record.id, now))
                )
                task.add_done_callback(lambda t: t.exception())
        return record

    async def create(self, permissions: list[str], label: str) -> tuple[KeyRecord, str]:
        if not permissions:
            raise InvalidArgument("permissions", "name at least one permission")
        for i, permission in enumerate(permissions):
            if permission not in ALL:
                raise InvalidArgument(
                    f"permissions[{i}]", f"{permission[:40]!r} is not one of {', '.join(ALL)}"
                )
        validation.text("label", label, 128)
        key_id = "key_" + base64.b32encode(secrets.token_bytes(10)).decode().lower()
        secret = f"{key_id}.{secrets.token_urlsafe(32)}"
        granted = ",".join(sorted(set(permissions)))
        now = now_us()
        await self.store.write(
            lambda tx: tx.insert_api_key(key_id, key_hash(secret), label, granted, now)
        )
        record = KeyRecord(key_id, label, frozenset(granted.split(",")), now)
        self._by_id[key_id] = record
        self._by_hash[key_hash(secret)] = record
        return record, secret

    def list(self) -> list[KeyRecord]:
        return sorted(self._by_id.values(), key=lambda r: (r.created_at, r.id))

    async def revoke(self, key_id: str) -> KeyRecord:
        record = self._by_id.get(key_id)
        if record is None:
            raise NotFound(f"no API key with id {key_id[:40]!r}")
        now = now_us()
        await self.store.write(lambda tx: tx.revoke_api_key(key_id, now))
        if record.revoked_at is None:
            record.revoked_at = now
        self._by_hash = {h: r for h, r in self._by_hash.items() if r.id != key_id}
        record.revoked.set()  # open streams with this key end now
        return record
