"""Keeping the metrics' rollup equal to the ledger.

Whatever changes what a card adds to the metrics (a ledger entry, a flag raised, decided or
settled, a store's time zone, a free item's price) marks the card in `metric_dirty`: the
database does it, by triggers, in the same transaction as the change (migration
2026-12-02T19:00), whichever code path makes it.
Before the metrics are read, and in each server's sweep, `refresh` takes the marks of a
business, computes those cards' parts again from their ledgers (cards/metric_rollup.py), adds
the difference to `metric_cell` and deletes exactly the marks it read, all in one transaction,
one refresh at a time per business. A mark written meanwhile is a new row, left for the next
refresh. So the cells a report reads are always the sum over the ledgers as they stand;
`mismatches` recomputes everything from scratch to prove it.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from cards.audit_log import record_action
from cards.database import current_engine, is_postgres, stored_time, stored_uuid, write_transaction
from cards.errors import DomainError
from cards.flags import HELD_RULE
from cards.identity import StaffIdentity
from cards.metric_rollup import (
    FIELDS,
    CardFacts,
    Cells,
    Entry,
    FlagOf,
    HeldItem,
    card_cells,
    cells_from_json,
    cells_to_json,
    difference,
    rollup_of,
)
from cards.tables import MetricCard, MetricCell, MetricDirty, MetricSettings, Store
from mobile_contract.problems import Problem

DEFAULT_LOST_AFTER_DAYS = 60
BATCH = 500
_ROWS_PER_STATEMENT = 200

_COLUMNS = ("key", "business", "scope", "kind", "bucket", "cohort", *FIELDS)
_UPSERT = (
    f"INSERT INTO metric_cell ({', '.join(_COLUMNS)}) VALUES {{rows}} ON CONFLICT (key) DO UPDATE SET "  # noqa: S608
    + ", ".join(f"{f} = metric_cell.{f} + excluded.{f}" for f in FIELDS)
)  # only the column names above are interpolated


def _in(values: Sequence[Any]) -> str:
    return ", ".join("{}" for _ in values)


async def mark_business(business_id: UUID) -> None:
    """Mark every card of a business, as when a choice behind every part changes."""
    await MetricDirty.raw(
        "INSERT INTO metric_dirty (card) SELECT c.id FROM card c JOIN program p ON p.id = c.program "
        "WHERE p.business = {}",
        business_id,
    )


async def lost_after_days(business_id: UUID) -> int:
    row = (
        await MetricSettings.select(MetricSettings.lost_after_days)
        .where(MetricSettings.business == business_id)
        .first()
    )
    return DEFAULT_LOST_AFTER_DAYS if row is None else int(row["lost_after_days"])


async def set_lost_after_days(actor: StaffIdentity, days: int, now: datetime) -> None:
    """The owner changes when a member counts as lost; every card's part is computed again at the
    next refresh, and the change is in the audit log."""
    if not actor.is_owner:
        raise DomainError(Problem.FORBIDDEN, "Only the owner sets when a member counts as lost")
    before = await lost_after_days(actor.business_id)
    async with write_transaction():
        updated = await (
            MetricSettings.update({MetricSettings.lost_after_days: days})
            .where(MetricSettings.business == actor.business_id)
            .returning(MetricSettings.business)
        )
        if not updated:
            await MetricSettings.insert(MetricSettings(business=actor.business_id, lost_after_days=days))
        await mark_business(actor.business_id)
        await record_action(
            actor=actor,
            action="metrics.settings",
            subject_kind="business",
            subject_id=actor.business_id,
            reason=None,
            now=now,
            details={"lost_after_days": {"from": before, "to": days}},
        )


# --- what a card is, as the rollup sees it ----------------------------------------------------


async def _zones(business_id: UUID) -> dict[UUID, str]:
    rows = await Store.select(Store.id, Store.time_zone).where(Store.business == business_id)
    return {stored_uuid(r["id"]): r["time_zone"] for r in rows}


# Each takes the batch's card ids where `{}` stands.
_PROGRAMS_SQL = """
SELECT c.id AS card, p.reward_value_cents AS value, p.punches_per_reward AS ppr
FROM card c JOIN program p ON p.id = c.program WHERE c.id IN ({})
"""
_ENTRIES_SQL = """
SELECT id, card, kind, store, recorded_at, amount_cents, voids, consumes FROM ledger_entry
WHERE card IN ({}) ORDER BY card, seq
"""
_NAMED_SQL = """
SELECT e.card AS card, fp.flag AS flag, fp.punch AS punch, f.status AS status, f.reviewed_at AS reviewed_at
FROM flag_punch fp
JOIN flag f ON f.id = fp.flag JOIN ledger_entry e ON e.id = fp.punch WHERE e.card IN ({})
"""
_FLAGS_SQL = "SELECT card, rule, store, created_at FROM flag WHERE card IN ({})"


async def _facts(card_ids: Sequence[UUID]) -> dict[UUID, CardFacts]:
    """Each card's ledger, flags and program, in five queries for the whole batch."""
    if not card_ids:
        return {}
    marks = _in(card_ids)
    programs = await MetricCard.raw(_PROGRAMS_SQL.format(marks), *card_ids)
    entries: dict[UUID, list[Entry]] = {}
    for r in await MetricCard.raw(_ENTRIES_SQL.format(marks), *card_ids):
        entries.setdefault(stored_uuid(r["card"]), []).append(
            Entry(
                id=stored_uuid(r["id"]),
                kind=r["kind"],
                store=stored_uuid(r["store"]),
                recorded_at=stored_time(r["recorded_at"]),
                amount_cents=r["amount_cents"],
                voids=stored_uuid(r["voids"]),
                consumes=len(r["consumes"].split(",")) if r["consumes"] else 0,
            )
        )
    named: dict[tuple[UUID, UUID], tuple[str, datetime | None, set[UUID]]] = {}
    for r in await MetricCard.raw(_NAMED_SQL.format(marks), *card_ids):
        key = (stored_uuid(r["card"]), stored_uuid(r["flag"]))
        named.setdefault(key, (r["status"], stored_time(r["reviewed_at"]), set()))[2].add(stored_uuid(r["punch"]))
    flags: dict[UUID, list[FlagOf]] = {}
    for (card, _), (status, reviewed_at, punches) in named.items():
        flags.setdefault(card, []).append(FlagOf(status=status, punches=frozenset(punches), reviewed_at=reviewed_at))
    held: dict[UUID, list[HeldItem]] = {}
    for r in await MetricCard.raw(_FLAGS_SQL.format(marks), *card_ids):
        if r["rule"] == HELD_RULE:
            held.setdefault(stored_uuid(r["card"]), []).append(
                HeldItem(store=stored_uuid(r["store"]), created_at=stored_time(r["created_at"]))
            )
    return {
        (card := stored_uuid(p["card"])): CardFacts(
            entries=entries.get(card, []),
            flags=flags.get(card, []),
            held=held.get(card, []),
            reward_value_cents=p["value"],
            punches_per_reward=p["ppr"],
        )
        for p in programs
    }


