"""Deposit addresses from an account-level extended public key (watch-only).

All key and address encoding is done by bip_utils; nothing here touches curve
math, bech32 or base58 by hand.

- EVM: BIP44 account key m/44'/60'/N' (xpub); invoice i gets 0/i.
- Bitcoin-like: the key's version bytes say the script type, as wallets do:
  zpub/vpub -> P2WPKH (BIP84), ypub/upub -> P2SH-P2WPKH (BIP49),
  xpub/tpub -> P2PKH (BIP44). Invoice i gets 0/i. Taproot has no version bytes of its
  own: a BIP86 account xpub/tpub with script type "p2tr" gives key-path-only P2TR
  outputs (bip_utils applies the BIP86 tweak).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bip_utils import (
    Bip32KeyNetVersions,
    Bip32Secp256k1,
    EthAddrEncoder,
    P2PKHAddrEncoder,
    P2SHAddrEncoder,
    P2TRAddrDecoder,
    P2TRAddrEncoder,
    P2WPKHAddrEncoder,
)
from bip_utils.bip.bip32.base import Bip32Base

# Extended public key version bytes -> (script type, private-key version bytes).
# The private versions are only needed because bip_utils deserialises with a pair.
_BTC_KEY_VERSIONS: dict[bytes, tuple[str, bytes]] = {
    bytes.fromhex("04b24746"): ("p2wpkh", bytes.fromhex("04b2430c")),  # zpub
    bytes.fromhex("045f1cf6"): ("p2wpkh", bytes.fromhex("045f18bc")),  # vpub
    bytes.fromhex("049d7cb2"): ("p2sh-p2wpkh", bytes.fromhex("049d7878")),  # ypub
    bytes.fromhex("044a5262"): ("p2sh-p2wpkh", bytes.fromhex("044a4e28")),  # upub
    bytes.fromhex("0488b21e"): ("p2pkh", bytes.fromhex("0488ade4")),  # xpub
    bytes.fromhex("043587cf"): ("p2pkh", bytes.fromhex("04358394")),  # tpub
}


@dataclass(frozen=True, slots=True)
class UtxoNetwork:
    """Address parameters of a Bitcoin-like network."""

    uri_scheme: str
    hrp: str
    p2pkh_version: bytes
    p2sh_version: bytes


UTXO_NETWORKS: dict[str, UtxoNetwork] = {
    "mainnet": UtxoNetwork("bitcoin", "bc", b"\x00", b"\x05"),
    "testnet": UtxoNetwork("bitcoin", "tb", b"\x6f", b"\xc4"),
    "signet": UtxoNetwork("bitcoin", "tb", b"\x6f", b"\xc4"),
    "regtest": UtxoNetwork("bitcoin", "bcrt", b"\x6f", b"\xc4"),
    "litecoin": UtxoNetwork("litecoin", "ltc", b"\x30", b"\x32"),
    "litecoin-testnet": UtxoNetwork("litecoin", "tltc", b"\x6f", b"\x3a"),
}


@dataclass(frozen=True, slots=True)
class DerivedAddress:
    address: str  # as shown to payers (checksummed for EVM)
    watch_key: bytes  # what watchers match on: 20-byte EVM address or Electrum scripthash
    script: bytes = b""  # scriptPubKey for Bitcoin-like chains


def _external_chain(xpub: str, versions: Bip32KeyNetVersions | None = None) -> Bip32Base:
    if xpub[1:4] == "prv":
        raise ValueError("an extended private key was given; coinvoice needs the public key")
    node = (
        Bip32Secp256k1.FromExtendedKey(xpub, versions)
        if versions
        else Bip32Secp256k1.FromExtendedKey(xpub)
    )
    if not node.IsPublicOnly():
        raise ValueError("an extended private key was given; coinvoice needs the public key")
    return node.ChildKey(0)


class EvmDeriver:
    def __init__(self, xpub: str) -> None:
        self._external = _external_chain(xpub)

    def derive(self, index: int) -> DerivedAddress:
        key = self._external.ChildKey(index).PublicKey().KeyObject()
        address = EthAddrEncoder.EncodeKey(key)
        return DerivedAddress(address, bytes.fromhex(address[2:]))


def electrum_scripthash(script: bytes) -> bytes:
    """The Electrum protocol's script hash: sha256(scriptPubKey), byte-reversed (as hex on
    the wire; we keep the raw reversed bytes)."""
    return hashlib.sha256(script).digest()[::-1]


SCRIPT_TYPES = ("p2wpkh", "p2sh-p2wpkh", "p2pkh", "p2tr")


class UtxoDeriver:
    def __init__(self, xpub: str, network: str, script_type: str | None = None) -> None:
        from bip_utils import Base58Decoder

        self.network = UTXO_NETWORKS[network]
        try:
            raw = Base58Decoder.CheckDecode(xpub)
        except Exception as exc:  # bip_utils raises its own checksum/encoding errors
            raise ValueError(f"not a base58check extended key ({exc})") from None
        entry = _BTC_KEY_VERSIONS.get(raw[:4])
        if entry is None:
            raise ValueError(
                "unknown extended key version (expected zpub/vpub/ypub/upub/xpub/tpub)"
            )
        self.script_type, private_version = entry
        if script_type is not None:
            if script_type not in SCRIPT_TYPES:
                raise ValueError(f"unknown script type {script_type!r}")
            self.script_type = script_type  # the configuration overrides the key's version
        self._external = _external_chain(xpub, Bip32KeyNetVersions(raw[:4], private_version))

    def derive(self, index: int) -> DerivedAddress:
        from bip_utils import Hash160

        key = self._external.ChildKey(index).PublicKey().KeyObject()
        net = self.network
        if self.script_type == "p2wpkh":
            address = P2WPKHAddrEncoder.EncodeKey(key, hrp=net.hrp, wit_ver=0)
            script = b"\x00\x14" + Hash160.QuickDigest(key.RawCompressed().ToBytes())
        elif self.script_type == "p2tr":
            address = P2TRAddrEncoder.EncodeKey(key, hrp=net.hrp)
            # OP_1 <32-byte tweaked key>, the program read back from the address.
            script = b"\x51\x20" + P2TRAddrDecoder.DecodeAddr(address, hrp=net.hrp)
        elif self.script_type == "p2sh-p2wpkh":
            address = P2SHAddrEncoder.EncodeKey(key, net_ver=net.p2sh_version)
            redeem = b"\x00\x14" + Hash160.QuickDigest(key.RawCompressed().ToBytes())
            script = b"\xa9\x14" + Hash160.QuickDigest(redeem) + b"\x87"
        else:
            address = P2PKHAddrEncoder.EncodeKey(key, net_ver=net.p2pkh_version)
            pkh = Hash160.QuickDigest(key.RawCompressed().ToBytes())
            script = b"\x76\xa9\x14" + pkh + b"\x88\xac"
        return DerivedAddress(address, electrum_scripthash(script), script)
