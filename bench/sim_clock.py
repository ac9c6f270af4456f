"""PunchGuard as `make bench` serves it: the real app, whose clock each request may set.

wrk replays a chain's peak hour far faster than an hour. The risk rules judge time (a card's
cooldown and daily cap, a scanner's burst, travel between stores, opening hours), so a replay at
wrk's speed on the real clock would look to them like 40 tills punching a card every few
milliseconds. Instead, each request the bench prepares carries the instant it happens in the
simulated hour, in the header `x-bench-time` (integer microseconds since the epoch), and the app
reads its clock from there, as the fraud drill's does (drill/world.py `with_event_time`): the
app is `api.app.create_app` with an injected clock (the same injection the tests and the drill
use), and a request without the header gets the real time (the bench's setup, the periodic sweep).

Nothing else changes: the same controllers, rules, database work and workers as `make run`.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from api.app import create_app as create_punchguard

TIME_HEADER = b"x-bench-time"
_NOW: ContextVar[datetime | None] = ContextVar("bench_now", default=None)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def bench_clock() -> datetime:
    """The request's simulated instant, or the real time outside a timed request."""
    return _NOW.get() or datetime.now(UTC)


def at(moment: datetime) -> str:
    """The header's value for `moment`."""
    return str(round(moment.timestamp() * 1_000_000))


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The app for `uvicorn --factory bench.sim_clock:create_app`."""
    app = create_punchguard(clock=bench_clock)

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        moment = None
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == TIME_HEADER:
                    moment = datetime.fromtimestamp(int(value) / 1_000_000, UTC)
                    break
        token = _NOW.set(moment)
        try:
            await app(scope, receive, send)  # type: ignore[arg-type]
        finally:
            _NOW.reset(token)

    return timed
