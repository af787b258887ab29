"""Answering each supporter in their language, and /language to change it.

The front door (`campaigns.core`) answers through `handle_command` and `handle_press`
here, which wrap the conversation's own (`campaigns.dialogue`): inside the writer's
transaction they look up the supporter's stored language (else take the platform's
word for it, `Origin.language`), speak it for the whole answer, and store it the
first time the platform names one (a console, or a Discord DM typed without a
slash command, names none: English until it does). Only a language we have a
catalogue for is ever stored (`campaigns.languages.normalise`), English for any
other: never what a client sent as it came.
"""

from __future__ import annotations

from sqlite_utils import Database

from campaigns import dialogue, languages, supporters, wording
from campaigns.buttons import Verb
from campaigns.dialogue import Context
from campaigns.model import Button, ChatKind, Message, Origin, PressResult
from db import languages as languages_db
from db.supporters import SupporterRow

NAME = "language"


def _stored(db: Database, found: SupporterRow | None) -> str | None:
    return languages.known(languages_db.language_of(db, found.id)) if found else None


def handle_command(
    db: Database,
    ctx: Context,
    origin: Origin,
    name: str,
    args: tuple[str, ...] = (),
    admin: bool = False,
) -> list[Message]:
    """`dialogue.handle_command` in the supporter's language, and /language itself."""
    found = supporters.find(db, origin)
    stored = _stored(db, found)
    with languages.speaking(stored or origin.language) as language:
        if name.lower() == NAME:
            return _language_command(db, ctx, origin, found, args)
        replies = dialogue.handle_command(db, ctx, origin, name, args, admin)
    if stored is None and origin.language:  # first contact: keep the platform's word
        now = supporters.find(db, origin)
        if now is not None:
            languages_db.set_if_unset(db, now.id, language)
    return replies


def handle_press(db: Database, ctx: Context, origin: Origin, value: str) -> PressResult:
    """`dialogue.handle_press` in the supporter's language, and the language buttons."""
    found = supporters.find(db, origin)
    with languages.speaking(_stored(db, found) or origin.language):
        button = ctx.ids.read(value)
        if button is not None and button.verb is Verb.LANGUAGE:
            return _press_language(db, ctx, origin, found, button.argument)
        return dialogue.handle_press(db, ctx, origin, value)


def language_message(ctx: Context, chosen: str) -> Message:
    """The /language question: one button a language, named in its own words, the
    chosen one ticked."""
    rows = tuple(
        (
            Button(
                ("\u2713 " if code == chosen else "") + languages.name_of(code),
                id=ctx.ids.make(Verb.LANGUAGE, code),
            ),
        )
        for code in languages.LANGUAGES
    )
    return Message(text=wording.LANGUAGE_INTRO, buttons=rows)


def _by_name(typed: str) -> str | None:
    """A language by its code or its own name (`cy`, `CY`, `Cymraeg`)."""
    wanted = typed.strip().casefold()
    for code in languages.LANGUAGES:
        if wanted in (code, languages.name_of(code).casefold()):
            return code
    return None


def _language_command(
    db: Database, ctx: Context, origin: Origin, found: SupporterRow | None, args: tuple[str, ...]
) -> list[Message]:
    if origin.kind is ChatKind.GROUP:
        return [Message(text=wording.GROUP_PRIVATE_ONLY)]
    if found is None:
        return [Message(text=wording.NOT_SUBSCRIBED)]
    if not args:
        return [language_message(ctx, languages.current())]
    code = _by_name(args[0]) if len(args) == 1 else None
    if code is None:
        usage = wording.LANGUAGE_USAGE.format(codes=", ".join(languages.LANGUAGES))
        return [Message(text=usage)]
    languages_db.set_language(db, found.id, code)
    with languages.speaking(code):
        return [Message(text=wording.language_now(languages.name_of(code)))]


def _press_language(
    db: Database, ctx: Context, origin: Origin, found: SupporterRow | None, argument: str
) -> PressResult:
    code = languages.known(argument)
    if origin.kind is ChatKind.GROUP or code is None:
        return PressResult(answer=wording.BUTTON_STALE)
    if found is None:
        return PressResult(answer=wording.NOT_SUBSCRIBED)
    languages_db.set_language(db, found.id, code)
    with languages.speaking(code):
        answer = wording.language_now(languages.name_of(code))
        return PressResult(answer=answer, counted=True, edit=language_message(ctx, code))
