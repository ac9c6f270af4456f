"""Where a flag is raised: the risk rules that look at each punch and each new card.

A rule never refuses a punch (only signature failures, replays and counter regressions
do, and the program's excess policy for cooldown and daily cap). It raises a flag that
says in plain words what looked wrong, with the punches as evidence, so the owner can
decide; meanwhile those punches do not count toward a reward.

Rules and their stable names (the owner filters flags by them):

- `impossible_travel` (T4): a card punched at two stores further apart than anyone travels in between.
- `cooldown`, `daily_cap` (T5): a card punched again too soon, or too often in a day.
- `cashier_concentration` (T6): a cashier whose punches go mostly to a few cards.
- `staff_card` (T6): a colleague punching a staff member's card.
- `outside_opening_hours`: a punch while the store is closed.
- `scanner_burst`: one scanner punching faster than a till serves customers.
- `shared_contact` (T14): several cards in a program with one e-mail address or phone number.
- `refund_after_reward` (T8): a purchase refunded after its punch already earned a free item.
- `counter_regression` (T3) lives in `cards/stamps.py`: it freezes the card as the stamp is asked for.

The thresholds are the program's (`RiskThresholds`). Assessing a punch costs one indexed
query; the rare punch that crosses a threshold costs a few more to gather the evidence.
"""

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import msgspec

from cards.database import stored_time, stored_uuid
from cards.flags import Severity, card_code, raise_flag
from cards.programs import risk_thresholds
from cards.tables import Flag, FlagPunch, LedgerEntry, RedeemedPunch, Scanner, Staff
from mobile_contract.programs import RiskThresholds
from mobile_contract.stores import OpeningPeriod

_EARTH_RADIUS_KM = 6371.0088
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# A punch stands unless a void entry names it (ledger_voids is a unique index on `voids`).
_STANDS = "NOT EXISTS (SELECT 1 FROM ledger_entry v WHERE v.voids = e.id)"

# Everything the punch rules need, in one read. Each count walks one index: the cashier's
# punches by (staff, recorded_at), the scanner's by (scanner, recorded_at), the card's by
# (card, seq), a colleague by the unique staff e-mail. It also finds the open burst flag of
# the scanner and the open concentration flag of the cashier, which a new punch may join.
# Only {} parameters carry values.
_PUNCH_CONTEXT_SQL = f"""
WITH mine AS (
    SELECT e.card AS card, count(*) AS n FROM ledger_entry e
    WHERE e.staff = {{}} AND e.recorded_at > {{}} AND e.recorded_at <= {{}} AND e.kind = 'punch' AND {_STANDS}
    GROUP BY e.card
)
SELECT s.name AS store_name, s.time_zone AS time_zone, s.latitude AS latitude, s.longitude AS longitude,
       s.opening_hours AS opening_hours,
       prev.id AS prev_id, prev.recorded_at AS prev_at, ps.id AS prev_store, ps.name AS prev_store_name,
       ps.time_zone AS prev_time_zone, ps.latitude AS prev_latitude, ps.longitude AS prev_longitude,
       (SELECT st.id FROM staff st WHERE st.email = {{}} AND st.business = {{}} AND st.id <> {{}}
          AND st.active = {{}}) AS card_staff,
       (SELECT count(*) FROM ledger_entry e WHERE e.scanner = {{}} AND e.recorded_at > {{}}
          AND e.recorded_at <= {{}} AND e.kind = 'punch') AS scanner_recent,
       (SELECT coalesce(sum(n), 0) FROM mine) AS staff_total,
       (SELECT coalesce(sum(t.n), 0) FROM (SELECT n FROM mine ORDER BY n DESC LIMIT {{}}) t) AS staff_top,
       (SELECT f.id FROM flag f WHERE f.scanner = {{}} AND f.rule = 'scanner_burst' AND f.status = 'open'
          AND f.created_at > {{}} AND f.created_at <= {{}} ORDER BY f.created_at DESC LIMIT 1) AS open_burst,
       (SELECT f.id FROM flag f WHERE f.staff = {{}} AND f.rule = 'cashier_concentration' AND f.status = 'open'
          ORDER BY f.created_at DESC LIMIT 1) AS open_concentration
FROM store s
LEFT JOIN ledger_entry prev ON prev.id = (
    SELECT e.id FROM ledger_entry e WHERE e.card = {{}} AND e.seq < {{}} AND e.kind = 'punch' AND {_STANDS}
    ORDER BY e.seq DESC LIMIT 1)
LEFT JOIN store ps ON ps.id = prev.store
WHERE s.id = {{}}
"""  # noqa: S608

