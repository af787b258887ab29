"""What the dashboard keeps to itself: nothing typed at sign-in and no link token
reaches the log (uvicorn's own lines included), and staff don't see organisers'
chat ids; organisers do."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from campaigns.core import Core
from campaigns.links import LinkTokens
from db import audit as audit_db
from db import prompts as prompts_db
from db.times import now_text
from settings import Settings
from tests.web_support import (
    SECRET,
    LiveServer,
    add_users,
    asgi_client,
    csrf_of,
    make_settings,
    opened_core,
    prepared_db,
    sign_in,
)
from web.app import create_app

TELEGRAM_ID = "telegram:9081726354"
DISCORD_ID = "discord:5647382910"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, public_base_url="https://act.example.org")


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    db = prepared_db(settings)
    add_users(db)
    with db.atomic():
        audit_db.record(db, TELEGRAM_ID, "send-now-requested", "one-step-ahead", ask="ai-images")
        audit_db.record(db, "cli:root", "user-chat", "user:olive", chat=DISCORD_ID)
        prompts_db.create(
            db,
            campaign="one-step-ahead",
            ask_id="ai-images",
            kind="manual",
            scheduled_at=now_text(),
            timezone="Europe/London",
            created_by=TELEGRAM_ID,
            state="sent",
        )
    db.close()
    with opened_core(settings) as opened:
        yield opened


@pytest.fixture
async def client(core: Core, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    # https, as the settings say: the browser sends Secure cookies back
    async with asgi_client(create_app(core, settings), "https://act.example.org") as http:
        yield http


async def test_a_failed_sign_in_logs_nothing_typed(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = await client.get("/sign-in")
    for name in ("my-Secret-passw0rd", "olive"):  # a password typed as a name, and a real name
        failed = await client.post(
            "/sign-in",
            data={"name": name, "password": "typed-pass-7731", "csrftoken": csrf_of(page.text)},
        )
        assert failed.status_code == 401
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "sign-in failed" in logged
    assert "my-Secret-passw0rd" not in logged and "typed-pass-7731" not in logged
    assert "olive" not in logged


async def test_staff_see_no_chat_ids_and_organisers_do(client: httpx.AsyncClient) -> None:
    await sign_in(client, "stan")
    for path in ("/audit", "/audit.csv", "/prompts?all=1"):
        shown = await client.get(path)
        assert shown.status_code == 200, path
        assert "9081726354" not in shown.text and "5647382910" not in shown.text, path
        assert "telegram:(hidden)" in shown.text, path
    rows = list(csv.reader(io.StringIO((await client.get("/audit.csv")).text)))
    assert rows[2][1:3] == ["telegram:(hidden)", "send-now-requested"]
    assert "cli:root" in rows[1]  # the rest of the audit is all there
    client.cookies.clear()
    await sign_in(client, "olive")
    for path in ("/audit", "/audit.csv", "/prompts?all=1"):
        shown = await client.get(path)
        assert TELEGRAM_ID in shown.text, path
    assert DISCORD_ID in (await client.get("/audit.csv")).text


# DEBUG is the lowest `log_level` allows; 1 is below uvicorn's TRACE, which logs paths.
@pytest.mark.parametrize("level", [logging.DEBUG, 1], ids=["debug", "everything"])
def test_link_tokens_never_reach_the_log(
    settings: Settings, core: Core, caplog: pytest.LogCaptureFixture, level: int
) -> None:
    core.close()  # the live server opens its own
    tokens = LinkTokens(SECRET.encode())
    good = tokens.make(1, "one-step-ahead", "ai-images")  # no such delivery: a 404
    beyond = "zzzzzzzzzzzzz.AAAAAAAAAAAAAAAA"  # an id past 64 bits
    odd = "1." + "A" * 15 + "%00"
    caplog.set_level(level)
    with LiveServer(settings) as server:
        for token in (good, beyond, odd):
            for method in ("GET", "HEAD"):
                answer = httpx.request(method, f"{server.url}/l/{token}")
                assert answer.status_code == 404
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name.startswith("uvicorn") for r in server_side)  # its lines were caught
    formatter = logging.Formatter()
    logged = "\n".join(formatter.format(record) for record in server_side)  # with tracebacks
    for token in (good, beyond, odd):
        assert token not in logged
        assert token[-16:] not in logged and "zzzzzzzzzzzzz" not in logged
