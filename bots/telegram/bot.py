"""The Telegram adapter: PTB's `Application` turns updates into core calls, and the
core's messages into Bot API calls. It is also the delivery engine's messenger.

It comes online on its own and keeps trying while the Bot API can't be reached (the
rest of the process runs meanwhile); only a refused token or an address that is not
the Bot API stops it. The command menus are cosmetic: if setting them fails, they are
set later. Polling rides out an outage (PTB retries getUpdates; `retry.py` keeps the
log to a line or two), and a send always ends in one of the engine's DeliveryErrors.
With `telegram_webhook_url` set it doesn't poll: Telegram posts updates to the
dashboard's server (`webhook.py`), and a start without it deletes the webhook again.

Nothing a supporter types is logged or stored: only a command's name and its few
arguments go to the core. In a private chat the bot reads plain text only (see
`screening.py`): anything else, and any edit that turns a message into something else,
is deleted unopened and answered with where to report. Nothing is ever downloaded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import Route
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Chat,
    ChatMemberUpdated,
    InputFile,
    LinkPreviewOptions,
    Update,
    User,
)
from telegram import Message as TgMessage
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots.telegram.limiter import HAND_BACK, GroupSpacing
from bots.telegram.render import html, keyboard
from bots.telegram.request import (
    AiohttpRequest,
    LostInTransit,
    NotBotApi,
    form_encoded,
    with_chat,
)
from bots.telegram.retry import PollingWatch, quiet_network_tracebacks, reason
from bots.telegram.screening import NOTICE, PLAIN_TEXT
from bots.telegram.webhook import SETTING as WEBHOOK_SETTING
from bots.telegram.webhook import Webhook, route
from campaigns import wording
from campaigns.backoff import Backoff
from campaigns.commands import parse, plain_word
from campaigns.core import Core
from campaigns.invites import ARGUMENT, StartLinks
from campaigns.languages import LANGUAGES
from campaigns.messenger import (
    AdapterHealth,
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    StartupFailure,
    TransientFailure,
)
from campaigns.model import ChatKind, Message, Origin
from campaigns.organising import COMMANDS as ORGANISER_COMMANDS
from campaigns.pacing import Pacer

log = logging.getLogger(__name__)

PLATFORM = "telegram"
# Telegram allows about 30 messages a second overall and 20 a minute to one group.
# Evenly spaced at 29.4 a second, any one-second window holds 30 or fewer.
OVERALL_RATE = 29.4
# Paid broadcasts (allow_paid_broadcast, 0.1 Stars a message) may go up to 1,000 a
# second; the engine's sends keep 2% under the limit, as 29.4 is under 30.
PAID_LIMIT = 1000.0
PAID_PACE = 0.98
# The pace's one-second window allows for this much network jitter (seconds). Up to
# 1/PAID_PACE - 1 (20 ms) it costs no speed; the 25 ms the free pace allows would hold
# 980 a second down to 976 (see `campaigns.pacing`).
PAID_MARGIN = 0.02
GROUP_SPACING_SECONDS = 3.05
GONE_MARKERS = ("chat not found", "user not found", "bot was kicked", "peer_id_invalid")
# Edited messages come too: an edit can add a link to a message that was plain text.
UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
PRIVATE = filters.ChatType.PRIVATE
NEW = filters.UpdateType.MESSAGE  # not an edit: an edited command is not run again
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
FORMS_KEPT = 16  # encoded messages kept for the engine's sends (one per prompt sending)
SCREENED_MEMORY = 4096  # message ids (only ids) remembered so one message gets one answer
# Seconds of requests failing without the Bot API's answer before health says so: PTB
# tries a failed poll again within seconds, and one blip is not an outage.
HEALTH_GRACE = 15.0
REFUSED_BY_TELEGRAM = (
    "Telegram refused the bot token: copy TELEGRAM_BOT_TOKEN again from @BotFather "
    "(and if you set TELEGRAM_API_URL, check that it ends in /bot)."
)


def start_links(username: str) -> StartLinks:
    """A deep link opens a chat with the bot and sends `/start <argument>` once the
    person presses Start (https://core.telegram.org/bots/features#deep-linking)."""
    return StartLinks(url=f"https://t.me/{username}?start={ARGUMENT}")


def origin_of(chat: Chat, user: User | None, *, organiser: bool = False) -> Origin:
    kind = ChatKind.PRIVATE if chat.type == Chat.PRIVATE else ChatKind.GROUP
    who = str(user.id) if user else None
    # the user's app language, as Telegram reports it: the core keeps only one it has
    language = user.language_code if user else None
    return Origin(PLATFORM, str(chat.id), kind, user=who, organiser=organiser, language=language)


class TelegramBot:
    """One bot account: its Application (polling, or fed by the webhook), and sending for
    the engine."""

    platform = PLATFORM

    def __init__(
        self,
        core: Core,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        limits: bool = True,
        max_rate: float = OVERALL_RATE,
        read_timeout: float = 10.0,
        retry_first: float = 1.0,
        retry_cap: float = 60.0,
        menus_retry_first: float = 30.0,
        menus_retry_cap: float = 3600.0,
        webhook: Webhook | None = None,
        health_grace: float = HEALTH_GRACE,
        paid_broadcast: bool = False,
        paid_rate: float = PAID_LIMIT,
    ) -> None:
        self.core = core
        self.webhook = webhook
        # Every message to a chat takes a slot of this one pace: replies, edits and the
        # engine's sends (the engine takes its slot before claiming a delivery). With
        # paid broadcasts the engine's sends are paid and the pace is the paid limit's;
        # replies and edits stay unpaid, so they also keep to the free pace (`_free`).
        self.paid_broadcast = paid_broadcast
        free = Pacer(max_rate) if limits and max_rate > 0 else None
        self._free: Pacer | None = None
        self.pacer = free
        if paid_broadcast and free is not None:
            self.pacer = Pacer(paid_rate * PAID_PACE, per_second=int(paid_rate), margin=PAID_MARGIN)
            self._free = free
        self._forms: dict[tuple[int, bool], tuple[Message, bytes]] = {}  # see `_form`
        self.polling = PollingWatch(token=token)
        requests = (
            AiohttpRequest(read_timeout=read_timeout),
            AiohttpRequest(connections=2, observer=self.polling),
        )
        builder: Any = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_url.removesuffix("bot") + "file/bot")
            .request(requests[0])
            .get_updates_request(requests[1])
            .concurrent_updates(256)
        )
        if webhook is not None:  # Telegram posts updates to the route in `routes()`
            builder = builder.updater(None)
        self._spacing: GroupSpacing | None = None
        if limits:
            # Spacing to each group, and replies that wait out a 429 (the engine's sends
            # don't: it pauses the pace itself); the overall pace is `self.pacer`, which
            # keeps its rate exactly where a bucket of one falls short of it.
            self._spacing = GroupSpacing(
                group_rate=1, group_period=GROUP_SPACING_SECONDS, retries=3
            )
            builder = builder.rate_limiter(self._spacing)
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._requests = requests
        self._token = token
        self._api = _scheme_and_host(base_url)
        self._retry = (retry_first, retry_cap)
        self._menus_retry = (menus_retry_first, menus_retry_cap)
        self._menus_tried = False
        self._online = False  # between online() returning and offline()
        self._health_grace = health_grace
        self._background: set[asyncio.Task[Any]] = set()
        self._screened: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._add_handlers()

    def _add_handlers(self) -> None:
        # The first handler that matches takes the update. In a private chat, anything
        # but plain text (new or edited) is screened out before a command can run; an
        # edit that stays plain text, and Telegram's own notices, match nothing.
        app = self.app
        app.add_handler(CallbackQueryHandler(self.on_press))
        app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self.on_migrate))
        app.add_handler(MessageHandler(PRIVATE & ~PLAIN_TEXT & ~NOTICE, self.on_not_plain_text))
        app.add_handler(MessageHandler(NEW & filters.COMMAND, self.on_command))
        app.add_handler(MessageHandler(PRIVATE & NEW & PLAIN_TEXT, self.on_free_text))
        app.add_handler(ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER))
        app.add_error_handler(self.on_error)

    # --- running -----------------------------------------------------------

    async def online(self) -> None:
        """Come online: check the token (getMe), set the command menus, start polling (PTB
        deletes any webhook first: Telegram refuses getUpdates while one is set) or, with
        a webhook, ask Telegram to post updates to it (setWebhook); return once updates
        can come in.

        While the Bot API can't be reached (no connection, a timeout, a 5xx, a 429), it
        tries again after a capped, jittered wait, one warning line each time. It raises
        StartupFailure, one line naming the setting to fix, only when refused for sure:
        the token (401), an address that is not the Bot API, or a webhook address that
        can't be used (Telegram's 400 to setWebhook). Cancelling it (at shutdown) closes
        whatever it opened; `offline()` afterwards is harmless.
        """
        if self.webhook is not None and (problem := self.webhook.problem(self._token)):
            raise StartupFailure(problem)
        quiet_network_tracebacks()
        backoff = Backoff(*self._retry)
        try:
            while True:
                try:
                    await self._start()
                    break
                except TelegramError as exc:
                    if _refused(exc):
                        # `from None`: PTB's own messages can hold the token ("The token
                        # `...` was rejected"), and a traceback would print the chain.
                        raise StartupFailure(self._startup_failure(exc)) from None
                    wait = backoff.next()
                    if isinstance(exc, RetryAfter):
                        wait = max(wait, _seconds(exc.retry_after))
                    log.warning(
                        "telegram: can't reach the Bot API at %s (%s); trying again in %s",
                        self._api,
                        reason(exc, self._token),
                        _duration(wait),
                    )
                    await asyncio.sleep(wait)
        except BaseException:  # refused, or cancelled at shutdown: close what was opened
            await self.offline()
            raise
        self._online = True
        if self.paid_broadcast:
            rate = f" at up to {self.pacer.rate:.0f} a second" if self.pacer else ""
            log.info(
                "telegram: paid broadcasts on: asks go out%s for 0.1 Stars each, from the "
                "bot's balance; replies stay free",
                rate,
            )
        if self.webhook is None:
            log.info("telegram: polling as @%s", self.app.bot.username)
        else:
            log.info(
                "telegram: @%s gets updates by webhook at %s (the dashboard's server must "
                "answer there)",
                self.app.bot.username,
                self.webhook.shown,
            )

    async def _start(self) -> None:
        """One try at each step not yet done; PTB skips what is already initialised."""
        await self.app.initialize()  # getMe: the token and the address are checked here
        # Invite links are deep links to this bot, by the username getMe gave us.
        self.core.set_start_links(PLATFORM, start_links(self.app.bot.username))
        if not self._menus_tried:
            await self._menus_or_later()
            self._menus_tried = True
        if not self.app.running:
            await self.app.start()
        if self.webhook is not None:
            await self._set_webhook(self.webhook)
            return
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            allowed_updates=UPDATES, timeout=10, error_callback=self.polling.failed
        )

    async def _set_webhook(self, webhook: Webhook) -> None:
        """Ask Telegram to post updates to the webhook, keeping those that queued while the
        bot was away. A 400 is Telegram refusing the address: no try will change that."""
        try:
            await self.app.bot.set_webhook(
                webhook.url,
                allowed_updates=UPDATES,
                secret_token=webhook.secret_token,
                drop_pending_updates=False,
            )
        except BadRequest as exc:
            raise StartupFailure(
                f"Telegram refused {WEBHOOK_SETTING} {webhook.shown}: "
                f"{_redacted(exc.message, self._token)}"
            ) from None
        except InvalidToken as exc:
            if _token_refused(exc):
                raise
            raise StartupFailure(
                f"The Bot API at {self._api} has no setWebhook: unset {WEBHOOK_SETTING} "
                "to poll for updates instead"
            ) from None

    def routes(self) -> list[Route]:
        """What the dashboard's server serves for this bot: the webhook, when there is one
        (and its address can serve: else `online()` refuses to start)."""
        if self.webhook is None or self.webhook.problem(self._token):
            return []
        return [route(self.webhook, self.app)]

    def _startup_failure(self, exc: TelegramError) -> str:
        """One line on what to fix; the URL shown is scheme and host (the token is in paths)."""
        if isinstance(exc, InvalidToken):
            return REFUSED_BY_TELEGRAM
        if isinstance(exc, NotBotApi):
            return (
                f"The server at {self._api} doesn't answer like the Telegram Bot API: check "
                "TELEGRAM_API_URL (Telegram's own is https://api.telegram.org/bot)."
            )
        return (
            f"Telegram at {self._api} refused to start the bot ({type(exc).__name__}): "
            "check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL."
        )

    async def offline(self) -> None:
        """Stop polling and close the connections (safe after a failed or cancelled start,
        and twice). A webhook stays set: Telegram keeps the updates that come meanwhile,
        and posts them once the bot (or the next start) answers again."""
        self._online = False
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.app.shutdown()
        # PTB closes its connections only if it got as far as getMe; after a failed start
        # they are still open.
        for request in self._requests:
            await request.shutdown()

    def health(self) -> AdapterHealth:
        """Connected: online, and the Bot API answering (requests failing without its
        answer for longer than `health_grace` seconds, a poll included, say it isn't)."""
        polls, sends = self._requests[1], self._requests[0]
        failing = [r.failing_since for r in self._requests if r.failing_since is not None]
        failing_for = time.time() - min(failing) if failing else 0.0
        note = ""
        if not self._online:
            note = "not online"
        elif failing_for >= self._health_grace:
            note = f"the Bot API has not answered for {failing_for:.0f}s"
        return AdapterHealth(
            connected=not note,
            last_ok=_moment(max(polls.last_ok or 0.0, sends.last_ok or 0.0)),
            last_event=_moment(polls.last_ok or 0.0) if self.webhook is None else None,
            note=note,
        )

    async def _menus_or_later(self) -> None:
        """Set the menus now; if that fails (an emulator without setMyCommands, a bad
        minute), say so once and keep trying in the background. Only a refused token
        stops start-up."""
        try:
            await self.set_command_menus()
        except TelegramError as exc:
            if _token_refused(exc):
                raise
            log.warning(
                "telegram: couldn't set the command menus (%s); the bot works without them, "
                "trying again later",
                reason(exc, self._token),
            )
            self._later(self._menus_until_set())

    async def _menus_until_set(self) -> None:
        backoff = Backoff(*self._menus_retry)
        while True:
            await asyncio.sleep(backoff.next())
            try:
                await self.set_command_menus()
            except TelegramError as exc:
                if _token_refused(exc):
                    log.warning("telegram: gave up setting the command menus: token refused")
                    return
                log.debug("telegram: command menus still not set (%s)", type(exc).__name__)
                continue
            log.info("telegram: command menus set")
            return

    async def set_command_menus(self) -> None:
        """One menu for supporters, one for groups, and one for each organiser's chat."""
        bot = self.app.bot
        supporters = [BotCommand(name, what) for name, what in wording.COMMANDS]
        groups = [BotCommand(name, what) for name, what in wording.GROUP_COMMANDS]
        organisers = supporters + [BotCommand(name, what) for name, what in ORGANISER_COMMANDS]
        await bot.set_my_commands(supporters)
        await bot.set_my_commands(supporters, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(groups, scope=BotCommandScopeAllGroupChats())
        for code in LANGUAGES[1:]:  # English is the default; each other catalogue has its own
            private = [BotCommand(name, what) for name, what in wording.commands(code)]
            group = [BotCommand(name, what) for name, what in wording.group_commands(code)]
            await bot.set_my_commands(private, BotCommandScopeAllPrivateChats(), code)
            await bot.set_my_commands(group, BotCommandScopeAllGroupChats(), code)
        for entry in sorted(self.core.organisers):
            platform, _, user = entry.partition(":")
            if platform == PLATFORM:
                try:
                    await bot.set_my_commands(organisers, scope=BotCommandScopeChat(int(user)))
                except BadRequest:  # no chat with that organiser yet
                    log.warning("telegram: no chat yet with organiser %s for their menu", user)

    def _later(self, coroutine: Any) -> None:
        """Run something that must not hold up the reply (an edit under the rate limit)."""
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- updates -----------------------------------------------------------

    def _origin(self, chat: Chat, user: User | None) -> Origin:
        """Who and where, with whether the organiser list names this person."""
        organiser = user is not None and self.core.is_organiser(PLATFORM, str(user.id))
        return origin_of(chat, user, organiser=organiser)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A slash command: a supporter's, a group's or an organiser's (the core tells
        them apart, and asks whether the sender is a group admin when it matters)."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or user is None or chat.type == Chat.CHANNEL:
            return
        command = parse(message.text, bot_username=context.bot.username)
        if command is None:
            return

        async def is_admin() -> bool:
            member = await self.app.bot.get_chat_member(chat.id, user.id)
            return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

        origin = self._origin(chat, user)
        for reply in await self.core.command(origin, command.name, command.args, admin=is_admin):
            await self.reply(chat.id, reply)

    async def on_press(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: counted (or refused) by the core, always answered."""
        query = update.callback_query
        if query is None:
            return
        answer = wording.BUTTON_STALE
        try:
            message = query.message
            if not isinstance(message, TgMessage):  # too old for Telegram to show us
                return
            result = await self.core.press(
                self._origin(message.chat, query.from_user), query.data or ""
            )
            answer = result.answer
            if result.edit is not None:
                self._later(self._edit(message, result.edit))
            for reply in result.replies:
                await self.reply(message.chat.id, reply)
        finally:
            await query.answer(answer[:200])

    async def _edit(self, message: TgMessage, new: Message) -> None:
        await self._free_slot()
        try:
            await message.edit_text(
                html(new),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(new),
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as exc:  # e.g. "message is not modified" after a double press
            log.info("telegram: edit skipped: %s", exc.message)

    async def on_not_plain_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything but plain text in a private chat (media, a story, a link, a command
        carrying a link, an edit that added one): never opened, deleted, and answered
        with where to report. A command in it is not run."""
        message = update.effective_message
        if message is None:
            return
        key = (message.chat.id, message.message_id)
        if key in self._screened:  # e.g. a photo and an edit of its caption, both queued
            return
        self._screened[key] = None
        if len(self._screened) > SCREENED_MEMORY:
            self._screened.popitem(last=False)
        try:
            removed = await message.delete()
        except (BadRequest, Forbidden):
            removed = False
        await self.reply(message.chat.id, Message(text=wording.safeguarding(removed)))

    async def on_free_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text that isn't a command, in a private chat. STOP, UNSUBSCRIBE or START
        alone work as their commands; anything else may be someone reaching out, so the
        answer says where to get help. The text is dropped unread."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None:
            return
        word = plain_word(message.text)
        if word is None or chat is None or user is None:
            await self.reply(message.chat.id, Message(text=wording.FREE_TEXT))
            return
        for reply in await self.core.command(self._origin(chat, user), word.name, word.args):
            await self.reply(chat.id, reply)

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The bot was blocked, or removed from a group: send that chat nothing more."""
        change: ChatMemberUpdated | None = update.my_chat_member
        if change is None:
            return
        status = change.new_chat_member.status
        if status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
            await self.core.gone(PLATFORM, str(change.chat.id))

    async def on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: its subscription moves to the new chat id."""
        message = update.effective_message
        if message is not None and message.migrate_to_chat_id:
            await self.core.moved(PLATFORM, str(message.chat.id), str(message.migrate_to_chat_id))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log what failed, never what the update said."""
        error = context.error
        kind = type(update).__name__ if update is not None else "no update"
        if isinstance(error, NetworkError | RetryAfter) and not isinstance(error, BadRequest):
            # Telegram had a bad moment (an outage, a dropped connection): not our bug.
            log.warning("telegram: couldn't answer a %s (%s)", kind, reason(error, self._token))
            return
        log.error("telegram: error handling %s: %r", kind, error, exc_info=error)

    # --- sending -----------------------------------------------------------

    async def reply(self, chat_id: int, message: Message) -> None:
        """Send a reply in a chat, at the pace (never paid)."""
        await self._free_slot()
        await self._post(chat_id, message)

    async def _free_slot(self) -> None:
        """A slot for an unpaid message (a reply, an edit): of the shared pace and, when
        the engine's sends are paid broadcasts, of the free pace too."""
        if self._free is not None:
            await self._free.wait()
        if self.pacer is not None:
            await self.pacer.wait()

    async def _post(
        self, chat_id: int, message: Message, *, wait_out_429: bool = True, paid: bool = False
    ) -> None:
        """One message; a 429 is waited out (a reply) or raised at once (the engine's send,
        which pauses the pace itself). `paid`: a paid broadcast (allow_paid_broadcast)."""
        bot = self.app.bot
        hand_back = not wait_out_429 and bot.rate_limiter is not None
        retries = HAND_BACK if hand_back else None
        if message.attachment is not None:
            attachment = message.attachment
            await bot.send_document(
                chat_id,
                InputFile(attachment.content, filename=attachment.filename),
                caption=message.text[:1024] or None,
                allow_paid_broadcast=paid or None,
                rate_limit_args=retries,
            )
            return
        if wait_out_429:
            await bot.send_message(
                chat_id,
                html(message),
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(message),
                link_preview_options=NO_PREVIEW,
            )
            return
        # The engine's send: the same request, its body encoded once for every chat that
        # gets this message, and Telegram's answer not made into objects nobody reads
        # (see `request.FormBody`). Group spacing still applies; a 429 comes back.
        request, body = self._requests[0], with_chat(chat_id, self._form(message, paid))
        url = f"{bot.base_url}/sendMessage"
        if self._spacing is None:
            await request.post(url, body)
            return
        await self._spacing.process_request(
            request.post, (url, body), {}, "sendMessage", {"chat_id": chat_id}, HAND_BACK
        )

    def _form(self, message: Message, paid: bool) -> bytes:
        """The sendMessage parameters of a message, but its chat, url-encoded; kept for the
        last few messages (the engine sends one message object to a whole audience)."""
        key = (id(message), paid)
        found = self._forms.get(key)
        if found is not None and found[0] is message:
            return found[1]
        form = form_encoded(
            {
                "text": html(message),
                "parse_mode": ParseMode.HTML.value,
                "reply_markup": keyboard(message),
                "link_preview_options": NO_PREVIEW,
                "allow_paid_broadcast": True if paid else None,
            }
        )
        while len(self._forms) >= FORMS_KEPT:
            self._forms.pop(next(iter(self._forms)))
        self._forms[key] = (message, form)
        return form

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Nothing to get ready: a Telegram send is one request."""

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """The engine's messenger (which has taken a slot of the pace already): send, as a
        paid broadcast when they are on, and say how it went in the core's terms. Every
        failure is one of the DeliveryErrors."""
        await self._deliver(address, message, paid=self.paid_broadcast)

    async def send_free(self, address: str, kind: ChatKind, message: Message) -> None:
        """A one-off (an organiser's test send, `send_one`), never paid: as `send`, and it
        keeps to the free pace too."""
        if self._free is not None:
            await self._free.wait()
        await self._deliver(address, message, paid=False)

    async def _deliver(self, address: str, message: Message, *, paid: bool) -> None:
        if not self._online:  # PTB would raise RuntimeError: nothing can leave yet
            raise TransientFailure("the Telegram adapter is not online")
        try:
            await self._send(address, message, paid)
        except DeliveryError:
            raise
        except Exception as exc:  # a bug of ours, not Telegram's answer: keep its traceback
            log.exception("telegram: unexpected error sending to a chat")
            raise Refused(f"unexpected error: {type(exc).__name__}") from exc

    async def _send(self, address: str, message: Message, paid: bool) -> None:
        try:
            await self._post(int(address), message, wait_out_429=False, paid=paid)
        except ChatMigrated as exc:
            await self.core.moved(PLATFORM, address, str(exc.new_chat_id))
            if self.pacer is not None:  # a second request: it takes a slot of its own
                await self.pacer.wait()
            await self._send(str(exc.new_chat_id), message, paid)
        except Forbidden as exc:
            raise RecipientGone(exc.message) from exc
        except RetryAfter as exc:
            raise RateLimited(_seconds(exc.retry_after)) from exc
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in GONE_MARKERS):
                raise RecipientGone(exc.message) from exc
            raise Refused(exc.message) from exc
        except (TimedOut, LostInTransit) as exc:
            raise OutcomeUnknown(exc.message) from exc
        except NotBotApi as exc:
            # Something between us and Telegram answered. A success status means the
            # request went through it, so it may have been delivered.
            if 200 <= exc.status < 300:
                raise OutcomeUnknown(exc.message) from exc
            raise TransientFailure(exc.message) from exc
        except NetworkError as exc:
            # NotSent, or an error status (5xx) that Telegram answered with: not taken.
            raise TransientFailure(_redacted(exc.message, self._token)) from exc
        except TelegramError as exc:
            raise Refused(_redacted(exc.message, self._token)) from exc


def _refused(exc: TelegramError) -> bool:
    """Is this start-up failure definite (stop and say what to fix) rather than a bad
    minute (try again)? Definite: the token refused, an address that answers but is not
    the Bot API, or the Bot API refusing a request outright."""
    if isinstance(exc, InvalidToken):
        return True
    if isinstance(exc, NotBotApi):
        return not 500 <= exc.status < 600  # a 5xx page is a proxy's, during an outage
    if isinstance(exc, BadRequest):
        return True
    return not isinstance(exc, NetworkError | RetryAfter)


def _token_refused(exc: TelegramError) -> bool:
    """A 401. PTB raises InvalidToken for a 404 too, which after a good getMe means a
    method the server doesn't have (a third-party emulator), not a bad token."""
    return isinstance(exc, InvalidToken) and "not found" not in str(exc).lower()


def _seconds(wait: object) -> float:
    """RetryAfter.retry_after, an int or a timedelta depending on PTB_TIMEDELTA."""
    if isinstance(wait, int | float):
        return float(wait)
    total = getattr(wait, "total_seconds", None)
    return float(total()) if callable(total) else 0.0


def _moment(stamp: float) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp else None


def _duration(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 1.5 else f"{seconds:.1f}s"


def _redacted(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


def _scheme_and_host(url: str) -> str:
    """What a message may show of TELEGRAM_API_URL: never its path, which can hold a token,
    nor any user:password."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.scheme or not parts.hostname:
        return "an address without a scheme and host (it should start https://)"
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")
