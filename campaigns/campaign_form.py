"""A campaign as an organiser's form: fields read into a pack's `Campaign` (the same
checks as a pack file, each problem under the name of its field), and back.

Field names are the pack's own keys, dotted (`schedule.time`), as the ask's form
names its fields (`campaigns.ask_form`); the welcome series is numbered messages
(`welcome.1.after_days`, `welcome.1.text`, `welcome.1.link.url`, up to three), and a
problem with the series as a whole (their days out of order) is under `welcome`. The
campaign in each other language the bot speaks is `translations.cy.title`,
`translations.cy.description` and `translations.cy.welcome.1` (each beside the
message it translates; a problem with them as a whole under
`translations.cy.welcome`), and `translations.cy.welcome_link_labels.1`, the label of
that message's link ("" keeps the campaign's; a problem with them as a whole under
`translations.cy.welcome_link_labels`). A campaign's parts the form does not show
(whether asks show last week's count) are kept as they are. Nothing here stores anything:
`campaigns.editing` does, audited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from campaigns import packs
from campaigns.languages import ENGLISH, LANGUAGES
from campaigns.packs import MAX_WELCOME_MESSAGES, Campaign

WELCOME = "welcome"  # where a problem with the series as a whole goes
WELCOME_PARTS = ("after_days", "text", "link.label", "link.url")
WELCOME_MESSAGES = tuple(
    tuple(f"{WELCOME}.{n}.{part}" for part in WELCOME_PARTS)
    for n in range(1, MAX_WELCOME_MESSAGES + 1)
)
WELCOME_FIELDS = tuple(name for message in WELCOME_MESSAGES for name in message)
CAMPAIGN_FIELDS = (
    "slug",
    "title",
    "description",
    "schedule.weekday",
    "schedule.time",
    "schedule.timezone",
    "schedule.grace_hours",
    "schedule.reminder_days",
    "sources",
    "after_last",
)
TRANSLATIONS = "translations"
LINK_LABELS = "welcome_link_labels"  # a translation's key for its welcome links' labels
NO_LINK_MESSAGE = "this welcome message has no link: leave this empty"
OTHER_LANGUAGES = tuple(code for code in LANGUAGES if code != ENGLISH)


def translated_welcome(code: str) -> str:
    """Where a problem with a language's welcome texts as a whole goes."""
    return f"{TRANSLATIONS}.{code}.{WELCOME}"


def translated_labels(code: str) -> str:
    """Where a problem with a language's welcome link labels as a whole goes."""
    return f"{TRANSLATIONS}.{code}.{LINK_LABELS}"


def translation_fields(code: str) -> tuple[str, ...]:
    """A language's fields: the title, the description, a text for each welcome message,
    then a label for each welcome message's link."""
    numbers = range(1, MAX_WELCOME_MESSAGES + 1)
    return (
        f"{TRANSLATIONS}.{code}.title",
        f"{TRANSLATIONS}.{code}.description",
        *(f"{translated_welcome(code)}.{n}" for n in numbers),
        *(f"{translated_labels(code)}.{n}" for n in numbers),
    )


TRANSLATION_FIELDS = tuple(name for code in OTHER_LANGUAGES for name in translation_fields(code))
FIELDS = (*CAMPAIGN_FIELDS, *WELCOME_FIELDS, *TRANSLATION_FIELDS)
# Empty: left out.
OPTIONAL = frozenset({"schedule.reminder_days", "sources", *WELCOME_FIELDS, *TRANSLATION_FIELDS})
SHOWN = frozenset(name.split(".")[0] for name in FIELDS)  # the pack keys the form holds
WELCOME_DAYS_MESSAGE = "must be a whole number of days, 1 to 14"
MAX_FIELD = 4000  # characters kept of any one field (a description may be 600)
CODES = re.compile(r"[\s,]+")
# What pydantic says of a value that isn't the kind a field takes, in a form's words.
KIND_MESSAGES = {
    "schedule.time": "must be a time of day, such as 18:30",
    "schedule.grace_hours": "must be a number of hours, such as 6",
    "schedule.reminder_days": "must be a whole number of days, 1 to 6",
}
RANGE_MESSAGES = {
    "schedule.grace_hours": "must be from 0 to 72 hours",
    "schedule.reminder_days": "must be from 1 to 6 days",
}
SOURCE_MESSAGE = "must be lowercase letters, digits, _ and -, as in a /start link"


