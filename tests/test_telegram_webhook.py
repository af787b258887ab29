"""Telegram's webhook mode (issue 13, item 3): with `telegram_webhook_url` set the bot
doesn't poll; Telegram posts updates to the dashboard's server, which refuses any request
without the right secret header. The real PTB and the real dashboard server (uvicorn, as
`campaignbot run` serves it) against the strict fake Bot API, which posts updates to the
webhook as Telegram does; and `campaignbot run` itself, in both modes.

Every fixture is synthetic: made-up ids, names and words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
import telegram
from aiohttp import web
from telegram.error import BadRequest, Conflict
from telegram.request import HTTPXRequest

from bots.telegram.bot import UPDATES, TelegramBot
from bots.telegram.webhook import MAX_BODY, SECRET_HEADER, Webhook, secret_token
from campaigns.core import Core
from campaigns.messenger import StartupFailure
from settings import Settings
from tests.chat import count
from tests.cli_run import SECRET as RUN_SECRET
from tests.cli_run import (
    TELEGRAM_TOKEN,
    RunningBot,
    assert_one_clean_line,
    base_env,
    run,
    telegram_env,
)
from tests.conftest import SECRET
from tests.fakes.telegram import FakeTelegram
from tests.platforms import telegram_bot

# The polling suite's supporter flow, run again here with updates coming by webhook:
# pytest collects these tests in this module too, where `bot` and `fake` are the ones
# below (a bot in webhook mode behind the real dashboard server).
from tests.test_telegram_bot import (  # noqa: F401
    ADMIN,
    ALEX,
    GROUP,
    MEMBER_A,
    MEMBER_B,
    ORGANISER,
    SAM,
    asks_in,
    test_a_forged_button_is_answered_politely_and_changes_nothing,
    test_a_send_to_a_blocked_user_marks_them_gone,
    test_blocked_users_are_marked_gone_and_come_back_with_start,
    test_deep_link_subscribes_with_its_source_and_shows_the_ask,
    test_group_subscription_by_an_admin_and_each_member_counts,
    test_media_and_links_are_deleted_never_downloaded_and_answered,
    test_mydata_sends_the_export_as_a_json_file,
    test_organiser_commands_are_refused_to_others,
    test_pressing_is_answered_counted_once_and_the_message_keeps_its_link,
    test_typed_text_gets_help_and_is_never_logged_or_stored,
)
from tests.web_support import make_settings
from web.app import create_app
from web.server import listen, serve

PATH = "/telegram/updates"
PUBLIC = "https://bot.example.org"  # the proxy's address in the `campaignbot run` tests
WAIT = 20.0  # generous: a loaded two-core machine


pytestmark = pytest.mark.usefixtures("ptb_timedelta")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    # The test serves its webhook over http on localhost, as a local Bot API server allows.
    async with FakeTelegram(allow_http_webhooks=True) as server:
        for user, name in ((SAM, "Sam"), (ALEX, "Alex"), (ORGANISER, "Olu")):
            server.private_chat(user, name)
        server.group_chat(GROUP, "Supporters", admins={ADMIN}, members={MEMBER_A, MEMBER_B})
        yield server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@dataclass
class Served:
    """A bot in webhook mode and the dashboard server its updates come to."""

    bot: TelegramBot
    webhook: Webhook


@contextlib.asynccontextmanager
async def webhook_bot(
    core: Core, fake: FakeTelegram, settings: Settings, **options: Any
) -> AsyncIterator[Served]:
    """A bot in webhook mode (not yet online), its route served by the real dashboard
    server on a free port, as `campaignbot run` wires them."""
    sock = listen("127.0.0.1", 0)
    webhook = Webhook.derived(f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}", SECRET)
    bot = telegram_bot(core, fake, limits=False, webhook=webhook, **options)
    app = create_app(core, settings, routes=bot.routes())
    server = asyncio.create_task(serve(app, "127.0.0.1", 0, sock=sock))
    try:
        yield Served(bot, webhook)
    finally:
        await bot.offline()
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


@pytest.fixture
async def served(core: Core, fake: FakeTelegram, settings: Settings) -> AsyncIterator[Served]:
    async with webhook_bot(core, fake, settings) as it:
        await it.bot.online()
        yield it
    assert not fake.rejected, fake.rejected
    assert fake.calls("getUpdates") == []  # every update came by webhook
    assert all(post.error is None for post in fake.webhook_posts), fake.webhook_posts


@pytest.fixture
def bot(served: Served) -> TelegramBot:
    return served.bot


def messages(caplog: pytest.LogCaptureFixture, containing: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if containing in r.getMessage()]


def start_update(user: int, text: str = "/start leaflet") -> dict[str, Any]:
    """An update as Telegram would post it: `user` sends a command in their private chat."""
    person = {"id": user, "is_bot": False, "first_name": "Alex"}
    command = text.split()[0]
    return {
        "update_id": 800_000_001,
        "message": {
            "message_id": 501,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": "Alex"},
            "from": person,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


# --- coming online ------------------------------------------------------------------------


async def test_coming_online_sets_the_webhook_with_a_stable_secret_that_is_not_the_token(
    core: Core, fake: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with webhook_bot(core, fake, settings) as served:
        await served.bot.online()
        (call,) = fake.calls("setWebhook")
        assert call.params["url"] == served.webhook.url
        assert call.params["allowed_updates"] == UPDATES  # as polling asks for
        assert call.params["drop_pending_updates"] is False
        token = call.params["secret_token"]
        # derived from the installation's secret: the same after a restart, its own per bot
        assert token == secret_token(SECRET) == Webhook.derived(PUBLIC + PATH, SECRET).secret_token
        assert token != secret_token(b"another installation's secret-0123456789")
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token) and fake.token not in token
        assert fake.webhook is not None and fake.webhook.secret_token == token
        assert fake.calls("getUpdates") == [] and fake.calls("deleteWebhook") == []
    assert messages(caplog, "by webhook at") == [
        f"telegram: @campaign_test_bot gets updates by webhook at {served.webhook.url} "
        "(the dashboard's server must answer there)"
    ]
    assert token not in caplog.text and fake.token not in caplog.text
    assert fake.webhook is not None  # going offline leaves it set: updates wait at Telegram


async def test_set_webhook_failing_with_5xx_is_retried_until_it_works(
    core: Core, fake: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for status in (500, 502, 503):  # 502: nginx's page, not the Bot API's JSON
        fake.fail_with_5xx("setWebhook", status=status)
    async with webhook_bot(core, fake, settings, retry_first=0.05, retry_cap=0.2) as served:
        await served.bot.online()
        assert [c.status for c in fake.calls("setWebhook")] == [500, 502, 503, 200]
        assert len(messages(caplog, "can't reach the Bot API")) == 3
        fake.user_sends(SAM, SAM, "/start")
        await asks_in(fake, SAM)
    assert "Traceback" not in caplog.text and fake.token not in caplog.text


async def test_an_address_telegram_refuses_is_one_line_naming_the_setting(
    core: Core, fake: FakeTelegram, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.allow_http_webhooks = False  # as api.telegram.org: https only
    async with webhook_bot(core, fake, settings, retry_first=0.05, retry_cap=0.2) as served:
        with pytest.raises(StartupFailure) as failure:
            await served.bot.online()
    line = str(failure.value)
    assert line == (
        "Telegram refused telegram_webhook_url (CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL) "
        f"{served.webhook.url}: Bad webhook: an https url must be provided for webhook"
    )  # Telegram's words, as PTB words them
    assert len(fake.calls("setWebhook")) == 1  # no try will change Telegram's mind
    assert fake.token not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"{PUBLIC}/telegram/{{token}}", "holds the bot token"),
        (f"{PUBLIC}/bot{{token}}/updates", "holds the bot token"),
        (f"{PUBLIC}/telegram/{{secret_part}}", "holds the bot token"),
        (PUBLIC, "needs a path of its own"),
        (f"{PUBLIC}/telegram/{{name}}", "may hold only letters"),
        (f"{PUBLIC}/tele gram", "may hold only letters"),
        ("https:///telegram/updates", "has no host name"),
        ("https://bot.example.org:99999/telegram/updates", "is not a valid address"),
    ],
)
async def test_an_address_that_cannot_serve_is_refused_before_asking_telegram(
    core: Core, fake: FakeTelegram, caplog: pytest.LogCaptureFixture, url: str, says: str
) -> None:
    url = url.replace("{token}", fake.token).replace("{secret_part}", fake.token.split(":")[1])
    bot = TelegramBot(
        core, fake.token, base_url=fake.base_url, webhook=Webhook.derived(url, SECRET)
    )
    assert bot.routes() == []  # nothing is served at an address that can't be used
    with pytest.raises(StartupFailure, match=says) as failure:
        await bot.online()
    await bot.offline()
    assert "telegram_webhook_url (CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL)" in str(failure.value)
    assert fake.token not in str(failure.value) and fake.requests == []


# --- the route ----------------------------------------------------------------------------


async def test_a_request_without_the_right_secret_is_refused_and_changes_nothing(
    served: Served, fake: FakeTelegram, core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, right = served.webhook.url, {SECRET_HEADER: served.webhook.secret_token}
    forged = start_update(ALEX)
    async with httpx.AsyncClient(timeout=WAIT) as http:
        for headers in (
            {},
            {SECRET_HEADER: "not-the-secret"},
            {SECRET_HEADER: fake.token},
            {SECRET_HEADER: served.webhook.secret_token[:-1]},
        ):
            response = await http.post(url, json=forged, headers=headers)
            assert response.status_code == 403, headers
        for method in ("GET", "HEAD", "PUT", "DELETE"):
            response = await http.request(method, url, headers=right)
            assert response.status_code == 405 and response.headers["allow"] == "POST"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            for _ in range(MAX_BODY // 65536 + 2):
                yield b" " * 65536

        assert (
            await http.post(url, content=b" " * (MAX_BODY + 1), headers=right)
        ).status_code == 413
        assert (await http.post(url, content=chunks(), headers=right)).status_code == 413
        for body in (b"not json", b"\xff\xfe", b'["a list"]', b'{"message": {}}'):
            assert (await http.post(url, content=body, headers=right)).status_code == 400, body
        broken = {"update_id": 800_000_002, "message": 5}
        assert (await http.post(url, json=broken, headers=right)).status_code == 400

    # Nothing of it reached the bot: a real update is answered, and only that one.
    fake.user_sends(SAM, SAM, "/start")
    await asks_in(fake, SAM)
    assert fake.sent_to(ALEX) == []
    assert await core.store.read(count, "SELECT count(*) FROM supporters") == 1
    refused = messages(caplog, "refused a webhook request")
    assert refused[:4] == [
        "telegram: refused a webhook request without the secret header",
        *["telegram: refused a webhook request with a wrong secret header"] * 3,
    ]
    assert len(refused) == 4 + 2 + 5  # and one line for each too large or not an update
    for secret in ("not-the-secret", fake.token, served.webhook.secret_token):
        assert secret not in caplog.text

    # The same request with the right secret is Telegram's: taken, and answered at once.
    async with httpx.AsyncClient(timeout=WAIT) as http:
        assert (await http.post(url, json=forged, headers=right)).status_code == 200
    await fake.wait_for(lambda: fake.sent_to(ALEX), timeout=WAIT)


async def test_updates_are_refused_until_the_bot_is_running_and_telegram_tries_again(
    core: Core, fake: FakeTelegram, settings: Settings
) -> None:
    """An update that comes while the bot is still starting (the webhook of an earlier run
    is still set) is answered 503, so Telegram keeps it and posts it again."""
    async with webhook_bot(core, fake, settings) as served:
        fake.webhook_retry = (0.2, 0.5)
        raw = telegram.Bot(fake.token, base_url=fake.base_url)
        async with raw:  # the earlier run's webhook
            await raw.set_webhook(served.webhook.url, secret_token=served.webhook.secret_token)
        fake.user_sends(SAM, SAM, "/start")
        await fake.wait_for(lambda: fake.webhook_posts, timeout=WAIT)
        assert fake.webhook_posts[0].status == 503
        await served.bot.online()
        await asks_in(fake, SAM)
        assert fake.webhook_posts[-1].status == 200


# --- switching modes ----------------------------------------------------------------------


async def test_a_restart_loses_nothing_and_going_back_to_polling_deletes_the_webhook(
    core: Core, fake: FakeTelegram, settings: Settings
) -> None:
    async with webhook_bot(core, fake, settings) as served:
        await served.bot.online()
        fake.user_sends(SAM, SAM, "/start")
        await asks_in(fake, SAM)
    # The bot and its server are gone; the webhook stays set and Telegram keeps trying.
    fake.user_sends(ALEX, ALEX, "/start")
    await fake.wait_for(lambda: fake.webhook and fake.webhook.last_error_message, timeout=WAIT)
    async with telegram.Bot(fake.token, base_url=fake.base_url) as raw:
        info = await raw.get_webhook_info()
    assert info.url == served.webhook.url and info.pending_update_count == 1
    assert info.last_error_message == "Connection refused" and info.last_error_date is not None

    polling = telegram_bot(core, fake, limits=False)
    await polling.online()
    try:
        await fake.wait_for(lambda: fake.calls("getUpdates"), timeout=WAIT)
        methods = [call.method for call in fake.requests]
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        assert fake.webhook is None
        await asks_in(fake, ALEX)  # what came during the switch, now by polling
        fake.user_sends(SAM, SAM, "/ask")
        await asks_in(fake, SAM, 2)
    finally:
        await polling.offline()
    assert not [c for c in fake.rejected if "webhook is active" in (c.description or "")]

    # And back to the webhook: what came while no bot ran is posted once it is back.
    fake.user_sends(ALEX, ALEX, "/ask")
    async with webhook_bot(core, fake, settings) as served:
        await served.bot.online()
        await asks_in(fake, ALEX, 2)
    assert fake.webhook_posts[-1].status == 200


# --- campaignbot run ----------------------------------------------------------------------


def assert_clean(output: str, *secrets: str) -> None:
    assert "Traceback" not in output, output
    for secret in (TELEGRAM_TOKEN, RUN_SECRET, TELEGRAM_TOKEN.split(":")[1], *secrets):
        assert secret not in output, output


@pytest.mark.timeout(180)
async def test_run_serves_the_webhook_on_the_dashboards_port_then_polls_again(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        fake.private_chat(SAM, "Sam")
        webhook_env = base_env(tmp_path) | telegram_env(fake)
        webhook_env["CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL"] = PUBLIC + PATH
        async with RunningBot(webhook_env, tmp_path / "webhook.log") as running:
            fake.webhook_via(PUBLIC, await running.dashboard())  # the https proxy in front
            await running.wait_for_output(f"gets updates by webhook at {PUBLIC}{PATH}")
            fake.user_sends(SAM, SAM, "/start")
            await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 2, timeout=WAIT)
            assert await running.stop() == 0
            output = running.output()
        assert fake.webhook is not None and fake.webhook.url == PUBLIC + PATH
        token = secret_token(RUN_SECRET.encode())
        assert fake.webhook.secret_token == token
        assert fake.calls("getUpdates") == []
        assert_clean(output, token)

        fake.user_sends(SAM, SAM, "/ask")  # while no bot runs
        polling_env = base_env(tmp_path) | telegram_env(fake)
        async with RunningBot(polling_env, tmp_path / "polling.log") as running:
            await running.wait_for_output("telegram: polling as @")
            await fake.wait_for(lambda: len(fake.sent_to(SAM)) >= 3, timeout=WAIT)
            assert await running.stop() == 0
            output = running.output()
        assert fake.webhook is None
        methods = [call.method for call in fake.requests]
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
        assert_clean(output, token)


@pytest.mark.timeout(120)
async def test_run_with_an_address_telegram_refuses_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    async with FakeTelegram(token=TELEGRAM_TOKEN) as fake:
        env = base_env(tmp_path) | telegram_env(fake)
        env["CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL"] = "https://bot.example.org:8444/telegram/updates"
        code, output = await run(env, "run")
    assert code == 2, output
    assert_one_clean_line(output, "telegram_webhook_url", "ports 80, 88, 443 or 8443")
    assert secret_token(RUN_SECRET.encode()) not in output


# --- the fake Bot API's webhooks ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "description"),
    [
        (
            "http://bot.example.org/hook",
            {},
            "bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            "https://bot.example.org:8444/hook",
            {},
            "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443",
        ),
        ("https://127.0.0.1/hook", {}, "bad webhook: IP address 127.0.0.1 is reserved"),
        ("https://10.1.2.3/hook", {}, "bad webhook: IP address 10.1.2.3 is reserved"),
        ("https://[2001:db8::1]/hook", {}, "bad webhook: IPv6-only addresses are not allowed"),
        (
            "https://bot.invalid/hook",
            {},
            "bad webhook: Failed to resolve host: Name or service not known",
        ),
        ("https://", {}, "invalid webhook URL specified"),
        ("https://bot.example.org:99999/hook", {}, "invalid webhook URL specified"),
        (
            "https://bot.example.org/hook",
            {"secret_token": "has spaces"},
            "secret token contains unallowed characters",
        ),
        ("https://bot.example.org/hook", {"secret_token": "x" * 257}, "secret token is too long"),
    ],
)
async def test_the_fake_refuses_a_webhook_as_telegram_does(
    url: str, options: dict[str, Any], description: str
) -> None:
    async with FakeTelegram() as fake, telegram.Bot(fake.token, base_url=fake.base_url) as bot:
        with pytest.raises(BadRequest):
            await bot.set_webhook(url, **options)
        assert fake.rejected[-1].description == f"Bad Request: {description}"
        assert fake.webhook is None
        # what Telegram takes: https on its ports, a name, no scheme (https assumed)
        for good in ("https://bot.example.org/hook", "bot.example.org:8443/hook"):
            assert await bot.set_webhook(good, secret_token="Ab_-09")
        assert (await bot.get_webhook_info()).url == "bot.example.org:8443/hook"


async def test_the_fake_refuses_get_updates_while_a_webhook_is_set() -> None:
    async with (
        FakeTelegram() as fake,
        telegram.Bot(
            fake.token, base_url=fake.base_url, get_updates_request=HTTPXRequest(read_timeout=30)
        ) as bot,
    ):
        held = asyncio.create_task(bot.get_updates(timeout=20))
        await fake.wait_for(lambda: fake.in_flight("getUpdates"))
        assert await bot.set_webhook("https://bot.example.org/hook")
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await held  # the held long poll ends with the 409
        with pytest.raises(Conflict, match="use deleteWebhook to delete the webhook first"):
            await bot.get_updates()
        async with aiohttp.ClientSession() as session:  # an empty url deletes it, too
            url = f"{fake.base_url}{fake.token}/setWebhook"
            async with session.post(url, json={"url": ""}) as response:
                assert (await response.json())["result"] is True
        assert fake.webhook is None and await bot.get_updates() == ()
        assert (await bot.get_webhook_info()).url == ""


async def test_the_fake_posts_updates_in_order_one_at_a_time_and_retries_a_failing_endpoint() -> (
    None
):
    received: list[dict[str, Any]] = []
    secrets: list[str | None] = []
    busy = [0, 0]  # requests in flight now, and the most ever at once
    failures = [2]  # the endpoint's first two answers are 500s

    async def endpoint(request: web.Request) -> web.Response:
        busy[0] += 1
        busy[1] = max(busy)
        try:
            await asyncio.sleep(0.02)
            secrets.append(request.headers.get(SECRET_HEADER))
            if failures[0]:
                failures[0] -= 1
                return web.Response(status=500)
            received.append(await request.json())
            return web.Response()
        finally:
            busy[0] -= 1

    app = web.Application()
    app.router.add_post("/hook", endpoint)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with (
            FakeTelegram(allow_http_webhooks=True) as fake,
            telegram.Bot(fake.token, base_url=fake.base_url) as bot,
        ):
            fake.private_chat(SAM, "Sam")
            fake.user_sends(SAM, SAM, "one")  # before the webhook: it waits for one
            assert await bot.set_webhook(url, secret_token="s3cret_-", allowed_updates=["message"])
            for text in ("two", "three"):
                fake.user_sends(SAM, SAM, text)
            await fake.wait_for(lambda: len(received) == 3, timeout=WAIT)
            info = await bot.get_webhook_info()
            fake.outage(None)  # Telegram down: nothing is posted
            fake.user_sends(SAM, SAM, "four")
            await asyncio.sleep(0.3)
            assert len(fake.webhook_posts) == 5
            fake.end_outage()
            await fake.wait_for(lambda: len(received) == 4, timeout=WAIT)
    finally:
        await runner.cleanup()
    assert [u["message"]["text"] for u in received] == ["one", "two", "three", "four"]
    assert [u["update_id"] for u in received] == sorted(u["update_id"] for u in received)
    assert secrets == ["s3cret_-"] * 6 and busy[1] == 1
    assert [post.status for post in fake.webhook_posts] == [500, 500, 200, 200, 200, 200]
    assert info.pending_update_count == 0 and info.allowed_updates == ("message",)
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
