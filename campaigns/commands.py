"""Reading a typed command. Only the command and a few short arguments are kept;
anything else a supporter types is dropped on the spot."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_ARGS = 8
MAX_ARG_CHARS = 64
_NAME = re.compile(r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@[A-Za-z0-9_]{1,64})?$")


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: tuple[str, ...]


def parse(text: str | None, *, bot_username: str | None = None) -> Command | None:
    """A command such as `/start readme` or `/start@our_bot`; None for anything else.

    A command addressed to another bot (`/start@other_bot`) is not for us.
    """
    if not text or not text.startswith("/"):
        return None
    head, _, rest = text.strip().partition(" ")
    match = _NAME.match(head)
    if match is None:
        return None
    if "@" in head and bot_username and head.split("@", 1)[1].lower() != bot_username.lower():
        return None
    args = tuple(arg[:MAX_ARG_CHARS] for arg in rest.split()[:MAX_ARGS])
    return Command(match.group(1).lower(), args)


# A word alone in a message that works as its command, as SMS keywords do: someone who
# wants to leave types STOP and is not told to learn a slash command first.
PLAIN_WORDS = {"stop": "stop", "unsubscribe": "stop", "start": "start"}
_PLAIN_WORD_CHARS = 16  # longer text is never a plain word: not even normalised


def plain_word(text: str | None) -> Command | None:
    """`STOP`, `Unsubscribe`, ` start! `: the command a plain word stands for; None for
    any other text (which is then answered as free text and dropped)."""
    if not text or len(text) > _PLAIN_WORD_CHARS:
        return None
    word = unicodedata.normalize("NFKC", text).strip().rstrip(".!").strip().casefold()
    name = PLAIN_WORDS.get(word)
    return Command(name, ()) if name else None
