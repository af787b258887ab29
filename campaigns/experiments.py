"""Wording experiments as organisers read them, and choosing the winner.

Per ask and version of its text (the variants are part of the version), per
wording: sent, done, the done rate with its 95 % Wilson interval, and one plain
sentence from the two-proportion z-test ("not significant at 95 %", "variant short
did better (p = 0.012)"). With three wordings the leader is tested against each
other one, at 95 % overall (Bonferroni: each at 2.5 %), and the sentence says so.

"Sent" counts deliveries that went out ('sent'); "done" counts "I did it" answers to
those deliveries. The counts are kept by triggers (migration 0009), so they survive
/forget and retention as the participation counts do. They cover every platform and
source: a wording experiment is read as a whole.

Choosing the winner is a change to the ask, so it goes the way every change to an ask
goes (`campaigns.editing`): the next version, with the winner's words as the ask's own
and no variants, audited, published at once or, with `require_approval`, waiting for
a second organiser to approve and publish it on the ask's page. Later prompts send the
winner's words only (and the editor, the previews and an export show them); the
experiment and its counts stay with the version that ran it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlite_utils import Database

from campaigns import editing, pack_io, variants
from campaigns.editing import EditError
from campaigns.packs import ORIGINAL
from campaigns.reports import Filters, defuse
from campaigns.significance import ALPHA, p_text, two_proportions, wilson
from campaigns.versions import describe, digest
from db import audit as audit_db
from db import catalog as catalog_db
from db import variants as variants_db
from db import versions as versions_db

COLUMNS = (
    "campaign",
    "ask_id",
    "version",
    "variant",
    "sent",
    "done",
    "done_rate",
    "ci_low",
    "ci_high",
    "verdict",
)
NUMERIC = frozenset({"version", "sent", "done", "done_rate", "ci_low", "ci_high"})


@dataclass(frozen=True, slots=True)
class Arm:
    """One wording's numbers."""

    variant: str
    sent: int
    done: int
    low: float  # the done rate's 95 % Wilson interval
    high: float

    @property
    def rate(self) -> float | None:
        return self.done / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class Experiment:
    campaign: str
    ask_id: str
    ask_title: str
    version: int | None
    arms: list[Arm]
    verdict: str
    running: bool  # this version is what the ask sends now, still in several wordings


def called(name: str) -> str:
    """A wording as a sentence names it."""
    return "the original" if name == ORIGINAL else f"variant {name}"


def verdict(arms: list[Arm]) -> str:
    """What the test says, in one sentence."""
    sent = [arm for arm in arms if arm.sent]
    if len(sent) < 2:
        return "not enough sends to compare yet"
    ranked = sorted(sent, key=lambda arm: (-(arm.rate or 0.0), arm.variant))
    leader, others = ranked[0], ranked[1:]
    alpha = ALPHA / len(others)  # 95 % over all the comparisons
    tests = [
        (other, two_proportions(leader.done, leader.sent, other.done, other.sent))
        for other in others
    ]
    beaten = [(other, test) for other, test in tests if test.p < alpha]
    adjusted = f", each comparison at {(1 - alpha) * 100:g} %" if len(others) > 1 else ""
    if not beaten:
        lowest = min(test.p for _, test in tests)
        return f"not significant at 95 % ({p_text(lowest)}{adjusted})"
    if len(beaten) == len(others):
        worst = max(test.p for _, test in beaten)
        return f"{called(leader.variant)} did better ({p_text(worst)}{adjusted})".capitalize()
    other, test = beaten[0]
    rest = ", ".join(called(arm.variant) for arm, t in tests if t.p >= alpha)
    return (
        f"{called(leader.variant)} did better than {called(other.variant)} "
        f"({p_text(test.p)}{adjusted}); against {rest}: not significant at 95 %"
    ).capitalize()


