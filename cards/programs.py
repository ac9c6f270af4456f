"""Punch-card programs: punches per reward, the reward, and the limits against abuse (T2, T5)."""

from typing import Any
from uuid import UUID

import msgspec
from piccolo.custom_types import Combinable

from cards.errors import DomainError
from cards.tables import Program
from mobile_contract import programs as wire
from mobile_contract.problems import Problem

_COLUMNS = (
    Program.id,
    Program.business,
    Program.name,
    Program.reward_name,
    Program.punches_per_reward,
    Program.stamp_lifetime_s,
    Program.cooldown_s,
    Program.daily_cap,
    Program.excess_policy,
    Program.risk,
    Program.active,
    Program.created_at,
)


def risk_thresholds(stored: Any) -> wire.RiskThresholds:
    """A program's thresholds as stored (JSON, text on SQLite); missing keys take their defaults."""
    if isinstance(stored, str | bytes):
        return msgspec.json.decode(stored or b"{}", type=wire.RiskThresholds)
    return msgspec.convert(stored or {}, wire.RiskThresholds)


def _program(row: dict[str, Any]) -> wire.Program:
    return wire.Program(
        id=row["id"],
        business_id=row["business"],
        name=row["name"],
        reward_name=row["reward_name"],
        punches_per_reward=row["punches_per_reward"],
        stamp_lifetime_s=row["stamp_lifetime_s"],
        cooldown_s=row["cooldown_s"],
        daily_cap=row["daily_cap"],
        excess_policy=row["excess_policy"],
        risk=risk_thresholds(row["risk"]),
        active=row["active"],
        created_at=row["created_at"],
    )


async def create_program(business_id: UUID, request: wire.ProgramCreate) -> wire.Program:
    fields = msgspec.structs.asdict(request)
    fields["risk"] = msgspec.to_builtins(request.risk)
    program = Program(business=business_id, **fields)
    await program.save()
    return await get_program(program.id, business_id)


async def get_program(program_id: UUID, business_id: UUID | None = None) -> wire.Program:
    """A program by id; with `business_id`, only that business's (others read as missing)."""
    where: Combinable = Program.id == program_id
    if business_id is not None:
        where &= Program.business == business_id
    row = await Program.select(*_COLUMNS).where(where).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such program")
    return _program(row)


async def list_programs(business_id: UUID, *, active_only: bool = False) -> list[wire.Program]:
    where: Combinable = Program.business == business_id
    if active_only:
        where &= Program.active.eq(True)
    rows = await Program.select(*_COLUMNS).where(where).order_by(Program.created_at)
    return [_program(row) for row in rows]


async def update_program(business_id: UUID, program_id: UUID, request: wire.ProgramUpdate) -> wire.Program:
    await get_program(program_id, business_id)
    changes = {
        getattr(Program, field): msgspec.to_builtins(value) if field == "risk" else value
        for field, value in msgspec.structs.asdict(request).items()
        if value is not None
    }
    if changes:
        await Program.update(changes).where(Program.id == program_id)
    return await get_program(program_id, business_id)