class CampaignFormError(ValueError):
    """A form that doesn't make a campaign: what is wrong, by field name (one of
    `FIELDS`; "" for a problem with no one field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """Each field as typed (line ends as a pack holds them), cut to a sane length."""
    return {
        name: str(form.get(name) or "").replace("\r\n", "\n").replace("\r", "\n")[:MAX_FIELD]
        for name in FIELDS
    }


def blank_values(timezone: str) -> dict[str, str]:
    """A new campaign's form: the defaults a pack has."""
    return {
        **dict.fromkeys(FIELDS, ""),
        "schedule.weekday": "tuesday",
        "schedule.time": "18:30",
        "schedule.timezone": timezone,
        "schedule.grace_hours": "6",
        "after_last": "repeat",
    }


def values_of(campaign: Campaign) -> dict[str, str]:
    """A campaign's fields, as its form shows them."""
    schedule = campaign.schedule
    moment = schedule.time
    return {
        "slug": campaign.slug,
        "title": campaign.title,
        "description": campaign.description,
        "schedule.weekday": schedule.weekday,
        "schedule.time": moment.isoformat("minutes" if not moment.second else "seconds"),
        "schedule.timezone": schedule.timezone,
        "schedule.grace_hours": f"{schedule.grace_hours:g}",
        "schedule.reminder_days": str(schedule.reminder_days or ""),
        "sources": ", ".join(campaign.sources),
        "after_last": campaign.after_last.value,
        **welcome_values(campaign),
        **translation_values(campaign),
    }


def translation_values(campaign: Campaign) -> dict[str, str]:
    """The campaign's words in other languages, as the form shows them."""
    values = dict.fromkeys(TRANSLATION_FIELDS, "")
    for code in OTHER_LANGUAGES:
        words = campaign.translations.get(code)
        if words is None:
            continue
        title, description, *welcome = translation_fields(code)
        texts, labels = welcome[:MAX_WELCOME_MESSAGES], welcome[MAX_WELCOME_MESSAGES:]
        values[title] = words.title or ""
        values[description] = words.description or ""
        for name, text in zip(texts, words.welcome or [], strict=False):
            values[name] = text
        for name, label in zip(labels, words.welcome_link_labels or [], strict=False):
            values[name] = label
    return values


def welcome_values(campaign: Campaign) -> dict[str, str]:
    """The welcome series' fields, as the form shows them (empty past its last)."""
    values = dict.fromkeys(WELCOME_FIELDS, "")
    for message, names in zip(campaign.welcome, WELCOME_MESSAGES, strict=False):
        days, text, label, url = names
        values[days] = str(message.after_days)
        values[text] = message.text
        values[label] = message.link.label if message.link else ""
        values[url] = message.link.url if message.link else ""
    return values


def read_campaign(values: Mapping[str, str], kept: Campaign | None = None) -> Campaign:
    """The form's campaign, checked as a pack's, with what the form doesn't show taken
    from `kept` (the stored campaign); `CampaignFormError` names every wrong field."""
    data, slots = _nested(values)
    if kept is not None:
        data |= kept.model_dump(mode="json", exclude=set(SHOWN))
    _, early = _translations(values, slots)
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignFormError(_field_errors(exc, data, slots) | early) from None
    if early:
        raise CampaignFormError(early)
    return campaign


def changed_fields(before: Campaign, after: Campaign) -> list[str]:
    """The form's fields that differ between two campaigns, in the form's order."""
    old, new = values_of(before), values_of(after)
    return [name for name in FIELDS if old[name] != new[name]]


