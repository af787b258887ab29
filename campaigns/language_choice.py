"""Answering each supporter in their language, and /language to change it.

The front door (`campaigns.core`) answers through `handle_command` and `handle_press`
here, which wrap the conversation's own (`campaigns.dialogue`): inside the writer's
transaction they look up the supporter's stored language (else take the platform's
word for it, `Origin.language`), speak it for the whole answer, and store it the
first time the platform names one (a console, or a Discord DM typed without a
slash command, names none: English until it does). Only a language we have a
catalogue for is ever stored (`campaigns.languages.normalise`), English for any
other: never what a client sent as it came.

A group (its `supporters` row) has a language too, but only its admins set it, with
`/language cy` in the group: everything said in the group, and its weekly ask, is in
it (English until an admin chooses). It is never taken from whoever spoke: one
member's app says nothing about what the rest of the group reads.
"""

from __future__ import annotations

from sqlite_utils import Database

from campaigns import dialogue, languages, supporters, wording
from campaigns.buttons import Verb
from campaigns.dialogue import Context
from campaigns.model import Button, ChatKind, Message, Origin, PressResult
from db import languages as languages_db
from db import supporters as supporters_db
from db.supporters import SupporterRow

NAME = "language"


def _stored(db: Database, found: SupporterRow | None) -> str | None:
    return languages.known(languages_db.language_of(db, found.id)) if found else None


def _spoken(origin: Origin, stored: str | None) -> str | None:
    """What to speak: the stored language; else, in a private chat, the platform's word
    for the person (a group's is never a member's: English until an admin sets it)."""
    if stored is not None or origin.kind is ChatKind.GROUP:
        return stored
    return origin.language


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
    with languages.speaking(_spoken(origin, stored)) as language:
        if name.lower() == NAME:
            if origin.kind is ChatKind.GROUP:
                return _group_language(db, found, args, admin)
            return _language_command(db, ctx, origin, found, args)
        replies = dialogue.handle_command(db, ctx, origin, name, args, admin)
    private = origin.kind is not ChatKind.GROUP
    if private and stored is None and origin.language:  # first contact: the platform's word
        now = supporters.find(db, origin)
        if now is not None:
            languages_db.set_if_unset(db, now.id, language)
    return replies


def handle_press(db: Database, ctx: Context, origin: Origin, value: str) -> PressResult:
    """`dialogue.handle_press` in the supporter's language, and the language buttons."""
    found = supporters.find(db, origin)
    with languages.speaking(_spoken(origin, _stored(db, found))):
        button = ctx.ids.read(value)
        if button is not None and button.verb is Verb.LANGUAGE:
            return _press_language(db, ctx, _person(db, origin, found), button.argument)
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


def _group_language(
    db: Database, group: SupporterRow | None, args: tuple[str, ...], admin: bool
) -> list[Message]:
    """/language in a group: its admins set the group's language by code or name
    (typed: a button press can't be checked for an admin); anyone else is told so."""
    if not admin:
        return [Message(text=wording.GROUP_ONLY_ADMINS)]
    if group is None:
        return [Message(text=wording.NOT_SUBSCRIBED)]
    code = _by_name(args[0]) if len(args) == 1 else None
    if code is None:
        codes = ", ".join(languages.LANGUAGES)
        current = languages.name_of(languages.current())
        return [Message(text=wording.group_language_usage(current, codes))]
    languages_db.set_language(db, group.id, code)
    with languages.speaking(code):
        return [Message(text=wording.language_now(languages.name_of(code)))]


def _person(db: Database, origin: Origin, found: SupporterRow | None) -> SupporterRow | None:
    """Whose language a language button sets: always a person's own. A group is never
    shown the buttons (its admins type a code), so one pressed in a group is the chooser
    Discord's /language showed one member inside a server, only to them."""
    if origin.kind is not ChatKind.GROUP:
        return found
    return supporters_db.get(db, origin.platform, origin.actor)


def _press_language(
    db: Database, ctx: Context, found: SupporterRow | None, argument: str
) -> PressResult:
    code = languages.known(argument)
    if code is None:
        return PressResult(answer=wording.BUTTON_STALE)
    if found is None:
        return PressResult(answer=wording.NOT_SUBSCRIBED)
    languages_db.set_language(db, found.id, code)
    with languages.speaking(code):
        answer = wording.language_now(languages.name_of(code))
        return PressResult(answer=answer, counted=True, edit=language_message(ctx, code))
