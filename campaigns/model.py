"""The plain values the core speaks in: who did something, and what to say back.

Adapters turn platform events into these and render these into platform calls;
nothing here knows about Telegram, Discord or the terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

MAX_PAUSE_WEEKS = 12  # the longest /pause <weeks>, on every platform

PLATFORMS = ("telegram", "discord", "console")  # every chat platform, as stored
# A person or chat on a platform, "platform:address" (organisers, a dashboard account's
# chat). Telegram's group ids are negative; Discord's are snowflakes; the console's are
# names.
CHAT = re.compile(rf"(?P<platform>{'|'.join(PLATFORMS)}):(?P<address>-?[A-Za-z0-9_]{{1,64}})")


class ChatKind(StrEnum):
    """Where a message goes: one person's private chat, or a shared group or channel."""

    PRIVATE = "private"
    GROUP = "group"


class SupporterStatus(StrEnum):
    """Where a supporter stands. Only `active` supporters get the weekly ask."""

    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"  # unsubscribed with /stop
    GONE = "gone"  # blocked the bot, left, or can no longer be reached
    MEMBER = "member"  # known only from pressing a button in a subscribed group


class ActionKind(StrEnum):
    """What a supporter did about a prompt."""

    DONE = "done"
    SKIPPED = "skipped"
    OPENED = "opened"


@dataclass(frozen=True, slots=True)
class Origin:
    """Who is talking to the bot, and from where.

    `chat` is the platform's address of the conversation (a private chat, a group,
    a channel). In a private chat `user` is the same person; in a group it is the
    member who pressed or typed.
    """

    platform: str
    chat: str
    kind: ChatKind = ChatKind.PRIVATE
    user: str | None = None

    @property
    def actor(self) -> str:
        """The address of the person acting: the member in a group, else the chat."""
        return self.user if self.kind is ChatKind.GROUP and self.user else self.chat


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message: either a link (`url`) or an action (`action`, a button id)."""

    label: str
    url: str | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.action is None):
            raise ValueError("a button has exactly one of url and action")


@dataclass(frozen=True, slots=True)
class Statistic:
    """The one figure that says why an ask matters, with where it comes from."""

    figure: str
    sentence: str
    source: str
    url: str
    year: int


@dataclass(frozen=True, slots=True)
class AskCard:
    """The weekly ask, ready to render: what to do, why, and where to do it."""

    campaign: str
    campaign_title: str
    ask_id: str
    title: str
    ask: str
    topic: str
    statistic: Statistic
    link_label: str
    link_url: str
    prompt_id: int
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    """A small file sent with a message (the /mydata export)."""

    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Message:
    """An outgoing message: plain text (adapters escape it), optional ask card, buttons.

    `buttons` is a tuple of rows. Text is plain: an adapter that formats it must
    escape it first.
    """

    text: str = ""
    card: AskCard | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    attachment: Attachment | None = None

    def all_buttons(self) -> list[Button]:
        """Every button, row by row."""
        return [button for row in self.buttons for button in row]


@dataclass(frozen=True, slots=True)
class PressResult:
    """What a button press comes to: a short answer and, maybe, a new look for the message."""

    answer: str
    counted: bool = False
    edit: Message | None = None
    replies: tuple[Message, ...] = field(default_factory=tuple)
