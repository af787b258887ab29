"""Outcome poll answers: one per poll prompt and supporter pseudonym, changeable.

A row holds the poll prompt, the supporter's pseudonymous key, the index of the
chosen answer (into the ask's `poll_answers`), the platform and the source: never
the person's chat id, and never anything they typed. Erasure deletes the
supporter row and leaves these rows in the totals under a key nothing leads to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from db.rows import fetch_all
from db.states import PromptKind
from db.stats import Filters, row_filter
from db.times import now_text


class Recorded(StrEnum):
    """What a press did to the supporter's answer."""

    NEW = "new"  # their first answer to this poll
    CHANGED = "changed"  # replaced their earlier answer
    SAME = "same"  # the answer they had already given: nothing changed


def answer_of(db: Database, prompt_id: int, supporter_key: str) -> int | None:
    """The supporter's answer to a poll, if they gave one."""
    row = db.execute(
        "SELECT answer FROM poll_answers WHERE prompt_id = ? AND supporter_key = ?",
        [prompt_id, supporter_key],
    ).fetchone()
    return None if row is None else int(row[0])


def record(
    db: Database,
    *,
    prompt_id: int,
    supporter_key: str,
    answer: int,
    platform: str,
    source: str | None,
) -> Recorded:
    """Store a supporter's answer, replacing the one they gave before (if any)."""
    before = answer_of(db, prompt_id, supporter_key)
    if before == answer:
        return Recorded.SAME
    now = now_text()
    db.execute(
        """
        INSERT INTO poll_answers
            (prompt_id, supporter_key, answer, platform, source, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (prompt_id, supporter_key) DO UPDATE SET
            answer = excluded.answer, updated_at = excluded.updated_at
        """,
        [prompt_id, supporter_key, answer, platform, source, now, now],
    )
    return Recorded.NEW if before is None else Recorded.CHANGED


@dataclass(frozen=True, slots=True)
class GivenAnswer:
    """One of a supporter's poll answers, as /mydata shows it."""

    prompt_id: int
    campaign: str
    ask_id: str
    title: str  # the ask's
    question: str | None  # None if the pack no longer has the poll
    labels: str | None  # the ask's answers now, as JSON
    answer: int
    created_at: str
    updated_at: str

    @property
    def chosen(self) -> str:
        """The chosen answer's label (its number if the pack no longer has it)."""
        return label(self.labels, self.answer)


def label(labels: str | None, index: int) -> str:
    """Answer `index` of a poll's answers (JSON), or its number if the pack has no such answer."""
    found = json.loads(labels) if labels else []
    return str(found[index]) if index < len(found) else f"answer {index + 1}"


def for_supporter(db: Database, supporter_key: str) -> list[GivenAnswer]:
    """Every poll answer under this key, oldest first."""
    cursor = db.execute(
        """
        SELECT x.prompt_id, p.campaign, p.ask_id, COALESCE(a.title, p.ask_id) AS title,
            a.poll_question AS question, a.poll_answers AS labels, x.answer, x.created_at,
            x.updated_at
        FROM poll_answers x JOIN prompts p ON p.id = x.prompt_id
        LEFT JOIN asks a ON a.campaign = p.campaign AND a.id = p.ask_id
        WHERE x.supporter_key = ? ORDER BY x.created_at, x.prompt_id
        """,
        [supporter_key],
    )
    return fetch_all(GivenAnswer, cursor)


def export(db: Database, supporter_key: str) -> list[dict[str, Any]]:
    """A supporter's poll answers for their /mydata file."""
    return [
        {
            "poll": given.prompt_id,
            "campaign": given.campaign,
            "ask": given.ask_id,
            "title": given.title,
            "question": given.question,
            "your_answer": given.chosen,
            "first_answered_at": given.created_at,
            "answered_at": given.updated_at,  # the latest answer's time
        }
        for given in for_supporter(db, supporter_key)
    ]


@dataclass(frozen=True, slots=True)
class PollCounts:
    """One poll's numbers: how many were sent it, and how many chose each answer."""

    prompt_id: int
    campaign: str
    ask_id: str
    ask_title: str
    question: str | None
    labels: list[str]  # every answer the pack gives, and any stored beyond those
    counts: list[int]  # per answer, in the order of `labels`
    asked: int  # poll deliveries that went out (state 'sent')

    @property
    def answered(self) -> int:
        return sum(self.counts)


def _filters(alias: str, filters: Filters, moment: str) -> tuple[str, list[Any]]:
    where, params = row_filter(alias, filters)
    if filters.since:
        where += f" AND {moment} >= ?"
        params.append(filters.since)
    if filters.until:
        where += f" AND {moment} < ?"
        params.append(filters.until)
    return where, params


def results(db: Database, filters: Filters | None = None) -> list[PollCounts]:
    """Each poll that went out or was answered: who was asked and what they chose.

    Platform and source filter the deliveries and the answers; the dates filter
    when the poll went out to a supporter and when they first answered it (a poll
    prompt itself stands for the whole life of an ask's poll, so its own time
    says nothing). Ordered by campaign and the asks' order in the pack.
    """
    filters = filters or Filters()
    polls = db.execute(
        """
        SELECT p.id, p.campaign, p.ask_id, COALESCE(a.title, p.ask_id), a.poll_question,
            a.poll_answers
        FROM prompts p LEFT JOIN asks a ON a.campaign = p.campaign AND a.id = p.ask_id
        WHERE p.kind = ? AND (? IS NULL OR p.campaign = ?)
        ORDER BY p.campaign, a.position, p.id
        """,
        [PromptKind.POLL.value, filters.campaign, filters.campaign],
    ).fetchall()
    if not polls:
        return []
    ids = json.dumps([row[0] for row in polls])
    where, params = _filters("d", filters, "COALESCE(d.sent_at, d.created_at)")
    asked = dict(
        db.execute(
            f"""SELECT d.prompt_id, count(*) FROM deliveries d
            WHERE d.prompt_id IN (SELECT value FROM json_each(?)) AND d.state = 'sent'{where}
            GROUP BY d.prompt_id""",
            [ids, *params],
        ).fetchall()
    )
    where, params = _filters("x", filters, "x.created_at")
    chosen: dict[int, dict[int, int]] = {}
    for prompt_id, answer, n in db.execute(
        f"""SELECT x.prompt_id, x.answer, count(*) FROM poll_answers x
        WHERE x.prompt_id IN (SELECT value FROM json_each(?)){where}
        GROUP BY x.prompt_id, x.answer""",
        [ids, *params],
    ).fetchall():
        chosen.setdefault(prompt_id, {})[answer] = n
    found = []
    for prompt_id, campaign, ask_id, title, question, labels in polls:
        by_answer = chosen.get(prompt_id, {})
        if not asked.get(prompt_id) and not by_answer:
            continue
        size = max([len(json.loads(labels)) if labels else 0, *(i + 1 for i in by_answer)])
        found.append(
            PollCounts(
                prompt_id=prompt_id,
                campaign=campaign,
                ask_id=ask_id,
                ask_title=title,
                question=question,
                labels=[label(labels, index) for index in range(size)],
                counts=[by_answer.get(index, 0) for index in range(size)],
                asked=asked.get(prompt_id, 0),
            )
        )
    return found
