"""The drill's world: a simulated clock, an event scheduler, the real server on a real port, and the café.

Everything here talks to the server over HTTP with the reference client, exactly as the
apps would; only the insider attacks (T10) touch the database directly.
"""

import asyncio
import heapq
import itertools
import os
import socket
import ssl
import sys
import time
import zoneinfo
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from api.settings import Settings
from cards import staff as cards_staff
from drill.server import CHEAP_PASSWORDS_ENV, FLOOR_HEADER, START_ENV, TIME_HEADER
from mobile_contract import auth, programs, stores
from mobile_contract.client import OwnerClient, ScannerClient

ZONE = zoneinfo.ZoneInfo("America/Los_Angeles")
PASSWORD = "drill password 2025"
OWNER_EMAIL = "owner@beanthere.test"
# A Monday in June: no daylight-saving change inside the month. The demo (drill/demo.py) moves
# it with `start_on`, so that its weeks end yesterday.
START = datetime(2025, 6, 2, tzinfo=ZONE)
OPENS, CLOSES = "07:00", "19:00"
# The paths of the rate-limit group "login" (see api/controllers/auth.py).
LOGIN_PATHS = frozenset({"/v1/auth/login", "/v1/auth/refresh"})
# Every kind of sign-in: staff tokens, and the phone's challenges, enrollment and sessions.
SIGN_IN_PATHS = LOGIN_PATHS | {"/v1/challenges", "/v1/customers", "/v1/customers/sessions"}

Actor = AsyncGenerator[datetime, None]


# The simulated instant of the event being played, in the actor's task; the server hears it
# through drill.server.TIME_HEADER on the actor's requests.
_EVENT_TIME: ContextVar[datetime | None] = ContextVar("drill_event_time", default=None)


class SimClock:
    """The drill's time: each event's own instant, else the scheduler's floor.

    The scheduler plays a few independent events at once; each sees its own simulated
    time, through a context variable, and sends it to the server on its requests (see
    `stamp_time` and drill/server.py). The floor is the earliest time of the events being
    played, and never moves backwards.
    """

    def __init__(self, start: datetime) -> None:
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return _EVENT_TIME.get() or self.now

    def move_to(self, moment: datetime) -> None:
        self.now = max(self.now, moment.astimezone(UTC))


def stamp_time(clock: SimClock) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook sending the event's simulated time.

    Sign-ins carry the floor instead, which never goes backwards: a till serves several
    customers whose events play at once, so its token must not be issued later than any of
    them; and a challenge made at a later event's time would let the server sweep, as
    expired, the challenge an earlier event is about to sign.
    """

    async def hook(request: httpx.Request) -> None:
        moment = clock.now if request.url.path in SIGN_IN_PATHS else clock()
        request.headers[TIME_HEADER] = moment.isoformat()
        request.headers[FLOOR_HEADER] = clock.now.isoformat()

    return hook


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A local San Francisco time `day` days into the drill, as UTC."""
    return datetime.combine(
        START.date() + timedelta(days=day), datetime.min.time().replace(hour=hour, minute=minute, second=second), ZONE
    ).astimezone(UTC)


def start_on(day: date) -> None:
    """Play the drill from `day` on (local midnight in San Francisco) instead of its June Monday."""
    global START  # one setting of the tool, read by `local` at each call
    START = datetime.combine(day, datetime.min.time(), ZONE)


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZONE).date()


