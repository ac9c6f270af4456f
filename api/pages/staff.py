"""The staff page: list, hire, change a role or store, disable and re-enable, through the same
`cards/staff.py` functions (and so the same rules: only owners make managers or owners) as the
JSON API's `/v1/staff`."""

from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.pages.errors import error_page
from api.pages.forms import REASON_NEEDED, reason, uuid_or_none
from cards import staff, stores
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import stores as wire

STAFF_PAGE = "/console/staff"
ROLES = ("cashier", "manager", "owner")

# What each field of the hiring form must be, in words (the API's own structs check it).
FIELD_WORDS = {
    "name": "a name of 1 to 120 characters",
    "email": "an e-mail address",
    "password": "a password of 12 to 256 characters",
    "role": "a role: cashier, manager or owner",
    "store_id": "a store from the list",
}


def _invalid(exc: msgspec.ValidationError) -> str:
    for field, words in FIELD_WORDS.items():
        if f"$.{field}" in str(exc):
            return f"The form needs {words}. Go back and correct it."
    return "Some of the form is not filled in as it should be. Go back and correct it."


class StaffPageController(Controller):
    path = "/staff"

    @get(name="console.staff")
    async def show(self, actor: NamedDependency[StaffIdentity]) -> Template:
        members = await staff.list_members(actor.business_id)
        all_stores = await stores.list_stores(actor.business_id)
        return Template(
            template_name="staff.html",
            context={
                "actor": actor,
                "members": members,
                "stores": [s for s in all_stores if s.active],
                "store_names": {s.id: s.name for s in all_stores},
                "store_zones": {s.id: s.time_zone for s in all_stores},
                # Offer only the roles the domain would let this member grant (it refuses the rest anyway).
                "roles": ROLES if actor.role == "owner" else ("cashier",),
            },
        )

    @post("/hire", status_code=303)
    async def hire(
        self, request: Request[Any, Any, Any], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> Response[Any]:
        form = await request.form()
        fields: dict[str, Any] = {k: str(form.get(k, "")) for k in ("name", "email", "password", "role")}
        fields["store_id"] = str(form.get("store_id", "")) or None
        try:
            data = msgspec.convert(fields, wire.StaffCreate)
        except msgspec.ValidationError as exc:
            return error_page(request, 400, _invalid(exc))
        await staff.create_member(actor, data, clock())
        return Redirect(STAFF_PAGE, status_code=303)

    @post("/{staff_id:uuid}/role", status_code=303)
    async def change_role(
        self,
        request: Request[Any, Any, Any],
        staff_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await request.form()
        role = str(form.get("role", ""))
        if role not in ROLES:
            return error_page(request, 400, "Choose a role: cashier, manager or owner.")
        update = wire.StaffUpdate(role=role, store_id=uuid_or_none(form.get("store_id")))  # type: ignore[arg-type]
        await staff.update_member(actor, staff_id, update, clock())
        return Redirect(STAFF_PAGE, status_code=303)

    @post("/{staff_id:uuid}/disable", status_code=303)
    async def disable(
        self,
        request: Request[Any, Any, Any],
        staff_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        return await _switch(request, staff_id, actor, clock, active=False)

    @post("/{staff_id:uuid}/enable", status_code=303)
    async def enable(
        self,
        request: Request[Any, Any, Any],
        staff_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        return await _switch(request, staff_id, actor, clock, active=True)


async def _switch(
    request: Request[Any, Any, Any], staff_id: UUID, actor: StaffIdentity, clock: Clock, *, active: bool
) -> Response[Any]:
    why = reason(await request.form())
    if why is None:
        return error_page(request, 400, REASON_NEEDED)
    await staff.update_member(actor, staff_id, wire.StaffUpdate(active=active, reason=why), clock())
    return Redirect(STAFF_PAGE, status_code=303)
