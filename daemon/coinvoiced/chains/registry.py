"""Per-chain runtime: configuration, address derivation, payment URIs and live status.

Watchers update `ChainStatus`; GetInfo reads it. The rest of the daemon asks a
`Chain` for addresses and URIs and never needs to know its kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..config import AssetConfig, ChainConfig
from ..domain import money
from .derivation import DerivedAddress, EvmDeriver, UtxoDeriver
from .redact import redact


class Watcher(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass(slots=True)
class ChainStatus:
    connected: bool = False
    state: str = "no watcher"
    endpoint: str = ""
    tip_height: int | None = None
    tip_hash: str | None = None
    processed_height: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Chain:
    def __init__(self, config: ChainConfig) -> None:
        self.config = config
        self.name = config.name
        self.status = ChainStatus()
        self._deriver: EvmDeriver | UtxoDeriver
        if config.kind == "evm":
            self._deriver = EvmDeriver(config.xpub)
            self.status.endpoint = redact(config.ws_url)  # node URLs may carry API keys
        else:
            self._deriver = UtxoDeriver(config.xpub, config.network, config.script_type or None)
            self.status.endpoint = config.servers[0]

    def derive(self, index: int) -> DerivedAddress:
        return self._deriver.derive(index)

    def payment_uri(self, asset: AssetConfig, address: str, amount_due: int | None) -> str:
        if self.config.kind == "evm":
            chain_id = self.config.chain_id
            if asset.contract is None:  # EIP-681 native transfer, value in wei
                uri = f"ethereum:{address}@{chain_id}"
                return uri if amount_due is None else f"{uri}?value={amount_due}"
            uri = f"ethereum:{asset.contract}@{chain_id}/transfer?address={address}"
            return uri if amount_due is None else f"{uri}&uint256={amount_due}"
        assert isinstance(self._deriver, UtxoDeriver)
        uri = f"{self._deriver.network.uri_scheme}:{address}"  # BIP21
        if amount_due is None:
            return uri
        return f"{uri}?amount={money.format_units(amount_due, asset.decimals)}"
