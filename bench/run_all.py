"""Run every benchmark in bench/ in turn (`make bench`). Each prints its own figures next to
the baseline it is compared with, measured in the same run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_core.py", "bench_evm.py", "bench_electrum.py", "bench_callbacks.py"]


def main() -> int:
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / name)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
