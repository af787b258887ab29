"""Wording experiments: which wording of an ask each supporter gets (issue 16, part 2).

An ask's own text is the wording called 'original'; a pack adds one or two more
with `[[asks.variants]]` (a `name`, the `ask` text, and a `title` if it differs), so
2 or 3 wordings are under test. The statistic and the link are the ask's for all.

- **Who gets which.** Each supporter's wording is picked by a keyed hash of the
  prompt and the supporter's key (`variant_key`, random, made by migration 0009):
  as good as random and even across wordings, yet the same every time it is worked
  out, so a crash and a retry pick the same. It is picked once, when the prompt's
  deliveries are made, and recorded on the delivery (`deliveries.variant`); the engine
  sends that wording.
- **Who is in.** Weekly and manual prompts to private chats. Not a group (one
  delivery, many members answering), not an ask shown on request (/ask, /start: a
  'standing' prompt), and not a journey step (a next step, a poll: they follow the ask
  and name its title, which is the same for all). A reminder carries the wording its
  supporter got first. A supporter whose language has a translation of the ask gets
  the translation and is out of the experiment (no variant): translated words are
  not the wording under test (`campaigns.ask_languages.translated_into`). A supporter
  whose language is not known yet reads English, and is in.
- **The winner.** Once organisers choose one (`campaigns.experiments.choose_winner`),
  the next version of the ask has the winner's words as its own and no variants, so
  later prompts send only the winner, to everyone, with no variant recorded; prompts
  that sent the experiment keep the version that ran it, and its counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlite_utils import Database

from campaigns import ask_languages
from db import variants as variants_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import PromptKind

IN_EXPERIMENTS = (PromptKind.WEEKLY, PromptKind.MANUAL)
# The ask's own wording: `campaigns.packs.ORIGINAL`, spelt again rather than imported,
# so composing a message (and `campaignbot stats --help`) loads no pydantic.
ORIGINAL = "original"


@dataclass(frozen=True, slots=True)
class Wording:
    """One wording of an ask: its name, and the title and text a supporter reads."""

    name: str
    title: str
    ask: str


def wordings(ask: AskRow) -> list[Wording]:
    """The ask's own wording ('original') and its variants, in the pack's order."""
    found = [Wording(ORIGINAL, ask.title, ask.ask)]
    for variant in json.loads(ask.extra).get("variants") or []:
        found.append(Wording(variant["name"], variant.get("title") or ask.title, variant["ask"]))
    return found


def under_test(ask: AskRow) -> list[str]:
    """The names of the wordings a new send picks among (none: no experiment)."""
    found = wordings(ask)
    return [wording.name for wording in found] if len(found) > 1 else []


def wording(ask: AskRow, variant: str | None = None) -> Wording:
    """The wording a message shows: the supporter's `variant`, else the ask's own (also
    for a name this version of the ask doesn't have)."""
    found = {one.name: one for one in wordings(ask)}
    return found.get(variant or ORIGINAL, found[ORIGINAL])


def pick(key: bytes, prompt_id: int, supporter_key: str, names: list[str]) -> str:
    """One of `names` for this supporter and prompt, the same every time."""
    digest = hmac.new(key, f"{prompt_id}:{supporter_key}".encode(), hashlib.sha256).digest()
    return names[int.from_bytes(digest[:8], "big") % len(names)]


def assign(db: Database, prompt: PromptRow, ask: AskRow) -> int:
    """Record a wording on each of the prompt's new deliveries that is in the
    experiment (see the module's docstring); how many were given one."""
    if prompt.kind == PromptKind.REMINDER and prompt.parent_id:
        return variants_db.copy_from_parent(db, prompt.id, prompt.parent_id)
    names = under_test(ask)
    if prompt.kind not in IN_EXPERIMENTS or not names:
        return 0
    key = variants_db.key(db)
    translated = ask_languages.translated_into(ask)
    chosen = [
        (pick(key, prompt.id, supporter_key, names), delivery_id)
        for delivery_id, supporter_key in variants_db.unassigned(db, prompt.id, translated)
    ]
    variants_db.set_variants(db, chosen)
    return len(chosen)
