"""Languages (issue 16, part 3): the catalogues, a supporter's language from the platform
and /language, and packs with an ask's words in Welsh, over the fake Telegram and the fake
Discord. Every fixture is synthetic: made-up ids, names and words.
"""

from __future__ import annotations

import json
import string
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns import ask_languages, languages, pack_io, wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.packs import BUNDLED_PACKS, PackError, load_pack
from campaigns.prompting import Request, send_now
from db import catalog as catalog_db
from db import languages as languages_db
from db import supporters as supporters_db
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import components_by_label, discord_online, first_response

ROOT = Path(__file__).resolve().parent.parent
WORDING = ROOT / "campaigns" / "wording.py"
TEMPLATE = languages.LOCALE_DIR / "messages.pot"
RHYS, ANNA, JULES = 6101, 6102, 6103  # Welsh, English, French
GUILD, CHANNEL = 7100, 7101

# The first ask of the bundled pack, in Welsh (test words, not the charity's).
WELSH = {
    "title": "Dewch â'r gyfraith i'r oes: delweddau cam-drin AI",
    "ask": "Ysgrifennwch at eich AS heddiw am ddelweddau cam-drin a wnaed gan AI.",
    "statistic_sentence": "Delweddau AI o blant a ganfuwyd ar un fforwm mewn un mis.",
    "link_label": "Ysgrifennu at eich AS",
    "reminder": "Mae amser o hyd yr wythnos hon.",
    "poll_question": "Wnaeth eich AS ateb?",
    "poll_answers": ["Do", "Ddim eto", "Naddo", "Wnes i ddim ysgrifennu"],
}
DONE_CY, SKIP_CY = "Fe wnes i hynny", "Ddim yr wythnos hon"


# --------------------------------------------------------------------- catalogues


def _marked() -> dict[str | tuple[str, str], None]:
    """Every message marked in campaigns/wording.py, as Babel's extractor sees it."""
    keywords = dict(DEFAULT_KEYWORDS)
    found: dict[str | tuple[str, str], None] = {}
    for _line, message, _comments, _context in extract_from_file(
        "python", str(WORDING), keywords=keywords
    ):
        key = message if isinstance(message, str) else (str(message[0]), str(message[1]))
        found[key] = None
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _catalogue(path: Path) -> PoCatalog:
    with path.open("rb") as source:
        return read_po(source)


def test_the_template_holds_every_marked_message() -> None:
    """`make messages` has been run since wording.py last changed."""
    template = {message.id for message in _catalogue(TEMPLATE) if message.id}
    assert set(_marked()) == template


@pytest.mark.parametrize("code", [code for code in languages.LANGUAGES if code != "en"])
def test_every_catalogue_has_every_message_with_the_same_placeholders(code: str) -> None:
    path = languages.LOCALE_DIR / code / "LC_MESSAGES" / "messages.po"
    catalogue = _catalogue(path)
    problems = []
    for key in _marked():
        entry = catalogue.get(key[0] if isinstance(key, tuple) else key)
        if entry is None or entry.fuzzy:
            problems.append(f"{key!r}: missing or fuzzy")
            continue
        wanted = set().union(
            *(_placeholders(part) for part in (key if isinstance(key, tuple) else (key,)))
        )
        string = entry.string
        forms = tuple(str(form) for form in (string if isinstance(string, tuple) else (string,)))
        if isinstance(key, tuple) and len(forms) != catalogue.num_plurals:
            problems.append(
                f"{key!r}: {len(forms)} plural forms, {code} has {catalogue.num_plurals}"
            )
        for form in forms:
            if not form:
                problems.append(f"{key!r}: untranslated")
            elif _placeholders(form) != wanted:
                problems.append(f"{key!r}: placeholders {_placeholders(form)} != {wanted}")
    assert problems == []


def test_welsh_is_marked_as_awaiting_a_native_speakers_review() -> None:
    text = (languages.LOCALE_DIR / "cy" / "LC_MESSAGES" / "messages.po").read_text("utf-8")
    assert "AWAITING A NATIVE SPEAKER'S REVIEW" in text


