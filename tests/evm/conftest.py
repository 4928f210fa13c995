"""Fixtures for tests against a real anvil node (binary from $COINVOICE_ANVIL, which
`make test` sets to the one `make setup` installs from npm)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .anvil import ANVIL_ENV, Anvil, anvil_binary


@pytest.fixture(scope="session")
def anvil_path() -> str:
    path = anvil_binary()
    if path is None:
        pytest.skip(f"${ANVIL_ENV} is not set: run `make test`, which installs anvil and sets it")
    return path


@pytest.fixture(scope="module")
def anvil(anvil_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """One anvil per test module (automine on); tests that change its mining mode or
    history put it back or use their own node."""
    node = Anvil(anvil_path, tmp_path_factory.mktemp("anvil")).start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def make_anvil(anvil_path: str, tmp_path: Path) -> Iterator[Callable[..., Anvil]]:
    """Private anvils for tests that reorg, restart or stop the node."""
    started: list[Anvil] = []

    def make(**kwargs: Any) -> Anvil:
        node = Anvil(anvil_path, tmp_path / f"node{len(started)}", **kwargs)
        started.append(node)
        return node.start()

    yield make
    for node in started:
        node.stop()
