"""One JSON line per response: method, path, status, duration and a request id; `X-Request-ID` on every one.

Done in Litestar's `before_send` hook, which sees every message the app sends, refusals by
the auth middleware, guards and rate limits and the router's 404s and 405s included; an ASGI
middleware only sees what passes through it, and logged those refusals as 500 under an id
the client never received. Hand-written because Litestar's LoggingMiddleware logs request
and response as two unstructured lines, without a duration, and by default with the body,
which here would carry passwords.
"""

import json
import logging
import re
import secrets
import time
from typing import Any

from litestar.datastructures import MutableScopeHeaders

log = logging.getLogger("punchguard.requests")
# A caller's id is kept if it is short and printable; anything else gets a fresh one.
_CALLER_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
_STATE = "punchguard.request"


def _request_id(scope: Any) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = str(value.decode("latin-1"))
            if _CALLER_ID.fullmatch(text):
                return text
    return secrets.token_hex(8)


def request_state(scope: Any) -> dict[str, Any]:
    """This request's id and start, made on first use (the app makes it as the request arrives)."""
    state: dict[str, Any] = scope.setdefault(_STATE, {})
    if not state:
        state.update(id=_request_id(scope), method=scope.get("method"), started=time.perf_counter(), status=None)
    return state


class RequestLog:
    """The `before_send` hook: tags each response with its request id and logs it once it is sent."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    async def __call__(self, message: Any, scope: Any) -> None:
        if scope["type"] != "http":
            return
        state = request_state(scope)
        if message["type"] == "http.response.start":
            state["status"] = message["status"]
            MutableScopeHeaders.from_message(message)["x-request-id"] = state["id"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False) and self.enabled:
            log.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": state["id"],
                        "method": state["method"],
                        "path": scope["path"],
                        "status": state["status"],
                        "duration_ms": round((time.perf_counter() - state["started"]) * 1000, 2),
                    }
                )
            )
