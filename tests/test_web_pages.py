"""The dashboard's pages and downloads over HTTP (in-process): the same numbers as
`campaignbot stats`, organiser actions with their errors and audit, test sends,
live progress, and pack text shown as text."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from campaigns.core import Core
from db import prompts as prompts_db
from db.stats import Filters, participation
from db.store import open_database
from db.times import now_text
from settings import Settings
from tests.messengers import RecordingMessenger
from tests.web_seed import seed_demo
from tests.web_support import (
    IMG,
    SCRIPT,
    add_users,
    csrf_of,
    hostile_packs,
    make_settings,
    opened_core,
    prepared_db,
    run_cli,
    signed_in,
    with_users,
)
from web.app import create_app

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One seeded database for the read-only tests of this module."""
    settings = make_settings(tmp_path_factory.mktemp("seeded"))
    db = prepared_db(settings)
    with db.atomic():
        seed_demo(db, NOW, supporters=400, weeks=14)
    add_users(db)
    db.close()
    return settings


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return with_users(make_settings(tmp_path), olive="telegram:4242")


@pytest.fixture
async def staff(seeded: Settings) -> AsyncIterator[httpx.AsyncClient]:
    with opened_core(seeded) as core:
        async with signed_in(create_app(core, seeded), "stan") as http:
            yield http


@pytest.fixture
def fresh_core(fresh: Settings) -> Iterator[Core]:
    with opened_core(fresh) as core:
        yield core


@pytest.fixture
async def organiser(fresh: Settings, fresh_core: Core) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(create_app(fresh_core, fresh), "olive") as http:
        yield http


