"""One card's page: its standing, timeline, phones, flags and free items; freezing it and revoking a phone."""

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.pages.errors import error_page
from api.pages.flags import decide_all_at, evidence_for, store_zones
from api.pages.forms import REASON_NEEDED, reason
from cards import devices, standing, timeline
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring


def card_page(card_id: UUID) -> str:
    return f"/console/cards/{card_id}"


class CardPageController(Controller):
    path = "/cards/{card_id:uuid}"

    @get(name="console.card")
    async def show(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
        keyring: NamedDependency[Keyring],
    ) -> Template:
        story = await timeline.card_timeline(actor.business_id, card_id)
        now = clock()
        where = await standing.card_standing(card_id, story.card.punches_per_reward, keyring, now)
        open_flags = [f for f in story.flags if f.status == "open"]
        return Template(
            template_name="card.html",
            context={
                "actor": actor,
                "story": story,
                "standing": where,
                "open_flags": open_flags,
                "evidence": await evidence_for(actor.business_id, open_flags),
                "decide_all_at": decide_all_at(open_flags),
                "back": card_page(card_id),
                "zones": await store_zones(actor.business_id),
            },
        )

    @post("/freeze", status_code=303)
    async def freeze(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        why = reason(await request.form())
        if why is None:
            return error_page(request, 400, REASON_NEEDED)
        await timeline.set_card_frozen(actor, card_id, frozen=True, reason=why, now=clock())
        return Redirect(card_page(card_id), status_code=303)

    @post("/unfreeze", status_code=303)
    async def unfreeze(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        why = reason(await request.form())
        if why is None:
            return error_page(request, 400, REASON_NEEDED)
        await timeline.set_card_frozen(actor, card_id, frozen=False, reason=why, now=clock())
        return Redirect(card_page(card_id), status_code=303)

    @post("/phones/{device_id:uuid}/revoke", status_code=303)
    async def revoke_phone(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        device_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        why = reason(await request.form())
        if why is None:
            return error_page(request, 400, REASON_NEEDED)
        # The card must be this business's (NOT_FOUND otherwise) before its phone is touched.
        await timeline.card_timeline(actor.business_id, card_id)
        await devices.revoke_device(actor, device_id, why, clock())
        return Redirect(card_page(card_id), status_code=303)
