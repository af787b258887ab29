"""An ask as an organiser's form: fields read into a pack's `Ask` (the same checks as a
pack file, each problem under the name of its field), and the message it makes.

Field names are the pack's own keys, dotted (`statistic.figure`, `link.url`), so an
error names what a pack author would fix, and every form that edits an ask (the
preview now, the editor next) reads and writes the same names. Nothing here stores
anything: a preview of a draft changes nothing and leaves nothing in the audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from campaigns import packs
from campaigns.buttons import ButtonIds
from campaigns.catalog import Catalog
from campaigns.compose import ask_message
from campaigns.model import Message
from campaigns.packs import Ask
from campaigns.prompting import PREVIEW_PROMPT_ID
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import PromptKind, PromptState
from db.times import now_text

CAMPAIGN = "campaign"
FIELDS = (
    "id",
    "title",
    "ask",
    "topic",
    "statistic.figure",
    "statistic.sentence",
    "statistic.source",
    "statistic.url",
    "statistic.year",
    "statistic.period",
    "link.label",
    "link.url",
    "reminder",
)
OPTIONAL = frozenset({"statistic.year", "statistic.period", "reminder"})  # empty: left out
YEAR_MESSAGE = "must be a year of four digits, such as 2024"


class AskFormError(ValueError):
    """A form that doesn't make an ask: what is wrong, by field name (`CAMPAIGN` or
    one of `FIELDS`; "" for a problem with no one field)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Draft:
    """An ask read from a form, valid as a pack's, in the campaign it belongs to."""

    campaign: str
    campaign_title: str
    ask: Ask

    def row(self) -> AskRow:
        """The ask as the store would hold it: what messages are composed from."""
        ask, stat = self.ask, self.ask.statistic
        return AskRow(
            campaign=self.campaign,
            id=ask.id,
            position=0,
            title=ask.title,
            topic=ask.topic,
            ask=ask.ask,
            stat_figure=stat.figure,
            stat_sentence=stat.sentence,
            stat_source=stat.source,
            stat_url=stat.url,
            stat_year=stat.year or 0,  # 0: undated, as the store keeps it
            stat_period=stat.period,
            link_label=ask.link.label,
            link_url=ask.link.url,
            reminder=ask.reminder,
            retired=0,
            next_text=None,
            next_link_label=None,
            next_link_url=None,
            next_invite=False,
            poll_question=None,
            poll_answers=None,
            poll_after_days=None,
            campaign_title=self.campaign_title,
        )


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The campaign and each field as typed. Browsers send a text area's line ends as
    CR LF; packs hold LF, and a CR would be refused as a control character."""
    names = (CAMPAIGN, *FIELDS)
    return {
        name: str(form.get(name) or "").replace("\r\n", "\n").replace("\r", "\n") for name in names
    }


def stored_values(ask: AskRow) -> dict[str, str]:
    """A stored ask's fields, as its form shows them."""
    return {
        CAMPAIGN: ask.campaign,
        "id": ask.id,
        "title": ask.title,
        "ask": ask.ask,
        "topic": ask.topic,
        "statistic.figure": ask.stat_figure,
        "statistic.sentence": ask.stat_sentence,
        "statistic.source": ask.stat_source,
        "statistic.url": ask.stat_url,
        "statistic.year": str(ask.stat_year) if ask.stat_year else "",
        "statistic.period": ask.stat_period or "",
        "link.label": ask.link_label,
        "link.url": ask.link_url,
        "reminder": ask.reminder or "",
    }


def read_draft(catalog: Catalog, values: Mapping[str, str]) -> Draft:
    """The form's ask in its campaign, checked as a pack's; `AskFormError` names every
    field that is wrong."""
    errors: dict[str, str] = {}
    campaign = values.get(CAMPAIGN, "")
    pack = catalog.packs.get(campaign)
    if pack is None:
        known = ", ".join(sorted(catalog.packs))
        errors[CAMPAIGN] = f"is not a campaign here (known: {known})"
    try:
        ask = Ask.model_validate(_nested(values))
    except ValidationError as exc:
        errors.update(_field_errors(exc))
    if errors or pack is None:
        raise AskFormError(errors)
    return Draft(campaign, pack.campaign.title, ask)


def preview_message(ids: ButtonIds, ask: AskRow, *, reminder: bool = False) -> Message:
    """The ask as a weekly prompt sends it (or, `reminder`, as its reminder does: marked,
    with the ask's reminder words under it), for a preview. Its buttons answer prompt
    0, which no delivery has, so pressing them in a test message counts nothing."""
    now = now_text()
    stand_in = PromptRow(
        id=PREVIEW_PROMPT_ID,
        campaign=ask.campaign,
        ask_id=ask.id,
        kind=PromptKind.MANUAL,
        parent_id=None,
        scheduled_at=now,
        timezone="UTC",
        platform=None,
        source=None,
        state=PromptState.SCHEDULED,
        created_by="preview",
        created_at=now,
        started_at=None,
        finished_at=None,
        step=None,
    )
    note = (ask.reminder or "") if reminder else ""
    return ask_message(ids, ask, stand_in, reminder=reminder, note=note)


def _nested(values: Mapping[str, str]) -> dict[str, Any]:
    """The fields as a pack's table of the ask: `statistic.url` under `statistic`."""
    data: dict[str, Any] = {}
    for name in FIELDS:
        value = values.get(name, "")
        if name in OPTIONAL and not value.strip():
            continue
        *parents, key = name.split(".")
        table = data
        for parent in parents:
            table = table.setdefault(parent, {})
        table[key] = value
    return data


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """Each problem under its field's name, in the words a broken pack file gets."""
    found: dict[str, str] = {}
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        if name == "statistic.year" and error["type"].startswith("int_"):
            message = YEAR_MESSAGE
        else:
            # packs' own wording: "field statistic.url: must be an https:// link"
            message = packs._describe(error, {}).removeprefix(f"field {name}: ")
        found.setdefault(_owner(name), message)
    return found


def _owner(name: str) -> str:
    """The form field a problem belongs to: itself, or for a problem with a whole table
    (the statistic's period not in its sentence) the table's first field shown."""
    if name in FIELDS:
        return name
    if name == "statistic":
        return "statistic.sentence"
    return next((field for field in FIELDS if field.startswith(name + ".")), "")
