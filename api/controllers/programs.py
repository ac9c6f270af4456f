"""Punch-card programs: owners create them, owners and managers change them (only owners relax them);
anyone may read a business's open ones."""

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import managers_only
from cards import programs
from cards.clock import Clock
from cards.identity import StaffIdentity
from mobile_contract import programs as wire


class ProgramController(Controller):
    path = "/v1/programs"
    tags = ["programs"]
    guards = [managers_only]

    @post(operation_id="createProgram", summary="Create a program (owners only)")
    async def create(
        self, data: JSONBody[wire.ProgramCreate], actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]
    ) -> wire.Program:
        return await programs.create_program(actor, data, clock())

    @get(operation_id="listPrograms", summary="The business's programs, with their thresholds")
    async def list_all(self, actor: NamedDependency[StaffIdentity]) -> list[wire.Program]:
        return await programs.list_programs(actor.business_id)

    @get("/{program_id:uuid}", operation_id="getProgram", summary="One program")
    async def read(self, program_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.Program:
        return await programs.get_program(program_id, actor.business_id)

    @patch(
        "/{program_id:uuid}",
        operation_id="updateProgram",
        summary="Change a program; making it easier to earn or relaxing a threshold needs an owner",
    )
    async def update(
        self,
        program_id: FromPath[UUID],
        data: JSONBody[wire.ProgramUpdate],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> wire.Program:
        return await programs.update_program(actor, program_id, data, clock())


class PublicProgramController(Controller):
    """What the café's app shows before a customer joins."""

    path = "/v1/businesses"
    tags = ["programs"]
    opt = {"exclude_from_auth": True}

    @get("/{business_id:uuid}/programs", operation_id="listActivePrograms", summary="A business's open programs")
    async def list_open(self, business_id: FromPath[UUID], clock: NamedDependency[Clock]) -> list[wire.PublicProgram]:
        return await programs.list_open_programs(business_id, clock())
