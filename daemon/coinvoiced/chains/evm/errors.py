"""The one fatal start-up error of an EVM chain."""

from __future__ import annotations

from ...config import ConfigError


class ChainCheckError(ConfigError):
    """The node contradicts the configuration: another chain id, a token contract that is
    not there or has other decimals. str() names the config key, e.g.
    "chains[0].chain_id: the node at ws://... is on chain id 1, not 31337".

    A ConfigError, so the daemon refuses to start (exit 2) when the first connection
    finds it; found later, after a reconnect, the watcher stops following that node
    instead (and keeps checking it with a long back-off)."""
