"""coinvoice client library: a small typed async client (`Client`) over the generated
gRPC stubs in `coinvoice.v1`, and the `coinvoice-cli` command (`coinvoice.cli`)."""

from .client import DEFAULT_TARGET, Client, CoinvoiceError, invoice_status, resolution

__all__ = ["DEFAULT_TARGET", "Client", "CoinvoiceError", "invoice_status", "resolution"]
