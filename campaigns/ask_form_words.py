"""The ask form's other words: its wordings under test (`[[asks.variants]]`,
`campaigns.variants`) and its translations (`[asks.translations.<code>]`,
`campaigns.ask_languages`), as fields beside the ask's own (`campaigns.ask_form`).

Field names follow the pack's keys, as the ask's do: `variants.1.name` (numbered, one
to `MAX_VARIANTS`), `translations.cy.title`, and a translated poll's answers
`translations.cy.poll_answers.1` to `.5`, each beside the answer it translates: answers
are counted by position, so a translation gives one for each, in the same places.
A problem with the wordings as a whole (two with one name) goes beside the wording it
points at; one with a translation's answers as a whole under
`translations.<code>.poll_answers`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from campaigns.languages import ENGLISH, LANGUAGES, name_of
from campaigns.packs import MAX_POLL_ANSWERS, MAX_VARIANTS, ORIGINAL

VARIANTS = "variants"
TRANSLATIONS = "translations"
VARIANT_KEYS = ("name", "title", "ask")
VARIANT_SLOTS = tuple(range(1, MAX_VARIANTS + 1))
# The words of an ask a translation may give (`campaigns.packs.AskTranslation`), in
# the order the form shows them; its poll's answers follow, numbered.
TRANSLATED = (
    "title",
    "ask",
    "statistic_sentence",
    "link_label",
    "reminder",
    "next_text",
    "poll_question",
)
POLL_ANSWERS = "poll_answers"
# Every language the bot speaks but English: the ask's own words are English.
OTHER_LANGUAGES = tuple(code for code in LANGUAGES if code != ENGLISH)
_TRANSLATION_PROBLEM = re.compile(r"^translations\.([a-z]+)\.([a-z_]+): (.*)$", re.S)


def variant_fields(n: int) -> tuple[str, ...]:
    return tuple(f"{VARIANTS}.{n}.{key}" for key in VARIANT_KEYS)


def answers_field(code: str) -> str:
    """Where a problem with a translation's answers as a whole goes."""
    return f"{TRANSLATIONS}.{code}.{POLL_ANSWERS}"


def answer_fields(code: str) -> tuple[str, ...]:
    return tuple(f"{answers_field(code)}.{n}" for n in range(1, MAX_POLL_ANSWERS + 1))


def translation_fields(code: str) -> tuple[str, ...]:
    return (*(f"{TRANSLATIONS}.{code}.{key}" for key in TRANSLATED), *answer_fields(code))


VARIANT_FIELDS = tuple(name for n in VARIANT_SLOTS for name in variant_fields(n))
TRANSLATION_FIELDS = tuple(name for code in OTHER_LANGUAGES for name in translation_fields(code))
FIELDS = (*VARIANT_FIELDS, *TRANSLATION_FIELDS)
# Places for a problem that belongs to no one field: shown beside a group of fields.
PROBLEM_PLACES = frozenset(answers_field(code) for code in OTHER_LANGUAGES)


def values_of(data: Mapping[str, Any]) -> dict[str, str]:
    """An ask's wordings and translations (from a version's content, or a stored ask's
    `extra`), as the form shows them. Read as found, not validated."""
    values = dict.fromkeys(FIELDS, "")
    variants = data.get(VARIANTS)
    listed = variants[: len(VARIANT_SLOTS)] if isinstance(variants, list) else []
    for n, variant in zip(VARIANT_SLOTS, listed, strict=False):
        if isinstance(variant, dict):
            for key in VARIANT_KEYS:
                found = variant.get(key)
                values[f"{VARIANTS}.{n}.{key}"] = "" if found is None else str(found)
    translations = data.get(TRANSLATIONS)
    for code in OTHER_LANGUAGES:
        words = translations.get(code) if isinstance(translations, dict) else None
        if not isinstance(words, dict):
            continue
        for key in TRANSLATED:
            found = words.get(key)
            values[f"{TRANSLATIONS}.{code}.{key}"] = "" if found is None else str(found)
        answers = words.get(POLL_ANSWERS)
        listed = answers if isinstance(answers, list) else []
        for name, answer in zip(answer_fields(code), listed, strict=False):
            values[name] = str(answer)
    return values


@dataclass
class Nested:
    """The form's wordings and translations as a pack's ask has them, the problems found
    before the pack's checks, and which field each listed item came from."""

    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    variant_slots: list[int] = field(default_factory=list)
    answer_slots: dict[str, list[str]] = field(default_factory=dict)  # by language


