"""Stores and their scanners: list, open and edit a store (its time zone and opening hours),
close it, register a scanner (its secret shown once, as text and as a QR code for pairing a
till) and revoke one, through the same `cards/stores.py` functions as `/v1/stores`."""

import json
from functools import cache
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import available_timezones

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from api import qr
from api.pages.errors import error_page
from api.pages.forms import uuid_or_none
from cards import stores
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import stores as wire
from mobile_contract.review import OptionalReason

STORES_PAGE = "/console/stores"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)


@cache
def time_zones() -> list[str]:
    return sorted(available_timezones())


def store_page(store_id: UUID) -> str:
    return f"{STORES_PAGE}/{store_id}"


def pairing_qr(scanner_id: UUID, secret: str) -> Markup:
    """The scanner's id and secret as an inline SVG QR code (no script, no image request): the
    till (/till) scans it to pair."""
    pairing = json.dumps({"scanner_id": str(scanner_id), "scanner_secret": secret}, separators=(",", ":"))
    return Markup(qr.fitted_svg(pairing, "QR code pairing this scanner"))  # noqa: S704 - escaped by fitted_svg


FIELD_WORDS = {
    "name": "a name of 1 to 120 characters",
    "time_zone": "a time zone from the list",
    "latitude": "a latitude between -90 and 90",
    "longitude": "a longitude between -180 and 180",
    "opening_hours": "opening and closing times as HH:MM (both, or neither for a closed day)",
}


def _invalid(exc: msgspec.ValidationError) -> str:
    for field, words in FIELD_WORDS.items():
        if f"$.{field}" in str(exc):
            return f"The form needs {words}. Go back and correct it."
    return "Some of the form is not filled in as it should be. Go back and correct it."


# The most periods a day can have: the API allows 28 a week, which may all be on one day.
MAX_PERIODS = 28


def _period_field(day: str, edge: str, slot: int) -> str:
    """The form field of a day's `slot`-th period (0 first): mon_opens, then mon_opens_2 ..."""
    return f"{day}_{edge}" if slot == 0 else f"{day}_{edge}_{slot + 1}"


def _store_fields(form: Any) -> dict[str, Any]:
    """The store form as the API's body: opening hours up to MAX_PERIODS rows per weekday, a row
    with neither time left out (a day without any is closed); numbers left as text when they are
    not numbers, for the struct to refuse."""
    hours: list[dict[str, str]] = []
    for day in WEEKDAYS:
        for slot in range(MAX_PERIODS):
            opens = str(form.get(_period_field(day, "opens", slot), "")).strip()
            closes = str(form.get(_period_field(day, "closes", slot), "")).strip()
            if opens or closes:
                hours.append({"day": day, "opens": opens, "closes": closes})
    fields: dict[str, Any] = {
        "name": str(form.get("name", "")),
        "time_zone": str(form.get("time_zone", "")),
        "opening_hours": hours,
    }
    for key in ("latitude", "longitude"):
        text = str(form.get(key, "")).strip()
        try:
            fields[key] = float(text)
        except ValueError:
            fields[key] = text
    return fields


def _hours_form(store: wire.Store | None) -> list[dict[str, Any]]:
    """The opening-hours editor's rows: every period the store has (none dropped by an edit), and
    at least two rows a day, so a second period (after a lunch break) can be added."""
    by_day: dict[str, list[wire.OpeningPeriod]] = {day: [] for day in WEEKDAYS}
    for period in store.opening_hours if store else []:
        by_day[period.day].append(period)
    slots = max(2, *(len(periods) for periods in by_day.values()))
    return [
        {
            "day": DAY_NAMES[day] if slot == 0 else f"{DAY_NAMES[day]}, again",
            "slot": slot,
            "opens": (periods[slot].opens if slot < len(periods) else ""),
            "closes": (periods[slot].closes if slot < len(periods) else ""),
            "opens_field": _period_field(day, "opens", slot),
            "closes_field": _period_field(day, "closes", slot),
        }
        for day, periods in by_day.items()
        for slot in range(slots)
    ]