# The cashier's standing punches in the window on their busiest cards: the evidence of concentration.
_CONCENTRATION_SQL = f"""
WITH mine AS (
    SELECT e.card AS card, count(*) AS n FROM ledger_entry e
    WHERE e.staff = {{}} AND e.recorded_at > {{}} AND e.recorded_at <= {{}} AND e.kind = 'punch' AND {_STANDS}
    GROUP BY e.card
), top_cards AS (SELECT card, n FROM mine ORDER BY n DESC, card LIMIT {{}})
SELECT e.id AS id, e.card AS card, t.n AS n FROM ledger_entry e JOIN top_cards t ON t.card = e.card
WHERE e.staff = {{}} AND e.recorded_at > {{}} AND e.recorded_at <= {{}} AND e.kind = 'punch' AND {_STANDS}
ORDER BY t.n DESC, t.card, e.recorded_at
"""  # noqa: S608

# Whether a flag holds a punch of this card for review.
_FLAG_HOLDS_CARD_SQL = """
SELECT 1 AS found FROM flag_punch fp JOIN ledger_entry e ON e.id = fp.punch WHERE fp.flag = {} AND e.card = {} LIMIT 1
"""

# The cards of this program whose customer shares the new card's customer's e-mail or phone
# (both indexed); NULL never equals NULL, so a customer with neither matches nobody.
_SHARED_CONTACT_SQL = """
SELECT c.id AS card, cu.email = me.email AS same_email, cu.phone = me.phone AS same_phone,
       p.business AS business, p.name AS program_name, p.risk AS risk
FROM customer me
JOIN customer cu ON cu.email = me.email OR cu.phone = me.phone
JOIN card c ON c.customer = cu.id
JOIN program p ON p.id = c.program
WHERE me.id = {} AND c.program = {}
ORDER BY c.created_at, c.id
"""
del _STANDS


# --- Pure rules -----------------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two points given in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def _minutes(clock_time: str) -> int:
    hours, minutes = clock_time.split(":")
    return int(hours) * 60 + int(minutes)


def is_open(opening_hours: Sequence[OpeningPeriod], local: datetime, grace: timedelta = timedelta()) -> bool:
    """Whether a store with these opening hours is open at `local` (its own wall-clock time).

    `grace` widens every period at both ends. A period whose `closes` is not after its
    `opens` runs past midnight into the next day. A store with no opening hours listed
    counts as always open: the owner has not told us when it closes.
    """
    if not opening_hours:
        return True
    wall = local.replace(tzinfo=None)
    # A period of yesterday may run past midnight; one of tomorrow may open within the grace.
    for days_back in (-1, 0, 1):
        day = (wall - timedelta(days=days_back)).replace(hour=0, minute=0, second=0, microsecond=0)
        weekday = _WEEKDAYS[day.weekday()]
        for period in opening_hours:
            if period.day != weekday:
                continue
            opens, closes = _minutes(period.opens), _minutes(period.closes)
            if closes <= opens:
                closes += 24 * 60
            start = day + timedelta(minutes=opens) - grace
            end = day + timedelta(minutes=closes) + grace
            if start <= wall <= end:
                return True
    return False


# --- Cooldown and daily cap (T5) --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Excess:
    """A punch beyond the program's limits: which rule, and why in plain words."""

    rule: str
    explanation: str


