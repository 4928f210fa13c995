"""Deposit addresses derived ahead of use, in a worker process.

BIP32 derivation costs ~0.1 ms of pure-Python CPU per address (bip_utils). Under
load that competes for the GIL with the gRPC server, so each chain keeps a
window of upcoming addresses (by derivation index) that a worker process fills
in the background. Taking an address is then a dict pop; an index not yet in
the window is derived inline, so correctness never depends on the pool.

Derivation is deterministic: the pool only caches, it never decides which index
an invoice gets (the store allocates indexes transactionally).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from ..config import ChainConfig
from .derivation import DerivedAddress, EvmDeriver, UtxoDeriver
from .registry import Chain

log = logging.getLogger(__name__)

WINDOW = 2048  # addresses kept ready per chain
BATCH = 512  # addresses derived per worker call


@functools.lru_cache(maxsize=16)
def _deriver(kind: str, xpub: str, network: str, script_type: str = "") -> EvmDeriver | UtxoDeriver:
    return EvmDeriver(xpub) if kind == "evm" else UtxoDeriver(xpub, network, script_type or None)


def derive_batch(
    kind: str, xpub: str, network: str, start: int, count: int, script_type: str = ""
) -> list[DerivedAddress]:
    """Runs in the worker process."""
    deriver = _deriver(kind, xpub, network, script_type)
    return [deriver.derive(i) for i in range(start, start + count)]


class AddressPool:
    def __init__(self, chains: dict[str, Chain], workers: int = 1) -> None:
        self._chains = chains
        self._ready: dict[str, dict[int, DerivedAddress]] = {name: {} for name in chains}
        self._ahead: dict[str, int] = {}  # next index not yet requested, per chain
        self._refilling: set[str] = set()
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, next_indexes: dict[str, int]) -> None:
        if self._workers > 0:
            # spawn, not fork: the daemon has threads (sqlite, gRPC) that fork would copy.
            self._executor = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        for name, index in next_indexes.items():
            self._top_up(name, index)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def take(self, chain: str, index: int) -> DerivedAddress:
        """The address at `index` (thread-safe: called from the store's writer thread)."""
        ready = self._ready[chain].pop(index, None)
        return ready if ready is not None else self._chains[chain].derive(index)

    def used(self, chain: str, index: int) -> None:
        """Index `index` was handed out: top the window up if it runs low."""
        ready = self._ready[chain]
        if len(ready) > 2 * WINDOW:  # leftovers of indexes derived inline while we lagged
            for stale in [i for i in ready if i <= index]:
                del ready[stale]
        self._top_up(chain, index + 1)

    def _top_up(self, chain: str, next_needed: int) -> None:
        if self._executor is None or chain in self._refilling:
            return
        ahead = max(self._ahead.get(chain, next_needed), next_needed)
        self._ahead[chain] = ahead
        if ahead - next_needed >= WINDOW - BATCH:
            return
        self._refilling.add(chain)
        task = asyncio.create_task(self._refill(chain, ahead, next_needed + WINDOW - ahead))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refill(self, chain: str, start: int, count: int) -> None:
        config: ChainConfig = self._chains[chain].config
        loop = asyncio.get_running_loop()
        try:
            while count > 0 and self._executor is not None:
                n = min(BATCH, count)
                batch = await loop.run_in_executor(
                    self._executor,
                    derive_batch,
                    config.kind,
                    config.xpub,
                    config.network,
                    start,
                    n,
                    config.script_type,
                )
                ready = self._ready[chain]
                for offset, address in enumerate(batch):
                    ready[start + offset] = address
                start += n
                count -= n
                self._ahead[chain] = start
        except Exception:
            log.exception("address pre-derivation failed; deriving inline", extra={"chain": chain})
        finally:
            self._refilling.discard(chain)