class Scheduler:
    """Runs actors (async generators yielding the next time they want to act) in time order.

    An actor's code between two yields runs at one simulated instant; the clock moves to
    each event's time before the actor resumes, so every request carries a consistent time.
    """

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._heap: list[tuple[datetime, int, Actor, str]] = []
        self._order = itertools.count()
        self.crashes: list[str] = []
        self.events = 0

    def add(self, at: datetime, actor: Actor, name: str) -> None:
        heapq.heappush(self._heap, (at, next(self._order), actor, name))

    async def run(
        self, *, window_s: float = 0, batch: int = 1, progress: Callable[[datetime], None] | None = None
    ) -> None:
        """Play every event in time order; events within `window_s` of the earliest play at once, up to `batch`.

        Actors are independent customers and attackers, and one actor's events never
        overlap (its next event is known only once its step is done), so a card, a phone
        or a session is only ever used by one event at a time.
        """
        window = timedelta(seconds=window_s)
        while self._heap:
            first = self._heap[0][0]
            playing: list[tuple[datetime, int, Actor, str]] = []
            while self._heap and len(playing) < batch and (not playing or self._heap[0][0] <= first + window):
                playing.append(heapq.heappop(self._heap))
            self.clock.move_to(first)
            if progress is not None:
                progress(self.clock.now)
            self.events += len(playing)
            wakes = await asyncio.gather(*(self._step(at, actor, name) for at, _, actor, name in playing))
            for wake, (_, _, actor, name) in zip(wakes, playing, strict=True):
                if wake is not None:
                    heapq.heappush(self._heap, (wake, next(self._order), actor, name))

    async def _step(self, at: datetime, actor: Actor, name: str) -> datetime | None:
        _EVENT_TIME.set(at)  # gather runs each step in its own task, with its own context
        try:
            return await anext(actor)
        except StopAsyncIteration:
            return None
        except Exception as exc:  # one broken actor must not end the drill; it is reported
            self.crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            return None


class SpreadTransport(httpx.AsyncBaseTransport):
    """Sends staff sign-ins and refreshes from several loopback addresses.

    The server's login limiter counts real seconds per client address, while the drill
    squeezes a month into minutes: a till that refreshes its token every 15 simulated
    minutes would send hundreds of refreshes a real minute. In a café they come minutes
    apart, so the drill spreads them over 127.1.x.y addresses, never more than
    `per_address` in a real minute from one. Everything else (and every attacker) goes
    from its own single address and meets the real limiter.
    """

    def __init__(self, per_address: int = 8) -> None:
        self.per_address = per_address
        # One TLS context for all: the drill speaks plain HTTP, and loading CA files per transport is slow.
        self._tls = ssl.create_default_context()
        self.default = httpx.AsyncHTTPTransport(verify=self._tls)
        self._spread: list[tuple[httpx.AsyncHTTPTransport, deque[float]]] = []

    def _pick(self) -> httpx.AsyncHTTPTransport:
        now = time.monotonic()
        for transport, sent in self._spread:
            while sent and now - sent[0] > 61:
                sent.popleft()
            if len(sent) < self.per_address:
                sent.append(now)
                return transport
        index = len(self._spread) + 1
        transport = httpx.AsyncHTTPTransport(local_address=f"127.1.{index // 250}.{index % 250 + 1}", verify=self._tls)
        self._spread.append((transport, deque([now])))
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._pick() if request.url.path in LOGIN_PATHS else self.default
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.default.aclose()
        for transport, _ in self._spread:
            await transport.aclose()

    @property
    def addresses(self) -> int:
        return len(self._spread)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def running_server(settings: Settings, clock: SimClock, cheap_passwords: bool = False) -> AsyncIterator[str]:
    """The real app, served by uvicorn in a process of its own on 127.0.0.1; yields its base URL.

    The server's clock is drill/server.py's: each request's event time, else the latest floor
    the drill sent. The app's own lifespan starts the database pool (api.app.database_pool), as
    in production; DATABASE_URL is the drill's.
    """
    port = free_port()
    env = {
        **os.environ,
        "PUNCHGUARD_DATA_DIR": str(settings.data_dir),
        "PUNCHGUARD_KEYRING": str(settings.keyring_path),
        "PUNCHGUARD_LOG_REQUESTS": "1" if settings.log_requests else "0",
        START_ENV: clock.now.isoformat(),
        **{f"PUNCHGUARD_{group.upper()}_PER_MINUTE": str(limit) for group, limit in settings.rate_limits.items()},
    }
    if cheap_passwords:
        env[CHEAP_PASSWORDS_ENV] = "1"
    # No proxy headers: every client address the limiter sees is the real peer address.
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", "--factory", "drill.server:create_app", "--host", "127.0.0.1", "--port", str(port)),
        *("--log-level", "warning", "--no-access-log", "--no-proxy-headers", "--lifespan", "on"),
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url) as probe:
            for _ in range(1500):
                if server.returncode is not None:
                    raise RuntimeError(f"the drill's server stopped during start-up ({server.returncode})")
                try:
                    await probe.get("/health")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.02)
            else:
                raise RuntimeError("the drill's server did not start within 30 s")
        yield base_url
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()


