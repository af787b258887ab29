"""Telegram's flood control, as the fake models it.

Telegram documents its broadcast limits only roughly: about 30 messages per
second overall, at most 20 messages per minute to one group, and about one
message per second to one private chat (short bursts pass). :class:`RateLimiter`
enforces those on message-sending methods when limits are on, and answers with
``retry_after`` = whole seconds until the window frees.

A message sent with ``allow_paid_broadcast`` (a paid broadcast: 0.1 Stars each)
ignores the 30 a second: it counts against the paid limit instead, up to 1,000
messages a second of every kind together. Unpaid messages still count against the
30 among themselves, so a supporter's reply during a paid send goes out free. The
per-chat limits hold for both. Paid messages are counted (:attr:`RateLimiter.paid`)
so a test can see what a send would have cost.

A call counts from when it reached Telegram: when it arrived (the kernel's receive
time, see :mod:`.arrival`) plus the latency the fake adds, not when the fake's own
event loop got round to it. Under load the fake takes requests in bunches (at 1,000
requests a second on 2 cores, up to a few hundred ms late), and counting then would
see bursts in messages that came evenly. Judged a little out of order as they are, a
call is counted against those that reached Telegram before it, as Telegram would.

Whatever the cause of a 429 (these limits or one a test injected), its
``retry_after`` is then held against the same scope, as Telegram holds a flood
wait: a request in that scope before the time is up is refused again and counted
in :attr:`RateLimiter.early_retries`, so tests can assert that a 429 was honoured.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

Scope = tuple[str, int | str]  # ("global", 0), ("paid", 0), ("chat", id) or ("method", name)
GLOBAL: Scope = ("global", 0)
PAID: Scope = ("paid", 0)


def is_message_method(method: str) -> bool:
    """Methods that put a message in a chat and so count against the broadcast limits."""
    lower = method.lower()
    if lower in ("sendchataction", "sendmessagedraft"):
        return False
    return lower.startswith(("send", "copymessage", "forwardmessage"))


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """Sliding windows (global, paid, per group) and a token bucket (per private chat)."""

    enabled: bool = False
    clock: Callable[[], float] = time.monotonic
    global_per_second: int = 30
    paid_per_second: int = 1000
    paid: int = 0  # messages admitted as paid broadcasts (0.1 Stars each)
    group_per_minute: int = 20
    private_burst: int = 3
    private_per_second: float = 1.0
    early_retries: int = 0
    # Requests that arrive this soon after a 429 was answered were already on their way
    # before the client could know: refused, but not counted as ignoring the 429.
    in_flight_grace: float = 0.1
    _sent: deque[float] = field(default_factory=deque)  # unpaid messages
    _all: deque[float] = field(default_factory=deque)  # every message, paid or not
    _groups: dict[int, deque[float]] = field(default_factory=dict)
    _private: dict[int, _Bucket] = field(default_factory=dict)
    _held: dict[Scope, float] = field(default_factory=dict)
    _held_since: dict[Scope, float] = field(default_factory=dict)

    def hold(self, scope: Scope, retry_after: int, now: float | None = None) -> None:
        """Remember a 429 sent for ``scope``: nothing in it may come back sooner (than
        ``retry_after`` from ``now``, when the refused call reached Telegram). Early
        retries are judged from when the 429 is answered: the clock's time now."""
        answered = self.clock()
        now = answered if now is None else now
        if self._held.get(scope, 0.0) <= now:
            self._held_since[scope] = answered
        self._held[scope] = max(self._held.get(scope, 0.0), now + retry_after)

    def admit(
        self,
        method: str,
        chat_id: int | None,
        chat_kind: str | None,
        *,
        paid: bool = False,
        now: float | None = None,
        arrived: float | None = None,
    ) -> int | None:
        """None if the call may go ahead (and count it), else the retry_after to answer.
        A ``paid`` message (``allow_paid_broadcast``) is held to the paid limit instead of
        the 30 a second. ``now``: when the call reached Telegram (see the server), by
        ``clock``; ``arrived``: when it came in, before any latency the fake adds (what
        says whether the client sent it after a 429 was answered); the clock's time now
        if not given."""
        now = self.clock() if now is None else now
        arrived = now if arrived is None else arrived
        scopes: list[Scope] = [("method", method.lower())]
        message = is_message_method(method)
        if message:
            scopes.append(PAID if paid else GLOBAL)
            if chat_id is not None:
                scopes.append(("chat", chat_id))
        for scope in scopes:
            until = self._held.get(scope, 0.0)
            if now < until:
                if arrived - self._held_since.get(scope, 0.0) > self.in_flight_grace:
                    self.early_retries += 1
                return _seconds(until - now)
        if not (self.enabled and message):
            if message and paid:
                self.paid += 1
            return None
        wait = self._wait(now, chat_id, chat_kind, paid)
        if wait is not None:
            scope, seconds = wait
            retry_after = _seconds(seconds)
            self.hold(scope, retry_after, now)
            return retry_after
        self._record(now, chat_id, chat_kind, paid)
        return None

    def _wait(
        self, now: float, chat_id: int | None, kind: str | None, paid: bool
    ) -> tuple[Scope, float] | None:
        _expire(self._sent, now - 1.0)
        _expire(self._all, now - 1.0)
        if _before(self._all, now) >= self.paid_per_second:
            return (PAID if paid else GLOBAL), self._all[0] + 1.0 - now
        if not paid and _before(self._sent, now) >= self.global_per_second:
            return GLOBAL, self._sent[0] + 1.0 - now
        if chat_id is None:
            return None
        if kind in ("group", "supergroup"):
            window = self._groups.setdefault(chat_id, deque())
            _expire(window, now - 60.0)
            if len(window) >= self.group_per_minute:
                return ("chat", chat_id), window[0] + 60.0 - now
        elif kind == "private":
            bucket = self._bucket(now, chat_id)
            if bucket.tokens < 1.0:
                return ("chat", chat_id), (1.0 - bucket.tokens) / self.private_per_second
        return None

    def _bucket(self, now: float, chat_id: int) -> _Bucket:
        bucket = self._private.setdefault(chat_id, _Bucket(float(self.private_burst), now))
        bucket.tokens = min(
            float(self.private_burst), bucket.tokens + (now - bucket.at) * self.private_per_second
        )
        bucket.at = now
        return bucket

    def _record(self, now: float, chat_id: int | None, kind: str | None, paid: bool) -> None:
        _insert(self._all, now)
        if paid:
            self.paid += 1
        else:
            _insert(self._sent, now)
        if chat_id is None:
            return
        if kind in ("group", "supergroup"):
            self._groups.setdefault(chat_id, deque()).append(now)
        elif kind == "private":
            self._bucket(now, chat_id).tokens -= 1.0


def _insert(window: deque[float], moment: float) -> None:
    """Keep a window in order of arrival (a call judged after a later one goes before it)."""
    if not window or window[-1] <= moment:
        window.append(moment)
    else:
        window.insert(bisect.bisect_right(window, moment), moment)


def _before(window: deque[float], moment: float) -> int:
    """How many in the window reached Telegram no later than `moment`."""
    if not window or window[-1] <= moment:
        return len(window)
    return bisect.bisect_right(window, moment)


def _expire(window: deque[float], before: float) -> None:
    while window and window[0] <= before:
        window.popleft()


def _seconds(delay: float) -> int:
    return max(1, math.ceil(delay - 1e-9))
