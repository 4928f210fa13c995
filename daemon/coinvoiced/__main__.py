"""`coinvoiced --config PATH`: load and check the config, run until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from . import __version__, logs
from .config import ConfigError, load
from .systemd_notify import notify, watchdog_loop

log = logging.getLogger("coinvoiced")


async def _serve(config_path: Path) -> int:
    from .app.application import Application

    config = load(config_path)
    logs.setup(config.log_level, config.log_format)
    app = Application(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await app.start()
    try:
        notify(f"READY=1\nSTATUS=serving on {config.server.listen}")
        watchdog = asyncio.create_task(watchdog_loop())
        await stop.wait()
        notify("STOPPING=1")
        watchdog.cancel()
        log.info("shutting down")
    finally:
        await app.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coinvoiced", description="coinvoice daemon")
    parser.add_argument("--config", required=True, type=Path, help="path to the TOML config")
    parser.add_argument("--check-config", action="store_true", help="validate the config and exit")
    parser.add_argument("--version", action="version", version=f"coinvoiced {__version__}")
    args = parser.parse_args(argv)
    try:
        if args.check_config:
            load(args.config)
            print(f"{args.config}: ok")
            return 0
        return asyncio.run(_serve(args.config))
    except ConfigError as exc:
        print(f"coinvoiced: config error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"coinvoiced: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
