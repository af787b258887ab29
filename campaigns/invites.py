"""Personal invite links: a random code per supporter, and counting who joined by one."""

from __future__ import annotations

import re

from sqlite_utils import Database

from db import invites as invites_db
from db.supporters import SupporterRow

_CODE = re.compile(rf"[{invites_db.CODE_ALPHABET}]{{{invites_db.CODE_LENGTH}}}")


def record_referral(db: Database, code: str | None, joined: SupporterRow, campaign: str) -> bool:
    """Count one person who joined `campaign` through `code`, if the code is real and
    not their own. Call it only for a first subscription (a returning supporter is
    not a new referral)."""
    if not code or not _CODE.fullmatch(code):
        return False
    inviter = invites_db.inviter_of(db, code)
    if inviter is None or inviter == joined.key:
        return False
    invites_db.record_referral(db, inviter, campaign, joined.platform)
    return True
