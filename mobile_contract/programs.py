"""Punch-card programs: how many punches earn which reward, and the limits that stop abuse."""

from typing import Annotated, Literal

import msgspec

from mobile_contract.base import Id, Name, Timestamp, Wire

# Threat model T2: a stamp lives 30 s by default and never more than 120 s.
StampLifetime = Annotated[int, msgspec.Meta(ge=10, le=120)]
Cooldown = Annotated[int, msgspec.Meta(ge=0, le=86_400)]
DailyCap = Annotated[int, msgspec.Meta(ge=1, le=100)]
PunchesPerReward = Annotated[int, msgspec.Meta(ge=1, le=100)]
ExcessPolicy = Literal["refuse", "flag"]


class ProgramCreate(Wire, frozen=True, kw_only=True):
    """Defaults come from the threat model (T5): 60 s between punches, 3 a day, excess flagged.

    Flagging rather than refusing by default keeps honest customers first: an owner
    reviews the excess instead of a cashier turning someone away at the till.
    """

    name: Name
    reward_name: Name
    punches_per_reward: PunchesPerReward = 10
    stamp_lifetime_s: StampLifetime = 30
    cooldown_s: Cooldown = 60
    daily_cap: DailyCap = 3
    excess_policy: ExcessPolicy = "flag"


class ProgramUpdate(Wire, frozen=True, kw_only=True):
    name: Name | None = None
    reward_name: Name | None = None
    punches_per_reward: PunchesPerReward | None = None
    stamp_lifetime_s: StampLifetime | None = None
    cooldown_s: Cooldown | None = None
    daily_cap: DailyCap | None = None
    excess_policy: ExcessPolicy | None = None
    active: bool | None = None


class Program(Wire, frozen=True, kw_only=True):
    id: Id
    business_id: Id
    name: str
    reward_name: str
    punches_per_reward: int
    stamp_lifetime_s: int
    cooldown_s: int
    daily_cap: int
    excess_policy: ExcessPolicy
    active: bool
    created_at: Timestamp
