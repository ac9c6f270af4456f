"""The chain `make bench` drives: 20 stores, 2 tills each, 2,000 cards, and the requests wrk replays.

**The chain.** 20 stores in and around one city (Paris, up to about 25 km apart), open 07:00 to
20:00 every day; each has 2 scanners (tills), each with its own cashier signed in at it: 40
access tokens at a time, one per till (refreshed each morning; see ACCESS_LIFETIME for why the
bench's tokens last longer than production's). Each store has 100 regulars among the
2,000 cards of the realistic mix; 600 more cards (BENCH_REDEEM_CARDS) earn a free item for the
redemption figure, and 240 more are the attacker's.

**The program** is what a chain with 40 busy tills would set (PATCH /v1/programs/{id} sets its
risk thresholds): 10 punches for a coffee, stamps living 60 s, a card punched at most once every
15 minutes (two punches for one visit is the abuse a cooldown is for; a customer back for lunch
is not) and 3 times a day, the excess flagged rather than refused (the default: the owner
reviews it, no customer is turned away). Every risk rule stays on, at values for busy tills: a
scanner is flagged past 10 punches in 2 minutes (a till at its busiest serves a customer every
20 s, 6 in 2 minutes), travel faster than 250 km/h between two stores more than 1 km
apart, a cashier whose punches go more than 30 % to 3 cards (judged from 20 punches, over 30
days), punches outside opening hours (15 minutes' grace), one card per contact, and a free item
held when one cashier made its punches with a chance under 1 in 1,000.

**Honest timing.** wrk replays an hour in seconds, so the bench runs PunchGuard on a simulated
clock (bench/sim_clock.py): every request carries the instant it happens, and the rules judge
that instant, not when wrk happened to send it. The peak hour (08:00 to 09:00, store time) is
the same each day: each till serves a customer every 20 s + an exponential 55 s on average (75
s: 48 an hour, about 1,920 across the chain, so that most of the 2,000 cards come once; never
more than 6 in 2 minutes, under the burst rule). A customer's card is one of the store's
regulars (95 %) or any other card (5 %, someone from another neighbourhood), never one punched
in the last 17 minutes (the cooldown and a 2-minute margin, which also keeps any trip between
two stores under 100 km/h) nor one with 3 punches that day. The rules therefore see what a real
peak hour shows them. As many days of that hour follow one another as the run's lines need
(BENCH_MIX_LINES_PER_S lines per second of wrk, enough that the fastest server that must not
replay, the floor, never runs out); wrk gets through as many of them as it can. wrk's two
threads take the stores by halves (a store's two tills on one thread), so a card's scans,
minutes apart, reach the server in the order they happen.

Why a simulated clock rather than the real one: on the real clock the same lines would either
trip the burst and cooldown rules on nearly every scan (wrk is 40 tills working a hundred times
faster than people) or need the rules switched off; slowing wrk to an hour's real pace would
measure nothing. The clock is the one PunchGuard already lets tests and the fraud drill inject
(`create_app(clock=...)`), so every rule, query and write is the production one.

**The rule-breakers, about 2 %.** After 1.7 % of the honest scans (those that are not a card's
third of the day) the same till scans the same card again 20 to 90 s later (a punch per item, or
a friend's second punch: the cooldown flags it), and after 0.5 % the card is scanned 60 to 120 s
later at the chain's store furthest away (a copied stamp screen: impossible travel, and the
cooldown too). Their receipts say which they are
(`MC-`, `MT-`; honest ones `MH-`), so the bench counts how many were recorded and which flags
they raised; an honest scan raises none.

**Under attack**: one cashier signed in at one till punches the 240 attacker's cards as fast as
wrk sends (32 connections), the simulated clock moving one second for every N scans, N the rate
the same server just showed in the mix: the burst rule and the cooldown (and, past 3 a card, the
daily cap) fire on nearly every scan, as they would at the real speed. The attack comes on its
own morning after everything else, so that it changes none of the other figures.

**Redemption.** The 600 cards got their 10 punches on four earlier mornings (3, 3, 3 and 1,
at least 19 minutes apart, at their store's two tills; driven by wrk, each line once, not timed).
With fewer than about 400 such cards a cashier's punches fall on so few cards that the
concentration rule rightly flags them. On the morning after the mix each phone
signs in again, asks for a code (one line per phone), and 15 s later a till of its store scans it
(the audit before the free item runs then). About 1 in 500 such cards has all 10 punches from one
cashier by chance and is held (409 `reward-held`), as it would be in a real store.
"""