def excess(ctx: dict[str, Any], now: datetime, card_id: UUID) -> list[Excess]:
    """The program's limits (T5): a cooldown between punches and a daily cap per card; every
    limit the punch would break, cooldown first.

    `ctx` is the scan's context row: `last_punch_at` (the card's last standing punch),
    `cooldown_s`, `today` (standing punches since the store's local midnight) and `daily_cap`.
    The caller refuses or flags the excess, as the program's `excess_policy` says.
    """
    code = card_code(card_id)
    found = []
    last = stored_time(ctx["last_punch_at"])
    if last is not None and ctx["cooldown_s"] and (now - last).total_seconds() < ctx["cooldown_s"]:
        seconds = int((now - last).total_seconds())
        found.append(
            Excess(
                "cooldown",
                f"Card {code} was punched again {seconds} s after its last punch; the "
                f"program asks for at least {ctx['cooldown_s']} s between punches.",
            )
        )
    if ctx["today"] >= ctx["daily_cap"]:
        found.append(
            Excess(
                "daily_cap",
                f"Card {code} got punch number {ctx['today'] + 1} today; the program allows {ctx['daily_cap']} a day.",
            )
        )
    return found


async def flag_excess(
    found: Excess,
    *,
    business_id: UUID,
    card_id: UUID,
    punch_id: UUID,
    store_id: UUID | None,
    staff_id: UUID | None,
    scanner_id: UUID | None,
    now: datetime,
) -> UUID | None:
    """Flag a punch the program let through beyond its limits; the punch waits for review."""
    return await raise_flag(
        business_id=business_id,
        card_id=card_id,
        store_id=store_id,
        staff_id=staff_id,
        scanner_id=scanner_id,
        rule=found.rule,
        severity="low",
        explanation=found.explanation,
        evidence={},
        now=now,
        punch_ids=[punch_id],
    )


# --- The punch rules ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Punch:
    id: UUID
    card_id: UUID
    business_id: UUID
    store_id: UUID
    staff_id: UUID
    scanner_id: UUID
    now: datetime
    thresholds: RiskThresholds
    ctx: dict[str, Any]

    @property
    def code(self) -> str:
        return card_code(self.card_id)

    async def flag(
        self, *, rule: str, severity: Severity, explanation: str, evidence: dict[str, Any], punch_ids: list[UUID]
    ) -> UUID | None:
        """Raise a flag about this punch: its business, card, store, cashier and scanner."""
        return await raise_flag(
            business_id=self.business_id,
            card_id=self.card_id,
            store_id=self.store_id,
            staff_id=self.staff_id,
            scanner_id=self.scanner_id,
            rule=rule,
            severity=severity,
            explanation=explanation,
            evidence=evidence,
            now=self.now,
            punch_ids=punch_ids,
        )


async def assess_punch(
    *,
    punch_id: UUID,
    seq: int,
    card_id: UUID,
    business_id: UUID,
    store_id: UUID,
    staff_id: UUID,
    scanner_id: UUID,
    customer_email: str | None,
    risk: Any,
    now: datetime,
) -> list[UUID]:
    """Run the punch rules on a punch just recorded; returns the ids of the flags raised.

    Call it once per new punch, in the transaction that writes its ledger entry, never for a
    replayed scan's first answer. `seq` is the punch's place in the card's chain (the
    travel rule looks at the standing punch before it), `risk` the card's program's
    stored thresholds and `customer_email` the card's customer's e-mail.
    """
    thresholds = risk_thresholds(risk)
    rows = await LedgerEntry.raw(
        _PUNCH_CONTEXT_SQL,
        staff_id,
        now - timedelta(days=thresholds.concentration_window_days),
        now,
        customer_email,
        business_id,
        staff_id,
        True,
        scanner_id,
        now - timedelta(seconds=thresholds.burst_window_s),
        now,
        thresholds.concentration_cards,
        scanner_id,
        now - timedelta(seconds=thresholds.burst_window_s),
        now,
        staff_id,
        card_id,
        seq,
        store_id,
    )
    if not rows:
        return []
    punch = _Punch(punch_id, card_id, business_id, store_id, staff_id, scanner_id, now, thresholds, rows[0])
    flags = [
        await _impossible_travel(punch),
        await _outside_opening_hours(punch),
        await _staff_card(punch),
        await _scanner_burst(punch),
        await _cashier_concentration(punch),
    ]
    return [flag for flag in flags if flag is not None]


