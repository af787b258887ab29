"""Journey steps as prompts: an ask's next step, its outcome poll, a welcome message.

Each step is one prompt, made once (a unique index sees to that), whose deliveries
are added as supporters reach the step; the deliveries' unique key (prompt,
supporter) then means a supporter gets each step at most once, however often they
reach it (within the retention period: retention moves deliveries older than that
to a fresh key, so a step reached again years later may come again).

A step's prompt is 'sent' while nothing of it waits to go out. Adding deliveries
makes it 'sending' again (in the same transaction), so the engine picks it up as it
does any send under way, after a restart too; the engine makes it 'sent' again once
they have gone. A delivery is added with `not_before` set to the moment it was added,
so a send of the step already under way finds it among those it tries again, instead
of finishing without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from db import prompts as prompts_db
from db.prompts import PromptRow
from db.rows import fetch_all
from db.states import JOURNEY_KINDS, PromptKind, PromptState
from db.supporters import SupporterRow
from db.times import now_text, to_text

# A welcome message or poll that fell due more than this long ago is never sent: the
# bot was down, or the supporter joined (or did the ask) before the step existed.
CATCH_UP = timedelta(days=2)

# Who a journey step may go to: a private chat, subscribed and not paused (or at the
# end of a pause), on a platform the engine sends to.
_REACHABLE = """
    s.kind = 'private'
    AND (s.status = 'active'
         OR (s.status = 'paused' AND s.paused_until IS NOT NULL AND s.paused_until <= :now))
    AND s.platform IN (SELECT value FROM json_each(:platforms))
"""

_INSERT = """
    INSERT INTO deliveries
        (prompt_id, supporter_id, supporter_key, platform, source, state, attempts,
         created_at, updated_at, not_before)
"""


def ensure_step_prompt(
    db: Database,
    *,
    campaign: str,
    kind: PromptKind,
    ask_id: str,
    timezone: str,
    step: int | None = None,
) -> PromptRow:
    """The one prompt of a journey step, made on first use.

    `ask_id` is the ask a next step or poll follows; a welcome message (numbered by
    `step`, from 1) names its campaign's first ask, since every prompt names an ask.
    """
    if kind not in JOURNEY_KINDS:
        raise ValueError(f"{kind!r} is not a journey step")
    now = now_text()
    db.execute(
        """
        INSERT INTO prompts
            (campaign, ask_id, kind, step, scheduled_at, timezone, state, created_by,
             created_at, started_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, 'journey', ?, ?, ?)
        ON CONFLICT (campaign, kind, ask_id, COALESCE(step, 0))
            WHERE kind IN ('next', 'welcome', 'poll') DO NOTHING
        """,
        [campaign, ask_id, kind, step, now, timezone, PromptState.SENT, now, now, now],
    )
    (prompt_id,) = db.execute(
        """
        SELECT id FROM prompts WHERE campaign = ? AND kind = ? AND ask_id = ?
          AND COALESCE(step, 0) = ?
        """,
        [campaign, kind, ask_id, step or 0],
    ).fetchone()
    prompt = prompts_db.get(db, int(prompt_id))
    assert prompt is not None
    return prompt


def campaign_timezone(db: Database, campaign: str) -> str:
    (zone,) = db.execute("SELECT timezone FROM campaigns WHERE slug = ?", [campaign]).fetchone()
    return str(zone)


def _reopen(db: Database, prompt_id: int) -> None:
    """New deliveries for a step whose send had finished: it is sending again."""
    db.execute(
        "UPDATE prompts SET state = 'sending', finished_at = NULL WHERE id = ? AND state = 'sent'",
        [prompt_id],
    )


def _added(db: Database, prompt: PromptRow, rowcount: int) -> int:
    if rowcount > 0:
        _reopen(db, prompt.id)
    return max(rowcount, 0)


def add_for_supporter(db: Database, prompt: PromptRow, supporter: SupporterRow) -> bool:
    """One supporter reached a step (a next step, after they did its ask). False if
    they had it already, or the step was stopped."""
    if prompt.state not in (PromptState.SENT, PromptState.SENDING):
        return False
    now = now_text()
    cursor = db.execute(
        f"""{_INSERT}
        VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        [prompt.id, supporter.id, supporter.key, supporter.platform, supporter.source, *[now] * 3],
    )
    return _added(db, prompt, cursor.rowcount) == 1


@dataclass(frozen=True, slots=True)
class WelcomeStep:
    """One message of a campaign's welcome series, as the pack gave it."""

    step: int  # from 1
    after_days: int
    text: str
    link_label: str | None
    link_url: str | None
    # Its text in other languages (language code, text): the pack's
    # `[campaign.translations.<code>] welcome`, kept in the campaign's `extra`.
    translated: tuple[tuple[str, str], ...] = ()
    # Its link's label in other languages (language code, label): the pack's
    # `[campaign.translations.<code>] welcome_link_labels`, where not "".
    translated_labels: tuple[tuple[str, str], ...] = ()