class RequestCounter:
    """Counts requests and server errors (5xx) as httpx sends and receives them."""

    def __init__(self) -> None:
        self.requests = 0
        self.server_errors: list[str] = []

    async def on_response(self, response: httpx.Response) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{response.request.method} {response.request.url.path} {response.status_code}")


# --- the café -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StorePlan:
    name: str
    code: str
    latitude: float
    longitude: float
    cashiers: int


STORES = [
    StorePlan("Market St", "MKT", 37.7936, -122.3950, 3),
    StorePlan("Mission", "MIS", 37.7599, -122.4148, 3),
    StorePlan("Airport", "SFO", 37.6213, -122.3790, 2),
]


@dataclass
class Till:
    """A scanner registered at a store, with its secret (what the scanner app keeps)."""

    id: UUID
    secret: str
    name: str


@dataclass
class Member:
    id: UUID
    email: str
    name: str


# Fixed shifts: the early one opens, the late one closes. A store with three cashiers has two on
# each shift (the second works a long day on till 2); with two, each shift is one cashier alone.
EARLY_UNTIL_HOUR = 13


@dataclass
class Store:
    plan: StorePlan
    id: UUID
    tills: list[Till]
    cashiers: list[Member]
    manager: Member
    receipts: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    def receipt(self) -> str:
        return f"{self.plan.code}-{next(self.receipts):07d}"

    def on_shift(self, moment: datetime) -> list[tuple[Member, Till]]:
        """Who works which till at `moment` (local time), by the store's fixed shifts."""
        early = moment.astimezone(ZONE).hour < EARLY_UNTIL_HOUR
        c = self.cashiers
        if len(c) >= 3:
            return (
                [(c[0], self.tills[0]), (c[1], self.tills[1])]
                if early
                else [(c[2], self.tills[0]), (c[1], self.tills[1])]
            )
        return [(c[0], self.tills[0])] if early else [(c[-1], self.tills[0])]


@dataclass
class Cafe:
    http: httpx.AsyncClient
    clock: SimClock
    owner: OwnerClient
    program: programs.Program
    stores: list[Store]
    # Staff who play attackers, and tills no honest customer uses, by a short name.
    rogues: dict[str, Member]
    spare_tills: dict[str, tuple[Store, Till]]
    # A kiosk the owner closes during the month (T9), with its one till and cashier.
    kiosk: Store
    sessions: dict[tuple[UUID, UUID], ScannerClient] = field(default_factory=dict)

    def at_till(self, member: Member, till: Till) -> ScannerClient:
        """The member signed in at the till (one session per pair, kept for the month)."""
        key = (member.id, till.id)
        if key not in self.sessions:
            self.sessions[key] = ScannerClient(
                self.http,
                email=member.email,
                password=PASSWORD,
                scanner_id=till.id,
                scanner_secret=till.secret,
                clock=self.clock,
            )
        return self.sessions[key]

    def store(self, code: str) -> Store:
        return next(store for store in self.stores if store.plan.code == code)


def _every_day() -> list[stores.OpeningPeriod]:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return [stores.OpeningPeriod(day=day, opens=OPENS, closes=CLOSES) for day in days]  # type: ignore[arg-type]


async def _member(owner: OwnerClient, name: str, email: str, role: str, store_id: UUID | None) -> Member:
    created = await owner.create_staff(
        stores.StaffCreate(name=name, email=email, password=PASSWORD, role=role, store_id=store_id)  # type: ignore[arg-type]
    )
    return Member(created.id, email, name)