async def computed_parts(business_id: UUID, card_ids: Sequence[UUID]) -> dict[UUID, Cells]:
    """These cards' parts, computed from their ledgers now."""
    zones, lost_after = await _zones(business_id), await lost_after_days(business_id)
    parts: dict[UUID, Cells] = {}
    for start in range(0, len(card_ids), BATCH):
        for card, facts in (await _facts(card_ids[start : start + BATCH])).items():
            parts[card] = card_cells(facts, zones, lost_after)
    return parts


# --- the refresh ------------------------------------------------------------------------------


def _lock_key(business_id: UUID) -> int:
    return int.from_bytes(business_id.bytes[:8], "big", signed=True)


async def _one_at_a_time(business_id: UUID) -> None:
    """In a write transaction: wait for any other refresh of this business to end. SQLite's
    IMMEDIATE transaction already holds the only write lock."""
    if is_postgres(current_engine()):
        await MetricCard.raw("SELECT pg_advisory_xact_lock({})", _lock_key(business_id))


_MARKS_SQL = """
SELECT d.id AS id, d.card AS card FROM metric_dirty d
JOIN card c ON c.id = d.card JOIN program p ON p.id = c.program
WHERE p.business = {} ORDER BY d.id LIMIT {}
"""


async def refresh(business_id: UUID) -> int:
    """Bring the business's cells up to date with its ledgers; returns how many cards were computed again."""
    done = 0
    while await MetricDirty.raw(_MARKS_SQL, business_id, 1):
        async with write_transaction():
            await _one_at_a_time(business_id)
            marks = await MetricDirty.raw(_MARKS_SQL, business_id, BATCH)
            if not marks:
                break
            cards = list(dict.fromkeys(stored_uuid(m["card"]) for m in marks))
            await _apply(business_id, cards)
            await MetricDirty.delete().where(MetricDirty._meta.primary_key.is_in([m["id"] for m in marks]))
            done += len(cards)
    return done


