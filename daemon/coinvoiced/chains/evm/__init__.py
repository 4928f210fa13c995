"""EVM chains: a websocket JSON-RPC client, raw-JSON decoding of blocks and logs, and the
watcher that follows a node block by block."""

from .errors import ChainCheckError
from .watcher import EvmWatcher

__all__ = ["ChainCheckError", "EvmWatcher"]
