"""Queries on deliveries: one per prompt and supporter, moving
pending → sending → sent | gone | failed | unknown, or pending → cancelled.

A delivery is 'sending' only while its request is out. One that failed in a way
that is safe to retry goes back to 'pending' with `not_before`, the earliest time
it may be tried again; `attempts` counts the requests that count towards giving up
(those made while the platform was in an outage don't).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
from db.states import ActionKind, ChatKind, DeliveryState
from db.supporters import SupporterRow
from db.times import now_text


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    prompt_id: int
    supporter_id: int | None
    supporter_key: str
    platform: str
    source: str | None
    state: DeliveryState
    attempts: int
    error: str | None


_COLUMNS = ", ".join(DeliveryRow.__slots__)


def get(db: Database, prompt_id: int, supporter_key: str) -> DeliveryRow | None:
    cursor = db.execute(
        f"SELECT {_COLUMNS} FROM deliveries WHERE prompt_id = ? AND supporter_key = ?",
        [prompt_id, supporter_key],
    )
    return fetch_one(DeliveryRow, cursor)


def record_direct(db: Database, prompt_id: int, supporter: SupporterRow) -> bool:
    """Record a prompt shown in reply to a supporter's own request (/ask, /start).

    Returns False if this supporter already has a delivery of this prompt: the
    reply is shown again, but nothing is counted twice.
    """
    now = now_text()
    cursor = db.execute(
        """
        INSERT INTO deliveries
            (prompt_id, supporter_id, supporter_key, platform, source, state, attempts,
             created_at, updated_at, sent_at)
        VALUES (?, ?, ?, ?, ?, 'sent', 1, ?, ?, ?)
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        [
            prompt_id,
            supporter.id,
            supporter.key,
            supporter.platform,
            supporter.source,
            now,
            now,
            now,
        ],
    )
    return cursor.rowcount == 1


def delivered_to(db: Database, supporter_key: str, prompt_id: int) -> DeliveryRow | None:
    """The delivery that took a prompt (or a reminder of it) to this supporter, if one
    went out: only those may answer it."""
    cursor = db.execute(
        f"""
        SELECT {", ".join("d." + name for name in DeliveryRow.__slots__)}
        FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        WHERE d.supporter_key = ? AND (p.id = ? OR p.parent_id = ?)
          AND d.state IN ('sent', 'sending', 'unknown')
        ORDER BY d.state = 'sent' DESC, d.id LIMIT 1
        """,
        [supporter_key, prompt_id, prompt_id],
    )
    return fetch_one(DeliveryRow, cursor)


def confirm_arrival(db: Database, delivery_id: int) -> None:
    """A press on a message proves it arrived: an 'unknown' delivery becomes 'sent'."""
    now = now_text()
    db.execute(
        """
        UPDATE deliveries SET state = 'sent', error = NULL, sent_at = COALESCE(sent_at, ?),
            updated_at = ?
        WHERE id = ? AND state = 'unknown'
        """,
        [now, now, delivery_id],
    )


@dataclass(frozen=True, slots=True)
class SentAsk:
    """One delivery as its supporter sees it in /mydata."""

    prompt_id: int
    campaign: str
    ask_id: str
    title: str
    reminder: bool
    state: DeliveryState
    at: str
    answer: ActionKind | None
    variant: str | None = None  # the wording they got, in a wording experiment