def nest(values: Mapping[str, str], poll_slots: Sequence[str]) -> Nested:
    """`values`' wordings and translations; `poll_slots`: the poll's answer fields that
    hold an answer (`poll.answers.3`), which the translated answers line up with."""
    found = Nested()

    def typed(name: str) -> str:
        return values.get(name, "").strip()

    variants = []
    for n in VARIANT_SLOTS:
        names = variant_fields(n)
        if not any(typed(name) for name in names):
            continue
        variant = {"name": typed(names[0]), "ask": values.get(names[2], "")}
        if not variant["name"]:
            found.errors[names[0]] = "give this wording a short name, such as short or b"
        if typed(names[1]):
            variant["title"] = values.get(names[1], "")
        variants.append(variant)
        found.variant_slots.append(n)
    if variants:
        found.data[VARIANTS] = variants
    translations: dict[str, Any] = {}
    numbers = [name.rsplit(".", 1)[-1] for name in poll_slots]
    for code in OTHER_LANGUAGES:
        words: dict[str, Any] = {
            key: values.get(f"{TRANSLATIONS}.{code}.{key}", "")
            for key in TRANSLATED
            if typed(f"{TRANSLATIONS}.{code}.{key}")
        }
        given = [name for name in answer_fields(code) if typed(name)]
        if given:
            slots = [f"{answers_field(code)}.{n}" for n in numbers]
            for name in given:
                if name not in slots:
                    found.errors[name] = "the poll has no answer here to translate"
            for name in slots:
                if name not in given:
                    found.errors[name] = (
                        f"give this answer in {name_of(code)} too, or leave every "
                        "translated answer empty"
                    )
            words[POLL_ANSWERS] = [values.get(name, "") for name in slots]
            found.answer_slots[code] = slots
        if words:
            translations[code] = words
    if translations:
        found.data[TRANSLATIONS] = translations
    return found


def owner(loc: Sequence[Any], message: str, nested: Nested, ask: str) -> tuple[str, str] | None:
    """The field a pack check's problem belongs to, and what to say there; None if it is
    not about the wordings or translations. `ask` is the ask's own words as typed."""
    parts = [str(part) for part in loc]
    if parts[:1] == [VARIANTS]:
        if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) < len(nested.variant_slots):
            n = nested.variant_slots[int(parts[1])]
            if parts[2] in VARIANT_KEYS:
                return f"{VARIANTS}.{n}.{parts[2]}", message
        return _first_variant(nested, "name"), message
    if parts[:1] == [TRANSLATIONS] and len(parts) >= 3 and parts[1] in OTHER_LANGUAGES:
        code, key = parts[1], parts[2]
        if key == POLL_ANSWERS:
            slots = nested.answer_slots.get(code, [])
            if len(parts) >= 4 and parts[3].isdigit() and int(parts[3]) < len(slots):
                return slots[int(parts[3])], message
            return answers_field(code), message
        if key in TRANSLATED:
            return f"{TRANSLATIONS}.{code}.{key}", message
        return None
    if parts:
        return None
    # A check of the whole ask (packs' `Ask` validators) names its part in its words.
    said = _TRANSLATION_PROBLEM.match(message)
    if said and said.group(1) in OTHER_LANGUAGES:
        code, key, what = said.groups()
        name = answers_field(code) if key == POLL_ANSWERS else f"{TRANSLATIONS}.{code}.{key}"
        return name, what
    if "variant" not in message:
        return None
    variants = nested.data.get(VARIANTS, [])
    for index, variant in enumerate(variants):
        n = nested.variant_slots[index]
        if variant["name"] == ORIGINAL and "called" in message:
            return f"{VARIANTS}.{n}.name", message
        if variant["ask"].strip() == ask.strip() and "same as the ask" in message:
            return f"{VARIANTS}.{n}.ask", message
        earlier = [other["name"] for other in variants[:index]]
        if variant["name"] in earlier and "same name" in message:
            return f"{VARIANTS}.{n}.name", message
    return _first_variant(nested, "name"), message


def _first_variant(nested: Nested, key: str) -> str:
    n = nested.variant_slots[0] if nested.variant_slots else VARIANT_SLOTS[0]
    return f"{VARIANTS}.{n}.{key}"
