"""Stores, with time zone, coordinates and opening hours, and their registered scanners."""

import hashlib
import secrets
import zoneinfo
from functools import cache
from typing import Any
from uuid import UUID

import msgspec

from cards.errors import DomainError
from cards.tables import Scanner, Store
from mobile_contract import stores as wire
from mobile_contract.problems import Problem

_STORE_COLUMNS = (
    Store.id,
    Store.name,
    Store.time_zone,
    Store.latitude,
    Store.longitude,
    Store.opening_hours,
    Store.active,
    Store.created_at,
)
_SCANNER_COLUMNS = (Scanner.id, Scanner.store, Scanner.name, Scanner.active, Scanner.created_at)


@cache
def _time_zones() -> frozenset[str]:
    # The list, not ZoneInfo(name): that also opens tzdata folders ("America") and oddities ("posixrules").
    return frozenset(zoneinfo.available_timezones())


def _check_time_zone(name: str) -> None:
    if name not in _time_zones():
        raise DomainError(Problem.INVALID_TIME_ZONE, f"Unknown time zone {name!r}")


def _store(row: dict[str, Any]) -> wire.Store:
    hours = row["opening_hours"]
    return wire.Store(
        id=row["id"],
        name=row["name"],
        time_zone=row["time_zone"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        opening_hours=msgspec.json.decode(hours, type=list[wire.OpeningPeriod])
        if isinstance(hours, str | bytes)
        else msgspec.convert(hours, list[wire.OpeningPeriod]),
        active=row["active"],
        created_at=row["created_at"],
    )


def _scanner(row: dict[str, Any]) -> wire.Scanner:
    return wire.Scanner(
        id=row["id"], store_id=row["store"], name=row["name"], active=row["active"], created_at=row["created_at"]
    )


async def create_store(business_id: UUID, request: wire.StoreCreate) -> wire.Store:
    _check_time_zone(request.time_zone)
    store = Store(
        business=business_id,
        name=request.name,
        time_zone=request.time_zone,
        latitude=request.latitude,
        longitude=request.longitude,
        opening_hours=msgspec.json.encode(request.opening_hours).decode(),
    )
    await store.save()
    return await get_store(business_id, store.id)


async def get_store(business_id: UUID, store_id: UUID) -> wire.Store:
    """A store of this business; another business's store reads as missing, not as forbidden."""
    row = await Store.select(*_STORE_COLUMNS).where((Store.id == store_id) & (Store.business == business_id)).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such store")
    return _store(row)


async def list_stores(business_id: UUID) -> list[wire.Store]:
    rows = await Store.select(*_STORE_COLUMNS).where(Store.business == business_id).order_by(Store.created_at)
    return [_store(row) for row in rows]


async def update_store(business_id: UUID, store_id: UUID, request: wire.StoreUpdate) -> wire.Store:
    await get_store(business_id, store_id)
    changes: dict[Any, Any] = {}
    if request.time_zone is not None:
        _check_time_zone(request.time_zone)
        changes[Store.time_zone] = request.time_zone
    for column, value in (
        (Store.name, request.name),
        (Store.latitude, request.latitude),
        (Store.longitude, request.longitude),
        (Store.active, request.active),
    ):
        if value is not None:
            changes[column] = value
    if request.opening_hours is not None:
        changes[Store.opening_hours] = msgspec.json.encode(request.opening_hours).decode()
    if changes:
        await Store.update(changes).where(Store.id == store_id)
    return await get_store(business_id, store_id)


async def register_scanner(business_id: UUID, store_id: UUID, request: wire.ScannerCreate) -> wire.ScannerRegistered:
    """Register a scanning device; its secret is returned once and only its hash is kept."""
    await get_store(business_id, store_id)
    secret = secrets.token_urlsafe(32)
    scanner = Scanner(store=store_id, name=request.name, secret_hash=hashlib.sha256(secret.encode()).hexdigest())
    await scanner.save()
    return wire.ScannerRegistered(scanner=await get_scanner(business_id, scanner.id), scanner_secret=secret)


async def get_scanner(business_id: UUID, scanner_id: UUID) -> wire.Scanner:
    row = (
        await Scanner.select(*_SCANNER_COLUMNS)
        .where((Scanner.id == scanner_id) & (Scanner.store.business == business_id))
        .first()
    )
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such scanner")
    return _scanner(row)


async def list_scanners(business_id: UUID, store_id: UUID) -> list[wire.Scanner]:
    await get_store(business_id, store_id)
    rows = await Scanner.select(*_SCANNER_COLUMNS).where(Scanner.store == store_id).order_by(Scanner.created_at)
    return [_scanner(row) for row in rows]


async def revoke_scanner(business_id: UUID, scanner_id: UUID) -> wire.Scanner:
    """Revoke a lost or stolen scanner; tokens bound to it stop working on their next request (T9)."""
    await get_scanner(business_id, scanner_id)
    await Scanner.update({Scanner.active: False}).where(Scanner.id == scanner_id)
    return await get_scanner(business_id, scanner_id)
