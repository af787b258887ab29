"""The supporter conversation: the same commands and buttons on every platform.

`handle_command` and `handle_press` take what an adapter heard and return what to
say back. They run inside one write transaction. Only the command name and its
few arguments arrive here; free text never does.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sqlite_utils import Database

from campaigns import invites, journeys, polls, supporters, versions, wording
from campaigns import subscriptions as choice
from campaigns.buttons import ButtonIds, Verb
from campaigns.catalog import Catalog
from campaigns.compose import ask_message
from campaigns.deeplinks import read_start
from campaigns.keys import Pseudonyms, tag
from campaigns.model import (
    MAX_PAUSE_WEEKS,
    ActionKind,
    Attachment,
    Button,
    ChatKind,
    Message,
    Origin,
    PressResult,
    SupporterStatus,
)
from db import actions as actions_db
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db import supporters as supporters_db
from db import variants as variants_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import ActionVia, PromptKind, PromptState
from db.supporters import SupporterRow
from db.times import now_text

PRIVATE_ONLY = frozenset({"topics", "pause", "resume", "mydata", "forget", "invite", "campaigns"})
# In a group, these change what the whole group gets: only its admins may use them
# (/language, the group's language, is answered in `campaigns.language_choice`).
ADMIN_COMMANDS = frozenset({"subscribe_group", "stop", "language"})
FORGET_CONFIRM_SECONDS = 600  # a "Yes, erase" button works this long, for its supporter only
MAX_PROMPT_DIGITS = 18  # every prompt id fits a 64-bit SQLite integer
DEFAULT_RETENTION_MONTHS = 24
_PAUSE_WEEKS = re.compile(r"[0-9]{1,2}")


@dataclass(frozen=True)
class Context:
    """What the conversation needs besides the database.

    One object for the whole running bot: the core, its organiser desk, the delivery
    engine and the dashboard all hold it and read `catalog` when they need it, so a
    change to the campaigns in the database (`campaigns.reloading`) is swapped in here
    once (`swap_catalog`, on the event loop) for all of them. An answer that reads the
    catalog more than once works on `pinned()`, so a swap can't give it two.
    """

    catalog: Catalog
    ids: ButtonIds
    pseudonyms: Pseudonyms
    retention_months: int = DEFAULT_RETENTION_MONTHS
    # per platform, how a start argument reaches the bot: registered by each adapter
    # once online (`Core.set_start_links`), for invite links
    start_links: dict[str, invites.StartLinks] = field(default_factory=dict)

    @classmethod
    def from_secret(
        cls, catalog: Catalog, secret: bytes, retention_months: int = DEFAULT_RETENTION_MONTHS
    ) -> Context:
        return cls(catalog, ButtonIds(secret), Pseudonyms(secret), retention_months)

    def swap_catalog(self, catalog: Catalog) -> None:
        """Run `catalog` from now on. The only change this object allows: one reference
        replaced (atomic), so a reader in any thread sees the old catalog or the new."""
        object.__setattr__(self, "catalog", catalog)

    def pinned(self) -> Context:
        """This context with the catalog it has now, for one answer (the same start
        links: adapters register theirs once)."""
        return replace(self)


def _say(*texts: str) -> list[Message]:
    return [Message(text=text) for text in texts]


def current_prompt(
    db: Database, ctx: Context, campaign: str | None = None
) -> tuple[PromptRow, AskRow] | None:
    """A campaign's ask of the moment (the default campaign's, if none is named).

    Before any prompt has gone out, the first ask stands as a 'standing' prompt,
    so a new supporter always has something to act on and every action still
    names a prompt.
    """
    campaign = campaign or ctx.catalog.default
    now = now_text()
    prompt = prompts_db.current(db, campaign, now)
    if prompt is None:
        asks = catalog_db.asks(db, campaign)
        if not asks:
            return None
        pack = ctx.catalog.packs[campaign]
        prompt = prompts_db.create(
            db,
            campaign=campaign,
            ask_id=asks[0].id,
            kind=PromptKind.STANDING,
            scheduled_at=now,
            timezone=pack.campaign.schedule.timezone,
            created_by="system",
            state=PromptState.SENT,
        )
    ask = versions.ask_for_prompt(db, prompt)  # the text that prompt went out with
    return (prompt, ask) if ask else None


def _show_current(
    db: Database, ctx: Context, supporter: SupporterRow, campaigns: list[str] | None = None
) -> list[Message]:
    """The ask of the moment of each campaign the supporter (or group) joined, or of
    the `campaigns` named: one message each, each recorded as delivered."""
    if campaigns is None:
        campaigns = choice.chosen(db, ctx.catalog, supporter)
        if not campaigns:
            return _say(wording.NO_CAMPAIGN)
    chosen = supporters_db.topics(db, supporter.id)
    shown = []
    for campaign in campaigns:
        found = current_prompt(db, ctx, campaign)
        if found is None:
            continue
        prompt, ask = found
        deliveries_db.record_direct(db, prompt.id, supporter)
        note = wording.topic_off(ask.topic) if chosen and ask.topic not in chosen else ""
        variant = variants_db.of_delivery(db, prompt.id, supporter.key)  # the wording they got
        pack = ctx.catalog.packs.get(campaign)  # names the campaign in their language
        shown.append(
            ask_message(
                ctx.ids,
                ask,
                prompt,
                note=note,
                variant=variant,
                campaign=pack.campaign if pack else None,
            )
        )
    return shown or _say(wording.NO_ASK_YET)


def _start_command(
    db: Database, ctx: Context, origin: Origin, args: tuple[str, ...]
) -> list[Message]:
    """Subscribe, and join the campaign a start link names (`<campaign>`,
    `<campaign>-<code>`, or a code alone for the default campaign). Someone with
    campaigns already keeps them; someone with none joins the default one."""
    # a deep link carries exactly one argument; anything else typed after /start is dropped
    link = read_start(args[0] if len(args) == 1 else None, ctx.catalog.packs)
    subscribed = supporters.subscribe(db, origin, link.source)
    supporter = subscribed.supporter
    if link.campaign is not None:
        joined = link.campaign if choice.join(db, supporter, link.campaign) else None
    else:
        joined = choice.join_first(db, ctx.catalog, supporter)
    if link.invite and subscribed.first:
        invites.record_referral(db, link.invite, supporter, link.campaign or ctx.catalog.default)
    if subscribed.already and joined is not None:
        pack = ctx.catalog.packs[joined].campaign
        text = wording.joined_campaign(pack.title, pack.description)
        return [Message(text=text), *_show_current(db, ctx, supporter, [joined])]
    mine = choice.chosen(db, ctx.catalog, supporter)
    named = link.campaign or (ctx.catalog.default if ctx.catalog.default in mine else mine[0])
    pack = ctx.catalog.packs[named].campaign
    text = wording.welcome(
        pack.title,
        pack.description,
        subscribed.already,
        ctx.retention_months,
        choice=len(ctx.catalog.packs) > 1,
    )
    if subscribed.already:
        return _say(text)
    return [Message(text=text), *_show_current(db, ctx, supporter)]


def _campaigns_command(
    db: Database, ctx: Context, supporter: SupporterRow, args: tuple[str, ...]
) -> list[Message]:
    """`/campaigns`: buttons to join and leave; `/campaigns join|leave <name>` typed."""
    catalog = ctx.catalog
    if not args:
        return [choice.campaigns_message(db, catalog, ctx.ids, supporter)]
    if len(args) != 2 or args[0].lower() not in ("join", "leave"):
        return _say(wording.CAMPAIGNS_USAGE)
    slug = choice.by_name(catalog, args[1])
    if slug is None:
        return _say(wording.campaigns_unknown(args[1], choice.ordered(catalog)))
    title = choice.title(catalog, slug)
    if args[0].lower() == "join":
        if not choice.join(db, supporter, slug):
            return _say(wording.campaign_already(title))
        return [
            Message(text=wording.campaign_joined(title)),
            *_show_current(db, ctx, supporter, [slug]),
        ]
    left = choice.leave(db, catalog, supporter, slug)
    if left is choice.Left.LAST:
        return _say(wording.last_campaign(title))
    if left is choice.Left.NOT_ON_IT:
        return _say(wording.campaign_not_joined(title))
    return _say(wording.campaign_left(title))


def _press_campaign(db: Database, ctx: Context, origin: Origin, argument: str) -> PressResult:
    """A campaign's button toggles it for the person who pressed it. In a group (a
    Discord server, where /campaigns answers only its sender) that is the person's
    own subscription, never the group's, and only the answer says what changed."""
    own = supporters.find(db, origin)
    if origin.kind is ChatKind.GROUP:
        own = supporters_db.get(db, origin.platform, origin.actor)
    if own is None or not supporters.is_subscribed(own):
        return PressResult(answer=wording.NOT_SUBSCRIBED)
    slug = choice.by_tag(ctx.catalog, argument)
    if slug is None:
        return PressResult(answer=wording.CAMPAIGN_GONE)
    toggled = choice.toggle(db, ctx.catalog, own, slug)
    title = choice.title(ctx.catalog, slug)
    if toggled.refused:
        return PressResult(answer=wording.last_campaign(title))
    answer = wording.campaign_joined(title) if toggled.joined else wording.campaign_left(title)
    if origin.kind is ChatKind.GROUP:
        return PressResult(answer=answer, counted=True)
    shown = _show_current(db, ctx, own, [slug]) if toggled.joined else []
    edit = choice.campaigns_message(db, ctx.catalog, ctx.ids, own)
    return PressResult(answer=answer, counted=True, edit=edit, replies=tuple(shown))


