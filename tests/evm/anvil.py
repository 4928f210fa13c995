"""A real anvil node for tests and benchmarks: start/stop/restart on a fixed loopback port,
JSON-RPC over HTTP, and the few chain actions the tests need (send, mine, reorg, deploy
the test token). Synchronous on purpose: tests drive it from plain pytest functions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak

from tests.support.util import free_port, wait_for

ANVIL_ENV = "COINVOICE_ANVIL"
CHAIN_ID = 31337
CONTRACTS = Path(__file__).resolve().parent.parent / "contracts"

# anvil's dev accounts come from the public "test test ... junk" mnemonic; the first key
# signs raw transactions that a test re-sends after a reorg (same txid).
DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def selector(signature: str) -> str:
    return keccak(text=signature)[:4].hex()


class RpcFailed(RuntimeError):
    pass


class Anvil:
    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        port: int | None = None,
        state: bool = False,
        extra: Sequence[str] = (),
    ) -> None:
        self.binary = binary
        self.workdir = workdir
        self.port = port or free_port()
        self.state_path = workdir / "anvil-state.json" if state else None
        self.extra = list(extra)
        self.log_path = workdir / f"anvil-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._accounts: list[str] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Anvil:
        args = [
            self.binary,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(CHAIN_ID),
            *self.extra,
        ]
        if self.state_path is not None:
            args += ["--state", str(self.state_path)]
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_for(self._answers, timeout, f"anvil on port {self.port} (log: {self.log_path})")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"anvil exited {self.proc.returncode}: {self.log_path}")
        return int(self.rpc("eth_chainId"), 16) == CHAIN_ID

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM: anvil dumps its state (with --state) and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- JSON-RPC -- #

    def _post(self, payload: Any, timeout: float = 30.0) -> Any:
        request = urllib.request.Request(
            self.http_url,
            data=json.dumps(payload).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def rpc(self, method: str, *params: Any) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        if "error" in reply:
            raise RpcFailed(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]], timeout: float = 120.0) -> list:
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in enumerate(calls)
        ]
        replies = sorted(self._post(payload, timeout), key=lambda r: r["id"])
        errors = [r["error"] for r in replies if "error" in r]
        if errors:
            raise RpcFailed(f"{len(errors)} errors in batch, first: {errors[0]}")
        return [r["result"] for r in replies]

    # -- chain actions -- #

    @property
    def accounts(self) -> list[str]:
        if self._accounts is None:
            self._accounts = self.rpc("eth_accounts")
        return self._accounts

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def block(self, number: int | str = "latest") -> dict[str, Any]:
        tag = hex(number) if isinstance(number, int) else number
        return self.rpc("eth_getBlockByNumber", tag, False)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def set_automine(self, enabled: bool) -> None:
        self.rpc("evm_setAutomine", enabled)

    def send(self, to: str, value: int, sender: str | None = None, **fields: Any) -> str:
        tx = {"from": sender or self.accounts[0], "to": to, "value": hex(value)}
        tx.update(fields)
        return self.rpc("eth_sendTransaction", tx)

    def receipt(self, txid: str, timeout: float = 10.0) -> dict[str, Any]:
        return wait_for(
            lambda: self.rpc("eth_getTransactionReceipt", txid), timeout, f"receipt of {txid}"
        )

    def deploy_token(self, decimals: int = 6, sender: str | None = None) -> str:
        code = (CONTRACTS / "TestToken.bin").read_text().strip()
        args = abi_encode(["uint8"], [decimals]).hex()
        txid = self.rpc(
            "eth_sendTransaction",
            {"from": sender or self.accounts[0], "data": "0x" + code + args, "gas": hex(3_000_000)},
        )
        if not self._automining():
            self.mine()
        receipt = self.receipt(txid)
        assert receipt["status"] == "0x1", receipt
        return receipt["contractAddress"]

    def _automining(self) -> bool:
        return bool(self.rpc("anvil_getAutomine"))

    @staticmethod
    def token_call(function: str, types: list[str], values: list[Any]) -> str:
        return "0x" + selector(f"{function}({','.join(types)})") + abi_encode(types, values).hex()

    def token_mint(self, token: str, to: str, amount: int, sender: str | None = None) -> str:
        data = self.token_call("mint", ["address", "uint256"], [to, amount])
        return self.rpc(
            "eth_sendTransaction",
            {"from": sender or self.accounts[0], "to": token, "data": data, "gas": hex(100_000)},
        )

    def token_transfer(self, token: str, to: str, amount: int, sender: str | None = None) -> str:
        data = self.token_call("transfer", ["address", "uint256"], [to, amount])
        return self.rpc(
            "eth_sendTransaction",
            {"from": sender or self.accounts[0], "to": token, "data": data, "gas": hex(100_000)},
        )

    def token_balance(self, token: str, owner: str) -> int:
        data = self.token_call("balanceOf", ["address"], [owner])
        return int(self.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)


def anvil_binary() -> str | None:
    path = os.environ.get(ANVIL_ENV)
    return path or None