class StorePagesController(Controller):
    path = "/stores"

    @get(name="console.stores")
    async def list_all(self, actor: NamedDependency[StaffIdentity]) -> Template:
        return Template(
            template_name="stores.html",
            context={
                "actor": actor,
                "stores": await stores.list_stores(actor.business_id),
                "time_zones": time_zones(),
                "hours": _hours_form(None),
                "store": None,
            },
        )

    @post(status_code=303)
    async def create(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        try:
            data = msgspec.convert(_store_fields(await request.form()), wire.StoreCreate)
        except msgspec.ValidationError as exc:
            return error_page(request, 400, _invalid(exc))
        store = await stores.create_store(actor, data, clock())
        return Redirect(store_page(store.id), status_code=303)

    @get("/{store_id:uuid}", name="console.store")
    async def show(self, store_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> Template:
        store = await stores.get_store(actor.business_id, store_id)
        return Template(
            template_name="store.html",
            context={
                "actor": actor,
                "store": store,
                "scanners": await stores.list_scanners(actor.business_id, store_id),
                "new_scanner_id": uuid4(),  # the next scanner's id, chosen by this page (see register_scanner)
                "time_zones": time_zones(),
                "hours": _hours_form(store),
            },
        )

    @post("/{store_id:uuid}", status_code=303)
    async def edit(
        self,
        request: Request[Any, Any, Any],
        store_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        try:
            data = msgspec.convert(_store_fields(await request.form()), wire.StoreUpdate)
        except msgspec.ValidationError as exc:
            return error_page(request, 400, _invalid(exc))
        await stores.update_store(actor, store_id, data, clock())
        return Redirect(store_page(store_id), status_code=303)

    @post("/{store_id:uuid}/close", status_code=303)
    async def close(
        self, store_id: FromPath[UUID], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        await stores.update_store(actor, store_id, wire.StoreUpdate(active=False), clock())
        return Redirect(store_page(store_id), status_code=303)

    @post("/{store_id:uuid}/reopen", status_code=303)
    async def reopen(
        self, store_id: FromPath[UUID], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        await stores.update_store(actor, store_id, wire.StoreUpdate(active=True), clock())
        return Redirect(store_page(store_id), status_code=303)

    @post("/{store_id:uuid}/scanners", status_code=200)
    async def register_scanner(
        self,
        request: Request[Any, Any, Any],
        store_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await request.form()
        try:
            data = msgspec.convert({"name": str(form.get("name", ""))}, wire.ScannerCreate)
        except msgspec.ValidationError:
            return error_page(request, 400, "Give the scanner a name of 1 to 120 characters.")
        # The form's own id for the scanner: the same form sent again (a reload) registers nothing more.
        registered = await stores.register_scanner(
            actor, store_id, data, clock(), scanner_id=uuid_or_none(form.get("scanner_id"))
        )
        store = await stores.get_store(actor.business_id, store_id)
        # The answer to the POST itself, never a page to come back to: the secret is kept only as a hash.
        return Template(
            template_name="scanner_registered.html",
            context={
                "actor": actor,
                "store": store,
                "registered": registered,
                "qr": pairing_qr(registered.scanner.id, registered.scanner_secret),
            },
        )

    @post("/{store_id:uuid}/scanners/{scanner_id:uuid}/revoke", status_code=303)
    async def revoke_scanner(
        self,
        request: Request[Any, Any, Any],
        store_id: FromPath[UUID],
        scanner_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await request.form()
        text = str(form.get("reason", "")).strip()
        try:
            why = msgspec.convert({"reason": text or None}, OptionalReason).reason
        except msgspec.ValidationError:
            return error_page(request, 400, "A reason is at most 500 characters.")
        scanner = await stores.get_scanner(actor.business_id, scanner_id)
        if scanner.store_id != store_id:
            return error_page(request, 404, "There is no such scanner at this store.")
        await stores.revoke_scanner(actor, scanner_id, why, clock())
        return Redirect(store_page(store_id), status_code=303)
