"""Button ids: one namespaced, signed scheme on every platform.

An id looks like `cb1:done:42:Xy3...` (scheme version, verb, argument, signature).
The signature is an HMAC over verb and argument with a key derived from the bot's
secret for button ids alone, so a forged or altered id is refused before anything
else looks at it. Ids stay well
inside Telegram's 64 bytes and Discord's 100 characters.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

from campaigns.keys import BUTTON_IDS, derive_key

PREFIX = "cb1"
MAX_BYTES = 64
_SIGNATURE_CHARS = 16
_ARGUMENT = re.compile(r"[A-Za-z0-9_-]{1,32}")


class Verb(StrEnum):
    """What a button does."""

    DONE = "done"
    SKIP = "skip"
    TOPIC = "topic"  # toggle one topic
    TOPICS_ALL = "topics-all"
    FORGET = "forget"  # confirm erasure
    KEEP = "keep"  # cancel erasure
    SEND = "send"  # an organiser confirms a send
    CANCEL = "cancel"  # an organiser cancels a send
    CAMPAIGN = "campaign"  # join or leave one campaign (its argument: a short tag of the slug)
    POLL = "poll"  # answer an outcome poll (its argument: `<poll prompt id>-<answer index>`)
    LANGUAGE = "language"  # choose the language the bot writes in (its argument: the code)


@dataclass(frozen=True, slots=True)
class ButtonId:
    verb: Verb
    argument: str


class ButtonIds:
    """Makes and checks button ids with one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the button secret must be at least 16 bytes")
        self._key = derive_key(secret, BUTTON_IDS)

    def _sign(self, verb: str, argument: str) -> str:
        digest = hmac.new(self._key, f"{verb}:{argument}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_SIGNATURE_CHARS]

    def make(self, verb: Verb, argument: str | int = "-") -> str:
        argument = str(argument)
        if not _ARGUMENT.fullmatch(argument):
            raise ValueError(f"bad button argument {argument!r}")
        value = f"{PREFIX}:{verb.value}:{argument}:{self._sign(verb.value, argument)}"
        assert len(value.encode()) <= MAX_BYTES
        return value

    def read(self, value: str) -> ButtonId | None:
        """The verb and argument of a genuine id; None for anything forged or malformed."""
        if not isinstance(value, str) or len(value.encode("utf-8", "replace")) > MAX_BYTES:
            return None
        parts = value.split(":")
        if len(parts) != 4 or parts[0] != PREFIX:
            return None
        _, verb, argument, signature = parts
        if not _ARGUMENT.fullmatch(argument):
            return None
        expected = self._sign(verb, argument).encode()
        if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected):
            return None
        try:
            return ButtonId(Verb(verb), argument)
        except ValueError:
            return None
