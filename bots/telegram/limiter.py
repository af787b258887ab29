"""Spacing messages to each Telegram group, and waiting out a 429 only where the caller
asks to: PTB's `BaseRateLimiter`, implemented for how the engine paces.

PTB's own `AIORateLimiter` holds every request while one waits out a 429, then lets
them all go at once. With the engine's pace in front of it, requests that had
already taken their slots piled up behind the hold and left together, drawing the
next 429: measured in `bench/faults.py outage`, a cycle of a 429 every 1.2 seconds
after a minute's outage (187 × 429, the pace down to 25.7 a second). Here the
engine's sends pass `rate_limit_args=HAND_BACK`: their 429 goes straight back to the
engine, which pauses the platform's pace itself. Other calls (replies) wait a 429 out,
alone. (PTB drops a falsy `rate_limit_args`, so "no retries" can't be spelt 0.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

GROUPS_KEPT = 10_000  # spacing is remembered for this many recently used groups
HAND_BACK = "hand back a 429"  # rate_limit_args: raise RetryAfter at once


class GroupSpacing(BaseRateLimiter[str]):
    """At most `group_rate` messages per `group_period` to each group or channel; a 429
    waited out `retries` times, unless the call says `HAND_BACK`."""

    def __init__(self, group_rate: float, group_period: float, retries: int) -> None:
        self.group_rate = group_rate
        self.group_period = group_period
        self.retries = retries
        self._groups: OrderedDict[int | str, AsyncLimiter] = OrderedDict()

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def _spacing(self, group: int | str) -> AsyncLimiter:
        limiter = self._groups.pop(group, None) or AsyncLimiter(self.group_rate, self.group_period)
        self._groups[group] = limiter
        while len(self._groups) > GROUPS_KEPT:
            self._groups.popitem(last=False)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        retries = 0 if rate_limit_args == HAND_BACK else self.retries
        group = _group_of(data.get("chat_id"))
        attempt = 0
        while True:
            try:
                spacing = self._spacing(group) if group is not None else contextlib.nullcontext()
                async with spacing:
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                attempt += 1
                wait = exc.retry_after
                await asyncio.sleep((wait if isinstance(wait, int) else wait.total_seconds()) + 0.1)


def _group_of(chat_id: object) -> int | str | None:
    """A group, supergroup or channel (negative ids, or an @username), else None."""
    with contextlib.suppress(ValueError, TypeError):
        chat_id = int(chat_id)  # type: ignore[call-overload]
    if isinstance(chat_id, int):
        return chat_id if chat_id < 0 else None
    return chat_id if isinstance(chat_id, str) else None
