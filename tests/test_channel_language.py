"""A Discord channel's language, chosen by a member with Manage Server in `/channel`,
over the fake Discord: the weekly ask posted there is in it. Every fixture is
synthetic: made-up ids and names (the Welsh is test Welsh, not the charity's).
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from campaigns import wording
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.packs import BUNDLED_PACKS
from campaigns.prompting import Request, send_now
from db import languages as languages_db
from db import supporters as supporters_db
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord, FakeDiscordError
from tests.platforms import first_response

CAMPAIGN = "one-step-ahead"
GUILD, CHANNEL_CY, CHANNEL_EN = 7400, 7401, 7402
ADMIN, MEMBER = 7403, 7404
MANAGE_GUILD = 1 << 5
STRING, CHANNEL = 3, 7  # Discord's option types

# Test words, not the charity's.
CAMPAIGN_CY = "Un Cam o'r Blaen"
ASK_CY = {
    "title": "Dewch â'r gyfraith i'r oes: delweddau cam-drin AI",
    "ask": "Ysgrifennwch at eich AS heddiw am ddelweddau cam-drin a wnaed gan AI.",
    "link_label": "Ysgrifennu at eich AS",
}
WELSH_NOW = "Cymraeg: dyma'r iaith y bydda i'n ysgrifennu atoch chi ynddi."


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    """The bundled pack with its campaign and first ask in Welsh (overrides conftest's)."""
    data = tomllib.loads((BUNDLED_PACKS / f"{CAMPAIGN}.toml").read_text("utf-8"))
    data["asks"][0]["translations"] = {"cy": ASK_CY}
    data["campaign"]["translations"] = {"cy": {"title": CAMPAIGN_CY}}
    folder = tmp_path / "packs"
    folder.mkdir()
    (folder / f"{CAMPAIGN}.toml").write_text(tomli_w.dumps(data), "utf-8")
    return Catalog.load(folder)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(ADMIN, "alaw")
    server.add_user(MEMBER, "carys")
    members = {ADMIN: MEMBER_DEFAULT | MANAGE_GUILD, MEMBER: MEMBER_DEFAULT}
    server.add_guild(GUILD, "Grŵp", [CHANNEL_CY, CHANNEL_EN], members=members)
    yield server
    await server.stop()


@pytest.fixture
async def bot(core: Core, fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    bot = DiscordBot(
        core,
        fake.token,
        organiser_guild=None,
        organiser_role=None,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        request_rate=None,
        guild_ready_timeout=0.05,
    )
    engine = DeliveryEngine(core.store, core.ctx, {"discord": bot}, tuning=Tuning(workers=2))
    core.attach(engine)
    await bot.online()
    yield bot
    await engine.stop()
    await bot.offline()
    assert not fake.rejected, fake.rejected


async def _language(core: Core, channel: int) -> str | None:
    def read(db: Database) -> str | None:
        row = supporters_db.get(db, "discord", str(channel))
        return languages_db.language_of(db, row.id) if row else None

    return await core.store.read(read)


def _options(channel: int, language: str | None = None) -> list[dict[str, Any]]:
    options: list[dict[str, Any]] = [{"name": "channel", "type": CHANNEL, "value": str(channel)}]
    if language is not None:
        options.append({"name": "language", "type": STRING, "value": language})
    return options


async def _set_channel(fake: FakeDiscord, channel: int, language: str | None = None) -> None:
    record = await fake.run_slash_command(
        "channel",
        user_id=ADMIN,
        guild_id=GUILD,
        channel_id=channel,
        options=_options(channel, language),
    )
    await first_response(fake, record)
    await fake.wait_for(lambda: len(record.responses) >= 2)  # the follow-up to the admin


def _titles(fake: FakeDiscord, channel: int) -> list[str]:
    return [m["embeds"][0].get("title", "") for m in fake.messages_in(channel) if m.get("embeds")]


async def _send_weekly(core: Core) -> None:
    def schedule(db: Database) -> int:
        return send_now(db, core.ctx.catalog, Request(CAMPAIGN, "ai-images"), "t").id

    assert core.desk.engine is not None
    await core.desk.engine.send_prompt(await core.store.write(schedule))


async def test_the_language_option_offers_the_bots_languages_by_their_own_names(
    bot: DiscordBot, fake: FakeDiscord
) -> None:
    channel = next(c for c in fake.global_commands if c["name"] == "channel")
    option = next(o for o in channel["options"] if o["name"] == "language")
    assert option["type"] == STRING and not option.get("required")
    assert option["choices"] == [
        {"name": "English", "value": "en"},
        {"name": "Cymraeg", "value": "cy"},
    ]
    with pytest.raises(FakeDiscordError, match="must be one of its choices"):
        await fake.run_slash_command(
            "channel",
            user_id=ADMIN,
            guild_id=GUILD,
            channel_id=CHANNEL_CY,
            options=_options(CHANNEL_CY, "fr"),
        )


async def test_a_channel_set_to_welsh_gets_the_welsh_ask_and_one_without_stays_english(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    await _set_channel(fake, CHANNEL_CY, "cy")
    await _set_channel(fake, CHANNEL_EN)
    assert await _language(core, CHANNEL_CY) == "cy"
    assert await _language(core, CHANNEL_EN) is None
    said = [m.get("content") for m in fake.messages_in(CHANNEL_CY)]
    assert WELSH_NOW in said  # the channel is told, in its language
    await _send_weekly(core)
    welsh = f"{CAMPAIGN_CY}: {ASK_CY['title']}"
    await fake.wait_for(lambda: _titles(fake, CHANNEL_CY)[-1:] == [welsh])
    await fake.wait_for(lambda: len(_titles(fake, CHANNEL_EN)) >= 2)
    assert _titles(fake, CHANNEL_EN)[-1].startswith("One Step Ahead: Bring the law")


async def test_someone_without_manage_server_cant_set_a_channels_language(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    await _set_channel(fake, CHANNEL_EN)
    # Discord hides /channel from them; a crafted interaction is refused by the bot
    with pytest.raises(FakeDiscordError, match="lacks the permissions"):
        await fake.run_slash_command(
            "channel",
            user_id=MEMBER,
            guild_id=GUILD,
            channel_id=CHANNEL_EN,
            options=_options(CHANNEL_EN, "cy"),
        )
    record = await fake.run_slash_command(
        "channel",
        user_id=MEMBER,
        guild_id=GUILD,
        channel_id=CHANNEL_EN,
        options=_options(CHANNEL_EN, "cy"),
        forge=True,
    )
    answer = await first_response(fake, record)
    assert answer["data"]["content"] == wording.GROUP_ONLY_ADMINS and record.ephemeral
    assert await _language(core, CHANNEL_EN) is None