def record_action(
    db: Database,
    actor: SupporterRow,
    prompt: PromptRow,
    kind: ActionKind,
    via: str,
    source: str | None,
) -> bool:
    """Count an answer; a new "I did it" also sends the ask's next step, if it has one,
    to the person who acted (`journeys.after_done` says to whom, and only once)."""
    new = actions_db.record(
        db,
        prompt_id=prompt.answers_to,
        supporter_key=actor.key,
        kind=kind,
        platform=actor.platform,
        source=source,
        via=via,
    )
    if new and kind is ActionKind.DONE:
        journeys.after_done(db, actor, prompt)
    return new


def _answer_text(kind: ActionKind, new: bool) -> str:
    if kind is ActionKind.DONE:
        return wording.DONE_THANKS if new else wording.DONE_ALREADY
    return wording.SKIP_NOTED if new else wording.SKIP_ALREADY


def _answer_by_command(
    db: Database, ctx: Context, origin: Origin, kind: ActionKind
) -> list[Message]:
    """A typed /done or /skip answers the last prompt sent to this chat (nothing else)."""
    recipient = supporters.find(db, origin)
    if recipient is None or not supporters.is_subscribed(recipient):
        return _say(wording.NOT_SUBSCRIBED)
    prompt = prompts_db.latest_for_supporter(db, recipient.key)
    if prompt is None:
        return _say(wording.NOTHING_TO_ANSWER)
    actor = supporters.actor_for_press(db, ctx.pseudonyms, origin)
    assert actor is not None
    new = record_action(db, actor, prompt, kind, ActionVia.COMMAND, recipient.source)
    return _say(_answer_text(kind, new))


