"""Packs that don't loop unnoticed (issue 14, part 6): what follows a campaign's last
ask (`after_last`: stop, or start again), the weekly runs that follow it, organisers
asking for "the next ask" when none is left, and `campaigns list` and the dashboard
saying when each campaign runs out of asks.

A synthetic pack in a temp folder, scheduled for Monday 08:00 on Kiritimati (UTC+14,
no daylight saving): every run falls on Sunday in UTC, so a date printed in UTC
rather than in the pack's zone is a day out.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlite_utils import Database

from campaigns.buttons import ButtonIds
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.dialogue import Context
from campaigns.keys import Pseudonyms
from campaigns.model import ChatKind, Origin
from campaigns.prompting import (
    Coming,
    SentAsks,
    coming_asks,
    next_ask,
    ran_out_line,
    sent_asks,
)
from campaigns.weekly import campaign_outlook, outlook, upcoming_runs, weekly_trigger
from db import prompts as prompts_db
from db import supporters as supporters_db
from db.states import AfterLast
from db.store import Store, open_database
from db.times import to_text, utcnow
from scheduler import CampaignScheduler, ensure_weekly_prompt
from tests.cli_run import BIN, base_env
from tests.messengers import RecordingMessenger
from tests.web_support import csrf_of, make_settings, opened_core, signed_in, with_users
from web.app import create_app

SLUG = "short-run"
ZONE = ZoneInfo("Pacific/Kiritimati")
FIRST_RUN = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Monday 30 November, 08:00 there
WEEK = timedelta(days=7)
SECRET = b"after-last-test-secret-0123456789"
ORGANISERS = (
    Origin("console", "organiser", ChatKind.PRIVATE, user="organiser", organiser=True),
    Origin("telegram", "900", ChatKind.PRIVATE, user="900", organiser=True),
    Origin("discord", "900", ChatKind.PRIVATE, user="900", organiser=True),
)


def ask_block(n: int) -> str:
    return f"""
[[asks]]
id = "ask-{n}"
title = "Ask number {n}"
topic = "things"
ask = "Do thing number {n}: a small step that helps."

[asks.statistic]
figure = "{n}0%"
sentence = "A sentence that says what {n}0% counts."
source = "A source"
url = "https://example.org/report"

[asks.link]
label = "Do it"
url = "https://example.org/act"
"""


def write_pack(folder: Path, asks: int, after_last: str | None) -> Path:
    """The synthetic pack with `asks` asks (`after_last` left out: the default)."""
    folder.mkdir(exist_ok=True)
    setting = f'after_last = "{after_last}"\n' if after_last else ""
    text = f"""
