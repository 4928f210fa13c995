"""Shared fixtures. Tests run the real daemon process over real gRPC."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """A running coinvoiced with the base test config (no chain nodes needed)."""
    d = Daemon(tmp_path).start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons with a config built for their work dir; stops them all at the end."""
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