def for_supporter_key(db: Database, supporter_key: str) -> list[SentAsk]:
    """Every delivery to this supporter, oldest first, with what they answered. A
    journey step's title says which: "next step after <ask>", "welcome message 2",
    "poll: <ask>"."""
    cursor = db.execute(
        """
        SELECT p.id AS prompt_id, p.campaign, p.ask_id,
            CASE p.kind
                WHEN 'next' THEN 'next step after ' || COALESCE(a.title, p.ask_id)
                WHEN 'welcome' THEN 'welcome message ' || p.step
                WHEN 'poll' THEN 'poll: ' || COALESCE(a.title, p.ask_id)
                ELSE COALESCE(a.title, p.ask_id) END AS title,
            p.kind = 'reminder' AS reminder, d.state, COALESCE(d.sent_at, d.created_at) AS at,
            (SELECT kind FROM actions x WHERE x.supporter_key = d.supporter_key
               AND x.prompt_id = COALESCE(p.parent_id, p.id) AND x.kind IN ('done', 'skipped'))
               AS answer, d.variant
        FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        LEFT JOIN asks a ON a.campaign = p.campaign AND a.id = p.ask_id
        WHERE d.supporter_key = ? ORDER BY d.id
        """,
        [supporter_key],
    )
    return fetch_all(SentAsk, cursor)


_ELIGIBLE = """
    (s.status = 'active'
     OR (s.status = 'paused' AND s.paused_until IS NOT NULL AND s.paused_until <= :now))
    AND EXISTS (SELECT 1 FROM subscriptions j
                WHERE j.supporter_id = s.id AND j.campaign = :campaign)
    AND s.platform IN (SELECT value FROM json_each(:platforms))
    AND (:platform IS NULL OR s.platform = :platform)
    AND (:source IS NULL OR s.source = :source)
    AND (NOT EXISTS (SELECT 1 FROM supporter_topics t WHERE t.supporter_id = s.id)
         OR EXISTS (SELECT 1 FROM supporter_topics t
                    WHERE t.supporter_id = s.id AND t.topic = :topic))
"""


def audience_params(
    *,
    now: str,
    campaign: str,
    platforms: list[str],
    platform: str | None,
    source: str | None,
    topic: str,
) -> dict[str, object]:
    """Who a prompt of `campaign` goes to: its subscribers, active (or paused until a
    time now past), on the given platforms, whose topics include the ask's."""
    return {
        "now": now,
        "campaign": campaign,
        "platforms": json.dumps(sorted(platforms)),
        "platform": platform,
        "source": source,
        "topic": topic,
    }


def create_for_prompt(db: Database, prompt_id: int, params: dict[str, object]) -> int:
    """Create every delivery of a prompt in one statement: the campaign's active
    subscribers on the given platforms whose topics include the ask's. Existing ones
    are kept."""
    cursor = db.execute(
        f"""
        INSERT INTO deliveries
            (prompt_id, supporter_id, supporter_key, platform, source, state, attempts,
             created_at, updated_at)
        SELECT :prompt, s.id, s.key, s.platform, s.source, 'pending', 0, :now, :now
        FROM supporters s WHERE {_ELIGIBLE}
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        {**params, "prompt": prompt_id},
    )
    return cursor.rowcount


def create_for_reminder(
    db: Database, reminder_id: int, parent_id: int, platforms: list[str], now: str
) -> int:
    """A reminder goes to those who were sent the parent and have not answered it,
    and are still subscribed and reachable."""
    cursor = db.execute(
        """
        INSERT INTO deliveries
            (prompt_id, supporter_id, supporter_key, platform, source, state, attempts,
             created_at, updated_at)
        SELECT :reminder, s.id, s.key, s.platform, s.source, 'pending', 0, :now, :now
        FROM deliveries d JOIN supporters s ON s.id = d.supporter_id
        WHERE d.prompt_id = :parent AND d.state = 'sent' AND s.status = 'active'
          AND s.platform IN (SELECT value FROM json_each(:platforms))
          AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.prompt_id = :parent
                          AND a.supporter_key = d.supporter_key
                          AND a.kind IN ('done', 'skipped'))
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        {
            "reminder": reminder_id,
            "parent": parent_id,
            "now": now,
            "platforms": json.dumps(sorted(platforms)),
        },
    )
    return cursor.rowcount


