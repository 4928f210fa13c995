"""Fixtures for the Electrum tests: a regtest Electrum server (tests/electrum/server.py)
per test, and daemons whose regtest chain points at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon

from .server import ElectrumServer


@pytest.fixture
def electrum() -> Iterator[ElectrumServer]:
    server = ElectrumServer().start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(config_for: Callable[[Path], dict[str, Any]], name: str = "daemon") -> Daemon:
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        daemon = Daemon(workdir, config_for(workdir))
        started.append(daemon)
        return daemon.start()

    yield make
    for daemon in started:
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.stop()
