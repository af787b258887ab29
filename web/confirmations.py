"""One-use confirmations for the dashboard's "Send now": the second, explicit press.

A send can't be taken back, so the schedule page's "Send now…" only shows what would
go out and to how many; the "Send to N supporters now" button on that page carries a
token that stands for exactly that request, for the account that was shown it, once,
for as long as the chat's own confirm buttons last (`organising.CONFIRM_SECONDS`).
CSRF already stops another site posting the form; the token also stops a confirm that
was never shown (a hand-made POST), a second press (a double click, the back button,
a reload) and one from another account. Kept in memory: a restart forgets them, and
a forgotten confirm sends nothing, which is the safe way to fail.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from campaigns import prompting
from campaigns.organising import CONFIRM_SECONDS

MAX_PENDING = 500  # organisers only; a bound so no one can grow this without end


@dataclass(frozen=True, slots=True)
class PendingSend:
    account: int  # the dashboard account (`UserRow.id`) that was shown it
    request: prompting.Request  # the ask resolved: "the next one" can't move meanwhile
    expires: float  # `time.monotonic()`


class SendConfirmations:
    """Tokens handed out with a confirmation page, each good for one send."""

    def __init__(self, seconds: float = CONFIRM_SECONDS) -> None:
        self.seconds = seconds
        self._pending: dict[str, PendingSend] = {}

    def offer(self, account: int, request: prompting.Request) -> str:
        """A new token for `request`, shown to `account`."""
        now = time.monotonic()
        kept = [(k, v) for k, v in self._pending.items() if v.expires > now]
        self._pending = dict(kept[-(MAX_PENDING - 1) :])  # the oldest go first
        token = secrets.token_urlsafe(18)
        self._pending[token] = PendingSend(account, request, now + self.seconds)
        return token

    def take(self, token: str, account: int) -> prompting.Request | None:
        """The request this token stands for, used up; None if it never was one, was
        used, has expired, or was shown to another account (then it stays used up:
        a token that leaked is no good to anyone)."""
        pending = self._pending.pop(token, None)
        if pending is None or pending.account != account or pending.expires < time.monotonic():
            return None
        return pending.request
