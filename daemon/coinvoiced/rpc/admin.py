"""AdminService: API keys and online backups (admin permission, see permissions.py)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import grpc
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc

from ..app.keys import KeyRecord
from . import convert
from .errors import streaming, unary

if TYPE_CHECKING:
    from ..app.application import Application

CHUNK = 256 * 1024


def api_key(record: KeyRecord) -> pb.ApiKey:
    message = pb.ApiKey(
        id=record.id,
        label=record.label,
        permissions=sorted(record.permissions),
        created_at=convert.timestamp(record.created_at),
    )
    if record.revoked_at is not None:
        message.revoked_at.CopyFrom(convert.timestamp(record.revoked_at))
    if record.last_used_at is not None:
        message.last_used_at.CopyFrom(convert.timestamp(record.last_used_at))
    return message


class AdminServicer(pb_grpc.AdminServiceServicer):
    def __init__(self, app: Application) -> None:
        self.app = app

    @unary
    async def CreateApiKey(
        self, request: pb.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateApiKeyResponse:
        record, secret = await self.app.keys.create(list(request.permissions), request.label)
        return pb.CreateApiKeyResponse(key=api_key(record), secret=secret)

    @unary
    async def ListApiKeys(
        self, request: pb.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListApiKeysResponse:
        return pb.ListApiKeysResponse(keys=[api_key(r) for r in self.app.keys.list()])

    @unary
    async def RevokeApiKey(
        self, request: pb.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ApiKey:
        return api_key(await self.app.keys.revoke(request.id))

    @streaming
    async def BackupDatabase(
        self, request: pb.BackupDatabaseRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.BackupChunk]:
        # The sqlite backup API copies a consistent snapshot while writers go on.
        target = self.app.config.data_dir / f".backup-{secrets.token_hex(8)}.sqlite"
        try:
            await self.app.store.backup(target)
            digest = hashlib.sha256()
            with target.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    yield pb.BackupChunk(data=chunk)
            yield pb.BackupChunk(sha256=digest.hexdigest())
        finally:
            target.unlink(missing_ok=True)
