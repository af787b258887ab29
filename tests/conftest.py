"""Shared fixtures: a fresh database (in memory, or a temp file), the bundled packs, a core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns.buttons import ButtonIds
from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.dialogue import Context
from campaigns.keys import Pseudonyms
from campaigns.packs import BUNDLED_PACKS
from db.store import Store, open_database

SECRET = b"test-secret-not-for-production-0123456789"


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.load(BUNDLED_PACKS)


@pytest.fixture
def ids() -> ButtonIds:
    return ButtonIds(SECRET)


@pytest.fixture
def db(catalog: Catalog) -> Iterator[Database]:
    """A fresh in-memory database with the schema and the bundled packs."""
    database = open_database(":memory:")
    with database.atomic():
        catalog.sync(database)
    yield database
    database.close()


@pytest.fixture
def ctx(catalog: Catalog, ids: ButtonIds) -> Context:
    return Context(catalog=catalog, ids=ids, pseudonyms=Pseudonyms(SECRET))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "campaignbot.db"


@pytest.fixture
def core(db_path: Path, catalog: Catalog, ctx: Context) -> Iterator[Core]:
    """The async core over a temp-file store."""
    store = Store(db_path)
    store.submit(catalog.sync).result()
    core = Core(store, ctx, organisers=["console:organiser", "telegram:900", "discord:900"])
    yield core
    core.close()


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns unless RetryAfter.retry_after is a timedelta; opt in (in a module:
    `pytestmark = pytest.mark.usefixtures("ptb_timedelta")`)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
