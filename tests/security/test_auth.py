"""API keys and permissions, against the real daemon process over real gRPC."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from coinvoice.v1 import invoice_pb2 as pb
from coinvoice.v1 import invoice_pb2_grpc as pb_grpc
from coinvoiced.rpc.permissions import ADMIN, METHOD_PERMISSIONS, READ, RESOLVE, WRITE

from tests.support.daemon import Daemon, authed_channel, base_config
from tests.support.util import free_port, wait_for

PERMISSIONS = (READ, WRITE, RESOLVE, ADMIN)


def test_every_rpc_in_the_proto_has_a_permission() -> None:
    methods = {
        f"/{service.full_name}/{method.name}"
        for service in pb.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    assert methods - set(METHOD_PERMISSIONS) == set()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("auth")).start()
    yield d
    d.stop()


def new_key(daemon: Daemon, *permissions: str) -> str:
    admin = pb_grpc.AdminServiceStub(daemon.channel())
    reply = admin.CreateApiKey(pb.CreateApiKeyRequest(permissions=list(permissions), label="test"))
    return reply.secret


def call_each_rpc(channel: grpc.Channel, invoice_id: str) -> dict[str, grpc.StatusCode]:
    """Call every RPC once with a harmless request; return the status code of each."""
    invoices = pb_grpc.InvoiceServiceStub(channel)
    node = pb_grpc.NodeServiceStub(channel)
    admin = pb_grpc.AdminServiceStub(channel)
    calls = {
        "CreateInvoice": lambda: invoices.CreateInvoice(
            pb.CreateInvoiceRequest(amount="1", currency="ETH")
        ),
        "GetInvoice": lambda: invoices.GetInvoice(pb.GetInvoiceRequest(id=invoice_id)),
        "ListInvoices": lambda: invoices.ListInvoices(pb.ListInvoicesRequest()),
        "UpdateInvoice": lambda: invoices.UpdateInvoice(
            pb.UpdateInvoiceRequest(id=invoice_id, update_mask=["label"], label="x")
        ),
        "CancelInvoice": lambda: invoices.CancelInvoice(
            pb.CancelInvoiceRequest(id="inv_aaaaaaaaaaaaaaaa")
        ),
        "ResolveInvoice": lambda: invoices.ResolveInvoice(
            pb.ResolveInvoiceRequest(id=invoice_id, resolution=pb.RESOLUTION_ACCEPT)
        ),
        "StreamEvents": lambda: next(invoices.StreamEvents(pb.StreamEventsRequest())),
        "ListCallbacks": lambda: invoices.ListCallbacks(
            pb.ListCallbacksRequest(invoice_id=invoice_id)
        ),
        "RedeliverCallback": lambda: invoices.RedeliverCallback(
            pb.RedeliverCallbackRequest(delivery_id="dlv_aaaaaaaaaaaaaaaa")
        ),
        "GetInfo": lambda: node.GetInfo(pb.GetInfoRequest()),
        "GetRates": lambda: node.GetRates(pb.GetRatesRequest()),
        "CreateApiKey": lambda: admin.CreateApiKey(
            pb.CreateApiKeyRequest(permissions=["invoices:read"])
        ),
        "ListApiKeys": lambda: admin.ListApiKeys(pb.ListApiKeysRequest()),
        "RevokeApiKey": lambda: admin.RevokeApiKey(pb.RevokeApiKeyRequest(id="key_nope")),
        "BackupDatabase": lambda: next(admin.BackupDatabase(pb.BackupDatabaseRequest())),
    }
    codes = {}
    for name, call in calls.items():
        try:
            call()
            codes[name] = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            codes[name] = exc.code()
    return codes


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_each_permission_against_each_rpc(daemon: Daemon, permission: str) -> None:
    invoice_id = daemon.invoices.CreateInvoice(
        pb.CreateInvoiceRequest(amount="1", currency="ETH")
    ).id
    with authed_channel(daemon.address, new_key(daemon, permission)) as channel:
        codes = call_each_rpc(channel, invoice_id)
    assert set(codes) == {
        m.rsplit("/", 1)[1] for m in METHOD_PERMISSIONS if m.startswith("/coinvoice.")
    }
    for method, code in codes.items():
        needed = METHOD_PERMISSIONS[next(m for m in METHOD_PERMISSIONS if m.endswith("/" + method))]
        allowed = permission == ADMIN or permission == needed
        if allowed:
            assert code not in (
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.UNAUTHENTICATED,
            ), (method, code)
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, (method, code)


def rpc_code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code()


def test_missing_garbled_and_unknown_keys(daemon: Daemon) -> None:
    with grpc.insecure_channel(daemon.address) as plain:
        stub = pb_grpc.InvoiceServiceStub(plain)
        request = pb.ListInvoicesRequest()
        assert rpc_code(lambda: stub.ListInvoices(request)) == grpc.StatusCode.UNAUTHENTICATED
        for metadata in (
            [("authorization", "Bearer")],
            [("authorization", "Basic abc")],
            [("authorization", "Bearer key_xxxxxxxxxxxxxxxx.nope")],
            [("authorization", "Bearer " + "A" * 5000)],
        ):
            code = rpc_code(lambda m=metadata: stub.ListInvoices(request, metadata=m))
            assert code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.RESOURCE_EXHAUSTED), (
                metadata
            )
        # Health checking needs no key.
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        health = health_pb2_grpc.HealthStub(plain).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING


def test_revocation_ends_an_open_stream_and_stops_the_key(daemon: Daemon) -> None:
    key = new_key(daemon, READ)
    daemon.invoices.CreateInvoice(pb.CreateInvoiceRequest(amount="1", currency="ETH"))
    outcome: list[grpc.StatusCode] = []
    with authed_channel(daemon.address, key) as channel:
        stream = pb_grpc.InvoiceServiceStub(channel).StreamEvents(pb.StreamEventsRequest())
        first = next(stream)
        assert first.sequence == 1

        def drain() -> None:
            try:
                for _ in stream:
                    pass
                outcome.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                outcome.append(exc.code())

        reader = threading.Thread(target=drain)
        reader.start()
        key_id = key.split(".", 1)[0]
        admin = pb_grpc.AdminServiceStub(daemon.channel())
        revoked = admin.RevokeApiKey(pb.RevokeApiKeyRequest(id=key_id))
        assert revoked.HasField("revoked_at")
        wait_for(lambda: outcome, 10, "the stream to end")
        reader.join(5)
        assert outcome == [grpc.StatusCode.UNAUTHENTICATED]
        stub = pb_grpc.InvoiceServiceStub(channel)
        code = rpc_code(lambda: stub.ListInvoices(pb.ListInvoicesRequest()))
        assert code == grpc.StatusCode.UNAUTHENTICATED
    listed = {k.id: k for k in admin.ListApiKeys(pb.ListApiKeysRequest()).keys}
    assert listed[key_id].HasField("revoked_at")


def test_admin_key_file_is_private_and_secrets_never_logged(daemon: Daemon) -> None:
    path = daemon.data_dir / "admin.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = new_key(daemon, READ)
    with authed_channel(daemon.address, secret) as channel:
        pb_grpc.InvoiceServiceStub(channel).ListInvoices(pb.ListInvoicesRequest())
    log = daemon.log()
    assert secret not in log and secret.split(".", 1)[1] not in log
    assert daemon.admin_key.split(".", 1)[1] not in log
    # The store keeps only hashes.
    raw = (daemon.data_dir / "coinvoice.sqlite").read_bytes()
    assert secret.split(".", 1)[1].encode() not in raw


def test_bad_key_requests(daemon: Daemon) -> None:
    admin = pb_grpc.AdminServiceStub(daemon.channel())
    for request, field in (
        (pb.CreateApiKeyRequest(), "permissions"),
        (pb.CreateApiKeyRequest(permissions=["root"]), "permissions[0]"),
        (pb.CreateApiKeyRequest(permissions=[READ], label="x" * 200), "label"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            admin.CreateApiKey(request)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith(field)
    with pytest.raises(grpc.RpcError) as info:
        admin.RevokeApiKey(pb.RevokeApiKeyRequest(id="key_unknown"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def limited_daemon(tmp_path: Path, **security: int) -> Daemon:
    config = base_config(tmp_path / "data", free_port())
    config["security"] = security
    return Daemon(tmp_path, config).start()


def test_failed_attempts_are_rate_limited_per_peer(tmp_path: Path) -> None:
    daemon = limited_daemon(tmp_path, failed_auth_per_minute=3)
    try:
        with grpc.insecure_channel(daemon.address) as plain:
            stub = pb_grpc.InvoiceServiceStub(plain)
            bad = [("authorization", "Bearer key_wrong.wrong")]
            codes = [
                rpc_code(lambda: stub.ListInvoices(pb.ListInvoicesRequest(), metadata=bad))
                for _ in range(4)
            ]
        assert codes[:3] == [grpc.StatusCode.UNAUTHENTICATED] * 3
        assert codes[3] == grpc.StatusCode.RESOURCE_EXHAUSTED
        # While over the limit, even the right key is refused from that peer.
        code = rpc_code(lambda: daemon.invoices.ListInvoices(pb.ListInvoicesRequest()))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        daemon.stop()


def test_invoice_creation_is_rate_limited_per_key(tmp_path: Path) -> None:
    daemon = limited_daemon(tmp_path, create_invoice_per_minute=1, create_invoice_burst=3)
    try:
        request = pb.CreateInvoiceRequest(amount="1", currency="ETH")
        for _ in range(3):
            daemon.invoices.CreateInvoice(request)
        code = rpc_code(lambda: daemon.invoices.CreateInvoice(request))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        # Another key has its own budget; reads are not limited.
        with authed_channel(daemon.address, new_key(daemon, WRITE)) as channel:
            pb_grpc.InvoiceServiceStub(channel).CreateInvoice(request)
        assert len(daemon.invoices.ListInvoices(pb.ListInvoicesRequest()).invoices) == 4
    finally:
        daemon.stop()
