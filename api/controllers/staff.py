"""Staff members: owners and managers add, change and disable them."""

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import managers_only, staff_only
from cards import staff
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import stores as wire


class StaffController(Controller):
    path = "/v1/staff"
    tags = ["staff"]
    guards = [staff_only]

    @get("/me", operation_id="getMe", summary="The signed-in staff member")
    async def me(self, actor: NamedDependency[StaffIdentity]) -> wire.StaffMember:
        return await staff.get_member(actor.business_id, actor.staff_id)

    @post(
        operation_id="createStaff",
        guards=[managers_only],
        summary="Add a staff member (managers may add cashiers; owners anyone)",
    )
    async def create(
        self, data: JSONBody[wire.StaffCreate], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> wire.StaffMember:
        return await staff.create_member(actor, data, clock())

    @get(operation_id="listStaff", guards=[managers_only], summary="The business's staff")
    async def list_all(self, actor: NamedDependency[StaffIdentity]) -> list[wire.StaffMember]:
        return await staff.list_members(actor.business_id)

    @get("/{staff_id:uuid}", operation_id="getStaff", guards=[managers_only], summary="One staff member")
    async def read(self, staff_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.StaffMember:
        return await staff.get_member(actor.business_id, staff_id)

    @patch(
        "/{staff_id:uuid}",
        operation_id="updateStaff",
        guards=[managers_only],
        summary="Change a member, or disable them with active=false (effective on their next request)",
    )
    async def update(
        self,
        staff_id: FromPath[UUID],
        data: JSONBody[wire.StaffUpdate],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.StaffMember:
        return await staff.update_member(actor, staff_id, data, clock())
