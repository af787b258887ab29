"""The languages the bot speaks to supporters, and which one it speaks right now.

Supporter wording lives in gettext catalogues (`campaigns/locale/<code>/LC_MESSAGES/
messages.po`, one per language; English is the source, so it needs none). The `.po`
files are compiled in memory the first time a language is used, with Babel's own
reader and writer, so a clean clone needs no build step and a compiled file can never
be older than its source. A message a catalogue lacks (or marks fuzzy) comes out in
English, never as an error.

Which language to speak is a context variable, as aiogram's i18n middleware and
Flask-Babel keep theirs: whoever answers one supporter (the front door, the delivery
engine) says `with speaking(code):`, and every word `campaigns.wording` gives in that
block is in that language. A context variable is per thread and per asyncio task, so
two answers composed at once never mix their languages.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

ENGLISH = "en"
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).with_name("locale")


def _catalogued() -> tuple[str, ...]:
    """English first, then every language with a catalogue, by code."""
    found = sorted(
        path.parent.parent.name for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
    )
    return (ENGLISH, *(code for code in found if code != ENGLISH))


# The languages a supporter can have: nothing else is ever stored.
LANGUAGES: tuple[str, ...] = _catalogued()

_current: ContextVar[str] = ContextVar("campaignbot_language", default=ENGLISH)


def normalise(code: str | None) -> str:
    """A language we have, from what a platform says (`cy`, `en-GB`, `pt_BR`, `CY`);
    English for anything else. Nothing the client sends is kept as it came."""
    if not code:
        return ENGLISH
    primary = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else ENGLISH


def known(code: str | None) -> str | None:
    """`code` if it is exactly one of our languages, else None (for stored values and
    button arguments, which only ever hold our own codes)."""
    return code if code in LANGUAGES else None


def name_of(code: str) -> str:
    """A language's own name for itself (`Cymraeg`), as a button shows it."""
    # Babel is imported on first use: a command that never speaks to a supporter (the
    # command line, a pack check) doesn't wait for it (about 40 ms).
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(code).get_display_name(code)
    except (ValueError, UnknownLocaleError):
        name = None
    return (name or code)[:1].upper() + (name or code)[1:]


@cache
def translations(code: str) -> NullTranslations:
    """The compiled catalogue of one language (English, or one we lack: none, so every
    message stays as written)."""
    path = LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == ENGLISH or code not in LANGUAGES or not path.is_file():
        return NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with path.open("rb") as source:
        catalog = read_po(source, locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def current() -> str:
    """The language being spoken now (English unless someone said otherwise)."""
    return _current.get()


@contextmanager
def speaking(code: str | None) -> Iterator[str]:
    """Speak `code` (made one of ours) for the length of the block."""
    language = normalise(code)
    token = _current.set(language)
    try:
        yield language
    finally:
        _current.reset(token)


def gettext(message: str, language: str | None = None) -> str:
    """`message` in `language` (default: the current one), English where missing."""
    return translations(language or current()).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    """The form of a counted message that agrees with `n` in the language's own rules
    (Welsh has six)."""
    return translations(language or current()).ngettext(singular, plural, n)


def spoken(code: str | None, fn: Callable[P, T]) -> Callable[P, T]:
    """`fn`, run in `code` wherever it runs: a context variable stays with its thread,
    so work handed to the store's threads takes its language with it this way."""

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        with speaking(code):
            return fn(*args, **kwargs)

    return run


def foreign(code: str | None) -> bool:
    """Is `code` one of our languages other than English (words to look up)?"""
    return normalise(code) != ENGLISH
