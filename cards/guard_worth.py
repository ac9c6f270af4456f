"""What the guard is worth over a period: the free items it held at the till and the free items'
worth of punches owners rejected, valued at each program's reward price; flags by rule; and the
cashiers and scanners behind the most flags.

A period is `since <= t < until` (UTC), as everywhere (cards/periods.py). A held free item is a
`reward_held` flag raised in the period (one per card while it is open, however often the
customer retries). A rejected punch is one an owner's rejection voided in the period (its void
recorded at or after the review), counted once whatever flags named it (a held free item
refused is its punches); refunds at the till, even of a punch a flag named, are not the guard's
work and are left out. Rejected punches become free items at the program's
punches per reward, so 15 rejected punches of a ten-punch program are 1.5 free items, and their
worth is what the guard kept from being given away; free items still held are at stake, not saved.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from piccolo.columns import Timestamptz
from piccolo.custom_types import Combinable

from cards.database import stored_time, stored_uuid
from cards.flags import HELD_RULE
from cards.periods import check_window, utc
from cards.tables import Flag, FlagPunch, LedgerEntry, Program, Scanner, Staff

TOP = 5


@dataclass(frozen=True, slots=True)
class ProgramWorth:
    """One program's part: free items held and rejected, and what they are worth (None when the
    program does not say what its free item costs)."""

    program_id: UUID
    name: str
    reward_name: str
    reward_value_cents: int | None
    punches_per_reward: int
    held: int
    still_held: int  # of `held`, those whose flag is still open now
    held_refused: int  # of `held`, those the owner rejected (their punches are among `rejected_punches`)
    rejected_punches: int

    @property
    def rejected_free_items(self) -> float:
        return self.rejected_punches / self.punches_per_reward

    @property
    def waiting_value_cents(self) -> int | None:
        """What the free items still held are worth: at stake, not yet saved."""
        return None if self.reward_value_cents is None else self.still_held * self.reward_value_cents

    @property
    def rejected_value_cents(self) -> int | None:
        if self.reward_value_cents is None:
            return None
        return round(self.rejected_punches * self.reward_value_cents / self.punches_per_reward)


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    raised: int
    by_status: dict[str, int]  # open, approved, rejected, settled


@dataclass(frozen=True, slots=True)
class Named:
    """A cashier or a scanner, and how many of the period's flags name it or one of its punches."""

    id: UUID
    name: str
    flags: int


@dataclass(frozen=True, slots=True)
class GuardWorth:
    since: datetime | None
    until: datetime | None
    programs: list[ProgramWorth]
    rules: list[RuleCount]
    cashiers: list[Named]
    scanners: list[Named]

    @property
    def held(self) -> int:
        return sum(p.held for p in self.programs)

    @property
    def still_held(self) -> int:
        return sum(p.still_held for p in self.programs)

    @property
    def rejected_free_items(self) -> float:
        return sum(p.rejected_free_items for p in self.programs)

    @property
    def unpriced(self) -> list[str]:
        """Programs with held or rejected free items but no price: their value is not counted."""
        return [p.name for p in self.programs if p.reward_value_cents is None and (p.held or p.rejected_punches)]

    @property
    def value_cents(self) -> int:
        """What was not given away: the rejected punches' worth, over the programs that say a price.
        A held free item counts once it is refused (its punches are then rejected), not while it waits."""
        return sum(p.rejected_value_cents or 0 for p in self.programs)

    @property
    def waiting_value_cents(self) -> int:
        return sum(p.waiting_value_cents or 0 for p in self.programs)


def _within(column: Timestamptz, since: datetime | None, until: datetime | None) -> Combinable | None:
    where: Combinable | None = None
    if since is not None:
        where = column >= since
    if until is not None:
        before: Combinable = column < until
        where = before if where is None else where & before
    return where


def _and(where: Combinable, more: Combinable | None) -> Combinable:
    return where if more is None else where & more


