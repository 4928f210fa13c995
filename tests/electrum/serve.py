"""Run the regtest Electrum fixture on its own (for benchmarks and manual poking):

    python -m tests.electrum.serve [--port 0]

Prints the URL on one line, then serves until stdin closes or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .server import ElectrumServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ElectrumServer(port=args.port).start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(server.url, flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    server.close()


if __name__ == "__main__":
    main()
