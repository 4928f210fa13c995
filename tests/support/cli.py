"""Running coinvoice-cli as a real subprocess against a test daemon."""

from __future__ import annotations

import os
import subprocess
import sys

from .daemon import Daemon

# A fixed POSIX zone one hour east of UTC, so local-time output is predictable without tzdata.
ENV = {**os.environ, "TZ": "CET-1"}
LOCAL_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+01:00"


def cli(daemon: Daemon | str, *args: str) -> subprocess.CompletedProcess[str]:
    """For a Daemon, the CLI finds the admin key in its data directory, as an operator's
    would; a plain address gives no credentials."""
    where = (
        ["--server", daemon]
        if isinstance(daemon, str)
        else ["--server", daemon.address, "--datadir", str(daemon.data_dir)]
    )
    return subprocess.run(
        [sys.executable, "-m", "coinvoice.cli", *where, *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=30,
        check=False,
    )


def ok(daemon: Daemon, *args: str) -> str:
    result = cli(daemon, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout
