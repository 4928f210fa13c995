"""Raw transactions as an Electrum server returns them, parsed with python-bitcointx
(consensus serialization, segwit included; no hand-written parsing), and the few script
facts the watcher needs: scripthash and the address a payer was shown."""

from __future__ import annotations

from dataclasses import dataclass

from bip_utils import Base58Encoder, SegwitBech32Encoder
from bitcointx.core import CTransaction, b2lx

from ..derivation import UtxoNetwork, electrum_scripthash

# BIP125: an input with nSequence below this signals replaceability.
RBF_SEQUENCE_LIMIT = 0xFFFFFFFE


@dataclass(frozen=True, slots=True)
class Output:
    vout: int
    script: bytes
    value: int  # base units (satoshi); parsed from the raw transaction, never a float
    scripthash: bytes  # electrum_scripthash(script): what the address index is keyed by


@dataclass(frozen=True, slots=True)
class ParsedTx:
    txid: str
    outputs: tuple[Output, ...]
    # Replace-by-fee signalled by one of its own inputs (BIP125). Following BTCPay, such a
    # payment does not count while unconfirmed.
    signals_rbf: bool


class BadTransaction(ValueError):
    """The server sent something that is not the transaction it was asked for."""


def parse(raw_hex: str, expected_txid: str) -> ParsedTx:
    try:
        tx = CTransaction.deserialize(bytes.fromhex(raw_hex))
    except Exception as exc:  # bitcointx raises several kinds for malformed input
        raise BadTransaction(f"{expected_txid}: cannot parse ({exc})") from None
    txid = b2lx(tx.GetTxid())
    # The txid commits to everything we read (outputs, sequences): a server cannot
    # substitute another transaction without us noticing.
    if txid != expected_txid:
        raise BadTransaction(f"asked for {expected_txid}, got {txid}")
    outputs = tuple(
        Output(
            n,
            bytes(out.scriptPubKey),
            int(out.nValue),
            electrum_scripthash(bytes(out.scriptPubKey)),
        )
        for n, out in enumerate(tx.vout)
    )
    rbf = any(txin.nSequence < RBF_SEQUENCE_LIMIT for txin in tx.vin)
    return ParsedTx(txid, outputs, rbf)


def address_of(script: bytes, network: UtxoNetwork) -> str:
    """The address string of a standard output script (what the invoice showed), encoded
    by bip_utils. Unknown script types get the script hex (they can only match an address
    we derived if derivation and this function disagree, which the tests rule out)."""
    n = len(script)
    if n == 22 and script[0] == 0x00 and script[1] == 0x14:  # P2WPKH
        return SegwitBech32Encoder.Encode(network.hrp, 0, script[2:])
    if n == 34 and script[0] == 0x00 and script[1] == 0x20:  # P2WSH
        return SegwitBech32Encoder.Encode(network.hrp, 0, script[2:])
    if n == 34 and script[0] == 0x51 and script[1] == 0x20:  # P2TR (bech32m)
        return SegwitBech32Encoder.Encode(network.hrp, 1, script[2:])
    if n == 23 and script[0] == 0xA9 and script[1] == 0x14 and script[22] == 0x87:  # P2SH
        return Base58Encoder.CheckEncode(network.p2sh_version + script[2:22])
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":  # P2PKH
        return Base58Encoder.CheckEncode(network.p2pkh_version + script[3:23])
    return script.hex()
