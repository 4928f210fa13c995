"""Electrum-protocol chains (Bitcoin, Litecoin, their testnets, regtest) over aiorpcx.

- `protocol`: pure protocol facts (status hash, headers, merkle proofs).
- `transactions`: raw transaction parsing (python-bitcointx) and script -> address.
- `client`: one aiorpcx session: version negotiation, pipelined calls, pings, TLS pinning.
- `headers`: the recent header window and reorg walk-back.
- `scripthashes`: per-scripthash known history, diffs and what they mean for payments.
- `watcher`: lifecycle, failover, and the single loop that ties them together.
"""

from .watcher import ElectrumWatcher

__all__ = ["ElectrumWatcher"]
