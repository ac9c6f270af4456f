"""Issue 13, item 5: cost that stays flat as the work grows.

A scan, a redemption with its full audit and the owner's review queue (first page), each timed
per request on a fresh database holding only a small café and on one where that same café also
holds a year of 1,000,000 punches over 100,000 cards; and, in one database, a free item for a card
whose ledger already holds 1,000 punches against one for a card with just enough. On SQLite and on
PostgreSQL. Adds `flat_cost` to bench/results.json.

How. For each engine, two child processes at once, one per database (forked, so that the year is
built and signed once for both engines; the engine is chosen when `cards` first reaches its
database), each migrate an empty database and set the café up through the API, as the test suite
does (`tests/support.py`: owner, store, scanner, program, a cashier signed in at the till,
customers with cards), on an injected clock. For the database at size, the year of
`bench/ledger_at_size.py` is then written straight into it as this café's own history: same
business and program (its three stores, their scanners and cashiers, and its owner who reviewed
the rejected flags come along). The triggers
mark every card written in `metric_dirty`; as a server's sweep would, the marks are then cleared
(none of the requests timed reads the metrics' tables; BENCH_FLAT_ROLLUP=1 rebuilds the rollup
instead, as `bench/metrics_at_size.py` does, which takes minutes at full size).

The café's own state is made the same way in both: the same customers, the same scans and the same
open flags (110 cooldown flags, newest, so the first page of the queue shows the same 100 in both),
so only the size of the rest differs. The two children take turns at the timed parts, ten turns a
measurement, so that both meet the same load from whatever else runs on the machine; neither runs
while the other times. The app is called in process through httpx's ASGI transport
(as `bench/profile_scan.py` does), one request at a time; the clock moves an hour between requests
so that no risk rule fires on the honest scans (cooldown, daily cap, scanner burst; the cashier
concentration rule is set out of reach, as the suite's redemption tests do, since one cashier
serves this café).

- scan: `POST /v1/scans` with a stamp minted just before (untimed) for one of 40 cards that
  never reach a reward.
- redemption: the phone's `POST /v1/me/cards/{id}/redemptions` (its standing runs the card's
  audit) then the cashier's `POST /v1/redemptions` (the audit again, then the grant), timed
  together; each card got its ten punches through the API beforehand, untimed.
- review queue: the owner's `GET /v1/flags?status=open` (first page, 100 flags).
- card with 1,000 punches: cards whose ledgers were written through the fast writers (1,000 punches,
  990 used up by 99 free items granted, 10 counting; signed and chained) redeem, alternating with
  new cards that got exactly ten punches through the API, in the same database (the one at size;
  repeated in the fresh one). Beside it, one audit's read (`load_chain`) and check (`verify_chain`)
  of an old and of a new card's whole chain, timed directly.

Medians and p90 in ms. Knobs: BENCH_FLAT_PUNCHES (1,000,000) and BENCH_FLAT_CARDS (a tenth of
it), BENCH_FLAT_REPS (101 timed scans and queue reads), BENCH_FLAT_REDEEM_REPS (31 redemptions
of each kind), BENCH_FLAT_OLD_PUNCHES (1,000), BENCH_FLAT_ENGINES (sqlite,postgres). On PostgreSQL the database at
size is PUNCHGUARD_FLAT_POSTGRES_URL, else `.ci/pg-up` with PG_DB=punchguard_flat, and the fresh one
PUNCHGUARD_FLAT_FRESH_POSTGRES_URL, else PG_DB=punchguard_flat_fresh; their public schemas are
dropped at the start and emptied at the end. SQLite files go to a temporary folder, removed at the end.
"""

import asyncio
import contextlib
import gc
import io
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# These import cards.tables but reach no database: each child picks its engine (asserted below).
from bench import ledger_at_size as seeded  # noqa: E402
from cards.tables import Business, Card, Flag, LedgerEntry, Program, Redemption  # noqa: E402
from crypto.keyring import Keyring, load_or_create_keyring  # noqa: E402

