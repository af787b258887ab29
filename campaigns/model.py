"""The plain values the core speaks in: who did something, and what to say back.

Adapters turn platform events into these and render these into platform calls;
nothing here knows about Telegram, Discord or the terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# The store's vocabulary, named here too so adapters need only the core's model.
from db.states import ActionKind as ActionKind
from db.states import ChatKind as ChatKind
from db.states import SupporterStatus as SupporterStatus

MAX_PAUSE_WEEKS = 12  # the longest /pause <weeks>, on every platform

PLATFORMS = ("telegram", "discord", "console")  # every chat platform, as stored
# A person or chat on a platform, "platform:address" (organisers, a dashboard account's
# chat). Telegram's group ids are negative; Discord's are snowflakes; the console's are
# names.
CHAT = re.compile(rf"(?P<platform>{'|'.join(PLATFORMS)}):(?P<address>-?[A-Za-z0-9_]{{1,64}})")


@dataclass(frozen=True, slots=True)
class Origin:
    """Who is talking to the bot, and from where.

    `chat` is the platform's address of the conversation (a private chat, a group,
    a channel). In a private chat `user` is the same person; in a group it is the
    member who pressed or typed.

    `organiser` is the adapter's word that this person may use the organiser
    commands from here, by the platform's rules (an id in the organiser list; on
    Discord, also a role, and only inside the charity's own server). What they may
    then do, and where, is the core's business.
    """

    platform: str
    chat: str
    kind: ChatKind = ChatKind.PRIVATE
    user: str | None = None
    organiser: bool = False
    # The language the platform says the person uses (Telegram's `language_code`,
    # Discord's locale), as it came: the core keeps only a language it has
    # (`campaigns.languages.normalise`).
    language: str | None = None

    @property
    def actor(self) -> str:
        """The address of the person acting: the member in a group, else the chat."""
        return self.user if self.kind is ChatKind.GROUP and self.user else self.chat

    @property
    def person(self) -> str:
        """The person acting as `platform:id`, the form of the organiser list and the
        audit log."""
        return f"{self.platform}:{self.actor}"


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a message: either a link (`url`) or a press that comes back to
    the core (`id`, a signed button id from `ButtonIds`)."""

    label: str
    url: str | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.id is None):
            raise ValueError("a button has exactly one of url and id")


@dataclass(frozen=True, slots=True)
class Statistic:
    """The one figure that says why an ask matters, with where it comes from."""

    figure: str
    sentence: str
    source: str
    url: str
    year: int | None  # when the source came out; None when it prints no date

    @property
    def dated(self) -> str:
        """What follows the source's name on a card: ", 2024", or nothing."""
        return f", {self.year}" if self.year else ""


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
    # the language of the words around the card ("Reminder", "Source"), which the
    # renderers take from `campaigns.wording`
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A small file sent with a message (the /mydata export)."""

    filename: str
    content: bytes


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
