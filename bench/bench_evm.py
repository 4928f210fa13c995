"""EVM watcher benchmark: block ingest, catch-up, address index memory. Prints figures;
asserts nothing.

    COINVOICE_ANVIL=.tools/.../anvil .venv/bin/python bench/bench_evm.py [--blocks 5]

- Ingest: blocks of 1,000 native transfers and 1,000 ERC-20 transfers (anvil with a large
  --gas-limit, mining off: fill the pool, then evm_mine), with 100,000 watched addresses
  in the index. Per block: the watcher's time from "block mined" to "block committed"
  (wake-up on newHeads, fetch, decode, match, receipts of the matching native transfers,
  store commit), next to fetching and orjson-decoding the same block raw from the same
  node over a websocket (one batch: the full block and its token logs). Two mixes:
  a few payments per block among unrelated traffic, and every transfer paying an invoice.
- Catch-up: the watcher stopped while 2,000 blocks are mined, then started: blocks per
  second until it is at the tip, next to fetching and decoding the same blocks raw in
  batches of the same size.
- Memory: RSS growth of an AddressIndex holding 1,000,000 watched addresses (measured in
  a fresh child process).

The watcher runs in this process inside a real Application (real sqlite store on a
temp dir, real PaymentProcessor), against a real anvil. The paid addresses belong to real
invoices; the index is topped up to 100,000 with random addresses nobody pays. Wall-clock
figures move with the machine's load (anvil shares the CPUs); "CPU in this process" also
counts the daemon's own work after each commit (event fan-out, logs, metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coinvoiced.app.application import Application  # noqa: E402
from coinvoiced.app.invoices import CreateRequest  # noqa: E402
from coinvoiced.chains.evm import EvmWatcher  # noqa: E402
from coinvoiced.chains.evm.decode import TRANSFER_TOPIC  # noqa: E402
from coinvoiced.chains.evm.rpc import MAX_MESSAGE_BYTES  # noqa: E402
from coinvoiced.chains.matcher import AddressIndex  # noqa: E402
from coinvoiced.config import parse  # noqa: E402

from tests.evm.anvil import Anvil  # noqa: E402
from tests.evm.flow import TOKEN, evm_config  # noqa: E402

TRANSFERS_PER_KIND = 1000
WATCHED = 100_000
CATCH_UP_BLOCKS = 2000
SEND_BATCH = 250


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(entries: int) -> None:
    """Runs in a fresh interpreter: RSS growth of the index alone."""
    before = rss_bytes()
    index = AddressIndex()
    for pk in range(1, entries + 1):  # keys and pks are owned by the index: they count
        index.add("eth", os.urandom(20), pk)
    print(rss_bytes() - before)


class Bench:
    def __init__(self, anvil: Anvil, workdir: Path) -> None:
        self.anvil = anvil
        self.workdir = workdir
        self.token = ""
        self.app: Application | None = None
        self.watcher: EvmWatcher | None = None
        self._reached: dict[int, asyncio.Event] = {}
        self.senders = anvil.accounts[1:]
        self._nonces: dict[str, int] = {}
        self.commit_seconds = 0.0  # time inside PaymentProcessor.blocks_connected

    # -- setup -- #

    async def setup(self) -> None:
        self.token = self.anvil.deploy_token(decimals=6)
        mints = [("eth_sendTransaction", [self._mint_tx(sender)]) for sender in self.senders]
        self.anvil.batch(mints)
        self.anvil.mine()
        raw = evm_config(self.workdir, self.anvil, token=self.token)
        raw["logging"]["level"] = "warning"
        raw["invoices"]["max_expiry_seconds"] = 30 * 86400
        raw["server"]["listen"] = "127.0.0.1:0"
        config = parse(raw, None)
        app = Application(config)
        await app.start()
        self.app = app
        self.watcher = next(w for w in app.watchers if isinstance(w, EvmWatcher))
        original = app.payments.blocks_connected

        # Wake the benchmark the moment the block it waits for is committed.
        async def connected(chain: str, blocks: Any) -> None:
            began = time.perf_counter()
            await original(chain, blocks)
            self.commit_seconds += time.perf_counter() - began
            height = blocks[-1][0]
            for target, event in list(self._reached.items()):
                if height >= target:
                    event.set()

        app.payments.blocks_connected = connected  # type: ignore[method-assign]

    def _mint_tx(self, sender: str) -> dict[str, Any]:
        data = Anvil.token_call("mint", ["address", "uint256"], [sender, 10**30])
        return {"from": sender, "to": self.token, "data": data, "gas": hex(100_000)}

    async def invoices(self, count: int, currency: str, amount: str) -> list[tuple[str, int]]:
        """`count` real invoices: (address, base units due)."""
        assert self.app is not None
        manager = self.app.invoices
        created = await asyncio.gather(
            *(
                manager.create(
                    CreateRequest(amount=amount, currency=currency, expires_in_seconds=86400)
                )
                for _ in range(count)
            )
        )
        return [(inv.options[0].address, inv.options[0].amount_due or 0) for inv in created]

    def pad_index(self, target: int) -> None:
        assert self.app is not None
        index = self.app.index
        pk = 10**9  # no such invoice: these addresses are never paid
        while index.count("anvil") < target:
            index.add("anvil", os.urandom(20), pk)
            pk += 1

    async def wait_processed(self, height: int) -> None:
        assert self.app is not None
        status = self.app.chains["anvil"].status
        if (status.processed_height or 0) >= height:
            return
        event = self._reached.setdefault(height, asyncio.Event())
        await asyncio.wait_for(event.wait(), 300)
        self._reached.pop(height, None)

    # -- filling blocks -- #

    def _next_nonce(self, sender: str) -> str:
        # Explicit nonces: a batch of sends from one account must not race for the same one.
        if sender not in self._nonces:
            self._nonces[sender] = int(
                self.anvil.rpc("eth_getTransactionCount", sender, "pending"), 16
            )
        nonce = self._nonces[sender]
        self._nonces[sender] = nonce + 1
        return hex(nonce)

    def fill_block(self, native: list[tuple[str, int]], tokens: list[tuple[str, int]]) -> None:
        """Queue the transfers in anvil's pool (mining is off)."""
        calls = []
        senders = self.senders
        for i, (to, value) in enumerate(native):
            sender = senders[i % len(senders)]
            tx = {"from": sender, "to": to, "value": hex(value), "gas": "0x5208"}
            tx["nonce"] = self._next_nonce(sender)
            calls.append(("eth_sendTransaction", [tx]))
        for i, (to, units) in enumerate(tokens):
            data = Anvil.token_call("transfer", ["address", "uint256"], [to, units])
            sender = senders[(i + len(native)) % len(senders)]
            tx = {"from": sender, "to": self.token, "data": data, "gas": hex(60_000)}
            tx["nonce"] = self._next_nonce(sender)
            calls.append(("eth_sendTransaction", [tx]))
        for i in range(0, len(calls), SEND_BATCH):
            self.anvil.batch(calls[i : i + SEND_BATCH])

    # -- raw baseline -- #

    async def raw_fetch(self, ws: Any, start: int, end: int) -> tuple[float, float]:
        """Fetch blocks start..end with full transactions and their token logs in one
        JSON-RPC batch over a websocket, and orjson-decode them: the floor any watcher
        pays. Returns (wall seconds, this process's CPU seconds)."""
        calls = [
            {"jsonrpc": "2.0", "id": h, "method": "eth_getBlockByNumber", "params": [hex(h), True]}
            for h in range(start, end + 1)
        ]
        logs_filter = {
            "fromBlock": hex(start),
            "toBlock": hex(end),
            "address": [self.token],
            "topics": [TRANSFER_TOPIC],
        }
        calls.append({"jsonrpc": "2.0", "id": 0, "method": "eth_getLogs", "params": [logs_filter]})
        began, cpu = time.perf_counter(), time.process_time()
        await ws.send(orjson.dumps(calls), text=True)
        decoded = orjson.loads(await ws.recv(decode=False))
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert len(decoded) == len(calls) and all("result" in r for r in decoded)
        return elapsed, cpu

    # -- phases -- #

    async def ingest(self, blocks: int, mix: str) -> tuple[dict[str, list[float]], int]:
        """Per block: the watcher's wall and CPU seconds (mined -> committed), of which the
        store commit; the raw fetch-and-decode wall and CPU seconds. And txs per block."""
        assert self.app is not None
        paying = 10 if mix == "few" else TRANSFERS_PER_KIND
        eth_invoices = await self.invoices(paying * blocks, "ETH", "0.001")
        token_invoices = await self.invoices(paying * blocks, TOKEN, "1")
        self.pad_index(WATCHED)
        figures: dict[str, list[float]] = {
            k: [] for k in ("wall", "cpu", "commit", "raw_wall", "raw_cpu")
        }
        tx_count = 0
        async with connect(self.anvil.ws_url, max_size=MAX_MESSAGE_BYTES) as ws:
            for b in range(blocks):
                # Paying transfers first, then unrelated ones to random (unwatched) addresses.
                others = TRANSFERS_PER_KIND - paying
                native = eth_invoices[b * paying : (b + 1) * paying]
                native += [(random_address(), 1) for _ in range(others)]
                tokens = token_invoices[b * paying : (b + 1) * paying]
                tokens += [(random_address(), 1) for _ in range(others)]
                self.fill_block(native, tokens)
                self.anvil.rpc("evm_mine")  # blocking on purpose: the loop waits with it
                height = self.anvil.block_number()
                self.commit_seconds = 0.0
                began, cpu = time.perf_counter(), time.process_time()
                await self.wait_processed(height)
                figures["wall"].append(time.perf_counter() - began)
                figures["cpu"].append(time.process_time() - cpu)
                figures["commit"].append(self.commit_seconds)
                tx_count = len(self.anvil.block(height)["transactions"])
                raws = [await self.raw_fetch(ws, height, height) for _ in range(3)]
                figures["raw_wall"].append(statistics.median(r[0] for r in raws))
                figures["raw_cpu"].append(statistics.median(r[1] for r in raws))
        return figures, tx_count

    async def catch_up(self) -> tuple[float, float, int]:
        """Returns (watcher blocks/s, raw blocks/s, blocks)."""
        assert self.app is not None and self.watcher is not None
        # Confirm what the ingest phase left confirming first: settling thousands of
        # invoices is not catch-up work.
        self.anvil.rpc("evm_mine")
        await self.wait_processed(self.anvil.block_number())
        await self.watcher.stop()
        start = self.anvil.block_number()
        payments = await self.invoices(20, "ETH", "0.001")
        per = CATCH_UP_BLOCKS // len(payments)
        for address, value in payments:  # a payment every `per` blocks, the rest empty
            self.fill_block([(address, value)], [])
            self.anvil.rpc("evm_mine")
            self.anvil.mine(per - 1)
        tip = self.anvil.block_number()
        behind = tip - start
        began = time.perf_counter()
        await self.watcher.start()
        await self.wait_processed(tip)
        watcher_rate = behind / (time.perf_counter() - began)
        batch = self.watcher._batch  # the size its adaptation settled on (bench only)
        async with connect(self.anvil.ws_url, max_size=MAX_MESSAGE_BYTES) as ws:
            began = time.perf_counter()
            for first in range(start + 1, tip + 1, batch):
                await self.raw_fetch(ws, first, min(tip, first + batch - 1))
            raw_rate = behind / (time.perf_counter() - began)
        return watcher_rate, raw_rate, behind

    async def close(self) -> None:
        if self.app is not None:
            await self.app.stop()