def welcome_steps(db: Database, campaign: str) -> list[WelcomeStep]:
    row = db.execute("SELECT welcome, extra FROM campaigns WHERE slug = ?", [campaign]).fetchone()
    messages = json.loads(row[0]) if row and row[0] else []
    languages = json.loads(row[1] or "{}").get("translations") if row else None
    texts = {
        code: words["welcome"]
        for code, words in (languages if isinstance(languages, dict) else {}).items()
        if isinstance(words, dict) and isinstance(words.get("welcome"), list)
    }
    labels = {
        code: words["welcome_link_labels"]
        for code, words in (languages if isinstance(languages, dict) else {}).items()
        if isinstance(words, dict) and isinstance(words.get("welcome_link_labels"), list)
    }
    return [
        WelcomeStep(
            step=number,
            after_days=int(message["after_days"]),
            text=str(message["text"]),
            link_label=message.get("link_label"),
            link_url=message.get("link_url"),
            translated=tuple(
                (code, str(found[number - 1]))
                for code, found in texts.items()
                if len(found) == len(messages)
            ),
            translated_labels=tuple(
                (code, str(found[number - 1]))
                for code, found in labels.items()
                if len(found) == len(messages) and found[number - 1]
            ),
        )
        for number, message in enumerate(messages, start=1)
    ]


def welcome_prompt(db: Database, campaign: str, step: int) -> PromptRow | None:
    """The prompt of a campaign's welcome message `step`, made on first use (under the
    campaign's first ask; the one made first stays, even if the first ask changes)."""
    found = db.execute(
        "SELECT id FROM prompts WHERE campaign = ? AND kind = 'welcome' AND step = ?"
        " ORDER BY id LIMIT 1",
        [campaign, step],
    ).fetchone()
    if found:
        return prompts_db.get(db, int(found[0]))
    first = db.execute(
        "SELECT id FROM asks WHERE campaign = ? AND retired = 0 ORDER BY position LIMIT 1",
        [campaign],
    ).fetchone()
    if first is None:
        return None
    return ensure_step_prompt(
        db,
        campaign=campaign,
        kind=PromptKind.WELCOME,
        ask_id=str(first[0]),
        timezone=campaign_timezone(db, campaign),
        step=step,
    )


def _window(now: datetime, after_days: int) -> tuple[str, str]:
    """The times a step's trigger (joining, doing the ask) must fall between, exclusive
    then inclusive, for the step to be due now and not too late."""
    due = now - timedelta(days=after_days)
    return to_text(due - CATCH_UP), to_text(due)


def add_welcome(
    db: Database,
    prompt: PromptRow,
    step: WelcomeStep,
    *,
    now: datetime,
    platforms: list[str],
) -> int:
    """Welcome message `step` to each supporter of the campaign whose day for it has
    come: they joined the campaign `after_days` ago (up to `CATCH_UP` more), after the
    message existed (its prompt was made), and are still subscribed and reachable. A
    supporter who had this message of the campaign (under any prompt) is left out."""
    if prompt.state not in (PromptState.SENT, PromptState.SENDING):
        return 0
    too_late, due = _window(now, step.after_days)
    stamp = now_text()
    cursor = db.execute(
        f"""{_INSERT}
        SELECT :prompt, s.id, s.key, s.platform, s.source, 'pending', 0, :stamp, :stamp, :stamp
        FROM subscriptions sub JOIN supporters s ON s.id = sub.supporter_id
        WHERE sub.campaign = :campaign AND sub.created_at > :too_late
          AND sub.created_at <= :due AND sub.created_at >= :existed
          AND {_REACHABLE}
          AND NOT EXISTS (
              SELECT 1 FROM prompts p JOIN deliveries d ON d.prompt_id = p.id
              WHERE p.campaign = :campaign AND p.kind = 'welcome' AND p.step = :step
                AND d.supporter_key = s.key)
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        {
            "prompt": prompt.id,
            "campaign": prompt.campaign,
            "step": step.step,
            "too_late": too_late,
            "due": due,
            "existed": prompt.created_at,
            "now": to_text(now),
            "platforms": json.dumps(sorted(platforms)),
            "stamp": stamp,
        },
    )
    return _added(db, prompt, cursor.rowcount)


@dataclass(frozen=True, slots=True)
class PollAsk:
    campaign: str
    ask_id: str
    poll_after_days: int


def asks_with_polls(db: Database) -> list[PollAsk]:
    """Every ask that carries an outcome poll: those in a pack, and retired ones whose
    poll exists already (its prompt was made while the ask ran). Retiring an ask stops
    its weekly runs, not the journey of those who did it: their polls still fall due
    (`add_poll` sends only to those who did the ask, so nobody new gets one)."""
    cursor = db.execute(
        """
        SELECT a.campaign, a.id AS ask_id, a.poll_after_days FROM asks a
        WHERE a.poll_question IS NOT NULL AND a.poll_after_days IS NOT NULL
          AND (a.retired = 0 OR EXISTS (
              SELECT 1 FROM prompts p
              WHERE p.campaign = a.campaign AND p.ask_id = a.id AND p.kind = 'poll'))
        ORDER BY a.campaign, a.retired, a.position
        """
    )
    return fetch_all(PollAsk, cursor)


def add_poll(
    db: Database, prompt: PromptRow, after_days: int, *, now: datetime, platforms: list[str]
) -> int:
    """An ask's poll to each supporter who did the ask `after_days` ago (up to
    `CATCH_UP` more), after the poll existed (its prompt was made), and is still
    subscribed to the campaign and reachable. Doing the ask again later sends nothing
    more: one poll per supporter and ask, ever."""
    if prompt.state not in (PromptState.SENT, PromptState.SENDING):
        return 0
    too_late, due = _window(now, after_days)
    stamp = now_text()
    cursor = db.execute(
        f"""{_INSERT}
        SELECT :prompt, s.id, s.key, s.platform, s.source, 'pending', 0, :stamp, :stamp, :stamp
        FROM supporters s
        WHERE s.key IN (
                SELECT a.supporter_key FROM prompts p JOIN actions a ON a.prompt_id = p.id
                WHERE p.campaign = :campaign AND p.ask_id = :ask
                  AND p.kind IN ('weekly', 'manual', 'standing')
                  AND a.kind = 'done' AND a.created_at > :too_late AND a.created_at <= :due
                  AND a.created_at >= :existed)
          AND EXISTS (SELECT 1 FROM subscriptions sub
                      WHERE sub.supporter_id = s.id AND sub.campaign = :campaign)
          AND {_REACHABLE}
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        {
            "prompt": prompt.id,
            "campaign": prompt.campaign,
            "ask": prompt.ask_id,
            "too_late": too_late,
            "due": due,
            "existed": prompt.created_at,
            "now": to_text(now),
            "platforms": json.dumps(sorted(platforms)),
            "stamp": stamp,
        },
    )
    return _added(db, prompt, cursor.rowcount)


