"""Everything the bot says to supporters, in one place, the same on every platform.

Text here is plain: adapters escape it for their own markup.

Every message is English source text marked for gettext (`_` translates it now, `N_`
marks a constant that is translated when it is read, `ngettext` picks a counted
form); `make messages` extracts them into `campaigns/locale/messages.pot`. The words
come out in the language being spoken (`campaigns.languages.speaking`), or in the one
a function's `language` argument names; anything without a translation stays English.
A constant such as `wording.NOT_SUBSCRIBED` keeps its English value for the type
checker and for code that compares it, and reads in the current language: this
module's class translates marked constants on the way out (Python lets a module set
its own `__class__` for exactly this, see "Customizing module attribute access").
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

from campaigns import languages
from campaigns.languages import ngettext
from campaigns.model import MAX_PAUSE_WEEKS, ActionKind
from db.states import DeliveryState

CONSENT_VERSION = "2026-11"

# Every constant marked with N_: read through the module, it comes out translated.
_MARKED: set[str] = set()


def N_(message: str) -> str:  # gettext's own name for "mark now, translate when read"
    """Mark a constant for the catalogue; it is translated whenever it is read."""
    _MARKED.add(message)
    return message


def _(message: str, language: str | None = None) -> str:
    """`message` in the language being spoken (or `language`)."""
    return languages.gettext(message, language)


DONE_LABEL = N_("I did it")


def done_labels() -> frozenset[str]:
    """The "I did it" label in every language we have (a renderer styles that button)."""
    return frozenset(_(DONE_LABEL, code) for code in languages.LANGUAGES)


# The words around an ask's card, on every platform.
REMINDER_LABEL = N_("Reminder")
SOURCE_LABEL = N_("Source")
SKIP_LABEL = N_("Not this week")


def reminder_label(language: str | None = None) -> str:
    """Above a reminder's card, in the card's language."""
    return _(REMINDER_LABEL, language)


def source_label(language: str | None = None) -> str:
    """Before the statistic's source on a card, in the card's language."""
    return _(SOURCE_LABEL, language)


COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Subscribe: one ask a week")),
    ("ask", N_("This week's ask again")),
    ("done", N_("I did this week's ask")),
    ("skip", N_("Not this week")),
    ("campaigns", N_("Choose the campaigns you hear from")),
    ("topics", N_("Choose the topics you hear about")),
    ("pause", N_("Pause the weekly ask (optionally for N weeks)")),
    ("resume", N_("Start the weekly ask again")),
    ("invite", N_("Your own link to bring a friend")),
    ("language", N_("Choose the language I write in")),
    ("mydata", N_("See what we hold about you")),
    ("forget", N_("Erase everything we hold about you")),
    ("stop", N_("Unsubscribe")),
    ("help", N_("What this bot does")),
)

_DESCRIBED = dict(COMMANDS)
# A group's menu: what a group can do (subscribing and stopping are its admins').
GROUP_COMMANDS: tuple[tuple[str, str], ...] = (
    ("subscribe_group", N_("Admins: get the weekly ask in this group")),
    ("ask", _DESCRIBED["ask"]),
    ("done", _DESCRIBED["done"]),
    ("skip", _DESCRIBED["skip"]),
    ("stop", N_("Admins: stop the weekly ask in this group")),
    ("help", _DESCRIBED["help"]),
)


def commands(language: str | None = None) -> tuple[tuple[str, str], ...]:
    """The supporters' command menu, described in `language` (default: the current one)."""
    return tuple((name, _(what, language)) for name, what in COMMANDS)


def group_commands(language: str | None = None) -> tuple[tuple[str, str], ...]:
    """A group's command menu, described in `language` (default: the current one)."""
    return tuple((name, _(what, language)) for name, what in GROUP_COMMANDS)


