"""PTB's networking over aiohttp: a small `telegram.request.BaseRequest` subclass.

Measured here, PTB's default httpx transport tops out near 480 sends a second,
and the same `Bot` over aiohttp near 3,700. It also lets the delivery engine
tell a request that never left (safe to retry) from one that timed out after
leaving (outcome unknown), and an answer from something that is not the Bot API (a
mistyped `TELEGRAM_API_URL`) from Telegram refusing the token.

`FormBody` is a request body encoded once and reused: the engine sends one message
to many chats, and PTB's `Bot.send_message` builds and url-encodes every parameter
again for each of them, then turns the answer into a `telegram.Message` nobody
reads. Profiled (`bench/engine.py profile`, issue 16), those took 44 % of the event
loop's time in a send: making Message objects 23 %, building the parameters 11 %,
url-encoding them 10 %.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
from telegram import TelegramObject
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _is_default(value: Any) -> bool:
    """PTB passes a `DefaultValue` sentinel where the caller gave no timeout."""
    return isinstance(value, type(BaseRequest.DEFAULT_NONE))


class NotSent(NetworkError):
    """The request never reached Telegram (no connection): safe to send again."""


class LostInTransit(NetworkError):
    """The connection broke while the request was out: it may have arrived."""


class NotBotApi(NetworkError):
    """The answer was not the Bot API's (not a JSON object shaped like its answers): the URL
    leads somewhere else, or a proxy answered (its 5xx page during an outage)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the answer (HTTP {status}) is not the Bot API's")
        self.status = status


def _is_json_object(body: bytes) -> bool:
    """Every Bot API answer, error or not, is a JSON object; a web page or proxy is not."""
    return body.lstrip()[:1] == b"{"


class FormBody(RequestData):  # type: ignore[misc]
    """A url-encoded body made beforehand: sent as it is, with no parameters to encode.

    (PTB marks `RequestData` final, for the bodies its `Bot` builds; this one is made by
    the adapter and read only by `AiohttpRequest.do_request`, which PTB hands it to as
    it is.)"""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body


def form_encoded(params: dict[str, Any]) -> bytes:
    """Parameters url-encoded as PTB encodes them: objects as JSON, booleans as true and
    false, None left out."""
    return urlencode({k: _form_value(v) for k, v in params.items() if v is not None}).encode()


def _form_value(value: object) -> str:
    if isinstance(value, TelegramObject):
        return json.dumps(value.to_dict())
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def with_chat(chat_id: int, form: bytes) -> FormBody:
    """A body for one chat (a number: nothing to escape) in front of the rest."""
    return FormBody(b"chat_id=%d&" % chat_id + form)


class Observer(Protocol):
    """Told how each request ended (the polling watch: PTB's retry loop does not report
    timeouts, and has no hook for a success)."""

    def answered(self, status: int) -> None: ...

    def failed(self, error: TimedOut) -> None: ...


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp session for PTB.

    It also keeps, for the adapter's health, when the Bot API last answered a request
    with success (`last_ok`) and since when requests have been failing without an
    answer from it (`failing_since`: no connection, a timeout, a 5xx, a page that is not
    the Bot API's; None once it answers again). Both are `time.time()`."""

    def __init__(
        self,
        *,
        connections: int = 256,
        read_timeout: float | None = 10.0,
        connect_timeout: float = 5.0,
        observer: Observer | None = None,
    ) -> None:
        self._connections = connections
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._observer = observer
        self._session: aiohttp.ClientSession | None = None
        self.last_ok: float | None = None
        self.failing_since: float | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if _is_default(read_timeout) else read_timeout
        connect = self._connect_timeout if _is_default(connect_timeout) else connect_timeout
        timeout = aiohttp.ClientTimeout(sock_connect=connect, sock_read=read)
        data: Any = None
        headers: dict[str, str] | None = None
        if isinstance(request_data, FormBody):
            data, headers = request_data.body, FORM
        elif request_data is not None:
            files = request_data.multipart_data
            if files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mime) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime)
                data = form
            else:
                data = request_data.json_parameters
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # No connection was made (refused, no route, or none in time): nothing left.
            self._failed()
            raise NotSent(f"could not connect: {exc.__class__.__name__}") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            error = TimedOut("no answer in time; the request may have arrived")
            self._failed()
            if self._observer is not None:
                self._observer.failed(error)
            raise error from exc
        except aiohttp.ClientError as exc:
            self._failed()
            raise LostInTransit(f"aiohttp.{exc.__class__.__name__}") from exc
        # Bot API methods are POSTed; a GET would be a file download, which is not JSON.
        # Checked here, before PTB reads a 401 or 404 as "the token was rejected".
        if method == "POST" and not _is_json_object(body):
            self._failed()
            raise NotBotApi(status)
        self._answered(status)
        if self._observer is not None:
            self._observer.answered(status)
        return status, body

    def _failed(self) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()

    def _answered(self, status: int) -> None:
        """The Bot API answered: a 5xx is it failing, anything else is it working (an
        error such as a 400 or a 429 included)."""
        if status >= 500:
            self._failed()
            return
        self.failing_since = None
        if 200 <= status < 300:
            self.last_ok = time.time()

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict[str, Any]:
        """PTB's parser, without logging the payload when it isn't JSON (it would go to the
        log whole), and refusing answers that aren't shaped like the Bot API's.

        An error here escapes to the caller only for a success status (for an error
        status PTB raises by the status instead), hence NotBotApi(200): the request went
        through something, so a message may have been delivered.
        """
        try:
            data = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise NotBotApi(200) from None
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            raise NotBotApi(200)
        if data["ok"] and "result" not in data:
            raise NotBotApi(200)
        return data
