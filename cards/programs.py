"""Punch-card programs: punches per reward, the reward, the limits against abuse (T2, T5), and
who may change them (T16).

A program is open while `active` and before its `ends_at`, if it has one. A closed program
takes no new members, issues no stamps and records no punches; a card that already holds a
free item's worth of punches can still redeem it, so nothing a customer earned is lost.

Making a program easier to earn, or relaxing one of its risk thresholds, is for an owner
only (OWNER_REQUIRED for anyone else); a manager may tighten them, rename the program or
close it. Every creation and change is in the audit log with before -> after and the
settings it relaxed; `free_items_under` lists the free items granted while a change was in
force, so a relaxation used for a friend's coffee is easy to find.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from piccolo.custom_types import Combinable

from cards.audit_log import changes, record_action
from cards.database import stored_json, stored_time, stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import card_code
from cards.identity import StaffIdentity
from cards.tables import AuditLog, Program, Redemption
from mobile_contract import programs as wire
from mobile_contract import review as wire_review
from mobile_contract.problems import Problem

_COLUMNS = (
    Program.id,
    Program.business,
    Program.name,
    Program.reward_name,
    Program.reward_value_cents,
    Program.punches_per_reward,
    Program.stamp_lifetime_s,
    Program.cooldown_s,
    Program.daily_cap,
    Program.excess_policy,
    Program.risk,
    Program.active,
    Program.ends_at,
    Program.created_at,
)

# Which way each setting goes when it is relaxed: "up" when a larger value lets more through.
Direction = Literal["up", "down"]
RELAXED_WHEN: dict[str, Direction] = {
    "punches_per_reward": "down",
    "stamp_lifetime_s": "up",
    "cooldown_s": "down",
    "daily_cap": "up",
    "risk.travel_max_kmh": "up",
    "risk.travel_min_km": "up",
    "risk.concentration_share": "up",
    "risk.concentration_cards": "down",
    "risk.concentration_min_punches": "up",
    "risk.concentration_window_days": "down",
    "risk.opening_hours_grace_min": "up",
    "risk.burst_punches": "up",
    "risk.burst_window_s": "down",
    "risk.cards_per_contact": "up",
    "risk.one_cashier_chance": "down",
}


def risk_thresholds(stored: Any) -> wire.RiskThresholds:
    """A program's thresholds as stored (JSON, text on SQLite); missing keys take their defaults."""
    return msgspec.convert(stored_json(stored) or {}, wire.RiskThresholds)


def program_open(active: bool, ends_at: datetime | str | None, now: datetime) -> bool:
    """Whether a program takes members, issues stamps and records punches at `now`."""
    end = stored_time(ends_at)
    return bool(active) and (end is None or now < end)


def _program(row: dict[str, Any]) -> wire.Program:
    return wire.Program(
        id=row["id"],
        business_id=row["business"],
        name=row["name"],
        reward_name=row["reward_name"],
        reward_value_cents=row["reward_value_cents"],
        punches_per_reward=row["punches_per_reward"],
        stamp_lifetime_s=row["stamp_lifetime_s"],
        cooldown_s=row["cooldown_s"],
        daily_cap=row["daily_cap"],
        excess_policy=row["excess_policy"],
        risk=risk_thresholds(row["risk"]),
        active=row["active"],
        ends_at=stored_time(row["ends_at"]),
        created_at=row["created_at"],
    )


def settings_of(program: wire.Program) -> dict[str, Any]:
    """A program's settings as flat JSON values ("risk.burst_punches": 10), as the audit log records them."""
    view = msgspec.to_builtins(program)
    flat = {k: v for k, v in view.items() if k not in ("id", "business_id", "created_at", "risk")}
    flat |= {f"risk.{k}": v for k, v in view["risk"].items()}
    return flat


