"""`coinvoiced-dev`: the development run, with a local anvil dev chain.

    coinvoiced-dev --config dev/coinvoiced.toml --anvil PATH [--block-time 2]
        Starts anvil for the config's first EVM chain whose ws_url is on loopback (unless
        something already listens on that port), keeping its chain in the data dir
        (--state, so invoices and payments survive a restart of both), then runs
        coinvoiced in this process and stops anvil when the daemon exits.

    coinvoiced-dev pay ADDRESS AMOUNT [--config ...]
        Sends AMOUNT of the chain's native coin (decimal, e.g. 0.05) to ADDRESS from
        anvil's first funded dev account.

    coinvoiced-dev mine [BLOCKS] [--config ...]
        Mines blocks on the dev chain (confirmations on demand).

Development only: anvil's dev accounts are public knowledge.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import __main__ as daemon_main
from .config import ChainConfig, Config, ConfigError, load
from .domain.errors import InvalidArgument
from .domain.money import parse_amount

log = logging.getLogger("coinvoiced.devrun")

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_CONFIG = Path("dev/coinvoiced.toml")


class DevError(Exception):
    pass


def _dev_chain(config: Config) -> tuple[ChainConfig, str, int]:
    """The first EVM chain served on loopback: (chain, host, port)."""
    for chain in config.chains:
        if chain.kind != "evm":
            continue
        url = urlparse(chain.ws_url)
        if url.hostname in LOOPBACK:
            return chain, url.hostname or "127.0.0.1", url.port or 8545
    raise DevError("no EVM chain with a loopback ws_url in the config: nothing to run anvil for")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise DevError(f"{method}: {reply['error'].get('message', reply['error'])}")
    return reply["result"]


def _http_url(host: str, port: int) -> str:
    return f"http://{'[::1]' if host == '::1' else host}:{port}"


def _start_anvil(
    binary: str, chain: ChainConfig, host: str, port: int, data_dir: Path, block_time: int
) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        binary,
        "--host",
        "127.0.0.1" if host == "localhost" else host,
        "--port",
        str(port),
        "--chain-id",
        str(chain.chain_id),
        "--state",
        str(data_dir / "anvil-state.json"),
    ]
    if block_time > 0:
        # Mixed: a transaction is mined at once, and an empty block follows every
        # block_time seconds, so confirmations come without anyone mining by hand.
        args += ["--block-time", str(block_time), "--mixed-mining"]
    log_path = data_dir / "anvil.log"
    with log_path.open("ab") as out:
        # Own session: Ctrl-C stops the daemon first; we stop anvil after it, cleanly
        # (SIGTERM makes anvil write its --state file).
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = _http_url(host, port)
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise DevError(f"anvil exited with {proc.returncode}; see {log_path}")
        try:
            if int(_rpc(url, "eth_chainId"), 16) == chain.chain_id:
                break
        except (OSError, DevError, ValueError):
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            raise DevError(f"anvil did not answer on {url} within 20s; see {log_path}")
        time.sleep(0.1)  # polling a process we just started for readiness
    print(f"coinvoiced-dev: anvil (chain {chain.chain_id}) on {url}, log {log_path}")
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="coinvoiced-dev", description="run coinvoiced with a local anvil dev chain"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--anvil", default="", help="path to the anvil binary (default: $PATH)")
    parser.add_argument(
        "--block-time", type=int, default=2, help="seconds between empty blocks; 0: only on tx"
    )
    args = parser.parse_args(argv)
    config = load(args.config)
    chain, host, port = _dev_chain(config)
    proc: subprocess.Popen[bytes] | None = None
    if _listening(host, port):
        print(f"coinvoiced-dev: using the node already listening on {host}:{port}")
    else:
        binary = args.anvil or shutil.which("anvil")
        if not binary:
            raise DevError("anvil not found: pass --anvil PATH (make run does)")
        proc = _start_anvil(binary, chain, host, port, config.data_dir, args.block_time)
    try:
        return daemon_main.main(["--config", str(args.config)])
    finally:
        if proc is not None:
            _stop(proc)


def _node_url(config_path: Path) -> tuple[ChainConfig, str]:
    chain, host, port = _dev_chain(load(config_path))
    return chain, _http_url(host, port)


def pay(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coinvoiced-dev pay")
    parser.add_argument("address")
    parser.add_argument("amount", help="decimal amount of the native coin, e.g. 0.05")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    chain, url = _node_url(args.config)
    native = next((a for a in chain.assets if a.contract is None), None)
    if native is None:
        raise DevError(f"chain {chain.name} has no native asset configured")
    try:
        value = parse_amount(args.amount, native.decimals, "amount")
    except InvalidArgument as exc:
        raise DevError(str(exc)) from None
    sender = _rpc(url, "eth_accounts")[0]
    txid = _rpc(
        url, "eth_sendTransaction", {"from": sender, "to": args.address, "value": hex(value)}
    )
    print(f"sent {args.amount} {native.code} to {args.address}: {txid}")
    return 0


def mine(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coinvoiced-dev mine")
    parser.add_argument("blocks", nargs="?", type=int, default=1)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    args = parser.parse_args(argv)
    _, url = _node_url(args.config)
    _rpc(url, "anvil_mine", hex(args.blocks))
    print(f"mined {args.blocks} block(s); tip {int(_rpc(url, 'eth_blockNumber'), 16)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"pay": pay, "mine": mine}
    try:
        if argv and argv[0] in commands:
            return commands[argv[0]](argv[1:])
        return run(argv)
    except ConfigError as exc:
        print(f"coinvoiced-dev: config error: {exc}", file=sys.stderr)
        return 2
    except (DevError, OSError) as exc:
        print(f"coinvoiced-dev: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
