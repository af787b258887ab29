"""Capped exponential backoff with jitter, for every adapter's retries (coming online,
command menus, the gateway)."""

from __future__ import annotations

import random


class Backoff:
    """Waits that double from `first` up to `cap`, each drawn from its upper half (so
    many bots, or many retries, don't fall into step); `reset` after a success."""

    def __init__(self, first: float, cap: float, *, rng: random.Random | None = None) -> None:
        self.first = first
        self.cap = cap
        self._next = first
        self._rng = rng or random.Random()  # jitter, not secrecy

    def next(self) -> float:
        """The next wait, in seconds."""
        ceiling = min(self._next, self.cap)
        self._next = min(self._next * 2, self.cap)
        return ceiling * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self._next = self.first
