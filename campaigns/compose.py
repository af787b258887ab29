"""Composing the weekly ask, and the steps of a supporter's journey (a next step, a
welcome message, an outcome poll), as platform-neutral messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from campaigns import ask_languages, campaign_languages, languages, variants, wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.model import AskCard, Button, Message, Statistic
from db.catalog import AskRow
from db.journeys import WelcomeStep
from db.prompts import PromptRow

if TYPE_CHECKING:
    from campaigns.packs import Campaign


def ask_card(
    ask: AskRow,
    prompt: PromptRow,
    *,
    reminder: bool = False,
    variant: str | None = None,
    campaign: Campaign | None = None,
) -> AskCard:
    """The card; its title and text are the `variant`'s (a wording experiment:
    `campaigns.variants`), else the ask's own. With the ask's `campaign` (its pack's),
    the campaign's name is in the language being spoken, where the pack has it."""
    words = variants.wording(ask, variant)
    return AskCard(
        campaign=ask.campaign,
        campaign_title=campaign_languages.translated_title(campaign) or ask.campaign_title,
        ask_id=ask.id,
        title=words.title,
        ask=words.ask,
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
        language=languages.current(),
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
    last_week: int | None = None,
    variant: str | None = None,
    campaign: Campaign | None = None,
) -> Message:
    """The ask with its statistic, a link button and, if `answerable`, the two answer buttons.

    `link_url` replaces the pack's link (a tracked link); `note` is a line shown
    under the card (a reminder's words, or "counted"); `last_week`, how many did the
    campaign's previous ask, adds a line saying so (`campaigns.impact.last_week`);
    `variant`, the wording this supporter got in a wording experiment; `campaign`, the
    ask's campaign as its pack has it, names it in the supporter's language.
    """
    ask = ask_languages.localise(ask)  # in the supporter's language, where the pack has it
    if last_week is not None:
        note = "\n\n".join(part for part in (note, wording.did_last_week(last_week)) if part)
    card = ask_card(ask, prompt, reminder=reminder, variant=variant, campaign=campaign)
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


def next_step_message(ask: AskRow, invite: str | None = None) -> Message:
    """An ask's next step: its words under a thank-you that names the ask, its link (if
    any) as a button, and, when the step invites a friend, `invite` (the supporter's
    own invitation, as /invite words it) in a paragraph of its own."""
    ask = ask_languages.localise(ask)
    text = f"{wording.next_step_intro(ask.title)}\n\n{ask.next_text or ''}"
    if invite:
        text += "\n\n" + invite
    rows: tuple[tuple[Button, ...], ...] = ()
    if ask.next_link_label and ask.next_link_url:
        rows = ((Button(ask.next_link_label, url=ask.next_link_url),),)
    return Message(text=text, buttons=rows)


def welcome_message(step: WelcomeStep) -> Message:
    """One message of a campaign's welcome series: its words and its link's label (in
    the supporter's language, where the pack has them), and its link (if any)."""
    rows: tuple[tuple[Button, ...], ...] = ()
    if step.link_label and step.link_url:
        label = dict(step.translated_labels).get(languages.current()) or step.link_label
        rows = ((Button(label, url=step.link_url),),)
    text = dict(step.translated).get(languages.current()) or step.text
    return Message(text=text, buttons=rows)


def poll_message(
    ids: ButtonIds, ask: AskRow, prompt: PromptRow, chosen: int | None = None
) -> Message:
    """An ask's outcome poll: the question, and one button per answer (one a row, so
    longer answers fit on a phone). `chosen` marks the supporter's answer with ✓ (the
    message as it looks after they answered); another press changes it."""
    ask = ask_languages.localise(ask)
    text = f"{wording.poll_intro(ask.title)}\n\n{ask.poll_question or ''}"
    if chosen is not None:
        text += "\n\n" + wording.POLL_CHANGE_HINT
    rows = tuple(
        (
            Button(
                ("\u2713 " if index == chosen else "") + label,
                id=ids.make(Verb.POLL, f"{prompt.id}-{index}"),
            ),
        )
        for index, label in enumerate(ask.poll_labels)
    )
    return Message(text=text, buttons=rows)
