"""Fixtures for the Electrum tests: a regtest Electrum server (tests/electrum/server.py)
per test, and daemons whose regtest chain points at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import ElectrumServer


@pytest.fixture
def electrum() -> Iterator[ElectrumServer]:
    server = ElectrumServer().start()
    try:
        yield server
    finally:
        server.close()
