"""The owner's review: flags approved or rejected, cards frozen, phones, cashiers and scanners revoked.

Every decision here writes one row to the append-only audit log (who, what, which, why,
when), in the same transaction as the change it records. Everything is scoped to the
reviewer's business: another business's flag, card or device reads as missing (T13).
"""

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from piccolo.custom_types import Combinable

from cards import staff, stores
from cards.database import stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import card_code
from cards.punches import append_void
from cards.staff import StaffIdentity
from cards.tables import (
    AuditLog,
    Card,
    Customer,
    Device,
    Flag,
    FlagPunch,
    LedgerEntry,
    RedeemedPunch,
    Redemption,
    Staff,
)
from crypto.keyring import Keyring
from mobile_contract import review as wire
from mobile_contract import stores as wire_stores
from mobile_contract.problems import Problem

SubjectKind = Literal["flag", "card", "device", "staff", "scanner"]
# An export is one response held in memory; a café's year of punches fits well under this.
MAX_EXPORT_ROWS = 100_000
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class FlagFilter:
    """Which flags to list: every field narrows the list; `since <= created_at < until`.

    `store_id`, `staff_id` and `card_id` match a flag that names the store, cashier or card
    itself, or one of whose punches was made there, by them or on it (the daily-cap rule
    names only the punch; a cashier's or scanner's pattern names no card).
    """

    store_id: UUID | None = None
    staff_id: UUID | None = None
    card_id: UUID | None = None
    rule: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class PunchFilter:
    """Which punches to export; `since <= recorded_at < until`."""

    store_id: UUID | None = None
    staff_id: UUID | None = None
    card_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit entries to list; `since <= at < until`."""

    action: str | None = None
    subject_id: UUID | None = None
    actor_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def utc(moment: datetime | None) -> datetime | None:
    """A filter time in UTC; a time without an offset is taken as UTC. Refuses times that
    cannot be expressed in UTC (year 1 east of Greenwich) instead of failing later."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise DomainError(Problem.INVALID_REQUEST, "The time is out of range") from exc


def _check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise DomainError(Problem.INVALID_REQUEST, "`since` must not be after `until`")


def _json(value: Any) -> Any:
    # JSON columns come back as text on both engines unless piccolo is asked to decode them.
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


# --- the audit log -------------------------------------------------------------------------