def topics_message(db: Database, ctx: Context, supporter: SupporterRow) -> Message:
    chosen = supporters_db.topics(db, supporter.id)
    every = not chosen
    rows = tuple(
        (
            Button(
                ("✓ " if every or topic in chosen else "○ ") + topic,
                id=ctx.ids.make(Verb.TOPIC, topic),
            ),
        )
        for topic in ctx.catalog.topics
    )
    rows += ((Button(wording.TOPICS_ALL_LABEL, id=ctx.ids.make(Verb.TOPICS_ALL)),),)
    text = wording.TOPICS_INTRO + "\n\n" + wording.topics_now(chosen, every)
    return Message(text=text, buttons=rows)


def _topics_command(
    db: Database, ctx: Context, supporter: SupporterRow, args: tuple[str, ...]
) -> list[Message]:
    if not args:
        return [topics_message(db, ctx, supporter)]
    known = ctx.catalog.topics
    wanted = [arg.lower().strip(",") for arg in args]
    if wanted == ["all"]:
        supporters_db.set_topics(db, supporter.id, [])
        return _say(wording.topics_now([], True))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        return _say(
            wording.TOPICS_UNKNOWN.format(names=", ".join(unknown)[:200], known=", ".join(known))
        )
    chosen = [] if set(wanted) >= set(known) else sorted(set(wanted))
    supporters_db.set_topics(db, supporter.id, chosen)
    return _say(wording.topics_now(chosen, not chosen))


