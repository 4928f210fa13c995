"""Pure parts of the Electrum watcher: addresses from scripts agree with derivation for
every script type, transaction parsing checks txids and reads RBF signals, history diffs,
and merkle branches."""

from __future__ import annotations

import pytest
from bip_utils import Base58Decoder, Base58Encoder
from coinvoiced.chains.derivation import UtxoDeriver
from coinvoiced.chains.electrum.protocol import (
    merkle_branch,
    merkle_root,
    merkle_root_from_branch,
    status_hash,
)
from coinvoiced.chains.electrum.scripthashes import diff
from coinvoiced.chains.electrum.transactions import BadTransaction, address_of, parse

from .chain import RegtestChain

# BIP84's account key of "abandon ... about"; the same key under the other script types'
# version bytes (ypub: P2SH-P2WPKH, xpub: P2PKH, and their testnet forms).
ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf3"
    "1mGDtKsAYz2oz2AGutZYs"
)
VERSIONS = {
    "zpub": ("04b24746", "mainnet"),
    "ypub": ("049d7cb2", "mainnet"),
    "xpub": ("0488b21e", "mainnet"),
    "vpub": ("045f1cf6", "regtest"),
    "upub": ("044a5262", "testnet"),
    "tpub": ("043587cf", "testnet"),
}


def as_version(version_hex: str) -> str:
    raw = Base58Decoder.CheckDecode(ZPUB)
    return Base58Encoder.CheckEncode(bytes.fromhex(version_hex) + raw[4:])


@pytest.mark.parametrize("kind", list(VERSIONS))
def test_address_of_script_matches_derivation(kind: str) -> None:
    version, network = VERSIONS[kind]
    for net in (network, "litecoin"):
        deriver = UtxoDeriver(as_version(version), net)
        for i in range(3):
            derived = deriver.derive(i)
            assert address_of(derived.script, deriver.network) == derived.address


def test_bip84_first_addresses() -> None:
    deriver = UtxoDeriver(ZPUB, "mainnet")
    assert deriver.derive(0).address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert deriver.derive(1).address == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"


def test_parse_reads_outputs_and_rbf_and_checks_the_txid() -> None:
    chain = RegtestChain()
    script = bytes.fromhex("0014") + bytes(range(20))
    plain = chain.make_payment([(script, 1234), (script, 5)])
    parsed = parse(plain.raw.hex(), plain.txid)
    assert [(o.vout, o.value) for o in parsed.outputs] == [(0, 1234), (1, 5)]
    assert not parsed.signals_rbf
    replaceable = chain.make_payment([(script, 1)], rbf=True)
    assert parse(replaceable.raw.hex(), replaceable.txid).signals_rbf
    with pytest.raises(BadTransaction):
        parse(plain.raw.hex(), replaceable.txid)  # not the transaction asked for
    with pytest.raises(BadTransaction):
        parse("00", plain.txid)


def test_history_diff() -> None:
    old = [("a", 5), ("b", 0), ("c", -1)]
    new = [("a", 5), ("b", 7), ("d", 0)]
    d = diff(old, new, force=False)
    assert d.report == [("b", 7), ("d", 0)]
    assert d.dropped == ["c"]  # left the mempool without being mined
    assert diff(old, new, force=True).report == new
    assert status_hash([]) is None


def test_merkle_branches_fold_to_the_root() -> None:
    txids = [f"{i:064x}" for i in range(1, 8)]
    root = merkle_root(txids)
    for i, txid in enumerate(txids):
        assert merkle_root_from_branch(txid, merkle_branch(txids, i), i) == root
    assert merkle_root_from_branch(txids[0], merkle_branch(txids, 1), 1) != root


def test_address_of_taproot_script_matches_derivation() -> None:
    tpub = (
        "tpubDDfvzhdVV4unsoKt5aE6dcsNsfeWbTgmLZPi8LQDYU2xixrYemMfWJ3BaVneH3u7DBQePdTwhpybaKRU95p"
        "i6PMUtLPBJLVQRpzEnjfjZzX"
    )
    deriver = UtxoDeriver(tpub, "regtest", "p2tr")
    for i in range(3):
        derived = deriver.derive(i)
        assert derived.address.startswith("bcrt1p")
        assert address_of(derived.script, deriver.network) == derived.address