_MARKED_BUSINESSES_SQL = """
SELECT DISTINCT p.business AS business FROM metric_dirty d
JOIN card c ON c.id = d.card JOIN program p ON p.id = c.program
"""


async def refresh_marked() -> int:
    """Refresh every business whose cards carry marks (the periodic sweep): the marks of a
    business whose owner never opens the metrics are consumed all the same, never piling up."""
    done = 0
    for row in await MetricDirty.raw(_MARKED_BUSINESSES_SQL):
        done += await refresh(stored_uuid(row["business"]))
    return done


async def _apply(business_id: UUID, cards: list[UUID]) -> None:
    new = await computed_parts(business_id, cards)
    old = {
        stored_uuid(r["card"]): cells_from_json(msgspec.json.decode(r["cells"]))
        for r in await MetricCard.select(MetricCard.card, MetricCard.cells).where(MetricCard.card.is_in(cards))
    }
    change: Cells = {}
    for card in cards:
        for key, values in difference(new.get(card, {}), old.get(card, {})).items():
            change[key] = [a + b for a, b in zip(change.get(key, [0] * len(FIELDS)), values, strict=True)]
    await _add_cells(business_id, change)
    await MetricCard.delete().where(MetricCard.card.is_in(cards))
    rows = [
        MetricCard(card=card, business=business_id, cells=msgspec.json.encode(cells_to_json(cells)).decode())
        for card, cells in new.items()
        if cells
    ]
    if rows:
        await MetricCard.insert(*rows)


def _cell_row(business_id: UUID, key: tuple[str, str, int, int], values: list[int]) -> list[Any]:
    scope, kind, bucket, cohort = key
    return [f"{business_id}|{scope}|{kind}|{bucket}|{cohort}", business_id, scope, kind, bucket, cohort, *values]


async def _add_cells(business_id: UUID, change: Cells) -> None:
    items = [(key, values) for key, values in sorted(change.items()) if any(values)]
    placeholder = "(" + ", ".join("{}" for _ in _COLUMNS) + ")"
    for start in range(0, len(items), _ROWS_PER_STATEMENT):
        chunk = items[start : start + _ROWS_PER_STATEMENT]
        params = [v for key, values in chunk for v in _cell_row(business_id, key, values)]
        await MetricCell.raw(_UPSERT.format(rows=", ".join(placeholder for _ in chunk)), *params)


async def rebuild(business_id: UUID) -> int:
    """Compute every card's part again from scratch, in one transaction (for a database filled
    another way than through the server, as the benchmark fills one). Returns the cards counted."""
    async with write_transaction():
        await _one_at_a_time(business_id)
        cards = await _cards_of(business_id)
        await MetricDirty.raw(
            "DELETE FROM metric_dirty WHERE card IN (SELECT c.id FROM card c JOIN program p ON p.id = c.program "
            "WHERE p.business = {})",
            business_id,
        )
        await MetricCell.delete().where(MetricCell.business == business_id)
        await MetricCard.delete().where(MetricCard.business == business_id)
        total: Cells = {}
        for start in range(0, len(cards), BATCH * 4):
            parts = await computed_parts(business_id, cards[start : start + BATCH * 4])
            rows = [
                MetricCard(card=card, business=business_id, cells=msgspec.json.encode(cells_to_json(cells)).decode())
                for card, cells in parts.items()
                if cells
            ]
            if rows:
                await MetricCard.insert(*rows)
            total = rollup_of([total, *parts.values()])
        await _add_cells(business_id, total)
    return len(cards)


async def _cards_of(business_id: UUID) -> list[UUID]:
    rows = await MetricCard.raw(
        "SELECT c.id AS id FROM card c JOIN program p ON p.id = c.program WHERE p.business = {} ORDER BY c.id",
        business_id,
    )
    return [stored_uuid(r["id"]) for r in rows]


async def stored_cells(business_id: UUID) -> Cells:
    rows = await MetricCell.select().where(MetricCell.business == business_id)
    cells = {(r["scope"], r["kind"], r["bucket"], r["cohort"]): [int(r[f]) for f in FIELDS] for r in rows}
    return {key: values for key, values in cells.items() if any(values)}


async def mismatches(business_id: UUID) -> list[str]:
    """After a refresh: every cell that differs from the sum recomputed from the ledgers (empty when they agree)."""
    await refresh(business_id)
    expected = rollup_of((await computed_parts(business_id, await _cards_of(business_id))).values())
    stored = await stored_cells(business_id)
    return [
        f"{key}: stored {stored.get(key)}, ledger says {expected.get(key)}"
        for key in sorted(set(expected) | set(stored))
        if stored.get(key) != expected.get(key)
    ]