def experiments(db: Database, filters: Filters | None = None) -> list[Experiment]:
    """Every wording experiment with sends in the filters' campaign and time (their
    platform and source are not applied: see the module's docstring)."""
    filters = filters or Filters()
    grouped: dict[tuple[str, str, int | None], list[variants_db.VariantCounts]] = {}
    for row in variants_db.counts(
        db, campaign=filters.campaign, since=filters.since, until=filters.until
    ):
        grouped.setdefault((row.campaign, row.ask_id, row.ask_version), []).append(row)
    found = []
    for (campaign, ask_id, version), rows in grouped.items():
        arms = [
            Arm(
                row.variant,
                row.delivered,
                row.done,
                *wilson(min(row.done, row.delivered), row.delivered),
            )
            for row in rows
        ]
        arms.sort(key=lambda arm: (arm.variant != ORIGINAL, arm.variant))
        current = catalog_db.get_ask(db, campaign, ask_id)
        title = current.title if current else ask_id
        running = bool(
            current
            and not current.retired
            and current.version == version
            and variants.under_test(current)
        )
        found.append(Experiment(campaign, ask_id, title, version, arms, verdict(arms), running))
    return found


def table(found: list[Experiment]) -> tuple[list[str], list[list[Any]]]:
    """One row per wording; the verdict on each experiment's first row."""
    rows: list[list[Any]] = []
    for experiment in found:
        for index, arm in enumerate(experiment.arms):
            rate = arm.rate
            rows.append(
                [
                    experiment.campaign,
                    experiment.ask_id,
                    experiment.version,
                    arm.variant,
                    arm.sent,
                    arm.done,
                    None if rate is None else round(rate, 4),
                    round(arm.low, 4),
                    round(arm.high, 4),
                    experiment.verdict if index == 0 else "",
                ]
            )
    return list(COLUMNS), rows


def records(found: list[Experiment]) -> list[dict[str, Any]]:
    header, rows = table(found)
    return [dict(zip(header, row, strict=True)) for row in rows]


def to_csv(found: list[Experiment]) -> str:
    header, rows = table(found)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in rows)
    return out.getvalue()


def choose_winner(
    db: Database, slug: str, ask_id: str, name: str, actor: str, *, require_approval: bool
) -> str:
    """Make `name` the wording the ask sends from now on: the next version of the ask,
    with those words as its own and no variants, published at once or, with
    `require_approval`, awaiting a second organiser. One line saying what happened;
    `EditError` (one line) if it can't be done."""
    where = f"{slug}/{ask_id}"
    current = catalog_db.get_ask(db, slug, ask_id)
    published = versions_db.published(db, slug, ask_id)
    if current is None or current.retired or published is None:
        raise EditError(f"{where} is not an ask the bot sends")
    try:
        ask = pack_io.ask_of(published.content)
    except ValidationError:
        raise EditError(
            f"{where} no longer passes the pack rules: import a corrected pack"
        ) from None
    names = [ORIGINAL, *(variant.name for variant in ask.variants)]
    if not ask.variants:
        raise EditError(f"{where} has no variants: there is no experiment to end")
    if name not in names:
        raise EditError(f"{where} has no wording {name!r}: choose one of {', '.join(names)}")
    opened = versions_db.open_version(db, slug, ask_id)
    if opened is not None:
        raise EditError(
            f"{where} has a draft, {describe(opened)}: publish or discard it first, then "
            "choose the winner"
        )
    words: dict[str, Any] = {"variants": []}
    for variant in ask.variants:
        if variant.name == name:
            words |= {"ask": variant.ask, "title": variant.title or ask.title}
    try:  # checked as a pack's ask is, though every part of it passed before
        content = pack_io.ask_content(
            pack_io.ask_of(pack_io.ask_content(ask.model_copy(update=words)))
        )
    except ValidationError:
        raise EditError(f"{where} with {called(name)}'s words breaks the pack rules") from None
    draft = versions_db.add_draft(db, slug, ask_id, content, actor)
    audit_db.record(db, actor, "choose-winner", where, version=draft.version, winner=name)
    if require_approval:
        versions_db.await_approval(db, draft)
        return (
            f"{where} v{draft.version}, with {called(name)} as the winner, waits for "
            "another organiser to approve and publish it on the ask's page"
        )
    editing.publish(db, slug, ask_id, draft.version, digest(draft), actor, require_approval=False)
    return f"Published {where} v{draft.version}: later sends use {called(name)} only"
