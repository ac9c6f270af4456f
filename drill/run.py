"""One drill: set up the café, play the month (honest crowd and attackers), then judge from the server's answers."""

import contextlib
import io
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from api.settings import Settings
from cards.migrate import migrate
from cards.tables import Business
from crypto.keyring import load_or_create_keyring
from drill.attacks import Attackers
from drill.honest import HonestCrowd, plan_customers
from drill.report import judge
from drill.world import (
    Actor,
    Cafe,
    RequestCounter,
    Scheduler,
    SimClock,
    SpreadTransport,
    drill_settings,
    local,
    local_day,
    open_cafe,
    running_server,
    stamp_time,
)
from mobile_contract.checkpoints import Checkpoint
from mobile_contract.client import ProblemError


async def migrated_and_empty() -> bool:
    """Migrate (quietly: piccolo prints each migration it runs), and say whether the database
    holds no business yet: the drill and the demo fill an empty one, never a café's."""
    with contextlib.redirect_stdout(io.StringIO()):
        await migrate()
    return not await Business.exists().run()


@dataclass(frozen=True, slots=True)
class Options:
    customers: int
    days: int
    seed: int
    scratch: Path
    engine: str
    window_s: float = 300
    batch: int = 16
    quiet: bool = False
    # The attacks to play by name (None: every one); the demo plays those an owner reviews.
    attacks: frozenset[str] | None = None
    # Where the server keeps its keys (None: the drill's scratch folder, thrown away after).
    settings: Settings | None = None
    # Staff passwords hashed cheaply by the server (a test's knob: drill/server.py).
    cheap_passwords: bool = False


class Checkpoints:
    """The owner's copy of each store's daily checkpoint, fetched after the day ends and kept
    outside the database (here: in the drill's memory)."""

    def __init__(self, cafe: Cafe, days: int) -> None:
        self.cafe = cafe
        self.days = days
        self.kept: dict[tuple[UUID, date], Checkpoint] = {}
        self.errors: list[str] = []

    async def actor(self) -> Actor:
        for day in range(1, self.days + 1):
            yield local(day, 0, 30)
            for store in self.cafe.stores:
                previous = local_day(local(day - 1, 12))
                try:
                    self.kept[(store.id, previous)] = await self.cafe.owner.checkpoint(store.id, previous)
                except ProblemError as exc:
                    self.errors.append(f"{store.plan.name} {previous}: {exc}")

    async def verify(self) -> dict[str, Any]:
        differing: dict[str, dict[str, list[str]]] = {}
        for (store_id, day), checkpoint in sorted(self.kept.items(), key=lambda item: (item[0][1], str(item[0][0]))):
            report = await self.cafe.owner.verify_checkpoint(checkpoint)
            if not report.intact:
                differing[f"{store_id} {day}"] = {
                    "added": [str(i) for i in report.added],
                    "removed": [str(i) for i in report.removed],
                    "changed": [str(i) for i in report.changed],
                }
        return {"kept": len(self.kept), "intact": len(self.kept) - len(differing), "differing": differing}


class Progress:
    """A line per simulated day, so a long run shows it is alive."""

    def __init__(self, quiet: bool, counter: RequestCounter) -> None:
        self.quiet = quiet
        self.counter = counter
        self.day: date | None = None
        self.started = time.monotonic()

    def __call__(self, now: datetime) -> None:
        day = now.date()
        if day != self.day:
            self.day = day
            if not self.quiet:
                elapsed = time.monotonic() - self.started
                print(f"  {day}  {elapsed:7.1f} s  {self.counter.requests:>8} requests", flush=True)


async def run_drill(options: Options) -> dict[str, Any]:
    started = time.monotonic()
    clock = SimClock(local(0, 0, 0) - timedelta(hours=1))
    settings = drill_settings(options.scratch, options.settings)
    load_or_create_keyring(settings.keyring_path)  # before the server starts: made once, not raced
    counter = RequestCounter()
    transport = SpreadTransport()
    async with (
        running_server(settings, clock, options.cheap_passwords) as base_url,
        httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=120,
            event_hooks={"request": [stamp_time(clock)], "response": [counter.on_response]},
        ) as http,
    ):
        cafe = await open_cafe(http, clock)
        crowd = HonestCrowd(cafe, plan_customers(options.seed, cafe, options.customers, options.days))
        attackers = Attackers(cafe, options.seed, options.days, base_url, counter, only=options.attacks)
        checkpoints = Checkpoints(cafe, options.days)
        scheduler = Scheduler(clock)
        for at, actor, name in crowd.actors() + attackers.actors():
            scheduler.add(at, actor, name)
        scheduler.add(local(1, 0, 30), checkpoints.actor(), "checkpoints")
        simulated = time.monotonic()
        await scheduler.run(window_s=options.window_s, batch=options.batch, progress=Progress(options.quiet, counter))
        month_s = time.monotonic() - simulated
        flags, flags_source = await attackers.all_flags()
        verified = await checkpoints.verify()
        results = judge(
            crowd=crowd,
            attackers=attackers,
            flags=flags,
            flags_source=flags_source,
            checkpoints=verified,
            crashes=scheduler.crashes,
            server_errors=counter.server_errors,
        )
    await transport.aclose()
    results["run"] = {
        "customers": options.customers,
        "days": options.days,
        "seed": options.seed,
        "engine": options.engine,
        "wall_time_s": round(time.monotonic() - started, 1),
        "simulation_s": round(month_s, 1),
        "requests": counter.requests,
        "requests_per_s": round(counter.requests / month_s, 1) if month_s else None,
        "events": scheduler.events,
        "concurrency": {"window_s": options.window_s, "batch": options.batch},
        "loopback_addresses_for_staff_sign_in": transport.addresses,
        "checkpoint_fetch_errors": checkpoints.errors,
        "notes": [
            "The enroll rate limit is raised to 1,000,000 a minute: all honest customers enroll and renew "
            "sessions from this one machine. The login limit keeps its default (10 a minute per address).",
            "Staff sign-ins and refreshes are spread over loopback addresses 127.1.x.y, at most 8 a real minute "
            "each, because the limiter counts real seconds while the drill squeezes a month into minutes.",
            f"Independent events within {options.window_s:g} simulated seconds play at once (up to {options.batch}); "
            "each request carries its event's simulated time (header x-drill-time, read by a thin ASGI wrapper "
            "into the server's clock), and sign-ins carry the batch's earliest time. The server runs in a process "
            "of its own (drill/server.py).",
        ],
    }
    return results
