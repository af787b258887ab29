"""The REST gate: every request passes the same checks, in this order.

1. ``latency`` (if set) before anything is answered;
2. the path must be under ``/api/v10`` and match an operation of the spec
   (404 ``{"message": "404: Not Found", "code": 0}``; 405 for a known path with
   another method), and path parameters must fit their schemas (50035);
3. ``Authorization: Bot <token>``, unless the spec lets the operation be called
   without a token (interaction callbacks and webhooks); a wrong token is 401
   everywhere;
4. the global rate limit (not for interaction endpoints, as on Discord), then the
   route bucket, then any fault a test queued with ``fail_next``;

(Before all of these, during an ``outage`` every request is answered its 5xx.)
5. query parameters and the body: JSON; multipart with ``payload_json`` and
   files (≤ 10 files, ≤ 10 MiB); or a urlencoded form where the spec allows one;
   validated against the spec's schema (50035, invalid JSON 50109);
6. the handler, which applies Discord's documented limits and state rules.

An operation that is in the spec but not implemented here answers 501, so a
test finds out at once instead of getting a plausible lie.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from . import interactions, routes  # noqa: F401  (they register their handlers)
from .api import HANDLERS, Api, Ctx
from .errors import (
    ENTITY_TOO_LARGE,
    INVALID_JSON,
    ApiError,
    FieldError,
    Json,
    api_error,
    invalid_form_body,
    not_implemented,
    unauthorized,
)
from .limits import UPLOAD_MAX_BYTES
from .ratelimit import VIA, BucketLimiter, GlobalLimiter, bucket_hash, rate_limited
from .spec import Operation
from .state import Upload

_log = logging.getLogger(__name__)
_STATUS_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Call:
    """One REST request the bot made, and how the fake answered."""

    method: str
    path: str
    route: str | None  # the spec's path template, None if no route matched
    query: dict[str, str]
    json: Any = None  # the JSON body, or a multipart body's payload_json
    files: list[str] = field(default_factory=list)
    status: int = 0  # 0: the connection was cut before an answer
    error: Json | None = None  # the error body sent back, for refused calls
    at: float = 0.0

    @property
    def reason(self) -> str:
        """Why it was refused: Discord's message plus the field errors, if any."""
        if self.error is None:
            return ""
        detail = json.dumps(self.error.get("errors")) if self.error.get("errors") else ""
        return (
            f"{self.status} {self.error.get('code')} {self.error.get('message')} {detail}".strip()
        )


@dataclass
class Fault:
    status: int
    retry_after: float
    code: int
    message: str | None
    times: int


def _exempt_from_global(op: Operation, params: dict[str, str], application_id: int) -> bool:
    if op.template.startswith("/interactions/"):
        return True
    return op.template.startswith("/webhooks/{webhook_id}/{webhook_token}") and params.get(
        "webhook_id"
    ) == str(application_id)


def _major(params: dict[str, str]) -> str:
    for name in ("channel_id", "guild_id", "interaction_id"):
        if name in params:
            return params[name]
    if "webhook_id" in params:
        return f"{params['webhook_id']}:{params.get('webhook_token', '')}"
    return ""