def relaxed_settings(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The settings `after` relaxes compared with `before`, by name."""
    relaxed = [
        key
        for key, direction in RELAXED_WHEN.items()
        if (after[key] > before[key] if direction == "up" else after[key] < before[key])
    ]
    if before["excess_policy"] == "refuse" and after["excess_policy"] == "flag":
        relaxed.append("excess_policy")
    if after["reward_name"] != before["reward_name"]:
        relaxed.append("reward_name")  # what the free item is: the owner's call
    if after["reward_value_cents"] != before["reward_value_cents"]:
        relaxed.append("reward_value_cents")  # what the owner's report counts in: the owner's call
    if after["active"] and not before["active"]:
        relaxed.append("active")
    if before["ends_at"] is not None and (after["ends_at"] is None or after["ends_at"] > before["ends_at"]):
        relaxed.append("ends_at")
    return relaxed


# Settings an owner alone changes, whichever way, and the words for doing it.
OWNERS_CHANGES = {
    "active": "reopen the program",
    "reward_name": "change the reward",
    "reward_value_cents": "change the reward's price (what the guard's worth is counted in)",
}


def _in_words(setting: str) -> str:
    """A setting's name as the owner reads it: "risk.burst_punches" -> "the burst punches threshold"."""
    named = {
        "ends_at": "the program's end",
        "stamp_lifetime_s": "the stamp lifetime",
        "cooldown_s": "the cooldown",
        "risk.burst_window_s": "the burst window threshold",
    }
    if setting in named:
        return named[setting]
    if setting.startswith("risk."):
        return f"the {setting.removeprefix('risk.').replace('_', ' ')} threshold"
    return f"the {setting.replace('_', ' ')}"


def refusal_words(relaxed: list[str]) -> str:
    """Why a manager's change is refused: 'Only an owner may reopen the program, or relax the
    daily cap; a manager may only tighten the rules.'"""
    doing = [OWNERS_CHANGES[name] for name in relaxed if name in OWNERS_CHANGES]
    loosened = [_in_words(name) for name in relaxed if name not in OWNERS_CHANGES]
    if loosened:
        doing.append("relax " + ", ".join(loosened))
    return "Only an owner may " + ", or ".join(doing) + "; a manager may only tighten the rules."


def _refuse_unless_owner(actor: StaffIdentity, relaxed: list[str]) -> None:
    if relaxed and not actor.is_owner:
        raise DomainError(
            Problem.OWNER_REQUIRED,
            refusal_words(relaxed),
            extra={"relaxed": relaxed},
        )


async def create_program(actor: StaffIdentity, request: wire.ProgramCreate, now: datetime) -> wire.Program:
    """A new program: owners only, since any program is a new way to earn free items."""
    if not actor.is_owner:
        raise DomainError(
            Problem.OWNER_REQUIRED,
            "Only an owner creates a program: any program is a new way to earn free items.",
            extra={"relaxed": ["the program itself"]},
        )
    fields = msgspec.structs.asdict(request)
    fields["risk"] = msgspec.to_builtins(request.risk)
    program = Program(business=actor.business_id, **fields)
    async with write_transaction():
        await program.save()
        created = await get_program(program.id, actor.business_id)
        await record_action(
            actor=actor,
            action="program.create",
            subject_kind="program",
            subject_id=program.id,
            reason=None,
            now=now,
            details={"after": settings_of(created)},
        )
    return created


async def get_program(program_id: UUID, business_id: UUID | None = None) -> wire.Program:
    """A program by id; with `business_id`, only that business's (others read as missing)."""
    where: Combinable = Program.id == program_id
    if business_id is not None:
        where &= Program.business == business_id
    row = await Program.select(*_COLUMNS).where(where).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such program")
    return _program(row)


async def list_programs(business_id: UUID) -> list[wire.Program]:
    rows = await Program.select(*_COLUMNS).where(Program.business == business_id).order_by(Program.created_at)
    return [_program(row) for row in rows]


async def list_open_programs(business_id: UUID, now: datetime) -> list[wire.PublicProgram]:
    """What a customer may join: open programs, without the thresholds that catch fraud (T20)."""
    return [
        wire.PublicProgram(
            id=p.id,
            business_id=p.business_id,
            name=p.name,
            reward_name=p.reward_name,
            punches_per_reward=p.punches_per_reward,
            ends_at=p.ends_at,
        )
        for p in await list_programs(business_id)
        if program_open(p.active, p.ends_at, now)
    ]


async def update_program(
    actor: StaffIdentity, program_id: UUID, request: wire.ProgramUpdate, now: datetime
) -> wire.Program:
    """Change a program's settings; logged as `program.update` with before -> after and what it relaxed."""
    before = await get_program(program_id, actor.business_id)
    update = {
        getattr(Program, field): msgspec.to_builtins(value) if field == "risk" else value
        for field, value in msgspec.structs.asdict(request).items()
        if value is not None and value is not msgspec.UNSET
    }
    if request.ends_at is None:  # an explicit null: the program no longer ends
        update[Program.ends_at] = None
    if request.reward_value_cents is None:  # an explicit null: the value is no longer said
        update[Program.reward_value_cents] = None
    if not update:
        return before
    async with write_transaction():
        await Program.update(update).where(Program.id == program_id)
        after = await get_program(program_id, actor.business_id)
        old, new = settings_of(before), settings_of(after)
        relaxed = relaxed_settings(old, new)
        _refuse_unless_owner(actor, relaxed)  # inside the transaction: refusing rolls the change back
        diff = changes(old, new)
        if diff["after"]:
            await record_action(
                actor=actor,
                action="program.update",
                subject_kind="program",
                subject_id=program_id,
                reason=None,
                now=now,
                details={**diff, "relaxed": relaxed},
            )
    return after


async def free_items_under(business_id: UUID, entry_id: UUID) -> wire_review.FreeItemsUnderChange:
    """The free items of a program granted while one of its changes was in force: from that
    audit entry until the program's next change (or now)."""
    entry = (
        await AuditLog.select(AuditLog.id, AuditLog.subject_id, AuditLog.action, AuditLog.at)
        .where((AuditLog.id == entry_id) & (AuditLog.business == business_id))
        .first()
    )
    if entry is None or entry["action"] not in ("program.create", "program.update"):
        raise DomainError(Problem.NOT_FOUND, "No such change of a program in the audit log")
    program_id, since = stored_uuid(entry["subject_id"]), stored_time(entry["at"])
    following = await (
        AuditLog.select(AuditLog.at)
        .where(
            (AuditLog.business == business_id)
            & (AuditLog.subject_id == program_id)
            & AuditLog.action.is_in(["program.create", "program.update"])
            & (AuditLog.at > since)
        )
        .order_by(AuditLog.at)
        .first()
    )
    until = stored_time(following["at"]) if following else None
    where: Combinable = (
        (Redemption.card._.program == program_id) & (Redemption.status == "granted") & (Redemption.decided_at >= since)
    )
    if until is not None:
        where &= Redemption.decided_at < until
    rows = (
        await Redemption.select(
            Redemption.id,
            Redemption.card,
            Redemption.decided_at,
            Redemption.store.name.as_alias("store_name"),
            Redemption.staff.name.as_alias("cashier_name"),
        )
        .where(where)
        .order_by(Redemption.decided_at)
    )
    return wire_review.FreeItemsUnderChange(
        entry_id=entry_id,
        program_id=program_id,
        in_force_from=since,
        in_force_until=until,
        free_items=[
            wire_review.GrantedFreeItem(
                redemption_id=row["id"],
                card_id=row["card"],
                card_code=card_code(stored_uuid(row["card"])),
                store_name=row["store_name"],
                cashier_name=row["cashier_name"],
                decided_at=stored_time(row["decided_at"]),
            )
            for row in rows
        ],
    )
