"""Helpers for the dashboard's tests: settings over a temp folder, accounts, a core,
and the real app served by uvicorn on a free localhost port in a thread of its own."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import httpx
from sqlite_utils import Database

from campaigns.core import Core
from campaigns.messenger import Messenger
from db import users as users_db
from db.store import open_database
from runner import open_core
from settings import Settings
from web import accounts
from web.app import create_app
from web.server import listen, serve

SECRET = "web-test-secret-not-for-production-0123456789"
BIN = Path(sys.executable).parent / "campaignbot"
PASSWORDS = {
    "olive": "olive-organiser-pass",
    "stan": "stan-staff-password",
}
ROLES = {"olive": "organiser", "stan": "staff"}
CSRF_INPUT = re.compile(r'name="csrftoken" value="([^"]+)"')
T = TypeVar("T")


def make_settings(
    folder: Path,
    *,
    packs: Path | None = None,
    public_base_url: str | None = None,
    **more: object,
) -> Settings:
    """Settings over `folder`; `more` sets any other setting (trusted_proxies, web_https...)."""
    values: dict[str, object] = {
        "db": folder / "campaignbot.db",
        "secret_key": SECRET,
        "timezone": "Europe/London",
        "public_base_url": public_base_url,
        **more,
    }
    if packs is not None:
        values["packs"] = packs
    return Settings(**values)  # type: ignore[arg-type]


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment `campaignbot` needs to see the same database and packs."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_"))
    }
    return clean | {
        "CAMPAIGNBOT_DB": str(settings.db),
        "CAMPAIGNBOT_PACKS": str(settings.packs),
        "CAMPAIGNBOT_SECRET_KEY": SECRET,
        "CAMPAIGNBOT_TIMEZONE": settings.timezone,
        "COLUMNS": "200",
    }


def run_cli(
    args: list[str], settings: Settings, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(BIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_env(settings),
        timeout=60,
        check=False,
    )


def add_users(db: Database, names: tuple[str, ...] = ("olive", "stan"), /, **chats: str) -> None:
    with db.atomic():
        for name in names:
            users_db.add(
                db,
                name=name,
                role=ROLES[name],
                password_hash=accounts.hash_password(PASSWORDS[name]),
                chat=chats.get(name),
            )


def with_users(
    settings: Settings, seed: Callable[[Database], None] | None = None, /, **chats: str
) -> Settings:
    """`settings`, their database prepared (see `prepared_db`) with the test accounts in
    it, then whatever `seed` adds; `chats` links an account to a chat
    (olive="telegram:4242")."""
    db = prepared_db(settings)
    add_users(db, **chats)
    if seed is not None:
        seed(db)
    db.close()
    return settings


@contextmanager
def opened_core(settings: Settings) -> Iterator[Core]:
    """`open_core(settings)` for the block, closed after it: a fixture's core is
    `with opened_core(settings) as core: yield core` (add `with_users` for accounts)."""
    core = open_core(settings)
    try:
        yield core
    finally:
        core.close()


def prepared_db(settings: Settings) -> Database:
    """The settings' database, migrated, with the packs copied in."""
    from campaigns.catalog import Catalog

    db = open_database(settings.db)
    with db.atomic():
        Catalog.load(settings.packs, settings.default_campaign).sync(db)
    return db


def in_store(settings: Settings, read: Callable[[Database], T]) -> T:
    """`read(db)` on the settings' database, opened for it and closed after: what the
    dashboard stored, read back."""
    db = open_database(settings.db)
    try:
        return read(db)
    finally:
        db.close()


def csrf_of(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient,
    name: str,
    password: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> None:
    page = await client.get("/sign-in", headers=headers)
    response = await client.post(
        "/sign-in",
        data={
            "name": name,
            "password": password or PASSWORDS[name],
            "csrftoken": csrf_of(page.text),
            "next": "/",
        },
        headers=headers,
    )
    assert response.status_code == 303, response.text


async def form_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The CSRF token a page of the dashboard gives this client now."""
    page = await client.get(path)
    assert page.status_code == 200, page.status_code
    return csrf_of(page.text)


def asgi_client(app: object, base_url: str = "http://dashboard.test") -> httpx.AsyncClient:
    """An HTTP client that calls the app in-process (no socket)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@asynccontextmanager
async def signed_in(
    app: object,
    name: str,
    password: str | None = None,
    base_url: str = "http://dashboard.test",
) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of `app` (see `asgi_client`), signed in as `name`."""
    async with asgi_client(app, base_url) as http:
        await sign_in(http, name, password)
        yield http


@dataclass
class LiveServer:
    """The dashboard served by uvicorn on a free localhost port, in its own thread and loop."""

    settings: Settings
    messengers: Mapping[str, Messenger] | None = None
    sock: socket.socket | None = None  # already listening (so settings can name its port)

    def __enter__(self) -> LiveServer:
        self.core = open_core(self.settings)
        self.app = create_app(self.core, self.settings, messengers=self.messengers)
        sock = self.sock or listen("127.0.0.1", 0)
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self._task = self.loop.create_task(serve(self.app, "127.0.0.1", self.port, sock=sock))
            ready.set()
            try:
                self.loop.run_until_complete(self._task)
            except asyncio.CancelledError:
                pass
            finally:
                self.loop.close()

        self._thread = threading.Thread(target=run, name="dashboard-test", daemon=True)
        self._thread.start()
        ready.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the dashboard did not start")

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self.loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)
        self.core.close()


SCRIPT = '<script>alert("pwned")</script>'
IMG = '"><img src=x onerror=alert(1)>'


def hostile_packs(folder: Path) -> Path:
    """The bundled pack with markup in its texts, which every page must show as text."""
    from campaigns.packs import BUNDLED_PACKS

    text = (BUNDLED_PACKS / "one-step-ahead.toml").read_text()
    text = (
        text.replace('title = "One Step Ahead"', f"title = '{IMG} One Step Ahead'", 1)
        .replace(
            'title = "Bring the law up to speed on AI abuse images"',
            f"title = '{SCRIPT} AI abuse images'",
            1,
        )
        .replace('figure = "20,254"', f"figure = '{IMG}'", 1)
        .replace('label = "Write to your MP"', f"label = '{SCRIPT}'", 1)
    )
    assert text.count(SCRIPT) == 2 and text.count(IMG) == 2
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "one-step-ahead.toml").write_text(text)
    return folder
