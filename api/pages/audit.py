"""The audit log with the API's filters, and the CSV exports of flags and punches behind the
console's cookie: the same `cards/audit_log.py` and `cards/exports.py` functions as
`/v1/audit-log` and `/v1/exports/*.csv`."""

import re
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.response import Template

from api.pages.flags import _search
from api.pages.forms import period, uuid_or_none
from cards import audit_log, exports, programs, staff, stores
from cards.identity import StaffIdentity

PAGE_SIZE = 100
# The API's own pattern for an action (`api/controllers/review.py` Action).
ACTION = re.compile(r"^[a-z_]+\.[a-z_]+$")


def _audit_search(query: Any) -> tuple[audit_log.AuditFilter, dict[str, str], list[str], int]:
    values = {k: str(query.get(k, "")).strip() for k in ("action", "actor", "subject", "since", "until", "offset")}
    problems = []
    action = values["action"] if ACTION.match(values["action"]) and len(values["action"]) <= 32 else None
    if values["action"] and action is None:
        problems.append(f"“{values['action']}” is not an action (such as staff.hire); it was left out.")
    ids: dict[str, UUID | None] = {}
    for key, words in (("actor", "staff member"), ("subject", "subject")):
        ids[key] = uuid_or_none(values[key])
        if values[key] and ids[key] is None:
            problems.append(f"The {words} “{values[key]}” is not an id this console knows; it was left out.")
    since, until, wrong_days = period(values["since"], values["until"])
    problems += wrong_days
    offset = int(values["offset"]) if values["offset"].isdigit() and len(values["offset"]) < 9 else 0
    search = audit_log.AuditFilter(
        action=action,
        subject_id=ids["subject"],
        actor_id=ids["actor"],
        since=since,
        until=until,
    )
    return search, values, problems, offset


def _punch_search(query: Any) -> exports.PunchFilter:
    flags_search, _, _ = _search(query)  # the queue's filters: store, cashier, card, since, until
    return exports.PunchFilter(
        store_id=flags_search.store_id,
        staff_id=flags_search.staff_id,
        card_id=flags_search.card_id,
        since=flags_search.since,
        until=flags_search.until,
    )


def _csv(text: str, filename: str) -> Response[str]:
    return Response(
        text,
        media_type="text/csv",  # Litestar adds "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


async def _subjects(business_id: UUID) -> dict[UUID, tuple[str, str | None]]:
    """What each subject of the log is called, and its console page: staff, stores, scanners and
    programs by name (cards by their code, flags and the rest by kind, in the template)."""
    named: dict[UUID, tuple[str, str | None]] = {}
    for member in await staff.list_members(business_id):
        named[member.id] = (member.name, None)
    for store in await stores.list_stores(business_id):
        named[store.id] = (store.name, f"/console/stores/{store.id}")
    for scanner in await stores.business_scanners(business_id):
        named[scanner.id] = (scanner.name, f"/console/stores/{scanner.store_id}")
    for program in await programs.list_programs(business_id):
        named[program.id] = (program.name, f"/console/programs/{program.id}")
    return named


class AuditLogPageController(Controller):
    path = "/audit-log"

    @get(name="console.audit_log")
    async def show(self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity]) -> Template:
        search, values, problems, offset = _audit_search(request.query_params)
        page = await audit_log.list_audit(actor.business_id, search, PAGE_SIZE, offset)
        shown = {k: v for k, v in values.items() if k != "offset" and v}
        return Template(
            template_name="audit_log.html",
            context={
                "actor": actor,
                "page": page,
                "values": values,
                "problems": problems,
                "members": await staff.list_members(actor.business_id),
                "stores": await stores.list_stores(actor.business_id),
                "subjects": await _subjects(actor.business_id),
                "next_query": {**shown, "offset": page.next_offset} if page.next_offset is not None else None,
                "newer_query": {**shown, "offset": max(0, offset - PAGE_SIZE)} if offset else None,
            },
        )


class ExportPagesController(Controller):
    """The CSV downloads, for a browser signed in to the console (the API's need a bearer token)."""

    path = "/exports"

    @get("/flags.csv", name="console.export_flags")
    async def flags(self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity]) -> Response[str]:
        search, _, _ = _search(request.query_params)
        return _csv(await exports.export_flags(actor.business_id, search), "punchguard-flags.csv")

    @get("/punches.csv", name="console.export_punches")
    async def punches(self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity]) -> Response[str]:
        search = _punch_search(request.query_params)
        return _csv(await exports.export_punches(actor.business_id, search), "punchguard-punches.csv")
