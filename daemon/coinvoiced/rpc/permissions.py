"""Which permission each RPC needs: the one table (a test checks it covers every RPC).

"admin" implies every other permission. Health checking needs none.
"""

from __future__ import annotations

READ = "invoices:read"
WRITE = "invoices:write"
RESOLVE = "invoices:resolve"
ADMIN = "admin"
ALL = (READ, WRITE, RESOLVE, ADMIN)

PUBLIC_PREFIXES = ("/grpc.health.v1.Health/",)

METHOD_PERMISSIONS: dict[str, str] = {
    "/coinvoice.v1.InvoiceService/CreateInvoice": WRITE,
    "/coinvoice.v1.InvoiceService/GetInvoice": READ,
    "/coinvoice.v1.InvoiceService/ListInvoices": READ,
    "/coinvoice.v1.InvoiceService/UpdateInvoice": WRITE,
    "/coinvoice.v1.InvoiceService/CancelInvoice": WRITE,
    "/coinvoice.v1.InvoiceService/ResolveInvoice": RESOLVE,
    "/coinvoice.v1.InvoiceService/StreamEvents": READ,
    "/coinvoice.v1.InvoiceService/ListCallbacks": READ,
    "/coinvoice.v1.InvoiceService/RedeliverCallback": RESOLVE,
    "/coinvoice.v1.NodeService/GetInfo": READ,
    "/coinvoice.v1.NodeService/GetRates": READ,
    "/coinvoice.v1.AdminService/CreateApiKey": ADMIN,
    "/coinvoice.v1.AdminService/ListApiKeys": ADMIN,
    "/coinvoice.v1.AdminService/RevokeApiKey": ADMIN,
    "/coinvoice.v1.AdminService/BackupDatabase": ADMIN,
    # Reflection only describes the (public) API, but still needs a valid key.
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": READ,
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": READ,
}


def allows(granted: frozenset[str], needed: str) -> bool:
    return ADMIN in granted or needed in granted
