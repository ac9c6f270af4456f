"""Where a flag is recorded: a suspicion, explained in plain words, with its evidence, for an owner.

The rules that decide to raise one live in `cards/risk.py` (and the clone check in
`cards/stamps.py`); this module only writes flags down. The punches a flag names go
into FlagPunch too, so that while the flag is open they do not count toward a reward.
"""

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from cards.database import write_transaction
from cards.tables import Flag, FlagPunch

Severity = Literal["low", "medium", "high"]


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
) -> UUID:
    """Record a flag for the owner's review; returns its id.

    `punch_ids` are the punches under suspicion: they stop counting toward a reward
    until the owner approves the flag (or are voided if the owner rejects it). They are
    also listed in the evidence as `punch_ids`.
    """
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