def sending_steps(db: Database) -> list[int]:
    """Journey steps with deliveries waiting to go out."""
    cursor = db.execute(
        "SELECT id FROM prompts WHERE state = 'sending'"
        " AND kind IN ('next', 'welcome', 'poll') ORDER BY id"
    )
    return [int(row[0]) for row in cursor.fetchall()]


def supporter_of(db: Database, delivery_id: int) -> int | None:
    """The supporter a delivery goes to (None once they are erased)."""
    row = db.execute("SELECT supporter_id FROM deliveries WHERE id = ?", [delivery_id]).fetchone()
    return int(row[0]) if row and row[0] is not None else None


@dataclass(frozen=True, slots=True)
class StepCount:
    """How far one journey step got: deliveries by outcome."""

    campaign: str
    kind: PromptKind
    ask_id: str
    step: int | None
    sent: int
    waiting: int  # pending, or in flight
    unknown: int  # may have arrived; never sent again
    failed_or_gone: int  # failed, gone (blocked, erased) or withdrawn


def step_counts(
    db: Database,
    *,
    campaign: str | None = None,
    platform: str | None = None,
    source: str | None = None,
    since: str | None = None,
    until: str | None = None,
    no_source: str = "(none)",
) -> list[StepCount]:
    """Every journey step with its deliveries' outcomes, counted (never who). The
    filters apply to deliveries: their platform, their supporter's source, and when
    they were added (a step goes on for as long as supporters reach it)."""
    conditions = []
    params: dict[str, object] = {"campaign": campaign, "no_source": no_source}
    for name, value, condition in (
        ("platform", platform, "d.platform = :platform"),
        ("source", source, "COALESCE(d.source, :no_source) = :source"),
        ("since", since, "d.created_at >= :since"),
        ("until", until, "d.created_at < :until"),
    ):
        if value is not None:
            conditions.append(condition)
            params[name] = value
    on = "".join(f" AND {condition}" for condition in conditions)
    cursor = db.execute(
        f"""
        SELECT p.campaign, p.kind, p.ask_id, p.step,
            COALESCE(sum(d.state = 'sent'), 0) AS sent,
            COALESCE(sum(d.state IN ('pending', 'sending')), 0) AS waiting,
            COALESCE(sum(d.state = 'unknown'), 0) AS unknown,
            COALESCE(sum(d.state IN ('failed', 'gone', 'cancelled')), 0) AS failed_or_gone
        FROM prompts p
        LEFT JOIN deliveries d ON d.prompt_id = p.id{on}
        LEFT JOIN asks a ON a.campaign = p.campaign AND a.id = p.ask_id
        WHERE p.kind IN ('next', 'welcome', 'poll')
          AND (:campaign IS NULL OR p.campaign = :campaign)
        GROUP BY p.id
        ORDER BY p.campaign, CASE p.kind WHEN 'welcome' THEN 0 WHEN 'next' THEN 1 ELSE 2 END,
            p.step, a.position, p.id
        """,
        params,
    )
    return fetch_all(StepCount, cursor)
