"""Queries on prompts: an ask scheduled for an audience at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from db.rows import fetch_all
from db.states import ASK_KINDS, PROMPT_FINISHED, PromptKind, PromptState
from db.times import now_text


@dataclass(frozen=True, slots=True)
class PromptRow:
    id: int
    campaign: str
    ask_id: str
    kind: PromptKind
    parent_id: int | None
    scheduled_at: str
    timezone: str
    platform: str | None
    source: str | None
    state: PromptState
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    step: int | None  # which message of a welcome series (welcome prompts only)
    # The version of the ask it sent (`db.versions`): set when it starts sending (a
    # reminder takes its parent's). None: not started, or a journey step (those follow
    # the ask's published version).
    ask_version: int | None = None

    @property
    def answers_to(self) -> int:
        """The prompt an action on this one counts for (a reminder counts for its parent)."""
        return self.parent_id if self.kind == PromptKind.REMINDER and self.parent_id else self.id


_COLUMNS = ", ".join(PromptRow.__slots__)
_SELECT = f"SELECT {_COLUMNS} FROM prompts"
# The ask version a prompt starting now sends: a reminder its parent's, any other the
# one published. In an UPDATE or INSERT of `prompts` (the alias `prompts` is the row).
_VERSION_NOW = """COALESCE(
    (SELECT parent.ask_version FROM prompts parent WHERE parent.id = {parent}),
    (SELECT a.version FROM asks a WHERE a.campaign = {campaign} AND a.id = {ask}))"""


def _rows(cursor: Any) -> list[PromptRow]:
    return fetch_all(PromptRow, cursor)


def create(
    db: Database,
    *,
    campaign: str,
    ask_id: str,
    kind: str,
    scheduled_at: str,
    timezone: str,
    created_by: str,
    state: str = PromptState.SCHEDULED,
    platform: str | None = None,
    source: str | None = None,
    parent_id: int | None = None,
) -> PromptRow:
    now = now_text()
    going = state in (PromptState.SENDING, PromptState.SENT)  # it sends the ask as it is now
    version = _VERSION_NOW.format(parent="?", campaign="?", ask="?") if going else "?"
    cursor = db.execute(
        f"""
        INSERT INTO prompts
            (campaign, ask_id, kind, parent_id, scheduled_at, timezone, platform, source,
             state, created_by, created_at, started_at, ask_version)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {version})
        """,
        [
            campaign,
            ask_id,
            kind,
            parent_id,
            scheduled_at,
            timezone,
            platform,
            source,
            state,
            created_by,
            now,
            now if going else None,
            *([parent_id, campaign, ask_id] if going else [None]),
        ],
    )
    prompt = get(db, int(cursor.lastrowid or 0))
    assert prompt is not None
    return prompt


def get(db: Database, prompt_id: int) -> PromptRow | None:
    found = _rows(db.execute(f"{_SELECT} WHERE id = ?", [prompt_id]))
    return found[0] if found else None


def current(db: Database, campaign: str, now: str) -> PromptRow | None:
    """The campaign's ask of the moment: the latest prompt that has gone out, reminders aside."""
    found = _rows(
        db.execute(
            f"""{_SELECT}
            WHERE campaign = ? AND kind IN ('weekly', 'manual', 'standing')
              AND state IN ('sending', 'sent')
              AND scheduled_at <= ?
            ORDER BY scheduled_at DESC, id DESC LIMIT 1""",
            [campaign, now],
        )
    )
    return found[0] if found else None


def latest_for_supporter(db: Database, supporter_key: str) -> PromptRow | None:
    """The newest ask this supporter was sent (a reminder stands for its parent; journey
    steps carry no ask)."""
    found = _rows(
        db.execute(
            f"""{_SELECT} WHERE id = (
                SELECT COALESCE(p.parent_id, p.id) FROM deliveries d
                JOIN prompts p ON p.id = d.prompt_id
                WHERE d.supporter_key = ? AND d.state IN ('sent', 'sending', 'unknown')
                  AND p.kind IN ('weekly', 'manual', 'standing', 'reminder')
                ORDER BY d.id DESC LIMIT 1)""",
            [supporter_key],
        )
    )
    return found[0] if found else None


