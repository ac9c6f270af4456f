"""Stamps for the phone, scans at the till, refunds, and the customer's card with its history."""

from typing import Annotated, Literal

import msgspec

from mobile_contract.base import ZERO_OR_MORE, Id, Timestamp, Wire

Counter = Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
Signature = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")]
ReceiptReference = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]


class StampRequest(Wire, frozen=True, kw_only=True):
    """Signed by the bound device over `stamp_request_message(card_id, counter)`.

    `counter` must exceed every counter this device sent before; resending the very same
    request (same card, same counter) returns the same stamp.
    """

    counter: Counter
    signature: Signature


class IssuedStamp(Wire, frozen=True, kw_only=True):
    stamp: str
    card_id: Id
    issued_at: Timestamp
    expires_at: Timestamp
    qr_version: int


class Receipt(Wire, frozen=True, kw_only=True):
    reference: ReceiptReference
    amount_cents: Annotated[int, msgspec.Meta(ge=0, le=10_000_000, extra_json_schema=ZERO_OR_MORE)] | None = None
    items: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None


class Scan(Wire, frozen=True, kw_only=True):
    """What the cashier's scanner posts: the scanned text and the purchase's receipt."""

    stamp: Annotated[str, msgspec.Meta(max_length=512)]
    receipt: Receipt


# Where a card stands with its reward, said the same way on the scan, the card and the redemption:
# `collecting` (not enough punches yet), `pending_review` (enough punches, but the owner must
# review something first: punches under an open flag, a frozen card, or what the audit before a
# free item found) and `available` (a redemption would be granted now).
RewardStatus = Literal["collecting", "pending_review", "available"]


class ScanResult(Wire, frozen=True, kw_only=True):
    """The punch recorded, and where its card stands after it.

    `balance` counts the punches that count toward the next reward now: not refunded, not used
    up by a free item and not under review; `under_review` counts those an open flag holds until
    the owner decides. `reward_available` is true exactly when `reward_status` is `available`.
    `flagged` says that this punch raised or joined a flag. A retry of the same scan answers this
    very body again, with the header `Idempotent-Replayed: true`.
    """

    punch_id: Id
    card_id: Id
    balance: int
    under_review: int
    punches_per_reward: int
    reward_status: RewardStatus
    reward_available: bool
    recorded_at: Timestamp
    flagged: bool


class Void(Wire, frozen=True, kw_only=True):
    """A refund: the punch of this receipt no longer counts. `store_id` defaults to the scanner's store."""

    receipt: ReceiptReference
    store_id: Id | None = None
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class VoidResult(Wire, frozen=True, kw_only=True):
    """The refund recorded; `balance` and `under_review` as in `ScanResult`. `settled_flag_ids` are
    the open flags that named only refunded punches: nothing is left for the owner to decide."""

    void_id: Id
    punch_id: Id
    card_id: Id
    balance: int
    under_review: int
    settled_flag_ids: list[Id]


class HistoryItem(Wire, frozen=True, kw_only=True):
    kind: Literal["punch", "void", "redeem"]
    at: Timestamp
    store_name: str | None
    voided: bool = False
    # A punch an open flag holds: it counts once the café's owner approves it.
    under_review: bool = False


class CardDetail(Wire, frozen=True, kw_only=True):
    """The customer's card. `balance`, `under_review`, `reward_status` and `reward_available` mean
    what they mean in `ScanResult`: a reward `pending_review` is shown as waiting for the café."""

    id: Id
    program_id: Id
    program_name: str
    reward_name: str
    punches_per_reward: int
    status: Literal["active", "frozen", "closed"]
    balance: int
    under_review: int
    reward_status: RewardStatus
    reward_available: bool
    history: list[HistoryItem]
