"""The attackers: every attack of the threat model, played by fraudulent customers and staff through the API.

Each attack records what the server answered to its harmful steps: refused (a 4xx
problem), or went through. Only the insider (T10) writes to the database directly, as an
insider would. `drill/report.py` then judges each attack against the flags the owner sees.
"""

import asyncio
import base64
import json
import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cards.ledger import Entry, load_chain
from cards.tables import Business, Flag, LedgerEntry, Redemption, Staff
from crypto.encoding import b64u_decode, b64u_encode
from crypto.passwords import hash_password
from drill.world import OWNER_EMAIL, PASSWORD, Actor, Cafe, Member, RequestCounter, Store, jitter, local
from mobile_contract import programs, stores
from mobile_contract.client import Algorithm, OwnerClient, PhoneClient, ProblemError, ScannerClient
from mobile_contract.redemptions import redemption_request_message
from mobile_contract.stamps import Stamp, decode_stamp, encode_stamp, stamp_request_message

REWARD_HELD = "/problems/reward-held"


@dataclass
class Attack:
    """One named attack and what the server made of it."""

    name: str
    threat: str
    summary: str
    expected_rules: frozenset[str] = frozenset()
    # Free items the attacker's cards may get without fraud (e.g. the one a full card earned).
    allowed_items: int = 0
    # Outside the threat model's table: reported, but not part of the targets.
    probe: bool = False
    cards: set[UUID] = field(default_factory=set)
    staff: set[UUID] = field(default_factory=set)
    scanners: set[UUID] = field(default_factory=set)
    punches: set[UUID] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    went_through: list[str] = field(default_factory=list)
    free_items: int = 0
    held: int = 0
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    played: bool = False
    error: str | None = None


@dataclass
class Slot:
    """Where a step that yields (and so cannot return) leaves its result."""

    value: Any = None
    problem: ProblemError | None = None


# Attack name, threat id, what the attacker does, rules the owner should see (for "flagged"), free items allowed.
PLAN: list[tuple[str, str, str, frozenset[str], int]] = [
    ("T1_forged_signature", "T1", "a stamp or token with one signature character changed", frozenset(), 0),
    ("T1_alg_none", "T1", "an unsigned stamp; a session token and a staff token with alg none", frozenset(), 0),
    (
        "T1_algorithm_switched",
        "T1",
        "a stamp of another format; a token re-signed HS256 with the public key",
        frozenset(),
        0,
    ),
    (
        "T1_unknown_kid",
        "T1",
        "stamps and tokens signed by the attacker's key, under a known or invented kid",
        frozenset(),
        0,
    ),
    ("T1_truncated", "T1", "a stamp and a token cut short", frozenset(), 0),
    ("T1_padded", "T1", "a stamp and a token with padding or extra characters", frozenset(), 0),
    ("T2_replayed_stamp", "T2", "a screenshot of a used stamp shown for two more purchases", frozenset(), 0),
    ("T2_expired_stamp", "T2", "a stamp scanned 38 s and 10 min after it was issued", frozenset(), 0),
    ("T2_concurrent_replay", "T2", "one stamp scanned by 8 tills in 3 stores at the same instant", frozenset(), 0),
    ("T3_copied_login", "T3", "a second phone with the copied session token but not the key", frozenset(), 0),
    ("T3_cloned_key", "T3", "a second phone with a copy of the key, both in use", frozenset({"counter_regression"}), 0),
    (
        "T4_shared_card_travel",
        "T4",
        "one card punched at Market St and 3 min later at the airport",
        frozenset({"impossible_travel"}),
        0,
    ),
    (
        "T5_burst_punching",
        "T5",
        "one purchase split into 5 punches in 6 min, two of them 15 s apart",
        frozenset({"cooldown", "daily_cap"}),
        0,
    ),
    ("T6_own_card", "T6", "a cashier scans the card enrolled with their own e-mail", frozenset(), 0),
    (
        "T6_friend_farming",
        "T6",
        "a cashier punches only three friends' cards, 30 punches in 5 days",
        frozenset({"cashier_concentration"}),
        0,
    ),
    ("T7_no_customer_present", "T7", "a cashier punches a customer's card with no live stamp", frozenset(), 0),
    ("T8_refund_then_redeem", "T8", "the tenth purchase refunded, then the free item asked for", frozenset(), 0),
    ("T9_disabled_cashier", "T9", "a cashier disabled mid-shift keeps scanning with the live token", frozenset(), 0),
    ("T9_revoked_scanner", "T9", "a lost till revoked while a session on it is live", frozenset(), 0),
    (
        "T10_insider_added_punches",
        "T10",
        "4 punch rows written into the database, then the free item asked for",
        frozenset(),
        0,
    ),
    (
        "T10_insider_edited_punch",
        "T10",
        "a refund's void row edited so the refunded punch counts again",
        frozenset(),
        0,
    ),
    (
        "T11_double_redemption",
        "T11",
        "one full card's code redeemed at two tills at once, and a second code at a third",
        frozenset(),
        1,
    ),
    (
        "T12_reused_redemption_code",
        "T12",
        "a redeemed code shown again at another till and the next day",
        frozenset(),
        1,
    ),
    ("T12_expired_redemption_code", "T12", "a redemption code scanned 75 s after it was issued", frozenset(), 0),
    (
        "T12_code_from_other_device",
        "T12",
        "codes for someone else's card: another phone, a copied login, a revoked phone",
        frozenset(),
        0,
    ),
    (
        "T13_guessed_card_id",
        "T13",
        "someone else's card id and random ids and codes, compared answer by answer",
        frozenset(),
        0,
    ),
    ("T13_login_brute_force", "T13", "40 password guesses on the owner's e-mail from one address", frozenset(), 0),
    ("T14_cards_from_one_device", "T14", "one phone enrolls twice and joins the program twice", frozenset(), 0),
    (
        "T14_cards_from_one_contact",
        "T14",
        "5 cards on one e-mail (3) and one phone number (2), each filled",
        frozenset({"shared_contact"}),
        2,
    ),
    (
        "off_hours_punching",
        "T6",
        "a cashier punches a friend's card at night in a closed store",
        frozenset({"outside_opening_hours"}),
        0,
    ),
    ("scanner_burst", "T6", "one till punches 12 cards in 96 s", frozenset({"scanner_burst"}), 0),
    (
        "T15_keys_anyone_can_sign_for",
        "T15",
        "four clients enroll four spellings of the small-order identity point, with its constant signature",
        frozenset(),
        0,
    ),
    (
        "T16_manager_relaxes_program",
        "T16",
        "a manager sets the program to 1 punch per reward, then relaxes its daily cap and travel limit",
        frozenset(),
        0,
    ),
    (
        "T17_anonymous_own_card",
        "T17",
        "a cashier punches her own phone, enrolled without any detail, at her till while colleagues serve",
        frozenset({"one_cashier_card"}),
        0,
    ),
    (
        "T17_manager_clears_own_card",
        "T17",
        "a manager punches his own anonymous card past the daily cap at the till, then approves the flag",
        frozenset({"daily_cap"}),
        0,
    ),
    (
        "T9_closed_store",
        "T9",
        "a kiosk is closed: its cashier's live token, then a fresh sign-in there",
        frozenset(),
        0,
    ),
    (
        "T18_forwarded_for_spoofing",
        "T18",
        "60 wrong passwords from one address, each with another X-Forwarded-For",
        frozenset(),
        0,
    ),
    ("T18_spread_over_addresses", "T18", "30 guesses on the owner's password from 30 addresses", frozenset(), 0),
    ("T19_stolen_refresh_token", "T19", "a till's refresh token replayed after the till traded it", frozenset(), 0),
    (
        "T20_probing_another_business",
        "T20",
        "a rival café hires under this café's staff e-mails and reads its public programs for thresholds",
        frozenset(),
        0,
    ),
    ("T21_code_request_flood", "T21", "a full card's phone asks for 300 redemption codes", frozenset(), 0),
]
PROBES: list[tuple[str, str, str, frozenset[str], int]] = [
    # The free item is given before the refund, so the most the server can do is flag the refund.
    (
        "T8_redeem_then_refund",
        "T8",
        "the tenth purchase earns the free item, then is refunded",
        frozenset({"refund_after_reward"}),
        1,
    ),
]


