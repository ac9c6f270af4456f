"""No hot query crosses businesses: every statement of a café's busy day is keyed by that café (docs/scaling.md).

Two businesses share one server and one customer's phone. Business B has its busy day first; then
every SQL statement the engine runs is recorded, with its parameters, while business A has the same
day through the API: stamps issued and scanned, a till's retry, a punch flagged for coming too soon,
the owner's review queue (`GET /v1/flags?status=open`) and rejection of that flag, a refund, a free
item asked for and granted, the customer's card, and the cashier's token refresh.

The rule, for each recorded statement that reads or writes a table holding one business's rows
(`BUSINESS_TABLES`; customer, device and challenge are the customer's, shared by every café, and
rate-limit counters and setup codes belong to none):

- it is **keyed** by A: one of its parameters, as bound, is the id of something of A's: the business
  itself, or one of its stores, scanners, staff, programs, cards, ledger entries or their stamp ids,
  flags, flag punches, redemptions or their code hashes, redeemed punches, sessions, audit entries,
  device blocks;
- it **names nothing of B's**: no parameter is the id of something of B's, no parameter and not the
  SQL itself has one of B's ids inside it (a JSON value, an inlined literal).

A statement keyed by an id of A's card rather than by A's id itself passes: the card is A's and
nothing else's. What this cannot see is a part of a statement left unkeyed beside a keyed one (a
subquery by a value of its own); docs/scaling.md lists the statements that a database split by
business would route by such a value and not by the business. Sign-in is left out of the day: it
looks an e-mail up among every business's staff by design (one e-mail may be staff at several).

`test_the_check_catches_a_query_that_crosses_businesses` runs queries that do cross through the same
recorder and checker, so that the first test cannot pass by seeing nothing.
"""

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from api.settings import Settings
from cards import staff
from cards.database import current_engine
from cards.tables import (
    AuditLog,
    Card,
    DeviceBlock,
    Flag,
    FlagPunch,
    LedgerEntry,
    Program,
    RedeemedPunch,
    Redemption,
    Scanner,
    Staff,
    StaffSession,
    Store,
)
from mobile_contract.redemptions import redemption_request_message
from tests.support import PASSWORD, Cafe, Customer, FakeClock, bearer, new_customer, set_up_cafe

PER_REWARD = 3

# Every table whose rows belong to one business: split by business in docs/scaling.md.
BUSINESS_TABLES = frozenset(
    {
        "business",
        "store",
        "staff",
        "scanner",
        "program",
        "card",
        "ledger_entry",
        "flag",
        "flag_punch",
        "redemption",
        "redeemed_punch",
        "scan_answer",
        "staff_session",
        "audit_log",
        "device_block",
        "store_sales",
        "metric_settings",
        "metric_dirty",
        "metric_card",
        "metric_cell",
    }
)
# The tables of a business's busy day that the recording must have seen, or it saw too little.
HOT_TABLES = frozenset(
    {"ledger_entry", "card", "flag", "flag_punch", "redemption", "redeemed_punch", "scan_answer", "staff_session"}
)

# A table named after FROM, JOIN, INTO or UPDATE, and any more after commas (`FROM device d, card c`).
_TABLE_LIST = re.compile(
    r'\b(?:FROM|JOIN|INTO|UPDATE)\s+("?\w+"?(?:\s+(?:AS\s+)?"?[\w$]+"?)?(?:\s*,\s*"?\w+"?(?:\s+(?:AS\s+)?"?[\w$]+"?)?)*)',
    re.IGNORECASE,
)
_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...]

    def tables(self) -> set[str]:
        found = set()
        for listed in _TABLE_LIST.findall(self.sql):
            for item in listed.split(","):
                found.add(item.split()[0].strip('"').lower())
        return found

    def values(self) -> set[str]:
        """Each parameter as text, ids in their canonical form."""
        return {_text(value) for value in _flat(self.params)}