def _pause_command(db: Database, supporter: SupporterRow, args: tuple[str, ...]) -> list[Message]:
    weeks: int | None = None
    if args:
        # ASCII digits only: "²".isdigit() is true, and int("²") fails
        if (
            len(args) != 1
            or not _PAUSE_WEEKS.fullmatch(args[0])
            or not 1 <= int(args[0]) <= MAX_PAUSE_WEEKS
        ):
            return _say(wording.PAUSE_USAGE)
        weeks = int(args[0])
    until = supporters.pause(db, supporter, weeks)
    if weeks and until:
        return _say(wording.paused_for(weeks, until[:10]))
    return _say(wording.PAUSED)


def _mydata_command(db: Database, ctx: Context, origin: Origin) -> list[Message]:
    supporter = supporters.find(db, origin)
    member = supporters.find_member(db, ctx.pseudonyms, origin.platform, origin.chat)
    if supporter is None and member is None:
        return _say(wording.NOTHING_HELD)
    data = supporters.export(db, supporter, member)
    data["kept_for"] = f"{ctx.retention_months} months"
    facts: list[tuple[str, str]] = []
    if supporter is not None:
        topics = data["topics"]
        facts = [
            ("Platform", supporter.platform),
            ("Chat id", supporter.address),
            ("Status", supporter.status),
            ("Subscribed since", supporter.created_at[:10]),
            ("How you found us", supporter.source or "not recorded"),
            ("Topics", "every topic" if topics == "all" else ", ".join(topics)),
            ("Campaigns", wording.joined_since(data["campaigns"])),
        ]
        if invite := data.get("invite"):
            facts.append(wording.invite_fact(invite["code"], invite["people_joined_through_it"]))
    facts += [
        wording.poll_fact(item["question"] or item["ask"], item["title"], item["your_answer"])
        for item in data.get("poll_answers", [])
    ]
    sent = [
        wording.sent_line(item["at"][:10], item["title"], item["state"], item["your_answer"])
        for item in data.get("deliveries", [])
    ]
    presses = len(data.get("presses_in_groups", []))
    export = json.dumps(data, indent=2, ensure_ascii=False).encode()
    text = wording.mydata_summary(facts, sent, presses, ctx.retention_months)
    return [Message(text=text, attachment=Attachment("campaignbot-mydata.json", export))]


def _erasure_binding(db: Database, ctx: Context, origin: Origin) -> SupporterRow | None:
    """The record a "Yes, erase" button is bound to: the subscription, else the
    pseudonymous group record."""
    return supporters.find(db, origin) or supporters.find_member(
        db, ctx.pseudonyms, origin.platform, origin.chat
    )


def _forget_argument(binding: SupporterRow, now: float) -> str:
    return f"{int(now) + FORGET_CONFIRM_SECONDS:x}-{tag(binding.key)}"


def _forget_button_holds(argument: str, binding: SupporterRow | None, now: float) -> bool:
    expires, _, bound = argument.partition("-")
    try:
        fresh = int(expires, 16) >= int(now)
    except ValueError:
        return False
    return fresh and binding is not None and bound == tag(binding.key)


def _forget_command(
    db: Database, ctx: Context, origin: Origin, args: tuple[str, ...]
) -> list[Message]:
    binding = _erasure_binding(db, ctx, origin)
    if binding is None:
        return _say(wording.NOTHING_HELD)
    if args == ("yes",):
        supporters.forget(db, ctx.pseudonyms, origin)
        return _say(wording.FORGOTTEN)
    confirm = ctx.ids.make(Verb.FORGET, _forget_argument(binding, time.time()))
    buttons = (
        (
            Button(wording.FORGET_YES, id=confirm),
            Button(wording.FORGET_NO, id=ctx.ids.make(Verb.KEEP)),
        ),
    )
    return [Message(text=wording.FORGET_CONFIRM, buttons=buttons)]


def _subscribe_group(
    db: Database, ctx: Context, origin: Origin, args: tuple[str, ...]
) -> list[Message]:
    """`/subscribe_group [campaign]`: the group joins that campaign (else, if it has
    none yet, the default one) and is shown the ask of each campaign just joined."""
    wanted = choice.by_name(ctx.catalog, args[0]) if args else None
    if args and wanted is None:
        return _say(wording.campaigns_unknown(args[0], choice.ordered(ctx.catalog)))
    group = supporters.subscribe(db, origin, None).supporter
    if wanted is None:
        choice.join_first(db, ctx.catalog, group)
        return [Message(text=wording.GROUP_SUBSCRIBED), *_show_current(db, ctx, group)]
    choice.join(db, group, wanted)
    text = wording.group_joined(choice.title(ctx.catalog, wanted))
    return [Message(text=text), *_show_current(db, ctx, group, [wanted])]


