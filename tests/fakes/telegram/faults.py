"""The faults the fake Telegram shows on demand, as plain state the server consults.

- :class:`QueuedFault`: the next call(s) of one method fail, hang, or hang and then
  take effect (``fail_next``, ``hang_next``).
- :class:`Outage`: the whole API down for a while: every request, ``getMe`` and
  ``getUpdates`` included, answered with one 5xx, or (status 0) no connection at all.
- An unimplemented method, as a third-party emulator answers one (``unimplemented``).
- :class:`RandomFaults`: faults at given rates, reproducible from a seed, for
  benchmarks: a 500 (nothing sent), nginx's 502 page (nothing sent), or the message
  delivered and then the connection closed without an answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import ApiError

# What RandomFaults.draw() picks; also the keys of FakeTelegram.fault_counts.
HTTP_500 = "500"
HTTP_502 = "502"
DROP_AFTER = "drop_after"
OUTAGE = "outage"
UNIMPLEMENTED = "unimplemented"


@dataclass
class QueuedFault:
    """One injected fault for the next valid call of a method."""

    error: ApiError | None = None
    hang: float = 0.0
    takes_effect: bool = True


@dataclass
class Outage:
    """Every request answered with ``status`` (a 5xx), or dropped unanswered (0)."""

    status: int
    until: float | None  # time.monotonic(), or None: until end_outage()


@dataclass
class RandomFaults:
    """Each call of one of ``methods`` draws once: a 500, a 502, delivered-then-dropped,
    or nothing, at the given rates. The same seed gives the same sequence of draws."""

    rate_500: float = 0.0
    rate_502: float = 0.0
    rate_drop_after: float = 0.0
    methods: frozenset[str] = frozenset({"sendMessage"})
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rates = (self.rate_500, self.rate_502, self.rate_drop_after)
        if any(rate < 0 for rate in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")
        self._rng = random.Random(self.seed)  # reproducible faults, not secrecy

    def draw(self) -> str | None:
        """The fault for the next call, if any."""
        roll = self._rng.random()
        for kind, rate in (
            (HTTP_500, self.rate_500),
            (HTTP_502, self.rate_502),
            (DROP_AFTER, self.rate_drop_after),
        ):
            if roll < rate:
                return kind
            roll -= rate
        return None


class Dropped(Exception):
    """Close the connection without an answer (after the call took effect, or not)."""

    def __init__(self, *, delivered: bool) -> None:
        super().__init__("connection dropped")
        self.delivered = delivered