import asyncio
import bisect
import heapq
import json
import math
import os
import random
import zoneinfo
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.sim_clock import at
from crypto.encoding import b64u_encode
from crypto.keyring import Keyring
from mobile_contract.customers import proof_message
from mobile_contract.redemptions import redemption_request_message
from mobile_contract.stamps import Stamp, device_ref, encode_stamp, stamp_request_message

ZONE = zoneinfo.ZoneInfo("Europe/Paris")
PASSWORD = "bench password 1234"
STORES = 20
TILLS_PER_STORE = 2
MIX_CARDS = int(os.environ.get("BENCH_MIX_CARDS", "2000"))
ATTACK_CARDS = 240
PEAK_OPENS = (8, 0)
PEAK_HOURS = 1
# The program (see the module's docstring).
STAMP_LIFETIME_S = 60
COOLDOWN_S = 900
DAILY_CAP = 3
PUNCHES_PER_REWARD = 10
RISK = {
    "travel_max_kmh": 250.0,
    "travel_min_km": 1.0,
    "concentration_share": 0.30,
    "concentration_cards": 3,
    "concentration_min_punches": 20,
    "concentration_window_days": 30,
    "opening_hours_grace_min": 15,
    "burst_punches": 10,
    "burst_window_s": 120,
    "cards_per_contact": 1,
    "one_cashier_chance": 0.001,
}
# A till: a customer every SERVICE_S + an exponential MEAN_WAIT_S.
SERVICE_S = 20.0
MEAN_WAIT_S = 55.0
VISITOR_SHARE = 0.05
MARGIN = timedelta(minutes=2)
COOLDOWN_BREAKERS = 0.017
TRAVEL_BREAKERS = 0.005
# In production a till's access token lives 15 minutes (the app refreshes it) and its sign-in 12
# hours (then the cashier types the password again). The bench's server gives a token 90 minutes
# (ACCESS_LIFETIME) and a sign-in SESSION_DAYS, so that its 40 tills sign in once and refresh once
# a simulated morning, rather than paying 40 password hashes and 200 refreshes for each: that
# changes no scan's work (a token is checked the same way, with its session, whatever it lasts).
ACCESS_LIFETIME = timedelta(minutes=90)
REFRESH_EVERY = timedelta(minutes=85)
SESSION_DAYS = 60

Line = str


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def line(method: str, path: str, token: str | None, moment: datetime | None, body: Any) -> Line:
    """One request for bench/wrk.lua: METHOD, PATH, AUTHORIZATION, TIME, BODY, tab-separated."""
    auth = f"Bearer {token}" if token else ""
    when = at(moment) if moment else ""
    return f"{method}\t{path}\t{auth}\t{when}\t{json.dumps(body, separators=(',', ':'))}"