async def _impossible_travel(punch: _Punch) -> UUID | None:
    """T4: the card's previous standing punch was at a store too far away for the time between."""
    ctx, limits = punch.ctx, punch.thresholds
    if ctx["prev_id"] is None or ctx["prev_store"] is None or stored_uuid(ctx["prev_store"]) == punch.store_id:
        return None
    km = haversine_km(ctx["prev_latitude"], ctx["prev_longitude"], ctx["latitude"], ctx["longitude"])
    if km <= limits.travel_min_km:
        return None
    before = stored_time(ctx["prev_at"])
    assert before is not None, "every punch has a recorded_at"
    elapsed = (punch.now - before).total_seconds()
    kmh = math.inf if elapsed <= 0 else km / (elapsed / 3600)
    if kmh <= limits.travel_max_kmh:
        return None
    distance = f"{km:.0f} km" if km >= 10 else f"{km:.1f} km"
    speed = " with no time in between" if math.isinf(kmh) else f": {kmh:.0f} km/h"
    return await punch.flag(
        rule="impossible_travel",
        severity="medium",
        explanation=(
            f"Card {punch.code} was punched at {ctx['prev_store_name']} at {_hhmm(before, ctx['prev_time_zone'])} "
            f"and at {ctx['store_name']} at {_hhmm(punch.now, ctx['time_zone'])}, {distance} apart{speed}"
        ),
        evidence={
            "distance_km": round(km, 1),
            "elapsed_s": round(elapsed),
            "speed_kmh": None if math.isinf(kmh) else round(kmh),
            "store_ids": [str(ctx["prev_store"]), str(punch.store_id)],
            "max_kmh": limits.travel_max_kmh,
        },
        punch_ids=[stored_uuid(ctx["prev_id"]), punch.id],
    )


async def _outside_opening_hours(punch: _Punch) -> UUID | None:
    """A punch while the store is closed, give or take the program's grace minutes."""
    ctx = punch.ctx
    hours = _opening_hours(ctx["opening_hours"])
    local = punch.now.astimezone(_zone(ctx["time_zone"]))
    if is_open(hours, local, timedelta(minutes=punch.thresholds.opening_hours_grace_min)):
        return None
    weekday = local.weekday()
    periods = [f"{p.opens}-{p.closes}" for p in hours if p.day == _WEEKDAYS[weekday]]
    listed = (
        f"the store opens {_DAY_NAMES[weekday]} {', '.join(periods)}"
        if periods
        else f"the store is closed on {_DAY_NAMES[weekday]}s"
    )
    return await punch.flag(
        rule="outside_opening_hours",
        severity="low",
        explanation=(
            f"Card {punch.code} was punched at {ctx['store_name']} on {_DAY_NAMES[weekday]} at {local:%H:%M}; {listed}."
        ),
        evidence={"local_time": local.isoformat(), "grace_min": punch.thresholds.opening_hours_grace_min},
        punch_ids=[punch.id],
    )


async def _staff_card(punch: _Punch) -> UUID | None:
    """T6: a colleague punched the card of a staff member (the card's e-mail is theirs).

    A staff member punching their own card is refused at the scan; this catches the
    next easiest thing, two colleagues punching each other's cards.
    """
    if punch.ctx["card_staff"] is None:
        return None
    holder = stored_uuid(punch.ctx["card_staff"])
    names = {
        stored_uuid(row["id"]): row["name"]
        for row in await Staff.select(Staff.id, Staff.name).where(Staff.id.is_in([holder, punch.staff_id]))
    }
    return await punch.flag(
        rule="staff_card",
        severity="low",
        explanation=(
            f"Card {punch.code} belongs to staff member {names.get(holder, 'unknown')} (same e-mail address) "
            f"and was punched by their colleague {names.get(punch.staff_id, 'unknown')}."
        ),
        evidence={"card_holder_staff_id": str(holder)},
        punch_ids=[punch.id],
    )


async def _join(flag_id: UUID, punch: _Punch) -> UUID:
    """Put a new punch under review with an open flag that already reports its pattern."""
    await FlagPunch.insert(FlagPunch(flag=flag_id, punch=punch.id))
    return flag_id