def test_a_missing_translation_or_language_falls_back_to_english() -> None:
    assert languages.gettext("A message no catalogue has", "cy") == "A message no catalogue has"
    assert languages.gettext(wording.NOT_SUBSCRIBED, "fr") == wording.NOT_SUBSCRIBED
    with languages.speaking("fr"):
        assert wording.NOT_SUBSCRIBED == "You're not subscribed. Send /start to join."
    with languages.speaking("cy"):
        assert wording.NOT_SUBSCRIBED.startswith("Dydych chi ddim")
        assert wording.PAUSE_USAGE.endswith("(1 i 12).")
        assert "Childline" in wording.FREE_TEXT and wording.FREE_TEXT.startswith("Dim ond")
        assert wording.did_last_week(312) == "Gwnaeth 312 o gefnogwyr gais yr wythnos diwethaf."
        assert wording.did_last_week(1) == "Gwnaeth 1 cefnogwr gais yr wythnos diwethaf."
    assert wording.did_last_week(312, "en") == "312 supporters did last week\u2019s ask."


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("cy", "cy"),
        ("CY", "cy"),
        ("cy-GB", "cy"),
        ("cy_GB", "cy"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
        ("x" * 500, "en"),
        ("cy'; DROP TABLE supporters", "en"),
    ],
)
def test_only_a_language_we_have_is_kept(given: str | None, kept: str) -> None:
    assert languages.normalise(given) == kept


# --------------------------------------------------------------------- a pack in Welsh


