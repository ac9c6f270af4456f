"""Signed checkpoints of a store's ledger for the owner to keep elsewhere, and their verification (T10)."""

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from api.auth import managers_only
from cards import checkpoints, stores
from cards.clock import Clock
from cards.errors import DomainError
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import checkpoints as wire
from mobile_contract.problems import Problem

Day = Annotated[
    str, Parameter(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="The store's local day, YYYY-MM-DD")
]

# A checkpoint lists every entry of a day: a busy store's runs past the default body limit.
_MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise DomainError(Problem.INVALID_REQUEST, f"{text!r} is not a calendar day (YYYY-MM-DD)") from exc


class CheckpointController(Controller):
    path = "/v1"
    tags = ["checkpoints"]
    guards = [managers_only]

    @get(
        "/stores/{store_id:uuid}/checkpoints/{day:str}",
        operation_id="getCheckpoint",
        summary="The signed checkpoint of a store's ledger for one finished local day; keep it outside the server",
    )
    async def read(
        self,
        store_id: FromPath[UUID],
        day: FromPath[Day],
        actor: NamedDependency[StaffIdentity],
        keyring: NamedDependency[Keyring],
        clock: NamedDependency[Clock],
    ) -> wire.Checkpoint:
        await stores.get_store(actor.business_id, store_id)
        checkpoint = await checkpoints.make_checkpoint(store_id, _day(day), keyring, clock())
        await checkpoints.record_checkpoint(actor, checkpoint, clock(), where="GET /v1/stores/{store_id}/checkpoints")
        return checkpoint

    @post(
        "/checkpoints/verify",
        operation_id="verifyCheckpoint",
        status_code=200,
        request_max_body_size=_MAX_CHECKPOINT_BYTES,
        summary="Compare a saved checkpoint with the ledger: which entries were added, removed or changed",
    )
    async def verify(
        self,
        data: JSONBody[wire.Checkpoint],
        actor: NamedDependency[StaffIdentity],
        keyring: NamedDependency[Keyring],
    ) -> wire.CheckpointReport:
        # Scope first: another business's store reads as missing, whether or not the checkpoint is genuine.
        await stores.get_store(actor.business_id, data.store_id)
        return await checkpoints.verify_checkpoint(data, keyring)