def _group_command(
    db: Database, ctx: Context, origin: Origin, name: str, args: tuple[str, ...], admin: bool
) -> list[Message]:
    group = supporters.find(db, origin)
    if name in ADMIN_COMMANDS and not admin:
        return _say(wording.GROUP_ONLY_ADMINS)
    if name == "subscribe_group":
        return _subscribe_group(db, ctx, origin, args)
    if name == "stop":
        return _say(
            wording.GROUP_STOPPED if supporters.stop(db, origin) else wording.NOT_SUBSCRIBED
        )
    if name == "ask":
        if group is None or not supporters.is_subscribed(group):
            return _say(wording.NOT_SUBSCRIBED)
        return _show_current(db, ctx, group)
    if name in ("done", "skip"):
        kind = ActionKind.DONE if name == "done" else ActionKind.SKIPPED
        return _answer_by_command(db, ctx, origin, kind)
    if name in PRIVATE_ONLY or name == "start":
        return _say(wording.GROUP_PRIVATE_ONLY)
    return _say(wording.help_text(supporters.is_subscribed(group), private=False))


def handle_command(
    db: Database,
    ctx: Context,
    origin: Origin,
    name: str,
    args: tuple[str, ...] = (),
    admin: bool = False,
) -> list[Message]:
    """Answer one supporter command. `admin` says the sender administers the group."""
    name = name.lower()
    if origin.kind is ChatKind.GROUP:
        return _group_command(db, ctx, origin, name, args, admin)
    if name == "start":
        return _start_command(db, ctx, origin, args)
    if name == "help":
        return _say(wording.help_text(supporters.is_subscribed(supporters.find(db, origin))))
    if name in ("done", "skip"):
        kind = ActionKind.DONE if name == "done" else ActionKind.SKIPPED
        return _answer_by_command(db, ctx, origin, kind)
    if name == "forget":
        return _forget_command(db, ctx, origin, args)
    if name == "stop":
        return _say(wording.STOPPED if supporters.stop(db, origin) else wording.ALREADY_STOPPED)
    if name == "mydata":
        return _mydata_command(db, ctx, origin)
    handlers: dict[str, Callable[[SupporterRow], list[Message]]] = {
        "ask": lambda s: _show_current(db, ctx, s),
        "topics": lambda s: _topics_command(db, ctx, s, args),
        "campaigns": lambda s: _campaigns_command(db, ctx, s, args),
        "pause": lambda s: _pause_command(db, s, args),
        "resume": lambda s: _resume(db, s),
        "invite": lambda s: invites.command(db, ctx.catalog, ctx.start_links, s, args),
    }
    handler = handlers.get(name)
    if handler is None:
        return _say(wording.UNKNOWN)
    supporter = supporters.find(db, origin)
    if supporter is None or not supporters.is_subscribed(supporter):
        return _say(wording.NOT_SUBSCRIBED)
    return handler(supporter)


def _resume(db: Database, supporter: SupporterRow) -> list[Message]:
    if supporter.status != SupporterStatus.PAUSED:
        return _say(wording.NOT_PAUSED)
    supporters.resume(db, supporter)
    return _say(wording.RESUMED)


def stale() -> PressResult:
    """A button that no longer means anything here: said in the language being spoken."""
    return PressResult(answer=wording.BUTTON_STALE)


def _prompt_id(argument: str) -> int | None:
    """A button's prompt id, if it is one SQLite can hold (a signed id can still be huge)."""
    if argument.isascii() and argument.isdigit() and len(argument) <= MAX_PROMPT_DIGITS:
        return int(argument)
    return None


