"""Punch-card programs: owners and managers set them; anyone may read a business's active ones."""

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from api.auth import managers_only
from cards import programs
from cards.staff import StaffIdentity
from mobile_contract import programs as wire


class ProgramController(Controller):
    path = "/v1/programs"
    tags = ["programs"]
    guards = [managers_only]

    @post(operation_id="createProgram")
    async def create(self, data: JSONBody[wire.ProgramCreate], actor: NamedDependency[StaffIdentity]) -> wire.Program:
        return await programs.create_program(actor.business_id, data)

    @get(operation_id="listPrograms")
    async def list_all(self, actor: NamedDependency[StaffIdentity]) -> list[wire.Program]:
        return await programs.list_programs(actor.business_id)

    @get("/{program_id:uuid}", operation_id="getProgram")
    async def read(self, program_id: FromPath[UUID], actor: NamedDependency[StaffIdentity]) -> wire.Program:
        return await programs.get_program(program_id, actor.business_id)

    @patch("/{program_id:uuid}", operation_id="updateProgram")
    async def update(
        self, program_id: FromPath[UUID], data: JSONBody[wire.ProgramUpdate], actor: NamedDependency[StaffIdentity]
    ) -> wire.Program:
        return await programs.update_program(actor.business_id, program_id, data)


class PublicProgramController(Controller):
    """What the café's app shows before a customer joins."""

    path = "/v1/businesses"
    tags = ["programs"]
    opt = {"exclude_from_auth": True}

    @get("/{business_id:uuid}/programs", operation_id="listActivePrograms")
    async def list_active(self, business_id: FromPath[UUID]) -> list[wire.Program]:
        return await programs.list_programs(business_id, active_only=True)