async def guard_worth(business_id: UUID, since: datetime | None, until: datetime | None) -> GuardWorth:
    """The panel for one business and period (either end may be open)."""
    since, until = utc(since), utc(until)
    check_window(since, until)
    raised = _and(Flag.business == business_id, _within(Flag.created_at, since, until))
    flags = await Flag.select(
        Flag.id, Flag.rule, Flag.status, Flag.staff, Flag.scanner, Flag.card._.program.as_alias("program")
    ).where(raised)

    held: Counter[UUID] = Counter()
    still_held: Counter[UUID] = Counter()
    held_refused: Counter[UUID] = Counter()
    for row in flags:
        if row["rule"] == HELD_RULE and row["program"] is not None:
            held[stored_uuid(row["program"])] += 1
            still_held[stored_uuid(row["program"])] += row["status"] == "open"
            held_refused[stored_uuid(row["program"])] += row["status"] == "rejected"

    rejected_flags = Flag.select(Flag.id).where(
        _and(
            (Flag.business == business_id) & (Flag.status == "rejected"),
            _within(Flag.reviewed_at, since, until),
        )
    )
    # A punch the rejection itself voided: its void is recorded at or after the review (a punch
    # refunded at the till while the flag waited is a refund, as in the metrics: cards/metric_rollup.py).
    named = await FlagPunch.select(FlagPunch.punch, FlagPunch.flag._.reviewed_at.as_alias("reviewed_at")).where(
        FlagPunch.flag.is_in(rejected_flags)
    )
    ids = list({row["punch"] for row in named}) or [None]
    program_of = {
        stored_uuid(row["id"]): stored_uuid(row["program"])
        for row in await LedgerEntry.select(LedgerEntry.id, LedgerEntry.card._.program.as_alias("program")).where(
            (LedgerEntry.kind == "punch") & LedgerEntry.id.is_in(ids)
        )
    }
    voided_at = {
        stored_uuid(row["voids"]): stored_time(row["recorded_at"])
        for row in await LedgerEntry.select(LedgerEntry.voids, LedgerEntry.recorded_at).where(
            (LedgerEntry.kind == "void") & LedgerEntry.voids.is_in(ids)
        )
    }
    rejected_punches = {
        (punch, program_of[punch])
        for row in named
        if (punch := stored_uuid(row["punch"])) in program_of
        and punch in voided_at
        and voided_at[punch] >= stored_time(row["reviewed_at"])
    }
    rejected: Counter[UUID] = Counter(program for _, program in rejected_punches)

    programs = [
        ProgramWorth(
            program_id=(program_id := stored_uuid(row["id"])),
            name=row["name"],
            reward_name=row["reward_name"],
            reward_value_cents=row["reward_value_cents"],
            punches_per_reward=row["punches_per_reward"],
            held=held[program_id],
            still_held=still_held[program_id],
            held_refused=held_refused[program_id],
            rejected_punches=rejected[program_id],
        )
        for row in await Program.select(
            Program.id, Program.name, Program.reward_name, Program.reward_value_cents, Program.punches_per_reward
        )
        .where(Program.business == business_id)
        .order_by(Program.created_at)
    ]
    cashiers, scanners = await _most_flagged(flags, raised)
    return GuardWorth(
        since=since, until=until, programs=programs, rules=_by_rule(flags), cashiers=cashiers, scanners=scanners
    )


def _by_rule(flags: list[dict[str, Any]]) -> list[RuleCount]:
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for row in flags:
        statuses[str(row["rule"])][str(row["status"])] += 1
    counts = [RuleCount(rule, sum(c.values()), dict(c)) for rule, c in statuses.items()]
    return sorted(counts, key=lambda r: (-r.raised, r.rule))


async def _most_flagged(flags: list[dict[str, Any]], raised: Combinable) -> tuple[list[Named], list[Named]]:
    """Each flag counts once for every cashier and scanner it names itself or made one of its punches."""
    cashiers: dict[UUID, set[UUID]] = defaultdict(set)
    scanners: dict[UUID, set[UUID]] = defaultdict(set)
    for row in flags:
        flag_id = stored_uuid(row["id"])
        if row["staff"] is not None:
            cashiers[stored_uuid(row["staff"])].add(flag_id)
        if row["scanner"] is not None:
            scanners[stored_uuid(row["scanner"])].add(flag_id)
    named_by_flags = FlagPunch.flag.is_in(Flag.select(Flag.id).where(raised))
    named = await FlagPunch.select(FlagPunch.flag, FlagPunch.punch).where(named_by_flags)
    flags_of: dict[UUID, set[UUID]] = defaultdict(set)
    for row in named:
        flags_of[stored_uuid(row["punch"])].add(stored_uuid(row["flag"]))
    punches = await LedgerEntry.select(LedgerEntry.id, LedgerEntry.staff, LedgerEntry.scanner).where(
        LedgerEntry.id.is_in(FlagPunch.select(FlagPunch.punch).where(named_by_flags))
    )
    for row in punches:
        of = flags_of[stored_uuid(row["id"])]
        if row["staff"] is not None:
            cashiers[stored_uuid(row["staff"])] |= of
        if row["scanner"] is not None:
            scanners[stored_uuid(row["scanner"])] |= of
    return await _top(Staff, cashiers), await _top(Scanner, scanners)


async def _top(table: type[Staff] | type[Scanner], flagged: dict[UUID, set[UUID]]) -> list[Named]:
    ranked = sorted(flagged.items(), key=lambda item: (-len(item[1]), str(item[0])))[:TOP]
    if not ranked:
        return []
    names = {
        stored_uuid(row["id"]): row["name"]
        for row in await table.select(table.id, table.name).where(table.id.is_in([i for i, _ in ranked]))
    }
    return [Named(id=i, name=names.get(i, "—"), flags=len(f)) for i, f in ranked]