async def record_action(
    *,
    business_id: UUID,
    actor_id: UUID | None,
    action: str,
    subject_kind: SubjectKind,
    subject_id: UUID,
    reason: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one row to the audit log. Call it inside the transaction that makes the change,
    so that a change is never without its row, nor a row without its change."""
    await AuditLog.insert(
        AuditLog(
            business=business_id,
            actor=actor_id,
            action=action,
            subject_kind=subject_kind,
            subject_id=subject_id,
            reason=reason,
            details=details or {},
            at=now,
        )
    )


_AUDIT_COLUMNS = (
    AuditLog.id,
    AuditLog.action,
    AuditLog.actor,
    AuditLog.actor.name.as_alias("actor_name"),
    AuditLog.subject_kind,
    AuditLog.subject_id,
    AuditLog.reason,
    AuditLog.details,
    AuditLog.at,
)


def _audit_entry(row: dict[str, Any]) -> wire.AuditEntry:
    details = _json(row["details"])
    return wire.AuditEntry(
        id=row["id"],
        action=row["action"],
        actor_id=row["actor"],
        actor_name=row["actor_name"],
        subject_kind=row["subject_kind"],
        subject_id=stored_uuid(row["subject_id"]),
        reason=row["reason"],
        details=details if isinstance(details, dict) else {"value": details},
        at=row["at"],
    )


async def list_audit(business_id: UUID, search: AuditFilter, limit: int, offset: int = 0) -> wire.AuditPage:
    """The business's audit log, newest first."""
    since, until = utc(search.since), utc(search.until)
    _check_window(since, until)
    where: Combinable = AuditLog.business == business_id
    if search.action is not None:
        where &= AuditLog.action == search.action
    if search.subject_id is not None:
        where &= AuditLog.subject_id == search.subject_id
    if search.actor_id is not None:
        where &= AuditLog.actor == search.actor_id
    if since is not None:
        where &= AuditLog.at >= since
    if until is not None:
        where &= AuditLog.at < until
    rows = await (
        AuditLog.select(*_AUDIT_COLUMNS)
        .where(where)
        .order_by(AuditLog.at, AuditLog.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    return wire.AuditPage(
        entries=[_audit_entry(row) for row in rows[:limit]],
        next_offset=offset + limit if len(rows) > limit else None,
    )


# --- flags ---------------------------------------------------------------------------------

_FLAG_COLUMNS = (
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


def _flag_where(business_id: UUID, search: FlagFilter) -> Combinable:
    since, until = utc(search.since), utc(search.until)
    _check_window(since, until)
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
    return where


def _chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    # IN (...) lists of at most 500: both engines cap the parameters of one query near 32 767.
    for start in range(0, len(ids), 500):
        yield list(ids[start : start + 500])


async def _flag_views(rows: Sequence[dict[str, Any]]) -> list[wire.FlagView]:
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
        evidence = _json(row["evidence"])
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
        Flag.select(*_FLAG_COLUMNS)
        .where(_flag_where(business_id, search))
        .order_by(Flag.created_at, Flag.id, ascending=False)
        .limit(limit + 1)
        .offset(offset)
    )
    return wire.FlagPage(
        flags=await _flag_views(rows[:limit]),
        next_offset=offset + limit if len(rows) > limit else None,
    )


async def get_flag(business_id: UUID, flag_id: UUID) -> wire.FlagView:
    """One flag of this business; another business's flag reads as missing."""
    row = await Flag.select(*_FLAG_COLUMNS).where((Flag.id == flag_id) & (Flag.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such flag")
    return (await _flag_views([row]))[0]


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
    a flag about their own punches or card (see `_refuse_own_flag`): FORBIDDEN.
    """
    await _refuse_own_flag(actor, flag_id)
    named = [stored_uuid(r["punch"]) for r in await FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag_id)]
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
        if claimed:
            await record_action(
                business_id=actor.business_id,
                actor_id=actor.staff_id,
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


# --- separation of duties ------------------------------------------------------------------
#
# Nobody clears suspicion of themselves. A manager may not approve or reject a flag about
# their own punching (the flag names them, or one of its punches was made by them) or about
# their own card (a card whose customer has the manager's e-mail), nor unfreeze their own
# card. An owner answers to nobody in the business and may be its only reviewer, so an owner
# is refused only for a flag about their own punching, and only while another active owner
# exists who can decide it instead.

_OWN_PUNCHES = "Someone else must review a flag about your own punches"
_OWN_CARD_FLAG = "Someone else must review a flag about your own card"
_OWN_CARD = "Someone else must unfreeze your own card"


async def _another_active_owner(actor: StaffIdentity) -> bool:
    return bool(
        await Staff.exists().where(
            (Staff.business == actor.business_id)
            & (Staff.role == "owner")
            & Staff.active.eq(True)
            & (Staff.id != actor.staff_id)
        )
    )


async def _holds_card(actor: StaffIdentity, card_ids: set[UUID]) -> bool:
    """Whether one of `card_ids` belongs to a customer with the actor's e-mail (both are kept lower-case)."""
    me = await Staff.select(Staff.email).where(Staff.id == actor.staff_id).first()
    if me is None or not me["email"] or not card_ids:
        return False
    return bool(
        await Card.exists().where(Card.id.is_in(list(card_ids)) & (Card.customer._.email == str(me["email"]).lower()))
    )


async def _refuse_own_flag(actor: StaffIdentity, flag_id: UUID) -> None:
    """FORBIDDEN when `actor` may not decide this flag (see above); NOT_FOUND for another business's flag."""
    flag = (
        await Flag.select(Flag.staff, Flag.card)
        .where((Flag.id == flag_id) & (Flag.business == actor.business_id))
        .first()
    )
    if flag is None:
        raise DomainError(Problem.NOT_FOUND, "No such flag")
    punches = await LedgerEntry.select(LedgerEntry.staff, LedgerEntry.card).where(
        LedgerEntry.id.is_in(FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag_id))
    )
    own_punching = actor.staff_id in {stored_uuid(flag["staff"]), *(stored_uuid(p["staff"]) for p in punches)}
    if actor.role == "owner":
        if own_punching and await _another_active_owner(actor):
            raise DomainError(Problem.FORBIDDEN, _OWN_PUNCHES)
        return
    if own_punching:
        raise DomainError(Problem.FORBIDDEN, _OWN_PUNCHES)
    cards = {stored_uuid(c) for c in (flag["card"], *(p["card"] for p in punches)) if c is not None}
    if await _holds_card(actor, cards):
        raise DomainError(Problem.FORBIDDEN, _OWN_CARD_FLAG)


async def _void(punch_ids: list[UUID], actor: StaffIdentity, now: datetime, keyring: Keyring) -> list[wire.VoidedPunch]:
    if not punch_ids:
        return []
    rows = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.card, LedgerEntry.store).where(
        LedgerEntry.id.is_in(punch_ids) & (LedgerEntry.kind == "punch")
    )
    voided = []
    for row in sorted(rows, key=lambda r: punch_ids.index(stored_uuid(r["id"]))):
        void_id = await append_void(
            card_id=row["card"],
            punch_id=row["id"],
            now=now,
            keyring=keyring,
            store_id=row["store"],
            staff_id=actor.staff_id,
        )
        voided.append(wire.VoidedPunch(punch_id=row["id"], void_id=void_id))
    return voided


# --- cards ---------------------------------------------------------------------------------


async def _card_row(business_id: UUID, card_id: UUID) -> dict[str, Any]:
    row = await (
        Card.select(
            Card.id,
            Card.status,
            Card.customer,
            Card.program,
            Card.program.name.as_alias("program_name"),
            Card.program.reward_name.as_alias("reward_name"),
            Card.program.punches_per_reward.as_alias("per_reward"),
            Card.created_at,
        )
        .where((Card.id == card_id) & (Card.program._.business == business_id))
        .first()
    )
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such card")
    return row


def _overview(card: dict[str, Any], entries: list[wire.TimelineEntry]) -> wire.CardOverview:
    counting = [e for e in entries if e.kind == "punch" and not e.voided and e.redeemed_by is None]
    under_review = sum(1 for e in counting if e.under_review)
    return wire.CardOverview(
        id=card["id"],
        code=card_code(card["id"]),
        status=card["status"],
        program_id=card["program"],
        program_name=card["program_name"],
        reward_name=card["reward_name"],
        punches_per_reward=card["per_reward"],
        balance=len(counting) - under_review,
        under_review=under_review,
        customer_id=card["customer"],
        created_at=card["created_at"],
    )


async def _entries(business_id: UUID, card_id: UUID, open_flags: dict[UUID, list[UUID]]) -> list[wire.TimelineEntry]:
    rows = await (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.seq,
            LedgerEntry.kind,
            LedgerEntry.recorded_at,
            LedgerEntry.store,
            LedgerEntry.store.name.as_alias("store_name"),
            LedgerEntry.staff,
            LedgerEntry.staff.name.as_alias("staff_name"),
            LedgerEntry.scanner,
            LedgerEntry.scanner.name.as_alias("scanner_name"),
            LedgerEntry.receipt,
            LedgerEntry.amount_cents,
            LedgerEntry.items,
            LedgerEntry.voids,
        )
        .where(LedgerEntry.card == card_id)
        .order_by(LedgerEntry.seq)
    )
    voided_by = {stored_uuid(r["voids"]): r["id"] for r in rows if r["kind"] == "void" and r["voids"] is not None}
    redeemed_by = {
        stored_uuid(r["punch"]): r["redemption"]
        for r in await RedeemedPunch.select(RedeemedPunch.punch, RedeemedPunch.redemption).where(
            RedeemedPunch.card == card_id
        )
    }
    named: dict[UUID, list[UUID]] = defaultdict(list)
    # Whatever card the flag names, if any: a cashier's or scanner's pattern names none.
    for r in await FlagPunch.select(FlagPunch.flag, FlagPunch.punch).where(
        FlagPunch.punch.is_in(LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.card == card_id))
        & (FlagPunch.flag._.business == business_id)
    ):
        named[stored_uuid(r["punch"])].append(stored_uuid(r["flag"]))
    held = {p for punches in open_flags.values() for p in punches}
    return [
        wire.TimelineEntry(
            id=r["id"],
            seq=r["seq"],
            kind=r["kind"],
            at=r["recorded_at"],
            store_id=r["store"],
            store_name=r["store_name"],
            staff_id=r["staff"],
            cashier_name=r["staff_name"],
            scanner_id=r["scanner"],
            scanner_name=r["scanner_name"],
            receipt=r["receipt"],
            amount_cents=r["amount_cents"],
            items=r["items"],
            voids=stored_uuid(r["voids"]),
            voided=r["id"] in voided_by,
            voided_by=voided_by.get(r["id"]),
            redeemed_by=redeemed_by.get(r["id"]),
            flag_ids=named.get(r["id"], []),
            under_review=r["id"] in held,
        )
        for r in rows
    ]


async def card_timeline(business_id: UUID, card_id: UUID) -> wire.CardTimeline:
    """The owner's whole picture of one card: who holds it, which phones, every ledger entry
    with its store, cashier and scanner, its flags (those naming the card or one of its
    punches), redemptions and this business's audit entries about it. The phones are listed
    because they are the customer's; the customer's cards at other businesses are not shown."""
    card = await _card_row(business_id, card_id)
    customer = (
        await Customer.select(Customer.id, Customer.display_name, Customer.email, Customer.phone, Customer.created_at)
        .where(Customer.id == card["customer"])
        .first()
    )
    assert customer is not None, "a card always has its customer"
    devices = (
        await Device.select(*_DEVICE_COLUMNS).where(Device.customer == card["customer"]).order_by(Device.created_at)
    )
    flag_rows = await (
        Flag.select(*_FLAG_COLUMNS)
        .where(_flag_where(business_id, FlagFilter(card_id=card_id)))
        .order_by(Flag.created_at, Flag.id, ascending=False)
    )
    flags = await _flag_views(flag_rows)
    open_flags = {f.id: f.punch_ids for f in flags if f.status == "open"}
    entries = await _entries(business_id, card_id, open_flags)
    redemptions = await (
        Redemption.select(
            Redemption.id,
            Redemption.status,
            Redemption.requested_at,
            Redemption.decided_at,
            Redemption.reasons,
            Redemption.store.name.as_alias("store_name"),
            Redemption.staff.name.as_alias("staff_name"),
            Redemption.entry,
        )
        .where(Redemption.card == card_id)
        .order_by(Redemption.requested_at)
    )
    # About this card: the card itself, its flags, and its customer's phones.
    subjects = [card_id, *(f.id for f in flags), *(stored_uuid(d["id"]) for d in devices)]
    audit = await (
        AuditLog.select(*_AUDIT_COLUMNS)
        .where((AuditLog.business == business_id) & AuditLog.subject_id.is_in(subjects))
        .order_by(AuditLog.at, AuditLog.id)
    )
    return wire.CardTimeline(
        card=_overview(card, entries),
        customer=wire.TimelineCustomer(
            id=customer["id"],
            display_name=customer["display_name"],
            email=customer["email"],
            phone=customer["phone"],
            created_at=customer["created_at"],
        ),
        devices=[_device(d) for d in devices],
        entries=entries,
        flags=flags,
        redemptions=[
            wire.TimelineRedemption(
                id=r["id"],
                status=r["status"],
                requested_at=r["requested_at"],
                decided_at=r["decided_at"],
                reasons=[str(reason) for reason in (_json(r["reasons"]) or [])],
                store_name=r["store_name"],
                cashier_name=r["staff_name"],
                entry_id=stored_uuid(r["entry"]),
            )
            for r in redemptions
        ],
        audit=[_audit_entry(a) for a in audit],
    )


async def set_card_frozen(
    actor: StaffIdentity, card_id: UUID, *, frozen: bool, reason: str, now: datetime
) -> wire.CardOverview:
    """Freeze a card (no stamps, punches or free items until unfrozen) or unfreeze it.

    Freezing a frozen card, or unfreezing an active one, changes nothing and logs nothing.
    A closed card stays closed. A manager may not unfreeze their own card: FORBIDDEN.
    """
    card = await _card_row(actor.business_id, card_id)
    if card["status"] not in ("active", "frozen"):
        raise DomainError(Problem.CARD_INACTIVE)
    # Separation of duties (see `_refuse_own_flag`): a manager may freeze their own card, not unfreeze it.
    if not frozen and actor.role != "owner" and await _holds_card(actor, {stored_uuid(card["id"])}):
        raise DomainError(Problem.FORBIDDEN, _OWN_CARD)
    before, after = ("active", "frozen") if frozen else ("frozen", "active")
    async with write_transaction():
        changed = (
            await Card.update({Card.status: after})
            .where((Card.id == card_id) & (Card.status == before))
            .returning(Card.id)
        )
        if changed:
            await record_action(
                business_id=actor.business_id,
                actor_id=actor.staff_id,
                action="card.freeze" if frozen else "card.unfreeze",
                subject_kind="card",
                subject_id=card_id,
                reason=reason,
                now=now,
            )
    return (await card_timeline(actor.business_id, card_id)).card


# --- phones, cashiers and scanners ---------------------------------------------------------

_DEVICE_COLUMNS = (
    Device.id,
    Device.customer,
    Device.algorithm,
    Device.active,
    Device.counter,
    Device.created_at,
)


def _device(row: dict[str, Any]) -> wire.DeviceView:
    return wire.DeviceView(
        id=row["id"],
        customer_id=row["customer"],
        algorithm=row["algorithm"],
        active=row["active"],
        counter=row["counter"],
        created_at=row["created_at"],
    )


async def revoke_device(actor: StaffIdentity, device_id: UUID, reason: str, now: datetime) -> wire.DeviceView:
    """Unbind a customer's phone: it gets no more stamps or redemption codes, and stamps it
    already showed are refused at the till. A phone belongs to this business if one of its
    customer's cards is in one of the business's programs; any other phone reads as missing.

    A phone is one for all of its customer's cards, whichever business runs their programs:
    revoking it would also disable it at every other café. So a business may revoke only a
    phone all of whose customer's cards are its own; otherwise DEVICE_SHARED, and the owner
    freezes the card instead.
    """
    async with write_transaction():
        row = await Device.select(*_DEVICE_COLUMNS).where(Device.id == device_id).first()
        businesses = (
            set()
            if row is None
            else {
                stored_uuid(c["business"])
                for c in await Card.select(Card.program._.business.as_alias("business")).where(
                    Card.customer == row["customer"]
                )
            }
        )
        if actor.business_id not in businesses:
            raise DomainError(Problem.NOT_FOUND, "No such device")
        if businesses != {actor.business_id}:
            raise DomainError(Problem.DEVICE_SHARED)
        changed = (
            await Device.update({Device.active: False})
            .where((Device.id == device_id) & Device.active.eq(True))
            .returning(Device.id)
        )
        if changed:
            await record_action(
                business_id=actor.business_id,
                actor_id=actor.staff_id,
                action="device.revoke",
                subject_kind="device",
                subject_id=device_id,
                reason=reason,
                now=now,
            )
    row = await Device.select(*_DEVICE_COLUMNS).where(Device.id == device_id).first()
    assert row is not None
    return _device(row)


async def update_staff(
    actor: StaffIdentity, staff_id: UUID, request: wire_stores.StaffUpdate, now: datetime
) -> wire_stores.StaffMember:
    """`staff.update_member`, logging `staff.disable` or `staff.enable` when it switches the member."""
    async with write_transaction():
        before = await staff.get_member(actor.business_id, staff_id)
        member = await staff.update_member(actor, staff_id, request)
        if member.active != before.active:
            await record_action(
                business_id=actor.business_id,
                actor_id=actor.staff_id,
                action="staff.enable" if member.active else "staff.disable",
                subject_kind="staff",
                subject_id=staff_id,
                reason=request.reason,
                now=now,
            )
    return member


async def revoke_scanner(
    actor: StaffIdentity, scanner_id: UUID, reason: str | None, now: datetime
) -> wire_stores.Scanner:
    """`stores.revoke_scanner`, logging `scanner.revoke` the first time."""
    async with write_transaction():
        before = await stores.get_scanner(actor.business_id, scanner_id)
        scanner = await stores.revoke_scanner(actor.business_id, scanner_id)
        if before.active:
            await record_action(
                business_id=actor.business_id,
                actor_id=actor.staff_id,
                action="scanner.revoke",
                subject_kind="scanner",
                subject_id=scanner_id,
                reason=reason,
                now=now,
            )
    return scanner


# --- exports -------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    # Names and receipts are typed by people; a leading apostrophe keeps a spreadsheet from running them.
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text with a header row; every cell is made safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


FLAG_CSV_HEADER = (
    "flag_id",
    "created_at",
    "rule",
    "severity",
    "status",
    "card_code",
    "card_id",
    "store",
    "cashier",
    "scanner_id",
    "punch_ids",
    "explanation",
    "reviewed_by",
    "reviewed_at",
    "review_reason",
)


async def export_flags(business_id: UUID, search: FlagFilter) -> str:
    """The flags matching `search` as CSV, newest first (at most MAX_EXPORT_ROWS)."""
    page = await list_flags(business_id, search, MAX_EXPORT_ROWS)
    return to_csv(
        FLAG_CSV_HEADER,
        (
            (
                f.id,
                f.created_at,
                f.rule,
                f.severity,
                f.status,
                f.card_code,
                f.card_id,
                f.store_name,
                f.staff_name,
                f.scanner_id,
                " ".join(str(p) for p in f.punch_ids),
                f.explanation,
                f.reviewed_by_name,
                f.reviewed_at,
                f.review_reason,
            )
            for f in page.flags
        ),
    )


PUNCH_CSV_HEADER = (
    "punch_id",
    "recorded_at",
    "store",
    "cashier",
    "scanner",
    "card_code",
    "card_id",
    "receipt",
    "amount_cents",
    "items",
    "voided",
    "redeemed",
    "open_flag_rules",
)


async def export_punches(business_id: UUID, search: PunchFilter) -> str:
    """The business's punches matching `search` as CSV, oldest first (at most MAX_EXPORT_ROWS)."""
    since, until = utc(search.since), utc(search.until)
    _check_window(since, until)
    of_business: Combinable = LedgerEntry.card._.program._.business == business_id
    if search.card_id is not None:
        of_business &= LedgerEntry.card == search.card_id
    where = of_business & (LedgerEntry.kind == "punch")
    if search.store_id is not None:
        where &= LedgerEntry.store == search.store_id
    if search.staff_id is not None:
        where &= LedgerEntry.staff == search.staff_id
    if since is not None:
        where &= LedgerEntry.recorded_at >= since
    if until is not None:
        where &= LedgerEntry.recorded_at < until
    rows = await (
        LedgerEntry.select(
            LedgerEntry.id,
            LedgerEntry.recorded_at,
            LedgerEntry.store.name.as_alias("store_name"),
            LedgerEntry.staff.name.as_alias("staff_name"),
            LedgerEntry.scanner.name.as_alias("scanner_name"),
            LedgerEntry.card,
            LedgerEntry.receipt,
            LedgerEntry.amount_cents,
            LedgerEntry.items,
        )
        .where(where)
        .order_by(LedgerEntry.recorded_at, LedgerEntry.id)
        .limit(MAX_EXPORT_ROWS)
    )
    voided = {
        stored_uuid(r["voids"])
        for r in await LedgerEntry.select(LedgerEntry.voids).where(of_business & (LedgerEntry.kind == "void"))
        if r["voids"] is not None
    }
    redeemed_where: Combinable = RedeemedPunch.card._.program._.business == business_id
    if search.card_id is not None:
        redeemed_where &= RedeemedPunch.card == search.card_id
    redeemed = {stored_uuid(r["punch"]) for r in await RedeemedPunch.select(RedeemedPunch.punch).where(redeemed_where)}
    open_rules: dict[UUID, set[str]] = defaultdict(set)
    for r in await FlagPunch.select(FlagPunch.punch, FlagPunch.flag._.rule.as_alias("rule")).where(
        (FlagPunch.flag._.business == business_id) & (FlagPunch.flag._.status == "open")
    ):
        open_rules[stored_uuid(r["punch"])].add(r["rule"])
    return to_csv(
        PUNCH_CSV_HEADER,
        (
            (
                r["id"],
                r["recorded_at"],
                r["store_name"],
                r["staff_name"],
                r["scanner_name"],
                card_code(r["card"]),
                r["card"],
                r["receipt"],
                r["amount_cents"],
                r["items"],
                r["id"] in voided,
                r["id"] in redeemed,
                " ".join(sorted(open_rules.get(r["id"], ()))),
            )
            for r in rows
        ),
    )