def _press_answer(
    db: Database, ctx: Context, origin: Origin, kind: ActionKind, argument: str
) -> PressResult:
    prompt_id = _prompt_id(argument)
    if prompt_id is None:
        return stale()
    if prompt_id == 0:
        return PressResult(answer=wording.PREVIEW_PRESS)
    prompt = prompts_db.get(db, prompt_id)
    if prompt is None or prompt.state is PromptState.CANCELLED:
        return stale()
    ask = versions.ask_for_prompt(db, prompt)  # the edit shows the text the message had
    if ask is None:
        return stale()
    group = origin.kind is ChatKind.GROUP
    recipient = supporters.find(db, origin)  # the chat the ask was sent to
    if not supporters.is_subscribed(recipient):
        return PressResult(answer=wording.GROUP_STOPPED if group else wording.NOT_SUBSCRIBED)
    assert recipient is not None
    delivery = deliveries_db.delivered_to(db, recipient.key, prompt.id)
    if delivery is None:  # never sent to this chat: a forwarded or made-up button
        return stale()
    deliveries_db.confirm_arrival(db, delivery.id)
    actor = supporters.actor_for_press(db, ctx.pseudonyms, origin)
    assert actor is not None
    new = record_action(db, actor, prompt, kind, ActionVia.BUTTON, recipient.source)
    done = kind is ActionKind.DONE
    answer = _answer_text(kind, new)
    if not new:
        return PressResult(answer=answer)
    if group:
        return PressResult(answer=answer, counted=True)
    note = "✓ " + answer
    variant = variants_db.of_delivery(db, prompt.id, recipient.key)  # redrawn in their wording
    pack = ctx.catalog.packs.get(ask.campaign)
    edit = ask_message(
        ctx.ids,
        ask,
        prompt,
        note=note,
        answerable=not done,
        variant=variant,
        campaign=pack.campaign if pack else None,
    )
    return PressResult(answer=answer, counted=True, edit=edit)


def _press_topic(
    db: Database, ctx: Context, supporter: SupporterRow, topic: str | None
) -> PressResult:
    known = ctx.catalog.topics
    if topic is None:
        supporters_db.set_topics(db, supporter.id, [])
    else:
        if topic not in known:
            return stale()
        chosen = set(supporters_db.topics(db, supporter.id) or known)
        chosen ^= {topic}
        if not chosen:
            return PressResult(answer=wording.TOPICS_KEEP_ONE)
        supporters_db.set_topics(db, supporter.id, [] if chosen >= set(known) else sorted(chosen))
    message = topics_message(db, ctx, supporter)
    return PressResult(answer=wording.TOPICS_SAVED, counted=True, edit=message)


def handle_press(db: Database, ctx: Context, origin: Origin, value: str) -> PressResult:
    """Answer a button press. A forged, malformed or stale button changes nothing."""
    button = ctx.ids.read(value)
    if button is None:
        return stale()
    if button.verb in (Verb.DONE, Verb.SKIP):
        kind = ActionKind.DONE if button.verb is Verb.DONE else ActionKind.SKIPPED
        return _press_answer(db, ctx, origin, kind, button.argument)
    if button.verb is Verb.CAMPAIGN:
        return _press_campaign(db, ctx, origin, button.argument)
    if origin.kind is ChatKind.GROUP or button.verb in (Verb.SEND, Verb.CANCEL):
        return stale()  # topic, erasure and poll buttons only exist in private chats
    if button.verb is Verb.FORGET:
        binding = _erasure_binding(db, ctx, origin)
        if binding is None:
            return PressResult(answer=wording.NOTHING_HELD)
        if not _forget_button_holds(button.argument, binding, time.time()):
            return PressResult(answer=wording.FORGET_EXPIRED)
        supporters.forget(db, ctx.pseudonyms, origin)
        return PressResult(
            answer=wording.ERASED, counted=True, edit=Message(text=wording.FORGOTTEN)
        )
    if button.verb is Verb.KEEP:
        return PressResult(answer=wording.KEPT, edit=Message(text=wording.FORGET_KEPT))
    supporter = supporters.find(db, origin)
    if supporter is None or not supporters.is_subscribed(supporter):
        return PressResult(answer=wording.NOT_SUBSCRIBED)
    if button.verb is Verb.TOPIC:
        return _press_topic(db, ctx, supporter, button.argument)
    if button.verb is Verb.TOPICS_ALL:
        return _press_topic(db, ctx, supporter, None)
    if button.verb is Verb.POLL:
        return polls.press(db, ctx.ids, supporter, button.argument)
    return stale()
