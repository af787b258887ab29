"""Nothing is kept for ever: per-person records older than `retention_months` are erased or
made anonymous, daily, with every count left exact (as erasure leaves them).

What "older" means, in whole calendar months (so each person's old month is
re-keyed once, and counts within a month stay exact):

- a supporter who left (stopped, or gone) and hasn't been back since the cutoff
  is erased, exactly as `/forget` erases: the row goes, their deliveries and
  answers stay in the totals under a key nothing leads back from (and, like
  `/forget`, it goes into the erasure ledger, so a restored backup forgets them
  again: `campaigns.erasures`);
- a group member's pseudonymous record unused since the cutoff is erased the same way;
- deliveries, actions, poll answers and referrals (people who joined through an
  invite) from before the cutoff that still lead to a supporter (someone still
  subscribed) move to a fresh random key, one per person and calendar month, and lose
  the link to the supporter row (so an old referral leaves its inviter's own
  count). Totals and funnels stay exact; "unique" and "returning" supporters
  before the cutoff count a person once per month;
- audit entries from before the cutoff are deleted.

Each step is a short write job of at most `BATCH` rows, so the writer never
stalls the bot for long; a run that stops half-way finishes on the next.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from db import housekeeping as housekeeping_db
from db import supporters as supporters_db
from db import variants as variants_db
from db.states import SupporterStatus
from db.store import Store
from db.times import to_text, utcnow

log = logging.getLogger(__name__)

BATCH = 2_000
DONE_THROUGH = "retention-through"  # the cutoff up to which old rows are anonymous


def cutoff(now: datetime, months: int) -> datetime:
    """The first moment of the calendar month `months` months before this one (UTC)."""
    index = now.astimezone(UTC).year * 12 + now.astimezone(UTC).month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass
class Purged:
    """What one run did."""

    supporters: int = 0  # rows of people who left long ago, erased
    members: int = 0  # pseudonymous group records unused since the cutoff, erased
    records: int = 0  # deliveries and actions made anonymous
    audit: int = 0  # audit entries deleted

    @property
    def anything(self) -> bool:
        return bool(self.supporters or self.members or self.records or self.audit)


def erase_departed(db: Database, before: str) -> tuple[int, int]:
    """Erase up to BATCH supporters who left, and group records unused, before `before`."""
    rows = db.execute(
        """
        SELECT id, status, key FROM supporters
        WHERE status IN ('stopped', 'gone', 'member') AND updated_at < ? LIMIT ?
        """,
        [before, BATCH],
    ).fetchall()
    for supporter_id, _, key in rows:
        variants_db.forget(db, key)  # as /forget does: which wording they got
        supporters_db.delete(db, supporter_id)
    members = sum(1 for _, status, _ in rows if status == SupporterStatus.MEMBER)
    return len(rows) - members, members


def anonymise_old_records(db: Database, since: str, before: str) -> int:
    """Give up to BATCH (person, month) groups of old deliveries, actions and poll answers
    that still lead to a supporter a fresh key each. Returns the rows changed."""
    db.execute(
        "CREATE TEMP TABLE IF NOT EXISTS rekey"
        " (old TEXT NOT NULL, month TEXT NOT NULL, new TEXT NOT NULL, PRIMARY KEY (old, month))"
    )
    db.execute("DELETE FROM temp.rekey")
    db.execute(
        """
        INSERT INTO temp.rekey (old, month, new)
        SELECT old, month, lower(hex(randomblob(12))) FROM (
            SELECT supporter_key AS old, substr(created_at, 1, 7) AS month FROM deliveries
            WHERE created_at >= :since AND created_at < :before
              AND supporter_key IN (SELECT key FROM supporters)
            UNION
            SELECT supporter_key, substr(created_at, 1, 7) FROM actions
            WHERE created_at >= :since AND created_at < :before
              AND supporter_key IN (SELECT key FROM supporters)
            UNION
            SELECT supporter_key, substr(created_at, 1, 7) FROM poll_answers
            WHERE created_at >= :since AND created_at < :before
              AND supporter_key IN (SELECT key FROM supporters)
            UNION
            SELECT inviter_key, substr(joined_on, 1, 7) FROM referrals
            WHERE joined_on >= substr(:since, 1, 10) AND joined_on < substr(:before, 1, 10)
              AND inviter_key IN (SELECT key FROM supporters)
            LIMIT :batch)
        """,
        {"since": since, "before": before, "batch": BATCH},
    )
    changed = 0
    for table, unlink in (
        ("deliveries", ", supporter_id = NULL"),
        ("actions", ""),
        ("poll_answers", ""),
    ):
        cursor = db.execute(
            f"""
            UPDATE {table} SET supporter_key = r.new{unlink}
            FROM temp.rekey r
            WHERE {table}.supporter_key = r.old AND substr({table}.created_at, 1, 7) = r.month
              AND {table}.created_at >= :since AND {table}.created_at < :before
            """,
            {"since": since, "before": before},
        )
        changed += cursor.rowcount
    # Referrals carry a day, not a time: the months are compared by their first day.
    cursor = db.execute(
        """
        UPDATE referrals SET inviter_key = r.new
        FROM temp.rekey r
        WHERE referrals.inviter_key = r.old AND substr(referrals.joined_on, 1, 7) = r.month
          AND referrals.joined_on >= substr(:since, 1, 10)
          AND referrals.joined_on < substr(:before, 1, 10)
        """,
        {"since": since, "before": before},
    )
    return changed + cursor.rowcount


def delete_old_audit(db: Database, before: str) -> int:
    return db.execute("DELETE FROM audit WHERE at < ?", [before]).rowcount


def _done_through(db: Database) -> str:
    return housekeeping_db.done_at(db, DONE_THROUGH) or ""


async def purge(store: Store, months: int, now: datetime | None = None) -> Purged:
    """One retention run: everything older than `months` whole months goes or is made
    anonymous. Safe to run at any time and as often as wanted."""
    before = to_text(cutoff(now or utcnow(), months))
    purged = Purged()
    while True:
        people, members = await store.write(erase_departed, before)
        purged.supporters += people
        purged.members += members
        if people + members < BATCH:
            break
    since = await store.read(_done_through)
    if since < before:
        while changed := await store.write(anonymise_old_records, since, before):
            purged.records += changed
        await store.write(housekeeping_db.mark, DONE_THROUGH, before)
    purged.audit = await store.write(delete_old_audit, before)
    await store.write(housekeeping_db.mark, "retention")
    if purged.anything:
        await store.checkpoint()  # nothing erased may linger in the write-ahead log
        log.info(
            "retention (%d months): erased %d supporters who left and %d group records; "
            "made %d older deliveries and answers anonymous; deleted %d audit entries",
            months,
            purged.supporters,
            purged.members,
            purged.records,
            purged.audit,
        )
    return purged