def audience_preview(
    db: Database, params: dict[str, object], limit: int
) -> tuple[dict[str, int], list[tuple[str, str, str | None]]]:
    """Who a prompt would go to: counts per platform, and the first few (platform,
    address, source). Reads only."""
    counts = {
        platform: n
        for platform, n in db.execute(
            f"SELECT s.platform, count(*) FROM supporters s WHERE {_ELIGIBLE} GROUP BY s.platform",
            params,
        ).fetchall()
    }
    first = db.execute(
        f"SELECT s.platform, s.address, s.source FROM supporters s WHERE {_ELIGIBLE}"
        " ORDER BY s.id LIMIT :limit",
        {**params, "limit": limit},
    ).fetchall()
    return counts, [tuple(row) for row in first]


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int
    address: str
    kind: ChatKind
    attempts: int = 0  # counted tries so far
    variant: str | None = None  # the wording it carries, in a wording experiment
    language: str | None = None  # the supporter's (`supporters.language`)


def pending_batch(
    db: Database,
    prompt_id: int,
    platform: str,
    after_id: int,
    limit: int,
    now: str,
    *,
    retries_only: bool = False,
) -> list[Recipient]:
    """The next pending deliveries of a prompt on one platform that are due by `now`,
    by id (keyset paging); with `retries_only`, only those put back to be tried again."""
    retries = "AND d.not_before IS NOT NULL" if retries_only else ""
    cursor = db.execute(
        f"""
        SELECT d.id AS delivery_id, s.address, s.kind, d.attempts, d.variant, s.language
        FROM deliveries d JOIN supporters s ON s.id = d.supporter_id
        WHERE d.prompt_id = ? AND d.platform = ? AND d.state = 'pending' AND d.id > ?
          AND (d.not_before IS NULL OR d.not_before <= ?) {retries}
        ORDER BY d.id LIMIT ?
        """,
        [prompt_id, platform, after_id, now, limit],
    )
    return fetch_all(Recipient, cursor)


@dataclass(frozen=True, slots=True)
class Waiting:
    """Pending deliveries of a prompt on one platform, and when the first is due."""

    count: int
    first_due: str | None  # None: one is due now (or none waits)


def waiting(db: Database, prompt_id: int, platform: str) -> Waiting:
    count, first_due, due_now = db.execute(
        """
        SELECT count(*), min(not_before), sum(not_before IS NULL) FROM deliveries
        WHERE prompt_id = ? AND platform = ? AND state = 'pending'
        """,
        [prompt_id, platform],
    ).fetchone()
    return Waiting(int(count), None if due_now else first_due)


def claim(db: Database, delivery_id: int) -> bool:
    """pending → sending, just before the request leaves. False if someone else has it,
    or it was cancelled or erased meanwhile."""
    cursor = db.execute(
        """
        UPDATE deliveries SET state = 'sending', attempts = attempts + 1, not_before = NULL,
            updated_at = ?
        WHERE id = ? AND state = 'pending'
        """,
        [now_text(), delivery_id],
    )
    return cursor.rowcount == 1


def retry_later(
    db: Database,
    delivery_id: int,
    *,
    not_before: str,
    error: str,
    counted: bool,
    max_attempts: int,
) -> DeliveryState | None:
    """Nothing was sent (a 5xx, a refused connection, a 429): back to 'pending' until
    `not_before`, or 'failed' once `max_attempts` counted tries have failed.

    Works on a claimed delivery ('sending') and on one that failed before its claim
    ('pending'). A try that is not `counted` (made during an outage, or a 429) leaves
    the count as it was. Returns the new state, or None if the delivery was not ours.
    """
    row = db.execute(
        """
        UPDATE deliveries SET
            attempts = attempts + (state = 'pending') - (NOT :counted),
            state = CASE WHEN :counted AND attempts + (state = 'pending') >= :max
                         THEN 'failed' ELSE 'pending' END,
            not_before = :not_before, error = :error, updated_at = :now
        WHERE id = :id AND state IN ('pending', 'sending')
        RETURNING state
        """,
        {
            "counted": counted,
            "max": max_attempts,
            "not_before": not_before,
            "error": error[:200],
            "now": now_text(),
            "id": delivery_id,
        },
    ).fetchone()
    return DeliveryState(row[0]) if row else None


