"""Address derivation against published vectors (watch-only: public keys only)."""

from __future__ import annotations

import pytest
from coinvoiced.chains.derivation import EvmDeriver, UtxoDeriver

from tests.support.daemon import ABANDON_ETH_XPUB

# BIP84's published test vector: account 0 zpub of "abandon ... about".
BIP84_ZPUB = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf3"
    "1mGDtKsAYz2oz2AGutZYs"
)


def test_bip84_vectors() -> None:
    deriver = UtxoDeriver(BIP84_ZPUB, "mainnet")
    first, second = deriver.derive(0), deriver.derive(1)
    assert first.address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert second.address == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"
    assert first.script.hex() == "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2"
    # Electrum scripthash = reversed sha256 of the script.
    assert len(first.watch_key) == 32


def test_ethereum_abandon_vector() -> None:
    address = EvmDeriver(ABANDON_ETH_XPUB).derive(0)
    assert address.address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert address.watch_key == bytes.fromhex("9858effd232b4033e47d90003d41ec34ecaeda94")


def test_private_keys_are_refused() -> None:
    from bip_utils import Bip39SeedGenerator, Bip44, Bip44Coins

    seed = Bip39SeedGenerator("abandon " * 11 + "about").Generate()
    xprv = Bip44.FromSeed(seed, Bip44Coins.ETHEREUM).Purpose().Coin().Account(0)
    xprv = xprv.PrivateKey().ToExtended()
    with pytest.raises(ValueError, match="private"):
        EvmDeriver(xprv)


def test_unknown_key_version() -> None:
    with pytest.raises(ValueError, match="base58check"):
        UtxoDeriver(ABANDON_ETH_XPUB.replace("xpub", "Ltub"), "mainnet")


# BIP86's published test vector: account 0 xpub of "abandon ... about" (m/86'/0'/0').
BIP86_XPUB = (
    "xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY"
    "49yfdDEHGCtMMj92pReUsQ"
)


def test_bip86_taproot_vectors() -> None:
    deriver = UtxoDeriver(BIP86_XPUB, "mainnet", "p2tr")
    first, second = deriver.derive(0), deriver.derive(1)
    assert first.address == "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    assert second.address == "bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh"
    # OP_1 <output key>: BIP86's scriptPubKey for m/86'/0'/0'/0/0.
    assert first.script.hex() == (
        "5120a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c"
    )
    with pytest.raises(ValueError, match="script type"):
        UtxoDeriver(BIP86_XPUB, "mainnet", "p2wsh")
