"""Where a flag is recorded: a suspicion, explained in plain words, with its evidence, for an owner.

The rules that decide to raise one live in `cards/risk.py` (and the clone check in
`cards/stamps.py`); this module only writes flags down, and settles them when a refund leaves
them nothing to decide. The punches a flag names go into FlagPunch too, so that while the flag
is open they do not count toward a reward. A flag never names a punch that is refunded, used
up by a free item, or that the owner already approved under the same rule: there is nothing
left to review about it.
"""

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from cards.database import stored_uuid, write_transaction
from cards.tables import Flag, FlagPunch, LedgerEntry, RedeemedPunch

Severity = Literal["low", "medium", "high"]
# A free item held at the till: one open flag of this rule per card, and the card's other free
# items wait until the owner decides it (cards/redemptions.py, cards/audit.py).
HELD_RULE = "reward_held"


def card_code(card_id: UUID) -> str:
    """A short, readable name for a card in explanations: 'Card 7F3K'."""
    return base64.b32encode(card_id.bytes).decode()[:4]


async def raise_flag(
    *,
    business_id: UUID,
    rule: str,
    severity: Severity,
    explanation: str,
    evidence: dict[str, Any],
    now: datetime,
    card_id: UUID | None = None,
    store_id: UUID | None = None,
    staff_id: UUID | None = None,
    scanner_id: UUID | None = None,
    punch_ids: Sequence[UUID] = (),
) -> UUID | None:
    """Record a flag for the owner's review; returns its id, or None when every punch it would
    name is already settled (refunded, used up, or approved under this rule).

    `punch_ids` are the punches under suspicion: they stop counting toward a reward
    until the owner approves the flag (or are voided if the owner rejects it). They are
    also listed in the evidence as `punch_ids`.
    """
    if punch_ids:
        punch_ids = await open_to_review(punch_ids, rule)
        if not punch_ids:
            return None
    flag_id = uuid4()
    if punch_ids:
        evidence = {**evidence, "punch_ids": [str(p) for p in punch_ids]}
    async with write_transaction():
        await Flag.insert(
            Flag(
                id=flag_id,
                business=business_id,
                card=card_id,
                store=store_id,
                staff=staff_id,
                scanner=scanner_id,
                rule=rule,
                severity=severity,
                explanation=explanation,
                evidence=evidence,
                created_at=now,
            )
        )
        if punch_ids:
            await FlagPunch.insert(*(FlagPunch(flag=flag_id, punch=p) for p in dict.fromkeys(punch_ids)))
    return flag_id


async def open_to_review(punch_ids: Sequence[UUID], rule: str) -> list[UUID]:
    """The punches, in order, that a new flag of `rule` may still name: not refunded, not used up
    by a free item, and not approved by the owner under that same rule."""
    ids = list(dict.fromkeys(punch_ids))
    settled = {
        stored_uuid(row["voids"])
        for row in await LedgerEntry.select(LedgerEntry.voids).where(LedgerEntry.voids.is_in(ids))
    }
    settled |= {
        stored_uuid(row["punch"])
        for row in await RedeemedPunch.select(RedeemedPunch.punch).where(RedeemedPunch.punch.is_in(ids))
    }
    settled |= {
        stored_uuid(row["punch"])
        for row in await FlagPunch.select(FlagPunch.punch).where(
            FlagPunch.punch.is_in(ids) & (FlagPunch.flag._.rule == rule) & (FlagPunch.flag._.status == "approved")
        )
    }
    return [punch for punch in ids if punch not in settled]


# Open flags naming one of these punches whose every punch is refunded.
_SETTLED_BY_VOIDS_SQL = """
SELECT DISTINCT fp.flag AS flag FROM flag_punch fp JOIN flag f ON f.id = fp.flag
WHERE f.status = 'open' AND fp.punch IN ({})
  AND NOT EXISTS (SELECT 1 FROM flag_punch other WHERE other.flag = fp.flag
                  AND NOT EXISTS (SELECT 1 FROM ledger_entry v WHERE v.voids = other.punch))
"""


async def settle_flags_of_voided(punch_ids: Sequence[UUID], now: datetime, reason: str) -> list[UUID]:
    """Settle the open flags that named only punches now voided: nothing is left for the owner
    to decide. A flag that also names a punch still standing stays open. Returns the flags settled."""
    if not punch_ids:
        return []
    placeholders = ", ".join("{}" for _ in punch_ids)
    rows = await Flag.raw(_SETTLED_BY_VOIDS_SQL.format(placeholders), *punch_ids)
    flag_ids = [stored_uuid(row["flag"]) for row in rows]
    if not flag_ids:
        return []
    settled = await (
        Flag.update({Flag.status: "settled", Flag.reviewed_at: now, Flag.review_reason: reason})
        .where(Flag.id.is_in(flag_ids) & (Flag.status == "open"))
        .returning(Flag.id)
    )
    return sorted((stored_uuid(row["id"]) for row in settled), key=str)