def cancel_pending(db: Database, prompt_id: int) -> int:
    """A send an organiser stopped: its pending deliveries become 'cancelled'. Those in
    flight finish as they would."""
    cursor = db.execute(
        """
        UPDATE deliveries SET state = 'cancelled', error = 'stopped by an organiser',
            not_before = NULL, updated_at = ?
        WHERE prompt_id = ? AND state = 'pending'
        """,
        [now_text(), prompt_id],
    )
    return cursor.rowcount


def record_results(db: Database, results: list[tuple[int, DeliveryState, str | None]]) -> None:
    """Final states for many deliveries at once: (delivery id, state, error).

    A supporter whose delivery came back 'gone' is marked gone, so nothing more is sent.
    """
    now = now_text()
    gone = [delivery_id for delivery_id, state, _ in results if state == DeliveryState.GONE]
    if gone:
        db.execute(
            """
            UPDATE supporters SET status = 'gone', updated_at = :now
            WHERE status != 'gone' AND id IN (
                SELECT supporter_id FROM deliveries
                WHERE id IN (SELECT value FROM json_each(:ids)))
            """,
            {"now": now, "ids": json.dumps(gone)},
        )
    db.conn.executemany(
        """
        UPDATE deliveries SET state = ?, error = ?, updated_at = ?,
            sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
        WHERE id = ? AND state = 'sending'
        """,
        [(state, error, now, state, now, delivery_id) for delivery_id, state, error in results],
    )


def sending_to_unknown(db: Database, prompt_id: int) -> int:
    """After a crash: deliveries that were in flight may or may not have arrived.
    They become 'unknown' and are never sent again."""
    cursor = db.execute(
        """
        UPDATE deliveries SET state = 'unknown', error = 'in flight when the process stopped',
            updated_at = ?
        WHERE prompt_id = ? AND state = 'sending'
        """,
        [now_text(), prompt_id],
    )
    return cursor.rowcount


def orphans_to_gone(db: Database, prompt_id: int) -> None:
    """Pending deliveries whose supporter was erased meanwhile."""
    db.execute(
        """
        UPDATE deliveries SET state = 'gone', error = 'erased', updated_at = ?
        WHERE prompt_id = ? AND state = 'pending' AND supporter_id IS NULL
        """,
        [now_text(), prompt_id],
    )


def state_counts(db: Database, prompt_id: int) -> dict[str, int]:
    """How many deliveries of the prompt are in each state (keyed by `DeliveryState`)."""
    cursor = db.execute(
        "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state", [prompt_id]
    )
    return {DeliveryState(state): n for state, n in cursor.fetchall()}


def finished_since(db: Database, prompt_id: int, since: str) -> int:
    cursor = db.execute(
        """
        SELECT count(*) FROM deliveries
        WHERE prompt_id = ? AND state IN ('sent', 'gone', 'failed', 'unknown')
          AND updated_at >= ?
        """,
        [prompt_id, since],
    )
    return int(cursor.fetchone()[0])


def totals(db: Database) -> dict[tuple[str, str], int]:
    """Deliveries by platform and state: one grouped query over the whole table.

    Grouped by prompt first, in the order of the index `deliveries_to_send`, and
    added up here: SQLite then reads the index alone, in order, with no sort (a third
    of the time: ~0.2 s instead of ~0.6 s for a million deliveries)."""
    cursor = db.execute(
        "SELECT platform, state, count(*) FROM deliveries GROUP BY prompt_id, platform, state"
    )
    found: Counter[tuple[str, str]] = Counter()
    for platform, state, n in cursor.fetchall():
        found[str(platform), str(state)] += int(n)
    return dict(found)
