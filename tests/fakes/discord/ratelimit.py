"""Rate limits as Discord applies and reports them.

Two layers, https://discord.com/developers/docs/topics/rate-limits:

* **Global**: at most N requests in any sliding one-second window per bot
  (Discord's default is 50). Interaction callbacks and interaction webhooks are
  exempt, as on Discord. Over it: 429 with ``X-RateLimit-Global: true`` and
  ``X-RateLimit-Scope: global``.
* **Per route bucket**: every response carries ``X-RateLimit-Limit``,
  ``-Remaining``, ``-Reset``, ``-Reset-After`` and ``-Bucket`` for its bucket
  (route template + major parameter). discord.py reads them and waits by itself
  when ``Remaining`` hits 0; a client that does not gets a 429 with scope ``user``.

Every 429 carries ``Via`` (discord.py treats a 429 without it as a Cloudflare ban)
and the body ``{"message": "You are being rate limited.", "retry_after": s,
"global": bool, "code": 0}``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ApiError

VIA = "1.1 google"


def bucket_hash(method: str, template: str) -> str:
    """A stable, opaque bucket id per route, like Discord's."""
    return hashlib.sha1(f"{method} {template}".encode(), usedforsecurity=False).hexdigest()[:32]


def rate_limited(retry_after: float, *, scope: str, bucket: str, limit: int) -> ApiError:
    retry_after = round(max(retry_after, 0.001), 3)
    headers = {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": scope,
    }
    if scope == "global":
        headers["X-RateLimit-Global"] = "true"
    extra = {"retry_after": retry_after, "global": scope == "global"}
    return ApiError(429, 0, "You are being rate limited.", headers=headers, extra=extra)


class GlobalLimiter:
    """At most ``per_second`` accepted requests in any sliding one-second window."""

    def __init__(self, per_second: int, clock: Callable[[], float]) -> None:
        self.per_second = per_second
        self._clock = clock
        self._accepted: deque[float] = deque()

    def check(self) -> None:
        now = self._clock()
        while self._accepted and self._accepted[0] <= now - 1.0:
            self._accepted.popleft()
        if len(self._accepted) >= self.per_second:
            retry_after = self._accepted[0] + 1.0 - now
            raise rate_limited(retry_after, scope="global", bucket="global", limit=self.per_second)
        self._accepted.append(now)


@dataclass
class _Window:
    started: float
    used: int


class BucketLimiter:
    """Fixed windows per (bucket, major parameter), reported in X-RateLimit-* headers."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}

    def take(self, bucket: str, major: str) -> dict[str, str]:
        """Count one request; return the headers to send, or raise a 429."""
        now = self._clock()
        current = self._windows.get((bucket, major))
        if current is None or now >= current.started + self.window:
            current = self._windows[(bucket, major)] = _Window(now, 0)
        reset_after = current.started + self.window - now
        if current.used >= self.limit:
            raise rate_limited(reset_after, scope="user", bucket=bucket, limit=self.limit)
        current.used += 1
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.limit - current.used),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }
