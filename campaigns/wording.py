"""Everything the bot says to supporters, in one place, the same on every platform.

Text here is plain: adapters escape it for their own markup.
"""

from __future__ import annotations

import re
import textwrap

from campaigns.model import MAX_PAUSE_WEEKS, ActionKind
from db.states import DeliveryState

CONSENT_VERSION = "2026-11"

DONE_LABEL = "I did it"
# The words around an ask's card, on every platform.
REMINDER_LABEL = "Reminder"
SOURCE_LABEL = "Source"
SKIP_LABEL = "Not this week"

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Subscribe: one ask a week"),
    ("ask", "This week's ask again"),
    ("done", "I did this week's ask"),
    ("skip", "Not this week"),
    ("campaigns", "Choose the campaigns you hear from"),
    ("topics", "Choose the topics you hear about"),
    ("pause", "Pause the weekly ask (optionally for N weeks)"),
    ("resume", "Start the weekly ask again"),
    ("invite", "Your own link to bring a friend"),
    ("mydata", "See what we hold about you"),
    ("forget", "Erase everything we hold about you"),
    ("stop", "Unsubscribe"),
    ("help", "What this bot does"),
)

_DESCRIBED = dict(COMMANDS)
# A group's menu: what a group can do (subscribing and stopping are its admins').
GROUP_COMMANDS: tuple[tuple[str, str], ...] = (
    ("subscribe_group", "Admins: get the weekly ask in this group"),
    ("ask", _DESCRIBED["ask"]),
    ("done", _DESCRIBED["done"]),
    ("skip", _DESCRIBED["skip"]),
    ("stop", "Admins: stop the weekly ask in this group"),
    ("help", _DESCRIBED["help"]),
)


def counted(n: int, one: str, many: str | None = None) -> str:
    """`1 supporter`, `2 supporters`: a count with its noun agreeing."""
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
        "You're already subscribed. Thank you for staying with us."
        if already
        else f"Welcome to {campaign_title}. You're subscribed."
    )
    others = "\n\nWe run other campaigns too: /campaigns lets you choose." if choice else ""
    return (
        f"{first}\n\n{description}{others}\n\n"
        "Once a week you'll get one short ask, the fact behind it and a link to act. "
        "When you've done it, press \u201cI did it\u201d so we can count it.\n\n"
        "What we keep: this chat's id on this platform, how you found us, your "
        f"{'campaign and topic' if choice else 'topic'} "
        f"choices, the asks we send you and the buttons you press, for {retention_months} "
        "months at most. Never what you type. "
        "See it with /mydata, erase it with /forget, leave with /stop."
    )


def help_text(subscribed: bool, *, private: bool = True) -> str:
    """What the bot does; in a private chat, also that STOP and START work as words."""
    lines = [f"/{name}: {what}" for name, what in COMMANDS]
    intro = (
        "You're subscribed to the weekly ask."
        if subscribed
        else "Send /start to get one short campaign ask a week."
    )
    plain = "You can also send STOP or START on its own, in any case."
    return intro + "\n\n" + "\n".join(lines) + ("\n\n" + plain if private else "")


UNKNOWN = "I only understand commands. Try /ask for this week's ask, or /help for the rest."
# Free text may be someone reaching out: every answer to it says where to get help.
HELP_LINE = (
    "If you need someone to talk to: children and young people can call Childline free on "
    "0800 1111. If a child is in danger right now, call 999. To report sexual images of "
    "someone under 18: https://report.iwf.org.uk/"
)
FREE_TEXT = (
    "I only understand commands, and I don't keep what you type. "
    "Try /ask for this week's ask, or /help for the rest.\n\n" + HELP_LINE
)
NOT_SUBSCRIBED = "You're not subscribed. Send /start to join."
NO_ASK_YET = "There's no ask out yet. We'll send the first one soon."
NOTHING_TO_ANSWER = "There's no ask of yours to answer yet. /ask shows this week's."
STOPPED = (
    "You're unsubscribed and won't get the weekly ask. "
    "We keep your past actions in our totals; /forget erases your data. Send /start to come back."
)
ALREADY_STOPPED = "You're not subscribed, so there's nothing to stop. /start subscribes you."
PAUSED = "Paused. You won't get the weekly ask until you send /resume."
RESUMED = "Welcome back. The weekly ask is on again."
NOT_PAUSED = "You're not paused: the weekly ask is on."
PAUSE_USAGE = f"Use /pause to pause, or /pause 4 to pause for 4 weeks (1 to {MAX_PAUSE_WEEKS})."
DONE_THANKS = "Thank you! That's counted. Small actions add up."
DONE_ALREADY = "Already counted. Thank you!"
SKIP_NOTED = "No problem. We'll be back next week."
SKIP_ALREADY = "Already noted. See you next week."
TOPICS_INTRO = "Choose the topics you want asks about. Press one to turn it on or off."
TOPICS_ALL_LABEL = "Every topic"
TOPICS_KEEP_ONE = "Keep at least one topic on. To stop for a while, use /pause."
TOPICS_SAVED = "Saved."
ERASED = "Erased."  # the answer to the press; FORGOTTEN replaces the question
KEPT = "Kept."
TOPICS_MENU_INTRO = "Choose the topics you want asks about."  # above a select menu
TOPICS_MENU_PLACEHOLDER = "Topics to hear about"
TOPICS_UNKNOWN = "I don't know these topics: {names}. The topics are: {known}."
# Campaigns as choices (/campaigns): buttons to join and leave, or typed names.
CAMPAIGNS_INTRO = "Choose the campaigns you hear from. Press one to join or leave it."
CAMPAIGNS_USAGE = (
    "Use /campaigns to choose with buttons, or /campaigns join <name> or /campaigns leave <name>."
)
CAMPAIGN_GONE = "That campaign no longer runs. /campaigns shows those that do."
NO_CAMPAIGN = "You're in no campaign just now. /campaigns lets you choose one."
FORGET_CONFIRM = (
    "This erases everything we hold about you: your subscription, how you found us, your "
    "topic choices, your invite link, the list of asks we sent you and your presses in "
    "groups. Your past answers, and friends who joined through your link, stay in our "
    "totals as anonymous counts, with nothing that leads back to you. "
    "This can't be undone."
)
FORGET_EXPIRED = "That button has expired. Send /forget again if you want to erase your data."
FORGET_YES = "Yes, erase my data"
FORGET_NO = "No, keep it"
FORGOTTEN = "Done. We've erased your data. If you ever want to come back, send /start."
FORGET_KEPT = "Nothing was erased."
NOTHING_HELD = "We hold nothing about you."
BUTTON_STALE = "That button no longer works. Send /ask for this week's ask."
PREVIEW_PRESS = "This is a preview: nothing was counted."
# Outcome polls: answered with a press only, one answer per person, changeable.
POLL_THANKS = "Thank you! Your answer is counted."
POLL_CHANGED = "Changed. We've counted your new answer instead."
POLL_ALREADY = "That's the answer we already have. Thank you!"
POLL_CHANGE_HINT = "\u2713 marks your answer. Press another to change it."


def next_step_intro(ask_title: str) -> str:
    """Above an ask's next step, which comes soon after the supporter did the ask."""
    return f"Thank you for doing \u201c{ask_title}\u201d. If you have a minute more:"


def poll_intro(ask_title: str) -> str:
    """Above an outcome poll, some days after the supporter did the ask."""
    return f"A while ago you did \u201c{ask_title}\u201d. One quick question:"


def did_last_week(count: int) -> str:
    """Under a weekly ask whose pack shows the count (never one under 10: `campaigns.impact`)."""
    return f"{count:,} supporters did last week\u2019s ask."


SORRY = "Sorry, something went wrong on our side. Please try again in a minute."
GROUP_ONLY_ADMINS = "Only a group admin can do that."
GROUP_SUBSCRIBED = (
    "This group will get the weekly ask. Anyone here can press the buttons; each "
    "press counts for the person who pressed it. An admin can send /stop to end it."
)
GROUP_STOPPED = "This group won't get the weekly ask any more."
GROUP_PRIVATE_ONLY = "That command works in a private chat with me."

# The console chat: buttons are numbered choices, and links are opened by hand.
CONSOLE_BANNER = "campaignbot console chat. Try /start, then /ask. Ctrl-D quits."
NO_SUCH_BUTTON = "There's no button with that number."


def open_in_browser(url: str) -> str:
    return f"Open this link in your browser: {url}"


def channel_changed(channel: str, stopped: bool) -> str:
    """After a server admin chose a channel for the weekly ask (Discord's /channel)."""
    if stopped:
        return f"{channel} won't get the weekly ask."
    return f"{channel} will get the weekly ask."


def channel_not_allowed(channel: str) -> str:
    """The bot may not post in the channel a server admin chose."""
    return f"I can't post in {channel}: please give me Send Messages there."


def safeguarding(removed: bool) -> str:
    """The calm reply to a photo, video, file or link: never opened, pointed to the right place."""
    handled = (
        "we didn't open what you sent, and we've removed it"
        if removed
        else "we didn't open what you sent; please delete it"
    )
    return (
        "For everyone's safety this chat doesn't take photos, videos, files or links: "
        f"{handled}.\n\n"
        "If you have seen sexual images or videos of someone under 18, you can report them "
        "anonymously to the Internet Watch Foundation: https://report.iwf.org.uk/\n\n"
        "If a child is in immediate danger, call 999."
    )


def paused_for(weeks: int, until: str) -> str:
    plural = "week" if weeks == 1 else "weeks"
    return f"Paused for {weeks} {plural}. The weekly ask starts again after {until}."


def topics_now(chosen: list[str], every: bool) -> str:
    if every:
        return "You'll hear about every topic."
    return "You'll hear about: " + ", ".join(chosen) + "."


def topic_off(topic: str) -> str:
    return f"This week's ask is about {topic}, which you've turned off. /topics changes that."