async def open_cafe(http: httpx.AsyncClient, clock: SimClock) -> Cafe:
    """The owner sets up the chain through the API: three stores, two tills and a manager each,
    cashiers, a few staff who will turn out to be attackers, and a ten-punch program at 4.50 a coffee."""
    code = await cards_staff.new_setup_code()
    if code is None:
        raise SystemExit("the database already has an owner: give the drill an empty database")
    setup = auth.OwnerSetup(
        setup_code=code, business_name="Bean There", name="Olive Owner", email=OWNER_EMAIL, password=PASSWORD
    )
    await OwnerClient.set_up(http, setup)
    owner = OwnerClient(http, email=OWNER_EMAIL, password=PASSWORD, clock=clock)
    await owner.login()
    program = await owner.create_program(
        programs.ProgramCreate(
            name="Coffee card", reward_name="Free coffee", reward_value_cents=450, punches_per_reward=10
        )
    )
    chain: list[Store] = []
    for plan in STORES:
        created = await owner.create_store(
            stores.StoreCreate(
                name=plan.name,
                time_zone="America/Los_Angeles",
                latitude=plan.latitude,
                longitude=plan.longitude,
                opening_hours=_every_day(),
            )
        )
        tills = []
        for number in (1, 2):
            registered = await owner.register_scanner(created.id, f"{plan.name} till {number}")
            tills.append(Till(registered.scanner.id, registered.scanner_secret, registered.scanner.name))
        cashiers = [
            await _member(
                owner,
                f"{plan.name} cashier {n}",
                f"{plan.code.lower()}.cashier{n}@beanthere.test",
                "cashier",
                created.id,
            )
            for n in range(1, plan.cashiers + 1)
        ]
        manager = await _member(
            owner, f"{plan.name} manager", f"{plan.code.lower()}.manager@beanthere.test", "manager", created.id
        )
        chain.append(Store(plan, created.id, tills, cashiers, manager))
    by_code = {store.plan.code: store for store in chain}
    rogues = {
        "dana": await _member(owner, "Dana", "dana@beanthere.test", "cashier", by_code["MKT"].id),
        "ivan": await _member(owner, "Ivan", "ivan@beanthere.test", "cashier", by_code["MKT"].id),
        "frank": await _member(owner, "Frank", "frank@beanthere.test", "cashier", by_code["MIS"].id),
        "ned": await _member(owner, "Ned", "ned@beanthere.test", "cashier", by_code["MIS"].id),
        "bella": await _member(owner, "Bella", "bella@beanthere.test", "cashier", by_code["SFO"].id),
    }
    rogues["olga"] = await _member(owner, "Olga", "olga@beanthere.test", "cashier", by_code["MKT"].id)
    rogues["ned_refresh"] = await _member(owner, "Nestor", "nestor@beanthere.test", "cashier", by_code["MIS"].id)
    spare: dict[str, tuple[Store, Till]] = {}
    for name, code in (("lost", "MIS"), ("back_room", "SFO")):
        registered = await owner.register_scanner(by_code[code].id, f"{by_code[code].plan.name} {name} till")
        spare[name] = (by_code[code], Till(registered.scanner.id, registered.scanner_secret, registered.scanner.name))
    kiosk_plan = StorePlan("Ferry kiosk", "FRY", 37.7955, -122.3937, 1)
    created = await owner.create_store(
        stores.StoreCreate(
            name=kiosk_plan.name,
            time_zone="America/Los_Angeles",
            latitude=kiosk_plan.latitude,
            longitude=kiosk_plan.longitude,
            opening_hours=_every_day(),
        )
    )
    registered = await owner.register_scanner(created.id, "Kiosk till")
    kim = await _member(owner, "Kim", "kim@beanthere.test", "cashier", created.id)
    kiosk = Store(
        kiosk_plan,
        created.id,
        [Till(registered.scanner.id, registered.scanner_secret, registered.scanner.name)],
        [kim],
        kim,
    )
    return Cafe(http, clock, owner, program, chain, rogues, spare, kiosk)


def drill_settings(scratch: Path, base: Settings | None = None) -> Settings:
    """Production defaults (or `base`'s data folder and keys), except: no request log, and
    enrollment's limit raised.

    2,000 honest customers enroll and renew sessions from this one machine's address,
    which the production limit of 30 a minute per address would stop. The "login" limit
    stays at its default, so brute force meets the real limiter.
    """
    defaults = Settings()
    return Settings(
        data_dir=base.data_dir if base else scratch,
        keyring_path=base.keyring_path if base else scratch / "keys" / "keyring.json",
        log_requests=False,
        rate_limits={**defaults.rate_limits, "enroll": 1_000_000},
    )


def jitter(rng: Any, low: float, high: float) -> timedelta:
    """A whole number of seconds in [low, high]: stamps carry whole seconds."""
    return timedelta(seconds=int(rng.uniform(low, high)))
