"""Where a flag is raised: a suspicion, explained in plain words, with its evidence, for an owner."""

import base64
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from cards.tables import Flag

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
) -> UUID:
    """Record a flag for the owner's review; returns its id."""
    flag_id = uuid4()
    await Flag.insert(
        Flag(
            id=flag_id,
            business=business_id,
            card=card_id,
            store=store_id,
            rule=rule,
            severity=severity,
            explanation=explanation,
            evidence=evidence,
            created_at=now,
        )
    )
    return flag_id
