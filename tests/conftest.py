"""Shared fixtures. Tests run the real daemon process over real gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
