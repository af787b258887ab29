"""Trust on Discord: organisers are ids in the charity's own server (never a role's name,
never another server), DMs with media, links or free text get a calm answer and nothing
is kept, and a failure at start is one line without the token.

The real discord.py client runs against the strict fake Discord. Every id and name is
made up.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from bots.discord.screening import AnswerGate
from campaigns import wording
from campaigns.core import Core
from campaigns.messenger import StartupFailure
from campaigns.organising import NOT_AVAILABLE
from tests.fakes.discord import MEMBER_DEFAULT, FakeDiscord, InteractionRecord
from tests.platforms import discord_bot, discord_online

CHARITY, CHARITY_CHANNEL = 7100, 7101
ELSEWHERE, ELSEWHERE_CHANNEL = 8100, 8101
ROLE_NAME = "Campaign organiser"
HOLDER, STRANGER, SUPPORTER, ID_ORGANISER = 5201, 5202, 5203, 900  # conftest: "discord:900"
FORWARDER, STICKERER = 5204, 5205
MANAGE_GUILD = 1 << 5
SENDNOW = [
    {"name": "campaign", "type": 3, "value": "one-step-ahead"},
    {"name": "ask", "type": 3, "value": "pre-screening"},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    for user, name in (
        (HOLDER, "hana"),
        (STRANGER, "stranger"),
        (SUPPORTER, "sol"),
        (FORWARDER, "fen"),
        (STICKERER, "sid"),
    ):
        server.add_user(user, name)
    server.add_user(ID_ORGANISER, "olu")
    server.add_guild(
        CHARITY,
        "The charity",
        [CHARITY_CHANNEL],
        members={
            HOLDER: MEMBER_DEFAULT,
            ID_ORGANISER: MEMBER_DEFAULT,
            SUPPORTER: MEMBER_DEFAULT,
            FORWARDER: MEMBER_DEFAULT,
        },
    )
    # a stranger's own server, which the bot was invited to, with a role of the same name
    server.add_guild(
        ELSEWHERE,
        "Somewhere else",
        [ELSEWHERE_CHANNEL],
        members={STRANGER: MEMBER_DEFAULT | MANAGE_GUILD, ID_ORGANISER: MEMBER_DEFAULT},
        owner_id=STRANGER,
    )
    server.add_role(ELSEWHERE, ROLE_NAME, members=(STRANGER,))
    yield server
    await server.stop()
    assert server.internal_errors == []


@pytest.fixture
def role(fake: FakeDiscord) -> int:
    return fake.add_role(CHARITY, ROLE_NAME, members=(HOLDER,))


@pytest.fixture
async def bot(core: Core, fake: FakeDiscord, role: int) -> AsyncIterator[DiscordBot]:
    async with discord_online(core, fake, organiser_guild=CHARITY, organiser_role=role) as started:
        yield started


def replies_to(fake: FakeDiscord, user: int) -> list[str]:
    """What the bot wrote in the user's DM."""
    bot_id = str(fake.world.bot.id)
    return [m["content"] for m in fake.dms_to(user) if m["author"]["id"] == bot_id]


async def answered(fake: FakeDiscord, record: InteractionRecord) -> str:
    await fake.wait_for_response(record)
    await fake.wait_for(lambda: record.acknowledged)
    return json.dumps(record.responses[0], ensure_ascii=False)


def counts(db: Database) -> tuple[int, int]:
    prompts = db.execute("SELECT count(*) FROM prompts").fetchone()[0]
    audit = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    return int(prompts), int(audit)


async def test_the_organiser_commands_are_guild_commands_of_the_charity_server_only(
    bot: DiscordBot, fake: FakeDiscord
) -> None:
    assert "campaign" not in {command["name"] for command in fake.global_commands}
    assert {command["name"] for command in fake.guild_commands[CHARITY]} == {"campaign"}
    assert ELSEWHERE not in fake.guild_commands


