"""Where a card is audited before a free item ("Before any free item", T3, T7, T8, T10).

The audit reads the card's whole ledger and checks it against the server's keys, then
looks at every punch that would count toward the next reward: a distinct stamp, issued
to a phone of the card's holder, at a store, scanner and cashier, at a consistent time,
not voided, not used up, not under review. It chooses the oldest clean punches and says
in plain words, for the cashier and the owner, what holds the reward if anything does.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from cards.database import stored_time, stored_uuid
from cards.devices import blocked_devices
from cards.duties import ONE_CASHIER_RULE, OneCashier, one_cashier
from cards.errors import DomainError
from cards.flags import HELD_RULE, card_code
from cards.ledger import GENESIS_HASH, StoredEntry, load_chain, verify_chain
from cards.programs import risk_thresholds
from cards.tables import Card, Device, Flag, FlagPunch, LedgerEntry, RedeemedPunch, Redemption
from crypto.keyring import Keyring
from mobile_contract.problems import Problem

# A stamp may be scanned at most this long after it was issued: the longest stamp lifetime
# (120 s) plus the clock leeway (5 s); and it may not be issued after the punch, beyond the leeway.
LEEWAY = timedelta(seconds=5)
MAX_STAMP_AGE = timedelta(seconds=125)
EARLIER_HOLD = "A free item of this card held at the till earlier waits for the owner's review."


@dataclass(frozen=True, slots=True)
class Audit:
    """What the audit found. The reward may be granted only if `passed`."""

    card_id: UUID
    business_id: UUID
    reward_name: str
    punches_per_reward: int
    # The punches the next free item would use up, oldest first (at most punches_per_reward).
    punches: list[UUID]
    # Every punch that still counts (not voided, not used up), oldest first, including those under review.
    candidates: list[UUID]
    # Why the reward is held, in plain sentences; empty when nothing holds it.
    reasons: list[str]
    # The part of `reasons` that says the ledger itself was tampered with (T10).
    ledger_problems: list[str] = field(default_factory=list)
    # The chain's last entry, where a redemption's entry goes next.
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    # One cashier served the punches behind the free item beyond chance (T17), if so.
    one_cashier: OneCashier | None = None

    @property
    def passed(self) -> bool:
        """True when nothing holds the reward and enough clean punches were found."""
        return not self.reasons and len(self.punches) >= self.punches_per_reward

    @property
    def enough_punches(self) -> bool:
        """True when the card holds enough counting punches, whether or not some are under review."""
        return len(self.candidates) >= self.punches_per_reward


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}es" if word.endswith("ch") else f"{count} {word}s"


async def audit_card(card_id: UUID, keyring: Keyring, now: datetime, *, device_id: UUID | None = None) -> Audit:
    """Audit the card before a free item; `device_id` is the phone asking for it, which must still be bound.

    Raises NOT_FOUND for an unknown card. The audit only reads: holding the reward,
    flagging it or granting it is the caller's business (see `cards/redemptions.py`).
    """
    card = await (
        Card.select(
            Card.status,
            Card.customer,
            Card.program.business.as_alias("business"),
            Card.program.reward_name.as_alias("reward_name"),
            Card.program.punches_per_reward.as_alias("per_reward"),
            Card.program.risk.as_alias("risk"),
        )
        .where(Card.id == card_id)
        .first()
    )
    if card is None:
        raise DomainError(Problem.NOT_FOUND, "No such card")
    code = card_code(card_id)
    reasons: list[str] = []

    # 1. The card itself, and the phone asking.
    if card["status"] == "frozen":
        reasons.append(f"Card {code} is frozen until the owner reviews it.")
    elif card["status"] != "active":
        reasons.append(f"Card {code} is closed.")
    rows = await Device.select(Device.id, Device.active).where(Device.customer == card["customer"])
    blocked = await blocked_devices(card["business"], [row["id"] for row in rows])
    # A phone this business revoked still made the punches it made; it just may not ask for more.
    devices = {row["id"]: bool(row["active"]) and row["id"] not in blocked for row in rows}
    if device_id is not None and not devices.get(device_id, False):
        reasons.append("The phone that asked for this free item is no longer bound to the card.")

    # 2. The whole chain: signatures, hashes and order (T10). The free items granted are read
    # first: a grant writes its redemption and its entry in one transaction, so every entry of
    # a redemption read here is in the chain read next, unless someone deleted it.
    granted = await Redemption.select(Redemption.entry, Redemption.decided_at).where(
        (Redemption.card == card_id) & (Redemption.status == "granted")
    )
    chain = await load_chain(card_id)
    ledger_problems = [f"The card's ledger failed its check: {problem}." for problem in verify_chain(chain, keyring)]

    # 3. Which punches still count: not voided, not used up by an earlier free item. The signed
    # ledger says so; the redeemed_punch rows must agree with it.
    voided = {stored.entry.voids for stored in chain if stored.entry.kind == "void"}
    consumed: set[UUID] = set()
    for stored in chain:
        if stored.entry.kind != "redeem" or not stored.entry.consumes:
            continue
        try:
            consumed.update(UUID(punch) for punch in stored.entry.consumes.split(","))
        except ValueError:
            ledger_problems.append(
                f"The card's ledger failed its check: entry #{stored.entry.seq} names the punches "
                "its free item used up in a form that cannot be read."
            )
    # A free item granted stays in the ledger: deleting its entry would make its punches count again.
    in_chain = {stored.id for stored in chain}
    for row in granted:
        if stored_uuid(row["entry"]) not in in_chain:
            decided = stored_time(row["decided_at"])
            on = f" on {decided:%Y-%m-%d}" if decided else ""
            ledger_problems.append(
                f"The card's ledger failed its check: the free item granted{on} is missing from the card's ledger."
            )
    recorded_used = {
        row["punch"] for row in await RedeemedPunch.select(RedeemedPunch.punch).where(RedeemedPunch.card == card_id)
    }
    seq_of = {stored.id: stored.entry.seq for stored in chain}
    for punch in sorted(consumed - recorded_used, key=lambda p: seq_of.get(p, 0)):
        ledger_problems.append(
            f"The card's ledger failed its check: punch #{seq_of.get(punch, '?')} was used up by a free item, "
            "but the database no longer records it as used."
        )
    candidates = [
        stored
        for stored in chain
        if stored.entry.kind == "punch" and stored.id not in voided and stored.id not in consumed | recorded_used
    ]

    # 4. Each candidate punch on its own: a two-sided punch from a distinct stamp of the holder's phone.
    stamp_uses = Counter(stored.entry.stamp_id for stored in chain if stored.entry.stamp_id)
    stamps = [stored.entry.stamp_id for stored in candidates if stored.entry.stamp_id]
    elsewhere = (
        {
            row["stamp_id"]
            for row in await LedgerEntry.select(LedgerEntry.stamp_id).where(
                LedgerEntry.stamp_id.is_in(stamps) & (LedgerEntry.card != card_id)
            )
        }
        if stamps
        else set()
    )
    punch_problems = [
        problem for stored in candidates for problem in _punch_problems(stored, devices, stamp_uses, elsewhere, now)
    ]

    # 5. Open flags: on punches (those punches wait, uncounted) and on the card as a whole (the reward waits).
    under_review: dict[UUID, str] = {}
    flagged_punches: dict[UUID, list[UUID]] = {}
    if candidates:
        rows = await FlagPunch.select(
            FlagPunch.punch, FlagPunch.flag, FlagPunch.flag.explanation.as_alias("explanation")
        ).where(FlagPunch.punch.is_in([stored.id for stored in candidates]) & (FlagPunch.flag.status == "open"))
        for row in rows:
            under_review[row["flag"]] = row["explanation"]
            flagged_punches.setdefault(row["flag"], []).append(row["punch"])
    held_punches = {punch for punches in flagged_punches.values() for punch in punches}
    open_flags = await Flag.select(Flag.id, Flag.rule, Flag.explanation).where(
        (Flag.card == card_id) & (Flag.status == "open")
    )
    with_punches = (
        {row["flag"] for row in await FlagPunch.select(FlagPunch.flag).where(FlagPunch.flag.is_in(ids))}
        if (ids := [row["id"] for row in open_flags])
        else set()
    )
    # An earlier hold is named, not quoted: its explanation holds the reasons of that time, which
    # would nest inside every retry's.
    card_flags = list(
        dict.fromkeys(
            EARLIER_HOLD if row["rule"] == HELD_RULE else f"The card is under review: {row['explanation']}"
            for row in open_flags
            if row["id"] not in with_punches
        )
    )

    clean = [stored for stored in candidates if stored.id not in held_punches]
    per_reward = card["per_reward"]
    chosen = [stored.id for stored in clean[:per_reward]]

    # 6. Who served it (T17): one cashier beyond what the store's staffing explains holds the free item.
    # Punches the owner already vouched for (an approved finding of this kind) are not weighed again.
    served: OneCashier | None = None
    if len(chosen) == per_reward:
        vouched = {
            row["punch"]
            for row in await FlagPunch.select(FlagPunch.punch).where(
                FlagPunch.punch.is_in(chosen)
                & (FlagPunch.flag._.rule == ONE_CASHIER_RULE)
                & (FlagPunch.flag._.status == "approved")
            )
        }
        weighed = [stored for stored in clean[:per_reward] if stored.id not in vouched]
        served = await one_cashier(card_id, weighed, risk_thresholds(card["risk"]).one_cashier_chance)

    reasons.extend(ledger_problems)
    reasons.extend(punch_problems)
    reasons.extend(card_flags)
    if served is not None:
        reasons.append(served.explanation)
    if len(chosen) < per_reward <= len(candidates):
        # Enough punches, but some wait for the owner: say which flags hold them.
        # Flags that say the same thing (a daily cap crossed on several days, say) are one reason.
        waiting: Counter[str] = Counter()
        for flag_id, explanation in under_review.items():
            waiting[explanation] += len(flagged_punches[flag_id])
        reasons.extend(
            f"{_plural(count, 'punch')} under review: {explanation}" for explanation, count in waiting.items()
        )

    head = chain[-1] if chain else None
    return Audit(
        card_id=card_id,
        business_id=card["business"],
        reward_name=card["reward_name"],
        punches_per_reward=per_reward,
        punches=chosen,
        candidates=[stored.id for stored in candidates],
        reasons=reasons,
        ledger_problems=ledger_problems,
        head_seq=head.entry.seq if head else 0,
        head_hash=head.entry_hash if head else GENESIS_HASH,
        one_cashier=served,
    )


def _punch_problems(
    stored: StoredEntry, devices: dict[UUID, bool], stamp_uses: Counter[str], elsewhere: set[str], now: datetime
) -> list[str]:
    """What is wrong with one punch that would count, in words (empty if nothing)."""
    entry = stored.entry
    label = f"Punch #{entry.seq}"
    problems = []
    if not entry.stamp_id:
        problems.append(f"{label} has no stamp: no phone asked for it.")
    elif stamp_uses[entry.stamp_id] > 1 or entry.stamp_id in elsewhere:
        problems.append(f"{label} reuses a stamp that another punch already used.")
    if entry.device is None or entry.device not in devices:
        problems.append(f"{label} did not come from a phone of the card's holder.")
    if entry.store is None or entry.scanner is None or entry.staff is None:
        problems.append(f"{label} has no store, scanner or cashier on record: a punch needs both sides.")
    if entry.stamp_issued_at is None:
        problems.append(f"{label} has no stamp time on record.")
    elif entry.stamp_issued_at > entry.recorded_at + LEEWAY:
        problems.append(f"{label} was recorded before its stamp was issued.")
    elif entry.recorded_at - entry.stamp_issued_at > MAX_STAMP_AGE:
        age = int((entry.recorded_at - entry.stamp_issued_at).total_seconds())
        problems.append(
            f"{label} was recorded {age} s after its stamp was issued; "
            "a stamp lives at most 120 s, plus 5 s of clock leeway."
        )
    if entry.recorded_at > now + LEEWAY:
        problems.append(f"{label} is dated in the future.")
    return problems
