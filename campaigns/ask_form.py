"""An ask as an organiser's form: fields read into a pack's `Ask` (the same checks as a
pack file, each problem under the name of its field), and the message it makes.

Field names are the pack's own keys, dotted (`statistic.figure`, `link.url`,
`next.text`), so an error names what a pack author would fix, and every form that
edits an ask (the preview, the editor) reads and writes the same names. A poll's
answers are numbered fields (`poll.answers.1` to `poll.answers.5`); a problem with
the answers as a whole is under `poll.answers`. Its other wordings under test and its
words in other languages are fields too (`campaigns.ask_form_words`). Nothing here
stores anything: a preview of a draft changes nothing and leaves nothing in the audit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from campaigns import ask_form_words, ask_languages, pack_io, packs, wording
from campaigns.buttons import ButtonIds
from campaigns.catalog import Catalog
from campaigns.compose import ask_message, next_step_message, poll_message
from campaigns.model import Message
from campaigns.packs import MAX_POLL_ANSWERS, Ask, Poll
from campaigns.prompting import PREVIEW_PROMPT_ID
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import PromptKind, PromptState
from db.times import now_text

CAMPAIGN = "campaign"
ASK_FIELDS = (
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
ANSWERS = "poll.answers"  # where a problem with the answers as a whole goes
ANSWER_FIELDS = tuple(f"{ANSWERS}.{n}" for n in range(1, MAX_POLL_ANSWERS + 1))
NEXT_FIELDS = ("next.text", "next.link.label", "next.link.url", "next.invite")
POLL_FIELDS = ("poll.question", *ANSWER_FIELDS, "poll.after_days")
# Its other wordings under test and its words in other languages (`ask_form_words`).
WORDS_FIELDS = ask_form_words.FIELDS
FIELDS = (*ASK_FIELDS, *NEXT_FIELDS, *POLL_FIELDS, *WORDS_FIELDS)
SHOWN = frozenset(name.split(".")[0] for name in FIELDS)  # the ask's pack keys the form holds
# Empty: left out (a next step or a poll with every field empty: none; so too a
# wording or a language with every field empty).
OPTIONAL = frozenset(
    {"statistic.year", "statistic.period", "reminder", *NEXT_FIELDS, *POLL_FIELDS, *WORDS_FIELDS}
)
YEAR_MESSAGE = "must be a year of four digits, such as 2024"
DAYS_MESSAGE = "must be a whole number of days, 1 to 28"
SAMPLE_INVITE = "https://t.me/your_bot?start=i_example"  # stands in for a supporter's own
CHECKED = "1"  # what a ticked box (the next step's invite) posts


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
        """The ask as the store would hold it: what messages are composed from (its
        next step and poll too), through the store's own mapping."""
        return AskRow(
            campaign=self.campaign,
            position=0,
            retired=0,
            campaign_title=self.campaign_title,
            **pack_io.ask_row(self.ask),
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
    answers = ask.poll_labels
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
        "next.text": ask.next_text or "",
        "next.link.label": ask.next_link_label or "",
        "next.link.url": ask.next_link_url or "",
        "next.invite": CHECKED if ask.next_text is not None and ask.next_invite else "",
        "poll.question": ask.poll_question or "",
        **{name: answers[n] if n < len(answers) else "" for n, name in enumerate(ANSWER_FIELDS)},
        "poll.after_days": str(ask.poll_after_days) if ask.poll_question is not None else "",
        **ask_form_words.values_of(json.loads(ask.extra or "{}")),
    }


