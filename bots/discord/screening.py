"""What a DM to the Discord bot carries, and how often it is answered.

The bot can't delete another person's message in a DM. So it answers instead: the
report route (IWF, 999) for anything but plain words, where to get help for words. It
decides from the kind of thing sent, never by reading further, and keeps nothing.
"""

from __future__ import annotations

import re

import discord

# One answer per person this often: a flood of DMs can't eat the shared send pace.
DM_ANSWER_SECONDS = 10.0
# What makes a DM's words "a link": a URL scheme, www., or a Discord invite.
LINK = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,15}://|\bwww\.|\bdiscord(?:app)?\.(?:gg|com)/")
# The kinds of message a person writes; the rest are notices (a pin, a call).
WRITTEN = (discord.MessageType.default, discord.MessageType.reply)


def carries_media(message: discord.Message) -> bool:
    """Anything but plain words: an attachment (a voice message is one), a sticker, an
    embed, a forwarded message, a poll, or a link in the words."""
    return bool(
        message.attachments
        or message.stickers
        or message.embeds
        or message.message_snapshots
        or message.poll
        or LINK.search(message.content or "")
    )


class AnswerGate:
    """At most one answer per person every `seconds`; remembers only recent people."""

    def __init__(self, seconds: float = DM_ANSWER_SECONDS, remembered: int = 10_000) -> None:
        self.seconds = seconds
        self._last: dict[int, float] = {}  # user id -> when they were last answered
        self._prune_at = remembered

    def __len__(self) -> int:
        """How many people it remembers."""
        return len(self._last)

    def allow(self, user_id: int, now: float) -> bool:
        """Whether to answer this person now (and if so, remember that it did)."""
        last = self._last.get(user_id)
        if last is not None and now - last < self.seconds:
            return False
        if len(self._last) >= self._prune_at:  # forget the quiet ones, now and then
            self._last = {u: at for u, at in self._last.items() if now - at < self.seconds}
            self._prune_at = max(self._prune_at, 2 * len(self._last))
        self._last[user_id] = now
        return True
