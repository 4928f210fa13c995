"""Run the real coinvoiced process for a test: its own config, data dir and port."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
from coinvoice.v1 import invoice_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .util import free_port, wait_for

ABANDON_ETH_XPUB = "xpub6DCoCpSuQZB2jawqnGMEPS63ePKWkwWPH4TU45Q7LPXWuNd8TMtVxRrgjtEshuqpK3mdhaWHPFsBngh5GFZaM6si3yZdUsT8ddYM3PwnATt"  # noqa: E501
ABANDON_BTC_VPUB = "vpub5Y6cjg78GGuNLsaPhmYsiw4gYX3HoQiRBiSwDaBXKUafCt9bNwWQiitDk5VZ5BVxYnQdwoTyXSs2JHRPAgjAvtbBrf8ZhDYe2jWAqvZVnsc"  # noqa: E501


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def render_toml(config: dict[str, Any]) -> str:
    """Just enough TOML writing for test configs (tables, arrays of tables, scalars)."""
    lines: list[str] = []

    def table(prefix: str, data: dict[str, Any]) -> None:
        scalars = {
            k: v
            for k, v in data.items()
            if not isinstance(v, dict | list)
            or (isinstance(v, list) and not (v and isinstance(v[0], dict)))
        }
        for key, value in scalars.items():
            lines.append(f"{_key(key)} = {toml_value(value)}")
        for key, value in data.items():
            name = f"{prefix}.{_key(key)}" if prefix else _key(key)
            if isinstance(value, dict):
                lines.append(f"\n[{name}]")
                table(name, value)
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append(f"\n[[{name}]]")
                    table(name, item)

    table("", config)
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if key.replace("_", "").isalnum() else toml_value(key)


def base_config(data_dir: Path, port: int) -> dict[str, Any]:
    """A config with one EVM chain (ETH) and one regtest Electrum chain (BTC); no node needs
    to run for invoice-only tests."""
    return {
        "profile": "test",
        "server": {"listen": f"127.0.0.1:{port}", "grace_seconds": 2},
        "storage": {"data_dir": str(data_dir)},
        "logging": {"level": "info"},
        # Tests create invoices in bursts; the rate limit has its own test.
        "security": {"create_invoice_per_minute": 1_000_000, "create_invoice_burst": 100_000},
        "invoices": {"default_expiry_seconds": 900, "monitoring_window_seconds": 3600},
        "fiat": {"USD": 2, "EUR": 2},
        "rates": {"providers": ["fixed"], "fixed": {"ETH/USD": "3000", "BTC/USD": "60000"}},
        "chains": [
            {
                "name": "anvil",
                "kind": "evm",
                "chain_id": 31337,
                "ws_url": "ws://127.0.0.1:1",
                "required_confirmations": 2,
                "xpub": ABANDON_ETH_XPUB,
                "assets": [{"code": "ETH", "decimals": 18}],
            },
            {
                "name": "regtest",
                "kind": "electrum",
                "network": "regtest",
                "servers": ["tcp://127.0.0.1:1"],
                "required_confirmations": 1,
                "xpub": ABANDON_BTC_VPUB,
                "assets": [{"code": "BTC", "decimals": 8}],
            },
        ],
    }


class _AuthMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <key>` to every call of a channel."""

    def __init__(self, key: str) -> None:
        self._metadata = ("authorization", f"Bearer {key}")

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._metadata]
        return (
            details._replace(metadata=metadata)
            if hasattr(details, "_replace")
            else _Details(
                details.method,
                details.timeout,
                metadata,
                details.credentials,
                details.wait_for_ready,
                details.compression,
            )
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


class _Details(
    collections.namedtuple(
        "_Details",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


def authed_channel(address: str, key: str) -> grpc.Channel:
    return grpc.intercept_channel(grpc.insecure_channel(address), _AuthMetadata(key))


class Daemon:
    """One coinvoiced process. start() waits until health says SERVING."""

    def __init__(
        self, workdir: Path, config: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = config or base_config(workdir / "data", self.port)
        self.config["server"]["listen"] = f"127.0.0.1:{self.port}"
        self.config_path = workdir / "coinvoiced.toml"
        self.log_path = workdir / "daemon.log"
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> None:
        self.config_path.write_text(render_toml(self.config))

    def start(self, timeout: float = 20.0) -> Daemon:
        self.write_config()
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coinvoiced", "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        wait_for(self._serving, timeout, f"coinvoiced to serve (log: {self.log_path})")
        return self

    def _serving(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"coinvoiced exited {self.proc.returncode}: {self.log()}")
        with grpc.insecure_channel(self.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return reply.status == health_pb2.HealthCheckResponse.SERVING

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def data_dir(self) -> Path:
        return Path(self.config["storage"]["data_dir"])

    @property
    def admin_key(self) -> str:
        """The admin key the daemon wrote on first start (what coinvoice-cli finds)."""
        return (self.data_dir / "admin.key").read_text().strip()

    def connect(self, key: str | None = None) -> grpc.Channel:
        """A new channel that authenticates with `key` (default: the admin key)."""
        return authed_channel(self.address, key or self.admin_key)

    def channel(self) -> grpc.Channel:
        if self._channel is None:
            self._channel = self.connect()
        return self._channel

    @property
    def invoices(self) -> invoice_pb2_grpc.InvoiceServiceStub:
        return invoice_pb2_grpc.InvoiceServiceStub(self.channel())

    @property
    def node(self) -> invoice_pb2_grpc.NodeServiceStub:
        return invoice_pb2_grpc.NodeServiceStub(self.channel())

    def _close_channel(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        self._close_channel()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        self._close_channel()
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)
