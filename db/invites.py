"""Invite codes and the referrals they bring.

A code belongs to a supporter's pseudonymous key and nothing else. A referral
row holds the inviter's key, the campaign, the platform and the day someone
joined through the code: never who joined, and no time finer than the day.
Staff read referrals only as counts per campaign, platform and week: never per
inviter.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
from db.times import now_text

CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o or 1/l to misread
CODE_LENGTH = 10  # 32**10: about 10**15 codes, so guessing one is hopeless
_TRIES = 5  # a new code that is taken already (about never) is drawn again
# The Monday of a referral's week, as the participation report counts weeks.
WEEK = "date(joined_on, 'weekday 0', '-6 days')"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True, slots=True)
class InviteRow:
    code: str
    created_at: str


def code_for(db: Database, supporter_key: str) -> str:
    """The supporter's invite code, made on first use."""
    found = invite_of(db, supporter_key)
    if found is not None:
        return found.code
    for _ in range(_TRIES):
        code = new_code()
        cursor = db.execute(
            "INSERT INTO invites (code, supporter_key, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (code) DO NOTHING",
            [code, supporter_key, now_text()],
        )
        if cursor.rowcount == 1:
            return code
    raise RuntimeError("no free invite code after several tries")


def invite_of(db: Database, supporter_key: str) -> InviteRow | None:
    """The supporter's code and when it was made, if they ever asked for one."""
    cursor = db.execute(
        "SELECT code, created_at FROM invites WHERE supporter_key = ?", [supporter_key]
    )
    return fetch_one(InviteRow, cursor)


def inviter_of(db: Database, code: str) -> str | None:
    """The pseudonymous key a code belongs to, if the code exists."""
    row = db.execute("SELECT supporter_key FROM invites WHERE code = ?", [code]).fetchone()
    return str(row[0]) if row else None


def record_referral(db: Database, inviter_key: str, campaign: str, platform: str) -> None:
    db.execute(
        "INSERT INTO referrals (inviter_key, campaign, platform, joined_on) VALUES (?, ?, ?, ?)",
        [inviter_key, campaign, platform, now_text()[:10]],
    )


def joined_through(db: Database, inviter_key: str) -> int:
    """How many people joined through this supporter's code."""
    (n,) = db.execute(
        "SELECT count(*) FROM referrals WHERE inviter_key = ?", [inviter_key]
    ).fetchone()
    return int(n)


def remove_code(db: Database, supporter_key: str) -> None:
    """Erasure: the code goes; referrals stay in the totals under a key nothing leads to."""
    db.execute("DELETE FROM invites WHERE supporter_key = ?", [supporter_key])


def remove_code_of(db: Database, supporter_id: int) -> None:
    """`remove_code` for a supporter row about to be erased (by /forget or retention)."""
    db.execute(
        "DELETE FROM invites WHERE supporter_key = (SELECT key FROM supporters WHERE id = ?)",
        [supporter_id],
    )


@dataclass(frozen=True, slots=True)
class ReferralWeek:
    week: str  # its Monday
    campaign: str
    platform: str
    joined: int


def per_week(
    db: Database,
    *,
    campaign: str | None = None,
    platform: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[ReferralWeek]:
    """People who joined through invites, per week, campaign and platform. `since` and
    `until` are UTC times (a day counts from its start, as the day is all we keep)."""
    clauses, params = ["1"], []
    for clause, value in (
        ("campaign = ?", campaign),
        ("platform = ?", platform),
        ("joined_on || 'T00:00:00Z' >= ?", since),
        ("joined_on || 'T00:00:00Z' < ?", until),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    cursor = db.execute(
        f"""
        SELECT {WEEK} AS week, campaign, platform, count(*) AS joined FROM referrals
        WHERE {" AND ".join(clauses)}
        GROUP BY week, campaign, platform ORDER BY week, campaign, platform
        """,
        params,
    )
    return fetch_all(ReferralWeek, cursor)


@dataclass(frozen=True, slots=True)
class ReferralTotal:
    campaign: str
    platform: str
    recent: int  # joined on or after the day given
    total: int


def totals(db: Database, recent_from: str) -> list[ReferralTotal]:
    """Per campaign and platform: everyone who joined through invites, and those who
    joined on or after the day `recent_from` (YYYY-MM-DD)."""
    cursor = db.execute(
        """
        SELECT campaign, platform, sum(joined_on >= ?) AS recent, count(*) AS total
        FROM referrals GROUP BY campaign, platform ORDER BY campaign, platform
        """,
        [recent_from],
    )
    return fetch_all(ReferralTotal, cursor)
