"""The Telegram adapter: PTB's `Application` turns updates into core calls, and the
core's messages into Bot API calls. It is also the delivery engine's messenger.

Nothing a supporter types is logged or stored: only a command's name and its few
arguments go to the core. In a private chat the bot reads plain text only (see
`screening.py`): anything else, and any edit that turns a message into something else,
is deleted unopened and answered with where to report. Nothing is ever downloaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

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
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bots.telegram.render import html, keyboard
from bots.telegram.request import AiohttpRequest, LostInTransit, NotBotApi
from bots.telegram.screening import NOTICE, PLAIN_TEXT
from campaigns import wording
from campaigns.buttons import Verb
from campaigns.commands import parse
from campaigns.core import Core
from campaigns.delivery import (
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    StartupFailure,
    TransientFailure,
)
from campaigns.model import ChatKind, Message, Origin
from campaigns.organising import COMMANDS as ORGANISER_COMMANDS
from campaigns.organising import NAMES as ORGANISER_NAMES
from campaigns.organising import NOT_AVAILABLE, OrganiserDesk
from campaigns.pacing import Pacer

log = logging.getLogger(__name__)

PLATFORM = "telegram"
# Telegram allows about 30 messages a second overall and 20 a minute to one group.
# Evenly spaced at 29.4 a second, any one-second window holds 30 or fewer.
OVERALL_RATE = 29.4
GROUP_SPACING_SECONDS = 3.05
GROUP_COMMANDS = ("subscribe_group", "ask", "done", "skip", "stop", "help")
GONE_MARKERS = ("chat not found", "user not found", "bot was kicked", "peer_id_invalid")
# Edited messages come too: an edit can add a link to a message that was plain text.
UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
PRIVATE = filters.ChatType.PRIVATE
NEW = filters.UpdateType.MESSAGE  # not an edit: an edited command is not run again
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
SCREENED_MEMORY = 4096  # message ids (only ids) remembered so one message gets one answer
REFUSED_BY_TELEGRAM = (
    "Telegram refused the bot token: copy TELEGRAM_BOT_TOKEN again from @BotFather "
    "(and if you set TELEGRAM_API_URL, check that it ends in /bot)."
)


def origin_of(chat: Chat, user: User | None) -> Origin:
    kind = ChatKind.PRIVATE if chat.type == Chat.PRIVATE else ChatKind.GROUP
    return Origin(PLATFORM, str(chat.id), kind, user=str(user.id) if user else None)


class TelegramBot:
    """One bot account: its polling Application, and sending for the engine."""

    platform = PLATFORM

    def __init__(
        self,
        core: Core,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        desk: OrganiserDesk | None = None,
        limits: bool = True,
        max_rate: float = OVERALL_RATE,
        read_timeout: float = 10.0,
    ) -> None:
        self.core = core
        self.desk = desk or OrganiserDesk(core)
        # Every message to a chat takes a slot of this one pace: replies, edits and the
        # engine's sends (the engine takes its slot before claiming a delivery).
        self.pacer = Pacer(max_rate) if limits and max_rate > 0 else None
        requests = (AiohttpRequest(read_timeout=read_timeout), AiohttpRequest(connections=2))
        builder: Any = (
            Application.builder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_url.removesuffix("bot") + "file/bot")
            .request(requests[0])
            .get_updates_request(requests[1])
            .concurrent_updates(256)
        )
        if limits:
            # PTB's limiter spaces sends to each group and waits out 429s (pausing every
            # request meanwhile); the overall pace is `self.pacer`, which keeps its rate
            # exactly where a bucket of one falls short of it.
            builder = builder.rate_limiter(
                AIORateLimiter(
                    overall_max_rate=0,
                    group_max_rate=1,
                    group_time_period=GROUP_SPACING_SECONDS,
                    max_retries=3,
                )
            )
        self.app: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self._requests = requests
        self._api = _scheme_and_host(base_url)
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
        """Initialise, set the command menus and start polling.

        Raises StartupFailure, one line naming the setting to fix, if Telegram refuses the
        token or the Bot API can't be reached at TELEGRAM_API_URL.
        """
        try:
            await self.app.initialize()
            await self.set_command_menus()
            await self.app.start()
            assert self.app.updater is not None
            await self.app.updater.start_polling(allowed_updates=UPDATES, timeout=10)
        except TelegramError as exc:
            await self.offline()
            # `from None`: PTB's own messages can hold the token ("The token `...` was
            # rejected"), and a traceback would print the chain.
            raise StartupFailure(self._startup_failure(exc)) from None
        log.info("telegram: polling as @%s", self.app.bot.username)

    def _startup_failure(self, exc: TelegramError) -> str:
        """One line on what to fix; the URL shown is scheme and host (the token is in paths)."""
        if isinstance(exc, InvalidToken):
            return REFUSED_BY_TELEGRAM
        if isinstance(exc, NotBotApi):
            return (
                f"The server at {self._api} doesn't answer like the Telegram Bot API: check "
                "TELEGRAM_API_URL (Telegram's own is https://api.telegram.org/bot)."
            )
        if isinstance(exc, NetworkError):
            return (
                f"Can't reach the Telegram Bot API at {self._api}: check TELEGRAM_API_URL "
                "and this machine's network."
            )
        return (
            f"Telegram at {self._api} refused to start the bot ({type(exc).__name__}): "
            "check TELEGRAM_BOT_TOKEN and TELEGRAM_API_URL."
        )

    async def offline(self) -> None:
        """Stop polling and close the connections."""
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

    async def set_command_menus(self) -> None:
        """One menu for supporters, one for groups, and one for each organiser's chat."""
        bot = self.app.bot
        supporters = [BotCommand(name, what) for name, what in wording.COMMANDS]
        groups = [BotCommand(name, what) for name, what in _group_commands()]
        organisers = supporters + [BotCommand(name, what) for name, what in ORGANISER_COMMANDS]
        await bot.set_my_commands(supporters)
        await bot.set_my_commands(supporters, scope=BotCommandScopeAllPrivateChats())
        await bot.set_my_commands(groups, scope=BotCommandScopeAllGroupChats())
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

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A slash command: a supporter's, a group's or an organiser's."""
        message, chat, user = update.effective_message, update.effective_chat, update.effective_user
        if message is None or chat is None or user is None or chat.type == Chat.CHANNEL:
            return
        command = parse(message.text, bot_username=context.bot.username)
        if command is None:
            return
        origin = origin_of(chat, user)
        if command.name in ORGANISER_NAMES:
            await self._organiser_command(origin, command.name, command.args)
            return
        admin = False
        if origin.kind is ChatKind.GROUP and command.name in ("subscribe_group", "stop"):
            admin = await self._is_admin(chat.id, user.id)
        for reply in await self.core.command(origin, command.name, command.args, admin=admin):
            await self.reply(chat.id, reply)

    async def _organiser_command(self, origin: Origin, name: str, args: tuple[str, ...]) -> None:
        chat_id = int(origin.chat)
        if origin.kind is not ChatKind.PRIVATE or not self.desk.allowed(PLATFORM, origin.user):
            await self.reply(chat_id, Message(text=NOT_AVAILABLE))
            return
        for reply in await self.desk.command(f"{PLATFORM}:{origin.user}", name, args):
            await self.reply(chat_id, reply)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        member = await self.app.bot.get_chat_member(chat_id, user_id)
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

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
            origin = origin_of(message.chat, query.from_user)
            data = query.data or ""
            button = self.core.ids.read(data)
            if button is not None and button.verb in (Verb.SEND, Verb.CANCEL):
                if not self.desk.allowed(PLATFORM, origin.user):
                    answer = NOT_AVAILABLE
                    return
                result = await self.desk.confirm(
                    f"{PLATFORM}:{origin.user}", button.verb, button.argument
                )
            else:
                result = await self.core.press(origin, data)
            answer = result.answer
            if result.edit is not None:
                self._later(self._edit(message, result.edit))
            for reply in result.replies:
                await self.reply(message.chat.id, reply)
        finally:
            await query.answer(answer[:200])

    async def _edit(self, message: TgMessage, new: Message) -> None:
        if self.pacer is not None:
            await self.pacer.wait()
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
        """Plain text that isn't a command, in a private chat: it may be someone reaching
        out, so the answer says where to get help. The text is dropped unread."""
        message = update.effective_message
        if message is not None:
            await self.reply(message.chat.id, Message(text=wording.FREE_TEXT))

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
        log.error("telegram: error handling %s: %r", kind, error, exc_info=error)

    # --- sending -----------------------------------------------------------

    async def reply(self, chat_id: int, message: Message) -> None:
        """Send a reply in a chat, at the pace."""
        if self.pacer is not None:
            await self.pacer.wait()
        await self._post(chat_id, message)

    async def _post(self, chat_id: int, message: Message) -> None:
        bot = self.app.bot
        if message.attachment is not None:
            attachment = message.attachment
            await bot.send_document(
                chat_id,
                InputFile(attachment.content, filename=attachment.filename),
                caption=message.text[:1024] or None,
            )
            return
        await bot.send_message(
            chat_id,
            html(message),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(message),
            link_preview_options=NO_PREVIEW,
        )

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Nothing to get ready: a Telegram send is one request."""

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """The engine's messenger (which has taken a slot of the pace already): send, and
        say how it went in the core's terms."""
        try:
            await self._post(int(address), message)
        except ChatMigrated as exc:
            await self.core.moved(PLATFORM, address, str(exc.new_chat_id))
            await self.send(str(exc.new_chat_id), kind, message)
        except Forbidden as exc:
            raise RecipientGone(exc.message) from exc
        except RetryAfter as exc:
            wait = exc.retry_after
            raise RateLimited(wait if isinstance(wait, int) else wait.total_seconds()) from exc
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
            raise TransientFailure(exc.message) from exc
        except TelegramError as exc:
            raise Refused(exc.message) from exc


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


def _group_commands() -> list[tuple[str, str]]:
    described = dict(wording.COMMANDS)
    described["subscribe_group"] = "Admins: get the weekly ask in this group"
    described["stop"] = "Admins: stop the weekly ask in this group"
    return [(name, described[name]) for name in GROUP_COMMANDS]
