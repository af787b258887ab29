"""A campaign's own words in the supporter's language: the pack's
`[campaign.translations.<code>]` title and description (its welcome series is
composed in `campaigns.compose.welcome_message`).

Where supporters choose campaigns (`/campaigns`, the words of joining one), the title
and description are read through here, in the language being spoken
(`campaigns.languages.speaking`); a campaign without words in that language, and any
word left out, stays as the pack wrote it: never an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaigns import languages

if TYPE_CHECKING:
    from campaigns.packs import Campaign


def title(campaign: Campaign, language: str | None = None) -> str:
    """The campaign's title in `language` (default: the one being spoken)."""
    words = campaign.translations.get(language or languages.current())
    return (words.title if words else None) or campaign.title


def translated_title(campaign: Campaign | None, language: str | None = None) -> str | None:
    """The campaign's own title in `language` (default: the one being spoken), or None
    where its pack has none: the ask card then keeps the name it was stored with."""
    words = campaign.translations.get(language or languages.current()) if campaign else None
    return words.title if words else None


def description(campaign: Campaign, language: str | None = None) -> str:
    """The campaign's description in `language` (default: the one being spoken)."""
    words = campaign.translations.get(language or languages.current())
    return (words.description if words else None) or campaign.description
