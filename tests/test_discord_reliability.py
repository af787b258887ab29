"""The Discord adapter through Discord's bad days: it comes online on its own however
long the API or the gateway is down, stays up through an outage mid-run, says so in
one line per failed try, and only a definite refusal (the token) stops it.

The real discord.py client runs against the strict fake Discord, over real sockets.
Statuses are 503s: discord.py retries 500, 502 and 504 itself, for 16 s, before our
code sees them. Every id and name is made up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlite_utils import Database

from bots.discord.bot import DiscordBot
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.messenger import OutcomeUnknown, RecipientGone, StartupFailure, TransientFailure
from campaigns.model import ChatKind, Message
from db import prompts as prompts_db
from tests.cli_run import DISCORD_TOKEN
from tests.fakes.discord import MEMBER_DEFAULT, Call, FakeDiscord, InteractionRecord
from tests.seeding import add_supporters, manual_prompt

SAM, ALEX, ORGANISER = 5301, 5302, 900  # conftest makes "discord:900" an organiser
GUILD, CHANNEL = 7300, 7301
MANAGE_GUILD = 1 << 5
COMMANDS = "/applications/{application_id}/commands"
GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
DM_CHANNEL = "/users/@me/channels"
MESSAGES = "/channels/{channel_id}/messages"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    server.add_user(SAM, "sam")
    server.add_user(ALEX, "alex")
    server.add_user(ORGANISER, "olu")
    server.add_guild(
        GUILD,
        "The charity",
        [CHANNEL],
        members={SAM: MEMBER_DEFAULT, ORGANISER: MEMBER_DEFAULT | MANAGE_GUILD},
    )
    yield server
    await server.stop()
    assert server.internal_errors == []


def new_bot(core: Core, fake: FakeDiscord, token: str | None = None) -> DiscordBot:
    return DiscordBot(
        core,
        fake.token if token is None else token,
        organiser_guild=GUILD,
        api_url=fake.api_url,
        gateway_url=fake.gateway_url,
        request_rate=None,
        guild_ready_timeout=0.05,
        retry_first=0.05,
        retry_cap=0.2,
    )


@pytest.fixture
async def bot(core: Core, fake: FakeDiscord) -> AsyncIterator[DiscordBot]:
    started = new_bot(core, fake)
    await started.online()
    yield started
    await started.offline()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.INFO)
    yield caplog
    # whatever happened: one line each, no traceback, never the token
    for record in caplog.records:
        assert record.exc_info is None, caplog.text
    assert "Traceback" not in caplog.text
    for secret in (DISCORD_TOKEN, "TEST.discord.token"):
        assert secret not in caplog.text


def retries(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    """Our warning lines that contain `words`."""
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("bots.discord") and r.levelno == logging.WARNING
    ]
    found = [line for line in lines if words in line]
    assert all("\n" not in line for line in found)
    return found


async def answered(fake: FakeDiscord, record: InteractionRecord) -> str:
    await fake.wait_for(lambda: record.acknowledged)
    return str(record.responses[0]["data"]["content"])


async def help_works(fake: FakeDiscord) -> None:
    record = await fake.run_slash_command("help", user_id=SAM)
    assert await answered(fake, record)


# --- coming online ---------------------------------------------------------------


async def test_login_answered_5xx_for_a_while_is_retried_until_online(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.outage(0.5, status=503)
    bot = new_bot(core, fake)
    try:
        await asyncio.wait_for(bot.online(), 20)
        await help_works(fake)
    finally:
        await bot.offline()
    failed = [c for c in fake.calls_to("GET", "/users/@me") if c.status == 503]
    assert len(failed) >= 2
    lines = retries(logs, "answered 503 when the bot logged in; trying again in")
    assert len(lines) == len(failed)
    assert f"http://127.0.0.1:{fake.port}" in lines[0] and "/api/v10" not in lines[0]
    assert logs.messages.count("logging in using static token") == 1  # discord.py's, once


async def test_an_api_refusing_connections_is_waited_for(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.outage(refuse=True)
    bot = new_bot(core, fake)
    online = asyncio.create_task(bot.online())
    try:
        await fake.wait_for(lambda: len(retries(logs, "can't reach the API")) >= 3, 10)
        assert not online.done()
        await fake.end_outage()
        await asyncio.wait_for(online, 10)
        await help_works(fake)
    finally:
        online.cancel()
        await bot.offline()
    line = retries(logs, "can't reach the API")[0]
    assert line.startswith(f"discord: can't reach the API at http://127.0.0.1:{fake.port} (")


async def test_a_gateway_down_at_start_is_waited_for(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.gateway_outage()
    bot = new_bot(core, fake)
    online = asyncio.create_task(bot.online())
    try:
        where = f"ws://127.0.0.1:{fake.gateway_port}"
        await fake.wait_for(lambda: len(retries(logs, f"reach the gateway at {where}")) >= 3, 10)
        assert not online.done()
        await fake.end_gateway_outage()
        await asyncio.wait_for(online, 10)
        await help_works(fake)
    finally:
        online.cancel()
        await bot.offline()
    assert len(fake.identifies) == 1  # it identified once, when the gateway was back


async def test_a_refused_token_stops_at_once_in_one_line(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    bot = new_bot(core, fake, token=DISCORD_TOKEN)
    try:
        with pytest.raises(StartupFailure) as caught:
            await asyncio.wait_for(bot.online(), 10)
    finally:
        await bot.offline()
    message = str(caught.value)
    assert message.startswith("DISCORD_BOT_TOKEN") and "\n" not in message
    assert DISCORD_TOKEN.split(".")[0] not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert len(fake.calls_to("GET", "/users/@me")) == 1  # no retry
    assert retries(logs, "") == []


async def test_a_gateway_refusing_the_token_stops_at_once_in_one_line(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    fake.gateway.token = "reset.in.the.portal"  # the token was reset after the login
    bot = new_bot(core, fake)
    try:
        with pytest.raises(StartupFailure) as caught:
            await asyncio.wait_for(bot.online(), 10)
    finally:
        await bot.offline()
    assert str(caught.value).startswith("DISCORD_BOT_TOKEN")
    assert len(fake.identifies) == 1 and fake.gateway.close_codes == [4004]


async def test_a_wrong_api_address_stops_in_one_line(core: Core, fake: FakeDiscord) -> None:
    bot = DiscordBot(
        core,
        fake.token,
        api_url=f"http://127.0.0.1:{fake.port}/api/v9",  # the fake answers 404 there
        gateway_url=fake.gateway_url,
        request_rate=None,
        retry_first=0.05,
    )
    try:
        with pytest.raises(StartupFailure) as caught:
            await asyncio.wait_for(bot.online(), 10)
    finally:
        await bot.offline()
    assert str(caught.value).startswith("DISCORD_API_URL: Discord answered 404")


async def test_online_can_be_cancelled_while_it_retries(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    # while logging in, and while connecting to the gateway
    for down in ("api", "gateway"):
        await (fake.outage(refuse=True) if down == "api" else fake.gateway_outage())
        bot = new_bot(core, fake)
        online = asyncio.create_task(bot.online())
        await fake.wait_for(lambda: len(retries(logs, "trying again")) >= 2, 10)
        online.cancel()
        with pytest.raises(asyncio.CancelledError):
            await online
        assert bot.is_closed()
        await bot.offline()
        await bot.offline()  # twice is fine too
        await (fake.end_outage() if down == "api" else fake.end_gateway_outage())
        logs.clear()


async def test_commands_that_cant_be_synced_dont_stop_the_bot(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("PUT", COMMANDS, status=503, times=3)
    bot = new_bot(core, fake)
    try:
        await asyncio.wait_for(bot.online(), 10)
        # online, and answering what it can: a DM, a send
        await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="hello"))
        assert fake.dms_to(SAM)[-1]["content"] == "hello"
        # the commands arrive once Discord takes them
        await fake.wait_for(lambda: fake.global_commands and fake.guild_commands.get(GUILD), 10)
        await help_works(fake)
    finally:
        await bot.offline()
    assert len(retries(logs, "can't sync the slash commands")) == 1
    assert "discord: slash commands synced" in logs.messages


async def test_the_organiser_commands_failing_to_sync_are_retried_too(
    core: Core, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("PUT", GUILD_COMMANDS, status=503, times=2)
    bot = new_bot(core, fake)
    try:
        await asyncio.wait_for(bot.online(), 10)
        await fake.wait_for(lambda: fake.guild_commands.get(GUILD), 10)
    finally:
        await bot.offline()
    assert len(retries(logs, "can't sync the slash commands")) == 1


# --- opening a DM, sending --------------------------------------------------------


async def test_opening_a_dm_that_fails_transiently_is_a_transient_failure(
    bot: DiscordBot, fake: FakeDiscord
) -> None:
    fake.fail_next("POST", DM_CHANNEL, status=503)
    with pytest.raises(TransientFailure):
        await bot.prepare(str(SAM), ChatKind.PRIVATE)
    with pytest.raises(TransientFailure):  # send opens it itself when it must
        fake.fail_next("POST", DM_CHANNEL, status=503)
        await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="hello"))
    await fake.outage(refuse=True)
    try:
        with pytest.raises(TransientFailure):
            await bot.prepare(str(SAM), ChatKind.PRIVATE)
    finally:
        await fake.end_outage()
    fake.delete_user(ALEX)
    with pytest.raises(RecipientGone):
        await bot.prepare(str(ALEX), ChatKind.PRIVATE)
    await bot.prepare(str(SAM), ChatKind.PRIVATE)
    await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="hello"))
    assert [m["content"] for m in fake.dms_to(SAM)] == ["hello"]


async def test_sending_maps_every_failure(bot: DiscordBot, fake: FakeDiscord) -> None:
    await bot.prepare(str(SAM), ChatKind.PRIVATE)
    fake.fail_next("POST", MESSAGES, status=503)
    with pytest.raises(TransientFailure):
        await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="one"))
    await fake.outage(refuse=True)
    try:
        with pytest.raises(TransientFailure):  # refused: the request never left
            await bot.send(str(SAM), ChatKind.PRIVATE, Message(text="two"))
    finally:
        await fake.end_outage()
    fake.latency = 0.5
    sending = asyncio.create_task(bot.send(str(SAM), ChatKind.PRIVATE, Message(text="three")))
    await fake.wait_for(lambda: fake.rest.in_flight)
    await fake.outage(refuse=True)  # cut while the request is out
    try:
        with pytest.raises(OutcomeUnknown):
            await sending
    finally:
        fake.latency = 0.0
        await fake.end_outage()
    sent = [m["content"] for m in fake.dms_to(SAM)]
    assert "one" not in sent and "two" not in sent


async def test_a_dm_channel_failing_to_open_is_retried_until_the_ask_arrives_once(
    core: Core, fake: FakeDiscord
) -> None:
    bot = new_bot(core, fake)
    await bot.online()
    engine = DeliveryEngine(
        core.store,
        core.ctx,
        {"discord": bot},
        tuning=Tuning(workers=2, backoff_base=0.05, backoff_cap=0.1),
    )
    try:
        prompt = await core.store.write(subscribed_and_a_prompt, [SAM, ALEX])
        fake.fail_next("POST", DM_CHANNEL, status=503, times=2)
        await asyncio.wait_for(engine.send_prompt(prompt), 20)
        for user in (SAM, ALEX):
            asks = [m for m in fake.dms_to(user) if m.get("embeds")]
            assert len(asks) == 1, user
        assert await core.store.read(delivery_states, prompt) == {"sent": 2}
    finally:
        await engine.stop()
        await bot.offline()


def subscribed_and_a_prompt(db: Database, users: list[int]) -> int:
    add_supporters(db, len(users), "discord", addresses=[str(user) for user in users])
    return manual_prompt(db)


def delivery_states(db: Database, prompt: int) -> dict[str, int]:
    rows = db.execute(
        "SELECT state, count(*) FROM deliveries WHERE prompt_id = ? GROUP BY state", [prompt]
    ).fetchall()
    return dict(rows)


# --- outages mid-run ------------------------------------------------------------------


async def test_a_rest_outage_mid_run_is_one_line_and_the_bot_answers_after(
    bot: DiscordBot, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.outage(status=503)
    record = await fake.run_slash_command("help", user_id=SAM)  # it can't answer now

    def callbacks() -> list[Call]:
        return fake.calls_to("POST", "/interactions/{interaction_id}/{interaction_token}/callback")

    # discord.py tries the answer again itself, 1 s and then 3 s later...
    await fake.wait_for(lambda: len(callbacks()) >= 2, 10)
    fake.advance_clock(5)  # ...by when the interaction has expired
    await fake.end_outage()
    await fake.wait_for(lambda: retries(logs, "couldn't answer a command"), 10)
    assert not record.acknowledged
    assert [c.status for c in callbacks()] == [503, 503, 404]
    assert retries(logs, "couldn't answer a command") == [
        "discord: couldn't answer a command: it expired first (Discord was slow or out of reach)"
    ]
    await help_works(fake)
    assert not bot.is_closed()


async def test_a_command_and_a_press_that_cant_be_answered_are_one_line_each(
    bot: DiscordBot, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.run_slash_command("subscribe", user_id=SAM)
    await fake.wait_for(lambda: [m for m in fake.dms_to(SAM) if m.get("embeds")])
    ask = next(m for m in fake.dms_to(SAM) if m.get("embeds"))
    done = next(
        c["custom_id"]
        for row in ask["components"]
        for c in row["components"]
        if c.get("custom_id", "").startswith("cb1:done:")
    )
    await fake.outage(refuse=True)  # the gateway brings them; the answers can't leave
    try:
        await fake.run_slash_command("help", user_id=SAM)
        await fake.press_button(int(ask["id"]), done, user_id=SAM)
        await fake.wait_for(lambda: len(retries(logs, "couldn't answer")) >= 2, 10)
    finally:
        await fake.end_outage()
    assert sorted(retries(logs, "couldn't answer")) == [
        "discord: couldn't answer a button: Discord is out of reach (ClientConnectorError)",
        "discord: couldn't answer a command: Discord is out of reach (ClientConnectorError)",
    ]
    await help_works(fake)


async def test_a_gateway_outage_mid_run_is_one_line_a_try_and_the_bot_resumes(
    bot: DiscordBot, fake: FakeDiscord, logs: pytest.LogCaptureFixture
) -> None:
    await fake.gateway_outage()
    where = f"ws://127.0.0.1:{fake.gateway_port}"
    await fake.wait_for(lambda: len(retries(logs, f"reach the gateway at {where}")) >= 3, 10)
    await fake.end_gateway_outage()
    await fake.wait_until_connected(10)
    await help_works(fake)
    assert fake.gateway.resumes >= 1 and len(fake.identifies) == 1  # the same session
    # the waits grew, and stayed under the cap
    waits = [float(line.rsplit(" ", 1)[1].rstrip("s")) for line in retries(logs, "trying again")]
    assert max(waits) <= 0.2


async def test_stopsend_reaches_the_organiser_desk_and_asks_to_confirm(
    bot: DiscordBot, fake: FakeDiscord, core: Core
) -> None:
    prompt = await core.store.write(subscribed_and_a_prompt, [SAM])
    record = await fake.run_slash_command(
        "campaign",
        subcommand="stopsend",
        options=[{"name": "prompt", "type": 4, "value": prompt}],
        user_id=ORGANISER,
        guild_id=GUILD,
        channel_id=CHANNEL,
    )
    await fake.wait_for(lambda: record.acknowledged)
    answer = record.responses[0]["data"]
    found = {c["label"]: c for row in answer.get("components", []) for c in row["components"]}
    assert list(found) == ["Stop it", "Cancel"], answer
    assert record.ephemeral and record.original_message_id is not None
    press = await fake.press_button(
        record.original_message_id,
        found["Stop it"]["custom_id"],
        user_id=ORGANISER,
        guild_id=GUILD,
    )
    assert await answered(fake, press) == "Stopped."
    stopped = await core.store.read(prompts_db.get, prompt)
    assert stopped is not None and stopped.state == "cancelled"