async def _scanner_burst(punch: _Punch) -> UUID | None:
    """One scanner recording punches faster than a till serves customers."""
    limits = punch.thresholds
    # One flag per burst: while the last one is open and recent, the burst is already
    # reported, and a punch within its window joins it (it does not count meanwhile).
    open_flag = stored_uuid(punch.ctx["open_burst"])
    if open_flag is not None:
        return await _join(open_flag, punch)
    if int(punch.ctx["scanner_recent"]) <= limits.burst_punches:
        return None
    since = punch.now - timedelta(seconds=limits.burst_window_s)
    punches = await (
        LedgerEntry.select(LedgerEntry.id)
        .where(
            (LedgerEntry.scanner == punch.scanner_id)
            & (LedgerEntry.recorded_at > since)
            & (LedgerEntry.recorded_at <= punch.now)
            & (LedgerEntry.kind == "punch")
        )
        .order_by(LedgerEntry.recorded_at)
    )
    scanner = await Scanner.select(Scanner.name).where(Scanner.id == punch.scanner_id).first()
    scanner_name = scanner["name"] if scanner else "unknown"
    return await raise_flag(
        business_id=punch.business_id,
        store_id=punch.store_id,
        scanner_id=punch.scanner_id,
        rule="scanner_burst",
        severity="medium",
        explanation=(
            f"Scanner {scanner_name} at {punch.ctx['store_name']} recorded {len(punches)} punches in "
            f"{_duration(limits.burst_window_s)}; the program expects at most {limits.burst_punches}."
        ),
        evidence={"window_s": limits.burst_window_s, "punches": len(punches)},
        now=punch.now,
        punch_ids=[stored_uuid(p["id"]) for p in punches],
    )


async def _cashier_concentration(punch: _Punch) -> UUID | None:
    """T6: a cashier whose punches go mostly to a few cards (their friends', or their own under another name)."""
    ctx, limits = punch.ctx, punch.thresholds
    # One open flag per cashier is enough: the owner's review of it covers the pattern, and
    # a new punch on one of the cards it names joins it (it does not count meanwhile).
    open_flag = stored_uuid(ctx["open_concentration"])
    if open_flag is not None:
        return await _join(open_flag, punch) if await _names_card(open_flag, punch.card_id) else None
    total, top = int(ctx["staff_total"]), int(ctx["staff_top"])
    if total < limits.concentration_min_punches or top <= limits.concentration_share * total:
        return None
    since = punch.now - timedelta(days=limits.concentration_window_days)
    rows = await LedgerEntry.raw(
        _CONCENTRATION_SQL,
        punch.staff_id,
        since,
        punch.now,
        limits.concentration_cards,
        punch.staff_id,
        since,
        punch.now,
    )
    cards = list(dict.fromkeys(stored_uuid(row["card"]) for row in rows))
    staff = await Staff.select(Staff.name).where(Staff.id == punch.staff_id).first()
    name = staff["name"] if staff else "unknown"
    days = limits.concentration_window_days
    return await raise_flag(
        business_id=punch.business_id,
        store_id=punch.store_id,
        staff_id=punch.staff_id,
        rule="cashier_concentration",
        severity="medium",
        explanation=(
            f"Cashier {name} made {len(rows)} of their {total} punches in the last {days} "
            f"{'day' if days == 1 else 'days'} ({round(100 * len(rows) / total)} %) on {len(cards)} "
            f"{'card' if len(cards) == 1 else 'cards'}: {', '.join(card_code(c) for c in cards)}"
        ),
        evidence={"card_ids": [str(c) for c in cards], "punches": total, "on_top_cards": len(rows)},
        now=punch.now,
        punch_ids=[stored_uuid(row["id"]) for row in rows],
    )


async def _names_card(flag_id: UUID, card_id: UUID) -> bool:
    """Whether a concentration flag names this card: in its evidence, or by a punch it holds."""
    flag = await Flag.select(Flag.evidence).where(Flag.id == flag_id).output(load_json=True).first()
    evidence = flag["evidence"] if flag else None
    if isinstance(evidence, dict) and str(card_id) in evidence.get("card_ids", []):
        return True
    return bool(await LedgerEntry.raw(_FLAG_HOLDS_CARD_SQL, flag_id, card_id))


