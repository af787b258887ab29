"""A campaign as an organiser's form: fields read into a pack's `Campaign` (the same
checks as a pack file, each problem under the name of its field), and back.

Field names are the pack's own keys, dotted (`schedule.time`), as the ask's form
names its fields (`campaigns.ask_form`). A campaign's parts the form does not show
(its welcome series, whether asks show last week's count) are kept as they are.
Nothing here stores anything: `campaigns.editing` does, audited.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from campaigns import packs
from campaigns.packs import Campaign

FIELDS = (
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
OPTIONAL = frozenset({"schedule.reminder_days", "sources"})  # empty: left out
SHOWN = frozenset(name.split(".")[0] for name in FIELDS)  # the pack keys the form holds
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
    }


def read_campaign(values: Mapping[str, str], kept: Campaign | None = None) -> Campaign:
    """The form's campaign, checked as a pack's, with what the form doesn't show taken
    from `kept` (the stored campaign); `CampaignFormError` names every wrong field."""
    data = _nested(values)
    if kept is not None:
        data |= kept.model_dump(mode="json", exclude=set(SHOWN))
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise CampaignFormError(_field_errors(exc, data)) from None


def changed_fields(before: Campaign, after: Campaign) -> list[str]:
    """The form's fields that differ between two campaigns, in the form's order."""
    old, new = values_of(before), values_of(after)
    return [name for name in FIELDS if old[name] != new[name]]


def _nested(values: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in FIELDS:
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
    return data


def _field_errors(exc: ValidationError, data: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc)
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
