"""What a start link carries: `/start <argument>` on Telegram (a `t.me/<bot>?start=`
link), `/subscribe` on Discord and `/start` in the console.

The argument is `<campaign>`, `<campaign>-<code>` or `<code>`, where the code is a
"how they found us" source or, with the `i_` prefix, a supporter's invite code.
Campaign slugs hold no `_`, so an invite can never be read as a campaign. Nothing
here decides whether a source is declared or an invite exists: the callers do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

INVITE_PREFIX = "i_"


@dataclass(frozen=True, slots=True)
class StartLink:
    campaign: str | None = None  # a known campaign's slug
    source: str | None = None  # a source code as it came (cleaned and checked later)
    invite: str | None = None  # an invite code, without its prefix


def read_start(argument: str | None, campaigns: Iterable[str]) -> StartLink:
    """Split a start argument into a known campaign and what follows it."""
    if not argument:
        return StartLink()
    text = argument.strip().lower()
    campaign = None
    rest: str | None = text
    for slug in sorted(campaigns, key=len, reverse=True):  # the longest slug that fits
        if text == slug:
            campaign, rest = slug, None
            break
        if text.startswith(slug + "-"):
            campaign, rest = slug, text[len(slug) + 1 :] or None
            break
    if rest is not None and rest.startswith(INVITE_PREFIX):
        return StartLink(campaign, invite=rest[len(INVITE_PREFIX) :] or None)
    return StartLink(campaign, source=rest)


def start_argument(campaign: str | None = None, code: str | None = None) -> str:
    """The argument for a start link (the inverse of `read_start`)."""
    return "-".join(part for part in (campaign, code) if part)
