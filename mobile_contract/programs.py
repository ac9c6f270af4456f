"""Punch-card programs: how many punches earn which reward, and the limits that stop abuse."""

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from mobile_contract.base import ZERO_OR_MORE, Id, Name, Timestamp, Wire

# Aware only: an end without an offset would mean a different moment on each server.
EndsAt = Annotated[datetime, msgspec.Meta(tz=True, description="After this moment the program is closed")]

# Threat model T2: a stamp lives 30 s by default and never more than 120 s.
StampLifetime = Annotated[int, msgspec.Meta(ge=10, le=120)]
Cooldown = Annotated[int, msgspec.Meta(ge=0, le=86_400, extra_json_schema=ZERO_OR_MORE)]
DailyCap = Annotated[int, msgspec.Meta(ge=1, le=100)]
PunchesPerReward = Annotated[int, msgspec.Meta(ge=1, le=100)]
# What one free item costs the café, in cents: what the console's held and rejected free items are worth.
RewardValue = Annotated[int, msgspec.Meta(ge=0, le=100_000, extra_json_schema=ZERO_OR_MORE)]
ExcessPolicy = Literal["refuse", "flag"]


class RiskThresholds(Wire, frozen=True, kw_only=True):
    """When the risk rules raise a flag. Defaults come from the threat model (T4, T6, T14)
    or, where it names none, from what an honest café's busiest hour looks like.

    A flag never refuses a punch: it asks the owner to look, and holds the reward meanwhile.
    """

    # T4: two punches at stores further apart than anyone travels in between.
    travel_max_kmh: Annotated[float, msgspec.Meta(ge=10, le=2000)] = 250.0
    travel_min_km: Annotated[float, msgspec.Meta(ge=0, le=1000, extra_json_schema=ZERO_OR_MORE)] = 1.0
    # T6: a cashier whose punches concentrate on a few cards, judged once they made enough punches.
    concentration_share: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.30
    concentration_cards: Annotated[int, msgspec.Meta(ge=1, le=50)] = 3
    concentration_min_punches: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 20
    concentration_window_days: Annotated[int, msgspec.Meta(ge=1, le=365)] = 30
    # Punches outside the store's opening hours, with a little grace for the last customer.
    opening_hours_grace_min: Annotated[int, msgspec.Meta(ge=0, le=240, extra_json_schema=ZERO_OR_MORE)] = 15
    # One scanner punching faster than a till serves customers.
    burst_punches: Annotated[int, msgspec.Meta(ge=2, le=1000)] = 10
    burst_window_s: Annotated[int, msgspec.Meta(ge=10, le=3600)] = 120
    # T14: more cards in the program than this share one e-mail address or phone number.
    cards_per_contact: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    # T17: a free item whose punches one cashier made more often than the store's staffing at those
    # hours explains (an honest customer would be served that way less often than this) is held.
    one_cashier_chance: Annotated[float, msgspec.Meta(gt=0, le=0.5)] = 0.001


class ProgramCreate(Wire, frozen=True, kw_only=True):
    """Defaults come from the threat model (T5): 60 s between punches, 3 a day, excess flagged.

    Flagging rather than refusing by default keeps honest customers first: an owner
    reviews the excess instead of a cashier turning someone away at the till.
    """

    name: Name
    reward_name: Name
    reward_value_cents: RewardValue | None = None
    punches_per_reward: PunchesPerReward = 10
    stamp_lifetime_s: StampLifetime = 30
    cooldown_s: Cooldown = 60
    daily_cap: DailyCap = 3
    excess_policy: ExcessPolicy = "flag"
    risk: RiskThresholds = msgspec.field(default_factory=RiskThresholds)
    ends_at: EndsAt | None = None


class ProgramUpdate(Wire, frozen=True, kw_only=True):
    name: Name | None = None
    reward_name: Name | None = None
    # Left out: unchanged; null: no longer said.
    reward_value_cents: RewardValue | msgspec.UnsetType | None = msgspec.UNSET
    punches_per_reward: PunchesPerReward | None = None
    stamp_lifetime_s: StampLifetime | None = None
    cooldown_s: Cooldown | None = None
    daily_cap: DailyCap | None = None
    excess_policy: ExcessPolicy | None = None
    # Replaces every threshold at once; a threshold left out takes its default.
    risk: RiskThresholds | None = None
    # false closes the program (no new members, stamps or punches; earned free items stay redeemable).
    active: bool | None = None
    # Left out: unchanged; null: the program no longer ends.
    ends_at: EndsAt | msgspec.UnsetType | None = msgspec.UNSET


class Program(Wire, frozen=True, kw_only=True):
    id: Id
    business_id: Id
    name: str
    reward_name: str
    reward_value_cents: int | None
    punches_per_reward: int
    stamp_lifetime_s: int
    cooldown_s: int
    daily_cap: int
    excess_policy: ExcessPolicy
    risk: RiskThresholds
    active: bool
    ends_at: Timestamp | None
    created_at: Timestamp


class PublicProgram(Wire, frozen=True, kw_only=True):
    """A program as a customer sees it before joining: never its fraud thresholds (T20)."""

    id: Id
    business_id: Id
    name: str
    reward_name: str
    punches_per_reward: int
    ends_at: Timestamp | None