def _flat(values: Any) -> Iterator[Any]:
    if isinstance(values, list | tuple | set | frozenset):
        for value in values:
            yield from _flat(value)
    else:
        yield values


def _text(value: Any) -> str:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return str(UUID(value)) if len(value) in (32, 36) else value
        return value
    return str(value)


@contextlib.contextmanager
def recording() -> Iterator[list[Statement]]:
    """Every statement the engine runs meanwhile, compiled as the database receives it (as
    bench/profile_scan.py times them); the engine's class is put back as it was."""
    engine_class = type(current_engine())
    own = engine_class.__dict__.get("run_querystring")
    run = engine_class.run_querystring
    statements: list[Statement] = []

    async def recorded(engine: Any, querystring: Any, *args: Any, **kwargs: Any) -> Any:
        sql, params = querystring.compile_string(engine_type=engine.engine_type)
        statements.append(Statement(" ".join(sql.split()), tuple(params)))
        return await run(engine, querystring, *args, **kwargs)

    engine_class.run_querystring = recorded  # type: ignore[method-assign, assignment]
    try:
        yield statements
    finally:
        if own is None:
            del engine_class.run_querystring
        else:
            engine_class.run_querystring = own  # type: ignore[method-assign]


async def ids_of(business_id: UUID) -> set[str]:
    """The id of everything the business holds (and its stamp ids and code hashes), as text."""
    stores = [r["id"] for r in await Store.select(Store.id).where(Store.business == business_id)]
    programs = [r["id"] for r in await Program.select(Program.id).where(Program.business == business_id)]
    cards = [r["id"] for r in await Card.select(Card.id).where(Card.program.is_in(programs or [uuid4()]))]
    flags = [r["id"] for r in await Flag.select(Flag.id).where(Flag.business == business_id)]
    redemptions = await Redemption.select(Redemption.id, Redemption.code_hash).where(
        Redemption.card.is_in(cards or [uuid4()])
    )
    entries = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.stamp_id).where(
        LedgerEntry.card.is_in(cards or [uuid4()])
    )
    found: list[Any] = [business_id, *stores, *programs, *cards, *flags]
    found += [r["id"] for r in await Scanner.select(Scanner.id).where(Scanner.store.is_in(stores or [uuid4()]))]
    found += [r["id"] for r in await Staff.select(Staff.id).where(Staff.business == business_id)]
    found += [r[k] for r in redemptions for k in ("id", "code_hash")]
    found += [r[k] for r in entries for k in ("id", "stamp_id") if r[k] is not None]
    found += [r["id"] for r in await FlagPunch.select(FlagPunch.id).where(FlagPunch.flag.is_in(flags or [uuid4()]))]
    found += [
        r["id"]
        for r in await RedeemedPunch.select(RedeemedPunch.id).where(RedeemedPunch.card.is_in(cards or [uuid4()]))
    ]
    for table in (StaffSession, AuditLog, DeviceBlock):
        found += [r["id"] for r in await table.select(table.id).where(table.business == business_id)]
    return {_text(value) for value in found}


def crossings(statements: list[Statement], ours: set[str], theirs: set[str]) -> list[str]:
    """Each statement on a business's table that is not keyed by ours, or names something of theirs."""
    theirs_in_text = {value for value in theirs if _UUID_TEXT.fullmatch(value)}
    found = []
    for statement in statements:
        if not statement.tables() & BUSINESS_TABLES:
            continue
        values = statement.values()
        texts = [statement.sql, *(value for value in values if len(value) > 36)]
        named = (values & theirs) | {value for value in theirs_in_text if any(value in text for text in texts)}
        if named:
            found.append(f"names another business's {sorted(named)}: {statement.sql} {statement.params}")
        elif not values & ours:
            found.append(f"not keyed by the business: {statement.sql} {statement.params}")
    return found


# --- two cafés and one phone ------------------------------------------------------------------------