def table_rows(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, as text."""
    start = html.index(f">{caption}</caption>")
    body = html[start : html.index("</tbody>", start)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)[1:]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)
        rows.append([unescape(re.sub(r"<[^>]+>", "", c)).strip().replace(",", "") for c in cells])
    return rows


async def test_page_numbers_are_the_clis(staff: httpx.AsyncClient, seeded: Settings) -> None:
    page = await staff.get("/participation")
    assert page.status_code == 200
    cli = run_cli(["stats", "--json"], seeded)
    assert cli.returncode == 0, cli.stderr
    report = json.loads(cli.stdout)
    expected = [
        [
            row["week"],
            row["campaign"],
            row["ask_id"],
            row["ask_title"],
            "" if row["version"] is None else str(row["version"]),  # of the ask's text
            *(str(row[c]) for c in ("delivered", "opened", "done", "skipped", "supporters")),
        ]
        for row in report["by_ask_week"]
    ]
    assert table_rows(page.text, "Per ask and week") == expected
    platforms = [
        [
            row["platform"],
            *(str(row[c]) for c in ("delivered", "opened", "done", "skipped", "supporters")),
        ]
        for row in report["by_platform"]
    ]
    assert table_rows(page.text, "Per platform") == platforms
    total = report["total"]
    assert f"{total['done']:,}" in page.text and f"{total['delivered']:,}" in page.text


@pytest.mark.parametrize(
    ("query", "cli_args"),
    [
        ("", []),
        ("?platform=telegram&source=leaflet", ["--platform", "telegram", "--source", "leaflet"]),
        ("?source=(none)", ["--source", "(none)"]),
    ],
)
@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/participation/asks.csv", "asks"),
        ("/participation/platforms.csv", "platforms"),
        ("/sources/sources.csv", "sources"),
    ],
)
async def test_csv_downloads_equal_the_cli(
    staff: httpx.AsyncClient,
    seeded: Settings,
    path: str,
    table: str,
    query: str,
    cli_args: list[str],
) -> None:
    response = await staff.get(path + query)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    cli = run_cli(["stats", "--csv", "--table", table, *cli_args], seeded)
    assert cli.returncode == 0, cli.stderr
    assert response.text == cli.stdout
    assert len(response.text.splitlines()) > 1


async def test_a_date_range_maps_to_the_clis_since_and_until(
    staff: httpx.AsyncClient, seeded: Settings
) -> None:
    first = (NOW - timedelta(weeks=6)).date()
    last = (NOW - timedelta(weeks=2)).date()
    page = await staff.get(f"/participation?since={first}&until={last}")
    until = last + timedelta(days=1)  # the page includes its last day; --until does not
    assert f"--since {first} --until {until}" in page.text
    download = await staff.get(f"/participation/asks.csv?since={first}&until={last}")
    cli = run_cli(["stats", "--csv", "--since", str(first), "--until", str(until)], seeded)
    assert download.text == cli.stdout
    assert 3 <= len(download.text.splitlines()) - 1 <= 6


async def test_bad_filters_are_named_and_ignored(staff: httpx.AsyncClient) -> None:
    page = await staff.get("/participation?since=yesterday&platform=myspace")
    assert page.status_code == 200
    assert "Give a date as YYYY-MM-DD." in page.text
    assert "Choose one of telegram, discord, console." in page.text


async def test_the_other_tables_download_too(staff: httpx.AsyncClient, seeded: Settings) -> None:
    expected_headers = {
        "/overview/supporters.csv": "platform,active,paused,stopped,gone,total",
        "/overview/trend.csv": "week,delivered,done",
        "/participation/funnel.csv": "stage,count,share_of_delivered",
        "/participation/supporters.csv": "measure,supporters",
        "/sources/acting.csv": "source,subscribed,active_now,took_part,share_who_took_part",
        "/audit.csv": "at,actor,action,target,detail",
    }
    for path, header in expected_headers.items():
        response = await staff.get(path)
        assert response.status_code == 200, path
        assert response.text.splitlines()[0] == header, path
    assert (await staff.get("/participation/nothing.csv")).status_code == 404
    trend = list(csv.reader(io.StringIO((await staff.get("/overview/trend.csv")).text)))[1:]
    assert len(trend) == 12
    db = open_database(seeded.db)
    since = trend[0][0] + "T00:00:00Z"
    assert sum(int(row[2]) for row in trend) == participation(db, Filters(since=since)).total.done
    db.close()


async def test_the_overview(staff: httpx.AsyncClient, seeded: Settings) -> None:
    page = await staff.get("/")
    assert page.status_code == 200
    db = open_database(seeded.db)
    active = db.execute("SELECT count(*) FROM supporters WHERE status = 'active'").fetchone()[0]
    current = prompts_db.current(db, "one-step-ahead", now_text())
    title = db.execute(
        "SELECT title FROM asks WHERE campaign = 'one-step-ahead' AND id = ?",
        [current.ask_id if current else ""],
    ).fetchone()[0]
    db.close()
    assert f"{active:,}" in page.text
    assert title in page.text
    assert "Next weekly ask" in page.text
    assert "data:image/svg+xml;base64," in page.text  # the trend chart
    assert "Done per week, last 12 weeks" in page.text  # and its table


async def test_scheduling_and_cancelling_are_audited(
    organiser: httpx.AsyncClient, fresh_core: Core, fresh: Settings
) -> None:
    form_page = await organiser.get("/prompts/new")
    token = csrf_of(form_page.text)
    when = NOW + timedelta(days=3)
    response = await organiser.post(
        "/prompts/new",
        data={
            "csrftoken": token,
            "intent": "schedule",
            "campaign": "one-step-ahead",
            "ask": "age-verification",
            "date": f"{when:%Y-%m-%d}",
            "time": "18:45",
            "timezone": "Europe/Paris",
            "platform": "discord",
            "source": "Leaflet",
        },
    )
    assert response.status_code == 303
    listed = await organiser.get("/prompts")
    assert "Scheduled prompt 1: one-step-ahead/age-verification" in listed.text
    [prompt] = await fresh_core.store.read(prompts_db.listed)
    assert (prompt.ask_id, prompt.platform, prompt.source, prompt.timezone) == (
        "age-verification",
        "discord",
        "leaflet",
        "Europe/Paris",
    )
    assert prompt.created_by == "web:olive"
    cli = run_cli(["schedule", "list"], fresh)
    assert "age-verification" in cli.stdout and "Europe/Paris" in cli.stdout
    cancelled = await organiser.post("/prompts/1/cancel", data={"csrftoken": token})
    assert cancelled.status_code == 303
    again = await organiser.post("/prompts/1/cancel", data={"csrftoken": token})
    assert again.status_code == 303
    listed = await organiser.get("/prompts?all=1")
    assert "Prompt 1 has already started or ended." in listed.text
    audit = await organiser.get("/audit")
    for action in ("schedule", "cancel"):
        assert f"<td>{action}</td>" in audit.text
    assert "web:olive" in audit.text


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"date": "2020-01-01"}, "at", "that time has passed"),
        ({"ask": "no-such-ask"}, "ask", "unknown ask"),
        ({"timezone": ""}, "timezone", "Give a time zone"),
        ({"timezone": "Mars/Olympus"}, "timezone", "is not an IANA time zone"),
        ({"time": ""}, "at", "Give a date and a time."),
        ({"platform": "myspace"}, "platform", "platform must be one of"),
        ({"campaign": "nope"}, "campaign", "unknown campaign"),
        ({"source": "not a source!"}, "source", "A source is letters"),
    ],
)
async def test_bad_requests_schedule_nothing(
    organiser: httpx.AsyncClient,
    fresh_core: Core,
    changes: dict[str, str],
    field: str,
    message: str,
) -> None:
    token = csrf_of((await organiser.get("/prompts/new")).text)
    data = {
        "csrftoken": token,
        "intent": "schedule",
        "campaign": "one-step-ahead",
        "ask": "",
        "date": f"{NOW + timedelta(days=3):%Y-%m-%d}",
        "time": "18:30",
        "timezone": "Europe/London",
        "platform": "",
        "source": "",
    } | changes
    response = await organiser.post("/prompts/new", data=data)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="error-{field}">(.*?)</p>', response.text)
    assert error is not None and message in unescape(error.group(1))
    assert f'aria-describedby="error-{field}"' in response.text
    assert await fresh_core.store.read(prompts_db.listed) == []


async def test_preview_shows_both_platforms(organiser: httpx.AsyncClient) -> None:
    token = csrf_of((await organiser.get("/prompts/new")).text)
    response = await organiser.post(
        "/prompts/new",
        data={
            "csrftoken": token,
            "intent": "preview",
            "campaign": "one-step-ahead",
            "ask": "ai-images",
        },
    )
    assert response.status_code == 200
    text = response.text
    for platform in ("telegram", "discord"):
        mock = text[text.index(f'data-mock="{platform}"') :]
        mock = mock[: mock.index("</figure>")]
        for words in (
            "Bring the law up to speed",
            "20,254",
            "Write to your MP",
            "I did it",
            "Not this week",
            "Internet Watch Foundation",
        ):
            assert words in mock, (platform, words)
    assert "dc-success" in text  # "I did it" is Discord's green button


async def test_test_sends_go_to_the_organisers_own_chat(fresh: Settings, fresh_core: Core) -> None:
    messenger = RecordingMessenger("telegram")
    app = create_app(fresh_core, fresh, messengers={"telegram": messenger})
    async with signed_in(app, "olive") as http:
        token = csrf_of((await http.get("/prompts/new")).text)
        response = await http.post(
            "/prompts/new",
            data={
                "csrftoken": token,
                "intent": "test",
                "campaign": "one-step-ahead",
                "ask": "pre-screening",
            },
        )
    assert "Sent a test of one-step-ahead/pre-screening to your telegram chat." in response.text
    [(address, message)] = messenger.sent
    assert address == "4242"
    assert message.card is not None and message.card.ask_id == "pre-screening"
    assert message.card.prompt_id == 0  # its buttons count nothing
    audit = await fresh_core.store.read(
        lambda db: db.execute(
            "SELECT actor, action, target FROM audit WHERE action = 'test-send'"
        ).fetchall()
    )
    assert audit == [("web:olive", "test-send", "one-step-ahead/pre-screening")]


async def test_test_sends_without_the_bot_say_what_to_do(organiser: httpx.AsyncClient) -> None:
    token = csrf_of((await organiser.get("/prompts/new")).text)
    response = await organiser.post(
        "/prompts/new",
        data={"csrftoken": token, "intent": "test", "campaign": "one-step-ahead"},
    )
    assert "Test sends need the bot" in unescape(response.text)
    assert "campaignbot run" in response.text


async def test_live_progress(organiser: httpx.AsyncClient, fresh_core: Core) -> None:
    def sending(db: Database) -> int:
        prompt = prompts_db.create(
            db,
            campaign="one-step-ahead",
            ask_id="ai-images",
            kind="manual",
            scheduled_at=now_text(),
            timezone="UTC",
            created_by="test",
            state="sending",
        )
        for n, state in enumerate(["sent"] * 6 + ["gone", "failed"] + ["pending"] * 4):
            db.execute(
                """INSERT INTO deliveries (prompt_id, supporter_key, platform, state,
                    created_at, updated_at) VALUES (?, ?, 'telegram', ?, ?, ?)""",
                [prompt.id, f"k{n}", state, now_text(), now_text()],
            )
        return prompt.id

    prompt_id = await fresh_core.store.write(sending)
    data = (await organiser.get("/sends/progress.json")).json()
    [running] = data["running"]
    assert running["prompt_id"] == prompt_id
    assert (running["sent"], running["gone"], running["failed"], running["left"]) == (6, 1, 1, 4)
    assert running["total"] == 12 and running["rate"] > 0
    page = await organiser.get("/sends")
    assert 'data-progress-url="/sends/progress.json"' in page.text
    assert f"{prompt_id}: one-step-ahead/ai-images" in page.text


async def test_pack_text_is_shown_as_text(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, packs=hostile_packs(tmp_path / "packs"))
    db = prepared_db(settings)
    with db.atomic():
        seed_demo(db, NOW, supporters=60, weeks=6)
    add_users(db)
    db.close()
    with opened_core(settings) as core:
        async with signed_in(create_app(core, settings), "olive") as http:
            token = csrf_of((await http.get("/prompts/new")).text)
            pages = [await http.get(path) for path in ("/", "/participation", "/prompts/new")]
            pages.append(
                await http.post(
                    "/prompts/new",
                    data={
                        "csrftoken": token,
                        "intent": "preview",
                        "campaign": "one-step-ahead",
                        "ask": "ai-images",
                    },
                )
            )
            for page in pages:
                assert page.status_code == 200
                assert SCRIPT not in page.text and IMG not in page.text
                assert "&lt;script&gt;" in page.text
            preview = pages[-1].text
            assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in preview
            download = await http.get("/participation/asks.csv")
            rows = list(csv.reader(io.StringIO(download.text)))
            assert any(row[3] == f"{SCRIPT} AI abuse images" for row in rows)
            assert download.headers["x-content-type-options"] == "nosniff"


async def test_an_empty_database_renders_every_page(
    organiser: httpx.AsyncClient,
) -> None:
    for path in (
        "/",
        "/participation",
        "/sources",
        "/prompts",
        "/prompts?all=1",
        "/sends",
        "/audit",
        "/participation/asks.csv",
    ):
        response = await organiser.get(path)
        assert response.status_code == 200, path
    overview = await organiser.get("/")
    assert "No ask has gone out yet." in overview.text
    funnel = await organiser.get("/participation")
    assert "not tracked" in funnel.text  # no public base URL in these settings


async def test_a_test_send_takes_a_slot_of_the_shared_pace(
    fresh: Settings, fresh_core: Core
) -> None:
    """Every message to a chat takes the platform's pace, a test send too (before, it
    went out at once, beside a running send)."""
    messenger = RecordingMessenger("telegram", max_rate=2)  # slots 0.5 s apart
    app = create_app(fresh_core, fresh, messengers={"telegram": messenger})
    async with signed_in(app, "olive") as http:
        token = csrf_of((await http.get("/prompts/new")).text)
        assert messenger.pacer is not None
        for _ in range(3):  # a send under way has the next three slots
            messenger.pacer.reserve()
        started = time.monotonic()
        response = await http.post(
            "/prompts/new",
            data={
                "csrftoken": token,
                "intent": "test",
                "campaign": "one-step-ahead",
                "ask": "pre-screening",
            },
        )
        waited = time.monotonic() - started
    assert "Sent a test of one-step-ahead/pre-screening" in response.text
    assert waited >= 1.4
