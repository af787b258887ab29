"""`campaignbot experiments`: wording experiments read and ended from the terminal.

The same numbers and verdicts as the dashboard's Participation page and `stats
--table variants` (`campaigns.experiments`), and the same way to end one: choosing
the winner makes the ask's next version with the winner's words
(`experiments.choose_winner`), audited as `cli:<user>`, published at once or, with
`require_approval`, waiting for a second organiser in the dashboard. It writes to the
database the bot runs on, so a running bot picks the change up within seconds.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli import app, database, fail, out, settings
from cli.schedule_cmd import actor
from cli.tables import terminal_table

if TYPE_CHECKING:  # `experiments --help` must not import pydantic (the packs)
    from campaigns.experiments import Arm, Experiment

experiments_app = typer.Typer(
    help="See running wording experiments and choose their winners.",
    no_args_is_help=True,
)
app.add_typer(experiments_app, name="experiments")


@experiments_app.command("list")
def list_experiments(
    as_json: Annotated[bool, typer.Option("--json", help="The same, as JSON.")] = False,
    every: Annotated[
        bool, typer.Option("--all", help="Include ended experiments (versions no longer sent).")
    ] = False,
) -> None:
    """Each running experiment: its wordings' numbers and what the test says.

    Per wording: sent, done, and the done rate with its 95 % interval; under the
    table, whether the difference is significant, as the dashboard says it."""
    from campaigns import experiments

    db = database(settings())
    try:
        found = [e for e in experiments.experiments(db) if every or e.running]
    finally:
        db.close()
    if as_json:
        text = json.dumps([_record(e) for e in found], indent=2, ensure_ascii=False)
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    columns = ["ask", "variant", "sent", "done", "done rate (95 % CI)"]
    table = terminal_table("Wording experiments", columns, numeric=("sent", "done"))
    for experiment in found:
        for index, arm in enumerate(experiment.arms):
            ask = f"{experiment.ask_title}\n{_named(experiment)}" if index == 0 else ""
            table.add_row(ask, arm.variant, str(arm.sent), str(arm.done), _rate(arm))
    if not found:
        table.add_row("no experiments running" if not every else "no experiments yet", "", "", "")
    out.print(table)
    for experiment in found:  # under the table, so it fits in 80 columns
        ended = "" if experiment.running else " (no longer sent)"
        line = f"{_named(experiment)}{ended}: {experiment.verdict}."
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if any(e.running for e in found):
        out.print(
            "End one with: campaignbot experiments winner CAMPAIGN ASK VARIANT",
            markup=False,
            highlight=False,
        )


@experiments_app.command("winner")
def winner(
    campaign: Annotated[str, typer.Argument(help="The campaign's slug.")],
    ask: Annotated[str, typer.Argument(help="The ask's id.")],
    variant: Annotated[
        str, typer.Argument(help="The wording to keep: original or a variant's name.")
    ],
) -> None:
    """End an experiment: send only this wording from now on.

    The ask's next version takes its words, published at once or, with
    require_approval, once a second organiser approves it in the dashboard."""
    from campaigns import experiments
    from campaigns.editing import EditError
    from db import catalog as catalog_db

    config = settings()
    db = database(config)
    try:
        found = catalog_db.get_campaign(db, campaign)
        if found is None or found.retired:
            fail(
                f"{campaign!r} is not a campaign the bot runs (campaignbot campaigns list)", code=1
            )
        try:
            with db.atomic():
                line = experiments.choose_winner(
                    db, campaign, ask, variant, actor(), require_approval=config.require_approval
                )
        except EditError as exc:
            fail(exc.message, code=1)
    finally:
        db.close()
    if config.require_approval:
        line += " in the dashboard (require_approval is on)"
    else:
        line += "; a running bot picks it up within seconds"
    out.print(line + ".", markup=False, highlight=False, soft_wrap=True)


def _named(experiment: Experiment) -> str:
    version = "" if experiment.version is None else f" v{experiment.version}"
    return f"{experiment.campaign}/{experiment.ask_id}{version}"


def _rate(arm: Arm) -> str:
    rate = arm.rate
    if rate is None:
        return "no sends"
    return f"{rate:.1%} ({arm.low:.1%} to {arm.high:.1%})"


def _record(experiment: Experiment) -> dict[str, Any]:
    """One experiment for machines: the CSV's columns, its wordings nested."""
    return {
        "campaign": experiment.campaign,
        "ask_id": experiment.ask_id,
        "ask_title": experiment.ask_title,
        "version": experiment.version,
        "running": experiment.running,
        "verdict": experiment.verdict,
        "variants": [
            {
                "variant": arm.variant,
                "sent": arm.sent,
                "done": arm.done,
                "done_rate": None if arm.rate is None else round(arm.rate, 4),
                "ci_low": round(arm.low, 4),
                "ci_high": round(arm.high, 4),
            }
            for arm in experiment.arms
        ],
    }