# --- The new-card rule ------------------------------------------------------------------------


async def assess_new_card(card_id: UUID, customer_id: UUID, program_id: UUID, now: datetime) -> UUID | None:
    """T14: flag a new card when more cards of its program than the program allows share
    its customer's e-mail address or phone number. Returns the flag's id, if one was raised."""
    rows = await LedgerEntry.raw(_SHARED_CONTACT_SQL, customer_id, program_id)
    if not rows:
        return None
    thresholds = risk_thresholds(rows[0]["risk"])
    if len(rows) <= thresholds.cards_per_contact:
        return None
    others = [row for row in rows if stored_uuid(row["card"]) != card_id]
    same_email = any(row["same_email"] for row in others)
    same_phone = any(row["same_phone"] for row in others)
    contact = " or ".join(
        kind for kind, shared in (("e-mail address", same_email), ("phone number", same_phone)) if shared
    )
    allowed = thresholds.cards_per_contact
    return await raise_flag(
        business_id=stored_uuid(rows[0]["business"]),
        card_id=card_id,
        rule="shared_contact",
        severity="medium",
        explanation=(
            f"Card {card_code(card_id)} joined {rows[0]['program_name']} with the same {contact} as "
            f"{len(others)} other {'card' if len(others) == 1 else 'cards'}: "
            f"{', '.join(card_code(stored_uuid(row['card'])) for row in others)}; the program allows "
            f"{allowed} {'card' if allowed == 1 else 'cards'} per e-mail address or phone number."
        ),
        evidence={
            "card_ids": [str(row["card"]) for row in others],
            "same_email": same_email,
            "same_phone": same_phone,
        },
        now=now,
    )


async def assess_refund(
    *, punch_id: UUID, card_id: UUID, business_id: UUID, store_id: UUID, staff_id: UUID | None, now: datetime
) -> UUID | None:
    """T8 after a reward: a refunded punch that a free item already used up cannot stop counting,
    because the item was given. Flag the card (which holds its next reward) so the owner
    decides whether the customer owes a punch. Returns the flag's id, if one was raised."""
    used = await (
        RedeemedPunch.select(RedeemedPunch.redemption.decided_at.as_alias("decided_at"))
        .where(RedeemedPunch.punch == punch_id)
        .first()
    )
    if used is None:
        return None
    punch = await LedgerEntry.select(LedgerEntry.receipt).where(LedgerEntry.id == punch_id).first()
    receipt = punch["receipt"] if punch else "?"
    decided = stored_time(used["decided_at"])
    when = f" on {decided:%Y-%m-%d}" if decided else ""
    return await raise_flag(
        business_id=business_id,
        card_id=card_id,
        store_id=store_id,
        staff_id=staff_id,
        rule="refund_after_reward",
        severity="medium",
        explanation=(
            f"Card {card_code(card_id)}: receipt {receipt} was refunded after its punch had already "
            f"earned a free item{when}. The card's next reward waits for you to decide whether it owes a punch."
        ),
        evidence={"refunded_punch_id": str(punch_id), "receipt": receipt},
        now=now,
    )


# --- Reading stored values ----------------------------------------------------------------------


@lru_cache(maxsize=256)
def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name or "UTC")


def _hhmm(moment: datetime, time_zone: str | None) -> str:
    return moment.astimezone(_zone(time_zone)).strftime("%H:%M")


def _duration(seconds: int) -> str:
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes} {'minute' if minutes == 1 else 'minutes'}"
    return f"{seconds} s"


def _opening_hours(stored: Any) -> list[OpeningPeriod]:
    # JSON columns read back as text (SQLite, raw PostgreSQL) or already decoded.
    if isinstance(stored, str | bytes):
        return msgspec.json.decode(stored or b"[]", type=list[OpeningPeriod])
    return msgspec.convert(stored or [], list[OpeningPeriod])
