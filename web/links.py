"""The tracked-link redirect, `/l/<token>`: no sign-in, no cookies, nothing personal.

A good token counts one "opened" (in the store's writer) and answers 302 to the
ask's link; a HEAD request (a link checker) is answered but not counted.
Anything else is a plain 404 that records nothing.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from campaigns import links
from campaigns.links import LinkTokens
from db.store import Store

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def route(store: Store, tokens: LinkTokens) -> Route:
    async def follow(request: Request) -> Response:
        token = request.path_params["token"]
        if tokens.delivery_id(token) is None:  # malformed: no need to ask the database
            return PlainTextResponse("Not found", status_code=404, headers=HEADERS)
        if request.method == "HEAD":
            opened = await store.read(links.open_link, tokens, token, record=False)
        else:
            opened = await store.write(links.open_link, tokens, token)
        if opened is None:
            return PlainTextResponse("Not found", status_code=404, headers=HEADERS)
        return RedirectResponse(opened.url, status_code=302, headers=HEADERS)

    return Route("/l/{token}", follow, methods=["GET", "HEAD"])