def random_address() -> str:
    return "0x" + os.urandom(20).hex()


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def run(args: argparse.Namespace) -> None:
    binary = args.anvil or os.environ.get("COINVOICE_ANVIL")
    if not binary:
        sys.exit("set COINVOICE_ANVIL or pass --anvil (make bench does)")
    with tempfile.TemporaryDirectory(prefix="coinvoice-bench-") as tmp:
        workdir = Path(tmp)
        anvil = Anvil(
            binary,
            workdir / "anvil",
            extra=["--no-mining", "--gas-limit", "1000000000", "--accounts", "21"],
        ).start()
        bench = Bench(anvil, workdir)
        try:
            await bench.setup()
            print(f"EVM watcher benchmark (anvil {anvil.http_url}, {os.cpu_count()} CPUs)")
            print(
                f"\nBlock ingest: {TRANSFERS_PER_KIND} native + {TRANSFERS_PER_KIND} ERC-20 "
                f"transfers per block, {WATCHED:,} watched addresses, {args.blocks} blocks"
            )
            mixes = (("few", "10 + 10 payments per block"), ("all", "every transfer pays"))
            for mix, title in mixes:
                figures, txs = await bench.ingest(args.blocks, mix)
                m = {k: statistics.median(v) for k, v in figures.items()}
                print(f"  {title} ({txs} txs/block), medians per block:")
                print(
                    f"    watcher, mined -> committed  {fmt_ms(m['wall'])} wall"
                    f"  ({fmt_ms(m['cpu']).strip()} CPU in this process)"
                )
                print(f"      of which store commit      {fmt_ms(m['commit'])} (PaymentProcessor)")
                print(
                    f"    raw fetch + orjson decode    {fmt_ms(m['raw_wall'])} wall"
                    f"  ({fmt_ms(m['raw_cpu']).strip()} CPU)"
                )
                print(
                    f"    ratio                        {m['wall'] / m['raw_wall']:8.2f}"
                    "   (target <= 1.25)"
                )
            watcher_rate, raw_rate, behind = await bench.catch_up()
            print(f"\nCatch-up: {behind} blocks behind (a payment every {behind // 20} blocks)")
            print(f"  watcher                      {watcher_rate:8.0f} blocks/s")
            print(f"  raw fetch + orjson decode    {raw_rate:8.0f} blocks/s")
            print(f"  ratio (raw / watcher)        {raw_rate / watcher_rate:8.2f}")
        finally:
            await bench.close()
            anvil.stop()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--memory-child",
        str(args.index_entries),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    growth = int(out.strip())
    print(f"\nMemory: AddressIndex with {args.index_entries:,} addresses")
    print(f"  RSS growth                   {growth / 2**20:8.1f} MiB   (target < 300 MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--anvil", default="")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--index-entries", type=int, default=1_000_000)
    parser.add_argument("--memory-child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