def _welsh_pack(folder: Path) -> Path:
    data = tomllib.loads((BUNDLED_PACKS / "one-step-ahead.toml").read_text("utf-8"))
    data["asks"][0]["translations"] = {"cy": WELSH}
    folder.mkdir(exist_ok=True)
    path = folder / "one-step-ahead.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """The bundled pack, its first ask with Welsh words (overrides conftest's)."""
    return Catalog.load(_welsh_pack(tmp_path / "packs").parent)


def test_a_packs_translations_survive_export_and_import(tmp_path: Path, db: Database) -> None:
    pack = load_pack(_welsh_pack(tmp_path / "packs"))
    assert pack.asks[0].translations["cy"].title == WELSH["title"]
    row = catalog_db.asks(db, "one-step-ahead")[0]
    assert json.loads(row.extra)["translations"]["cy"]["ask"] == WELSH["ask"]
    stored = pack_io.pack_from_db(db, "one-step-ahead")
    assert stored is not None
    exported = pack_io.to_toml(stored)
    assert "[asks.translations.cy]" in exported
    again = tmp_path / "again"
    again.mkdir()
    (again / "one-step-ahead.toml").write_text(exported, "utf-8")
    assert load_pack(again / "one-step-ahead.toml") == pack


def test_a_translation_in_a_language_the_bot_lacks_is_refused_naming_it(tmp_path: Path) -> None:
    path = _welsh_pack(tmp_path / "packs")
    text = path.read_text("utf-8").replace("[asks.translations.cy]", "[asks.translations.fr]")
    path.write_text(text, "utf-8")
    with pytest.raises(PackError) as raised:
        load_pack(path)
    assert "translations.fr" in str(raised.value) and "ai-images" in str(raised.value)


def test_an_ask_reads_in_welsh_where_the_pack_has_it(db: Database) -> None:
    ask = catalog_db.asks(db, "one-step-ahead")[0]
    welsh = ask_languages.localise(ask, "cy")
    assert (welsh.title, welsh.link_label, welsh.poll_labels[0]) == (
        WELSH["title"],
        WELSH["link_label"],
        "Do",
    )
    assert welsh.stat_figure == ask.stat_figure and welsh.link_url == ask.link_url
    assert ask_languages.localise(ask, "en") is ask
    other = catalog_db.asks(db, "one-step-ahead")[1]
    assert ask_languages.localise(other, "cy") is other  # no Welsh: English, no error
    assert ask_languages.translated_into(ask) == ["cy"]


# --------------------------------------------------------------------- Telegram


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        for user, name, code in (
            (RHYS, "Rhys", "cy"),
            (ANNA, "Anna", "en"),
            (JULES, "Jules", "fr"),
        ):
            server.user(user, name, language_code=code)
            server.private_chat(user, name)
        server.private_chat(900, "Olu")  # the core fixture's organiser: their menu
        yield server


@pytest.fixture
async def tg_bot(core: Core, telegram: FakeTelegram) -> AsyncIterator[TelegramBot]:
    bot = TelegramBot(core, telegram.token, base_url=telegram.base_url, limits=False)
    await bot.online()
    yield bot
    await bot.offline()
    assert not [c for c in telegram.rejected if c.method != "getUpdates"], telegram.rejected


def _labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def _data(message: dict[str, Any], label: str) -> str:
    markup = message.get("reply_markup") or {}
    found = [b for row in markup.get("inline_keyboard", []) for b in row if b["text"] == label]
    return str(found[0]["callback_data"])


async def _sent(fake: FakeTelegram, chat: int, at_least: int) -> list[dict[str, Any]]:
    await fake.wait_for(lambda: len(fake.sent_to(chat)) >= at_least)
    return fake.sent_to(chat)


async def _language(core: Core, platform: str, address: str) -> str | None:
    def read(db: Database) -> str | None:
        row = supporters_db.get(db, platform, address)
        return languages_db.language_of(db, row.id) if row else None

    return await core.store.read(read)


async def test_telegram_a_welsh_supporter_gets_welsh_words_and_the_welsh_ask(
    tg_bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    telegram.user_sends(RHYS, RHYS, "/start")
    welcome, ask = await _sent(telegram, RHYS, 2)
    assert welcome["text"].startswith("Croeso i One Step Ahead. Rydych chi wedi tanysgrifio.")
    assert WELSH["title"] in ask["text"] and WELSH["ask"] in ask["text"]
    assert "20,254" in ask["text"] and "Ffynhonnell:" in ask["text"]  # the figure stays
    assert _labels(ask) == [WELSH["link_label"], DONE_CY, SKIP_CY]
    assert await _language(core, "telegram", str(RHYS)) == "cy"
    query = telegram.user_presses(RHYS, RHYS, ask["message_id"], _data(ask, DONE_CY))
    await telegram.wait_for(lambda: query in telegram.callback_answers)
    assert telegram.callback_answers[query]["text"] == "Diolch! Mae hynny wedi'i gyfrif. " + (
        "Mae gweithredoedd bach yn adio i fyny."
    )
    # a forged button: the answer read when the conversation module was imported is
    # still said in Welsh
    forged = telegram.user_presses(RHYS, RHYS, ask["message_id"], "cb1:done:1:x", forge=True)
    await telegram.wait_for(lambda: forged in telegram.callback_answers)
    assert telegram.callback_answers[forged]["text"].startswith("Dydy'r botwm hwnnw ddim")
    # the Welsh menu of commands, next to the English one
    welsh_menu = telegram.commands_for({"type": "all_private_chats"}, "cy")
    assert {"command": "language", "description": "Dewis yr iaith rwy'n ysgrifennu ynddi"} in (
        welsh_menu
    )


async def test_telegram_english_and_an_unknown_language_get_english(
    tg_bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    for user in (ANNA, JULES):
        telegram.user_sends(user, user, "/start")
        welcome, ask = await _sent(telegram, user, 2)
        assert welcome["text"].startswith("Welcome to One Step Ahead. You're subscribed.")
        assert "Bring the law up to speed on AI abuse images" in ask["text"]
        assert _labels(ask) == ["Write to your MP", "I did it", "Not this week"]
        assert await _language(core, "telegram", str(user)) == "en"  # never "fr"


async def test_telegram_language_changes_it_shows_in_mydata_and_forget_erases_it(
    tg_bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    telegram.user_sends(ANNA, ANNA, "/start")
    await _sent(telegram, ANNA, 2)
    telegram.user_sends(ANNA, ANNA, "/language")
    question = (await _sent(telegram, ANNA, 3))[2]
    assert _labels(question) == ["\u2713 English", "Cymraeg"]
    query = telegram.user_presses(ANNA, ANNA, question["message_id"], _data(question, "Cymraeg"))
    await telegram.wait_for(lambda: query in telegram.callback_answers)
    assert telegram.callback_answers[query]["text"].startswith("Cymraeg: dyma'r iaith")
    assert await _language(core, "telegram", str(ANNA)) == "cy"
    telegram.user_sends(ANNA, ANNA, "/ask")
    ask = (await _sent(telegram, ANNA, 4))[3]
    assert WELSH["title"] in ask["text"]
    telegram.user_sends(ANNA, ANNA, "/mydata")
    mydata = (await _sent(telegram, ANNA, 5))[4]
    assert "Iaith: Cymraeg" in (mydata.get("caption") or mydata.get("text") or "")
    telegram.user_sends(ANNA, ANNA, "/language en")
    assert (await _sent(telegram, ANNA, 6))[5]["text"] == "I'll write to you in English."
    telegram.user_sends(ANNA, ANNA, "/language klingon")
    assert "/language and a code: en, cy" in (await _sent(telegram, ANNA, 7))[6]["text"]
    assert await _language(core, "telegram", str(ANNA)) == "en"
    telegram.user_sends(ANNA, ANNA, "/forget yes")
    await _sent(telegram, ANNA, 8)

    def held(db: Database) -> int:
        return int(
            db.execute("SELECT count(*) FROM supporters WHERE language IS NOT NULL").fetchone()[0]
        )

    assert await _language(core, "telegram", str(ANNA)) is None
    assert await core.store.read(held) == 0


async def test_the_weekly_send_goes_to_each_supporter_in_their_language(
    core: Core, telegram: FakeTelegram
) -> None:
    bot = TelegramBot(core, telegram.token, base_url=telegram.base_url, limits=False)
    await bot.online()
    try:
        for user in (RHYS, ANNA):
            telegram.user_sends(user, user, "/start")
            await _sent(telegram, user, 2)

        def schedule(db: Database) -> int:
            return send_now(db, core.ctx.catalog, Request("one-step-ahead", "ai-images"), "t").id

        prompt_id = await core.store.write(schedule)
        engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=Tuning(workers=2))
        await engine.send_prompt(prompt_id)
        welsh, english = (await _sent(telegram, RHYS, 3))[2], (await _sent(telegram, ANNA, 3))[2]
        assert WELSH["ask"] in welsh["text"] and _labels(welsh)[1:] == [DONE_CY, SKIP_CY]
        assert "Write to your MP and ask" in english["text"]
        assert _labels(english)[1:] == ["I did it", "Not this week"]
    finally:
        await bot.offline()


# --------------------------------------------------------------------- Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(RHYS, "rhys", locale="en-GB")
    server.add_user(JULES, "jules", locale="fr")
    server.add_guild(GUILD, "Supporters", [CHANNEL], members={RHYS: MEMBER_DEFAULT})
    yield server
    await server.stop()


@pytest.fixture
async def discord_bot(core: Core, discord_fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    async with discord_online(core, discord_fake) as bot:
        yield bot


async def _latest_ask(fake: FakeDiscord, user: int, at_least: int) -> dict[str, Any]:
    await fake.wait_for(lambda: len([m for m in fake.dms_to(user) if m.get("embeds")]) >= at_least)
    return [m for m in fake.dms_to(user) if m.get("embeds")][-1]


async def test_discord_locale_language_and_forget(
    discord_bot: DiscordBot, discord_fake: FakeDiscord, core: Core
) -> None:
    """Discord has no Welsh locale: en-GB and French clients get English (French is not
    stored), /language switches to Welsh words and the Welsh ask, /forget erases it."""
    for user in (RHYS, JULES):
        first = await first_response(
            discord_fake, await discord_fake.run_slash_command("subscribe", user_id=user)
        )
        assert "You're subscribed" in first["data"]["content"]
        ask = await _latest_ask(discord_fake, user, 1)
        assert list(components_by_label(ask)) == ["Write to your MP", "I did it", "Not this week"]
        assert await _language(core, "discord", str(user)) == "en"
    chooser = await first_response(
        discord_fake, await discord_fake.run_slash_command("language", user_id=RHYS)
    )
    assert chooser["data"]["content"] == wording.LANGUAGE_INTRO
    message = discord_fake.message(chooser["message_id"]) if chooser.get("message_id") else None
    assert message is not None
    welsh_button = components_by_label(message)["Cymraeg"]["custom_id"]
    pressed = await first_response(
        discord_fake,
        await discord_fake.press_button(int(message["id"]), welsh_button, user_id=RHYS),
    )
    # the question itself changes: asked in Welsh now, Welsh ticked
    assert pressed["data"]["content"].startswith("Dewiswch yr iaith")
    assert list(components_by_label(pressed["data"])) == ["English", "\u2713 Cymraeg"]
    assert await _language(core, "discord", str(RHYS)) == "cy"
    await first_response(discord_fake, await discord_fake.run_slash_command("ask", user_id=RHYS))
    ask = await _latest_ask(discord_fake, RHYS, 2)
    assert ask["embeds"][0]["title"] == f"One Step Ahead: {WELSH['title']}"
    assert list(components_by_label(ask)) == [WELSH["link_label"], DONE_CY, SKIP_CY]
    assert components_by_label(ask)[DONE_CY]["style"] == 3  # "I did it" stays green in Welsh
    helped = await first_response(
        discord_fake, await discord_fake.run_slash_command("help", user_id=RHYS)
    )
    assert "/language: Dewis yr iaith" in helped["data"]["content"]
    confirm = await first_response(
        discord_fake, await discord_fake.run_slash_command("forget", user_id=RHYS)
    )
    question = discord_fake.message(confirm["message_id"]) if confirm.get("message_id") else None
    assert question is not None
    yes = components_by_label(question)["Ydw, dilëwch fy nata"]["custom_id"]
    erased = await first_response(
        discord_fake, await discord_fake.press_button(int(question["id"]), yes, user_id=RHYS)
    )
    assert "Rydyn ni wedi dileu eich data" in json.dumps(erased["data"], ensure_ascii=False)
    assert await _language(core, "discord", str(RHYS)) is None