@dataclass
class Counter:
    cafe: Cafe
    cashier: dict[str, str]
    refresh_token: str
    customer: Customer
    receipts: list[str] = field(default_factory=list)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sign-ins that last the days a card takes to fill: the day moves the clock a day per visit."""
    month = timedelta(days=30)
    return replace(settings, access_ttl=month, refresh_ttl=month, session_ttl=month)


async def _second_cafe(client: httpx.AsyncClient) -> Cafe:
    """Another business beside the first, set up as `python -m api new-business` lets its owner."""
    made = await client.post(
        "/v1/setup",
        json={
            "setup_code": await staff.new_business_code(),
            "business_name": "Second Cup",
            "name": "Sam",
            "email": "sam@second.test",
            "password": PASSWORD,
        },
    )
    assert made.status_code == 201, made.text
    login = await client.post("/v1/auth/login", json={"email": "sam@second.test", "password": PASSWORD})
    assert login.status_code == 200, login.text
    cafe = Cafe(client, login.json()["access_token"], made.json()["business_id"])
    store = await client.post(
        "/v1/stores", headers=cafe.owner, json={"name": "Harbour", "time_zone": "UTC", "latitude": 1, "longitude": 1}
    )
    assert store.status_code == 201, store.text
    cafe.store_id = store.json()["id"]
    scanner = await client.post(f"/v1/stores/{cafe.store_id}/scanners", headers=cafe.owner, json={"name": "Till 1"})
    assert scanner.status_code == 201, scanner.text
    cafe.scanner_id, cafe.scanner_secret = scanner.json()["scanner"]["id"], scanner.json()["scanner_secret"]
    program = await client.post(
        "/v1/programs", headers=cafe.owner, json={"name": "Tea card", "reward_name": "Free tea"}
    )
    assert program.status_code == 201, program.text
    cafe.program_id = program.json()["id"]
    return cafe


async def _counter(client: httpx.AsyncClient, cafe: Cafe, cashier_email: str, customer: Customer) -> Counter:
    """The café's rules made plain for the day (always open, a free item every few punches, no judging
    a regular by their one cashier) and its cashier signed in at its till."""
    store = await client.patch(f"/v1/stores/{cafe.store_id}", headers=cafe.owner, json={"opening_hours": []})
    assert store.status_code == 200, store.text
    program = await client.patch(
        f"/v1/programs/{cafe.program_id}",
        headers=cafe.owner,
        json={"punches_per_reward": PER_REWARD, "risk": {"concentration_min_punches": 10_000}},
    )
    assert program.status_code == 200, program.text
    await cafe.add_staff("cashier", cashier_email)
    tokens = await cafe.log_in(cashier_email, at_scanner=True)
    return Counter(cafe, bearer(tokens["access_token"]), tokens["refresh_token"], customer)


@dataclass
class TwoCafes:
    ours: Counter
    theirs: Counter


@pytest.fixture
async def cafes(client: httpx.AsyncClient, clock: FakeClock) -> TwoCafes:
    """Business A and business B, and one phone with a card at each; B's day is already done."""
    first = await set_up_cafe(client)
    second = await _second_cafe(client)
    at_first = await new_customer(client, first)
    joined = await client.post("/v1/me/cards", headers=at_first.headers, json={"program_id": second.program_id})
    assert joined.status_code == 201, joined.text
    at_second = Customer(client, at_first.phone, at_first.session, joined.json()["id"])
    two = TwoCafes(
        await _counter(client, first, "cashier@cafe.test", at_first),
        await _counter(client, second, "cashier@second.test", at_second),
    )
    await busy_day(client, clock, two.theirs)
    return two