def _welcome(values: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The series as a pack's list (a message with every field empty is left out), and
    the number of the form's message each came from."""
    messages: list[dict[str, Any]] = []
    slots: list[str] = []
    for n, (days, text, label, url) in enumerate(WELCOME_MESSAGES, start=1):
        typed = {name: values.get(name, "").strip() for name in (days, text, label, url)}
        if not any(typed.values()):
            continue
        message: dict[str, Any] = {"after_days": typed[days], "text": values.get(text, "")}
        if typed[label] or typed[url]:
            message["link"] = {"label": typed[label], "url": typed[url]}
        messages.append(message)
        slots.append(str(n))
    return messages, slots


def _translations(
    values: Mapping[str, str], slots: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Each language's words as a pack's `translations`, and the problems seen before
    the pack's checks: a welcome text is given for each message of the series, beside
    it, or for none; a link label only beside a message with a link."""
    found: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for code in OTHER_LANGUAGES:
        title, description, *fields = translation_fields(code)
        welcome, labels = fields[:MAX_WELCOME_MESSAGES], fields[MAX_WELCOME_MESSAGES:]
        words: dict[str, Any] = {}
        for key, name in (("title", title), ("description", description)):
            if values.get(name, "").strip():
                words[key] = values.get(name, "")
        given = [name for name in welcome if values.get(name, "").strip()]
        if given:
            wanted = [f"{translated_welcome(code)}.{n}" for n in slots]
            for name in given:
                if name not in wanted:
                    errors[name] = "the welcome series has no message here to translate"
            for name in wanted:
                if name not in given:
                    errors[name] = "give this message too, or leave every translated one empty"
            words[WELCOME] = [values.get(name, "") for name in wanted]
        wrong = _label_errors(values, labels, slots)
        errors |= wrong
        if any(values.get(name, "").strip() for name in labels):
            named = (f"{translated_labels(code)}.{n}" for n in slots)
            # a label already wrong beside its field isn't said again for the whole list
            words[LINK_LABELS] = [
                "" if name in wrong else values.get(name, "").strip() for name in named
            ]
        if words:
            found[code] = words
    return found, errors


def _label_errors(values: Mapping[str, str], labels: list[str], slots: list[str]) -> dict[str, str]:
    """A link label beside a message that isn't there, or has no link (a pack's rule:
    "" for a message without a link), is a problem beside that label."""
    errors: dict[str, str] = {}
    for n, name in enumerate(labels, start=1):
        if not values.get(name, "").strip():
            continue
        if str(n) not in slots:
            errors[name] = "the welcome series has no message here to translate"
        elif not any(values.get(f"{WELCOME}.{n}.{part}", "").strip() for part in WELCOME_PARTS[2:]):
            errors[name] = NO_LINK_MESSAGE
    return errors


def _nested(values: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    data[WELCOME], slots = _welcome(values)
    translations, _ = _translations(values, slots)
    if translations:
        data[TRANSLATIONS] = translations
    for name in CAMPAIGN_FIELDS:
        value = values.get(name, "")
        if name in OPTIONAL and not value.strip():
            continue
        if name == "sources":
            data["sources"] = [code for code in CODES.split(value.strip().lower()) if code]
            continue
        *parents, key = name.split(".")
        table = data
        for parent in parents:
            table = table.setdefault(parent, {})
        table[key] = value
    return data, slots


def _field_errors(exc: ValidationError, data: dict[str, Any], slots: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc)
        placed = _translation_error(loc, _message(error, name), slots)
        if placed is not None:
            found.setdefault(*placed)
            continue
        if loc[:1] == [WELCOME]:
            if len(loc) > 2 and loc[1].isdigit() and int(loc[1]) < len(slots):
                where = ".".join([WELCOME, slots[int(loc[1])], *loc[2:]])
                if loc[2] == "after_days" and error["type"].startswith(
                    ("int_", "less_", "greater_")
                ):
                    found.setdefault(where, WELCOME_DAYS_MESSAGE)
                else:
                    found.setdefault(where, _message(error, name))
            else:
                found.setdefault(WELCOME, _message(error, name))
            continue
        if loc[:1] == ["sources"]:
            name = "sources"
            if len(loc) > 1:
                index = int(loc[1])
                code = data["sources"][index]
                why = (
                    SOURCE_MESSAGE
                    if error["type"] == "string_pattern_mismatch"
                    else _message(error, "sources")
                )
                found.setdefault(name, f"{code!r} {why}")
                continue
        if name not in FIELDS:
            found.setdefault("", f"{name}: {_message(error, name)}" if name else error["msg"])
            continue
        kind = error["type"]
        if name in KIND_MESSAGES and kind.endswith(("_parsing", "_type")):
            found.setdefault(name, KIND_MESSAGES[name])
        elif name in RANGE_MESSAGES and kind.startswith(("less_than", "greater_than")):
            found.setdefault(name, RANGE_MESSAGES[name])
        elif name == "after_last":
            found.setdefault(name, "must be repeat or stop")
        else:
            found.setdefault(name, _message(error, name))
    return found


def _message(error: Any, name: str) -> str:
    """A problem in the words a broken pack file gets: "is empty", "must be one of..."."""
    return packs._describe(error, {}).removeprefix(f"field {name}: ")


def _translation_error(loc: list[str], message: str, slots: list[str]) -> tuple[str, str] | None:
    """The field a problem with a translation belongs to, and what to say there."""
    if loc[:1] == [TRANSLATIONS] and len(loc) >= 3 and loc[1] in OTHER_LANGUAGES:
        code, key = loc[1], loc[2]
        if key in (WELCOME, LINK_LABELS):
            whole = f"{TRANSLATIONS}.{code}.{key}"
            if len(loc) > 3 and loc[3].isdigit() and int(loc[3]) < len(slots):
                return f"{whole}.{slots[int(loc[3])]}", message
            return whole, message
        return f"{TRANSLATIONS}.{code}.{key}", message
    said = re.match(r"^translations\.([a-z]+)\.(welcome|welcome_link_labels): (.*)$", message, re.S)
    if not loc and said and said.group(1) in OTHER_LANGUAGES:
        return f"{TRANSLATIONS}.{said.group(1)}.{said.group(2)}", said.group(3)
    return None
