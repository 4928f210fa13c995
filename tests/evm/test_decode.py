"""The hot-path decoders against hand-written node JSON: what counts as a payment."""

from __future__ import annotations

from typing import Any

from coinvoiced.chains.evm import decode

WATCHED = "0x9858effd232b4033e47d90003d41ec34ecaeda94"
OTHER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
TOKEN = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
BLOCK_HASH = "0x" + "ab" * 32
TABLE = {bytes.fromhex(WATCHED[2:]): 7}


def tx(to: str | None, value: int, txid: str = "0x" + "11" * 32) -> dict[str, Any]:
    return {"hash": txid, "to": to, "value": hex(value)}


def topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def transfer_log(
    to: str, amount: int, *, contract: str = TOKEN, index: int = 3, **extra: Any
) -> dict[str, Any]:
    return {
        "address": contract,
        "topics": [decode.TRANSFER_TOPIC, topic(OTHER), topic(to)],
        "data": "0x" + amount.to_bytes(32, "big").hex(),
        "transactionHash": "0x" + "22" * 32,
        "logIndex": hex(index),
        "blockHash": BLOCK_HASH,
        **extra,
    }


def test_transfer_topic_is_the_erc20_event() -> None:
    assert decode.TRANSFER_TOPIC == (
        "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    )


def test_native_candidates_only_value_to_watched_addresses() -> None:
    block = {
        "transactions": [
            tx(WATCHED, 10**18, "0x" + "01" * 32),
            tx(OTHER, 10**18, "0x" + "02" * 32),
            tx(WATCHED, 0, "0x" + "03" * 32),  # a call without value
            tx(None, 5, "0x" + "04" * 32),  # contract creation
            tx(WATCHED.upper().replace("0X", "0x"), 2**200, "0x" + "05" * 32),
        ]
    }
    found = decode.native_candidates("anvil", "ETH", block, TABLE, 12, BLOCK_HASH)
    assert [(t.txid, t.amount) for t in found] == [
        ("0x" + "01" * 32, 10**18),
        ("0x" + "05" * 32, 2**200),  # beyond 64 bits: still an exact int
    ]
    first = found[0]
    assert first.index == 0 and first.asset == "ETH" and first.height == 12
    assert first.address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"  # checksummed
    assert first.watch_key == bytes.fromhex(WATCHED[2:])


def test_receipt_status() -> None:
    assert decode.receipt_succeeded({"status": "0x1"})
    assert not decode.receipt_succeeded({"status": "0x0"})
    assert decode.receipt_succeeded({"root": "0x" + "00" * 32})  # pre-Byzantium


def test_token_transfers_match_the_to_topic_of_configured_contracts() -> None:
    tokens = {TOKEN: "TUSD"}
    logs = [
        transfer_log(WATCHED, 1_500_000, index=3),
        transfer_log(OTHER, 1, index=4),  # not ours
        transfer_log(WATCHED, 9, contract="0x" + "99" * 20, index=5),  # unknown contract
        transfer_log(WATCHED, 9, index=6, removed=True),  # reorged away
        transfer_log(WATCHED, 0, index=7),  # nothing moved
        {
            **transfer_log(WATCHED, 9, index=8),
            "topics": [*transfer_log(WATCHED, 9)["topics"], "0x" + "00" * 32],
        },  # ERC-721: a 4th topic (tokenId)
        {**transfer_log(WATCHED, 9, index=9), "data": "0x"},  # malformed
    ]
    found = decode.token_transfers("anvil", logs, tokens, TABLE, 12, BLOCK_HASH)
    assert len(found) == 1
    payment = found[0]
    assert (payment.asset, payment.amount, payment.index) == ("TUSD", 1_500_000, 3)
    assert payment.txid == "0x" + "22" * 32 and payment.block_hash == BLOCK_HASH


def test_header() -> None:
    raw = {"number": "0x10", "hash": "0xAB", "parentHash": "0xCD"}
    assert decode.header(raw) == decode.Header(16, "0xab", "0xcd")
