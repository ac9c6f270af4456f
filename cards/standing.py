"""Where a card stands with its reward, in one definition for every answer that says so.

The scan at the till, the customer's card, a refund, the redemption code and the owner's
timeline all say `balance` (punches that count now: not refunded, not used up by a free
item, not under an open flag), `under_review` (punches an open flag holds) and the reward's
status. A reward is `available` only when the audit before a free item (`cards/audit.py`)
would pass now, so no answer promises a coffee that the till would then hold.
"""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from cards.audit import audit_card
from cards.tables import LedgerEntry
from crypto.keyring import Keyring
from mobile_contract.scans import RewardStatus

# A punch counts while no void names it and no free item used it up; it is held while an open flag names it.
_COUNTS_SQL = """
SELECT coalesce(sum(CASE WHEN held THEN 0 ELSE 1 END), 0) AS balance,
       coalesce(sum(CASE WHEN held THEN 1 ELSE 0 END), 0) AS under_review
FROM (SELECT EXISTS (SELECT 1 FROM flag_punch fp JOIN flag f ON f.id = fp.flag
                     WHERE fp.punch = e.id AND f.status = 'open') AS held
      FROM ledger_entry e
      WHERE e.card = {} AND e.kind = 'punch'
        AND NOT EXISTS (SELECT 1 FROM ledger_entry v WHERE v.card = e.card AND v.voids = e.id)
        AND NOT EXISTS (SELECT 1 FROM redeemed_punch r WHERE r.punch = e.id)) AS counting
"""


@dataclass(frozen=True, slots=True)
class Standing:
    balance: int
    under_review: int
    reward_status: RewardStatus
    # Why a reward is pending review, in the owner's words (the audit's reasons); empty otherwise.
    reasons: list[str] = field(default_factory=list)

    @property
    def reward_available(self) -> bool:
        return self.reward_status == "available"


async def card_standing(card_id: UUID, punches_per_reward: int, keyring: Keyring, now: datetime) -> Standing:
    """The card's standing now. Costs one query, and the card's audit once it holds enough punches."""
    rows = await LedgerEntry.raw(_COUNTS_SQL, card_id)
    balance, under_review = int(rows[0]["balance"]), int(rows[0]["under_review"])
    if balance + under_review < punches_per_reward:
        return Standing(balance, under_review, "collecting")
    audit = await audit_card(card_id, keyring, now)
    if audit.passed:
        return Standing(balance, under_review, "available")
    if audit.reasons:
        return Standing(balance, under_review, "pending_review", audit.reasons)
    return Standing(balance, under_review, "collecting")