[campaign]
slug = "{SLUG}"
title = "Short Run"
description = "A campaign with few asks."
{setting}
[campaign.schedule]
weekday = "monday"
time = "08:00"
timezone = "Pacific/Kiritimati"
grace_hours = 6
{"".join(ask_block(n) for n in range(1, asks + 1))}"""
    (folder / f"{SLUG}.toml").write_text(text)
    return folder


def sent(db: Database, ask_id: str, at: datetime, kind: str = "weekly", state: str = "sent") -> int:
    return prompts_db.create(
        db,
        campaign=SLUG,
        ask_id=ask_id,
        kind=kind,
        state=state,
        scheduled_at=to_text(at),
        timezone="Pacific/Kiritimati",
        created_by="test",
    ).id


def ask_ids(prompts: list[tuple[str, str]]) -> list[str]:
    return [ask for ask, _ in prompts]


# ---------------------------------------------------------------- which ask is next


@pytest.mark.parametrize(
    ("after_last", "ids", "gone", "last", "expected", "again"),
    [
        # nothing yet: every ask, in order
        (AfterLast.STOP, "abc", "", None, "abc", False),
        (AfterLast.REPEAT, "abc", "", None, "abc", False),
        # half way
        (AfterLast.STOP, "abc", "ab", "b", "c", False),
        (AfterLast.REPEAT, "abc", "ab", "b", "c", False),
        # all gone: stop sends nothing; repeat starts again from the first
        (AfterLast.STOP, "abc", "abc", "c", "", False),
        (AfterLast.REPEAT, "abc", "abc", "c", "abc", True),
        # an ask sent by hand out of turn is not sent again by a stopping campaign
        (AfterLast.STOP, "abcd", "abd", "d", "c", False),
        (AfterLast.REPEAT, "abcd", "abd", "d", "abcd", True),
        # an ask added to the pack (anywhere) after the end is next, then nothing
        (AfterLast.STOP, "abxc", "abc", "c", "x", False),
        # the latest ask left the pack (retired, or dropped by an import): on from the
        # latest still in it
        (AfterLast.STOP, "ab", "abz", "z", "", False),
        (AfterLast.STOP, "abc", "az", "z", "bc", False),
        (AfterLast.REPEAT, "abc", "az", "z", "bc", False),
    ],
)
def test_the_asks_to_come(
    after_last: AfterLast, ids: str, gone: str, last: str | None, expected: str, again: bool
) -> None:
    coming = coming_asks(list(ids), SentAsks(dict.fromkeys(gone, "t"), last), after_last)
    assert "".join(coming.asks) == expected
    assert coming.again is again


def test_retiring_last_weeks_ask_goes_on_from_where_the_runs_were() -> None:
    """A repeating campaign a, b, c, d went round once and then sent a and b again;
    b is retired: c is next, not a (`when` says which ask still in the order went out
    latest: a, this time round, not c, last time)."""
    sent = SentAsks(
        {"c": "2026-10-20", "d": "2026-10-27", "a": "2026-11-03", "b": "2026-11-10"}, "b"
    )
    assert coming_asks(["a", "c", "d"], sent, AfterLast.REPEAT).asks == ("c", "d")
    # the retired one was d, at the end: round again from the first
    sent = SentAsks({"a": "2026-10-20", "c": "2026-10-27", "d": "2026-11-03"}, "d")
    assert coming_asks(["a", "c"], sent, AfterLast.REPEAT) == Coming(("a", "c"), again=True)


def test_what_counts_as_gone_out(tmp_path: Path) -> None:
    """Weekly and manual prompts being sent or sent; nothing cancelled or missed, no
    reminder, standing ask or journey step."""
    catalog = Catalog.load(write_pack(tmp_path / "packs", 5, "stop"))
    db = open_database(":memory:")
    with db.atomic():
        catalog.sync(db)
        sent(db, "ask-1", FIRST_RUN, "weekly")
        sent(db, "ask-2", FIRST_RUN + WEEK, "manual", state="sending")
        sent(db, "ask-3", FIRST_RUN + 2 * WEEK, "weekly", state="cancelled")
        sent(db, "ask-3", FIRST_RUN + 2 * WEEK, "manual", state="missed")
        sent(db, "ask-3", FIRST_RUN + 2 * WEEK, "manual", state="scheduled")
        for kind in ("reminder", "standing", "next", "welcome", "poll"):
            sent(db, "ask-4", FIRST_RUN + 3 * WEEK, kind)
    gone = sent_asks(db, SLUG)
    assert set(gone.when) == {"ask-1", "ask-2"} and gone.last == "ask-2"
    coming = next_ask(db, SLUG)
    assert coming is not None and coming.id == "ask-3"


# ---------------------------------------------------------------- the weekly runs


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Core, Path]]:
    """A core over a temp-file store and the synthetic pack folder (two asks, stop)."""
    folder = write_pack(tmp_path / "packs", 2, "stop")
    catalog = Catalog.load(folder)
    store = Store(tmp_path / "bot.db")
    store.submit(catalog.sync).result()
    ctx = Context(catalog=catalog, ids=ButtonIds(SECRET), pseudonyms=Pseudonyms(SECRET))
    core = Core(store, ctx, organisers=[f"{o.platform}:{o.user}" for o in ORGANISERS])

    def one_subscriber(db: Database) -> None:
        supporter = supporters_db.insert(
            db,
            platform="telegram",
            address="1",
            kind="private",
            status="active",
            source=None,
            consent_version="t",
        )
        db.execute(
            "INSERT OR IGNORE INTO subscriptions (supporter_id, campaign, created_at)"
            " VALUES (?, ?, '2026-10-01T00:00:00Z')",
            [supporter.id, SLUG],
        )
        db.execute("UPDATE campaigns SET created_at = '2026-10-01T00:00:00Z'")

    store.submit(one_subscriber).result()
    yield core, folder
    core.close()


async def weekly_run(
    core: Core, catalog: Catalog, run: datetime
) -> tuple[RecordingMessenger, list[tuple[str, str]]]:
    """The scheduler's weekly run at `run` (as a start just after it catches it up),
    sent to the end; what the supporter got, and every weekly prompt (ask, state)."""
    messenger = RecordingMessenger()
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": messenger}, tuning=Tuning(workers=1))
    scheduler = CampaignScheduler(core.store, catalog, engine)
    now = run + timedelta(minutes=5)
    await scheduler.catch_up(now)
    await scheduler.dispatch(now)
    for task in list(engine._running.values()):
        await task
    prompts = await core.store.read(
        lambda db: db.execute(
            "SELECT ask_id, state FROM prompts WHERE kind = 'weekly' ORDER BY scheduled_at"
        ).fetchall()
    )
    return messenger, [(str(a), str(s)) for a, s in prompts]


def titles(messenger: RecordingMessenger) -> list[str]:
    return [message.card.title for _, message in messenger.sent if message.card]


async def test_a_pack_that_stops_sends_each_ask_once_then_nothing_until_it_has_more(
    world: tuple[Core, Path], caplog: pytest.LogCaptureFixture
) -> None:
    core, folder = world
    catalog = core.ctx.catalog
    first, made = await weekly_run(core, catalog, FIRST_RUN)
    assert titles(first) == ["Ask number 1"] and made == [("ask-1", "sent")]
    second, made = await weekly_run(core, catalog, FIRST_RUN + WEEK)
    assert titles(second) == ["Ask number 2"]
    assert made == [("ask-1", "sent"), ("ask-2", "sent")]
    # the third run: nothing sent, nothing half made, one clear line in the log
    with caplog.at_level(logging.INFO):
        third, made = await weekly_run(core, catalog, FIRST_RUN + 2 * WEEK)
    assert third.sent == [] and len(made) == 2
    assert await core.store.read(lambda db: db["prompts"].count) == 2
    [line] = [r for r in caplog.records if "every ask has gone out" in r.getMessage()]
    assert line.levelno == logging.WARNING and line.getMessage() == ran_out_line(SLUG)
    assert line.getMessage() == (
        "campaign short-run: every ask has gone out and the pack says stop; no weekly ask "
        '(add asks to the pack, or set after_last = "repeat")'
    )
    # a new ask in the pack (loaded again, as at a restart) is next
    write_pack(folder, 3, "stop")
    grown = Catalog.load(folder)
    await core.store.write(grown.sync)
    fourth, made = await weekly_run(core, grown, FIRST_RUN + 3 * WEEK)
    assert titles(fourth) == ["Ask number 3"] and made[-1] == ("ask-3", "sent")
    fifth, made = await weekly_run(core, grown, FIRST_RUN + 4 * WEEK)
    assert fifth.sent == [] and len(made) == 3


async def test_a_pack_that_repeats_starts_again_and_says_so(
    world: tuple[Core, Path], caplog: pytest.LogCaptureFixture
) -> None:
    core, folder = world
    write_pack(folder, 2, "repeat")
    catalog = Catalog.load(folder)
    await core.store.write(catalog.sync)
    sent_titles = []
    with caplog.at_level(logging.INFO):
        for week in range(3):
            messenger, made = await weekly_run(core, catalog, FIRST_RUN + week * WEEK)
            sent_titles += titles(messenger)
    assert sent_titles == ["Ask number 1", "Ask number 2", "Ask number 1"]
    assert ask_ids(made) == ["ask-1", "ask-2", "ask-1"]
    assert [r.getMessage() for r in caplog.records if "starting again" in r.getMessage()] == [
        "campaign short-run: every ask has gone out; starting again from the first "
        "(after_last = repeat)"
    ]


def test_a_weekly_run_without_an_ask_makes_nothing(tmp_path: Path) -> None:
    catalog = Catalog.load(write_pack(tmp_path / "packs", 1, "stop"))
    db = open_database(":memory:")
    with db.atomic():
        catalog.sync(db)
    assert ensure_weekly_prompt(db, catalog, SLUG, FIRST_RUN) is not None
    db.execute("UPDATE prompts SET state = 'sent'")
    assert ensure_weekly_prompt(db, catalog, SLUG, FIRST_RUN + WEEK) is None
    assert db["prompts"].count == 1


# ---------------------------------------------------------------- organisers


async def test_organisers_asking_for_the_next_ask_when_none_is_left_are_told_so(
    world: tuple[Core, Path],
) -> None:
    core, _ = world
    await core.store.write(lambda db: [sent(db, f"ask-{n}", FIRST_RUN + n * WEEK) for n in (1, 2)])
    expected = (
        "short-run has no next ask: every ask has gone out and the pack says stop; "
        "name the ask to send (known: ask-1, ask-2)"
    )
    for organiser in ORGANISERS:
        assert [m.text for m in await core.command(organiser, "preview", (SLUG,))] == [expected]
        assert [m.text for m in await core.command(organiser, "sendnow", (SLUG,))] == [expected]
        # any ask may still be sent by hand
        shown = await core.command(organiser, "preview", (SLUG, "ask-1"))
        assert shown[0].text.startswith(f"Preview of {SLUG}/ask-1")
        [question] = await core.command(organiser, "sendnow", (SLUG, "ask-2"))
        assert question.text.startswith(f"Send {SLUG}/ask-2 now")
    assert await core.store.read(lambda db: db["prompts"].count) == 2  # nothing half made


def test_the_cli_says_there_is_no_next_ask_in_one_line(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "packs", 2, "stop")
    env = base_env(tmp_path) | {"CAMPAIGNBOT_PACKS": str(folder), "COLUMNS": "80"}
    db = open_database(Path(env["CAMPAIGNBOT_DB"]))
    with db.atomic():
        Catalog.load(folder).sync(db)
        sent(db, "ask-1", FIRST_RUN)
        sent(db, "ask-2", FIRST_RUN + WEEK)
    db.close()
    at = f"{(utcnow() + WEEK).astimezone(ZONE):%Y-%m-%d %H:%M}"
    for args in (
        ["send", SLUG, "--now"],
        ["send", SLUG, "--dry-run"],
        ["schedule", "add", SLUG, "--at", at, "--tz", "Pacific/Kiritimati"],
        ["preview", SLUG],
    ):
        result = subprocess.run(  # noqa: S603
            [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert "Traceback" not in result.stderr
        assert line.startswith("error: ask: short-run has no next ask:"), line
    named = subprocess.run(  # noqa: S603
        [str(BIN), "send", SLUG, "--dry-run", "--ask", "ask-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert named.returncode == 0 and f"{SLUG}/ask-1" in named.stdout


# ---------------------------------------------------------------- when it runs out


def monday_runs(now: datetime, count: int) -> list[date]:
    """The next `count` Mondays at 08:00 on Kiritimati after `now`, worked out by hand."""
    local = now.astimezone(ZONE)
    day = local.date() + timedelta(days=(0 - local.weekday()) % 7)
    if datetime.combine(day, time(8, 0), ZONE) <= local:
        day += WEEK
    return [day + n * WEEK for n in range(count)]


def test_upcoming_runs_are_in_the_packs_zone(tmp_path: Path) -> None:
    catalog = Catalog.load(write_pack(tmp_path / "packs", 2, "stop"))
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # Monday 02:00 there
    runs = upcoming_runs(weekly_trigger(catalog, SLUG), now, 3)
    assert [f"{run:%Y-%m-%d %H:%M %a}" for run in runs] == [
        "2026-11-30 08:00 Mon",
        "2026-12-07 08:00 Mon",
        "2026-12-14 08:00 Mon",
    ]
    assert [run.date() for run in runs] == monday_runs(now, 3)
    ahead = outlook(catalog, SLUG, now)
    assert ahead.summary() == "runs out of asks on 2026-12-07, then stops (after_last = stop)"
    assert ahead.soon(now) and not ahead.soon(now, within=timedelta(days=7))


def test_the_outlook_of_each_kind(tmp_path: Path) -> None:
    now = datetime(2026, 12, 20, 12, 0, tzinfo=UTC)  # Monday 21 December 02:00 there
    stop = Catalog.load(write_pack(tmp_path / "stop", 2, "stop"))
    repeat = Catalog.load(write_pack(tmp_path / "repeat", 5, None))  # the default
    db = open_database(":memory:")
    with db.atomic():
        stop.sync(db)
        sent(db, "ask-1", FIRST_RUN)  # Monday 30 November there
        sent(db, "ask-2", FIRST_RUN + WEEK)  # Monday 7 December there
    gone = sent_asks(db, SLUG)
    ran_out = outlook(stop, SLUG, now, gone)
    assert ran_out.stopped and ran_out.soon(now)
    assert ran_out.summary() == "has run out of asks on 2026-12-07: no weekly ask is sent"
    assert campaign_outlook(db, stop, SLUG, now) == ran_out
    round_two = outlook(repeat, SLUG, now, SentAsks(dict(gone.when), gone.last))
    assert round_two.summary() == (
        "runs out of asks on 2027-01-04, then starts again from the first ask"
    )
    assert not round_two.soon(now)
    used_up = outlook(
        repeat,
        SLUG,
        now,
        SentAsks({f"ask-{n}": "2026-12-13T18:00:00Z" for n in range(1, 6)}, "ask-5"),
    )
    assert used_up.summary() == (
        "has used every ask: starts again from the first ask on 2026-12-21"
    )
    assert used_up.soon(now) and not used_up.stopped


def run_list(env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603
        [str(BIN), "campaigns", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    too_long = [line for line in result.stdout.splitlines() if len(line.rstrip()) > 80]
    assert not too_long, result.stdout
    return result.stdout


@pytest.mark.parametrize(
    ("after_last", "then"),
    [
        ("stop", "then stops (after_last = stop)"),
        ("repeat", "then starts again from the first ask"),
    ],
)
def test_campaigns_list_says_when_each_campaign_runs_out(
    tmp_path: Path, after_last: str, then: str
) -> None:
    folder = write_pack(tmp_path / "packs", 2, after_last)
    env = base_env(tmp_path) | {"CAMPAIGNBOT_PACKS": str(folder), "COLUMNS": "80"}
    # no database yet: nothing has gone out, and listing makes none
    before = monday_runs(utcnow(), 2)[-1]
    listed = run_list(env)
    after = monday_runs(utcnow(), 2)[-1]
    assert "the dates assume no ask has gone out" in " ".join(listed.split())
    assert any(
        f"  runs out of asks on {day:%Y-%m-%d}, {then}\n" in listed for day in (before, after)
    ), listed
    assert not Path(env["CAMPAIGNBOT_DB"]).exists()
    # one ask gone out: the next run sends the last
    db = open_database(Path(env["CAMPAIGNBOT_DB"]))
    with db.atomic():
        Catalog.load(folder).sync(db)
        sent(db, "ask-1", FIRST_RUN)
    before = monday_runs(utcnow(), 1)[-1]
    listed = run_list(env)
    after = monday_runs(utcnow(), 1)[-1]
    assert any(
        f"  runs out of asks on {day:%Y-%m-%d}, {then}\n" in listed for day in (before, after)
    ), listed
    # both gone out: Sunday 6 December 18:00 UTC is Monday 7 December on Kiritimati
    with db.atomic():
        sent(db, "ask-2", FIRST_RUN + WEEK)
    db.close()
    listed = run_list(env)
    if after_last == "stop":
        assert "  has run out of asks on 2026-12-07: no weekly ask is sent\n" in listed
        assert '  (add asks to the pack, or set after_last = "repeat")\n' in listed
    else:
        next_run = monday_runs(utcnow(), 1)[0]
        assert "  has used every ask: starts again from the first ask on " in listed
        assert f"{next_run:%Y-%m-%d}" in listed or f"{next_run + WEEK:%Y-%m-%d}" in listed


# ---------------------------------------------------------------- the dashboard


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path, Path]]:
    folder = write_pack(tmp_path / "packs", 2, "stop")
    settings = with_users(make_settings(tmp_path, packs=folder, default_campaign=SLUG))
    with opened_core(settings) as core:
        # an organiser: the overview, and the schedule form
        async with signed_in(create_app(core, settings), "olive") as http:
            yield http, settings.db, folder


async def test_the_dashboard_warns_when_a_campaign_runs_out(
    dashboard: tuple[httpx.AsyncClient, Path, Path],
) -> None:
    http, db_path, _ = dashboard
    page = await http.get("/")
    assert page.status_code == 200
    day = monday_runs(utcnow(), 2)[-1]
    assert "Warning:" in page.text
    assert "Short Run runs out of asks on " in page.text
    assert "then stops (after_last = stop) (dates in Pacific/Kiritimati)." in page.text
    assert f"{day:%Y-%m-%d}" in page.text or f"{day + WEEK:%Y-%m-%d}" in page.text
    db = open_database(db_path)
    with db.atomic():
        sent(db, "ask-1", FIRST_RUN)
        sent(db, "ask-2", FIRST_RUN + WEEK)
    db.close()
    page = await http.get("/")
    assert (
        "Warning:</strong> Short Run has run out of asks on 2026-12-07: no weekly ask is sent "
        "(dates in Pacific/Kiritimati)." in page.text
    )
    assert "Next weekly ask" not in page.text
    assert "no weekly ask: every campaign has run out of asks" in page.text
    # the schedule form: "the next one in order" says there is none; a named ask goes
    form = {
        "csrftoken": csrf_of((await http.get("/prompts/new")).text),
        "intent": "schedule",
        "campaign": SLUG,
        "date": f"{utcnow() + WEEK:%Y-%m-%d}",
        "time": "08:00",
        "timezone": "Pacific/Kiritimati",
    }
    refused = await http.post("/prompts/new", data={**form, "ask": ""})
    assert refused.status_code == 422
    assert "short-run has no next ask: every ask has gone out and the pack says stop" in (
        unescape(refused.text)
    )
    scheduled = await http.post("/prompts/new", data={**form, "ask": "ask-1"})
    assert scheduled.status_code == 303


async def test_the_dashboard_does_not_warn_while_asks_last(tmp_path: Path) -> None:
    folder = write_pack(tmp_path / "packs", 5, None)
    settings = with_users(make_settings(tmp_path, packs=folder, default_campaign=SLUG))
    with opened_core(settings) as core:
        async with signed_in(create_app(core, settings), "stan") as http:
            page = await http.get("/")
    assert "Short Run runs out of asks on " in page.text
    assert "then starts again from the first ask (dates in Pacific/Kiritimati)." in page.text
    assert "Warning:" not in page.text
