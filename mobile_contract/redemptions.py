"""Redemptions: the bound phone asks for a code, the cashier scans it, the server audits the card.

The phone signs `redemption_request_message(card_id, counter)` with its device key. The
counter is the same rising counter as for stamps (one sequence per device): a repeated or
lower counter is a clone signal (T3). A code is single use, lives `REDEMPTION_CODE_LIFETIME_S`
seconds and is bound to the card and the device that asked for it (T12).
"""

from typing import Annotated
from uuid import UUID

import msgspec

from mobile_contract.base import Id, Timestamp, Wire
from mobile_contract.scans import Counter, RewardStatus, Signature

REDEMPTION_CODE_LIFETIME_S = 60
# "R1" and 26 base32 characters (128 random bits): QR alphanumeric mode, version 2.
REDEMPTION_CODE_PATTERN = r"^R1[A-Z2-7]{26}$"
_REQUEST_CONTEXT = b"punchguard-redemption-request-v1\n"


def redemption_request_message(card_id: UUID, counter: int) -> bytes:
    """What the device signs to ask for a redemption code."""
    return _REQUEST_CONTEXT + f"{card_id}\n{counter}".encode()


class RedemptionRequest(Wire, frozen=True, kw_only=True):
    """Signed by the bound device over `redemption_request_message(card_id, counter)`."""

    counter: Counter
    signature: Signature


class RedemptionCode(Wire, frozen=True, kw_only=True):
    """What the phone shows the cashier (as text or a QR code).

    `reward_status` is the card's as in `ScanResult`: `pending_review` means the till will hold
    the reward for the owner's review rather than give it, and the phone should say so."""

    code: str
    redemption_id: Id
    card_id: Id
    reward_name: str
    reward_status: RewardStatus
    expires_at: Timestamp


class Redeem(Wire, frozen=True, kw_only=True):
    """What the cashier's scanner posts: the scanned redemption code."""

    code: Annotated[str, msgspec.Meta(max_length=64)]


class RedemptionResult(Wire, frozen=True, kw_only=True):
    """A free item granted; `balance` and `under_review` as in `ScanResult`, right after the grant.

    A held reward is a `reward-held` problem (409) instead: its `detail` is one line for the till,
    and its body carries `redemption_id`, `reward_status: "pending_review"` and `reasons`
    (the plain sentences the owner reviews)."""

    redemption_id: Id
    card_id: Id
    granted: bool
    reward_name: str
    message: str
    punches_used: list[Id]
    balance: int
    under_review: int
    decided_at: Timestamp