def _flip(text: str, at: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return text[:at] + alphabet[(alphabet.index(text[at]) + 1) % 32] + text[at + 1 :]


def _stamp_bytes(text: str) -> bytes:
    return base64.b32decode(text + "===")


def _stamp_text(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _resigned(text: str, key: Ed25519PrivateKey, kid: str | None = None) -> str:
    """The same stamp re-signed with the attacker's key, under the server's kid or another."""
    stamp, _, _ = decode_stamp(text)
    forged = Stamp(kid or stamp.kid, stamp.card_id, stamp.device_ref, secrets.token_bytes(8), stamp.issued_at, 30)
    return encode_stamp(forged, key)


def _token_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    return header, claims


class Attackers:
    """Plays every attack at its own moment of the month, amid the honest crowd."""

    def __init__(
        self,
        cafe: Cafe,
        seed: int,
        days: int,
        base_url: str,
        counter: RequestCounter,
        only: frozenset[str] | None = None,
    ) -> None:
        self.cafe = cafe
        self.only = only
        self.days = days
        self.base_url = base_url
        self.counter = counter
        self.rng = random.Random(f"{seed}/attacks")
        self.attacks = {
            name: Attack(name, threat, summary, rules, allowed, probe=(name, threat, summary, rules, allowed) in PROBES)
            for name, threat, summary, rules, allowed in PLAN + PROBES
        }
        self.flags_source = "GET /v1/flags"

    # --- scheduling ------------------------------------------------------------------------

    def actors(self) -> list[tuple[datetime, Actor, str]]:
        scripts: list[tuple[list[str], Callable[[int], Actor], int]] = [
            ([n for n in self.attacks if n.startswith("T1_")], self.forged, 5),
            (["T2_replayed_stamp"], self.replayed_stamp, 0),
            (["T2_expired_stamp"], self.expired_stamp, 0),
            (["T2_concurrent_replay"], self.concurrent_replay, 0),
            (["T3_copied_login"], self.copied_login, 2),
            (["T3_cloned_key"], self.cloned_key, 9),
            (["T4_shared_card_travel"], self.shared_card, 8),
            (["T5_burst_punching"], self.burst_punching, 5),
            (["T6_own_card"], self.own_card, 0),
            (["T6_friend_farming"], self.friend_farming, 0),
            (["T7_no_customer_present"], self.no_customer, 3),
            (["T8_refund_then_redeem"], self.refund_then_redeem, 9),
            (["T8_redeem_then_refund"], self.redeem_then_refund, 9),
            (["T9_disabled_cashier"], self.disabled_cashier, 0),
            (["T9_revoked_scanner"], self.revoked_scanner, 0),
            (["T10_insider_added_punches"], self.insider_added, 6),
            (["T10_insider_edited_punch"], self.insider_edited, 9),
            (["T11_double_redemption"], self.double_redemption, 10),
            (["T12_reused_redemption_code"], self.reused_code, 10),
            (["T12_expired_redemption_code"], self.expired_code, 10),
            (["T12_code_from_other_device"], self.code_from_other_device, 10),
            (["T13_guessed_card_id"], self.guessed_ids, 1),
            (["T13_login_brute_force"], self.brute_force, 0),
            (["T14_cards_from_one_device"], self.one_device, 0),
            (["T14_cards_from_one_contact"], self.one_contact, 0),
            (["off_hours_punching"], self.off_hours, 6),
            (["scanner_burst"], self.burst_scanner, 0),
            (["T15_keys_anyone_can_sign_for"], self.weak_keys, 0),
            (["T16_manager_relaxes_program"], self.manager_relaxes, 0),
            (["T17_anonymous_own_card"], self.anonymous_own_card, 5),
            (["T17_manager_clears_own_card"], self.manager_own_card, 0),
            (["T9_closed_store"], self.closed_store, 0),
            (["T18_forwarded_for_spoofing"], self.forwarded_for, 0),
            (["T18_spread_over_addresses"], self.spread_guesses, 0),
            (["T19_stolen_refresh_token"], self.stolen_refresh, 0),
            (["T20_probing_another_business"], self.rival_probe, 0),
            (["T21_code_request_flood"], self.code_flood, 5),
        ]
        if self.only is not None:
            scripts = [script for script in scripts if set(script[0]) & self.only]
        order = list(range(len(scripts)))
        self.rng.shuffle(order)
        # Attack days spread over the month; preparation (earlier punches) needs the first five days.
        last = max(5, self.days - 2)
        found: list[tuple[datetime, Actor, str]] = []
        for rank, index in enumerate(order):
            names, script, _prep = scripts[index]
            day0 = 5 + (rank * (last - 5)) // max(1, len(scripts) - 1)
            found.append((local(max(0, day0 - 5), 7, 30), self._guarded(names, script(day0)), "+".join(names)))
        return found

    async def _guarded(self, names: list[str], actor: Actor) -> Actor:
        """Marks the attacks played, and records a crash as the attack's error instead of ending the drill."""
        for name in names:
            self.attacks[name].played = True
        try:
            async for moment in actor:
                yield moment
        except Exception as exc:
            for name in names:
                self.attacks[name].error = f"{type(exc).__name__}: {exc}"[:300]

    # --- shared steps ------------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.cafe.clock

    def later(self, low: float, high: float | None = None) -> datetime:
        return self.clock() + jitter(self.rng, low, high if high is not None else low)

    def honest_till(self, store: Store) -> ScannerClient:
        """A till of whoever works the shift now, as an honest customer would meet it."""
        cashier, till = self.rng.choice(store.on_shift(self.clock()))
        return self.cafe.at_till(cashier, till)

    async def phone(
        self,
        attack: Attack,
        *,
        email: str | None = None,
        phone_number: str | None = None,
        algorithm: Algorithm = "Ed25519",
    ) -> PhoneClient:
        """A fraudulent customer's phone, enrolled and holding a card; its card belongs to the attack."""
        phone = PhoneClient(self.cafe.http, algorithm=algorithm, clock=self.clock)
        await phone.enroll(email=email, phone=phone_number)
        card = await phone.join(self.cafe.program.id)
        attack.cards.add(card.id)
        return phone

    def refusal(self, attack: Attack, step: str, exc: ProblemError) -> None:
        """A harmful step the server refused; a 5xx is no refusal, it is a server error."""
        if 400 <= exc.status < 500:
            attack.refused.append(f"{step}: {exc.type}")
        else:
            attack.notes.append(f"{step}: server error {exc.status} {exc.type}")

    async def buy(
        self, attack: Attack, phone: PhoneClient, till: ScannerClient, store: Store, slot: Slot, *, gap: float = 6
    ) -> AsyncIterator[datetime]:
        """One purchase: the phone shows a stamp and the till scans it `gap` seconds later."""
        try:
            issued = await phone.request_stamp()
        except ProblemError as exc:
            slot.problem = exc
            return
        yield self.clock() + timedelta(seconds=gap)
        try:
            result = await till.scan(issued.stamp, store.receipt(), amount_cents=self.rng.randint(300, 900))
        except ProblemError as exc:
            slot.problem = exc
            return
        attack.punches.add(result.punch_id)
        slot.value = result

    async def prepare(
        self, attack: Attack, phone: PhoneClient, store: Store, count: int, day0: int
    ) -> AsyncIterator[datetime]:
        """`count` ordinary purchases on the days before `day0`, two a day, so the card looks lived in."""
        slots = [local(day, hour) for day in range(max(0, day0 - 5), day0) for hour in (9, 14)]
        if count > len(slots):
            slots = sorted(slots + [local(day, 17) for day in range(max(0, day0 - 5), day0)])
        for at in slots[len(slots) - count :]:
            moment = at + jitter(self.rng, 0, 50 * 60)
            if moment > self.clock():
                yield moment
            slot = Slot()
            async for step in self.buy(attack, phone, self.honest_till(store), store, slot):
                yield step
            if slot.problem is not None:
                attack.notes.append(f"a preparation purchase was refused: {slot.problem.type}")

    async def redeem(
        self, attack: Attack, phone: PhoneClient, till: ScannerClient, step: str
    ) -> AsyncIterator[datetime]:
        """The attacker's card asks for its free item; a grant is counted, a refusal or hold recorded."""
        try:
            code = await phone.redemption_code()
        except ProblemError as exc:
            self.refusal(attack, f"{step}: code", exc)
            return
        yield self.later(4, 12)
        try:
            await till.redeem(code.code)
        except ProblemError as exc:
            if exc.type == REWARD_HELD:
                attack.held += 1
            self.refusal(attack, step, exc)
            return
        attack.free_items += 1
        attack.went_through.append(f"{step}: free item granted")

    async def as_owner(self, attack: Attack, what: str, action: Callable[[], Awaitable[Any]]) -> None:
        """The owner's action; after a server error the owner tries again a moment later (noted, and
        every 5xx still counts among the drill's server errors)."""
        for attempt in range(1, 6):
            try:
                await action()
                return
            except ProblemError as exc:
                if exc.status < 500 or attempt == 5:
                    raise
                attack.notes.append(f"the owner's '{what}' failed with {exc.status} {exc.type}; tried again")
                await asyncio.sleep(0.5)  # real time: the server's lock, not the café's clock, is what is busy

    async def balance(self, phone: PhoneClient) -> int:
        return (await phone.card()).balance

    # --- T1: forged stamps and tokens ------------------------------------------------------------

    async def forged(self, day0: int) -> Actor:
        attacks = {name: attack for name, attack in self.attacks.items() if name.startswith("T1_")}
        store = self.cafe.store("MKT")
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        phone = await self.phone(attacks["T1_forged_signature"])
        for attack in attacks.values():
            attack.cards.add(phone.card_id or uuid4())
        text = (await phone.request_stamp()).stamp
        own = Ed25519PrivateKey.generate()
        raw = _stamp_bytes(text)
        stamps = {
            "T1_forged_signature": [("signature character changed", _flip(text, 100))],
            "T1_alg_none": [("signature zeroed", _stamp_text(raw[:44] + bytes(64)))],
            "T1_algorithm_switched": [("format version 2", _stamp_text(bytes([2]) + raw[1:]))],
            "T1_unknown_kid": [
                ("invented kid, attacker's key", _resigned(text, own, b64u_encode(secrets.token_bytes(6)))),
                ("server's kid, attacker's key", _resigned(text, own)),
            ],
            "T1_truncated": [("last character cut", text[:-1]), ("half a stamp", text[:86])],
            "T1_padded": [("base32 padding", text + "==="), ("four more characters", text + "AAAA")],
        }
        yield self.later(5)
        till = self.honest_till(store)
        for name, cases in stamps.items():
            for label, forged in cases:
                try:
                    result = await till.scan(forged, store.receipt())
                except ProblemError as exc:
                    self.refusal(attacks[name], f"stamp, {label}", exc)
                else:
                    attacks[name].went_through.append(f"stamp, {label}: punched")
                    attacks[name].punches.add(result.punch_id)
        # Tokens: the phone's session token, and a cashier's access token at a till.
        session = phone.session_token
        await till._send("GET", "/v1/staff/me")
        staff_token = till.access_token
        jwks = (await self.cafe.http.get("/.well-known/jwks.json")).json()["keys"]
        public_x = jwks[0]["x"]
        tokens: dict[str, list[tuple[str, str, str]]] = {}
        for kind, token in (("session", session), ("staff", staff_token)):
            header, claims = _token_parts(token)
            head, body, signature = token.split(".")
            mine = {**header, "kid": "attacker"}
            tokens.setdefault("T1_forged_signature", []).append(
                (kind, "signature changed", f"{head}.{body}.{_flip_b64(signature)}")
            )
            tokens.setdefault("T1_alg_none", []).append(
                (kind, "alg none", jwt.encode(claims, None, algorithm="none", headers={**header, "alg": "none"}))  # type: ignore[arg-type]
            )
            tokens.setdefault("T1_algorithm_switched", []).append(
                (kind, "HS256 keyed with the server's public key", _hs256(claims, header, public_x))
            )
            tokens.setdefault("T1_unknown_kid", []).append(
                (kind, "attacker's key and kid", jwt.encode(claims, own, algorithm="EdDSA", headers=mine))
            )
            tokens.setdefault("T1_unknown_kid", []).append(
                (
                    kind,
                    "path in kid",
                    jwt.encode(claims, own, algorithm="EdDSA", headers={**header, "kid": "../keys/keyring.json"}),
                )
            )
            tokens.setdefault("T1_truncated", []).append((kind, "signature cut", f"{head}.{body}"))
            tokens.setdefault("T1_padded", []).append((kind, "padded signature", token + "=="))
        for name, token_cases in tokens.items():
            for kind, label, forged in token_cases:
                path = f"/v1/me/cards/{phone.card_id}" if kind == "session" else "/v1/staff/me"
                response = await self.cafe.http.get(path, headers={"Authorization": f"Bearer {forged}"})
                if response.is_success:
                    attacks[name].went_through.append(f"{kind} token, {label}: accepted")
                else:
                    self.refusal(attacks[name], f"{kind} token, {label}", ProblemError.from_response(response))
        if await self.balance(phone) != 0:
            for attack in attacks.values():
                attack.went_through.append("the card holds a punch no genuine stamp made")

    # --- T2: replays -------------------------------------------------------------------------------

    async def replayed_stamp(self, day0: int) -> Actor:
        attack, store, elsewhere = self.attacks["T2_replayed_stamp"], self.cafe.store("MIS"), self.cafe.store("MKT")
        yield local(day0, 11) + jitter(self.rng, 0, 3600)
        phone = await self.phone(attack)
        issued = await phone.request_stamp()
        yield self.later(5)
        await self.honest_till(store).scan(issued.stamp, store.receipt())  # the one genuine purchase
        for label, till, at in (
            ("same stamp, second purchase, same store", self.cafe.at_till(store.cashiers[1], store.tills[1]), store),
            ("same stamp, third purchase, other store", self.honest_till(elsewhere), elsewhere),
        ):
            yield self.later(7)
            try:
                await till.scan(issued.stamp, at.receipt())
            except ProblemError as exc:
                self.refusal(attack, label, exc)
            else:
                attack.went_through.append(f"{label}: punched")
        attack.details["balance"] = balance = await self.balance(phone)
        if balance != 1:
            attack.went_through.append(f"the card holds {balance} punches for one purchase")

    async def expired_stamp(self, day0: int) -> Actor:
        attack, store = self.attacks["T2_expired_stamp"], self.cafe.store("MKT")
        yield local(day0, 12) + jitter(self.rng, 0, 3600)
        phone = await self.phone(attack)
        issued = await phone.request_stamp()
        for label, wait in (("38 s after issue", 38), ("10 min after issue", 600)):
            yield issued.issued_at + timedelta(seconds=wait)
            try:
                await self.honest_till(store).scan(issued.stamp, store.receipt())
            except ProblemError as exc:
                self.refusal(attack, label, exc)
            else:
                attack.went_through.append(f"{label}: punched")

    async def concurrent_replay(self, day0: int) -> Actor:
        attack = self.attacks["T2_concurrent_replay"]
        yield local(day0, 13) + jitter(self.rng, 0, 3600)
        phone = await self.phone(attack)
        issued = await phone.request_stamp()
        yield self.later(5)
        tills = [
            (store, self.cafe.at_till(cashier, store.tills[n % len(store.tills)]))
            for store in self.cafe.stores
            for n, cashier in enumerate(store.cashiers)
        ][:8]
        answers = await asyncio.gather(
            *(till.scan(issued.stamp, store.receipt()) for store, till in tills), return_exceptions=True
        )
        punched = [a for a in answers if not isinstance(a, BaseException)]
        for answer in answers:
            if isinstance(answer, ProblemError):
                self.refusal(attack, "concurrent copy", answer)
            elif isinstance(answer, BaseException):
                attack.notes.append(f"concurrent copy: {type(answer).__name__}: {answer}")
        attack.details["punched"] = len(punched)
        attack.details["balance"] = balance = await self.balance(phone)
        if len(punched) != 1 or balance != 1:
            attack.went_through.append(f"{len(punched)} of {len(tills)} concurrent scans punched; balance {balance}")

    # --- T3: duplicated cards --------------------------------------------------------------------------

    async def copied_login(self, day0: int) -> Actor:
        attack, store = self.attacks["T3_copied_login"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 2, day0):
            yield moment
        yield local(day0, 12) + jitter(self.rng, 0, 3600)
        thief = phone.copy_login()
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("stamp with the copied session", thief.stamp),
            ("new session for the device id", thief.renew_session),
            ("redemption code with the copied session", thief.redemption_code),
        ]
        for label, step in steps:
            try:
                await step()
            except ProblemError as exc:
                self.refusal(attack, label, exc)
            else:
                attack.went_through.append(f"{label}: answered")
        # The genuine phone is not locked out by the thief's attempts.
        yield self.later(30)
        slot = Slot()
        async for moment in self.buy(attack, phone, self.honest_till(store), store, slot):
            yield moment
        attack.details["genuine_phone_still_works"] = slot.problem is None

    async def cloned_key(self, day0: int) -> Actor:
        attack, store = self.attacks["T3_cloned_key"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 9, day0):
            yield moment
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        twin = phone.clone()
        slot = Slot()
        async for moment in self.buy(attack, phone, self.honest_till(store), store, slot):
            yield moment
        await phone.request_stamp()  # the genuine phone shows a code it does not use
        yield self.later(60, 300)
        try:
            stamp = await twin.stamp()
        except ProblemError as exc:
            self.refusal(attack, "the cloned phone asks for a stamp", exc)
        else:
            attack.went_through.append("the cloned phone got a stamp")
            yield self.later(6)
            try:
                await self.honest_till(store).scan(stamp, store.receipt())
            except ProblemError as exc:
                self.refusal(attack, "the cloned phone's stamp", exc)
        yield self.later(60)
        async for moment in self.redeem(attack, phone, self.honest_till(store), "free item on the cloned card"):
            yield moment
        attack.details["card_status"] = (await phone.card()).status

    # --- T4, T5: shared cards and split purchases ------------------------------------------------------

    async def shared_card(self, day0: int) -> Actor:
        attack, home, airport = self.attacks["T4_shared_card_travel"], self.cafe.store("MKT"), self.cafe.store("SFO")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, home, 8, day0):
            yield moment
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        for store in (home, airport):
            slot = Slot()
            async for moment in self.buy(attack, phone, self.honest_till(store), store, slot):
                yield moment
            if slot.problem is not None:
                self.refusal(attack, f"punch at {store.plan.name}", slot.problem)
            else:
                attack.went_through.append(f"punch at {store.plan.name}")
            yield self.later(170)  # 20 km in 3 minutes: 400 km/h
        async for moment in self.redeem(attack, phone, self.honest_till(airport), "free item on the shared card"):
            yield moment

    async def burst_punching(self, day0: int) -> Actor:
        attack, store = self.attacks["T5_burst_punching"], self.cafe.store("MIS")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 5, day0):
            yield moment
        yield local(day0, 13) + jitter(self.rng, 0, 3600)
        till = self.honest_till(store)
        for wait in (0, 15, 105, 120, 120):
            if wait:
                yield self.later(wait)
            slot = Slot()
            async for moment in self.buy(attack, phone, till, store, slot, gap=3):
                yield moment
            if slot.problem is not None:
                self.refusal(attack, "split purchase", slot.problem)
            else:
                attack.went_through.append(f"split purchase punched{' (flagged)' if slot.value.flagged else ''}")
        async for moment in self.redeem(attack, phone, till, "free item after the burst"):
            yield moment

    # --- T6, T7: dishonest cashiers ----------------------------------------------------------------------

    def rogue_till(self, who: str, store_code: str, index: int = 0) -> tuple[Member, ScannerClient, Store]:
        """A dishonest staff member signed in at one of their store's tills."""
        member, store = self.cafe.rogues[who], self.cafe.store(store_code)
        return member, self.cafe.at_till(member, store.tills[index]), store

    async def own_card(self, day0: int) -> Actor:
        attack = self.attacks["T6_own_card"]
        ivan, till, store = self.rogue_till("ivan", "MKT", 1)
        attack.staff.add(ivan.id)
        yield local(day0, 9) + jitter(self.rng, 0, 1800)
        phone = await self.phone(attack, email=ivan.email)
        for _ in range(3):
            slot = Slot()
            async for moment in self.buy(attack, phone, till, store, slot):
                yield moment
            if slot.problem is not None:
                self.refusal(attack, "own card at own till", slot.problem)
            else:
                attack.went_through.append("own card punched at own till")
            yield self.later(3600, 5400)

    async def friend_farming(self, day0: int) -> Actor:
        attack = self.attacks["T6_friend_farming"]
        frank, till, store = self.rogue_till("frank", "MIS", 0)
        attack.staff.add(frank.id)
        friends = [await self.phone(attack) for _ in range(3)]
        filled: set[int] = set()
        for day in range(max(0, day0 - 4), day0 + 1):
            for hour in (10, 15):
                yield local(day, hour) + jitter(self.rng, 0, 1800)
                for n, friend in enumerate(friends):
                    if n in filled:
                        continue
                    slot = Slot()
                    async for moment in self.buy(attack, friend, till, store, slot):
                        yield moment
                    if slot.problem is not None:
                        self.refusal(attack, "friend's card", slot.problem)
                        continue
                    attack.went_through.append("friend's card punched")
                    if slot.value.balance >= self.cafe.program.punches_per_reward:
                        filled.add(n)
                        yield self.later(20)
                        async for moment in self.redeem(attack, friend, till, "friend's free item"):
                            yield moment
                    yield self.later(240, 600)

    async def no_customer(self, day0: int) -> Actor:
        attack = self.attacks["T7_no_customer_present"]
        bella, till, store = self.rogue_till("bella", "SFO")
        attack.staff.add(bella.id)
        victim = await self.phone(attack)
        async for moment in self.prepare(attack, victim, store, 3, day0):
            yield moment
        old_stamp = (await victim.request_stamp()).stamp  # a code the customer showed and did not use
        yield local(day0, 16) + jitter(self.rng, 0, 1800)
        before = await self.balance(victim)
        card = victim.card_id
        await till._send("GET", "/v1/staff/me")
        fake = {"counter": 10**6, "signature": b64u_encode(secrets.token_bytes(64))}
        response = await self.cafe.http.post(
            f"/v1/me/cards/{card}/stamps", json=fake, headers={"Authorization": f"Bearer {till.access_token}"}
        )
        if response.is_success:
            attack.went_through.append("a cashier's token got a stamp for the customer's card")
        else:
            self.refusal(attack, "stamp asked with the cashier's token", ProblemError.from_response(response))
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        for label, text in (
            ("made-up stamp", "".join(self.rng.choice(alphabet) for _ in range(173))),
            ("the card id typed in", str(card)),
            ("a stamp the customer showed hours ago", old_stamp),
        ):
            try:
                await till.scan(text, store.receipt())
            except ProblemError as exc:
                self.refusal(attack, label, exc)
            else:
                attack.went_through.append(f"{label}: punched")
        if await self.balance(victim) != before:
            attack.went_through.append("the card's balance moved with no customer present")

    # --- T8: refunds ---------------------------------------------------------------------------------------

    async def refund_then_redeem(self, day0: int) -> Actor:
        attack, store = self.attacks["T8_refund_then_redeem"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 9, day0):
            yield moment
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        slot = Slot()
        till = self.honest_till(store)
        async for moment in self.buy(attack, phone, till, store, slot):
            yield moment
        if slot.value is None:
            attack.notes.append("the tenth purchase was refused")
            return
        yield self.later(300)
        receipt = await self._receipt_of(slot.value.punch_id)
        await self.cafe.at_till(store.manager, store.tills[0]).void(receipt, reason="Returned")
        yield self.later(60)
        async for moment in self.redeem(attack, phone, till, "free item after the refund"):
            yield moment

    async def redeem_then_refund(self, day0: int) -> Actor:
        attack, store = self.attacks["T8_redeem_then_refund"], self.cafe.store("MIS")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 9, day0):
            yield moment
        yield local(day0, 11) + jitter(self.rng, 0, 3600)
        slot = Slot()
        till = self.honest_till(store)
        async for moment in self.buy(attack, phone, till, store, slot):
            yield moment
        if slot.value is None:
            return
        yield self.later(20)
        async for moment in self.redeem(attack, phone, till, "free item on the tenth purchase"):
            yield moment
        yield self.later(600)
        receipt = await self._receipt_of(slot.value.punch_id)
        try:
            refund = await self.cafe.at_till(store.manager, store.tills[0]).void(receipt, reason="Returned")
        except ProblemError as exc:
            self.refusal(attack, "refund of the purchase that earned the free item", exc)
            return
        attack.details["balance_after_refund"] = refund.balance
        attack.went_through.append(f"refund accepted; balance after it {refund.balance}")

    async def _receipt_of(self, punch_id: UUID) -> str:
        row = await LedgerEntry.select(LedgerEntry.receipt).where(LedgerEntry.id == punch_id).first()
        assert row is not None
        return str(row["receipt"])

    # --- T9: stolen credentials, lost scanner ----------------------------------------------------------------

    async def disabled_cashier(self, day0: int) -> Actor:
        attack = self.attacks["T9_disabled_cashier"]
        dana, till, store = self.rogue_till("dana", "MKT")
        attack.staff.add(dana.id)
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        friend = await self.phone(attack)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, store, slot):
            yield moment
        attack.details["scan_before"] = slot.problem is None
        yield self.later(240)
        await self.as_owner(attack, "disable the cashier", lambda: self.cafe.owner.disable_staff(dana.id, "Left"))
        yield self.later(60)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, store, slot):
            yield moment
        if slot.problem is not None:
            self.refusal(attack, "scan with the disabled cashier's live token", slot.problem)
        else:
            attack.went_through.append("the disabled cashier punched a card")

    async def revoked_scanner(self, day0: int) -> Actor:
        attack = self.attacks["T9_revoked_scanner"]
        store, lost = self.cafe.spare_tills["lost"]
        ned = self.cafe.rogues["ned"]
        till = self.cafe.at_till(ned, lost)
        attack.scanners.add(lost.id)
        attack.staff.add(ned.id)
        yield local(day0, 11) + jitter(self.rng, 0, 3600)
        friend = await self.phone(attack)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, store, slot):
            yield moment
        attack.details["scan_before"] = slot.problem is None
        yield self.later(180)
        await self.as_owner(attack, "revoke the till", lambda: self.cafe.owner.revoke_scanner(lost.id, "Till stolen"))
        yield self.later(60)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, store, slot):
            yield moment
        if slot.problem is not None:
            self.refusal(attack, "scan on the revoked till", slot.problem)
        else:
            attack.went_through.append("the revoked till punched a card")
        honest = ScannerClient(
            self.cafe.http,
            email=store.cashiers[0].email,
            password="drill password 2025",
            scanner_id=lost.id,
            scanner_secret=lost.secret,
        )
        try:
            await honest.login()
        except ProblemError as exc:
            self.refusal(attack, "sign-in at the revoked till", exc)
        else:
            attack.went_through.append("a cashier signed in at the revoked till")

    # --- T10: the insider -------------------------------------------------------------------------------------

    async def insider_added(self, day0: int) -> Actor:
        attack, store = self.attacks["T10_insider_added_punches"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 6, day0):
            yield moment
        yield local(day0, 11) + jitter(self.rng, 0, 1800)
        assert phone.card_id is not None and phone.device_id is not None
        chain = await load_chain(phone.card_id)
        seq, prev_hash = chain[-1].entry.seq, chain[-1].entry_hash
        kid = chain[-1].kid
        # Copied from the card's rows like the rest: it is stored beside the entry, not signed.
        own = await LedgerEntry.select(LedgerEntry.business).where(LedgerEntry.card == phone.card_id).first()
        assert own is not None
        added = []
        for n in range(4):
            at = local(day0 - 1, 12 + n, 10)
            entry = Entry(
                card=phone.card_id,
                seq=seq + 1,
                kind="punch",
                recorded_at=at,
                prev_hash=prev_hash,
                stamp_id=secrets.token_hex(8),
                device=phone.device_id,
                store=store.id,
                scanner=store.tills[0].id,
                staff=store.cashiers[0].id,
                receipt=store.receipt(),
                amount_cents=450,
                stamp_issued_at=at - timedelta(seconds=9),
            )
            entry_id = uuid4()
            digest = entry.digest()
            # The insider can hash, but holds no server key: the signature is made up.
            await LedgerEntry.insert(
                LedgerEntry(
                    id=entry_id,
                    card=entry.card,
                    business=own["business"],
                    seq=entry.seq,
                    kind=entry.kind,
                    stamp_id=entry.stamp_id,
                    device=entry.device,
                    store=entry.store,
                    scanner=entry.scanner,
                    staff=entry.staff,
                    receipt=entry.receipt,
                    amount_cents=entry.amount_cents,
                    recorded_at=entry.recorded_at,
                    stamp_issued_at=entry.stamp_issued_at,
                    prev_hash=entry.prev_hash,
                    entry_hash=digest,
                    kid=kid,
                    signature=b64u_encode(secrets.token_bytes(64)),
                )
            )
            added.append(entry_id)
            seq, prev_hash = seq + 1, digest
        attack.details["inserted"] = [str(i) for i in added]
        attack.details["backdated_to"] = str((local(day0 - 1, 12)).date())
        attack.details["store_id"] = str(store.id)
        attack.details["balance_seen_by_phone"] = await self.balance(phone)
        yield self.later(600)
        async for moment in self.redeem(attack, phone, self.honest_till(store), "free item on inserted punches"):
            yield moment

    async def insider_edited(self, day0: int) -> Actor:
        attack, store = self.attacks["T10_insider_edited_punch"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 9, day0 - 1):
            yield moment
        yield local(day0 - 1, 16) + jitter(self.rng, 0, 1800)
        slot = Slot()
        async for moment in self.buy(attack, phone, self.honest_till(store), store, slot):
            yield moment
        if slot.value is None:
            attack.notes.append("the tenth purchase was refused")
            return
        yield self.later(300)
        receipt = await self._receipt_of(slot.value.punch_id)
        refund = await self.cafe.at_till(store.manager, store.tills[0]).void(receipt, reason="Returned")
        yield local(day0, 11) + jitter(self.rng, 0, 1800)
        # The insider points the refund's void at nothing, so the refunded punch counts again.
        await LedgerEntry.update({LedgerEntry.voids: uuid4()}).where(LedgerEntry.id == refund.void_id)
        attack.details["edited"] = [str(refund.void_id)]
        attack.details["edited_day"] = str(local(day0 - 1, 16).date())
        attack.details["store_id"] = str(store.id)
        attack.details["balance_seen_by_phone"] = await self.balance(phone)
        yield self.later(600)
        async for moment in self.redeem(attack, phone, self.honest_till(store), "free item on the edited ledger"):
            yield moment

    # --- T11, T12: redemption -------------------------------------------------------------------------------

    async def double_redemption(self, day0: int) -> Actor:
        attack, store = self.attacks["T11_double_redemption"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 10, day0):
            yield moment
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        first = await phone.redemption_code()
        second = await phone.redemption_code()
        yield self.later(8)
        tills = [
            (first.code, self.cafe.at_till(store.cashiers[0], store.tills[0])),
            (first.code, self.cafe.at_till(store.cashiers[1], store.tills[1])),
            (second.code, self.cafe.at_till(store.manager, store.tills[0])),
        ]
        answers = await asyncio.gather(*(till.redeem(code) for code, till in tills), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, ProblemError):
                self.refusal(attack, "concurrent redemption", answer)
            elif isinstance(answer, BaseException):
                attack.notes.append(f"concurrent redemption: {type(answer).__name__}: {answer}")
            else:
                attack.free_items += 1
        attack.details["granted"] = attack.free_items
        if attack.free_items > 1:
            attack.went_through.append(f"{attack.free_items} free items for one full card")

    async def reused_code(self, day0: int) -> Actor:
        attack, store = self.attacks["T12_reused_redemption_code"], self.cafe.store("MIS")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 10, day0):
            yield moment
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        code = await phone.redemption_code()
        yield self.later(8)
        try:
            await self.cafe.at_till(store.cashiers[0], store.tills[0]).redeem(code.code)
        except ProblemError as exc:
            # Held or refused the first time: showing the code again must still give nothing.
            attack.notes.append(f"the first use was not granted: {exc.type}")
        else:
            attack.free_items += 1
        for label, till, wait in (
            ("same code at another till", self.cafe.at_till(store.cashiers[1], store.tills[1]), 20),
            ("same code the next day", self.cafe.at_till(store.cashiers[2], store.tills[0]), 86_400),
        ):
            yield self.later(wait)
            try:
                await till.redeem(code.code)
            except ProblemError as exc:
                self.refusal(attack, label, exc)
            else:
                attack.free_items += 1
                attack.went_through.append(f"{label}: free item granted")

    async def expired_code(self, day0: int) -> Actor:
        attack, store = self.attacks["T12_expired_redemption_code"], self.cafe.store("SFO")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 10, day0):
            yield moment
        yield local(day0, 12) + jitter(self.rng, 0, 3600)
        code = await phone.redemption_code()
        yield self.later(75)
        try:
            await self.honest_till(store).redeem(code.code)
        except ProblemError as exc:
            self.refusal(attack, "code scanned 75 s after issue", exc)
        else:
            attack.free_items += 1
            attack.went_through.append("an expired code gave a free item")

    async def code_from_other_device(self, day0: int) -> Actor:
        attack, store = self.attacks["T12_code_from_other_device"], self.cafe.store("MKT")
        victim = await self.phone(attack)
        async for moment in self.prepare(attack, victim, store, 10, day0):
            yield moment
        yield local(day0, 14) + jitter(self.rng, 0, 3600)
        mallory = await self.phone(attack)
        card = victim.card_id
        assert card is not None
        body = {"counter": 1, "signature": mallory.key.sign(redemption_request_message(card, 1))}
        response = await mallory._send("POST", f"/v1/me/cards/{card}/redemptions", body)
        if response.is_success:
            attack.went_through.append("another customer's phone got a code for the card")
        else:
            self.refusal(attack, "code asked by another customer's phone", ProblemError.from_response(response))
        try:
            await victim.copy_login().redemption_code()
        except ProblemError as exc:
            self.refusal(attack, "code asked with a copied login", exc)
        else:
            attack.went_through.append("a copied login got a code")
        # The customer's phone is stolen with a code on screen; the owner unbinds the phone first.
        code = await victim.redemption_code()
        assert victim.device_id is not None
        device = victim.device_id
        await self.as_owner(attack, "unbind the phone", lambda: self.cafe.owner.revoke_device(device, "Phone stolen"))
        yield self.later(20)
        try:
            await self.honest_till(store).redeem(code.code)
        except ProblemError as exc:
            if exc.type == REWARD_HELD:
                attack.held += 1
            self.refusal(attack, "code from the unbound phone", exc)
        else:
            attack.free_items += 1
            attack.went_through.append("a code from an unbound phone gave a free item")

    # --- T13: guessing --------------------------------------------------------------------------------------

    async def guessed_ids(self, day0: int) -> Actor:
        attack, store = self.attacks["T13_guessed_card_id"], self.cafe.store("MIS")
        someone = await self.phone(attack)
        async for moment in self.prepare(attack, someone, store, 1, day0):
            yield moment
        yield local(day0, 15) + jitter(self.rng, 0, 3600)
        mallory = await self.phone(attack)
        real, guessed = someone.card_id, uuid4()
        pairs = []
        for label, method, path, body in (
            ("read a card", "GET", "/v1/me/cards/{}", None),
            ("ask a stamp", "POST", "/v1/me/cards/{}/stamps", "stamp"),
            ("ask a code", "POST", "/v1/me/cards/{}/redemptions", "code"),
        ):
            answers = []
            for card in (real, guessed):
                assert card is not None
                payload: dict[str, Any] | None = None
                if body == "stamp":
                    payload = {"counter": 99, "signature": mallory.key.sign(stamp_request_message(card, 99))}
                elif body == "code":
                    payload = {"counter": 99, "signature": mallory.key.sign(redemption_request_message(card, 99))}
                response = await mallory._send(method, path.format(card), payload)
                answers.append(response)
            pairs.append((label, answers[0], answers[1]))
        for label, real_answer, guessed_answer in pairs:
            same = (real_answer.status_code, _problem(real_answer)) == (
                guessed_answer.status_code,
                _problem(guessed_answer),
            )
            if real_answer.is_success:
                attack.went_through.append(f"{label}: someone else's card answered")
            elif not same:
                attack.went_through.append(f"{label}: a real id answers differently from a guessed one")
            else:
                self.refusal(attack, f"{label} by id", ProblemError.from_response(real_answer))
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        guess = "R1" + "".join(self.rng.choice(alphabet) for _ in range(26))
        try:
            await self.honest_till(store).redeem(guess)
        except ProblemError as exc:
            self.refusal(attack, "guessed redemption code", exc)
        else:
            attack.went_through.append("a guessed redemption code gave a free item")

    async def brute_force(self, day0: int) -> Actor:
        attack = self.attacks["T13_login_brute_force"]
        yield local(day0, 21) + jitter(self.rng, 0, 1800)
        transport = httpx.AsyncHTTPTransport(local_address="127.0.0.66")
        statuses: list[int] = []
        bodies: dict[str, set[str]] = {"known e-mail": set(), "unknown e-mail": set()}
        async with httpx.AsyncClient(
            base_url=self.base_url, transport=transport, event_hooks={"response": [self.counter.on_response]}
        ) as attacker:
            for n in range(40):
                email = "owner@beanthere.test" if n % 4 else f"nobody{n}@beanthere.test"
                response = await attacker.post(
                    "/v1/auth/login", json={"email": email, "password": f"guess-{n:04d}-pass"}
                )
                statuses.append(response.status_code)
                if response.status_code == 401:
                    bodies["known e-mail" if n % 4 else "unknown e-mail"].add(json.dumps(_problem(response)))
        attack.details["answers"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}
        if 200 in statuses:
            attack.went_through.append("a guessed password signed in")
        if 429 not in statuses:
            attack.went_through.append("40 guesses from one address were never rate limited")
        if bodies["known e-mail"] != bodies["unknown e-mail"]:
            attack.went_through.append("a wrong password reads differently for a known e-mail")
        for status in statuses:
            if status in (401, 429):
                attack.refused.append(f"guess: {status}")

    # --- T14: farming cards ------------------------------------------------------------------------------------

    async def one_device(self, day0: int) -> Actor:
        attack = self.attacks["T14_cards_from_one_device"]
        yield local(day0, 9) + jitter(self.rng, 0, 3600)
        phone = await self.phone(attack)
        again = PhoneClient(self.cafe.http, key=phone.key, clock=self.clock)
        try:
            await again.enroll(email="second.card@example.net")
        except ProblemError as exc:
            self.refusal(attack, "the same key enrolls again", exc)
        else:
            attack.went_through.append("the same key enrolled a second customer")
        try:
            card = await phone.join(self.cafe.program.id)
        except ProblemError as exc:
            self.refusal(attack, "a second card in the program", exc)
        else:
            attack.cards.add(card.id)
            attack.went_through.append("a second card in the same program")

    async def one_contact(self, day0: int) -> Actor:
        attack, store = self.attacks["T14_cards_from_one_contact"], self.cafe.store("MKT")
        phones = [await self.phone(attack, email="farmer@example.net") for _ in range(3)]
        phones += [await self.phone(attack, phone_number="+14155550199") for _ in range(2)]
        filled: set[int] = set()
        for day in range(max(0, day0 - 4), day0 + 1):
            for hour in (9, 15):
                yield local(day, hour) + jitter(self.rng, 0, 1800)
                for n, phone in enumerate(phones):
                    if n in filled:
                        continue
                    till = self.honest_till(store)
                    slot = Slot()
                    async for moment in self.buy(attack, phone, till, store, slot):
                        yield moment
                    if slot.problem is not None:
                        self.refusal(attack, "farmed card", slot.problem)
                        continue
                    attack.went_through.append("farmed card punched")
                    if slot.value.balance >= self.cafe.program.punches_per_reward:
                        filled.add(n)
                        async for moment in self.redeem(attack, phone, till, "farmed card's free item"):
                            yield moment
                    yield self.later(120, 400)

    # --- off hours and bursts -------------------------------------------------------------------------------------

    async def off_hours(self, day0: int) -> Actor:
        attack = self.attacks["off_hours_punching"]
        bella = self.cafe.rogues["bella"]
        store, back_room = self.cafe.spare_tills["back_room"]
        till = self.cafe.at_till(bella, back_room)
        attack.staff.add(bella.id)
        attack.scanners.add(back_room.id)
        friend = await self.phone(attack)
        async for moment in self.prepare(attack, friend, store, 6, day0 - 2):
            yield moment
        for at in (local(day0 - 2, 22, 40), local(day0 - 1, 23, 5), local(day0, 5, 50), local(day0, 22, 20)):
            yield at + jitter(self.rng, 0, 600)
            slot = Slot()
            async for moment in self.buy(attack, friend, till, store, slot):
                yield moment
            if slot.problem is not None:
                self.refusal(attack, "night punch", slot.problem)
            else:
                attack.went_through.append("night punch")
        yield local(day0 + 1, 9) + jitter(self.rng, 0, 1800)
        async for moment in self.redeem(attack, friend, self.honest_till(store), "free item after night punches"):
            yield moment

    async def burst_scanner(self, day0: int) -> Actor:
        attack = self.attacks["scanner_burst"]
        bella = self.cafe.rogues["bella"]
        store, back_room = self.cafe.spare_tills["back_room"]
        till = self.cafe.at_till(bella, back_room)
        attack.staff.add(bella.id)
        attack.scanners.add(back_room.id)
        yield local(day0, 15) + jitter(self.rng, 0, 1800)
        friends = [await self.phone(attack) for _ in range(12)]
        for friend in friends:
            slot = Slot()
            async for moment in self.buy(attack, friend, till, store, slot, gap=3):
                yield moment
            if slot.problem is not None:
                self.refusal(attack, "burst punch", slot.problem)
            else:
                attack.went_through.append("burst punch")
            yield self.later(5)

    # --- T15: keys anyone can sign for ----------------------------------------------------------------------------

    async def weak_keys(self, day0: int) -> Actor:
        """The identity point signs every message with R = identity, S = 0; OpenSSL's cofactorless check
        accepts it, and y = 1 has four spellings (the sign bit, and y + p)."""
        attack = self.attacks["T15_keys_anyone_can_sign_for"]
        yield local(day0, 12) + jitter(self.rng, 0, 3600)
        one, p_plus_one = (1).to_bytes(32, "little"), (2**255 - 19 + 1).to_bytes(32, "little")
        spellings = [one, one[:31] + b"\x80", p_plus_one, p_plus_one[:31] + bytes([p_plus_one[31] | 0x80])]
        constant = b64u_encode(one + bytes(32))
        for n, raw in enumerate(spellings):
            challenge = (await self.cafe.http.post("/v1/challenges")).json()["challenge"]
            response = await self.cafe.http.post(
                "/v1/customers",
                json={
                    "challenge": challenge,
                    "public_key": {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)},
                    "signature": constant,
                },
            )
            if response.is_success:
                attack.went_through.append(f"spelling {n} of the identity point enrolled")
            else:
                self.refusal(attack, f"spelling {n} of the identity point", ProblemError.from_response(response))

    # --- T16: a manager changes the rules -----------------------------------------------------------------------

    async def manager_relaxes(self, day0: int) -> Actor:
        attack = self.attacks["T16_manager_relaxes_program"]
        store = self.cafe.store("MIS")
        attack.staff.add(store.manager.id)
        yield local(day0, 16) + jitter(self.rng, 0, 1800)
        manager = OwnerClient(self.cafe.http, email=store.manager.email, password=PASSWORD, clock=self.clock)
        changes = [
            ("1 punch per reward", programs.ProgramUpdate(punches_per_reward=1)),
            ("a daily cap of 50", programs.ProgramUpdate(daily_cap=50)),
            ("travel at 2,000 km/h", programs.ProgramUpdate(risk=programs.RiskThresholds(travel_max_kmh=2000))),
        ]
        for label, change in changes:
            try:
                await manager.update_program(self.cafe.program.id, change)
            except ProblemError as exc:
                self.refusal(attack, f"the manager relaxes the program: {label}", exc)
            else:
                attack.went_through.append(f"the manager relaxed the program: {label}")
        current = await self.cafe.owner._send("GET", f"/v1/programs/{self.cafe.program.id}")
        if current.json()["punches_per_reward"] != self.cafe.program.punches_per_reward:
            attack.went_through.append("the program changed")
        tighten = await manager._send("PATCH", f"/v1/programs/{self.cafe.program.id}", {"name": "Coffee card"})
        attack.details["a rename (no relaxing) by the manager"] = tighten.status_code

    # --- T17: a staff member's own card, without any detail that names them -------------------------------------

    async def anonymous_own_card(self, day0: int) -> Actor:
        """Olga works Market St's morning beside two colleagues; every day she punches her own phone twice."""
        attack = self.attacks["T17_anonymous_own_card"]
        olga, till, store = self.rogue_till("olga", "MKT", 0)
        attack.staff.add(olga.id)
        own = await self.phone(attack)  # no e-mail, no phone number, no name
        for day in range(day0 - 5, day0):
            for hour, minute in ((9, 5), (11, 20)):
                yield local(day, hour, minute) + jitter(self.rng, 0, 600)
                slot = Slot()
                async for moment in self.buy(attack, own, till, store, slot):
                    yield moment
                if slot.problem is not None:
                    self.refusal(attack, "own anonymous card at own till", slot.problem)
                else:
                    attack.went_through.append("own anonymous card punched at own till")
        yield local(day0, 9, 30) + jitter(self.rng, 0, 600)
        async for moment in self.redeem(attack, own, till, "free item on her own card at her till"):
            yield moment

    async def manager_own_card(self, day0: int) -> Actor:
        attack = self.attacks["T17_manager_clears_own_card"]
        store = self.cafe.store("SFO")
        manager = store.manager
        attack.staff.add(manager.id)
        till = self.cafe.at_till(manager, store.tills[0])
        own = await self.phone(attack)
        yield local(day0, 8) + jitter(self.rng, 0, 1800)
        for _ in range(4):  # the fourth is over the daily cap: flagged
            slot = Slot()
            async for moment in self.buy(attack, own, till, store, slot):
                yield moment
            if slot.problem is None:
                attack.went_through.append("own card punched")
            yield self.later(120, 300)
        back_office = OwnerClient(self.cafe.http, email=manager.email, password=PASSWORD, clock=self.clock)
        flags = await self.cafe.owner.flags(card_id=own.card_id, status="open")
        if not flags:
            attack.notes.append("no flag to approve")
        for flag in flags:
            try:
                await back_office.approve_flag(flag.id, "All mine, all paid")
            except ProblemError as exc:
                self.refusal(attack, f"the manager approves the {flag.rule} flag on his own card", exc)
            else:
                attack.went_through.append(f"the manager approved the {flag.rule} flag on his own card")

    # --- T9: a closed store ---------------------------------------------------------------------------------------

    async def closed_store(self, day0: int) -> Actor:
        attack = self.attacks["T9_closed_store"]
        kiosk = self.cafe.kiosk
        kim, kiosk_till = kiosk.cashiers[0], kiosk.tills[0]
        attack.staff.add(kim.id)
        attack.scanners.add(kiosk_till.id)
        till = self.cafe.at_till(kim, kiosk_till)
        yield local(day0, 10) + jitter(self.rng, 0, 3600)
        friend = await self.phone(attack)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, kiosk, slot):
            yield moment
        attack.details["scan_before"] = slot.problem is None
        yield self.later(300)
        await self.as_owner(
            attack, "close the kiosk", lambda: self.cafe.owner.update_store(kiosk.id, stores.StoreUpdate(active=False))
        )
        yield self.later(60)
        slot = Slot()
        async for moment in self.buy(attack, friend, till, kiosk, slot):
            yield moment
        if slot.problem is not None:
            self.refusal(attack, "scan at the closed kiosk with a live token", slot.problem)
        else:
            attack.went_through.append("the closed kiosk punched a card")
        fresh = ScannerClient(
            self.cafe.http,
            email=kim.email,
            password=PASSWORD,
            scanner_id=kiosk_till.id,
            scanner_secret=kiosk_till.secret,
        )
        try:
            await fresh.login()
        except ProblemError as exc:
            self.refusal(attack, "a fresh sign-in at the closed kiosk", exc)
        else:
            attack.went_through.append("a cashier signed in at the closed kiosk")

    # --- T18: dodging the limits ---------------------------------------------------------------------------------

    async def _guesses(self, attack: Attack, bodies: list[tuple[str, dict[str, Any], dict[str, str]]]) -> list[int]:
        """Send each (local address, body, headers) as a sign-in; return the statuses."""
        statuses = []
        for address, body, headers in bodies:
            async with httpx.AsyncClient(
                base_url=self.base_url,
                transport=httpx.AsyncHTTPTransport(local_address=address),
                event_hooks={"response": [self.counter.on_response]},
            ) as attacker:
                response = await attacker.post("/v1/auth/login", json=body, headers=headers)
            statuses.append(response.status_code)
        attack.details["answers"] = {str(s): statuses.count(s) for s in sorted(set(statuses))}
        return statuses

    async def forwarded_for(self, day0: int) -> Actor:
        attack = self.attacks["T18_forwarded_for_spoofing"]
        yield local(day0, 22) + jitter(self.rng, 0, 1800)
        bodies = [
            (
                "127.0.0.67",
                {"email": f"someone{n}@beanthere.test", "password": f"guess {n:04d} pass"},
                {"X-Forwarded-For": f"203.0.113.{n}"},
            )
            for n in range(60)
        ]
        statuses = await self._guesses(attack, bodies)
        answered = statuses.count(401)
        if answered > 10 or 200 in statuses:
            attack.went_through.append(f"{answered} of 60 guesses were answered: the spoofed header bought more")
        attack.refused.extend(f"guess: {status}" for status in statuses if status == 429)

    async def spread_guesses(self, day0: int) -> Actor:
        attack = self.attacks["T18_spread_over_addresses"]
        yield local(day0, 23) + jitter(self.rng, 0, 1200)
        no_headers: dict[str, str] = {}
        bodies = [
            (
                f"127.0.{2 + n // 200}.{n % 200 + 20}",
                {"email": OWNER_EMAIL, "password": f"spray {n:04d} pass"},
                no_headers,
            )
            for n in range(30)
        ]
        statuses = await self._guesses(attack, bodies)
        answered = statuses.count(401)
        if answered > 10 or 200 in statuses:
            attack.went_through.append(f"{answered} of 30 guesses on one account were answered")
        attack.refused.extend(f"guess: {status}" for status in statuses if status == 429)

    # --- T19: a stolen refresh token ---------------------------------------------------------------------------

    async def stolen_refresh(self, day0: int) -> Actor:
        attack = self.attacks["T19_stolen_refresh_token"]
        nestor, till, _ = self.rogue_till("ned_refresh", "MIS", 1)
        attack.staff.add(nestor.id)
        yield local(day0, 14) + jitter(self.rng, 0, 3600)
        stolen = await till.login()
        honest = await till.refresh()  # the till trades its token, as it does every 15 minutes
        replay = await self.cafe.http.post("/v1/auth/refresh", json={"refresh_token": stolen.refresh_token})
        if replay.is_success:
            attack.went_through.append("the stolen refresh token was traded after the till had traded it")
        else:
            self.refusal(attack, "the stolen refresh token", ProblemError.from_response(replay))
        after = await self.cafe.http.post("/v1/auth/refresh", json={"refresh_token": honest.refresh_token})
        attack.details["the till's own token after the replay"] = after.status_code
        if after.is_success:
            attack.went_through.append("the family survived the replay: the thief's copy could try again")
        till.tokens = None  # the till signs in again

    # --- T20: another business -----------------------------------------------------------------------------------

    async def rival_probe(self, day0: int) -> Actor:
        attack = self.attacks["T20_probing_another_business"]
        yield local(day0, 13) + jitter(self.rng, 0, 3600)
        rival = Business(name="Rival Roasters")
        await rival.save()  # a second business on the same server (the setup code serves an empty one only)
        await Staff.insert(
            Staff(
                business=rival.id,
                name="Rex",
                email="rex@rivalroasters.test",
                password_hash=hash_password("rival password 2025"),
                role="owner",
            )
        )
        owner = OwnerClient(self.cafe.http, email="rex@rivalroasters.test", password="rival password 2025")
        probes = [self.cafe.stores[0].cashiers[0].email, self.cafe.stores[1].manager.email, "nobody@beanthere.test"]
        answers = {}
        for email in probes:
            body = stores.StaffCreate(name="Probe", email=email, password="a rival's password", role="manager")
            try:
                await owner.create_staff(body)
                answers[email] = 201
            except ProblemError as exc:
                answers[email] = exc.status
        attack.details["hiring answers"] = answers
        if len(set(answers.values())) > 1:
            attack.went_through.append("hiring answers told a staff e-mail of this café from an unknown one")
        else:
            attack.refused.append("every hire answered alike: nothing learned")
        public = await self.cafe.http.get(
            f"/v1/businesses/{self.cafe.owner.tokens.business_id if self.cafe.owner.tokens else ''}/programs"
        )
        leaked = [word for word in ("risk", "cooldown", "daily_cap", "travel", "burst") if word in public.text]
        if leaked:
            attack.went_through.append(f"the public program list shows {', '.join(leaked)}")
        else:
            attack.refused.append("the public program list shows no threshold")

    # --- T21: growing the database from outside ---------------------------------------------------------------

    async def code_flood(self, day0: int) -> Actor:
        attack, store = self.attacks["T21_code_request_flood"], self.cafe.store("MKT")
        phone = await self.phone(attack)
        async for moment in self.prepare(attack, phone, store, 10, day0):
            yield moment
        yield local(day0, 15) + jitter(self.rng, 0, 1800)
        for _ in range(300):
            try:
                await phone.redemption_code()
            except ProblemError as exc:
                self.refusal(attack, "a code request", exc)
                break
        assert phone.card_id is not None
        rows = await Redemption.count().where(Redemption.card == phone.card_id)
        attack.details["redemption rows after 300 requests"] = rows
        if rows > 1:
            attack.went_through.append(f"300 code requests left {rows} rows")
        else:
            attack.refused.append("300 code requests left one pending code")

    # --- what the owner sees -----------------------------------------------------------------------------------------

    async def all_flags(self) -> tuple[list[dict[str, Any]], str]:
        """Every flag, as the owner reads them (GET /v1/flags); from the database if that endpoint is missing."""
        try:
            views = await self.cafe.owner.flags()
        except ProblemError as exc:
            if exc.status != 404:
                raise
            rows = await Flag.select()
            return [
                {
                    "id": str(row["id"]),
                    "rule": row["rule"],
                    "card_id": _text(row["card"]),
                    "staff_id": _text(row["staff"]),
                    "scanner_id": _text(row["scanner"]),
                    "punch_ids": list(
                        (row["evidence"] if isinstance(row["evidence"], dict) else {}).get("punch_ids", [])
                    ),
                    "status": row["status"],
                }
                for row in rows
            ], "database (GET /v1/flags missing)"
        return [
            {
                "id": str(view.id),
                "rule": view.rule,
                "card_id": _text(view.card_id),
                "staff_id": _text(view.staff_id),
                "scanner_id": _text(view.scanner_id),
                "punch_ids": [str(p) for p in view.punch_ids],
                "status": view.status,
            }
            for view in views
        ], "GET /v1/flags"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _problem(response: httpx.Response) -> tuple[Any, Any]:
    try:
        body = response.json()
    except ValueError:
        return (None, response.text)
    return (body.get("type"), body.get("detail")) if isinstance(body, dict) else (None, None)


def _flip_b64(text: str) -> str:
    raw = bytearray(b64u_decode(text))
    raw[len(raw) // 2] ^= 0x01
    return b64u_encode(bytes(raw))


def _hs256(claims: dict[str, Any], header: dict[str, Any], public_x: str) -> str:
    """The classic algorithm confusion: HMAC keyed with the server's public key."""
    return jwt.encode(claims, public_x, algorithm="HS256", headers={**header, "alg": "HS256"})