def counted(n: int, one: str, many: str | None = None) -> str:
    """`1 supporter`, `2 supporters`: a count with its noun agreeing (English: for
    organisers; supporters' counted words use `ngettext`)."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def welcome(
    campaign_title: str,
    description: str,
    already: bool,
    retention_months: int,
    *,
    choice: bool = False,
) -> str:
    """The answer to /start. `choice`: there are other campaigns to join (/campaigns)."""
    first = (
        _("You're already subscribed. Thank you for staying with us.")
        if already
        else _("Welcome to {campaign}. You're subscribed.").format(campaign=campaign_title)
    )
    others = "\n\n" + _("We run other campaigns too: /campaigns lets you choose.") if choice else ""
    how = _(
        "Once a week you'll get one short ask, the fact behind it and a link to act. "
        "When you've done it, press \u201cI did it\u201d so we can count it."
    )
    if choice:
        kept = _(
            "What we keep: this chat's id on this platform, how you found us, your campaign "
            "and topic choices, the asks we send you and the buttons you press, for {months} "
            "months at most. Never what you type. "
            "See it with /mydata, erase it with /forget, leave with /stop."
        )
    else:
        kept = _(
            "What we keep: this chat's id on this platform, how you found us, your topic "
            "choices, the asks we send you and the buttons you press, for {months} "
            "months at most. Never what you type. "
            "See it with /mydata, erase it with /forget, leave with /stop."
        )
    return f"{first}\n\n{description}{others}\n\n{how}\n\n" + kept.format(months=retention_months)


def help_text(subscribed: bool, *, private: bool = True) -> str:
    """What the bot does; in a private chat, also that STOP and START work as words."""
    lines = [f"/{name}: {what}" for name, what in commands()]
    intro = (
        _("You're subscribed to the weekly ask.")
        if subscribed
        else _("Send /start to get one short campaign ask a week.")
    )
    plain = _("You can also send STOP or START on its own, in any case.")
    return intro + "\n\n" + "\n".join(lines) + ("\n\n" + plain if private else "")


UNKNOWN = N_("I only understand commands. Try /ask for this week's ask, or /help for the rest.")
# Free text may be someone reaching out: every answer to it says where to get help.
HELP_LINE = N_(
    "If you need someone to talk to: children and young people can call Childline free on "
    "0800 1111. If a child is in danger right now, call 999. To report sexual images of "
    "someone under 18: https://report.iwf.org.uk/"
)
_FREE_TEXT_FIRST = N_(
    "I only understand commands, and I don't keep what you type. "
    "Try /ask for this week's ask, or /help for the rest."
)
FREE_TEXT = _FREE_TEXT_FIRST + "\n\n" + HELP_LINE  # read in the current language: below
NOT_SUBSCRIBED = N_("You're not subscribed. Send /start to join.")
NO_ASK_YET = N_("There's no ask out yet. We'll send the first one soon.")
NOTHING_TO_ANSWER = N_("There's no ask of yours to answer yet. /ask shows this week's.")
STOPPED = N_(
    "You're unsubscribed and won't get the weekly ask. "
    "We keep your past actions in our totals; /forget erases your data. Send /start to come back."
)
ALREADY_STOPPED = N_("You're not subscribed, so there's nothing to stop. /start subscribes you.")
PAUSED = N_("Paused. You won't get the weekly ask until you send /resume.")
RESUMED = N_("Welcome back. The weekly ask is on again.")
NOT_PAUSED = N_("You're not paused: the weekly ask is on.")
_PAUSE_USAGE = N_("Use /pause to pause, or /pause 4 to pause for 4 weeks (1 to {most}).")
PAUSE_USAGE = _PAUSE_USAGE.format(most=MAX_PAUSE_WEEKS)  # read in the current language: below
DONE_THANKS = N_("Thank you! That's counted. Small actions add up.")
DONE_ALREADY = N_("Already counted. Thank you!")
SKIP_NOTED = N_("No problem. We'll be back next week.")
SKIP_ALREADY = N_("Already noted. See you next week.")
TOPICS_INTRO = N_("Choose the topics you want asks about. Press one to turn it on or off.")
TOPICS_ALL_LABEL = N_("Every topic")
TOPICS_KEEP_ONE = N_("Keep at least one topic on. To stop for a while, use /pause.")
TOPICS_SAVED = N_("Saved.")
ERASED = N_("Erased.")  # the answer to the press; FORGOTTEN replaces the question
KEPT = N_("Kept.")
TOPICS_MENU_INTRO = N_("Choose the topics you want asks about.")  # above a select menu
TOPICS_MENU_PLACEHOLDER = N_("Topics to hear about")
TOPICS_UNKNOWN = N_("I don't know these topics: {names}. The topics are: {known}.")
# Campaigns as choices (/campaigns): buttons to join and leave, or typed names.
CAMPAIGNS_INTRO = N_("Choose the campaigns you hear from. Press one to join or leave it.")
CAMPAIGNS_USAGE = N_(
    "Use /campaigns to choose with buttons, or /campaigns join <name> or /campaigns leave <name>."
)
CAMPAIGN_GONE = N_("That campaign no longer runs. /campaigns shows those that do.")
NO_CAMPAIGN = N_("You're in no campaign just now. /campaigns lets you choose one.")
FORGET_CONFIRM = N_(
    "This erases everything we hold about you: your subscription, how you found us, your "
    "topic choices, your language, your invite link, the list of asks we sent you and your "
    "presses in groups. Your past answers, and friends who joined through your link, stay "
    "in our totals as anonymous counts, with nothing that leads back to you. "
    "This can't be undone."
)
FORGET_EXPIRED = N_("That button has expired. Send /forget again if you want to erase your data.")
FORGET_YES = N_("Yes, erase my data")
FORGET_NO = N_("No, keep it")
FORGOTTEN = N_("Done. We've erased your data. If you ever want to come back, send /start.")
FORGET_KEPT = N_("Nothing was erased.")
NOTHING_HELD = N_("We hold nothing about you.")
BUTTON_STALE = N_("That button no longer works. Send /ask for this week's ask.")
PREVIEW_PRESS = N_("This is a preview: nothing was counted.")
# Outcome polls: answered with a press only, one answer per person, changeable.
POLL_THANKS = N_("Thank you! Your answer is counted.")
POLL_CHANGED = N_("Changed. We've counted your new answer instead.")
POLL_ALREADY = N_("That's the answer we already have. Thank you!")
POLL_CHANGE_HINT = N_("\u2713 marks your answer. Press another to change it.")
# Languages (/language): buttons, one a language, each named in its own words.
LANGUAGE_INTRO = N_("Choose the language I write to you in. Press one.")
LANGUAGE_USAGE = N_("Use /language to choose with buttons, or /language and a code: {codes}.")


def language_now(name: str) -> str:
    """After /language: the language chosen, named in its own words."""
    return _("I'll write to you in {language}.").format(language=name)


def group_language_usage(name: str, codes: str) -> str:
    """/language in a group, from an admin, without a language: what it is and how to
    change it (typed, as a group's buttons can't tell an admin's press)."""
    return _(
        "I write to this group in {language}. An admin can change it: /language and a "
        "code: {codes}."
    ).format(language=name, codes=codes)


def next_step_intro(ask_title: str, language: str | None = None) -> str:
    """Above an ask's next step, which comes soon after the supporter did the ask."""
    return _(
        "Thank you for doing \u201c{title}\u201d. If you have a minute more:", language
    ).format(title=ask_title)


def poll_intro(ask_title: str, language: str | None = None) -> str:
    """Above an outcome poll, some days after the supporter did the ask."""
    return _("A while ago you did \u201c{title}\u201d. One quick question:", language).format(
        title=ask_title
    )


def did_last_week(count: int, language: str | None = None) -> str:
    """Under a weekly ask whose pack shows the count (never one under 10: `campaigns.impact`)."""
    return ngettext(
        "{count} supporter did last week\u2019s ask.",
        "{count} supporters did last week\u2019s ask.",
        count,
        language,
    ).format(count=f"{count:,}")


SORRY = N_("Sorry, something went wrong on our side. Please try again in a minute.")
GROUP_ONLY_ADMINS = N_("Only a group admin can do that.")
GROUP_SUBSCRIBED = N_(
    "This group will get the weekly ask. Anyone here can press the buttons; each "
    "press counts for the person who pressed it. An admin can send /stop to end it."
)
GROUP_STOPPED = N_("This group won't get the weekly ask any more.")
GROUP_PRIVATE_ONLY = N_("That command works in a private chat with me.")

# The console chat: buttons are numbered choices, and links are opened by hand.
CONSOLE_BANNER = N_("campaignbot console chat. Try /start, then /ask. Ctrl-D quits.")
NO_SUCH_BUTTON = N_("There's no button with that number.")


def open_in_browser(url: str) -> str:
    return _("Open this link in your browser: {url}").format(url=url)


def channel_changed(channel: str, stopped: bool) -> str:
    """After a server admin chose a channel for the weekly ask (Discord's /channel)."""
    if stopped:
        return _("{channel} won't get the weekly ask.").format(channel=channel)
    return _("{channel} will get the weekly ask.").format(channel=channel)


def channel_not_allowed(channel: str) -> str:
    """The bot may not post in the channel a server admin chose."""
    return _("I can't post in {channel}: please give me Send Messages there.").format(
        channel=channel
    )


def safeguarding(removed: bool) -> str:
    """The calm reply to a photo, video, file or link: never opened, pointed to the right place."""
    if removed:
        first = _(
            "For everyone's safety this chat doesn't take photos, videos, files or links: "
            "we didn't open what you sent, and we've removed it."
        )
    else:
        first = _(
            "For everyone's safety this chat doesn't take photos, videos, files or links: "
            "we didn't open what you sent; please delete it."
        )
    report = _(
        "If you have seen sexual images or videos of someone under 18, you can report them "
        "anonymously to the Internet Watch Foundation: https://report.iwf.org.uk/"
    )
    return f"{first}\n\n{report}\n\n" + _("If a child is in immediate danger, call 999.")


def paused_for(weeks: int, until: str) -> str:
    return ngettext(
        "Paused for {weeks} week. The weekly ask starts again after {until}.",
        "Paused for {weeks} weeks. The weekly ask starts again after {until}.",
        weeks,
    ).format(weeks=weeks, until=until)


def topics_now(chosen: list[str], every: bool) -> str:
    if every:
        return _("You'll hear about every topic.")
    return _("You'll hear about: {topics}.").format(topics=", ".join(chosen))


def topic_off(topic: str) -> str:
    return _(
        "This week's ask is about {topic}, which you've turned off. /topics changes that."
    ).format(topic=topic)


def campaign_line(title: str, description: str) -> str:
    """A campaign in the /campaigns list: its title and the first sentence of its description."""
    first = re.split(r"(?<=[.!?])\s", " ".join(description.split()), maxsplit=1)[0]
    return f"{title}: {textwrap.shorten(first, 160, placeholder='…')}"


def campaigns_now(titles: list[str]) -> str:
    if not titles:
        return _(NO_CAMPAIGN)
    return _("You're in: {campaigns}.").format(campaigns=", ".join(titles))


def joined_since(campaigns: list[dict[str, str]]) -> str:
    """The campaigns a supporter joined, as /mydata lists them (from its export)."""
    joined = [
        _("{campaign} (since {day})").format(campaign=item["title"], day=item["joined_at"][:10])
        for item in campaigns
    ]
    return ", ".join(joined) or _("none")


def campaigns_unknown(name: str, known: list[str]) -> str:
    return _("I don't know the campaign {name}. The campaigns are: {known}.").format(
        name=name[:64], known=", ".join(known)
    )


def campaign_joined(title: str) -> str:
    return _("You've joined {campaign}.").format(campaign=title)


def campaign_left(title: str) -> str:
    return _("You've left {campaign}. Its asks won't come any more.").format(campaign=title)


def campaign_already(title: str) -> str:
    return _("You're already in {campaign}.").format(campaign=title)


def campaign_not_joined(title: str) -> str:
    return _("You're not in {campaign}.").format(campaign=title)


def last_campaign(title: str) -> str:
    """Leaving the one campaign left is refused: /stop is how to leave everything."""
    return _(
        "{campaign} is the only campaign you're in, so you can't leave it. To stop, send /stop."
    ).format(campaign=title)


def joined_campaign(title: str, description: str) -> str:
    """/start with another campaign's link, from someone already subscribed."""
    first = _("You've joined {campaign}: its weekly ask comes too.").format(campaign=title)
    return f"{first}\n\n{description}\n\n" + _("/campaigns shows every campaign you're in.")


def group_joined(title: str) -> str:
    """/subscribe_group <campaign>."""
    return _(
        "This group will get the weekly ask of {campaign}. Anyone here can press the buttons; "
        "each press counts for the person who pressed it. An admin can send /stop to end it."
    ).format(campaign=title)


def poll_fact(question: str, ask_title: str, answer: str) -> tuple[str, str]:
    """One poll answer, as a line of /mydata (several asks may ask the same question)."""
    label = _("Your answer to \u201c{question}\u201d (after \u201c{title}\u201d)")
    return label.format(question=question, title=ask_title), answer


def joined_through(n: int) -> str:
    """How many people joined through a supporter's invite link (never who)."""
    return ngettext("{n} person joined through you", "{n} people joined through you", n).format(n=n)


def invite(
    campaign_title: str, url: str | None, typed: str, bot_url: str | None, joined: int
) -> str:
    """/invite: the supporter's own link or, on a platform without links, what a friend
    sends the bot."""
    if url:
        how = (
            _("Invite a friend to {campaign} with your own link:").format(campaign=campaign_title)
            + f"\n\n{url}"
        )
    elif bot_url:
        how = (
            _("Invite a friend to {campaign}: they add me ({bot}), then send me").format(
                campaign=campaign_title, bot=bot_url
            )
            + f"\n\n{typed}"
        )
    else:
        how = (
            _("Invite a friend to {campaign}: they send me").format(campaign=campaign_title)
            + f"\n\n{typed}"
        )
    counts = _(
        "Whoever joins through it counts for you. We keep how many, never who. So far, {joined}."
    )
    return f"{how}\n\n" + counts.format(joined=joined_through(joined))


def invite_usage(campaigns: list[str]) -> str:
    """/invite with a campaign the supporter didn't join (or more than one word)."""
    return _("Send /invite, or /invite and a campaign you joined: {campaigns}.").format(
        campaigns=", ".join(campaigns)
    )


def invite_fact(code: str, joined: int) -> tuple[str, str]:
    """The supporter's invite code, as a line of /mydata."""
    return _("Your invite code"), f"{code} ({joined_through(joined)})"


ANSWERS: dict[str, str] = {
    ActionKind.DONE: N_("you did it"),
    ActionKind.SKIPPED: N_("not that week"),
}
STATES: dict[str, str] = {
    DeliveryState.SENT: N_("sent"),
    DeliveryState.UNKNOWN: N_("may not have arrived"),
    DeliveryState.SENDING: N_("sending"),
}
SHOWN_DELIVERIES = 10
# The labels and plain values of /mydata's facts (`campaigns.dialogue` writes them in
# English; they are translated here, as the summary is put together).
FACT_WORDS = frozenset(
    {
        N_("Platform"),
        N_("Chat id"),
        N_("Status"),
        N_("Subscribed since"),
        N_("How you found us"),
        N_("Topics"),
        N_("Campaigns"),
        N_("Language"),
        N_("every topic"),
        N_("not recorded"),
        N_("active"),
        N_("paused"),
        N_("stopped"),
    }
)


def sent_line(day: str, title: str, state: str, answer: str | None) -> str:
    """One ask we sent, as /mydata lists it."""
    said = f", {_(ANSWERS[answer])}" if answer in ANSWERS else ""
    shown = _(STATES[state]) if state in STATES else state
    return f"{day} · {title} ({shown}{said})"


def _fact(label: str, value: str) -> str:
    if value in FACT_WORDS:
        value = _(value)
    return f"{_(label) if label in FACT_WORDS else label}: {value}"


def mydata_summary(
    facts: list[tuple[str, str]], sent: list[str], group_presses: int, retention_months: int
) -> str:
    if facts and facts[0][0] == "Platform":  # a subscription: it has a language
        facts = [*facts, ("Language", languages.name_of(languages.current()))]
    lines = [_("What we hold about you:")]
    lines += [_fact(label, value) for label, value in facts]
    lines.append(_("Messages we sent you: {count}").format(count=len(sent)))
    shown = sent[-SHOWN_DELIVERIES:]
    lines += [f"  {line}" for line in shown]
    if len(sent) > len(shown):
        earlier = len(sent) - len(shown)
        lines.append(
            "  "
            + ngettext(
                "...and {count} earlier one, in the file.",
                "...and {count} earlier ones, all in the file.",
                earlier,
            ).format(count=earlier)
        )
    if group_presses:
        lines.append(
            _("Buttons you pressed in groups: {count} (kept under a code, not your id)").format(
                count=group_presses
            )
        )
    kept = _(
        "We keep these records for {months} months; after that only anonymous "
        "counts remain. We never keep what you type. The file has all of it, as JSON. "
        "/forget erases it now."
    )
    lines.append("\n" + kept.format(months=retention_months))
    return "\n".join(lines)


# Constants whose words are put together from more than one message.
_COMPOSED: dict[str, Callable[[], str]] = {
    "FREE_TEXT": lambda: _(_FREE_TEXT_FIRST) + "\n\n" + _(HELP_LINE),
    "PAUSE_USAGE": lambda: _(_PAUSE_USAGE).format(most=MAX_PAUSE_WEEKS),
}


class _Translating(types.ModuleType):
    """This module, with its marked constants read in the current language."""

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if type(value) is str:
            if value in _MARKED:
                return languages.gettext(value)
            if name in _COMPOSED:
                return _COMPOSED[name]()
        return value


sys.modules[__name__].__class__ = _Translating
