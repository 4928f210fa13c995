"""The shipped unit file: Type=notify, state directory, hardening; parses with systemd."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "systemd" / "coinvoiced.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_unit_has_notify_state_and_hardening() -> None:
    d = directives()
    assert d["Type"] == ["notify"]
    assert d["StateDirectory"] == ["coinvoice"]
    assert d["Restart"] == ["on-failure"]
    assert d["WatchdogSec"] == ["30s"]
    for key in (
        "ProtectSystem",
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectHome",
        "PrivateDevices",
        "RestrictAddressFamilies",
        "SystemCallFilter",
    ):
        assert key in d, key
    assert d["ProtectSystem"] == ["strict"]
    assert d["CapabilityBoundingSet"] == [""]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies(tmp_path: Path) -> None:
    # verify checks that ExecStart exists; point it at this checkout's daemon entry point.
    daemon = Path(sys.executable).parent / "coinvoiced"
    text = UNIT.read_text().replace("/opt/coinvoice/.venv/bin/coinvoiced", str(daemon))
    unit = tmp_path / "coinvoiced.service"
    unit.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    problems = [line for line in result.stderr.splitlines() if "coinvoiced.service" in line]
    assert result.returncode == 0 and not problems, result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_security_exposure_is_low(tmp_path: Path) -> None:
    daemon = Path(sys.executable).parent / "coinvoiced"
    unit = tmp_path / "coinvoiced.service"
    unit.write_text(UNIT.read_text().replace("/opt/coinvoice/.venv/bin/coinvoiced", str(daemon)))
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    summary = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert summary, result.stdout + result.stderr
    score = float(summary[0].split(":")[1].split()[0])
    assert score <= 2.5, summary[0]