async def test_a_stranger_with_a_role_of_the_same_name_in_their_own_server_is_refused(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    before = await core.store.read(counts)
    # /campaign isn't even there; a crafted interaction for it is refused
    for subcommand, options in (("sendnow", SENDNOW), ("stats", None), ("status", None)):
        record = await fake.run_slash_command(
            "campaign",
            subcommand=subcommand,
            options=options,
            user_id=STRANGER,
            guild_id=ELSEWHERE,
            channel_id=ELSEWHERE_CHANNEL,
            forge=True,
        )
        assert NOT_AVAILABLE in await answered(fake, record)
    assert await core.store.read(counts) == before  # no prompt, nothing audited as theirs


async def test_the_charity_role_id_counts_only_in_the_charity_server(
    bot: DiscordBot, fake: FakeDiscord, core: Core, role: int
) -> None:
    # a crafted member payload claiming the charity's role id, from another server
    fake.world.guilds[ELSEWHERE].member_roles[STRANGER].append(role)
    record = await fake.run_slash_command(
        "campaign",
        subcommand="sendnow",
        options=SENDNOW,
        user_id=STRANGER,
        guild_id=ELSEWHERE,
        channel_id=ELSEWHERE_CHANNEL,
        forge=True,
    )
    assert NOT_AVAILABLE in await answered(fake, record)
    # an organiser by id, but outside the charity's server (a DM, another server)
    for guild, channel in ((None, None), (ELSEWHERE, ELSEWHERE_CHANNEL)):
        record = await fake.run_slash_command(
            "campaign",
            subcommand="stats",
            user_id=ID_ORGANISER,
            guild_id=guild,
            channel_id=channel,
            forge=True,
        )
        assert NOT_AVAILABLE in await answered(fake, record)
    # a member of the charity's server without the role
    record = await fake.run_slash_command(
        "campaign", subcommand="stats", user_id=SUPPORTER, guild_id=CHARITY
    )
    assert NOT_AVAILABLE in await answered(fake, record)
    assert await core.store.read(counts) == (0, 0)


async def test_the_organiser_in_the_charity_server_is_served(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    record = await fake.run_slash_command(
        "campaign", subcommand="sendnow", options=SENDNOW, user_id=HOLDER, guild_id=CHARITY
    )
    await answered(fake, record)
    confirm = fake.message(record.responses[0]["message_id"])
    assert confirm is not None
    send = next(
        component["custom_id"]
        for row in confirm["components"]
        for component in row["components"]
        if component.get("label") == "Send it now"
    )
    # the confirm button, pressed from elsewhere, does nothing
    forged = await fake.press_button(1, send, user_id=STRANGER, guild_id=ELSEWHERE, forge=True)
    assert NOT_AVAILABLE in await answered(fake, forged)
    pressed = await fake.press_button(int(confirm["id"]), send, user_id=HOLDER, guild_id=CHARITY)
    assert "Sending." in await answered(fake, pressed)

    def made(db: Database) -> list[tuple[str, str]]:
        return db.execute("SELECT ask_id, created_by FROM prompts").fetchall()

    assert await core.store.read(made) == [("pre-screening", f"discord:{HOLDER}")]
    # an organiser by id is served there too
    record = await fake.run_slash_command(
        "campaign", subcommand="stats", user_id=ID_ORGANISER, guild_id=CHARITY
    )
    assert "All time" in await answered(fake, record)


async def test_no_organiser_server_means_no_organiser_commands(
    core: Core, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord.bot")
    # none set: not registered, and one line says why; one the bot isn't in: a warning
    for guild, level, said in (
        (None, logging.INFO, "set discord_organiser_guild"),
        (9999, logging.WARNING, "is the bot in that server?"),
    ):
        caplog.clear()
        bot = discord_bot(core, fake, organiser_guild=guild)
        await bot.online()
        try:
            assert fake.guild_commands == {}
            assert "campaign" not in {command["name"] for command in fake.global_commands}
            [line] = [r for r in caplog.records if "organiser commands" in r.getMessage()]
            assert line.levelno == level and said in line.getMessage()
        finally:
            await bot.offline()


# --- DMs ------------------------------------------------------------------------------


async def test_dms_with_media_links_or_free_text_get_a_calm_answer_and_nothing_is_kept(
    bot: DiscordBot, fake: FakeDiscord, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    words = "please-help-my-friend-xyzzy"  # synthetic; stands for a disclosure
    # in a server channel: never read (no server message intent), so never answered
    posted = await fake.send_user_message(
        FORWARDER, "see https://example.org/y", channel_id=CHARITY_CHANNEL, attachments=["p.png"]
    )
    report = wording.safeguarding(removed=False)
    cases: list[tuple[int, dict[str, Any], str]] = [
        (SUPPORTER, {"content": words}, wording.FREE_TEXT),
        (HOLDER, {"content": "look at https://example.org/x"}, report),
        (STRANGER, {"attachments": ["picture.png"]}, report),
        (STICKERER, {"stickers": ["wave"]}, report),
        (FORWARDER, {"forward_of": int(posted["id"])}, report),  # a photo, forwarded
    ]
    for user, sent, expected in cases:
        await fake.send_user_message(user, **sent)
        assert await fake.wait_for(functools.partial(replies_to, fake, user)) == [expected]
    assert "Childline" in wording.FREE_TEXT and "report.iwf.org.uk" in report
    assert [m["id"] for m in fake.messages_in(CHARITY_CHANNEL)] == [posted["id"]]
    assert not (bot.intents.guild_messages or bot.intents.message_content)
    for secret in (words, "example.org", "picture.png", "wave"):
        assert secret not in caplog.text
    # nothing was stored: a DM subscribes no one and leaves no row
    assert await core.store.read(counts) == (0, 0)
    supporters = await core.store.read(
        lambda db: db.execute("SELECT count(*) FROM supporters").fetchone()[0]
    )
    assert supporters == 0
    # never downloaded: the bot made no request for an attachment
    assert not [call for call in fake.requests if "attachments" in call.path]
    assert not bot.cached_messages  # and keeps no one's words in memory


async def test_a_dm_flood_gets_one_answer(bot: DiscordBot, fake: FakeDiscord) -> None:
    for n in range(5):
        await fake.send_user_message(SUPPORTER, f"message {n}")
    await fake.wait_for(lambda: replies_to(fake, SUPPORTER))
    # a round trip on the same gateway connection: every message before it was handled
    await answered(fake, await fake.run_slash_command("help", user_id=SUPPORTER))
    assert replies_to(fake, SUPPORTER).count(wording.FREE_TEXT) == 1


def test_the_answer_gate_answers_once_per_person_per_interval_and_stays_small() -> None:
    gate = AnswerGate(seconds=10, remembered=3)
    assert gate.allow(1, 0.0) and not gate.allow(1, 9.9) and gate.allow(1, 10.0)
    assert all(gate.allow(user, 10.0) for user in (2, 3, 4, 5))  # a crowd: each once
    assert not any(gate.allow(user, 15.0) for user in (1, 2, 3, 4, 5))
    for n in range(100):  # people who write once, a minute apart, are forgotten
        assert gate.allow(100 + n, 100.0 + 60 * n)
    assert len(gate) <= 6


# --- start-up ---------------------------------------------------------------------


async def test_a_refused_token_is_one_line_without_the_token(
    core: Core, fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    """(An unreachable API or gateway is waited for: tests/test_discord_reliability.py.)"""
    token = "MTMxMjQ1Njc4OTAxMjM0NTY3OA.Gq7xYz.f4KpQ2rVn8sLm0wTj6bHc3dXe9aZu1yGo5iE"
    bot = DiscordBot(
        core, token, api_url=fake.api_url, gateway_url=fake.gateway_url, request_rate=None
    )
    try:
        with pytest.raises(StartupFailure) as caught:
            await bot.online()
    finally:
        await bot.offline()
    message = str(caught.value)
    assert message.startswith("DISCORD_BOT_TOKEN") and "\n" not in message
    for secret in (token, token.split(".")[0], fake.token):
        assert secret not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    # and no library traceback on the way
    assert not [record for record in caplog.records if record.exc_info], caplog.text
