"""Stores, their opening hours and scanners, and the staff who work there."""

from typing import Annotated, Literal

import msgspec

from mobile_contract.auth import Password, Role
from mobile_contract.base import Email, Id, Name, Timestamp, Wire
from mobile_contract.review import Reason

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["07:30"])]
Latitude = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Longitude = Annotated[float, msgspec.Meta(ge=-180, le=180)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["Europe/Paris"])]


class OpeningPeriod(Wire, frozen=True, kw_only=True):
    """Open from `opens` to `closes` local time; a `closes` before `opens` runs past midnight."""

    day: Weekday
    opens: ClockTime
    closes: ClockTime


class StoreCreate(Wire, frozen=True, kw_only=True):
    name: Name
    time_zone: TimeZone
    latitude: Latitude
    longitude: Longitude
    opening_hours: Annotated[list[OpeningPeriod], msgspec.Meta(max_length=28)] = []


class StoreUpdate(Wire, frozen=True, kw_only=True):
    name: Name | None = None
    time_zone: TimeZone | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    opening_hours: Annotated[list[OpeningPeriod], msgspec.Meta(max_length=28)] | None = None
    active: bool | None = None


class Store(Wire, frozen=True, kw_only=True):
    id: Id
    name: str
    time_zone: str
    latitude: float
    longitude: float
    opening_hours: list[OpeningPeriod]
    active: bool
    created_at: Timestamp


class ScannerCreate(Wire, frozen=True, kw_only=True):
    name: Name


class Scanner(Wire, frozen=True, kw_only=True):
    id: Id
    store_id: Id
    name: str
    active: bool
    created_at: Timestamp


class ScannerRegistered(Wire, frozen=True, kw_only=True):
    """The scanner's secret is shown once: the scanner app keeps it to let cashiers sign in."""

    scanner: Scanner
    scanner_secret: str


class StaffCreate(Wire, frozen=True, kw_only=True):
    name: Name
    email: Email
    password: Password
    role: Role
    store_id: Id | None = None


class StaffUpdate(Wire, frozen=True, kw_only=True):
    """`reason` goes into the audit log when `active` disables or re-enables the member."""

    name: Name | None = None
    role: Role | None = None
    store_id: Id | None = None
    active: bool | None = None
    reason: Reason | None = None


class StaffMember(Wire, frozen=True, kw_only=True):
    id: Id
    business_id: Id
    name: str
    email: str
    role: Role
    store_id: Id | None
    active: bool
    created_at: Timestamp
