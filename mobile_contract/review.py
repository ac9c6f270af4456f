"""The owner's review: flags to approve or reject, a card's whole story, freezes and revocations, the audit log."""

from typing import Annotated, Any, Literal

import msgspec

from mobile_contract.base import Id, Timestamp, Wire

# `settled`: closed without a decision, because every punch it named was refunded (voided).
FlagStatus = Literal["open", "approved", "rejected", "settled"]
Severity = Literal["low", "medium", "high"]
CardStatus = Literal["active", "frozen", "closed"]
EntryKind = Literal["punch", "void", "redeem"]
# At least one visible character, and no NUL: PostgreSQL refuses NUL in text.
Reason = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=500, pattern=r"^\s*[^\s\x00][^\x00]*$", examples=["Refunded at the till"]),
]
# A risk rule's name, e.g. `daily_cap` or `counter_regression`.
RuleName = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]


class ReviewReason(Wire, frozen=True, kw_only=True):
    """Why the owner decided: kept in the audit log beside who and when."""

    reason: Reason


class OptionalReason(Wire, frozen=True, kw_only=True):
    """A reason that may be left out, for actions that worked before reasons were asked for."""

    reason: Reason | None = None


class FlagView(Wire, frozen=True, kw_only=True):
    """A flag with the names an owner reads. `staff_id`, `store_id` and `scanner_id` fall back to
    those of the first punch the flag names when the rule did not record them itself."""

    id: Id
    rule: str
    severity: Severity
    status: FlagStatus
    explanation: str
    evidence: dict[str, Any]
    punch_ids: list[Id]
    card_id: Id | None
    card_code: str | None
    store_id: Id | None
    store_name: str | None
    staff_id: Id | None
    staff_name: str | None
    scanner_id: Id | None
    created_at: Timestamp
    reviewed_by: Id | None
    reviewed_by_name: str | None
    reviewed_at: Timestamp | None
    review_reason: str | None


class FlagPage(Wire, frozen=True, kw_only=True):
    """Newest first; ask again with `offset=next_offset` while it is not null."""

    flags: list[FlagView]
    next_offset: int | None


class VoidedPunch(Wire, frozen=True, kw_only=True):
    punch_id: Id
    void_id: Id


class FlagReviewed(Wire, frozen=True, kw_only=True):
    """The reviewed flag; for a rejection, the punches it named and the void entries that cancel them."""

    flag: FlagView
    voided: list[VoidedPunch]


class CardOverview(Wire, frozen=True, kw_only=True):
    """`balance` counts the punches toward the next reward; `under_review` those held by an open flag."""

    id: Id
    code: str
    status: CardStatus
    program_id: Id
    program_name: str
    reward_name: str
    punches_per_reward: int
    balance: int
    under_review: int
    customer_id: Id
    created_at: Timestamp


class TimelineCustomer(Wire, frozen=True, kw_only=True):
    """Only the contact details the customer chose to give."""

    id: Id
    display_name: str | None
    email: str | None
    phone: str | None
    created_at: Timestamp


class DeviceView(Wire, frozen=True, kw_only=True):
    """A customer's phone. `active`: this business accepts it (it was neither unbound nor revoked here)."""

    id: Id
    customer_id: Id
    algorithm: str
    active: bool
    created_at: Timestamp


class TimelineEntry(Wire, frozen=True, kw_only=True):
    """One ledger entry. A punch says whether it was voided (`voided_by` is the void entry),
    used up by a free item (`redeemed_by` is the redemption) or named by flags; a void names
    the punch it cancels in `voids`."""

    id: Id
    seq: int
    kind: EntryKind
    at: Timestamp
    store_id: Id | None
    store_name: str | None
    staff_id: Id | None
    cashier_name: str | None
    scanner_id: Id | None
    scanner_name: str | None
    receipt: str | None
    amount_cents: int | None
    items: int | None
    voids: Id | None
    voided: bool
    voided_by: Id | None
    redeemed_by: Id | None
    flag_ids: list[Id]
    under_review: bool


class TimelineRedemption(Wire, frozen=True, kw_only=True):
    id: Id
    status: str
    requested_at: Timestamp
    decided_at: Timestamp | None
    reasons: list[str]
    store_name: str | None
    cashier_name: str | None
    entry_id: Id | None


class AuditEntry(Wire, frozen=True, kw_only=True):
    id: Id
    action: str
    actor_id: Id | None
    actor_name: str | None
    subject_kind: str
    subject_id: Id
    reason: str | None
    details: dict[str, Any]
    at: Timestamp
    # The sign-in session that acted, or "command line" for the server's commands.
    session: str | None = None


class AuditPage(Wire, frozen=True, kw_only=True):
    """Newest first; ask again with `offset=next_offset` while it is not null."""

    entries: list[AuditEntry]
    next_offset: int | None


class GrantedFreeItem(Wire, frozen=True, kw_only=True):
    redemption_id: Id
    card_id: Id
    card_code: str
    store_name: str | None
    cashier_name: str | None
    decided_at: Timestamp


class FreeItemsUnderChange(Wire, frozen=True, kw_only=True):
    """The free items a program granted while one of its changes was in force (until its next change)."""

    entry_id: Id
    program_id: Id
    in_force_from: Timestamp
    in_force_until: Timestamp | None
    free_items: list[GrantedFreeItem]


class CardTimeline(Wire, frozen=True, kw_only=True):
    """The owner's whole picture of one card: ledger in order, flags, redemptions and audit entries."""

    card: CardOverview
    customer: TimelineCustomer
    devices: list[DeviceView]
    entries: list[TimelineEntry]
    flags: list[FlagView]
    redemptions: list[TimelineRedemption]
    audit: list[AuditEntry]
