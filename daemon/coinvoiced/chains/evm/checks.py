"""Start-up checks of a node against the configuration: chain id and token decimals.

Run on every (re)connection before a single block is trusted: pointing a mainnet config at
a testnet node (or the other way round) must never credit a payment.
"""

from __future__ import annotations

import logging

from eth_abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from ...config import ChainConfig
from .errors import ChainCheckError
from .rpc import RpcError, WsRpc

log = logging.getLogger(__name__)

DECIMALS_SELECTOR = "0x" + keccak(text="decimals()")[:4].hex()


async def check_chain_id(rpc: WsRpc, config: ChainConfig, position: int) -> None:
    chain_id = int(await rpc.call("eth_chainId"), 16)
    if chain_id != config.chain_id:
        raise ChainCheckError(
            f"chains[{position}].chain_id: the node at {rpc.label} is on chain id {chain_id}, "
            f"not {config.chain_id}"
        )


async def check_tokens(rpc: WsRpc, config: ChainConfig, position: int) -> None:
    """Every configured token contract has code, and its decimals() (when it has one:
    the function is optional in ERC-20) matches the configured decimals."""
    tokens = [(j, a) for j, a in enumerate(config.assets) if a.contract is not None]
    if not tokens:
        return
    codes = await rpc.batch([("eth_getCode", [a.contract, "latest"]) for _, a in tokens])
    for (j, asset), code in zip(tokens, codes, strict=True):
        if code in (None, "0x", ""):
            raise ChainCheckError(
                f"chains[{position}].assets[{j}].contract: no contract at {asset.contract} "
                f"on chain {config.name} ({config.chain_id})"
            )
    for j, asset in tokens:
        key = f"chains[{position}].assets[{j}].decimals"
        try:
            raw = await rpc.call("eth_call", [{"to": asset.contract, "data": DECIMALS_SELECTOR}])
            (decimals,) = abi_decode(["uint8"], bytes.fromhex(raw[2:]))
        except (RpcError, DecodingError, ValueError) as exc:
            log.warning(
                "%s: cannot read decimals() of %s %s (%s); trusting the configured %d",
                key,
                asset.code,
                asset.contract,
                exc,
                asset.decimals,
            )
            continue
        if decimals != asset.decimals:
            raise ChainCheckError(
                f"{key}: configured {asset.decimals} but the {asset.code} contract "
                f"{asset.contract} says {decimals}"
            )
