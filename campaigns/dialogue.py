"""The supporter conversation: the same commands and buttons on every platform.

`handle_command` and `handle_press` take what an adapter heard and return what to
say back. They run inside one write transaction. Only the command name and its
few arguments arrive here; free text never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from campaigns import supporters, wording
from campaigns.buttons import ButtonIds, Verb
from campaigns.catalog import Catalog
from campaigns.compose import ask_message
from campaigns.model import (
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
from db.catalog import AskRow
from db.prompts import PromptRow
from db.supporters import SupporterRow
from db.times import now_text

PRIVATE_ONLY = frozenset({"topics", "pause", "resume", "mydata", "forget"})


@dataclass(frozen=True)
class Context:
    """What the conversation needs besides the database."""

    catalog: Catalog
    ids: ButtonIds


def _say(*texts: str) -> list[Message]:
    return [Message(text=text) for text in texts]


def current_prompt(db: Database, ctx: Context) -> tuple[PromptRow, AskRow] | None:
    """The default campaign's ask of the moment.

    Before any prompt has gone out, the first ask stands as a 'standing' prompt,
    so a new supporter always has something to act on and every action still
    names a prompt.
    """
    campaign = ctx.catalog.default
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
            kind="standing",
            scheduled_at=now,
            timezone=pack.campaign.schedule.timezone,
            created_by="system",
            state="sent",
        )
    ask = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    return (prompt, ask) if ask else None


def _show_current(db: Database, ctx: Context, supporter: SupporterRow) -> list[Message]:
    found = current_prompt(db, ctx)
    if found is None:
        return _say(wording.NO_ASK_YET)
    prompt, ask = found
    deliveries_db.record_direct(db, prompt.id, supporter)
    chosen = supporters_db.topics(db, supporter.id)
    note = wording.topic_off(ask.topic) if chosen and ask.topic not in chosen else ""
    return [ask_message(ctx.ids, ask, prompt, note=note)]


def _answered_prompt(db: Database, ctx: Context, actor: SupporterRow) -> PromptRow | None:
    """The prompt a typed /done or /skip is about: the last one the supporter was sent,
    else the ask of the moment."""
    prompt = prompts_db.latest_for_supporter(db, actor.key)
    if prompt is not None:
        return prompt
    found = current_prompt(db, ctx)
    return found[0] if found else None


def record_action(
    db: Database,
    actor: SupporterRow,
    prompt: PromptRow,
    kind: ActionKind,
    via: str,
    source: str | None,
) -> bool:
    return actions_db.record(
        db,
        prompt_id=prompt.answers_to,
        supporter_key=actor.key,
        kind=kind,
        platform=actor.platform,
        source=source,
        via=via,
    )


def _group_source(db: Database, origin: Origin) -> str | None:
    group = supporters.find(db, origin)
    return group.source if group else None


def _answer_by_command(
    db: Database, ctx: Context, origin: Origin, kind: ActionKind
) -> list[Message]:
    if origin.kind is ChatKind.GROUP:
        if not supporters.is_subscribed(supporters.find(db, origin)):
            return _say(wording.NOT_SUBSCRIBED)
        actor = supporters.actor_for_press(db, origin)
        source = _group_source(db, origin)
    else:
        actor = supporters.find(db, origin)
        source = actor.source if actor else None
    if actor is None or actor.status == SupporterStatus.STOPPED:
        return _say(wording.NOT_SUBSCRIBED)
    prompt = _answered_prompt(db, ctx, actor)
    if prompt is None:
        return _say(wording.NO_ASK_YET)
    new = record_action(db, actor, prompt, kind, "command", source)
    if kind is ActionKind.DONE:
        return _say(wording.DONE_THANKS if new else wording.DONE_ALREADY)
    return _say(wording.SKIP_NOTED if new else wording.SKIP_ALREADY)


def topics_message(db: Database, ctx: Context, supporter: SupporterRow) -> Message:
    chosen = supporters_db.topics(db, supporter.id)
    every = not chosen
    rows = tuple(
        (
            Button(
                ("✓ " if every or topic in chosen else "○ ") + topic,
                action=ctx.ids.make(Verb.TOPIC, topic),
            ),
        )
        for topic in ctx.catalog.topics
    )
    rows += ((Button("Every topic", action=ctx.ids.make(Verb.TOPICS_ALL)),),)
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
        if len(args) != 1 or not args[0].isdigit() or not 1 <= int(args[0]) <= 12:
            return _say(wording.PAUSE_USAGE)
        weeks = int(args[0])
    until = supporters.pause(db, supporter, weeks)
    if weeks and until:
        return _say(wording.paused_for(weeks, until[:10]))
    return _say(wording.PAUSED)


def _mydata_command(db: Database, supporter: SupporterRow) -> list[Message]:
    data = supporters.export(db, supporter)
    topics = data["topics"]
    facts = [
        ("Platform", supporter.platform),
        ("Chat id", supporter.address),
        ("Status", supporter.status),
        ("Subscribed since", supporter.created_at[:10]),
        ("How you found us", supporter.source or "not recorded"),
        ("Topics", "every topic" if topics == "all" else ", ".join(topics)),
        ("Asks sent to you", str(data["asks_delivered"])),
        ("Buttons you pressed", str(len(data["actions"]))),
    ]
    export = json.dumps(data, indent=2, ensure_ascii=False).encode()
    return [
        Message(
            text=wording.mydata_summary(facts),
            attachment=Attachment("campaignbot-mydata.json", export),
        )
    ]


def _forget_command(
    db: Database, ctx: Context, origin: Origin, args: tuple[str, ...]
) -> list[Message]:
    if supporters.find(db, origin) is None:
        return _say(wording.NOTHING_HELD)
    if args == ("yes",):
        supporters.forget(db, origin)
        return _say(wording.FORGOTTEN)
    buttons = (
        (
            Button(wording.FORGET_YES, action=ctx.ids.make(Verb.FORGET)),
            Button(wording.FORGET_NO, action=ctx.ids.make(Verb.KEEP)),
        ),
    )
    return [Message(text=wording.FORGET_CONFIRM, buttons=buttons)]


def _group_command(
    db: Database, ctx: Context, origin: Origin, name: str, admin: bool
) -> list[Message]:
    group = supporters.find(db, origin)
    if name == "subscribe_group":
        if not admin:
            return _say(wording.GROUP_ONLY_ADMINS)
        subscribed = supporters.subscribe(db, origin, None)
        return [
            Message(text=wording.GROUP_SUBSCRIBED),
            *_show_current(db, ctx, subscribed.supporter),
        ]
    if name == "stop":
        if not admin:
            return _say(wording.GROUP_ONLY_ADMINS)
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
    return _say(wording.help_text(supporters.is_subscribed(group)))


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
        return _group_command(db, ctx, origin, name, admin)
    if name == "start":
        # a deep link carries exactly one code; anything else typed after /start is dropped
        subscribed = supporters.subscribe(db, origin, args[0] if len(args) == 1 else None)
        pack = ctx.catalog.packs[ctx.catalog.default].campaign
        welcome = Message(text=wording.welcome(pack.title, pack.description, subscribed.already))
        if subscribed.already:
            return [welcome]
        return [welcome, *_show_current(db, ctx, subscribed.supporter)]
    if name == "help":
        return _say(wording.help_text(supporters.is_subscribed(supporters.find(db, origin))))
    if name in ("done", "skip"):
        kind = ActionKind.DONE if name == "done" else ActionKind.SKIPPED
        return _answer_by_command(db, ctx, origin, kind)
    if name == "forget":
        return _forget_command(db, ctx, origin, args)
    if name == "stop":
        return _say(wording.STOPPED if supporters.stop(db, origin) else wording.ALREADY_STOPPED)
    handlers: dict[str, Callable[[SupporterRow], list[Message]]] = {
        "ask": lambda s: _show_current(db, ctx, s),
        "topics": lambda s: _topics_command(db, ctx, s, args),
        "pause": lambda s: _pause_command(db, s, args),
        "resume": lambda s: _resume(db, s),
        "mydata": lambda s: _mydata_command(db, s),
    }
    handler = handlers.get(name)
    if handler is None:
        return _say(wording.UNKNOWN)
    supporter = supporters.find(db, origin)
    if name == "mydata":
        return handler(supporter) if supporter else _say(wording.NOTHING_HELD)
    if supporter is None or not supporters.is_subscribed(supporter):
        return _say(wording.NOT_SUBSCRIBED)
    return handler(supporter)


def _resume(db: Database, supporter: SupporterRow) -> list[Message]:
    if supporter.status != SupporterStatus.PAUSED:
        return _say(wording.NOT_PAUSED)
    supporters.resume(db, supporter)
    return _say(wording.RESUMED)


STALE = PressResult(answer=wording.BUTTON_STALE)


def _press_answer(
    db: Database, ctx: Context, origin: Origin, kind: ActionKind, prompt_id: str
) -> PressResult:
    if int(prompt_id) == 0:
        return PressResult(answer=wording.PREVIEW_PRESS)
    prompt = prompts_db.get(db, int(prompt_id))
    if prompt is None or prompt.state == "cancelled":
        return STALE
    ask = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    if ask is None:
        return STALE
    actor: SupporterRow | None
    if origin.kind is ChatKind.GROUP:
        group = supporters.find(db, origin)
        if group is None:
            return STALE
        actor, source = supporters.actor_for_press(db, origin), group.source
    else:
        actor = supporters.find(db, origin)
        source = actor.source if actor else None
    if actor is None:
        return PressResult(answer=wording.NOT_SUBSCRIBED)
    new = record_action(db, actor, prompt, kind, "button", source)
    done = kind is ActionKind.DONE
    if not new:
        return PressResult(answer=wording.DONE_ALREADY if done else wording.SKIP_ALREADY)
    answer = wording.DONE_THANKS if done else wording.SKIP_NOTED
    if origin.kind is ChatKind.GROUP:
        return PressResult(answer=answer, counted=True)
    note = "✓ " + (wording.DONE_THANKS if done else wording.SKIP_NOTED)
    edit = ask_message(ctx.ids, ask, prompt, note=note, answerable=not done)
    return PressResult(answer=answer, counted=True, edit=edit)


def _press_topic(
    db: Database, ctx: Context, supporter: SupporterRow, topic: str | None
) -> PressResult:
    known = ctx.catalog.topics
    if topic is None:
        supporters_db.set_topics(db, supporter.id, [])
    else:
        if topic not in known:
            return STALE
        chosen = set(supporters_db.topics(db, supporter.id) or known)
        chosen ^= {topic}
        if not chosen:
            return PressResult(
                answer="Keep at least one topic on. To stop for a while, use /pause."
            )
        supporters_db.set_topics(db, supporter.id, [] if chosen >= set(known) else sorted(chosen))
    message = topics_message(db, ctx, supporter)
    return PressResult(answer="Saved.", counted=True, edit=message)


def handle_press(db: Database, ctx: Context, origin: Origin, value: str) -> PressResult:
    """Answer a button press. A forged, malformed or stale button changes nothing."""
    button = ctx.ids.read(value)
    if button is None:
        return STALE
    if button.verb in (Verb.DONE, Verb.SKIP):
        if not button.argument.isdigit():
            return STALE
        kind = ActionKind.DONE if button.verb is Verb.DONE else ActionKind.SKIPPED
        return _press_answer(db, ctx, origin, kind, button.argument)
    if origin.kind is ChatKind.GROUP or button.verb in (Verb.SEND, Verb.CANCEL):
        return STALE  # topic and erasure buttons only exist in private chats
    supporter = supporters.find(db, origin)
    if supporter is None:
        return PressResult(answer=wording.NOTHING_HELD)
    if button.verb is Verb.TOPIC:
        return _press_topic(db, ctx, supporter, button.argument)
    if button.verb is Verb.TOPICS_ALL:
        return _press_topic(db, ctx, supporter, None)
    if button.verb is Verb.FORGET:
        supporters.forget(db, origin)
        return PressResult(answer="Erased.", counted=True, edit=Message(text=wording.FORGOTTEN))
    if button.verb is Verb.KEEP:
        return PressResult(answer="Kept.", edit=Message(text=wording.FORGET_KEPT))
    return STALE
