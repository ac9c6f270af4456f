"""The drill's server: the real app in its own process, its clock read from each request.

The drill runs the server apart from its players, so that the server and the crowd each have a
core (in one process they took turns on one, and a month took twelve minutes). The app is
`api.app.create_app` with an injected clock, as the tests and `make bench` use; the clock is:

- the request's event time, in TIME_HEADER: the simulated instant of the event being played;
- outside such a request (a sign-in, the periodic sweep, an attacker's own client), the floor:
  the latest of the drill's floors the server has seen, in FLOOR_HEADER on every request of the
  drill's own client. The floor is the earliest event being played, and never moves backwards.

Run as `uvicorn --factory drill.server:create_app`, with the settings in the environment
(drill/world.py `running_server`), and the floor at start in START_ENV.
"""

import os
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher

from api.app import create_app as create_punchguard
from crypto import passwords

TIME_HEADER = "x-drill-time"
FLOOR_HEADER = "x-drill-floor"
# The drill's floor when the server starts (its lifespan and first sweep run before any request).
START_ENV = "PUNCHGUARD_DRILL_START"
# Set: staff passwords hashed with cheap Argon2 parameters (tests/cards/test_metrics_drill.py,
# as tests/api/test_review.py does in-process): the drill signs staff in hundreds of times.
CHEAP_PASSWORDS_ENV = "PUNCHGUARD_DRILL_CHEAP_PASSWORDS"
_TIME, _FLOOR = TIME_HEADER.encode(), FLOOR_HEADER.encode()

_EVENT_TIME: ContextVar[datetime | None] = ContextVar("drill_server_event_time", default=None)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ServerClock:
    """The request's event time, else the latest floor seen."""

    def __init__(self, start: datetime) -> None:
        self.floor = start

    def __call__(self) -> datetime:
        return _EVENT_TIME.get() or self.floor

    def saw_floor(self, moment: datetime) -> None:
        self.floor = max(self.floor, moment)


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The app for `uvicorn --factory drill.server:create_app`."""
    if os.environ.get(CHEAP_PASSWORDS_ENV):
        hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        passwords._hasher = hasher
        passwords._DUMMY_HASH = hasher.hash("punchguard-dummy-password")
    clock = ServerClock(datetime.fromisoformat(os.environ[START_ENV]))
    app = create_punchguard(clock=clock)

    async def timed(scope: Scope, receive: Receive, send: Send) -> None:
        moment = None
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == _TIME:
                    moment = datetime.fromisoformat(value.decode())
                elif name == _FLOOR:
                    clock.saw_floor(datetime.fromisoformat(value.decode()))
        token = _EVENT_TIME.set(moment)
        try:
            await app(scope, receive, send)  # type: ignore[arg-type]
        finally:
            _EVENT_TIME.reset(token)

    return timed
