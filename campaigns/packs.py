"""Campaign packs: TOML files that hold a campaign and its ordered asks.

A pack is validated on load. A broken pack raises `PackError` with a message that
names the file, the ask and the field, so an organiser can fix it in one go.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from campaigns.languages import ENGLISH, LANGUAGES
from db.states import AfterLast

BUNDLED_PACKS = Path(__file__).parent / "packs"

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SLUG = r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"
TOPIC = r"^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$"  # fits in a button id
SOURCE_CODE = r"^[a-z0-9][a-z0-9_-]{0,63}$"  # what a Telegram deep link can carry, lowercased
OTHER_SOURCE = "other"
MAX_ASK_CHARS = 400  # about what fits on a phone screen without scrolling
MAX_WELCOME_MESSAGES = 3
MAX_POLL_ANSWERS = 5
YEAR = r"\b(?:19|20)\d\d\b"  # a year named in a statistic's period


def iana_zone(value: str) -> str:
    """`value` if it names an IANA time zone (for packs and settings alike)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone (try 'Europe/London')") from None
    return value


class PackError(ValueError):
    """A pack file that cannot be used, with every problem spelled out."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"{self.path}: {len(self.problems)} problem(s)"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def _clean_text(value: str) -> str:
    """Normalise Unicode and refuse control characters that would garble a chat."""
    value = unicodedata.normalize("NFC", value).strip()
    for char in value:
        if unicodedata.category(char) == "Cc" and char not in "\n":
            raise ValueError(f"contains a control character (U+{ord(char):04X})")
    return value


Text = Annotated[str, AfterValidator(_clean_text)]


_URL = TypeAdapter(HttpUrl)


def _https(value: str) -> str:
    try:
        url = _URL.validate_python(value)
    except ValidationError:
        raise ValueError(f"{value[:80]!r} is not a web link") from None
    if url.scheme != "https":
        raise ValueError("must be an https:// link")
    return str(url)


HttpsUrl = Annotated[str, AfterValidator(_https)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Schedule(Strict):
    """When the weekly ask goes out, in the campaign's own time zone."""

    weekday: str = Field(description="Day of the week, such as 'tuesday'.")
    time: time
    timezone: str = Field(description="IANA time zone, such as 'Europe/London'.")
    grace_hours: float = Field(6.0, ge=0, le=72)
    reminder_days: int | None = Field(
        None, ge=1, le=6, description="Days after the ask to remind; leave out for no reminder."
    )

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        value = value.lower()
        if value not in WEEKDAYS:
            raise ValueError(f"must be one of {', '.join(WEEKDAYS)}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return iana_zone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _source_code(value: str) -> str:
    from campaigns.deeplinks import INVITE_PREFIX  # start links read `i_…` as an invite

    if value == OTHER_SOURCE:
        raise ValueError(f"{OTHER_SOURCE!r} is kept for codes nobody declared; choose another")
    if value.startswith(INVITE_PREFIX) or value == "invite":
        raise ValueError(f"'invite' and codes starting {INVITE_PREFIX!r} are kept for invite links")
    return value


SourceCode = Annotated[str, Field(pattern=SOURCE_CODE), AfterValidator(_source_code)]


class AskLink(Strict):
    """The link where a supporter does the ask (the button under it)."""

    label: Annotated[Text, Field(min_length=1, max_length=40)]
    url: HttpsUrl


class WelcomeMessage(Strict):
    """One message of a campaign's welcome series, some days after a supporter joins."""

    after_days: int = Field(ge=1, le=14, description="Days after joining the campaign.")
    text: Annotated[Text, Field(min_length=1, max_length=600)]
    link: AskLink | None = None


class CampaignTranslation(Strict):
    """A campaign's words in another language the bot speaks (`[campaign.translations.cy]`):
    its title and description, and its welcome series, one text for each message in
    order (the days and links stay the campaign's), and, if it likes, one label for each
    message's link, in the same order ("" for a message without a link, or to keep the
    campaign's label). A field left out stays as the campaign has it, for a supporter
    reading that language."""

    title: Annotated[Text, Field(min_length=1, max_length=80)] | None = None
    description: Annotated[Text, Field(min_length=1, max_length=600)] | None = None
    welcome: list[Annotated[Text, Field(min_length=1, max_length=600)]] | None = None
    welcome_link_labels: list[Annotated[Text, Field(max_length=40)]] | None = None


def _welcome_labels(code: str, labels: list[str] | None, welcome: list[WelcomeMessage]) -> None:
    """A translation's link labels line up with the welcome series: one a message, and
    none ("") for a message without a link."""
    if labels is None:
        return
    where = f"translations.{code}.welcome_link_labels"
    if len(labels) != len(welcome):
        raise ValueError(f'{where}: give one for each of the welcome messages ("" for none)')
    for number, (label, message) in enumerate(zip(labels, welcome, strict=True), start=1):
        if label and message.link is None:
            raise ValueError(f'{where}: welcome message {number} has no link: give ""')


class Campaign(Strict):
    slug: str = Field(pattern=SLUG)
    title: Annotated[Text, Field(min_length=1, max_length=80)]
    description: Annotated[Text, Field(min_length=1, max_length=600)]
    schedule: Schedule
    # The "how they found us" codes this campaign's links and posters use (/start <code>);
    # any other code a supporter sends is counted as 'other', never stored as typed.
    sources: list[SourceCode] = Field(default_factory=list, max_length=200)
    # What the weekly run does once every ask has gone out: start again, or stop.
    after_last: AfterLast = AfterLast.REPEAT
    # Up to three messages over a new supporter's first days, in order.
    welcome: list[WelcomeMessage] = Field(default_factory=list, max_length=MAX_WELCOME_MESSAGES)
    # Each weekly ask says how many supporters did last week's ("312 supporters did
    # last week's ask."), never a count under 10 (`campaigns.impact`).
    show_count: bool = False
    # The campaign in other languages the bot speaks, by language code (`cy`).
    translations: dict[str, CampaignTranslation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _translated(self) -> Campaign:
        for code, words in self.translations.items():
            if code == ENGLISH or code not in LANGUAGES:
                others = ", ".join(c for c in LANGUAGES if c != ENGLISH) or "none yet"
                raise ValueError(f"translations.{code}: the bot speaks no such language ({others})")
            if words.welcome is not None and len(words.welcome) != len(self.welcome):
                raise ValueError(
                    f"translations.{code}.welcome: give one for each of the welcome messages"
                )
            _welcome_labels(code, words.welcome_link_labels, self.welcome)
        return self

    @field_validator("welcome")
    @classmethod
    def _welcome_in_order(cls, value: list[WelcomeMessage]) -> list[WelcomeMessage]:
        days = [message.after_days for message in value]
        if days != sorted(set(days)):
            raise ValueError("each message's after_days must be later than the one before")
        return value


class StatisticSpec(Strict):
    """The one figure that says why an ask matters, and where it was published.

    The card shows `year` after the source's name ("Source: IWF, One Step Ahead,
    2024"), so it is the year the source came out, not the year the figure counts:
    a briefing published in 2024 may count 2023, a span of years, or a month it
    does not date. `period` records what the figure covers; it is not shown on its
    own, so every year it names must also be in the sentence.
    """

    figure: Annotated[Text, Field(min_length=1, max_length=40)]
    sentence: Annotated[Text, Field(min_length=1, max_length=280)]
    source: Annotated[Text, Field(min_length=1, max_length=120)]
    url: HttpsUrl
    year: int | None = Field(
        None,
        ge=1990,
        le=2100,
        description="The year the source was published; leave out if it prints no date.",
    )
    period: Annotated[Text, Field(min_length=1, max_length=80)] | None = Field(
        None, description="What time the figure covers, such as '2023' or '1996 to 2018'."
    )

    @model_validator(mode="after")
    def _period_in_sentence(self) -> StatisticSpec:
        missing = [y for y in re.findall(YEAR, self.period or "") if y not in self.sentence]
        if missing:
            raise ValueError(
                f"the sentence must say {', '.join(missing)} (from period): supporters see "
                "only the sentence and the source's year"
            )
        return self


class NextStep(Strict):
    """What an ask leads to: sent once to each supporter who did it, soon after."""

    text: Annotated[Text, Field(min_length=1, max_length=MAX_ASK_CHARS)]
    link: AskLink | None = None
    # Add the supporter's own invite link, to bring a friend.
    invite: bool = False


PollAnswer = Annotated[Text, Field(min_length=1, max_length=40)]


class Poll(Strict):
    """A question with fixed answers, sent some days later to those who did the ask."""

    question: Annotated[Text, Field(min_length=1, max_length=200)]
    answers: list[PollAnswer] = Field(min_length=2, max_length=MAX_POLL_ANSWERS)
    after_days: int = Field(7, ge=1, le=28, description="Days after the supporter did the ask.")

    @field_validator("answers")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len({answer.casefold() for answer in value}) != len(value):
            raise ValueError("two answers are the same")
        return value


VARIANT_NAME = r"^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$"  # short: tables and /mydata show it
ORIGINAL = "original"  # the ask's own wording, in a wording experiment
MAX_VARIANTS = 2  # besides the ask's own wording: 2 or 3 wordings under test


class AskVariant(Strict):
    """Another wording of an ask, tested against its own (`[[asks.variants]]`):
    each supporter gets one wording (`campaigns.variants`). The statistic and the
    link stay the ask's, so only the words differ."""

    name: str = Field(pattern=VARIANT_NAME, description="Such as 'short' or 'b'.")
    ask: Annotated[Text, Field(min_length=1, max_length=MAX_ASK_CHARS)]
    title: Annotated[Text, Field(min_length=1, max_length=80)] | None = None


class AskTranslation(Strict):
    """An ask's words in another language the bot speaks (`[asks.translations.cy]`):
    a supporter who reads that language gets these; a field left out stays as the ask
    has it (`campaigns.ask_languages`). The figure, source and links stay the ask's."""

    title: Annotated[Text, Field(min_length=1, max_length=80)] | None = None
    ask: Annotated[Text, Field(min_length=1, max_length=MAX_ASK_CHARS)] | None = None
    statistic_sentence: Annotated[Text, Field(min_length=1, max_length=280)] | None = None
    link_label: Annotated[Text, Field(min_length=1, max_length=40)] | None = None
    reminder: Annotated[Text, Field(min_length=1, max_length=280)] | None = None
    next_text: Annotated[Text, Field(min_length=1, max_length=MAX_ASK_CHARS)] | None = None
    poll_question: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    poll_answers: list[PollAnswer] | None = None


def _translations(ask: Ask) -> None:
    """Each translation is in a language the bot speaks, and fits the ask it translates."""
    for code, words in ask.translations.items():
        if code == ENGLISH or code not in LANGUAGES:
            others = ", ".join(c for c in LANGUAGES if c != ENGLISH) or "none yet"
            raise ValueError(f"translations.{code}: the bot speaks no such language ({others})")
        answers = ask.poll.answers if ask.poll else None
        if words.poll_answers is not None and len(words.poll_answers) != len(answers or ()):
            raise ValueError(
                f"translations.{code}.poll_answers: give one for each of the poll's answers"
            )
        if words.poll_question is not None and ask.poll is None:
            raise ValueError(f"translations.{code}.poll_question: the ask has no poll")
        if words.next_text is not None and ask.next is None:
            raise ValueError(f"translations.{code}.next_text: the ask has no next step")
        if words.reminder is not None and ask.reminder is None:
            raise ValueError(f"translations.{code}.reminder: the ask has no reminder")


class Ask(Strict):
    id: str = Field(pattern=SLUG)
    title: Annotated[Text, Field(min_length=1, max_length=80)]
    ask: Annotated[Text, Field(min_length=1, max_length=MAX_ASK_CHARS)]
    topic: str = Field(pattern=TOPIC)
    statistic: StatisticSpec
    # `[asks.action]` is the older name for `[asks.link]`: charities keep packs in their
    # own git, so packs written before the rename still load. An error names the key the
    # file used.
    link: AskLink = Field(validation_alias=AliasChoices("link", "action"))
    reminder: Annotated[Text, Field(min_length=1, max_length=280)] | None = None
    next: NextStep | None = None
    poll: Poll | None = None
    # A wording experiment: one or two other wordings of this ask. Choosing the winner
    # makes its words the ask's own, with no variants (`campaigns.experiments`).
    variants: list[AskVariant] = Field(default_factory=list, max_length=MAX_VARIANTS)
    # The ask in other languages the bot speaks, by language code (`cy`).
    translations: dict[str, AskTranslation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _variants(self) -> Ask:
        names = [variant.name for variant in self.variants]
        if ORIGINAL in names:
            raise ValueError(f"a variant can't be called {ORIGINAL!r}: that is the ask's own")
        if len(set(names)) != len(names):
            raise ValueError("two variants have the same name")
        if any(variant.ask == self.ask for variant in self.variants):
            raise ValueError("a variant says the same as the ask: change its words")
        return self

    @model_validator(mode="after")
    def _translated(self) -> Ask:
        _translations(self)
        return self

    @model_validator(mode="before")
    @classmethod
    def _one_link(cls, data: Any) -> Any:
        # Otherwise pydantic would take `link` and call `action` "not a known field".
        if isinstance(data, dict) and "link" in data and "action" in data:
            raise ValueError(
                "has both [asks.link] and [asks.action]; keep only [asks.link] "
                "(action is its older name)"
            )
        return data


class Pack(Strict):
    campaign: Campaign
    asks: list[Ask] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique_ask_ids(self) -> Pack:
        seen: set[str] = set()
        for ask in self.asks:
            if ask.id in seen:
                raise ValueError(f"ask id {ask.id!r} is used twice")
            seen.add(ask.id)
        return self

    def ask(self, ask_id: str) -> Ask | None:
        return next((ask for ask in self.asks if ask.id == ask_id), None)

    @property
    def topics(self) -> list[str]:
        """The pack's topics, in the order they first appear."""
        return list(dict.fromkeys(ask.topic for ask in self.asks))


_FRIENDLY = {
    "extra_forbidden": "is not a known field",
    "missing": "is missing",
    "too_long": "is {length} characters long; at most {max_length} fit",
    "string_too_long": "is {length} characters long; at most {max_length} fit",
    "too_short": "is empty",
    "string_too_short": "is empty",
    "string_pattern_mismatch": "must be lowercase letters, digits and hyphens, such as 'ai-images'",
}


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list) else 0


def _describe(error: Any, data: dict[str, Any]) -> str:
    """Turn one pydantic error into 'ask 'x', field statistic.url: ...'."""
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "asks" and isinstance(loc[1], int):
        index = loc[1]
        asks = data.get("asks")
        ask_id = None
        if isinstance(asks, list) and index < len(asks) and isinstance(asks[index], dict):
            ask_id = asks[index].get("id")
        where = f"ask {ask_id!r} (#{index + 1})" if ask_id else f"ask #{index + 1}"
        loc = loc[2:]
    elif loc and loc[0] == "campaign":
        where = "campaign"
        loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    message = _FRIENDLY.get(error["type"], "")
    if message:
        message = message.format(**error.get("ctx", {}), length=_length(error.get("input")))
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    # A problem with a whole ask (or the whole pack) has no field to name.
    what = ", ".join(part for part in (where, f"field {field}" if field else "") if part)
    return f"{what}: {message}" if what else message


def load_pack(path: Path) -> Pack:
    """Read and validate one pack file, or raise `PackError` naming what is wrong."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PackError(path, [f"cannot read the file ({exc.strerror})"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PackError(path, ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise PackError(path, [f"not valid TOML: {exc}"]) from None
    try:
        return Pack.model_validate(data)
    except ValidationError as exc:
        raise PackError(path, [_describe(error, data) for error in exc.errors()]) from None


def _pack_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.toml") if p.is_file())


def load_packs(directory: Path) -> dict[str, Pack]:
    """Load every pack in a folder, keyed by campaign slug; any broken pack is an error."""
    if not directory.is_dir():
        raise PackError(directory, ["is not a folder of campaign packs"])
    packs: dict[str, Pack] = {}
    for path in _pack_files(directory):
        pack = load_pack(path)
        slug = pack.campaign.slug
        if slug in packs:
            raise PackError(path, [f"campaign slug {slug!r} is already used by another pack"])
        packs[slug] = pack
    if not packs:
        raise PackError(directory, ["holds no campaign packs (*.toml)"])
    return packs
