"""Wall-clock time in integer microseconds (the unit of every stored timestamp)."""

import time

SECOND = 1_000_000


def now_us() -> int:
    return time.time_ns() // 1000
