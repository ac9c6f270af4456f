"""The owner's decisions on flags: listing them with their evidence, approving and rejecting.

Every decision writes one row to the audit log in the same transaction. Everything is scoped
to the reviewer's business: another business's flag reads as missing (T13).
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from piccolo.custom_types import Combinable
from piccolo.query import OrderByRaw

from cards.audit_log import record_action
from cards.database import stored_json, stored_uuid, write_transaction
from cards.duties import refuse_own_flag
from cards.errors import DomainError
from cards.flags import HELD_RULE, card_code, settle_flags_of_voided
from cards.identity import StaffIdentity
from cards.periods import check_window, utc
from cards.punches import append_void
from cards.tables import Card, Flag, FlagPunch, LedgerEntry, RedeemedPunch
from crypto.keyring import Keyring
from mobile_contract import review as wire
from mobile_contract.problems import Problem


@dataclass(frozen=True, slots=True)
class FlagFilter:
    """Which flags to list: every field narrows the list; `since <= created_at < until`.

    `store_id`, `staff_id`, `scanner_id` and `card_id` match a flag that names the store, cashier,
    scanner or card itself, or one of whose punches was made there, by them, at it or on it (the daily-cap rule
    names only the punch; a cashier's or scanner's pattern names no card).
    """

    store_id: UUID | None = None
    staff_id: UUID | None = None
    card_id: UUID | None = None
    rule: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    scanner_id: UUID | None = None


FLAG_COLUMNS = (
    Flag.id,
    Flag.rule,
    Flag.severity,
    Flag.status,
    Flag.explanation,
    Flag.evidence,
    Flag.card,
    Flag.store,
    Flag.store.name.as_alias("store_name"),
    Flag.staff,
    Flag.staff.name.as_alias("staff_name"),
    Flag.scanner,
    Flag.created_at,
    Flag.reviewed_by,
    Flag.reviewed_by.name.as_alias("reviewed_by_name"),
    Flag.reviewed_at,
    Flag.review_reason,
)


def _punches_where(column: Any, value: UUID) -> Combinable:
    """Flags one of whose punches has `column == value`."""
    punches = LedgerEntry.select(LedgerEntry.id).where(column == value)
    return Flag.id.is_in(FlagPunch.select(FlagPunch.flag).where(FlagPunch.punch.is_in(punches)))


def flag_where(business_id: UUID, search: FlagFilter) -> Combinable:
    since, until = utc(search.since), utc(search.until)
    check_window(since, until)
    where: Combinable = Flag.business == business_id
    if search.card_id is not None:
        # A flag about several cards (a cashier's or scanner's pattern) names no card, only punches.
        where &= (Flag.card == search.card_id) | _punches_where(LedgerEntry.card, search.card_id)
    if search.rule is not None:
        where &= Flag.rule == search.rule
    if search.status is not None:
        where &= Flag.status == search.status
    if since is not None:
        where &= Flag.created_at >= since
    if until is not None:
        where &= Flag.created_at < until
    if search.store_id is not None:
        where &= (Flag.store == search.store_id) | _punches_where(LedgerEntry.store, search.store_id)
    if search.staff_id is not None:
        where &= (Flag.staff == search.staff_id) | _punches_where(LedgerEntry.staff, search.staff_id)
    if search.scanner_id is not None:
        where &= (Flag.scanner == search.scanner_id) | _punches_where(LedgerEntry.scanner, search.scanner_id)
    return where


def _chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    # IN (...) lists of at most 500: both engines cap the parameters of one query near 32 767.
    for start in range(0, len(ids), 500):
        yield list(ids[start : start + 500])


async def flag_views(rows: Sequence[dict[str, Any]]) -> list[wire.FlagView]:
    """Flag rows with their punches (oldest first), and names taken from the first punch
    where the flag has none."""
    named: list[dict[str, Any]] = []
    for flag_ids in _chunks([r["id"] for r in rows]):
        named += await FlagPunch.select(FlagPunch.flag, FlagPunch.punch).where(FlagPunch.flag.is_in(flag_ids))
    punches: dict[UUID, dict[str, Any]] = {}
    for punch_ids in _chunks(list(dict.fromkeys(n["punch"] for n in named))):
        for punch in await LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.recorded_at,
            LedgerEntry.store,
            LedgerEntry.store.name.as_alias("store_name"),
            LedgerEntry.staff,
            LedgerEntry.staff.name.as_alias("staff_name"),
            LedgerEntry.scanner,
        ).where(LedgerEntry.id.is_in(punch_ids)):
            punches[stored_uuid(punch["id"])] = punch
    by_flag: dict[UUID, list[UUID]] = defaultdict(list)
    for n in named:
        by_flag[stored_uuid(n["flag"])].append(stored_uuid(n["punch"]))
    never = datetime.max.replace(tzinfo=UTC)
    views = []
    for row in rows:
        punch_ids = sorted(
            by_flag.get(row["id"], []), key=lambda p: (punches.get(p, {}).get("recorded_at") or never, str(p))
        )
        first = punches.get(punch_ids[0], {}) if punch_ids else {}
        evidence = stored_json(row["evidence"])
        store_id, staff_id = row["store"], row["staff"]
        views.append(
            wire.FlagView(
                id=row["id"],
                rule=row["rule"],
                severity=row["severity"],
                status=row["status"],
                explanation=row["explanation"],
                evidence=evidence if isinstance(evidence, dict) else {"items": evidence},
                punch_ids=punch_ids,
                card_id=row["card"],
                card_code=card_code(row["card"]) if row["card"] is not None else None,
                store_id=store_id or first.get("store"),
                store_name=row["store_name"] if store_id else first.get("store_name"),
                staff_id=staff_id or first.get("staff"),
                staff_name=row["staff_name"] if staff_id else first.get("staff_name"),
                scanner_id=row["scanner"] or first.get("scanner"),
                created_at=row["created_at"],
                reviewed_by=row["reviewed_by"],
                reviewed_by_name=row["reviewed_by_name"],
                reviewed_at=row["reviewed_at"],
                review_reason=row["review_reason"],
            )
        )
    return views


async def list_flags(business_id: UUID, search: FlagFilter, limit: int, offset: int = 0) -> wire.FlagPage:
    """The business's flags matching `search`, newest first."""
    rows = await (
        Flag.select(*FLAG_COLUMNS)
        .where(flag_where(business_id, search))
        .order_by(Flag.created_at, Flag.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    return wire.FlagPage(
        flags=await flag_views(rows[:limit]),
        next_offset=offset + limit if len(rows) > limit else None,
    )


async def get_flag(business_id: UUID, flag_id: UUID) -> wire.FlagView:
    """One flag of this business; another business's flag reads as missing."""
    row = await Flag.select(*FLAG_COLUMNS).where((Flag.id == flag_id) & (Flag.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such flag")
    return (await flag_views([row]))[0]


async def review_flag(
    actor: StaffIdentity,
    flag_id: UUID,
    decision: Literal["approved", "rejected"],
    reason: str,
    now: datetime,
    keyring: Keyring,
) -> wire.FlagReviewed:
    """Approve a flag (its punches count again) or reject it (its punches are voided).

    The flag is claimed by one conditional UPDATE on `status = 'open'`, so of two owners
    deciding at once exactly one acts; the other gets FLAG_ALREADY_REVIEWED. Nobody decides
    a flag about their own punches or card (see `refuse_own_flag`): FORBIDDEN.
    """
    await refuse_own_flag(actor, flag_id)
    named = [stored_uuid(r["punch"]) for r in await FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag_id)]
    refused_item = await _held_free_item(actor.business_id, flag_id) if decision == "rejected" else []
    async with write_transaction():
        claimed = await (
            Flag.update(
                {
                    Flag.status: decision,
                    Flag.reviewed_by: actor.staff_id,
                    Flag.reviewed_at: now,
                    Flag.review_reason: reason,
                }
            )
            .where((Flag.id == flag_id) & (Flag.business == actor.business_id) & (Flag.status == "open"))
            .returning(Flag.id)
        )
        if claimed and refused_item:
            # The flag now names the punches it refuses: its evidence, the card's page and the
            # guard's worth all read them like any flag's.
            await FlagPunch.insert(*(FlagPunch(flag=flag_id, punch=punch) for punch in refused_item))
            named = refused_item
        if claimed:
            await record_action(
                actor=actor,
                action="flag.approve" if decision == "approved" else "flag.reject",
                subject_kind="flag",
                subject_id=flag_id,
                reason=reason,
                now=now,
                details={"punch_ids": [str(p) for p in named]} if decision == "rejected" else {},
            )
    if not claimed:
        current = (
            await Flag.select(Flag.status).where((Flag.id == flag_id) & (Flag.business == actor.business_id)).first()
        )
        if current is None:
            raise DomainError(Problem.NOT_FOUND, "No such flag")
        if current["status"] == "rejected":
            # Voiding is idempotent; if the first rejection was cut short, this finishes it.
            await _void(named, actor, now, keyring)
        raise DomainError(Problem.FLAG_ALREADY_REVIEWED)
    # The voids are appended after the claim: each retries on its own when a card is busy,
    # which a transaction holding the claim could not do on PostgreSQL.
    voided = await _void(named, actor, now, keyring) if decision == "rejected" else []
    return wire.FlagReviewed(flag=await get_flag(actor.business_id, flag_id), voided=voided)


async def _held_free_item(business_id: UUID, flag_id: UUID) -> list[UUID]:
    """For a held free item (`HELD_RULE`) being rejected: the punches that free item would use, one
    reward's worth of the candidates the till's audit found, oldest first, among those that still
    count (not voided since, not used by another free item). Rejecting it voids them, so that the
    customer's next try is not granted the same free item. Empty for any other flag."""
    flag = (
        await Flag.select(Flag.rule, Flag.evidence, Flag.card._.program._.punches_per_reward.as_alias("per_reward"))
        .where((Flag.id == flag_id) & (Flag.business == business_id))
        .first()
    )
    if flag is None or flag["rule"] != HELD_RULE or flag["per_reward"] is None:
        return []
    candidates = [UUID(str(i)) for i in (stored_json(flag["evidence"]) or {}).get("candidate_punch_ids", [])]
    if not candidates:
        return []
    gone = {
        stored_uuid(r["voids"])
        for r in await LedgerEntry.select(LedgerEntry.voids).where(LedgerEntry.voids.is_in(candidates))
    } | {
        stored_uuid(r["punch"])
        for r in await RedeemedPunch.select(RedeemedPunch.punch).where(RedeemedPunch.punch.is_in(candidates))
    }
    rows = (
        await LedgerEntry.select(LedgerEntry.id)
        .where(LedgerEntry.id.is_in(candidates) & (LedgerEntry.kind == "punch"))
        .order_by(LedgerEntry.seq)
    )
    return [stored_uuid(r["id"]) for r in rows if stored_uuid(r["id"]) not in gone][: flag["per_reward"]]


async def _void(punch_ids: list[UUID], actor: StaffIdentity, now: datetime, keyring: Keyring) -> list[wire.VoidedPunch]:
    if not punch_ids:
        return []
    rows = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.card, LedgerEntry.store).where(
        LedgerEntry.id.is_in(punch_ids) & (LedgerEntry.kind == "punch")
    )
    voided = []
    for row in sorted(rows, key=lambda r: punch_ids.index(stored_uuid(r["id"]))):
        void_id, _ = await append_void(
            card_id=row["card"],
            punch_id=row["id"],
            now=now,
            keyring=keyring,
            store_id=row["store"],
            staff_id=actor.staff_id,
        )
        voided.append(wire.VoidedPunch(punch_id=row["id"], void_id=void_id))
    # Other open flags that named only these punches have nothing left to decide.
    await settle_flags_of_voided(punch_ids, now, "Its punches were voided when the owner rejected another flag.")
    return voided


# --- the console's review queue ------------------------------------------------------------

# A held free item is a customer waiting at the till: first. Then the worst, then the oldest.
QUEUE_FIRST_RULE = HELD_RULE


@dataclass(frozen=True, slots=True)
class Queue:
    flags: list[wire.FlagView]
    total: int  # open flags matching the filter, of which `flags` are those from the offset asked for


# The queue's order, in the database: held free items first, then high, medium, low severity.
_QUEUE_ORDER = (
    OrderByRaw(f'CASE WHEN "flag"."rule" = \'{QUEUE_FIRST_RULE}\' THEN 0 ELSE 1 END'),
    OrderByRaw("CASE \"flag\".\"severity\" WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END"),
)


async def review_queue(business_id: UUID, search: FlagFilter, limit: int, offset: int = 0) -> Queue:
    """The open flags matching `search` in the order an owner should decide them: held free items
    first, then by severity (high first), then oldest first; `limit` of them from `offset` on.
    Ordered and cut in the database: a page costs the same with ten open flags or ten thousand."""
    where = flag_where(business_id, FlagFilter(**{**_fields(search), "status": "open"}))
    rows = (
        await Flag.select(*FLAG_COLUMNS)
        .where(where)
        .order_by(*_QUEUE_ORDER)
        .order_by(Flag.created_at, Flag.id)
        .limit(limit)
        .offset(offset)
    )
    return Queue(flags=await flag_views(rows), total=await Flag.count().where(where))


def _fields(search: FlagFilter) -> dict[str, Any]:
    return {name: getattr(search, name) for name in FlagFilter.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class EvidencePunch:
    """A punch a flag names, as the owner reads it: where, when (and the store's time zone), by whom."""

    id: UUID
    recorded_at: datetime
    store_name: str | None
    time_zone: str | None
    cashier_name: str | None
    scanner_name: str | None
    receipt: str | None
    amount_cents: int | None
    voided: bool


async def evidence_punches(business_id: UUID, punch_ids: Sequence[UUID]) -> dict[UUID, EvidencePunch]:
    """The punches named by flags, by id (only this business's cards)."""
    found: dict[UUID, EvidencePunch] = {}
    for ids in _chunks(list(dict.fromkeys(punch_ids))):
        rows = await LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.recorded_at,
            LedgerEntry.store.name.as_alias("store_name"),
            LedgerEntry.store.time_zone.as_alias("time_zone"),
            LedgerEntry.staff.name.as_alias("staff_name"),
            LedgerEntry.scanner.name.as_alias("scanner_name"),
            LedgerEntry.receipt,
            LedgerEntry.amount_cents,
        ).where(LedgerEntry.id.is_in(ids) & (LedgerEntry.card._.program._.business == business_id))
        voided = {
            stored_uuid(r["voids"])
            for r in await LedgerEntry.select(LedgerEntry.voids).where(LedgerEntry.voids.is_in(ids))
        }
        for r in rows:
            punch_id = stored_uuid(r["id"])
            found[punch_id] = EvidencePunch(
                id=punch_id,
                recorded_at=r["recorded_at"],
                store_name=r["store_name"],
                time_zone=r["time_zone"],
                cashier_name=r["staff_name"],
                scanner_name=r["scanner_name"],
                receipt=r["receipt"],
                amount_cents=r["amount_cents"],
                voided=punch_id in voided,
            )
    return found


@dataclass(frozen=True, slots=True)
class CardDecision:
    """What deciding every open flag of a card did: the flags decided, and those refused, with why."""

    reviewed: list[wire.FlagReviewed]
    refused: list[tuple[UUID, DomainError]]


async def review_card_flags(
    actor: StaffIdentity,
    card_id: UUID,
    decision: Literal["approved", "rejected"],
    reason: str,
    now: datetime,
    keyring: Keyring,
) -> CardDecision:
    """Decide every open flag about one card with one reason, each through `review_flag` (so each is
    claimed, checked for separation of duties and logged on its own). A flag refused (e.g. one
    about the reviewer's own punches, or one another owner decided meanwhile) is reported, and
    the others are still decided."""
    if not await Card.exists().where((Card.id == card_id) & (Card.program._.business == actor.business_id)):
        raise DomainError(Problem.NOT_FOUND, "No such card")
    open_flags = await Flag.select(Flag.id).where(
        flag_where(actor.business_id, FlagFilter(card_id=card_id, status="open"))
    )
    reviewed, refused = [], []
    for row in sorted(open_flags, key=lambda r: str(r["id"])):
        flag_id = stored_uuid(row["id"])
        if not await Flag.exists().where((Flag.id == flag_id) & (Flag.status == "open")):
            continue  # settled by rejecting an earlier one (its punches were voided): nothing to decide
        try:
            reviewed.append(await review_flag(actor, flag_id, decision, reason, now, keyring))
        except DomainError as exc:
            refused.append((flag_id, exc))
    return CardDecision(reviewed, refused)
