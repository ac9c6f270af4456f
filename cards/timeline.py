"""One card as the owner sees it: its holder, phones, ledger, flags, free items and audit entries; freezing it."""

from collections import defaultdict
from datetime import datetime
from typing import Any
from uuid import UUID

from cards.audit_log import AUDIT_COLUMNS, audit_entry, record_action
from cards.database import stored_json, stored_uuid, write_transaction
from cards.devices import DEVICE_COLUMNS, blocked_devices, device_view
from cards.duties import refuse_own_unfreeze
from cards.errors import DomainError
from cards.flag_review import FLAG_COLUMNS, FlagFilter, flag_views, flag_where
from cards.flags import card_code
from cards.identity import StaffIdentity
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
)
from mobile_contract import review as wire
from mobile_contract.problems import Problem

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
        await Device.select(*DEVICE_COLUMNS).where(Device.customer == card["customer"]).order_by(Device.created_at)
    )
    blocked = await blocked_devices(business_id, [stored_uuid(d["id"]) for d in devices])
    flag_rows = await (
        Flag.select(*FLAG_COLUMNS)
        .where(flag_where(business_id, FlagFilter(card_id=card_id)))
        .order_by(Flag.created_at, Flag.id, ascending=False)
    )
    flags = await flag_views(flag_rows)
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
        AuditLog.select(*AUDIT_COLUMNS)
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
        devices=[device_view(d, blocked) for d in devices],
        entries=entries,
        flags=flags,
        redemptions=[
            wire.TimelineRedemption(
                id=r["id"],
                status=r["status"],
                requested_at=r["requested_at"],
                decided_at=r["decided_at"],
                reasons=[str(reason) for reason in (stored_json(r["reasons"]) or [])],
                store_name=r["store_name"],
                cashier_name=r["staff_name"],
                entry_id=stored_uuid(r["entry"]),
            )
            for r in redemptions
        ],
        audit=[audit_entry(a) for a in audit],
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
    # Separation of duties (see `refuse_own_flag`): a manager may freeze their own card, not unfreeze it.
    if not frozen:
        await refuse_own_unfreeze(actor, stored_uuid(card["id"]))
    before, after = ("active", "frozen") if frozen else ("frozen", "active")
    async with write_transaction():
        changed = (
            await Card.update({Card.status: after})
            .where((Card.id == card_id) & (Card.status == before))
            .returning(Card.id)
        )
        if changed:
            await record_action(
                actor=actor,
                action="card.freeze" if frozen else "card.unfreeze",
                subject_kind="card",
                subject_id=card_id,
                reason=reason,
                now=now,
            )
    return (await card_timeline(actor.business_id, card_id)).card
