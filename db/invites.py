"""Invite codes and the referrals they bring.

A code belongs to a supporter's pseudonymous key and nothing else. A referral
row holds the inviter's key, the campaign, the platform and the day someone
joined through the code: never who joined, and no time finer than the day.
"""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from db.times import now_text

CODE_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o or 1/l to misread
CODE_LENGTH = 10  # 32**10: about 10**15 codes, so guessing one is hopeless


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_for(db: Database, supporter_key: str) -> str:
    """The supporter's invite code, made on first use."""
    row = db.execute("SELECT code FROM invites WHERE supporter_key = ?", [supporter_key]).fetchone()
    if row:
        return str(row[0])
    code = new_code()
    db.execute(
        "INSERT INTO invites (code, supporter_key, created_at) VALUES (?, ?, ?)",
        [code, supporter_key, now_text()],
    )
    return code


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
