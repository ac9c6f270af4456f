"""One JSON line per request: method, path, status, duration and a request id.

Hand-written because Litestar's LoggingMiddleware logs request and response as two
separate unstructured lines, without a duration, and by default with the body, which
here would carry passwords.
"""

import json
import logging
import secrets
import time

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("punchguard.requests")


class RequestLogMiddleware(ASGIMiddleware):
    """Tags every response with an X-Request-ID (the caller's, or a new one) and logs it if `log`."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, log: bool = True) -> None:
        self.log = log

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        request_id = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None
        ) or secrets.token_hex(8)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id[:64]
            await send(message)

        try:
            await next_app(scope, receive, send_wrapper)
        finally:
            if self.log:
                log.info(
                    json.dumps(
                        {
                            "event": "request",
                            "request_id": request_id[:64],
                            "method": scope.get("method"),
                            "path": scope["path"],
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    )
                )
