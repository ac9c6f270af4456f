"""Separation of duties: nobody clears suspicion of themselves, nor pours their own free coffee (T6, T17).

None of it rests on what a customer types in. A staff member's "own card" is known by what
the server saw, not by an e-mail address: a card whose punches they made.

Who may decide. A manager may not approve or reject a flag about their own punching (the
flag names them, or one of its punches was made by them), nor one about a card holding a
punch they made (or a card with their e-mail, when the customer gave one), nor unfreeze such
a card. An owner answers to nobody in the business and may be its only reviewer, so an
owner is refused the same only while another active owner exists who can decide instead.

Who may earn. A cashier who enrolls an anonymous phone and punches it at their own till
looks, punch by punch, like any customer. What gives them away is who served the card: the
free item's punches came from one cashier more consistently than the store's staffing at
those hours explains. For each punch behind the free item, the share of the store's other
punches within an hour of it that this cashier made is the chance an honest customer there
and then would have been served by them; `one_cashier` adds these up (a Poisson-binomial
tail) and holds the free item when an honest customer would be served this consistently
less often than the program's `one_cashier_chance` (1 in 1,000 by default). A regular who
always comes while the same cashier works alone is served by them with certainty, so is
never held: a café whose cashiers work fixed shifts is not troubled.

What remains (written down in THREAT-MODEL.md): a cashier alone on shift can punch their own
anonymous card just as they would serve a regular; the daily cap, cooldown, opening hours and
cashier-concentration rules bound how much that earns, and the owner sees it in the
cashier's share of the punches.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from cards.database import stored_uuid
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.ledger import StoredEntry
from cards.tables import Card, Flag, FlagPunch, LedgerEntry, Staff, Store
from mobile_contract.problems import Problem

_OWN_PUNCHES = "Someone else must review a flag about your own punches"
_OWN_CARD_FLAG = "Someone else must review a flag about a card you punched or hold"
OWN_CARD = "Someone else must unfreeze a card you punched or hold"

# "At the same time": who else served customers at the store within this of a punch.
SAME_HOURS = timedelta(hours=1)
ONE_CASHIER_RULE = "one_cashier_card"


async def _another_active_owner(actor: StaffIdentity) -> bool:
    return bool(
        await Staff.exists().where(
            (Staff.business == actor.business_id)
            & (Staff.role == "owner")
            & Staff.active.eq(True)
            & (Staff.id != actor.staff_id)
        )
    )


async def is_own_card(actor: StaffIdentity, card_ids: set[UUID]) -> bool:
    """Whether one of `card_ids` holds a punch `actor` made, or belongs to a customer with their e-mail."""
    if not card_ids:
        return False
    cards = list(card_ids)
    if await LedgerEntry.exists().where(
        LedgerEntry.card.is_in(cards) & (LedgerEntry.staff == actor.staff_id) & (LedgerEntry.kind == "punch")
    ):
        return True
    me = await Staff.select(Staff.email).where(Staff.id == actor.staff_id).first()
    if me is None or not me["email"]:
        return False
    return bool(await Card.exists().where(Card.id.is_in(cards) & (Card.customer._.email == str(me["email"]).lower())))


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
    cards = {stored_uuid(c) for c in (flag["card"], *(p["card"] for p in punches)) if c is not None}
    if actor.is_owner and not await _another_active_owner(actor):
        return
    if own_punching:
        raise DomainError(Problem.FORBIDDEN, _OWN_PUNCHES)
    if await is_own_card(actor, cards):
        raise DomainError(Problem.FORBIDDEN, _OWN_CARD_FLAG)


async def refuse_own_unfreeze(actor: StaffIdentity, card_id: UUID) -> None:
    """A frozen card a reviewer punched or holds is unfrozen by someone else (an owner may, if alone)."""
    if actor.is_owner and not await _another_active_owner(actor):
        return
    if await is_own_card(actor, {card_id}):
        raise DomainError(Problem.FORBIDDEN, OWN_CARD)


# --- one cashier behind a free item ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OneCashier:
    """A free item served by one cashier beyond chance: who, which of its punches, and why in words."""

    staff_id: UUID
    punches: list[UUID]
    chance: float
    explanation: str


# Punches at the store within the window, on other cards: all of them, and those `staff` made.
_SHARE_SQL = """
SELECT count(*) AS total, coalesce(sum(CASE WHEN e.staff = {} THEN 1 ELSE 0 END), 0) AS mine
FROM ledger_entry e
WHERE e.store = {} AND e.kind = 'punch' AND e.card <> {} AND e.recorded_at >= {} AND e.recorded_at <= {}
"""


def at_least(k: int, chances: list[float]) -> float:
    """P(at least `k` of independent events happen), each with its own chance (a Poisson-binomial tail)."""
    dist = [1.0]  # dist[j]: chance that exactly j of the events so far happened
    for p in chances:
        nxt = [0.0] * (len(dist) + 1)
        for j, q in enumerate(dist):
            nxt[j] += q * (1 - p)
            nxt[j + 1] += q * p
        dist = nxt
    return sum(dist[k:])


async def one_cashier(card_id: UUID, punches: list[StoredEntry], threshold: float) -> OneCashier | None:
    """Whether the punches behind a free item came from one cashier beyond what the store's staffing explains.

    For each punch, the chance an honest customer there and then would have been served by the
    cashier who made most of them: their share of the store's other punches within SAME_HOURS,
    counting this punch (so a cashier working alone makes it certain). Returns the finding when
    the chance that honest service is this consistent falls below `threshold`.
    """
    made = Counter(stored.entry.staff for stored in punches if stored.entry.staff is not None)
    if not made:
        return None
    staff_id, theirs = made.most_common(1)[0]
    assert staff_id is not None
    chances = []
    for stored in punches:
        entry = stored.entry
        rows = await LedgerEntry.raw(
            _SHARE_SQL, staff_id, entry.store, card_id, entry.recorded_at - SAME_HOURS, entry.recorded_at + SAME_HOURS
        )
        total, mine = int(rows[0]["total"]), int(rows[0]["mine"])
        chances.append((mine + (entry.staff == staff_id)) / (total + 1))
    chance = at_least(theirs, chances)
    if chance >= threshold:
        return None
    names = {
        stored_uuid(row["id"]): row["name"]
        for row in await Staff.select(Staff.id, Staff.name).where(Staff.id == staff_id)
    }
    store_ids = list({stored.entry.store for stored in punches if stored.entry.store is not None})
    stores = [row["name"] for row in await Store.select(Store.name).where(Store.id.is_in(store_ids))]
    share = round(100 * sum(chances) / len(chances))
    how_often = f"about once in {round(1 / chance):,} cards" if chance > 0 else "never"
    return OneCashier(
        staff_id=staff_id,
        punches=[stored.id for stored in punches if stored.entry.staff == staff_id],
        chance=chance,
        explanation=(
            f"{theirs} of the {len(punches)} punches behind this free item were made by cashier "
            f"{names.get(staff_id, 'unknown')}, who made about {share} % of {', '.join(sorted(stores))}'s punches "
            f"at those times; an honest customer's card is served that consistently {how_often}."
        ),
    )
