"""A group's language, the campaign's name on the ask card, and the welcome series'
link labels in Welsh, over the fake Telegram. Every fixture is synthetic: made-up ids,
names and words (the Welsh is test Welsh, not the charity's).
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from bots.telegram.bot import TelegramBot
from campaigns import campaign_form, journeys, pack_io, wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.packs import BUNDLED_PACKS, PackError, load_pack
from campaigns.prompting import Request, send_now
from db import languages as languages_db
from db import supporters as supporters_db
from db.times import utcnow
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord
from tests.fakes.telegram import FakeTelegram
from tests.platforms import components_by_label, discord_online, first_response

CAMPAIGN = "one-step-ahead"
GROUP, ADMIN, MEMBER_CY, MEMBER_EN = -6300, 6301, 6302, 6303
RHYS = 6304  # a Welsh supporter in a private chat
GUILD, CHANNEL, MANAGE_GUILD = 7300, 7301, 1 << 5

# Test words, not the charity's.
CAMPAIGN_CY = "Un Cam o'r Blaen"
ASK_CY = {
    "title": "Dewch â'r gyfraith i'r oes: delweddau cam-drin AI",
    "ask": "Ysgrifennwch at eich AS heddiw am ddelweddau cam-drin a wnaed gan AI.",
    "link_label": "Ysgrifennu at eich AS",
}
WELCOME_CY = ["Croeso! Un cais yr wythnos.", "Pam mae hyn yn bwysig."]
LABELS_CY = ["", "Adrodd i'r IWF"]  # the first message has no link
DONE_CY, SKIP_CY = "Fe wnes i hynny", "Ddim yr wythnos hon"
WELSH_NOW = "Cymraeg: dyma'r iaith y bydda i'n ysgrifennu atoch chi ynddi."


def _pack_data(**campaign_cy: Any) -> dict[str, Any]:
    data = tomllib.loads((BUNDLED_PACKS / f"{CAMPAIGN}.toml").read_text("utf-8"))
    data["asks"][0]["translations"] = {"cy": ASK_CY}
    words = {"title": CAMPAIGN_CY, "welcome": WELCOME_CY, "welcome_link_labels": LABELS_CY}
    data["campaign"]["translations"] = {"cy": words | campaign_cy}
    return data


def _write(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{CAMPAIGN}.toml"
    path.write_text(tomli_w.dumps(data), "utf-8")
    return path


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """The bundled pack with its campaign and first ask in Welsh (overrides conftest's)."""
    return Catalog.load(_write(tmp_path / "packs", _pack_data()).parent)


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        for user, name, code in (
            (ADMIN, "Alaw", "en"),
            (MEMBER_CY, "Bethan", "cy"),
            (MEMBER_EN, "Carys", "en"),
            (RHYS, "Rhys", "cy"),
        ):
            server.user(user, name, language_code=code)
        server.private_chat(RHYS, "Rhys")
        server.private_chat(900, "Olu")  # the core fixture's organiser: their menu
        server.group_chat(GROUP, "Grŵp", admins={ADMIN}, members={MEMBER_CY, MEMBER_EN})
        yield server


@pytest.fixture
async def bot(core: Core, telegram: FakeTelegram) -> AsyncIterator[TelegramBot]:
    bot = TelegramBot(core, telegram.token, base_url=telegram.base_url, limits=False)
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": bot}, tuning=Tuning(workers=2))
    core.attach(engine)
    await bot.online()
    yield bot
    await engine.stop()
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


async def _language(core: Core, address: str, platform: str = "telegram") -> str | None:
    def read(db: Database) -> str | None:
        row = supporters_db.get(db, platform, address)
        return languages_db.language_of(db, row.id) if row else None

    return await core.store.read(read)


async def _wait_for_text(fake: FakeTelegram, chat: int, text: str) -> None:
    await fake.wait_for(lambda: fake.sent_to(chat)[-1].get("text") == text)


async def _send_weekly(core: Core) -> None:
    def schedule(db: Database) -> int:
        return send_now(db, core.ctx.catalog, Request(CAMPAIGN, "ai-images"), "t").id

    assert core.desk.engine is not None
    await core.desk.engine.send_prompt(await core.store.write(schedule))


# ------------------------------------------------------------------ a group's language


async def test_a_groups_admin_sets_its_language_and_everything_in_the_group_follows(
    bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    telegram.user_sends(GROUP, ADMIN, "/subscribe_group")
    subscribed, first = await _sent(telegram, GROUP, 2)
    assert subscribed["text"] == wording.GROUP_SUBSCRIBED
    assert first["text"].startswith("One Step Ahead: Bring the law up to speed")
    # a Welsh member speaking in the group doesn't make the group Welsh
    telegram.user_sends(GROUP, MEMBER_CY, "/help")
    help_text = (await _sent(telegram, GROUP, 3))[2]["text"]
    assert help_text == wording.help_text(True, private=False)
    assert await _language(core, str(GROUP)) is None
    # only an admin may choose it: the rest get the usual answer
    telegram.user_sends(GROUP, MEMBER_CY, "/language cy")
    assert (await _sent(telegram, GROUP, 4))[3]["text"] == wording.GROUP_ONLY_ADMINS
    assert await _language(core, str(GROUP)) is None
    telegram.user_sends(GROUP, ADMIN, "/language")
    usage = (await _sent(telegram, GROUP, 5))[4]
    assert usage["text"] == (
        "I write to this group in English. An admin can change it: /language and a code: en, cy."
    )
    assert not _labels(usage)  # no buttons: a press can't be checked for an admin
    telegram.user_sends(GROUP, ADMIN, "/language Cymraeg")
    assert (await _sent(telegram, GROUP, 6))[5]["text"] == WELSH_NOW
    assert await _language(core, str(GROUP)) == "cy"
    # every reply in the group is Welsh now, to whoever asked, the card named in Welsh
    telegram.user_sends(GROUP, MEMBER_EN, "/ask")
    ask = (await _sent(telegram, GROUP, 7))[6]
    assert ask["text"].startswith(f"{CAMPAIGN_CY}: {ASK_CY['title']}")
    assert _labels(ask) == [ASK_CY["link_label"], DONE_CY, SKIP_CY]
    query = telegram.user_presses(GROUP, MEMBER_EN, ask["message_id"], _data(ask, DONE_CY))
    await telegram.wait_for(lambda: query in telegram.callback_answers)
    assert telegram.callback_answers[query]["text"].startswith("Diolch!")
    telegram.user_sends(GROUP, ADMIN, "/language")
    assert (await _sent(telegram, GROUP, 8))[7]["text"].startswith(
        "Rwy'n ysgrifennu at y grŵp hwn yn Cymraeg."
    )
    # and the weekly ask
    await _send_weekly(core)
    weekly = (await _sent(telegram, GROUP, 9))[8]
    assert weekly["text"].startswith(f"{CAMPAIGN_CY}: {ASK_CY['title']}")
    assert _labels(weekly)[1:] == [DONE_CY, SKIP_CY]
    # an admin sets it back
    telegram.user_sends(GROUP, ADMIN, "/language en")
    assert (await _sent(telegram, GROUP, 10))[9]["text"] == "I'll write to you in English."
    assert await _language(core, str(GROUP)) == "en"


async def test_language_in_a_group_that_never_subscribed(
    bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    telegram.user_sends(GROUP, MEMBER_EN, "/language cy")
    assert (await _sent(telegram, GROUP, 1))[0]["text"] == wording.GROUP_ONLY_ADMINS
    telegram.user_sends(GROUP, ADMIN, "/language cy")
    assert (await _sent(telegram, GROUP, 2))[1]["text"] == wording.NOT_SUBSCRIBED
    assert await core.store.read(supporters_db.get, "telegram", str(GROUP)) is None


# ------------------------------------------------------------------ the card's campaign name


async def test_a_welsh_supporter_reads_the_campaigns_name_in_welsh_on_every_card(
    bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    telegram.user_sends(RHYS, RHYS, "/start")
    ask = (await _sent(telegram, RHYS, 2))[1]
    assert ask["text"].startswith(f"{CAMPAIGN_CY}: {ASK_CY['title']}")
    # the card redrawn after a press keeps the Welsh name
    query = telegram.user_presses(RHYS, RHYS, ask["message_id"], _data(ask, SKIP_CY))
    await telegram.wait_for(lambda: query in telegram.callback_answers)

    def redrawn() -> bool:
        now = next(m for m in telegram.sent_to(RHYS) if m["message_id"] == ask["message_id"])
        return bool(now["text"] != ask["text"])

    await telegram.wait_for(redrawn)
    now = next(m for m in telegram.sent_to(RHYS) if m["message_id"] == ask["message_id"])
    assert CAMPAIGN_CY in now["text"]
    await _send_weekly(core)
    weekly = (await _sent(telegram, RHYS, 3))[2]
    assert weekly["text"].startswith(f"{CAMPAIGN_CY}: {ASK_CY['title']}")
    # an ask without Welsh words still names the campaign in Welsh; English stays English
    telegram.user_sends(RHYS, RHYS, "/language en")
    await _sent(telegram, RHYS, 4)
    telegram.user_sends(RHYS, RHYS, "/ask")
    english = (await _sent(telegram, RHYS, 5))[4]
    assert english["text"].startswith("One Step Ahead: Bring the law up to speed")


async def test_a_welsh_supporters_invitations_name_the_campaign_in_welsh(
    bot: TelegramBot, telegram: FakeTelegram
) -> None:
    """/invite, and the next step that carries the supporter's own invite link."""
    telegram.user_sends(RHYS, RHYS, "/start")
    ask = (await _sent(telegram, RHYS, 2))[1]
    telegram.user_sends(RHYS, RHYS, "/invite")
    invite = (await _sent(telegram, RHYS, 3))[2]
    assert CAMPAIGN_CY in invite["text"] and "One Step Ahead" not in invite["text"]
    # "I did it" on the first ask: its next step invites a friend, in Welsh
    telegram.user_presses(RHYS, RHYS, ask["message_id"], _data(ask, DONE_CY))

    def next_step() -> list[dict[str, Any]]:
        return [m for m in telegram.sent_to(RHYS)[3:] if "t.me/" in str(m.get("text"))]

    await telegram.wait_for(next_step, timeout=10)
    text = str(next_step()[0]["text"])
    assert CAMPAIGN_CY in text and "One Step Ahead" not in text


# ------------------------------------------------------------------ welcome link labels


def test_welcome_link_labels_are_checked_like_the_welcome_texts(tmp_path: Path) -> None:
    folder = tmp_path / "packs"
    for labels, problem in (
        (["Adrodd"], "welcome_link_labels: give one for each of the welcome messages"),
        (["Dim", "Adrodd"], "welcome_link_labels: welcome message 1 has no link"),
        (["", "x" * 41], "welcome_link_labels.1: is 41 characters long; at most 40 fit"),
    ):
        path = _write(folder, _pack_data(welcome_link_labels=labels))
        with pytest.raises(PackError) as raised:
            load_pack(path)
        assert problem in str(raised.value)
    # an older pack without them is as valid as ever
    data = _pack_data()
    del data["campaign"]["translations"]["cy"]["welcome_link_labels"]
    assert load_pack(_write(folder, data)).campaign.translations["cy"].welcome_link_labels is None


def test_welcome_link_labels_survive_export_and_import(tmp_path: Path, db: Database) -> None:
    pack = load_pack(_write(tmp_path / "packs", _pack_data()))
    assert pack.campaign.translations["cy"].welcome_link_labels == LABELS_CY
    stored = pack_io.pack_from_db(db, CAMPAIGN)
    assert stored is not None
    exported = pack_io.to_toml(stored)
    assert "welcome_link_labels" in exported
    again = tmp_path / "again"
    again.mkdir()
    (again / f"{CAMPAIGN}.toml").write_text(exported, "utf-8")
    assert load_pack(again / f"{CAMPAIGN}.toml") == pack


async def test_a_welsh_supporters_welcome_series_has_welsh_link_labels(
    bot: TelegramBot, telegram: FakeTelegram, core: Core
) -> None:
    await core.store.write(journeys.reach_due_steps, [CAMPAIGN], ["telegram"], utcnow())
    telegram.user_sends(RHYS, RHYS, "/start")
    await _sent(telegram, RHYS, 2)
    assert core.desk.engine is not None
    for days, text in ((2, WELCOME_CY[0]), (5, WELCOME_CY[1])):
        later = utcnow() + timedelta(days=days, hours=6)
        await core.store.write(journeys.reach_due_steps, [CAMPAIGN], ["telegram"], later)
        waiting = await core.store.read(
            lambda db: db.execute(
                "SELECT DISTINCT prompt_id FROM deliveries WHERE state = 'pending'"
            ).fetchall()
        )
        for (prompt_id,) in waiting:
            await core.desk.engine.send_prompt(prompt_id)
        await _wait_for_text(telegram, RHYS, text)
    first, second = telegram.sent_to(RHYS)[-2:]
    assert _labels(first) == []
    assert _labels(second) == [LABELS_CY[1]]
    markup = second["reply_markup"]["inline_keyboard"]
    assert markup[0][0]["url"] == "https://report.iwf.org.uk/"


def test_saving_the_campaign_form_keeps_the_welsh_link_labels(tmp_path: Path) -> None:
    """The form holds them: an unrelated save keeps them; a label left on a message
    whose link was taken away is refused beside it, and emptying it saves."""
    campaign = load_pack(_write(tmp_path / "packs", _pack_data())).campaign
    values = campaign_form.values_of(campaign)
    saved = campaign_form.read_campaign(values | {"title": "One Step On"}, kept=campaign)
    assert saved.translations["cy"].welcome_link_labels == LABELS_CY
    no_link = values | {"welcome.2.link.label": "", "welcome.2.link.url": ""}
    with pytest.raises(campaign_form.CampaignFormError) as refused:
        campaign_form.read_campaign(no_link, kept=campaign)
    assert refused.value.errors == {
        "translations.cy.welcome_link_labels.2": campaign_form.NO_LINK_MESSAGE
    }
    emptied = no_link | {"translations.cy.welcome_link_labels.2": ""}
    saved = campaign_form.read_campaign(emptied, kept=campaign)
    assert saved.translations["cy"].welcome_link_labels is None
    assert saved.translations["cy"].welcome == WELCOME_CY


# ------------------------------------------------------------------ Discord


@pytest.fixture
async def discord_fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(RHYS, "rhys", locale="en-GB")  # Discord has no Welsh locale
    server.add_guild(GUILD, "Grŵp", [CHANNEL], members={RHYS: MEMBER_DEFAULT | MANAGE_GUILD})
    yield server
    await server.stop()


@pytest.fixture
async def discord_bot(core: Core, discord_fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    async with discord_online(core, discord_fake) as bot:
        yield bot


async def test_discord_language_in_a_server_is_the_persons_and_a_channel_stays_english(
    discord_bot: DiscordBot, discord_fake: FakeDiscord, core: Core
) -> None:
    """On Discord, /language is about the person wherever they type it (its answer only
    they see); a channel the bot posts in (/channel) keeps English: a member's choice
    never becomes the channel's."""
    await first_response(
        discord_fake, await discord_fake.run_slash_command("subscribe", user_id=RHYS)
    )
    options = [{"name": "channel", "type": 7, "value": str(CHANNEL)}]
    await first_response(
        discord_fake,
        await discord_fake.run_slash_command(
            "channel", user_id=RHYS, guild_id=GUILD, channel_id=CHANNEL, options=options
        ),
    )
    chooser = await first_response(
        discord_fake,
        await discord_fake.run_slash_command(
            "language", user_id=RHYS, guild_id=GUILD, channel_id=CHANNEL
        ),
    )
    message = discord_fake.message(chooser["message_id"]) if chooser.get("message_id") else None
    assert message is not None
    welsh = components_by_label(message)["Cymraeg"]["custom_id"]
    pressed = await first_response(
        discord_fake,
        await discord_fake.press_button(int(message["id"]), welsh, user_id=RHYS, guild_id=GUILD),
    )
    assert pressed["data"]["content"] == WELSH_NOW  # it used to say the button was stale
    assert await _language(core, str(RHYS), "discord") == "cy"
    assert await _language(core, str(CHANNEL), "discord") is None
    # the channel's ask, and a press on it, stay in the channel's language: English
    await discord_fake.wait_for(
        lambda: any(m.get("embeds") for m in discord_fake.messages_in(CHANNEL))
    )
    post = next(m for m in discord_fake.messages_in(CHANNEL) if m.get("embeds"))
    assert post["embeds"][0]["title"].startswith("One Step Ahead: Bring the law")
    done = components_by_label(post)["I did it"]["custom_id"]
    answer = await first_response(
        discord_fake,
        await discord_fake.press_button(int(post["id"]), done, user_id=RHYS, guild_id=GUILD),
    )
    assert answer["data"]["content"] == wording.DONE_THANKS
    assert await _language(core, str(CHANNEL), "discord") is None