def campaign_line(title: str, description: str) -> str:
    """A campaign in the /campaigns list: its title and the first sentence of its description."""
    first = re.split(r"(?<=[.!?])\s", " ".join(description.split()), maxsplit=1)[0]
    return f"{title}: {textwrap.shorten(first, 160, placeholder='…')}"


def campaigns_now(titles: list[str]) -> str:
    return "You're in: " + ", ".join(titles) + "." if titles else NO_CAMPAIGN


def joined_since(campaigns: list[dict[str, str]]) -> str:
    """The campaigns a supporter joined, as /mydata lists them (from its export)."""
    joined = [f"{item['title']} (since {item['joined_at'][:10]})" for item in campaigns]
    return ", ".join(joined) or "none"


def campaigns_unknown(name: str, known: list[str]) -> str:
    return f"I don't know the campaign {name[:64]}. The campaigns are: {', '.join(known)}."


def campaign_joined(title: str) -> str:
    return f"You've joined {title}."


def campaign_left(title: str) -> str:
    return f"You've left {title}. Its asks won't come any more."


def campaign_already(title: str) -> str:
    return f"You're already in {title}."


def campaign_not_joined(title: str) -> str:
    return f"You're not in {title}."


def last_campaign(title: str) -> str:
    """Leaving the one campaign left is refused: /stop is how to leave everything."""
    return f"{title} is the only campaign you're in, so you can't leave it. To stop, send /stop."


def joined_campaign(title: str, description: str) -> str:
    """/start with another campaign's link, from someone already subscribed."""
    return (
        f"You've joined {title}: its weekly ask comes too.\n\n{description}\n\n"
        "/campaigns shows every campaign you're in."
    )


def group_joined(title: str) -> str:
    """/subscribe_group <campaign>."""
    return (
        f"This group will get the weekly ask of {title}. Anyone here can press the buttons; "
        "each press counts for the person who pressed it. An admin can send /stop to end it."
    )


def poll_fact(question: str, ask_title: str, answer: str) -> tuple[str, str]:
    """One poll answer, as a line of /mydata (several asks may ask the same question)."""
    return f"Your answer to \u201c{question}\u201d (after \u201c{ask_title}\u201d)", answer


def joined_through(n: int) -> str:
    """How many people joined through a supporter's invite link (never who)."""
    return f"{counted(n, 'person', 'people')} joined through you"


def invite(
    campaign_title: str, url: str | None, typed: str, bot_url: str | None, joined: int
) -> str:
    """/invite: the supporter's own link or, on a platform without links, what a friend
    sends the bot."""
    friend = f"Invite a friend to {campaign_title}"
    if url:
        how = f"{friend} with your own link:\n\n{url}"
    elif bot_url:
        how = f"{friend}: they add me ({bot_url}), then send me\n\n{typed}"
    else:
        how = f"{friend}: they send me\n\n{typed}"
    return (
        f"{how}\n\nWhoever joins through it counts for you. We keep how many, never who. "
        f"So far, {joined_through(joined)}."
    )


def invite_usage(campaigns: list[str]) -> str:
    """/invite with a campaign the supporter didn't join (or more than one word)."""
    return f"Send /invite, or /invite and a campaign you joined: {', '.join(campaigns)}."


def invite_fact(code: str, joined: int) -> tuple[str, str]:
    """The supporter's invite code, as a line of /mydata."""
    return "Your invite code", f"{code} ({joined_through(joined)})"


ANSWERS: dict[str, str] = {ActionKind.DONE: "you did it", ActionKind.SKIPPED: "not that week"}
STATES: dict[str, str] = {
    DeliveryState.SENT: "sent",
    DeliveryState.UNKNOWN: "may not have arrived",
    DeliveryState.SENDING: "sending",
}
SHOWN_DELIVERIES = 10


def sent_line(day: str, title: str, state: str, answer: str | None) -> str:
    """One ask we sent, as /mydata lists it."""
    said = f", {ANSWERS[answer]}" if answer in ANSWERS else ""
    return f"{day} · {title} ({STATES.get(state, state)}{said})"


def mydata_summary(
    facts: list[tuple[str, str]], sent: list[str], group_presses: int, retention_months: int
) -> str:
    lines = ["What we hold about you:"]
    lines += [f"{label}: {value}" for label, value in facts]
    lines.append(f"Messages we sent you: {len(sent)}")
    shown = sent[-SHOWN_DELIVERIES:]
    lines += [f"  {line}" for line in shown]
    if len(sent) > len(shown):
        lines.append(f"  ...and {len(sent) - len(shown)} earlier ones, all in the file.")
    if group_presses:
        lines.append(
            f"Buttons you pressed in groups: {group_presses} (kept under a code, not your id)"
        )
    lines.append(
        f"\nWe keep these records for {retention_months} months; after that only anonymous "
        "counts remain. We never keep what you type. The file has all of it, as JSON. "
        "/forget erases it now."
    )
    return "\n".join(lines)
