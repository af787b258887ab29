"""Journey steps as prompts: an ask's next step, its outcome poll, a welcome message.

Each step is one prompt, made once (a unique index sees to that), whose deliveries
are added as supporters reach the step; the deliveries' unique key (prompt,
supporter) then means a supporter gets each step at most once, however often they
reach it.
"""

from __future__ import annotations

from sqlite_utils import Database

from db import prompts as prompts_db
from db.prompts import PromptRow
from db.states import JOURNEY_KINDS, PromptKind, PromptState
from db.times import now_text


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