def set_state(db: Database, prompt_id: int, state: str) -> None:
    now = now_text()
    started = now if state == PromptState.SENDING else None
    finished = now if state in PROMPT_FINISHED else None
    db.execute(
        """
        UPDATE prompts SET state = ?, started_at = COALESCE(started_at, ?),
            finished_at = COALESCE(?, finished_at)
        WHERE id = ?
        """,
        [state, started, finished, prompt_id],
    )


def listed(
    db: Database,
    *,
    states: tuple[str, ...] = (),
    journeys: bool = False,
    limit: int = 200,
) -> list[PromptRow]:
    """Prompts newest first, optionally only in some states; journey steps (which live
    as long as their pack step does) only when asked for."""
    where = ["1"]
    params: list[Any] = []
    if states:
        where.append(f"state IN ({', '.join('?' for _ in states)})")
        params += states
    if not journeys:
        where.append(f"kind IN ({', '.join('?' for _ in ASK_KINDS)})")
        params += ASK_KINDS
    return _rows(
        db.execute(
            f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY scheduled_at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
    )


def start_sending(db: Database, prompt_id: int) -> bool:
    """scheduled → sending; False if another caller already started (or cancelled) it.
    The prompt now sends the ask's published version (a reminder, its parent's)."""
    version = _VERSION_NOW.format(
        parent="prompts.parent_id", campaign="prompts.campaign", ask="prompts.ask_id"
    )
    cursor = db.execute(
        f"""UPDATE prompts SET state = 'sending', started_at = ?,
            ask_version = COALESCE(ask_version, {version})
        WHERE id = ? AND state = 'scheduled'""",
        [now_text(), prompt_id],
    )
    return cursor.rowcount == 1


def due(db: Database, now: str) -> list[PromptRow]:
    """Prompts whose time has come, oldest first."""
    return _rows(
        db.execute(
            f"{_SELECT} WHERE state = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at, id",
            [now],
        )
    )


def sending(db: Database) -> list[PromptRow]:
    return _rows(db.execute(f"{_SELECT} WHERE state = 'sending' ORDER BY started_at, id"))


def ensure_weekly(
    db: Database, *, campaign: str, ask_id: str, scheduled_at: str, timezone: str
) -> PromptRow:
    """The weekly prompt of one run: created once, whoever asks first."""
    db.execute(
        """
        INSERT INTO prompts
            (campaign, ask_id, kind, scheduled_at, timezone, state, created_by, created_at)
        VALUES (?, ?, 'weekly', ?, ?, 'scheduled', 'schedule', ?)
        ON CONFLICT (campaign, scheduled_at) WHERE kind = 'weekly' DO NOTHING
        """,
        [campaign, ask_id, scheduled_at, timezone, now_text()],
    )
    found = _rows(
        db.execute(
            f"{_SELECT} WHERE campaign = ? AND scheduled_at = ? AND kind = 'weekly'",
            [campaign, scheduled_at],
        )
    )
    return found[0]


def gone_out(db: Database, campaign: str) -> list[tuple[str, str]]:
    """(ask id, scheduled at) of the campaign's weekly and manual prompts that are being
    sent or were sent, latest first: the asks that have gone out."""
    rows = db.execute(
        """
        SELECT ask_id, scheduled_at FROM prompts
        WHERE campaign = ? AND kind IN ('weekly', 'manual') AND state IN ('sending', 'sent')
        ORDER BY scheduled_at DESC, id DESC
        """,
        [campaign],
    ).fetchall()
    return [(str(ask_id), str(at)) for ask_id, at in rows]


def cancel(db: Database, prompt_id: int) -> bool:
    """Cancel a prompt that has not started."""
    cursor = db.execute(
        """
        UPDATE prompts SET state = 'cancelled', finished_at = ?
        WHERE id = ? AND state = 'scheduled'
        """,
        [now_text(), prompt_id],
    )
    return cursor.rowcount == 1


def needing_reminder(db: Database, campaign: str, after: str, before: str) -> list[PromptRow]:
    """Sent weekly or manual prompts of a campaign that started between `after` and
    `before` and have no reminder yet."""
    return _rows(
        db.execute(
            f"""{_SELECT} p WHERE p.campaign = ? AND p.kind IN ('weekly', 'manual')
            AND p.state = 'sent' AND p.started_at > ? AND p.started_at <= ?
            AND NOT EXISTS (SELECT 1 FROM prompts r WHERE r.parent_id = p.id
                            AND r.kind = 'reminder')
            ORDER BY p.id""",
            [campaign, after, before],
        )
    )
