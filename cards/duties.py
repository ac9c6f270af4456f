"""Separation of duties: nobody clears suspicion of themselves."""

from uuid import UUID

from cards.database import stored_uuid
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.tables import (
    Card,
    Flag,
    FlagPunch,
    LedgerEntry,
    Staff,
)
from mobile_contract.problems import Problem

# --- separation of duties ------------------------------------------------------------------
#
# Nobody clears suspicion of themselves. A manager may not approve or reject a flag about
# their own punching (the flag names them, or one of its punches was made by them) or about
# their own card (a card whose customer has the manager's e-mail), nor unfreeze their own
# card. An owner answers to nobody in the business and may be its only reviewer, so an owner
# is refused only for a flag about their own punching, and only while another active owner
# exists who can decide it instead.

_OWN_PUNCHES = "Someone else must review a flag about your own punches"
_OWN_CARD_FLAG = "Someone else must review a flag about your own card"
OWN_CARD = "Someone else must unfreeze your own card"


async def _another_active_owner(actor: StaffIdentity) -> bool:
    return bool(
        await Staff.exists().where(
            (Staff.business == actor.business_id)
            & (Staff.role == "owner")
            & Staff.active.eq(True)
            & (Staff.id != actor.staff_id)
        )
    )


async def holds_card(actor: StaffIdentity, card_ids: set[UUID]) -> bool:
    """Whether one of `card_ids` belongs to a customer with the actor's e-mail (both are kept lower-case)."""
    me = await Staff.select(Staff.email).where(Staff.id == actor.staff_id).first()
    if me is None or not me["email"] or not card_ids:
        return False
    return bool(
        await Card.exists().where(Card.id.is_in(list(card_ids)) & (Card.customer._.email == str(me["email"]).lower()))
    )


async def refuse_own_flag(actor: StaffIdentity, flag_id: UUID) -> None:
    """FORBIDDEN when `actor` may not decide this flag (see above); NOT_FOUND for another business's flag."""
    flag = (
        await Flag.select(Flag.staff, Flag.card)
        .where((Flag.id == flag_id) & (Flag.business == actor.business_id))
        .first()
    )
    if flag is None:
        raise DomainError(Problem.NOT_FOUND, "No such flag")
    punches = await LedgerEntry.select(LedgerEntry.staff, LedgerEntry.card).where(
        LedgerEntry.id.is_in(FlagPunch.select(FlagPunch.punch).where(FlagPunch.flag == flag_id))
    )
    own_punching = actor.staff_id in {stored_uuid(flag["staff"]), *(stored_uuid(p["staff"]) for p in punches)}
    if actor.role == "owner":
        if own_punching and await _another_active_owner(actor):
            raise DomainError(Problem.FORBIDDEN, _OWN_PUNCHES)
        return
    if own_punching:
        raise DomainError(Problem.FORBIDDEN, _OWN_PUNCHES)
    cards = {stored_uuid(c) for c in (flag["card"], *(p["card"] for p in punches)) if c is not None}
    if await holds_card(actor, cards):
        raise DomainError(Problem.FORBIDDEN, _OWN_CARD_FLAG)
