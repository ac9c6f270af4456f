"""A small business written straight into the ledger, for metrics whose answers are worked by hand."""

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from cards.flags import HELD_RULE
from cards.identity import StaffIdentity
from cards.ledger import Entry
from cards.punches import card_head, insert_entry
from cards.tables import Business, Card, Customer, Flag, FlagPunch, Program, Staff, Store
from crypto.keyring import Keyring


@dataclass
class World:
    keyring: Keyring
    business: UUID = field(default_factory=uuid4)
    program: UUID = field(default_factory=uuid4)
    stores: dict[str, UUID] = field(default_factory=dict)
    owner_id: UUID = field(default_factory=uuid4)

    @property
    def owner(self) -> StaffIdentity:
        return StaffIdentity(staff_id=self.owner_id, business_id=self.business, role="owner", store_id=None)

    @classmethod
    async def create(
        cls, keyring: Keyring, zones: dict[str, str], *, reward_value_cents: int | None = 300, per_reward: int = 10
    ) -> "World":
        world = cls(keyring)
        await Business.insert(Business(id=world.business, name="Bean There"))
        await Staff.insert(
            Staff(
                id=world.owner_id,
                business=world.business,
                name="Olive",
                email="o@x.test",
                password_hash="-",
                role="owner",
            )
        )
        for name, zone in zones.items():
            world.stores[name] = uuid4()
            await Store.insert(
                Store(
                    id=world.stores[name], business=world.business, name=name, time_zone=zone, latitude=0, longitude=0
                )
            )
        await Program.insert(
            Program(
                id=world.program,
                business=world.business,
                name="Coffee card",
                reward_name="Free coffee",
                reward_value_cents=reward_value_cents,
                punches_per_reward=per_reward,
            )
        )
        return world

    async def card(self) -> UUID:
        customer, card = uuid4(), uuid4()
        await Customer.insert(Customer(id=customer))
        await Card.insert(Card(id=card, customer=customer, program=self.program))
        return card

    async def _append(self, card: UUID, kind: str, at: datetime, **fields: object) -> UUID:
        seq, prev = await card_head(card)
        entry_id = uuid4()
        entry = Entry(card=card, seq=seq + 1, kind=kind, recorded_at=at, prev_hash=prev, **fields)  # type: ignore[arg-type]
        await insert_entry(entry, entry_id, self.keyring, business_id=self.business)
        return entry_id

    async def punch(self, card: UUID, at: datetime, store: str, amount_cents: int | None = None) -> UUID:
        return await self._append(
            card, "punch", at, store=self.stores[store], receipt=uuid4().hex[:12], amount_cents=amount_cents
        )

    async def void(self, card: UUID, punch: UUID, at: datetime) -> UUID:
        return await self._append(card, "void", at, voids=punch)

    async def redeem(self, card: UUID, at: datetime, store: str, punches: list[UUID]) -> UUID:
        consumes = ",".join(sorted(str(p) for p in punches))
        return await self._append(card, "redeem", at, store=self.stores[store], consumes=consumes)

    async def flag(self, card: UUID | None, punches: list[UUID], at: datetime, rule: str = "daily_cap") -> UUID:
        flag_id = uuid4()
        await Flag.insert(
            Flag(
                id=flag_id,
                business=self.business,
                card=card,
                rule=rule,
                severity="low",
                explanation="test",
                created_at=at,
            )
        )
        if punches:
            await FlagPunch.insert(*(FlagPunch(flag=flag_id, punch=p) for p in punches))
        return flag_id

    async def hold(self, card: UUID, at: datetime, store: str) -> UUID:
        flag_id = await self.flag(card, [], at, rule=HELD_RULE)
        await Flag.update({Flag.store: self.stores[store]}).where(Flag.id == flag_id)
        return flag_id

    async def decide(self, flag_id: UUID, status: str, at: datetime) -> None:
        await Flag.update({Flag.status: status, Flag.reviewed_at: at}).where(Flag.id == flag_id)
