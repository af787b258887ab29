"""What REST handlers share: the handler registry, the request context, message helpers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import limits
from .errors import (
    CANNOT_DM,
    EMPTY_MESSAGE,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    UNKNOWN_CHANNEL,
    ApiError,
    FieldError,
    Json,
    api_error,
    invalid_form_body,
)
from .gateway import DIRECT_MESSAGES, GUILD_MESSAGES, Gateway
from .spec import Operation, Spec
from .state import DM, SEND_MESSAGES, VIEW_CHANNEL, Channel, StoredMessage, Upload, World


@dataclass
class Ctx:
    """One accepted request, as a handler sees it."""

    op: Operation
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    uploads: list[Upload] = field(default_factory=list)

    def id(self, name: str) -> int:
        return int(self.params[name])

    @property
    def json(self) -> Json:
        return self.body if isinstance(self.body, dict) else {}


Result = tuple[int, Any]
Handler = Callable[["Api", Ctx], Awaitable[Result]]
HANDLERS: dict[tuple[str, str], Handler] = {}


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Register a handler for one operation of the spec (checked at import)."""

    def register(handler: Handler) -> Handler:
        if Spec.load().operation(method, template) is None:
            raise ValueError(f"{method} {template} is not in Discord's OpenAPI spec")
        HANDLERS[(method, template)] = handler
        return handler

    return register


class Api:
    """The services handlers use."""

    def __init__(
        self,
        world: World,
        gateway: Gateway,
        spec: Spec,
        *,
        gateway_url: Callable[[], str],
        changed: Callable[[], None],
    ) -> None:
        self.world = world
        self.gateway = gateway
        self.spec = spec
        self.gateway_url = gateway_url
        self.changed = changed

    def channel(self, channel_id: int) -> Channel:
        channel = self.world.channels.get(channel_id)
        if channel is None:
            raise api_error(UNKNOWN_CHANNEL)
        return channel

    def check_can_post(self, channel: Channel) -> None:
        """Who may receive: closed or deleted DMs → 50007; guild channels need permissions."""
        if channel.type == DM:
            recipient = self.world.users.get(channel.recipient_id or 0)
            if recipient is None or recipient.deleted or not recipient.dms_open:
                raise api_error(CANNOT_DM)
            return
        permissions = self.world.bot_permissions(channel)
        if not permissions & VIEW_CHANNEL:
            raise api_error(MISSING_ACCESS)
        if not permissions & SEND_MESSAGES:
            raise api_error(MISSING_PERMISSIONS)

    def check_message(
        self,
        body: Json,
        *,
        uploads: list[Upload],
        prefix: tuple[str, ...] = (),
        result: Json | None = None,
    ) -> None:
        """Discord's limits (50035), then emptiness of the resulting message (50006)."""
        errors: list[FieldError] = [e.under(*prefix) for e in limits.message_errors(body)]
        if errors:
            raise invalid_form_body(errors)
        if len(uploads) > limits.FILES_MAX:
            raise invalid_form_body(
                [FieldError(("files",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")]
            )
        shown = body if result is None else result
        if limits.is_empty(shown, files=len(uploads)):
            raise api_error(EMPTY_MESSAGE)

    async def publish(self, stored: StoredMessage, event: str = "MESSAGE_CREATE") -> None:
        """Tell the gateway about a visible message, as Discord does (intents permitting)."""
        self.changed()
        if stored.visible_to is not None:
            return
        channel = self.world.channels[stored.channel_id]
        intent = DIRECT_MESSAGES if channel.type == DM else GUILD_MESSAGES
        if event == "MESSAGE_DELETE":
            data: Json = {"id": stored.data["id"], "channel_id": str(channel.id)}
            if channel.guild_id is not None:
                data["guild_id"] = str(channel.guild_id)
        else:
            data = self.world.gateway_message(stored)
        await self.gateway.dispatch(event, data, guild_id=channel.guild_id, intent=intent)


def bad_field(path: tuple[str | int, ...], code: str, message: str) -> ApiError:
    return invalid_form_body([FieldError(path, code, message)])