PUNCHES = int(os.environ.get("BENCH_FLAT_PUNCHES", "1000000"))
CARDS = int(os.environ.get("BENCH_FLAT_CARDS", str(max(1, PUNCHES // 10))))
REPS = int(os.environ.get("BENCH_FLAT_REPS", "101"))
REDEEM_REPS = int(os.environ.get("BENCH_FLAT_REDEEM_REPS", "31"))
OLD_PUNCHES = int(os.environ.get("BENCH_FLAT_OLD_PUNCHES", "1000"))
ROLLUP = os.environ.get("BENCH_FLAT_ROLLUP", "0") == "1"
ENGINES = [e.strip() for e in os.environ.get("BENCH_FLAT_ENGINES", "sqlite,postgres").split(",") if e.strip()]
WARM_UP = 5
CHUNKS = 10  # turns per timed phase
REDEEM_WARM_UP = 3
SCAN_CARDS = 40
QUEUE_FLAGS = 110  # more than a page (100), so the first page is full on both databases
PER_REWARD = 10
BETWEEN = timedelta(hours=1)  # between two requests: no cooldown, daily cap or burst is crossed
LONG = timedelta(days=3650)  # sign-ins outlast the clock's year


def log(message: str) -> None:
    print(f"[flat {time.strftime('%H:%M:%S')}] {message}", flush=True)


def postgres_url(size: str) -> str:
    """The database at size is punchguard_flat, the fresh one punchguard_flat_fresh (both private to this bench)."""
    url = os.environ.get("PUNCHGUARD_FLAT_FRESH_POSTGRES_URL" if size == "fresh" else "PUNCHGUARD_FLAT_POSTGRES_URL")
    if url:
        return url
    out = subprocess.run(
        ["bash", str(ROOT / ".ci/pg-up")],
        env=dict(os.environ, PG_DB="punchguard_flat_fresh" if size == "fresh" else "punchguard_flat"),
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


class Turns:
    """The fresh child and the one at size take turns at timing, chunk by chunk, so that both see
    the same load on this machine (other work drifts over minutes); neither runs while the other times."""

    TIMEOUT_S = 3600.0

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("fork")
        self.condition = ctx.Condition()
        self.whose = ctx.Value("i", 0, lock=False)
        self.barrier = ctx.Barrier(2)
        self.me = 0

    def ready(self) -> None:
        """Wait until both children are prepared."""
        self.barrier.wait(self.TIMEOUT_S)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        with self.condition:
            if not self.condition.wait_for(lambda: self.whose.value == self.me, self.TIMEOUT_S):
                raise RuntimeError("the other child did not hand over its turn")
        try:
            yield
        finally:
            with self.condition:
                self.whose.value = 1 - self.me
                self.condition.notify_all()


def chunks(count: int) -> list[range]:
    """`range(count)` in CHUNKS turns."""
    step = max(1, -(-count // CHUNKS))
    return [range(start, min(start + step, count)) for start in range(0, count, step)]


async def reset_schema(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "p90_ms": round(statistics.quantiles(samples, n=10)[8], 3) if len(samples) > 1 else round(samples[0], 3),
        "n": len(samples),
    }


class Statements:
    """Time spent in each SQL statement while a phase is timed (grouped by its SQL afterwards)."""

    def __init__(self, engine_type: str) -> None:
        self.engine_type = engine_type
        self.on = False
        self.spent: list[tuple[Any, float]] = []

    def install(self, engine: Any) -> None:
        cls = type(engine)
        run = cls.run_querystring
        statements = self

        async def timed(self: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
            if not statements.on:
                return await run(self, querystring, *args, **kwargs)
            started = time.perf_counter()
            try:
                return await run(self, querystring, *args, **kwargs)
            finally:
                statements.spent.append((querystring, time.perf_counter() - started))

        cls.run_querystring = timed

    def start(self) -> None:
        self.spent, self.on = [], True

    def stop(self, requests: int) -> dict[str, dict[str, float]]:
        """ms per request and statements per request, by statement (its SQL, shortened)."""
        self.on = False
        out: dict[str, dict[str, float]] = {}
        for querystring, spent in self.spent:
            label = " ".join(querystring.compile_string(engine_type=self.engine_type)[0].split())[:120]
            entry = out.setdefault(label, {"ms_per_request": 0.0, "per_request": 0.0})
            entry["ms_per_request"] += 1000 * spent / requests
            entry["per_request"] += 1 / requests
        self.spent = []
        return {k: {n: round(v, 3) for n, v in e.items()} for k, e in out.items()}


# --- the child: one engine, one size ---------------------------------------------------------------


def cafe_history(
    ledger: seeded.Ledger | None, business_id: UUID, program_id: UUID
) -> tuple[seeded.Ledger, dict[str, int]]:
    """The year as this café's own: its business and program instead of the seeded ones."""
    mine = seeded.Ledger(today=ledger.today if ledger else datetime.now(UTC).date(), business_id=business_id)
    if ledger is None:
        return mine, {}
    old_business = ledger.business_id
    for table, rows in ledger.rows.items():
        if table in (Business, Program):
            continue
        if table is Card:
            mine.rows[table] = [{**row, "program": program_id} for row in rows]
        elif rows and "business" in rows[0]:
            mine.rows[table] = [
                {**row, "business": business_id} if row["business"] == old_business else row for row in rows
            ]
        else:
            mine.rows[table] = list(rows)
    entries = mine.rows[LedgerEntry]
    counts = {
        "punches": sum(row["kind"] == "punch" for row in entries),
        "ledger_entries": len(entries),
        "cards": len(mine.rows[Card]),
        "free_items": len(mine.rows.get(Redemption, [])),
        "flags": len(mine.rows.get(Flag, [])),
        "open_flags": sum(row["status"] == "open" for row in mine.rows.get(Flag, [])),
    }
    return mine, counts


def old_card(
    ledger: seeded.Ledger,
    keyring: Keyring,
    card_id: UUID,
    device_id: UUID,
    at_till: dict[str, UUID],
    start: datetime,
    every: timedelta,
) -> None:
    """A card's ledger of OLD_PUNCHES punches, each ten but the last used up by a free item, as the
    server would have written it (signed, chained, with its redemptions and redeemed punches)."""
    chain = seeded._Chain(ledger, keyring, card_id)
    counted: list[UUID] = []
    groups = OLD_PUNCHES // PER_REWARD
    for i in range(OLD_PUNCHES):
        at = start + every * i
        counted.append(
            chain.append(
                uuid4(),
                "punch",
                at,
                stamp_id=secrets.token_hex(8),
                device=device_id,
                receipt=f"OLD-{uuid4().hex[:16]}",
                amount_cents=450,
                items=1,
                stamp_issued_at=at - timedelta(seconds=4),
                **at_till,
            )
        )
        if len(counted) == PER_REWARD and (i + 1) // PER_REWARD < groups:
            chain.redeem(counted, (uuid4(), uuid4(), [uuid4() for _ in counted]), device_id, at_till)(
                at + timedelta(minutes=1)
            )
            counted = []
    assert len(counted) == PER_REWARD


def write_sqlite(path: str, ledger: seeded.Ledger) -> None:
    """`ledger_at_size.write_sqlite`'s rows and statements, with a cache the indexes fit in and no
    fsync while loading (the server's own connections keep their settings): minutes faster at size."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA cache_size = -2000000")
        db.execute("PRAGMA synchronous = OFF")
        for table in seeded.TABLES:
            names, values = seeded.records(table, ledger.rows.get(table, []))
            marks = ", ".join("?" for _ in names)
            db.executemany(f"INSERT INTO {table._meta.tablename} ({', '.join(names)}) VALUES ({marks})", values)  # noqa: S608
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


async def one_size(
    engine: str, size: str, url: str, work: Path, ledger: seeded.Ledger | None, turns: Turns
) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    os.environ["PUNCHGUARD_DATA_DIR"] = str(work / f"{engine}-{size}")
    assert "cards.piccolo_conf" not in sys.modules, "the engine was chosen before DATABASE_URL was set"
    import httpx

    import cards  # noqa: F401
    from api.app import create_app, database_pool
    from api.settings import DEFAULT_RATE_LIMITS, Settings
    from cards.database import current_engine
    from cards.ledger import load_chain, verify_chain
    from cards.metric_refresh import rebuild
    from cards.migrate import migrate
    from cards.tables import MetricDirty
    from crypto.keyring import load_keyring
    from mobile_contract.redemptions import redemption_request_message
    from mobile_contract.stamps import Stamp, device_ref, encode_stamp
    from tests.support import Customer, FakeClock, app_client, new_customer, set_up_cafe

    if engine == "postgres":
        await reset_schema(url)
    with contextlib.redirect_stdout(io.StringIO()):
        await migrate()
    statements = Statements(engine)
    statements.install(current_engine())
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    settings = Settings(
        data_dir=work / f"{engine}-{size}",
        keyring_path=work / "keyring.json",
        log_requests=False,
        rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, 10**6),
        access_ttl=LONG,
        refresh_ttl=LONG,
        session_ttl=LONG,
        sweep_every_s=0,
    )
    keyring = load_keyring(settings.keyring_path)
    app = create_app(settings, clock=clock, keyring=keyring)
    figures: dict[str, Any] = {}
    receipts = iter(range(10**9))

    async with database_pool(), app_client(app) as client:

        async def ok(response: Awaitable[httpx.Response], status: int = 201) -> dict[str, Any]:
            answer = await response
            if answer.status_code != status:
                raise RuntimeError(
                    f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text}"
                )
            body: dict[str, Any] = answer.json()
            return body

        # The café, through the API.
        cafe = await set_up_cafe(client)
        await ok(
            client.patch(
                f"/v1/programs/{cafe.program_id}",
                headers=cafe.owner,
                json={"risk": {"concentration_min_punches": 10_000}},
            ),
            200,
        )
        cashier_id = UUID((await cafe.add_staff("cashier", "cashier@cafe.test"))["id"])
        signed_in = await cafe.log_in("cashier@cafe.test", at_scanner=True)
        cashier = {"Authorization": f"Bearer {signed_in['access_token']}"}
        at_till = {"store": UUID(cafe.store_id), "scanner": UUID(cafe.scanner_id), "staff": cashier_id}

        async def customers(count: int) -> list[Customer]:
            return [await new_customer(client, cafe) for _ in range(count)]

        scan_cards = await customers(SCAN_CARDS)
        redeem_cards = await customers(REDEEM_WARM_UP + REDEEM_REPS)
        new_cards = await customers(REDEEM_WARM_UP + REDEEM_REPS)
        old_cards = await customers(REDEEM_WARM_UP + REDEEM_REPS)
        flag_cards = await customers(QUEUE_FLAGS)

        # What is written straight into the database: the year (at size) and the old cards' ledgers
        # (both sizes), dated from now on over a year of the clock, which then moves past them.
        started = time.perf_counter()
        history, counts = cafe_history(ledger, UUID(cafe.business_id), UUID(cafe.program_id))
        every = timedelta(hours=8, minutes=10)  # at most three a day, as the daily cap asks
        for customer in old_cards:
            old_card(
                history,
                keyring,
                UUID(customer.card_id),
                UUID(customer.session["device_id"]),
                at_till,
                clock.now + timedelta(minutes=5),
                every,
            )
        clock.advance(seconds=(every * OLD_PUNCHES + timedelta(days=1)).total_seconds())
        built_s = time.perf_counter() - started
        started = time.perf_counter()
        if engine == "sqlite":
            write_sqlite(url.removeprefix("sqlite:///"), history)
        else:
            await seeded.write_postgres(url, history)
        written_s = time.perf_counter() - started
        del history
        started = time.perf_counter()
        if ROLLUP:
            await rebuild(UUID(cafe.business_id))
        elif engine == "postgres":
            await current_engine().run_ddl("TRUNCATE metric_dirty")
        else:
            await MetricDirty.delete(force=True)
        rollup_s = time.perf_counter() - started
        log(
            f"{engine} {size}: {counts.get('punches', 0):,} punches of the year and {len(old_cards)} old cards "
            f"prepared in {built_s:.0f} s, written in {written_s:.0f} s, "
            f"{'rollup rebuilt' if ROLLUP else 'metric marks cleared'} in {rollup_s:.0f} s"
        )
        figures |= {"seeded": counts, "write_s": round(written_s, 1), "rollup_s": round(rollup_s, 1)}
        gc.collect()
        gc.freeze()  # the year's rows stay in this process's memory: keep the collector off them

        def scan_body(customer: Customer) -> dict[str, Any]:
            stamp = Stamp(
                kid=keyring.active.kid,
                card_id=UUID(customer.card_id),
                device_ref=device_ref(UUID(customer.session["device_id"])),
                stamp_id=secrets.token_bytes(8),
                issued_at=int(clock.now.timestamp()),
                lifetime_s=30,
            )
            return {
                "stamp": encode_stamp(stamp, keyring.active_private_key),
                "receipt": {"reference": f"F-{next(receipts)}", "amount_cents": 450},
            }

        async def scan(customer: Customer, *, honest: bool = True) -> tuple[float, dict[str, Any]]:
            body = scan_body(customer)
            started = time.perf_counter()
            answer = await ok(client.post("/v1/scans", headers=cashier, json=body))
            took = 1000 * (time.perf_counter() - started)
            if honest and answer["flagged"]:
                raise RuntimeError(f"an honest scan was flagged: {answer}")
            return took, answer

        async def fill(cards_: list[Customer]) -> None:
            """Ten honest punches on each card, through the API, untimed."""
            for _ in range(PER_REWARD):
                round_started = clock.now
                for customer in cards_:
                    await scan(customer)
                    clock.advance(seconds=BETWEEN.total_seconds())
                clock.now = max(clock.now, round_started + every)  # a card's punches at least `every` apart
            for customer in cards_:
                card = await customer.card()
                assert card["reward_status"] == "available", card

        async def redeem(customer: Customer) -> tuple[float, float]:
            """The phone asks for a code, the cashier redeems it: ms for each."""
            customer.phone.counter += 1
            signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), customer.phone.counter))
            body = {"counter": customer.phone.counter, "signature": signature}
            started = time.perf_counter()
            code = await ok(
                client.post(f"/v1/me/cards/{customer.card_id}/redemptions", headers=customer.headers, json=body)
            )
            asked = time.perf_counter()
            granted = await ok(client.post("/v1/redemptions", headers=cashier, json={"code": code["code"]}))
            done = time.perf_counter()
            if code["reward_status"] != "available" or not granted["granted"] or len(granted["punches_used"]) != 10:
                raise RuntimeError(f"redemption not as expected: {code} {granted}")
            clock.advance(seconds=BETWEEN.total_seconds())
            return 1000 * (asked - started), 1000 * (done - asked)

        # Untimed: the open flags of the queue (a card punched again 10 s after its punch), the cards to redeem.
        for customer in flag_cards:
            await scan(customer)
            clock.advance(seconds=10)
            _, answer = await scan(customer, honest=False)
            assert answer["flagged"], answer
            clock.advance(seconds=BETWEEN.total_seconds())
        await fill(redeem_cards)
        await fill(new_cards)
        for customer in old_cards:
            card = await customer.card()
            assert card["reward_status"] == "available" and card["balance"] == PER_REWARD, card

        # Timed, taking turns with the other database.
        turns.ready()
        took = []
        for part in chunks(WARM_UP + REPS):
            with turns.turn():
                for i in part:
                    if i == WARM_UP:
                        statements.start()
                    ms, _ = await scan(scan_cards[i % len(scan_cards)])
                    clock.advance(seconds=BETWEEN.total_seconds())
                    if i >= WARM_UP:
                        took.append(ms)
        figures["scan"] = summary(took) | {"statements": statements.stop(REPS)}

        # Redemptions (request and grant) of cards with just their ten punches.
        asks, grants = [], []
        for part in chunks(len(redeem_cards)):
            with turns.turn():
                for i in part:
                    if i == REDEEM_WARM_UP:
                        statements.start()
                    ask, grant = await redeem(redeem_cards[i])
                    if i >= REDEEM_WARM_UP:
                        asks.append(ask)
                        grants.append(grant)
        figures["redemption"] = summary([a + g for a, g in zip(asks, grants, strict=True)]) | {
            "request": summary(asks),
            "grant": summary(grants),
            "statements": statements.stop(REDEEM_REPS),
        }

        # The owner's review queue, first page of the open flags.
        took = []
        for part in chunks(WARM_UP + REPS):
            with turns.turn():
                for i in part:
                    if i == WARM_UP:
                        statements.start()
                    started = time.perf_counter()
                    page = await ok(client.get("/v1/flags", headers=cafe.owner, params={"status": "open"}), 200)
                    ms = 1000 * (time.perf_counter() - started)
                    assert len(page["flags"]) == 100 and page["next_offset"] == 100, len(page["flags"])
                    if i >= WARM_UP:
                        took.append(ms)
        figures["review_queue"] = summary(took) | {"statements": statements.stop(REPS)}

        # A card with OLD_PUNCHES punches against a new one, alternating, in this database.
        old_asks, old_grants, new_asks, new_grants = [], [], [], []
        old_statements: dict[str, dict[str, float]] = {}
        for part in chunks(len(old_cards)):
            with turns.turn():
                for i in part:
                    if i == REDEEM_WARM_UP:
                        statements.start()
                    ask, grant = await redeem(old_cards[i])
                    if i == REDEEM_WARM_UP:
                        old_statements = statements.stop(1)  # one old card's redemption, statement by statement
                    if i >= REDEEM_WARM_UP:
                        old_asks.append(ask)
                        old_grants.append(grant)
                    ask, grant = await redeem(new_cards[i])
                    if i >= REDEEM_WARM_UP:
                        new_asks.append(ask)
                        new_grants.append(grant)
        old_total = summary([a + g for a, g in zip(old_asks, old_grants, strict=True)])
        new_total = summary([a + g for a, g in zip(new_asks, new_grants, strict=True)])
        # Where an old card's audit spends its time outside SQL: reading and verifying its whole chain.
        chain_ms: dict[str, list[float]] = {"load_old": [], "verify_old": [], "load_new": [], "verify_new": []}
        with turns.turn():
            for old, new in zip(old_cards[:5], new_cards[:5], strict=True):
                for kind, customer in (("old", old), ("new", new)):
                    started = time.perf_counter()
                    chain = await load_chain(UUID(customer.card_id))
                    loaded = time.perf_counter()
                    assert not verify_chain(chain, keyring)
                    chain_ms[f"load_{kind}"].append(1000 * (loaded - started))
                    chain_ms[f"verify_{kind}"].append(1000 * (time.perf_counter() - loaded))
                    chain_ms.setdefault(f"entries_{kind}", []).append(len(chain))
        figures["chain"] = {name: round(statistics.median(values), 2) for name, values in chain_ms.items()}
        figures["load_average"] = [round(x, 1) for x in os.getloadavg()]
        figures["card_with_old_punches"] = {
            "old_card_punches": OLD_PUNCHES,
            "redeem_old": old_total,
            "redeem_new": new_total,
            "request_old": summary(old_asks),
            "request_new": summary(new_asks),
            "grant_old": summary(old_grants),
            "grant_new": summary(new_grants),
            "statements_one_old_redemption": old_statements,
        }
    return figures


def child(engine: str, size: str, url: str, work: Path, ledger: seeded.Ledger | None, turns: Turns) -> None:
    try:
        turns.me = 0 if size == "fresh" else 1
        figures = asyncio.run(one_size(engine, size, url, work, ledger, turns))
        (work / f"{engine}-{size}.json").write_text(json.dumps(figures))
    except BaseException:
        traceback.print_exc()
        turns.barrier.abort()
        os._exit(1)


# --- the parent ------------------------------------------------------------------------------------


def run_engine(engine: str, work: Path, ledger: seeded.Ledger) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both databases of one engine at once, their timed parts taking turns."""
    turns = Turns()
    ctx = multiprocessing.get_context("fork")
    processes = {}
    for size in ("fresh", "at_size"):
        url = postgres_url(size) if engine == "postgres" else f"sqlite:///{work}/{size}.sqlite3"
        processes[size] = ctx.Process(
            target=child,
            args=(engine, size, url, work, ledger if size == "at_size" else None, turns),
            name=f"flat-{engine}-{size}",
        )
    started = time.perf_counter()
    for process in processes.values():
        process.start()
    try:
        while any(p.is_alive() for p in processes.values()):
            for size, process in processes.items():
                process.join(1)
                if process.exitcode not in (None, 0):
                    raise RuntimeError(f"{engine} {size}: the child failed ({process.exitcode})")
    finally:
        for process in processes.values():
            if process.is_alive():
                process.terminate()
                process.join()
    log(f"{engine}: both databases measured in {time.perf_counter() - started:.0f} s")
    fresh, at_size = (json.loads((work / f"{engine}-{size}.json").read_text()) for size in ("fresh", "at_size"))
    return fresh, at_size


def growth(fresh: dict[str, Any], at_size: dict[str, Any]) -> dict[str, Any]:
    return {
        "fresh_ms": fresh["median_ms"],
        "at_size_ms": at_size["median_ms"],
        "growth": round(at_size["median_ms"] / fresh["median_ms"] - 1, 3),
        "fresh_p90_ms": fresh["p90_ms"],
        "at_size_p90_ms": at_size["p90_ms"],
        "p90_growth": round(at_size["p90_ms"] / fresh["p90_ms"] - 1, 3),
        "n": at_size["n"],
    }


def grown_statements(fresh: dict[str, Any], at_size: dict[str, Any], top: int = 4) -> list[dict[str, Any]]:
    """The statements that gained the most time per request at size."""
    rows = []
    for label, there in at_size.items():
        here = fresh.get(label, {"ms_per_request": 0.0, "per_request": 0.0})
        rows.append(
            {
                "sql": label,
                "fresh_ms": here["ms_per_request"],
                "at_size_ms": there["ms_per_request"],
                "per_request": there["per_request"],
            }
        )
    rows.sort(key=lambda r: r["at_size_ms"] - r["fresh_ms"], reverse=True)
    return rows[:top]


def report(fresh: dict[str, Any], at_size: dict[str, Any]) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "punches_at_size": at_size["seeded"]["punches"],
        "ledger_entries_at_size": at_size["seeded"]["ledger_entries"],
        "cards_at_size": at_size["seeded"]["cards"],
        "open_flags_at_size": at_size["seeded"]["open_flags"] + QUEUE_FLAGS,
        "write_s": at_size["write_s"],
        "rollup": "rebuilt" if ROLLUP else "marks cleared",
        "rollup_s": at_size["rollup_s"],
        "load_average_1_5_15": {"fresh": fresh["load_average"], "at_size": at_size["load_average"]},
    }
    for name in ("scan", "redemption", "review_queue"):
        figures[name] = growth(fresh[name], at_size[name])
        figures[name]["grew_most"] = grown_statements(fresh[name]["statements"], at_size[name]["statements"])
    for part in ("request", "grant"):
        figures["redemption"][part] = growth(fresh["redemption"][part], at_size["redemption"][part])
    for where, source in (("at_size", at_size), ("fresh", fresh)):
        old = source["card_with_old_punches"]
        block = {
            "old_card_punches": old["old_card_punches"],
            "redeem_1000_ms": old["redeem_old"]["median_ms"],
            "redeem_new_ms": old["redeem_new"]["median_ms"],
            "ratio": round(old["redeem_old"]["median_ms"] / old["redeem_new"]["median_ms"], 3),
            "redeem_1000_p90_ms": old["redeem_old"]["p90_ms"],
            "redeem_new_p90_ms": old["redeem_new"]["p90_ms"],
            "request_1000_ms": old["request_old"]["median_ms"],
            "request_new_ms": old["request_new"]["median_ms"],
            "grant_1000_ms": old["grant_old"]["median_ms"],
            "grant_new_ms": old["grant_new"]["median_ms"],
            "grant_ratio": round(old["grant_old"]["median_ms"] / old["grant_new"]["median_ms"], 3),
            "n": old["redeem_old"]["n"],
            # One audit's read and check of the whole chain (each redemption audits twice: request and grant).
            "chain_load_ms": {"old": source["chain"]["load_old"], "new": source["chain"]["load_new"]},
            "chain_verify_ms": {"old": source["chain"]["verify_old"], "new": source["chain"]["verify_new"]},
            "chain_entries": {"old": source["chain"]["entries_old"], "new": source["chain"]["entries_new"]},
        }
        if where == "at_size":
            block["statements_one_redemption_1000"] = sorted(
                (
                    {"sql": label, **spent}
                    for label, spent in old["statements_one_old_redemption"].items()
                    if spent["ms_per_request"] >= 0.5
                ),
                key=lambda r: -r["ms_per_request"],
            )[:5]
            figures["card_with_1000_punches"] = block
        else:
            figures["card_with_1000_punches"]["in_fresh_database"] = block
    return figures


def main() -> None:
    wall = time.perf_counter()
    # Not /tmp/punchguard-*: other runs on this machine clean those up.
    work = Path(tempfile.mkdtemp(prefix="flat-cost-", dir=os.environ.get("BENCH_FLAT_TMP", "/var/tmp")))  # noqa: S108
    keyring = load_or_create_keyring(work / "keyring.json")
    seeded.CARDS, seeded.PUNCHES = CARDS, PUNCHES
    results: dict[str, Any] = {}
    try:
        for engine in ENGINES:
            if engine not in ("sqlite", "postgres"):
                raise ValueError(f"BENCH_FLAT_ENGINES: sqlite or postgres, not {engine!r}")
        started = time.perf_counter()
        ledger = seeded.build(keyring, datetime.now(UTC).date())
        log(f"{PUNCHES:,} punches over {CARDS:,} cards built and signed in {time.perf_counter() - started:.0f} s")
        for engine in ENGINES:
            try:
                fresh, at_size = run_engine(engine, work, ledger)
            finally:
                for path in work.glob("*.sqlite3*"):
                    path.unlink()  # the year's file is nearly 2 GB
                if engine == "postgres":
                    for size in ("fresh", "at_size"):
                        asyncio.run(reset_schema(postgres_url(size)))  # and so is the year in PostgreSQL
            results[engine] = report(fresh, at_size) | {"settings": settings(wall)}
            write_results(engine, results[engine])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{time.perf_counter() - wall:.0f} s in all")
    print_table(results)


def settings(wall: float) -> dict[str, Any]:
    return {
        "punches": PUNCHES,
        "cards": CARDS,
        "timed_scans_and_queue_reads": REPS,
        "timed_redemptions": REDEEM_REPS,
        "old_card_punches": OLD_PUNCHES,
        "rollup": "rebuilt" if ROLLUP else "marks cleared",
        "run_s_so_far": round(time.perf_counter() - wall),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(engine: str, figures: dict[str, Any]) -> None:
    """bench/results.json's `flat_cost`, this engine's part replaced (other keys and engines kept)."""
    out = ROOT / "bench" / "results.json"
    stored = json.loads(out.read_text()) if out.exists() else {}
    stored.setdefault("flat_cost", {})
    stored["flat_cost"].pop("settings", None)  # an earlier layout's
    stored["flat_cost"][engine] = figures
    out.write_text(json.dumps(stored, indent=2) + "\n")
    log(f"wrote flat_cost.{engine} to {out}")


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{'':14}{'':22}{'fresh ms':>10}{'at size ms':>12}{'growth':>9}   (medians; p90 in bench/results.json)")
    for engine in ENGINES:
        figures = results[engine]
        print(f"{engine} ({figures['punches_at_size']:,} punches at size)")
        for name, label in (("scan", "scan"), ("redemption", "redemption + audit"), ("review_queue", "review queue")):
            row = figures[name]
            print(f"{'':14}{label:22}{row['fresh_ms']:>10.2f}{row['at_size_ms']:>12.2f}{row['growth']:>+9.1%}")
        old = figures["card_with_1000_punches"]
        print(
            f"{'':14}{'card of ' + str(old['old_card_punches']) + ' punches':22}{old['redeem_new_ms']:>10.2f}"
            f"{old['redeem_1000_ms']:>12.2f}{old['ratio']:>9.2f}x   (new card vs old card, same database at size)"
        )


if __name__ == "__main__":
    main()