def local(day: date, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    """A store's wall-clock time on `day`, as UTC."""
    naive = datetime(day.year, day.month, day.day, hour, minute) + timedelta(seconds=second)
    return naive.replace(tzinfo=ZONE).astimezone(UTC)


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


class Phone:
    """A customer's phone: its key, its device, its session and its card."""

    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
        self.card_id = ""
        self.device_id = ""
        self.session = ""
        self.store = 0

    def sign(self, message: bytes) -> str:
        return b64u_encode(self.key.sign(message))


@dataclass
class Till:
    """A scanner and the cashier who signs in at it; its access tokens by the instant they were issued."""

    index: int
    store: int
    scanner_id: str
    scanner_secret: str
    email: str
    issued: list[datetime] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def token_at(self, moment: datetime) -> str:
        """The access token the till holds at `moment` (signed in for it: see `Chain.sign_in`)."""
        i = bisect.bisect_right(self.issued, moment) - 1
        if i < 0 or moment >= self.issued[i] + ACCESS_LIFETIME:
            raise RuntimeError(f"till {self.index} is not signed in at {moment.isoformat()}")
        return self.tokens[i]


@dataclass
class Chain:
    http: httpx.AsyncClient
    keyring: Keyring
    owner: str
    program_id: str
    stores: list[tuple[float, float]]
    tills: list[Till]
    mix: list[Phone]
    redeemers: list[Phone]
    attackers: list[Phone]
    rng: random.Random

    async def post(
        self, path: str, body: dict[str, Any], token: str | None = None, moment: datetime | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if moment is not None:
            headers["x-bench-time"] = at(moment)
        response = await self.http.post(path, json=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:400]}")
        result: dict[str, Any] = response.json()
        return result

    # --- Sign-ins on the simulated clock -----------------------------------------------------

    async def sign_in(self, shifts: Sequence[tuple[datetime, datetime]]) -> None:
        """Every till signs in once, at the first shift's start; through each shift it refreshes its
        token every 14 minutes, as the till app does (the bench's sessions last SESSION_DAYS)."""

        async def one(till: Till) -> None:
            refresh = ""
            for start, end in sorted(shifts):
                moment = start + timedelta(seconds=till.index)  # the 40 tills a second apart
                while True:
                    if refresh:
                        tokens = await self.post("/v1/auth/refresh", {"refresh_token": refresh}, moment=moment)
                    else:
                        tokens = await self.post(
                            "/v1/auth/login",
                            {
                                "email": till.email,
                                "password": PASSWORD,
                                "scanner_id": till.scanner_id,
                                "scanner_secret": till.scanner_secret,
                            },
                            moment=moment,
                        )
                    refresh = tokens["refresh_token"]
                    till.issued.append(moment)
                    till.tokens.append(tokens["access_token"])
                    if moment + ACCESS_LIFETIME > end:
                        break
                    moment += REFRESH_EVERY

        await gather_limited([one(till) for till in self.tills], 8)

    # --- What wrk replays ------------------------------------------------------------------------

    def stamp(self, phone: Phone, issued: datetime) -> str:
        return encode_stamp(
            Stamp(
                kid=self.keyring.active.kid,
                card_id=UUID(phone.card_id),
                device_ref=device_ref(UUID(phone.device_id)),
                stamp_id=self.rng.randbytes(8),
                issued_at=int(issued.timestamp()),
                lifetime_s=STAMP_LIFETIME_S,
            ),
            self.keyring.active_private_key,
        )

    def scan(self, till: Till, phone: Phone, moment: datetime, reference: str, token: str | None = None) -> Line:
        """A till scanning the phone's stamp (shown a few seconds after the phone got it) at `moment`."""
        issued = moment - timedelta(seconds=self.rng.uniform(2, 20))
        body = {"stamp": self.stamp(phone, issued), "receipt": {"reference": reference, "amount_cents": 450}}
        return line("POST", "/v1/scans", token or till.token_at(moment), moment, body)

    def farthest(self, store: int) -> int:
        return max(range(STORES), key=lambda other: haversine_km(self.stores[store], self.stores[other]))


def days_of_mix(lines: int) -> int:
    """How many peak hours hold `lines` scans."""
    per_day = STORES * TILLS_PER_STORE * PEAK_HOURS * 3600 / (SERVICE_S + MEAN_WAIT_S)
    return max(1, math.ceil(lines / (per_day * (1 + COOLDOWN_BREAKERS + TRAVEL_BREAKERS))))


def peak_shift(day: date) -> tuple[datetime, datetime]:
    """A till's morning: signed in two minutes before the peak hour, until 10 minutes after it."""
    opens = local(day, *PEAK_OPENS)
    return opens - timedelta(minutes=2), opens + timedelta(hours=PEAK_HOURS, minutes=10)


@dataclass
class MixLines:
    per_thread: list[list[Line]]
    scans: int
    by_kind: dict[str, int]


def mix_lines(chain: Chain, days: list[date], threads: int) -> MixLines:
    """The peak hours of `days`, honest but for the ~2 % rule-breakers (see the module's docstring).

    A store's two tills go to one wrk thread (store index modulo `threads`), so that its
    regulars' scans, minutes apart, reach the server in the order they happen."""
    rng = chain.rng
    cooldown = timedelta(seconds=COOLDOWN_S) + MARGIN
    home: list[list[Phone]] = [[] for _ in range(STORES)]
    for phone in chain.mix:
        home[phone.store].append(phone)
    last: dict[str, datetime] = {}
    today: dict[str, tuple[date, int]] = {}
    per_thread: list[list[tuple[datetime, Line]]] = [[] for _ in range(threads)]
    by_kind = {"MH": 0, "MC": 0, "MT": 0}
    serial = 0

    def record(kind: str, till: Till, phone: Phone, moment: datetime, day: date, after: int = 0) -> None:
        nonlocal serial
        serial += 1
        # A breaker's receipt names the honest scan it follows: MC-<day>-<serial>-<that serial>.
        reference = f"{kind}-{day.isoformat()}-{serial}" + (f"-{after}" if after else "")
        per_thread[till.store % threads].append((moment, chain.scan(till, phone, moment, reference)))
        by_kind[kind] += 1
        last[phone.card_id] = moment
        seen_day, count = today.get(phone.card_id, (day, 0))
        today[phone.card_id] = (day, count + 1 if seen_day == day else 1)

    def punched_today(phone: Phone, day: date) -> int:
        seen_day, count = today.get(phone.card_id, (day, 0))
        return count if seen_day == day else 0

    def honest_card(store: int, moment: datetime, day: date) -> Phone | None:
        for _ in range(30):
            pool = home[store] if rng.random() >= VISITOR_SHARE else chain.mix
            phone = pool[rng.randrange(len(pool))]
            before = last.get(phone.card_id)
            if (before is None or moment - before >= cooldown) and punched_today(phone, day) < DAILY_CAP:
                return phone
        return None

    for day in days:
        opens = local(day, *PEAK_OPENS)
        closes = opens + timedelta(hours=PEAK_HOURS)
        # (moment, order, kind, till, phone): honest customers, and the breakers they set off.
        events: list[tuple[datetime, int, str, int, Phone | None, int]] = []
        order = 0
        for till in chain.tills:
            moment = opens + timedelta(seconds=rng.uniform(0, MEAN_WAIT_S))
            while moment < closes:
                events.append((moment, order, "MH", till.index, None, 0))
                order += 1
                moment += timedelta(seconds=SERVICE_S + rng.expovariate(1 / MEAN_WAIT_S))
        heapq.heapify(events)
        while events:
            moment, _, kind, till_index, chosen, after = heapq.heappop(events)
            till = chain.tills[till_index]
            if kind != "MH":
                assert chosen is not None
                record(kind, till, chosen, moment, day, after)
                continue
            customer = honest_card(till.store, moment, day)
            if customer is None:
                continue  # nobody free to come: the till waits for the next customer
            record("MH", till, customer, moment, day)
            if punched_today(customer, day) >= DAILY_CAP:
                continue  # a breaker must break only its own rule, not also the daily cap
            draw = rng.random()
            if draw < COOLDOWN_BREAKERS:
                later = moment + timedelta(seconds=rng.uniform(20, 90))
                heapq.heappush(events, (later, order, "MC", till.index, customer, serial))
            elif draw < COOLDOWN_BREAKERS + TRAVEL_BREAKERS:
                far = chain.farthest(till.store) * TILLS_PER_STORE + rng.randrange(TILLS_PER_STORE)
                later = moment + timedelta(seconds=rng.uniform(60, 120))
                heapq.heappush(events, (later, order, "MT", far, customer, serial))
            order += 1
    for lines in per_thread:
        lines.sort(key=lambda item: item[0])
    return MixLines([[text for _, text in lines] for lines in per_thread], sum(by_kind.values()), by_kind)


def breakers_recorded(receipts: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """From the mix's receipts in the ledger: punches of each kind (MH, MC, MT), and the breakers
    whose honest scan (the one they follow) was recorded too."""
    kinds = {"MH": 0, "MC": 0, "MT": 0}
    honest, breakers = set(), []
    for receipt in receipts:
        parts = receipt.split("-")
        kinds[parts[0]] += 1
        # MH-YYYY-MM-DD-serial; a breaker adds -<serial it follows>
        if parts[0] == "MH":
            honest.add(parts[4])
        else:
            breakers.append((parts[0], parts[5]))
    paired = {"MC": 0, "MT": 0}
    for kind, after in breakers:
        paired[kind] += after in honest
    return kinds, paired


def prep_days(first: date) -> list[date]:
    """The mornings on which the redeemers' cards earn their free item."""
    return [first + timedelta(days=i) for i in range(math.ceil(PUNCHES_PER_REWARD / DAILY_CAP))]


def prep_lines(chain: Chain, days: list[date], threads: int) -> list[list[Line]]:
    """Ten punches per redeemer's card: 3 a morning, 20 minutes apart, at one of its store's tills."""
    rng = chain.rng
    per_thread: list[list[tuple[datetime, Line]]] = [[] for _ in range(threads)]
    for n, phone in enumerate(chain.redeemers):
        offset = rng.uniform(0, 20 * 60)
        punches = 0
        for day in days:
            for slot in range(DAILY_CAP):
                if punches == PUNCHES_PER_REWARD:
                    break
                moment = local(day, *PEAK_OPENS, second=offset + slot * 20 * 60 + rng.uniform(-30, 30))
                till = chain.tills[phone.store * TILLS_PER_STORE + rng.randrange(TILLS_PER_STORE)]
                per_thread[till.store % threads].append(
                    (moment, chain.scan(till, phone, moment, f"P-{day.isoformat()}-{n}-{slot}"))
                )
                punches += 1
    for lines in per_thread:
        lines.sort(key=lambda item: item[0])
    return [[text for _, text in lines] for lines in per_thread]


def attack_lines(chain: Chain, start: datetime, count: int, per_s: float, token: str) -> list[Line]:
    """One till's token punching the attacker's cards in turn, `per_s` a simulated second."""
    till = chain.tills[0]
    return [
        chain.scan(
            till,
            chain.attackers[i % len(chain.attackers)],
            start + timedelta(seconds=i / per_s),
            f"A-{i}",
            token,
        )
        for i in range(count)
    ]


async def resume_sessions(chain: Chain, phones: list[Phone], moment: datetime) -> None:
    """Each phone signs in again (a fresh challenge, signed), at `moment` on the simulated clock."""

    async def one(phone: Phone) -> None:
        challenge = (await chain.post("/v1/challenges", {}, moment=moment))["challenge"]
        session = await chain.post(
            "/v1/customers/sessions",
            {
                "device_id": phone.device_id,
                "challenge": challenge,
                "signature": phone.sign(proof_message("session", challenge)),
            },
            moment=moment,
        )
        phone.session = session["session_token"]

    await gather_limited([one(phone) for phone in phones], 16)


def code_lines(chain: Chain, start: datetime, spacing: timedelta) -> tuple[list[Line], dict[str, datetime]]:
    """Each redeemer's phone asking for its code, one after another; and when each asks."""
    lines, asked = [], {}
    for i, phone in enumerate(chain.redeemers):
        moment = start + i * spacing
        counter = 1  # the phone's first request with its device counter: it never asked for a stamp here
        body = {"counter": counter, "signature": phone.sign(redemption_request_message(UUID(phone.card_id), counter))}
        lines.append(line("POST", f"/v1/me/cards/{phone.card_id}/redemptions", phone.session, moment, body))
        asked[phone.card_id] = moment
    return lines, asked


def redeem_lines(chain: Chain, codes: dict[str, str], asked: dict[str, datetime], after: timedelta) -> list[Line]:
    """A till of the card's store scanning each code `after` it was asked for."""
    stores = {phone.card_id: phone.store for phone in chain.redeemers}
    lines = []
    for card_id, code in codes.items():
        moment = asked[card_id] + after
        till = chain.tills[stores[card_id] * TILLS_PER_STORE + chain.rng.randrange(TILLS_PER_STORE)]
        lines.append(line("POST", "/v1/redemptions", till.token_at(moment), moment, {"code": code}))
    lines.sort(key=lambda text: text.split("\t")[3])
    return lines


def issue_lines(phones: list[Phone], counters: int, threads: int) -> list[list[Line]]:
    """Stamp requests with rising counters, on the real clock; a phone's all on one wrk thread."""
    per_thread: list[list[Line]] = [[] for _ in range(threads)]
    for counter in range(1, counters + 1):
        for i, phone in enumerate(phones):
            body = {"counter": counter, "signature": phone.sign(stamp_request_message(UUID(phone.card_id), counter))}
            per_thread[i % threads].append(
                line("POST", f"/v1/me/cards/{phone.card_id}/stamps", phone.session, None, body)
            )
    return per_thread


# --- Setting the chain up, over HTTP as the apps would -----------------------------------------


async def gather_limited(work: list[Awaitable[None]], limit: int) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[None]) -> None:
        async with gate:
            await item

    await asyncio.gather(*(one(item) for item in work))


def store_places(rng: random.Random) -> list[tuple[float, float]]:
    """20 stores around Paris: the first in the centre, the others within about 12 km of it."""
    centre = (48.8566, 2.3522)
    places = [centre]
    while len(places) < STORES:
        places.append((centre[0] + rng.uniform(-0.11, 0.11), centre[1] + rng.uniform(-0.16, 0.16)))
    return places


async def set_up(http: httpx.AsyncClient, setup_code: str, keyring: Keyring, redeemers: int, seed: int) -> Chain:
    """Owner, program, stores, tills and cashiers, and every phone enrolled with its card."""
    rng = random.Random(seed)
    chain = Chain(http, keyring, "", "", store_places(rng), [], [], [], [], rng)
    await chain.post(
        "/v1/setup",
        {
            "setup_code": setup_code,
            "business_name": "Bench Coffee",
            "name": "Owner",
            "email": "owner@bench.test",
            "password": PASSWORD,
        },
    )
    chain.owner = (await chain.post("/v1/auth/login", {"email": "owner@bench.test", "password": PASSWORD}))[
        "access_token"
    ]
    program = await chain.post(
        "/v1/programs",
        {
            "name": "Coffee card",
            "reward_name": "Coffee",
            "reward_value_cents": 350,
            "punches_per_reward": PUNCHES_PER_REWARD,
            "stamp_lifetime_s": STAMP_LIFETIME_S,
            "cooldown_s": COOLDOWN_S,
            "daily_cap": DAILY_CAP,
            "excess_policy": "flag",
        },
        chain.owner,
    )
    chain.program_id = program["id"]
    patched = await chain.http.patch(
        f"/v1/programs/{chain.program_id}", json={"risk": RISK}, headers={"Authorization": f"Bearer {chain.owner}"}
    )
    if patched.status_code != 200:
        raise RuntimeError(f"PATCH program: {patched.status_code} {patched.text[:400]}")
    hours = [
        {"day": day, "opens": "07:00", "closes": "20:00"} for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    ]

    async def open_store(index: int) -> None:
        latitude, longitude = chain.stores[index]
        store = await chain.post(
            "/v1/stores",
            {
                "name": f"Store {index + 1:02d}",
                "time_zone": ZONE.key,
                "latitude": latitude,
                "longitude": longitude,
                "opening_hours": hours,
            },
            chain.owner,
        )
        for n in range(TILLS_PER_STORE):
            scanner = await chain.post(f"/v1/stores/{store['id']}/scanners", {"name": f"Till {n + 1}"}, chain.owner)
            email = f"cashier{index + 1:02d}{n + 1}@bench.test"
            await chain.post(
                "/v1/staff",
                {
                    "name": f"Cashier {index + 1}.{n + 1}",
                    "email": email,
                    "password": PASSWORD,
                    "role": "cashier",
                    "store_id": store["id"],
                },
                chain.owner,
            )
            chain.tills.append(
                Till(index * TILLS_PER_STORE + n, index, scanner["scanner"]["id"], scanner["scanner_secret"], email)
            )

    await gather_limited([open_store(index) for index in range(STORES)], 4)
    chain.tills.sort(key=lambda till: till.index)

    async def enroll(phone: Phone) -> None:
        challenge = (await chain.post("/v1/challenges", {}))["challenge"]
        session = await chain.post(
            "/v1/customers",
            {
                "challenge": challenge,
                "public_key": phone.jwk,
                "signature": phone.sign(proof_message("enroll", challenge)),
            },
        )
        phone.session, phone.device_id = session["session_token"], session["device_id"]
        phone.card_id = (await chain.post("/v1/me/cards", {"program_id": chain.program_id}, phone.session))["id"]

    chain.mix = [Phone() for _ in range(MIX_CARDS)]
    chain.redeemers = [Phone() for _ in range(redeemers)]
    chain.attackers = [Phone() for _ in range(ATTACK_CARDS)]
    for group in (chain.mix, chain.redeemers):
        for i, phone in enumerate(group):
            phone.store = i % STORES
    await gather_limited([enroll(phone) for phone in (*chain.mix, *chain.redeemers, *chain.attackers)], 16)
    return chain
