"""How far each send has got, read from the database (so the dashboard and the
command line, in other processes, see what the running bot sees)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlite_utils import Database

from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db.prompts import PromptRow
from db.states import DeliveryState, PromptState
from db.times import to_text, utcnow


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a prompt's send has got."""

    prompt_id: int
    campaign: str
    ask_id: str
    state: PromptState
    sent: int
    gone: int
    failed: int
    unknown: int
    cancelled: int
    left: int  # pending (waiting to be tried again, too) or in flight
    rate: float  # deliveries finished a second, over the last 10 seconds
    eta_seconds: float | None

    @property
    def total(self) -> int:
        return self.sent + self.gone + self.failed + self.unknown + self.cancelled + self.left


def progress(db: Database, prompt: PromptRow) -> Progress:
    counts = deliveries_db.state_counts(db, prompt.id)
    recent = deliveries_db.finished_since(db, prompt.id, to_text(utcnow() - timedelta(seconds=10)))
    rate = recent / 10.0
    left = counts.get(DeliveryState.PENDING, 0) + counts.get(DeliveryState.SENDING, 0)
    return Progress(
        prompt_id=prompt.id,
        campaign=prompt.campaign,
        ask_id=prompt.ask_id,
        state=prompt.state,
        sent=counts.get(DeliveryState.SENT, 0),
        gone=counts.get(DeliveryState.GONE, 0),
        failed=counts.get(DeliveryState.FAILED, 0),
        unknown=counts.get(DeliveryState.UNKNOWN, 0),
        cancelled=counts.get(DeliveryState.CANCELLED, 0),
        left=left,
        rate=rate,
        eta_seconds=left / rate if rate > 0 and left else None,
    )


def running_progress(db: Database) -> list[Progress]:
    """Progress of every send under way (also readable from another process)."""
    return [progress(db, prompt) for prompt in prompts_db.sending(db)]


def delivery_totals(db: Database) -> dict[tuple[str, str], int]:
    """Every delivery so far, by platform and state (for /metrics)."""
    return deliveries_db.totals(db)
