"""Composing the weekly ask as a platform-neutral message."""

from __future__ import annotations

from campaigns import wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.model import AskCard, Button, Message, Statistic
from db.catalog import AskRow
from db.prompts import PromptRow


def ask_card(ask: AskRow, prompt: PromptRow, *, reminder: bool = False) -> AskCard:
    return AskCard(
        campaign=ask.campaign,
        campaign_title=ask.campaign_title,
        ask_id=ask.id,
        title=ask.title,
        ask=ask.ask,
        topic=ask.topic,
        statistic=Statistic(
            figure=ask.stat_figure,
            sentence=ask.stat_sentence,
            source=ask.stat_source,
            url=ask.stat_url,
            year=ask.stat_year or None,
        ),
        link_label=ask.link_label,
        link_url=ask.link_url,
        prompt_id=prompt.answers_to,
        reminder=reminder,
    )


def ask_message(
    ids: ButtonIds,
    ask: AskRow,
    prompt: PromptRow,
    *,
    link_url: str | None = None,
    reminder: bool = False,
    note: str = "",
    answerable: bool = True,
) -> Message:
    """The ask with its statistic, a link button and, if `answerable`, the two answer buttons.

    `link_url` replaces the pack's link (a tracked link); `note` is a line shown
    under the card (a reminder's words, or "counted").
    """
    card = ask_card(ask, prompt, reminder=reminder)
    link = Button(ask.link_label, url=link_url or ask.link_url)
    rows: list[tuple[Button, ...]] = [(link,)]
    if answerable:
        rows.append(
            (
                Button(wording.DONE_LABEL, id=ids.make(Verb.DONE, prompt.answers_to)),
                Button(wording.SKIP_LABEL, id=ids.make(Verb.SKIP, prompt.answers_to)),
            )
        )
    return Message(text=note, card=card, buttons=tuple(rows))


def plain_card_text(card: AskCard) -> str:
    """The card as plain text, for a terminal or for a platform without formatting."""
    stat = card.statistic
    return (
        f"{card.campaign_title}: {card.title}\n\n"
        f"{card.ask}\n\n"
        f"{stat.figure}: {stat.sentence}\n"
        f"Source: {stat.source}{stat.dated} ({stat.url})"
    )
