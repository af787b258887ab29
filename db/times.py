"""Times in the store are UTC text, 'YYYY-MM-DDTHH:MM:SSZ', so they sort and SQLite reads them."""

from __future__ import annotations

from datetime import UTC, datetime

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utcnow() -> datetime:
    """Now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def to_text(moment: datetime) -> str:
    """An aware datetime as stored text (naive datetimes are refused: they hide bugs)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: give it a time zone before storing it")
    return moment.astimezone(UTC).strftime(FORMAT)


def from_text(text: str) -> datetime:
    """Stored text back to an aware UTC datetime."""
    return datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def now_text() -> str:
    return to_text(utcnow())
