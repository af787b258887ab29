"""A synthetic, harmless campaign history for the dashboard's tests and screenshots.

Supporters are numbered stand-ins (`demo-123`); which of them act is decided by
a seeded random generator, so a run always makes the same shape of data.
Prompts are placed relative to `now`, so the overview's 12 weeks are full.
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from campaigns.model import PLATFORMS
from db.times import to_text

SOURCES = ("leaflet", "newsletter", "school-talk", "instagram", "readme", None)
SOURCE_WEIGHTS = (30, 22, 12, 14, 7, 15)

PLATFORM_WEIGHTS = (60, 36, 4)  # in the order of PLATFORMS


def weekly_times(now: datetime, weeks: int) -> list[datetime]:
    """The last `weeks` Tuesdays at 18:30 London time, oldest first."""
    london = now.astimezone(ZoneInfo("Europe/London"))
    day = london.replace(hour=18, minute=30, second=0, microsecond=0)
    day -= timedelta(days=(day.weekday() - 1) % 7)
    if day >= london:
        day -= timedelta(weeks=1)
    return [day - timedelta(weeks=n) for n in reversed(range(weeks))]


def seed_demo(
    db: Database,
    now: datetime,
    *,
    supporters: int = 1200,
    weeks: int = 16,
    campaign: str = "one-step-ahead",
    seed: int = 7,
) -> dict[str, int]:
    """Supporters, weekly prompts with deliveries and actions, a reminder, a cancelled
    prompt and one still to come. Returns the ids of a few landmarks."""
    rng = random.Random(seed)
    asks = [
        row[0]
        for row in db.execute(
            "SELECT id FROM asks WHERE campaign = ? AND retired = 0 ORDER BY position", [campaign]
        ).fetchall()
    ]
    times = weekly_times(now, weeks)
    start = times[0] - timedelta(days=21)
    people = []
    for n in range(1, supporters + 1):
        joined = start + (now - start) * (n / supporters) ** 1.6
        platform = rng.choices(PLATFORMS, PLATFORM_WEIGHTS)[0]
        source = rng.choices(SOURCES, SOURCE_WEIGHTS)[0]
        status = rng.choices(("active", "paused", "stopped", "gone"), (86, 5, 5, 4))[0]
        # Some sources bring more people who act; most who act do so often.
        engaged = {"school-talk": 0.7, "newsletter": 0.6, "leaflet": 0.45}.get(source or "", 0.3)
        keen = rng.uniform(0.25, 0.7) if rng.random() < engaged else 0.015
        people.append((n, secrets.token_hex(12), platform, source, status, to_text(joined), keen))
    db.conn.executemany(
        """INSERT INTO supporters (id, key, platform, address, kind, status, source,
            consent_version, consented_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, 'private', ?, ?, '2026-11', ?, ?, ?)""",
        [
            (n, key, platform, f"demo-{n}", status, source, joined, joined, joined)
            for n, key, platform, source, status, joined, _ in people
        ],
    )
    if "subscriptions" in db.table_names():  # not in a database from before 0006
        db.conn.executemany(
            "INSERT INTO main.subscriptions (supporter_id, campaign, created_at) VALUES (?, ?, ?)",
            [(n, campaign, joined) for n, _, _, _, _, joined, _ in people],
        )
    landmarks: dict[str, int] = {}
    for week, moment in enumerate(times):
        at = to_text(moment)
        cursor = db.execute(
            """INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,
                created_by, created_at, started_at, finished_at)
            VALUES (?, ?, 'weekly', ?, 'Europe/London', 'sent', 'schedule', ?, ?, ?)""",
            [campaign, asks[week % len(asks)], at, at, at, at],
        )
        prompt_id = int(cursor.lastrowid or 0)
        landmarks["latest_weekly"] = prompt_id
        landmarks.setdefault("first_weekly", prompt_id)
        deliveries = []
        actions = []
        growth = 0.75 + 0.5 * week / max(1, weeks - 1)
        for n, key, platform, source, status, joined, keen in people:
            if joined > at or (status in ("stopped", "gone") and rng.random() < 0.5):
                continue
            state = rng.choices(("sent", "gone", "failed"), (96, 3, 1))[0]
            deliveries.append((prompt_id, n, key, platform, source, state, at, at, at))
            if state != "sent":
                continue
            chance = min(0.9, keen * growth)
            if rng.random() < chance * 1.4:
                actions.append((prompt_id, key, "opened", platform, source, "link", at))
            roll = rng.random()
            if roll < chance:
                actions.append((prompt_id, key, "done", platform, source, "button", at))
            elif roll < chance + 0.12:
                actions.append((prompt_id, key, "skipped", platform, source, "button", at))
        db.conn.executemany(
            """INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,
                state, attempts, created_at, updated_at, sent_at)
            VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)""",
            deliveries,
        )
        db.conn.executemany(
            """INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,
                created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
            actions,
        )
    latest = landmarks["latest_weekly"]
    reminder_at = to_text(times[-1] + timedelta(days=3))
    if reminder_at <= to_text(now):
        cursor = db.execute(
            """INSERT INTO prompts (campaign, ask_id, kind, parent_id, scheduled_at, timezone,
                state, created_by, created_at, started_at, finished_at)
            SELECT campaign, ask_id, 'reminder', id, ?, timezone, 'sent', 'schedule', ?, ?, ?
            FROM prompts WHERE id = ?""",
            [reminder_at, reminder_at, reminder_at, reminder_at, latest],
        )
        landmarks["reminder"] = int(cursor.lastrowid or 0)
    cancelled = db.execute(
        """INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,
            created_by, created_at, finished_at)
        VALUES (?, ?, 'manual', ?, 'Europe/London', 'cancelled', 'cli:demo', ?, ?)""",
        [campaign, asks[0], to_text(times[-2] + timedelta(days=2)), to_text(now), to_text(now)],
    )
    landmarks["cancelled"] = int(cancelled.lastrowid or 0)
    upcoming = db.execute(
        """INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,
            source, created_by, created_at)
        VALUES (?, ?, 'manual', ?, 'Europe/London', 'scheduled', 'newsletter', 'web:demo', ?)""",
        [campaign, asks[1 % len(asks)], to_text(now + timedelta(days=2, hours=3)), to_text(now)],
    )
    landmarks["upcoming"] = int(upcoming.lastrowid or 0)
    return landmarks