async def busy_day(client: httpx.AsyncClient, clock: FakeClock, counter: Counter) -> None:
    """A café's hot paths, each through the API as its apps call it."""
    cafe, customer = counter.cafe, counter.customer

    async def scan(stamp: str, receipt: str) -> dict[str, Any]:
        scanned = await client.post(
            "/v1/scans", headers=counter.cashier, json={"stamp": stamp, "receipt": {"reference": receipt}}
        )
        assert scanned.status_code in (200, 201), scanned.text
        body: dict[str, Any] = scanned.json()
        return body

    for _ in range(PER_REWARD + 1):  # honest visits, a day apart
        clock.advance(days=1)
        counter.receipts.append(f"R-{uuid4().hex[:10]}")
        stamp = await customer.stamp()
        assert not (await scan(stamp, counter.receipts[-1]))["flagged"]
    again = await scan(stamp, counter.receipts[-1])  # the till lost the answer and sends the scan again
    assert again["balance"] == PER_REWARD + 1, again

    clock.advance(seconds=20)  # punched again too soon: the punch stands, under review
    assert (await scan(await customer.stamp(), f"R-{uuid4().hex[:10]}"))["flagged"]
    queue = await client.get("/v1/flags", headers=cafe.owner, params={"status": "open"})
    assert queue.status_code == 200, queue.text
    (flag,) = queue.json()["flags"]
    rejected = await client.post(f"/v1/flags/{flag['id']}/reject", headers=cafe.owner, json={"reason": "Too soon"})
    assert rejected.status_code == 200 and rejected.json()["voided"], rejected.text

    refunded = await client.post(
        "/v1/punches/void", headers=cafe.owner, json={"receipt": counter.receipts[0], "store_id": cafe.store_id}
    )
    assert refunded.status_code == 200 and refunded.json()["balance"] == PER_REWARD, refunded.text

    customer.phone.counter += 1
    signature = customer.phone.sign(redemption_request_message(UUID(customer.card_id), customer.phone.counter))
    asked = await client.post(
        f"/v1/me/cards/{customer.card_id}/redemptions",
        headers=customer.headers,
        json={"counter": customer.phone.counter, "signature": signature},
    )
    assert asked.status_code == 201, asked.text
    granted = await client.post("/v1/redemptions", headers=counter.cashier, json={"code": asked.json()["code"]})
    assert granted.status_code == 201, granted.text
    assert (await customer.card())["balance"] == 0

    refreshed = await client.post("/v1/auth/refresh", json={"refresh_token": counter.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    counter.cashier = bearer(refreshed.json()["access_token"])
    counter.refresh_token = refreshed.json()["refresh_token"]


# --- the tests -----------------------------------------------------------------------------------------


async def test_every_statement_of_a_busy_day_is_keyed_by_its_business(
    client: httpx.AsyncClient, clock: FakeClock, cafes: TwoCafes
) -> None:
    with recording() as statements:
        await busy_day(client, clock, cafes.ours)
    ours = await ids_of(UUID(cafes.ours.cafe.business_id))
    theirs = await ids_of(UUID(cafes.theirs.cafe.business_id))
    assert not ours & theirs

    seen = set().union(*(statement.tables() for statement in statements))
    assert seen >= HOT_TABLES, f"the day never touched {sorted(HOT_TABLES - seen)}"
    assert crossings(statements, ours, theirs) == []


async def test_the_check_catches_a_query_that_crosses_businesses(cafes: TwoCafes) -> None:
    ours_id, theirs_id = UUID(cafes.ours.cafe.business_id), UUID(cafes.theirs.cafe.business_id)
    with recording() as statements:
        await Flag.raw("SELECT id FROM flag WHERE status = 'open'")  # every business's open flags
        await Flag.select(Flag.id).where(Flag.business.is_in([ours_id, theirs_id]))
        await Flag.raw(f"SELECT id FROM flag WHERE business = '{theirs_id}' OR business = {{}}", ours_id)  # noqa: S608
        await Flag.select(Flag.id).where((Flag.business == ours_id) & (Flag.status == "open"))  # keyed: passes
    ours, theirs = await ids_of(ours_id), await ids_of(theirs_id)

    found = crossings(statements, ours, theirs)
    assert len(found) == 3, found
    assert found[0].startswith("not keyed by the business: SELECT id FROM flag WHERE status = 'open'")
    assert found[1].startswith(f"names another business's ['{theirs_id}']")
    assert found[2].startswith(f"names another business's ['{theirs_id}']")