def content_fields(data: Mapping[str, Any]) -> dict[str, str]:
    """An ask's pack fields (a version's content, parsed) as its form shows them. Read
    as found, not validated: a version stored under rules since tightened still opens."""

    def at(name: str) -> Any:
        value: Any = data
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    values = {name: "" if at(name) is None else str(at(name)) for name in ASK_FIELDS}
    step, poll = at("next"), at("poll")
    for name in NEXT_FIELDS[:3]:
        values[name] = "" if at(name) is None else str(at(name))
    values["next.invite"] = CHECKED if isinstance(step, dict) and step.get("invite") else ""
    answers = poll.get("answers") if isinstance(poll, dict) else None
    answers = answers if isinstance(answers, list) else []
    for n, name in enumerate(ANSWER_FIELDS):
        values[name] = str(answers[n]) if n < len(answers) else ""
    values["poll.question"] = "" if at("poll.question") is None else str(at("poll.question"))
    values["poll.after_days"] = "" if at("poll.after_days") is None else str(at("poll.after_days"))
    return values | ask_form_words.values_of(data)


def locked_answers_problem(before: list[str], poll: Poll | None) -> dict[str, str]:
    """What is wrong with `poll` for an ask whose poll went out with the answers
    `before`: answers are stored by their position, and the buttons already in chats
    carry positions, so those answers stay, in their order; more may follow them."""
    if not before:
        return {}
    if poll is None:
        return {"poll.question": "this poll has gone out, so it stays: its answers are counted"}
    if list(poll.answers[: len(before)]) != before:
        kept = ", ".join(before)
        return {
            ANSWERS: f"keep {kept} first, in this order (answers are counted by position); "
            "add new answers after them"
        }
    return {}


def unshown(content: str) -> dict[str, Any]:
    """A version's parts the form doesn't hold (a field packs gain later), as stored:
    kept as they are when the form's fields are saved over that version."""
    data = json.loads(content)
    return {k: v for k, v in data.items() if k not in SHOWN} if isinstance(data, dict) else {}


def read_draft(
    catalog: Catalog, values: Mapping[str, str], kept: Mapping[str, Any] | None = None
) -> Draft:
    """The form's ask in its campaign, with `kept` (`unshown`) as the rest of it, checked
    as a pack's; `AskFormError` names every field that is wrong (a problem with a kept
    part, which has no field here, under "")."""
    errors: dict[str, str] = {}
    campaign = values.get(CAMPAIGN, "")
    pack = catalog.packs.get(campaign)
    if pack is None:
        known = ", ".join(sorted(catalog.packs))
        errors[CAMPAIGN] = f"is not a campaign here (known: {known})"
    data, slots = _nested(values)
    words = ask_form_words.nest(values, slots)
    data |= words.data
    data |= {k: v for k, v in (kept or {}).items() if k not in SHOWN}
    try:
        ask = Ask.model_validate(data)
    except ValidationError as exc:
        errors.update(_field_errors(exc, slots, words, values.get("ask", "")))
    errors.update(words.errors)  # said before the pack's checks: said more plainly
    if errors or pack is None:
        raise AskFormError(errors)
    return Draft(campaign, pack.campaign.title, ask)


