"""Stopping a running send, from each front end: the organiser chat command (with its
confirm button), `campaignbot send cancel` and the dashboard's Sends page. What has not
gone out is 'cancelled', requests in flight finish, nothing more is sent, each stop is
audited with who did it, and each says how many were cancelled. A prompt that has not
started is cancelled as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from campaigns.buttons import Verb
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.model import Message
from campaigns.organising import COMMANDS, describe
from campaigns.progress import progress
from cli import app
from db import audit as audit_db
from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db.store import open_database
from db.times import now_text
from settings import Settings
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters, manual_prompt
from tests.web_support import asgi_client, csrf_of, make_settings, opened_core, sign_in, with_users
from web.app import create_app

ORGANISER = "telegram:900"
SUPPORTERS = 60


def sending_prompt(db: Database, states: list[str]) -> int:
    """A prompt being sent, with deliveries in these states."""
    prompt_id = manual_prompt(db, state="sending")
    for n, state in enumerate(states):
        db.execute(
            """INSERT INTO deliveries (prompt_id, supporter_key, platform, state,
                created_at, updated_at) VALUES (?, ?, 'telegram', ?, ?, ?)""",
            [prompt_id, f"k{n}", state, now_text(), now_text()],
        )
    return prompt_id


def token_of(core: Core, message: Message, verb: Verb) -> str:
    for button in message.all_buttons():
        read = core.ids.read(button.id or "")
        if read is not None and read.verb is verb:
            return read.argument
    raise AssertionError(f"no {verb} button on {message}")


def test_stopsend_is_an_organiser_command() -> None:
    assert "stopsend" in dict(COMMANDS)


async def test_stopping_a_running_send_from_chat_sends_no_more(core: Core) -> None:
    await core.store.write(add_supporters, SUPPORTERS)
    prompt_id = await core.store.write(manual_prompt)
    messenger = RecordingMessenger(max_rate=40)
    engine = DeliveryEngine(
        core.store, core.ctx, {"telegram": messenger}, tuning=Tuning(workers=4, page=10)
    )
    desk = core.desk
    core.attach(engine)
    five_sent = asyncio.Event()
    messenger.on_send = lambda _: five_sent.set() if len(messenger.sent) >= 4 else None
    task = engine.start(prompt_id)
    await asyncio.wait_for(five_sent.wait(), 30)
    [question] = await desk.command(ORGANISER, "stopsend", (str(prompt_id),))
    assert f"Stop prompt {prompt_id}" in question.text
    # someone else can't use this organiser's button
    token = token_of(core, question, Verb.SEND)
    refused = await desk.confirm("telegram:901", Verb.SEND, token)
    assert "expired" in refused.answer
    [question] = await desk.command(ORGANISER, "stopsend", (str(prompt_id),))
    result = await desk.confirm(ORGANISER, Verb.SEND, token_of(core, question, Verb.SEND))
    sent_at_stop = len(messenger.sent)
    assert result.edit is not None
    await asyncio.wait_for(task, 30)
    counts = await core.store.read(deliveries_db.state_counts, prompt_id)
    cancelled = counts["cancelled"]
    assert f"Stopped prompt {prompt_id}: {cancelled} deliveries not yet sent" in result.edit.text
    assert cancelled > 0 and counts.get("pending", 0) == 0 and counts.get("sending", 0) == 0
    # only what was in flight at the stop went out after it
    assert len(messenger.sent) <= sent_at_stop + 4
    assert counts["sent"] == len(messenger.sent)
    assert counts["sent"] + cancelled + counts.get("unknown", 0) == SUPPORTERS
    prompt = await core.store.read(prompts_db.get, prompt_id)
    assert prompt is not None and prompt.state == "cancelled"
    shown = describe(await core.store.read(progress, prompt))
    assert f"{cancelled} cancelled" in shown
    audit = await core.store.read(audit_db.latest, 10)
    stops = [row for row in audit if row.action == "stop-send"]
    assert [(row.actor, row.target) for row in stops] == [(ORGANISER, f"prompt:{prompt_id}")]
    assert f'"cancelled": {cancelled}' in (stops[0].detail or "")
    # stopping it again says so
    [again] = await desk.command(ORGANISER, "stopsend", (str(prompt_id),))
    assert "can't be stopped: it is cancelled" in again.text


async def test_stopsend_asks_first_and_can_be_called_off(core: Core) -> None:
    prompt_id = await core.store.write(sending_prompt, ["sent", "pending", "pending"])
    desk = core.desk
    for args in ((), ("twelve",), ("1", "2")):
        [usage] = await desk.command(ORGANISER, "stopsend", args)
        assert usage.text.startswith("Use /stopsend <prompt id>")
    [missing] = await desk.command(ORGANISER, "stopsend", ("999",))
    assert "there is no such prompt" in missing.text
    [question] = await desk.command(ORGANISER, "stopsend", (str(prompt_id),))
    kept = await desk.confirm(ORGANISER, Verb.CANCEL, token_of(core, question, Verb.CANCEL))
    assert kept.edit is not None and "carries on" in kept.edit.text
    counts = await core.store.read(deliveries_db.state_counts, prompt_id)
    assert counts == {"sent": 1, "pending": 2}
    # a prompt still to come is cancelled, as `schedule cancel` does
    later = await core.store.write(manual_prompt)
    [question] = await desk.command(ORGANISER, "stopsend", (str(later),))
    assert "before it starts" in question.text
    result = await desk.confirm(ORGANISER, Verb.SEND, token_of(core, question, Verb.SEND))
    assert result.edit is not None and "before it started" in result.edit.text
    found = await core.store.read(prompts_db.get, later)
    assert found is not None and found.state == "cancelled"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CAMPAIGNBOT_DB", str(tmp_path / "bot.db"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def test_send_cancel_stops_a_running_send(runner: CliRunner, tmp_path: Path) -> None:
    # the database, with the packs in it
    assert runner.invoke(app, ["send", "one-step-ahead", "--dry-run"]).exit_code == 0
    db = open_database(tmp_path / "bot.db")
    with db.atomic():
        prompt_id = sending_prompt(db, ["sent"] * 3 + ["sending"] + ["pending"] * 5)
    result = runner.invoke(app, ["send", "cancel", str(prompt_id)])
    assert result.exit_code == 0, result.output
    assert f"Stopped prompt {prompt_id}: 5 deliveries not yet sent are cancelled" in result.output
    counts = deliveries_db.state_counts(db, prompt_id)
    assert counts == {"sent": 3, "sending": 1, "cancelled": 5}  # the one in flight finishes
    again = runner.invoke(app, ["send", "cancel", str(prompt_id)])
    assert again.exit_code == 1 and "can't be stopped: it is cancelled" in again.output
    [stop, *_] = [row for row in audit_db.latest(db) if row.action == "stop-send"]
    assert stop.actor.startswith("cli:") and stop.target == f"prompt:{prompt_id}"
    # the documented forms still work beside the new one
    dry = runner.invoke(app, ["send", "one-step-ahead", "--dry-run"])
    assert dry.exit_code == 0 and "Nothing was sent." in dry.output
    assert runner.invoke(app, ["send", "one-step-ahead"]).exit_code == 2  # says --now or --dry-run
    db.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return with_users(make_settings(tmp_path))


@pytest.fixture
async def dashboard(settings: Settings) -> AsyncIterator[tuple[Core, httpx.AsyncClient]]:
    with opened_core(settings) as core:
        async with asgi_client(create_app(core, settings)) as http:
            yield core, http


async def test_the_sends_page_stops_a_send_for_organisers_only(
    dashboard: tuple[Core, httpx.AsyncClient],
) -> None:
    core, http = dashboard
    prompt_id = await core.store.write(sending_prompt, ["sent"] * 2 + ["pending"] * 4)
    await sign_in(http, "stan")
    page = await http.get("/sends")
    assert ">cancelled</th>" in page.text
    assert f"/sends/{prompt_id}/stop" not in page.text  # staff watch; they don't stop
    refused = await http.post(f"/sends/{prompt_id}/stop", data={"csrftoken": csrf_of(page.text)})
    assert refused.status_code == 403
    await http.post("/sign-out", data={"csrftoken": csrf_of(page.text)})

    await sign_in(http, "olive")
    page = await http.get("/sends")
    assert f'action="/sends/{prompt_id}/stop"' in page.text
    forged = await http.post(f"/sends/{prompt_id}/stop", data={})
    assert forged.status_code == 403  # no CSRF token: nothing happens
    assert await core.store.read(deliveries_db.state_counts, prompt_id) == {
        "sent": 2,
        "pending": 4,
    }
    stopped = await http.post(f"/sends/{prompt_id}/stop", data={"csrftoken": csrf_of(page.text)})
    assert stopped.status_code == 303 and stopped.headers["location"] == "/sends"
    shown = await http.get("/sends")
    assert f"Stopped prompt {prompt_id}: 4 deliveries not yet sent are cancelled" in shown.text
    assert await core.store.read(deliveries_db.state_counts, prompt_id) == {
        "sent": 2,
        "cancelled": 4,
    }
    again = await http.post(f"/sends/{prompt_id}/stop", data={"csrftoken": csrf_of(page.text)})
    assert again.status_code == 303
    assert "had already finished or been stopped" in (await http.get("/sends")).text
    audit = await core.store.read(audit_db.latest, 10)
    assert [(r.actor, r.target) for r in audit if r.action == "stop-send"][-1] == (
        "web:olive",
        f"prompt:{prompt_id}",
    )


async def test_progress_shows_cancelled_counts(dashboard: tuple[Core, httpx.AsyncClient]) -> None:
    core, http = dashboard
    prompt_id = await core.store.write(sending_prompt, ["sent", "cancelled", "pending"])
    await sign_in(http, "stan")
    data = (await http.get("/sends/progress.json")).json()
    [running] = data["running"]
    assert (running["prompt_id"], running["cancelled"], running["total"]) == (prompt_id, 1, 3)
    page = await http.get("/sends")
    assert '<td class="num">1</td>' in page.text
    [status] = await core.desk.status("console:organiser")
    assert "1 cancelled" in status.text