class Rest:
    """Answers REST calls and records them."""

    def __init__(
        self,
        api: Api,
        *,
        token: str,
        latency: float,
        rate_limit_per_second: int | None,
        bucket_limit: int,
        bucket_window: float,
        changed: Callable[[], None],
    ) -> None:
        self.api = api
        self.token = token
        self.latency = latency
        self.calls: list[Call] = []
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.global_limiter = (
            GlobalLimiter(rate_limit_per_second, time.monotonic) if rate_limit_per_second else None
        )
        self.buckets = BucketLimiter(bucket_limit, bucket_window, time.monotonic)
        self.rate_limited = 0
        self.outage_status: int | None = None  # every request answered this 5xx
        self.in_flight = 0  # requests received and not yet answered
        self.internal_errors: list[Exception] = []  # bugs in the fake itself; should stay empty
        self._changed = changed

    def fail_next(
        self,
        method: str,
        template: str,
        *,
        status: int,
        retry_after: float,
        times: int,
        code: int,
        message: str | None,
    ) -> None:
        if self.api.spec.operation(method, template) is None:
            raise ValueError(f"{method} {template} is not an operation in Discord's OpenAPI spec")
        self.faults.setdefault((method.upper(), template), []).append(
            Fault(status, retry_after, code, message, times)
        )

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self._changed()
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        call = Call(request.method, request.path, None, dict(request.query), at=time.monotonic())
        headers = {"Via": VIA}
        try:
            if self.outage_status is not None:
                raise self._outage(request, call)
            op, params = self.api.spec.route(request.method, request.rel_url.raw_path)
            call.route = op.template
            self._authorize(op, request)
            if self.global_limiter and not _exempt_from_global(
                op, params, self.api.world.application_id
            ):
                self.global_limiter.check()
            bucket = bucket_hash(op.method, op.template)
            headers |= self.buckets.take(bucket, _major(params))
            self._inject_fault(op, bucket)
            query = self.api.spec.query(op, request.query)
            body, uploads = await self._read_body(op, request, call)
            handler = HANDLERS.get((op.method, op.template))
            if handler is None:
                raise not_implemented(op.method, op.template)
            status, result = await handler(self.api, Ctx(op, params, query, body, uploads))
        except ApiError as error:
            status, result = error.status, error.body()
            headers |= error.headers
            call.error = result
        except ConnectionError:  # the client's connection was cut (an outage): no answer
            self.calls.append(call)
            self._changed()
            return web.Response(status=499)
        except Exception as error:  # a bug in the fake: fail loudly, not plausibly
            _log.exception("fake Discord failed on %s %s", request.method, request.path)
            self.internal_errors.append(error)
            # 503 is outside discord.py's retry set, so the client raises at once.
            status, result = 503, {"message": f"fake Discord internal error: {error!r}", "code": 0}
            call.error = result
        call.status = status
        self.calls.append(call)
        if status == 429:
            self.rate_limited += 1
        self._changed()
        if status == 204:
            return web.Response(status=204, headers=headers)
        # Exactly "application/json", no charset: discord.py compares the header verbatim.
        headers["Content-Type"] = "application/json"
        return web.Response(body=json.dumps(result).encode(), status=status, headers=headers)

    def _outage(self, request: web.Request, call: Call) -> ApiError:
        """Down: any request gets the outage's 5xx, whatever it asked (the route is
        still recorded when there is one)."""
        with contextlib.suppress(ApiError):
            call.route = self.api.spec.route(request.method, request.rel_url.raw_path)[0].template
        status = self.outage_status or 500
        return ApiError(status, 0, f"{status}: {_STATUS_TEXT.get(status, 'Server Error')}")

    def _authorize(self, op: Operation, request: web.Request) -> None:
        header = request.headers.get(hdrs.AUTHORIZATION)
        if header is None and op.anonymous:
            return
        if header != f"Bot {self.token}":
            raise unauthorized()

    def _inject_fault(self, op: Operation, bucket: str) -> None:
        queue = self.faults.get((op.method, op.template))
        if not queue:
            return
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        if fault.status == 429:
            raise rate_limited(
                fault.retry_after, scope="user", bucket=bucket, limit=self.buckets.limit
            )
        message = (
            fault.message or f"{fault.status}: {_STATUS_TEXT.get(fault.status, 'Injected fault')}"
        )
        raise ApiError(fault.status, fault.code, message)

    async def _read_body(
        self, op: Operation, request: web.Request, call: Call
    ) -> tuple[Any, list[Upload]]:
        body: Any = None
        uploads: list[Upload] = []
        content_type = request.content_type
        if request.body_exists:
            if content_type == "application/json":
                text = await request.text()
                try:
                    body = json.loads(text) if text.strip() else None
                except ValueError:
                    raise api_error(INVALID_JSON) from None
            elif content_type == "multipart/form-data":
                body, uploads = await self._read_multipart(request)
            elif content_type == "application/x-www-form-urlencoded" and content_type in op.bodies:
                fields = dict(await request.post())
                body = {k: v for k, v in fields.items() if k != "payload_json"}
                if "payload_json" in fields:
                    body |= self._payload_json(str(fields["payload_json"]))
            elif op.bodies:
                message = (
                    'Expected "Content-Type" header to be one of '
                    "{'application/json', 'multipart/form-data'}."
                )
                raise invalid_form_body([FieldError((), "CONTENT_TYPE_INVALID", message)])
        call.json = body
        call.files = [u.filename for u in uploads]
        if not op.bodies:
            return body, uploads
        schema = self.api.spec.body_schema(op, content_type)
        # An empty body for an object is an object with nothing in it (then e.g. 50006).
        if (
            body is None
            and op.body_required
            and schema is not None
            and self.api.spec.resolve(schema).get("type") in ("object", None)
        ):
            body = {}
        if schema is not None and body is not None:
            self.api.spec.validate(body, schema)
        return body, uploads

    @staticmethod
    def _payload_json(text: str) -> Json:
        try:
            payload = json.loads(text)
        except ValueError:
            raise api_error(INVALID_JSON) from None
        if not isinstance(payload, dict):
            raise api_error(INVALID_JSON)
        return payload

    async def _read_multipart(self, request: web.Request) -> tuple[Any, list[Upload]]:
        reader = await request.multipart()
        body: Json = {}
        uploads: list[Upload] = []
        total = 0
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                body |= self._payload_json(await part.text())
            elif part.filename is not None:
                data = await part.read()
                total += len(data)
                content_type = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
                uploads.append(Upload(part.name or "", part.filename, content_type, len(data)))
            elif part.name:
                body[part.name] = await part.text()
        if total > UPLOAD_MAX_BYTES:
            raise api_error(ENTITY_TOO_LARGE)
        return body, uploads