def _stand_in(ask: AskRow, kind: PromptKind) -> PromptRow:
    """A prompt that no delivery has (prompt 0), for a preview's buttons."""
    now = now_text()
    return PromptRow(
        id=PREVIEW_PROMPT_ID,
        campaign=ask.campaign,
        ask_id=ask.id,
        kind=kind,
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


def preview_message(
    ids: ButtonIds, ask: AskRow, *, reminder: bool = False, variant: str | None = None
) -> Message:
    """The ask as a weekly prompt sends it (or, `reminder`, as its reminder does: marked,
    with the ask's reminder words under it; `variant`, in that wording under test), for
    a preview, in the language being spoken (`campaigns.languages.speaking`). Its
    buttons answer prompt 0, which no delivery has, so pressing them in a test message
    counts nothing."""
    note = (ask_languages.localise(ask).reminder or "") if reminder else ""
    stand_in = _stand_in(ask, PromptKind.MANUAL)
    return ask_message(ids, ask, stand_in, reminder=reminder, note=note, variant=variant)


def preview_next_step(ask: AskRow) -> Message | None:
    """The ask's next step as a supporter who did it gets it (None: it has none). Its
    invite, if it has one, shows a stand-in link: each supporter gets their own."""
    if ask.next_text is None:
        return None
    invite = None
    if ask.next_invite:
        invite = wording.invite(ask.campaign_title, SAMPLE_INVITE, "", None, 0)
    return next_step_message(ask, invite)


def preview_poll(ids: ButtonIds, ask: AskRow) -> Message | None:
    """The ask's outcome poll as it goes out (None: it has none); its buttons, like a
    preview's, answer prompt 0."""
    if not ask.poll_labels:
        return None
    return poll_message(ids, ask, _stand_in(ask, PromptKind.POLL))


def _nested(values: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The fields as a pack's table of the ask (`statistic.url` under `statistic`), and
    the answer field each of the poll's answers came from (blank ones are skipped)."""
    data: dict[str, Any] = {}
    for name in ASK_FIELDS:
        value = values.get(name, "")
        if name in OPTIONAL and not value.strip():
            continue
        *parents, key = name.split(".")
        table = data
        for parent in parents:
            table = table.setdefault(parent, {})
        table[key] = value

    def typed(name: str) -> str:
        return values.get(name, "").strip()

    invite = typed("next.invite") != ""
    if invite or any(typed(name) for name in NEXT_FIELDS[:3]):
        step: dict[str, Any] = {"text": values.get("next.text", ""), "invite": invite}
        if typed("next.link.label") or typed("next.link.url"):
            step["link"] = {"label": typed("next.link.label"), "url": typed("next.link.url")}
        data["next"] = step
    slots = [name for name in ANSWER_FIELDS if typed(name)]
    if typed("poll.question") or slots:
        poll: dict[str, Any] = {
            "question": values.get("poll.question", ""),
            "answers": [values.get(name, "") for name in slots],
        }
        if typed("poll.after_days"):
            poll["after_days"] = typed("poll.after_days")
        data["poll"] = poll
    return data, slots


def _field_errors(
    exc: ValidationError, slots: list[str], words: ask_form_words.Nested, ask: str
) -> dict[str, str]:
    """Each problem under its field's name, in the words a broken pack file gets."""
    found: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = ".".join(loc)
        kind = error["type"]
        told = packs._describe(error, {}).removeprefix(f"field {name}: ")
        placed = ask_form_words.owner(error["loc"], told, words, ask)
        if placed is not None:
            found.setdefault(*placed)
            continue
        if loc[:2] == ["poll", "answers"]:
            if len(loc) > 2 and loc[2].isdigit() and int(loc[2]) < len(slots):
                name = slots[int(loc[2])]
            elif kind == "too_short":
                found.setdefault(ANSWERS, f"give at least 2 answers (up to {MAX_POLL_ANSWERS})")
                continue
            else:
                name = ANSWERS
        if name == "statistic.year" and kind.startswith("int_"):
            message = YEAR_MESSAGE
        elif name == "poll.after_days" and kind.startswith(("int_", "less_", "greater_")):
            message = DAYS_MESSAGE
        else:
            # packs' own wording: "field statistic.url: must be an https:// link"
            message = packs._describe(error, {}).removeprefix(f"field {'.'.join(loc)}: ")
        owner = _owner(name)
        # A kept part (`unshown`) has no field here: say which part, as a pack file would.
        found.setdefault(owner, message if owner else packs._describe(error, {}))
    return found


def _owner(name: str) -> str:
    """The form field a problem belongs to: itself, or for a problem with a whole table
    (the statistic's period not in its sentence) the table's first field shown."""
    if name in FIELDS or name == ANSWERS or name in ask_form_words.PROBLEM_PLACES:
        return name
    if name == "statistic":
        return "statistic.sentence"
    return next((field for field in FIELDS if field.startswith(name + ".")), "")
