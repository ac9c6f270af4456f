"""One card's page: its standing, timeline, phones, flags and free items; freezing it, revoking a
phone and moving it to a customer's new phone. And the search that finds a card by its code or
its holder's e-mail or phone number."""

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from api.pages.errors import error_page
from api.pages.flags import decide_all_at, evidence_for, store_zones
from api.pages.forms import REASON_NEEDED, reason, uuid_or_none
from cards import devices, phone_moves, standing, timeline
from cards.clock import Clock
from cards.identity import StaffIdentity
from crypto.keyring import Keyring

MOVED = "moved"
NO_NEW_CARD = "Give the code of the new phone's card, or pick it from the list."


def card_page(card_id: UUID) -> str:
    return f"/console/cards/{card_id}"


async def _new_card(actor: StaffIdentity, old_card_id: UUID, form: Any) -> UUID | str:
    """The card the move form names: the one picked from the list, else the one whose code was
    typed; or, when there is none or several, what to tell the owner."""
    picked = uuid_or_none(form.get("new_card_id"))
    if picked is not None:
        return picked
    typed = str(form.get("new_card", "")).strip()
    if not typed:
        return NO_NEW_CARD
    prefix = phone_moves.code_prefix(typed)
    if prefix is None:
        return f"“{typed[:40]}” is not a card code: a code is at least 4 letters and digits, such as 7F3K."
    matches = [m for m in await phone_moves.find_cards(actor.business_id, prefix) if m.card_id != old_card_id]
    if not matches:
        return f"No other card of this business has the code {prefix}."
    if len(matches) > 1:
        return (
            f"{len(matches)} cards have a code starting {prefix}: type more of the code, as the card page "
            "shows it, or pick the card from the list."
        )
    return matches[0].card_id


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
        fresh = (
            await phone_moves.fresh_cards(actor.business_id, card_id, now)
            if story.card.status in ("active", "frozen")
            else []
        )
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
                "fresh_cards": fresh,
                "moved": request.query_params.get(MOVED) == "1",
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

    @post("/move-to", status_code=303)
    async def move_to(
        self,
        request: Request[Any, Any, Any],
        card_id: FromPath[UUID],
        actor: NamedDependency[StaffIdentity],
        clock: NamedDependency[Clock],
    ) -> Response[Any]:
        """Move the customer's new phone (the one holding the card named in the form) to this card."""
        form = await request.form()
        why = reason(form)
        if why is None:
            return error_page(request, 400, REASON_NEEDED)
        # The card must be this business's (NOT_FOUND otherwise) before another card is looked up for it.
        await timeline.card_timeline(actor.business_id, card_id)
        new_card = await _new_card(actor, card_id, form)
        if isinstance(new_card, str):
            return error_page(request, 400, new_card)
        await phone_moves.move_to_new_phone(actor, card_id, new_card, why, clock())
        return Redirect(f"{card_page(card_id)}?{MOVED}=1", status_code=303)


class CardSearchController(Controller):
    """The cards page: find a card by its code, or by its holder's e-mail or phone number."""

    path = "/cards"

    @get(name="console.cards")
    async def search(
        self,
        request: Request[Any, Any, Any],
        actor: NamedDependency[StaffIdentity],
    ) -> Template:
        query = str(request.query_params.get("q", "")).strip()[:254]
        matches = await phone_moves.find_cards(actor.business_id, query) if query else []
        return Template(
            template_name="cards.html",
            context={"actor": actor, "query": query, "matches": matches},
        )
