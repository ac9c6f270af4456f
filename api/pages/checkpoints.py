"""Checkpoints on the console: download a store's signed checkpoint for a day, and check a saved
one against the ledger, through the same `cards/checkpoints.py` functions as
`GET /v1/stores/{id}/checkpoints/{date}` and `POST /v1/checkpoints/verify`."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Template

from api.pages.errors import error_page
from api.pages.forms import uuid_or_none
from cards import checkpoints, stores
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring
from mobile_contract import checkpoints as wire

# As the API's verify: a busy store's day runs past the default body limit.
_MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
NOT_A_CHECKPOINT = (
    "This file is not a PunchGuard checkpoint (a JSON file downloaded from this page or the API). "
    "Choose the file you saved and try again."
)


async def _last_finished_day(actor: StaffIdentity, now: datetime) -> str:
    """The form's default day: the last one already over at every store of the business (a
    checkpoint is for a finished local day), so the default never meets "not ended yet"."""
    days = [
        now.astimezone(ZoneInfo(store.time_zone)).date() - timedelta(days=1)
        for store in await stores.list_stores(actor.business_id)
    ]
    return min(days, default=now.date() - timedelta(days=1)).isoformat()


class CheckpointPagesController(Controller):
    path = "/checkpoints"

    @get(name="console.checkpoints")
    async def show(self, actor: NamedDependency[StaffIdentity], clock: NamedDependency[Clock]) -> Template:
        return Template(
            template_name="checkpoints.html",
            context={
                "actor": actor,
                "stores": await stores.list_stores(actor.business_id),
                "yesterday": await _last_finished_day(actor, clock()),
                "report": None,
            },
        )

    @get("/download", name="console.checkpoint_download")
    async def download(
        self,
        request: Request[Any, Any, Any],
        actor: NamedDependency[StaffIdentity],
        keyring: NamedDependency[Keyring],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        store_id = uuid_or_none(request.query_params.get("store"))
        if store_id is None:
            return error_page(request, 400, "Choose a store.")
        try:
            day = date.fromisoformat(str(request.query_params.get("day", "")))
        except ValueError:
            return error_page(request, 400, "Choose a day (year-month-day).")
        await stores.get_store(actor.business_id, store_id)  # another business's store reads as missing
        checkpoint = await checkpoints.make_checkpoint(store_id, day, keyring, clock())
        await checkpoints.record_checkpoint(actor, checkpoint, clock(), where="console /console/checkpoints")
        return Response(
            msgspec.json.encode(checkpoint),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="checkpoint-{store_id}-{day.isoformat()}.json"',
                "Cache-Control": "no-store",
            },
        )

    @post("/verify", status_code=200, request_max_body_size=_MAX_CHECKPOINT_BYTES)
    async def verify(
        self,
        request: Request[Any, Any, Any],
        actor: NamedDependency[StaffIdentity],
        keyring: NamedDependency[Keyring],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        form = await request.form()
        sent = form.get("checkpoint")
        body = await sent.read() if isinstance(sent, UploadFile) else str(form.get("pasted", "")).encode()
        try:
            checkpoint = msgspec.json.decode(body, type=wire.Checkpoint)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return error_page(request, 400, NOT_A_CHECKPOINT)
        # Scope first: another business's store reads as missing, whether or not the checkpoint is genuine.
        store = await stores.get_store(actor.business_id, checkpoint.store_id)
        report = await checkpoints.verify_checkpoint(checkpoint, keyring)
        return Template(
            template_name="checkpoints.html",
            context={
                "actor": actor,
                "stores": await stores.list_stores(actor.business_id),
                "yesterday": await _last_finished_day(actor, clock()),
                "report": report,
                "checked_store": store,
            },
        )
