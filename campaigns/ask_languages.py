"""An ask in the supporter's language: the pack's `[asks.translations.<code>]`.

A pack may give each ask's words in the other languages the bot speaks (the title,
the ask, the statistic's sentence, the link's label, the reminder, the next step,
the poll). They are stored with the ask's other pack fields in its `extra` JSON
(`campaigns.pack_io`), so they go out and come back in with the pack. A supporter
whose language the ask has gets those words; any word the translation leaves out,
and every ask without one, stays as the pack wrote it: never an error.

A translation is its own wording: a supporter who gets one is not in the ask's
wording experiment (`campaigns.variants`), so the translated row carries no
variants or winner, and `translated_into` tells the experiment whom to leave out.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from campaigns import languages
from db.catalog import AskRow

# Pack fields of an ask that belong to its wording experiment, not to its words.
_EXPERIMENT = ("variants", "winner")


def _translations(ask: AskRow) -> dict[str, Any]:
    found = json.loads(ask.extra or "{}").get("translations")
    return found if isinstance(found, dict) else {}


def translated_into(ask: AskRow) -> list[str]:
    """The languages this ask has a translation in (only ones the bot speaks)."""
    return [code for code in _translations(ask) if code in languages.LANGUAGES]


def localise(ask: AskRow, language: str | None = None) -> AskRow:
    """The ask in `language` (default: the one being spoken), or the ask itself when it
    has no translation there."""
    code = language or languages.current()
    words = _translations(ask).get(code) if code != languages.ENGLISH else None
    if not isinstance(words, dict) or not words:
        return ask
    extra = {k: v for k, v in json.loads(ask.extra).items() if k not in _EXPERIMENT}
    answers = words.get("poll_answers")
    return replace(
        ask,
        title=words.get("title") or ask.title,
        ask=words.get("ask") or ask.ask,
        stat_sentence=words.get("statistic_sentence") or ask.stat_sentence,
        link_label=words.get("link_label") or ask.link_label,
        reminder=words.get("reminder") or ask.reminder,
        next_text=words.get("next_text") or ask.next_text,
        poll_question=words.get("poll_question") or ask.poll_question,
        poll_answers=(
            json.dumps(answers, ensure_ascii=False)
            if answers and len(answers) == len(ask.poll_labels)
            else ask.poll_answers
        ),
        extra=json.dumps(extra, ensure_ascii=False, sort_keys=True),
    )
