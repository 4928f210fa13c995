"""coinvoice-cli finds its credentials by itself, manages keys, takes backups."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon

ENV = {k: v for k, v in os.environ.items() if not k.startswith("COINVOICE_")}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coinvoice.cli", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=30,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("cliadmin")).start()
    yield d
    d.stop()


def test_finds_admin_key_in_data_dir_and_manages_keys(daemon: Daemon, tmp_path: Path) -> None:
    where = ["--server", daemon.address]
    # From the directory that holds ./data, nothing needs to be said (like lncli).
    result = cli(*where, "info", cwd=daemon.data_dir.parent)
    assert result.returncode == 0, result.stderr
    created = cli(
        *where,
        "--datadir",
        str(daemon.data_dir),
        "keys",
        "create",
        "--permissions",
        "invoices:read",
        "--label",
        "shop",
    )
    assert created.returncode == 0, created.stderr
    secret = next(
        line.split()[1] for line in created.stdout.splitlines() if line.startswith("secret")
    )
    key_id = secret.split(".")[0]
    # The new key reads but cannot write.
    assert cli(*where, "--api-key", secret, "list", cwd=tmp_path).returncode == 0
    denied = cli(
        *where, "--api-key", secret, "create", "--amount", "1", "--currency", "ETH", cwd=tmp_path
    )
    assert denied.returncode == 7 and "PERMISSION_DENIED" in denied.stderr
    listed = cli(*where, "--datadir", str(daemon.data_dir), "keys", "list")
    assert key_id in listed.stdout and "shop" in listed.stdout
    revoked = cli(*where, "--datadir", str(daemon.data_dir), "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    after = cli(*where, "--api-key", secret, "list", cwd=tmp_path)
    assert after.returncode == 7 and "UNAUTHENTICATED" in after.stderr


def test_without_credentials_says_so(daemon: Daemon, tmp_path: Path) -> None:
    result = cli("--server", daemon.address, "list", cwd=tmp_path)
    assert result.returncode == 7
    assert "UNAUTHENTICATED" in result.stderr and "authorization" in result.stderr


def test_backup_command(daemon: Daemon, tmp_path: Path) -> None:
    where = ["--server", daemon.address, "--datadir", str(daemon.data_dir)]
    assert cli(*where, "create", "--amount", "1", "--currency", "ETH").returncode == 0
    target = tmp_path / "coinvoice-backup.sqlite"
    result = cli(*where, "backup", str(target))
    assert result.returncode == 0, result.stderr
    assert "sha256" in result.stdout
    with sqlite3.connect(target) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM invoices").fetchone()[0] >= 1
    assert not Path(str(target) + ".partial").exists()
