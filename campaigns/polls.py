"""Outcome polls: a supporter's answer to an ask's poll, and the results staff see.

A poll reaches a supporter as one message with a button per answer (made by
`compose.poll_message`, sent by the delivery engine to those who did the ask,
in private chats only). A press is the only way to answer: nothing typed is
taken. Each supporter has one answer per poll, under their pseudonymous key,
and may change it; a press that doesn't hold up (a forged, stale or malformed
button, one for a poll never sent to this chat, an answer the poll doesn't
have) changes nothing and gets the usual "that button no longer works".
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from sqlite_utils import Database

from campaigns import wording
from campaigns.buttons import ButtonIds
from campaigns.compose import poll_message
from campaigns.model import PressResult
from campaigns.reports import defuse
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import polls as polls_db
from db import prompts as prompts_db
from db.polls import PollCounts as PollCounts
from db.polls import Recorded
from db.polls import results as results
from db.states import PromptKind
from db.supporters import SupporterRow

# A poll button's argument: `<poll prompt id>-<answer index>`; the id fits SQLite's
# 64-bit integers and the index is one digit (a poll has at most five answers).
_ARGUMENT = re.compile(r"([0-9]{1,18})-([0-9])")


def stale() -> PressResult:
    """A button that no longer means anything here: said in the language being spoken."""
    return PressResult(answer=wording.BUTTON_STALE)


_ANSWERS = {
    Recorded.NEW: wording.POLL_THANKS,
    Recorded.CHANGED: wording.POLL_CHANGED,
}


def read_argument(argument: str) -> tuple[int, int] | None:
    """The poll prompt and answer index a button carries, or None if it is malformed."""
    found = _ARGUMENT.fullmatch(argument)
    return (int(found[1]), int(found[2])) if found else None


def press(db: Database, ids: ButtonIds, supporter: SupporterRow, argument: str) -> PressResult:
    """A subscribed supporter, in their private chat, pressed a poll's answer."""
    read = read_argument(argument)
    if read is None:
        return stale()
    prompt_id, index = read
    prompt = prompts_db.get(db, prompt_id)
    if prompt is None or prompt.kind is not PromptKind.POLL:
        return stale()
    ask = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    if ask is None or index >= len(ask.poll_labels):
        return stale()
    delivery = deliveries_db.delivered_to(db, supporter.key, prompt.id)
    if delivery is None:  # never sent to this chat: a forwarded or made-up button
        return stale()
    deliveries_db.confirm_arrival(db, delivery.id)
    recorded = polls_db.record(
        db,
        prompt_id=prompt.id,
        supporter_key=supporter.key,
        answer=index,
        platform=supporter.platform,
        source=supporter.source,
    )
    if recorded is Recorded.SAME:
        return PressResult(answer=wording.POLL_ALREADY)
    answer = _ANSWERS[recorded]
    return PressResult(answer=answer, counted=True, edit=poll_message(ids, ask, prompt, index))


# ---------------------------------------------------------------- results

HEADER = ["campaign", "ask_id", "question", "answer", "count", "share_percent", "answered", "asked"]
NUMERIC = frozenset({"count", "share_percent", "answered", "asked"})


def share(part: int, whole: int) -> float | None:
    """A percentage to one decimal place; None when there is nothing to share."""
    return round(100 * part / whole, 1) if whole else None


def table(found: list[PollCounts]) -> tuple[list[str], list[list[Any]]]:
    """One row per poll and answer: how many chose it and their share of those who
    answered the poll, beside how many answered and how many were sent the poll."""
    rows = [
        [
            poll.campaign,
            poll.ask_id,
            poll.question or "",
            label,
            n,
            share(n, poll.answered),
            poll.answered,
            poll.asked,
        ]
        for poll in found
        for label, n in zip(poll.labels, poll.counts, strict=True)
    ]
    return list(HEADER), rows


def to_csv(found: list[PollCounts]) -> str:
    """The poll table as CSV, by the report tables' rules (formula-looking text defused)."""
    header, rows = table(found)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in rows)
    return out.getvalue()


def records(found: list[PollCounts]) -> list[dict[str, Any]]:
    """The poll table's rows as JSON objects."""
    header, rows = table(found)
    return [dict(zip(header, row, strict=True)) for row in rows]
