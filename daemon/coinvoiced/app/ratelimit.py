"""Token buckets keyed by a string (a peer address, a key id)."""

from __future__ import annotations

import time


class RateLimiter:
    """`rate_per_minute` tokens per minute, up to `burst` saved up, per key."""

    def __init__(self, rate_per_minute: int, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate_per_minute / 60.0
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    def _level(self, key: str, now: float) -> float:
        tokens, stamp = self._buckets.get(key, (self._burst, now))
        return min(self._burst, tokens + (now - stamp) * self._rate)

    def allow(self, key: str) -> bool:
        """Take one token if there is one."""
        now = time.monotonic()
        tokens = self._level(key, now)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()  # bounded memory: forgetting is the safe direction
        self._buckets[key] = (tokens - 1, now)
        return True

    def exhausted(self, key: str) -> bool:
        """True when `key` has no token left (without taking one)."""
        return key in self._buckets and self._level(key, time.monotonic()) < 1
