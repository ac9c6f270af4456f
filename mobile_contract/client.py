"""The reference client: how a phone, a scanner and an owner's back office talk to PunchGuard.

Every class takes an `httpx.AsyncClient` pointed at the server, so tests hand it the
in-process app and the fraud drill a real TCP connection. Answers are decoded into the
structs of `mobile_contract`; any error becomes a `ProblemError` carrying the RFC 9457
problem (switch on `.type`, never on the wording).

The protocol a mobile developer must follow
-------------------------------------------
* **Enroll once.** Ask `POST /v1/challenges`, sign `proof_message("enroll", challenge)`
  with the phone's private key (Ed25519, or P-256 from a Secure Enclave / StrongBox),
  post the public JWK and the signature. The key never leaves the phone.
* **Sessions last an hour.** When the server answers 401 `invalid-token`, sign a fresh
  challenge with purpose "session" and post it to `/v1/customers/sessions`. The phone's
  key is the login; the session token alone cannot get a stamp (T3).
* **One rising counter per device.** Every stamp or redemption-code request carries a
  counter greater than any the device sent before, signed with the key. Persist it
  before sending. Retrying the very same request (same card, same counter) after a
  timeout returns the same stamp; any other repeat or a lower counter is read as a
  cloned key and freezes the card.
* **Stamps live 30 s** (the program's `stamp_lifetime_s`) and serve one purchase:
  refresh the QR code when it expires, never cache one.
* **Redemption codes live 60 s** and serve once; they are bound to the card and device.
  They share the stamps' counter. Retrying a code request with the same counter gives a
  fresh code for the same redemption, and the earlier code stops working.
* **Scanners retry with the same receipt.** If a scan's answer is lost, post the
  identical scan again: the server returns the first answer, byte for byte, with the
  header `Idempotent-Replayed: true`, never a second punch. A different receipt with the
  same stamp is refused as a replay.
* **Staff access tokens live 15 minutes**; refresh with the refresh token, or sign in
  again when that is refused. A cashier signs in at a registered scanner. Each refresh
  token is good once and the answer carries the next: keep only the newest, refresh one
  request at a time, and expect a sign-in to last 12 hours at most. Showing a spent
  refresh token ends the whole sign-in (the server takes it for a stolen copy).
"""

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar
from uuid import UUID

import httpx
import msgspec
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from crypto.encoding import b64u_encode
from mobile_contract import auth, checkpoints, customers, programs, redemptions, review, scans, stores
from mobile_contract.problems import Problem
from mobile_contract.stamps import stamp_request_message

T = TypeVar("T")
Clock = Callable[[], dt.datetime]
Algorithm = Literal["Ed25519", "ES256"]
_INVALID_TOKEN = Problem.INVALID_TOKEN.type
# Renew a little before the server's expiry: the phone's clock may differ by a few seconds.
_RENEW_MARGIN = dt.timedelta(seconds=30)


class ProblemError(Exception):
    """The server refused: `status`, the stable `type` ("/problems/<slug>"), `detail` and the whole body.

    A held reward (`/problems/reward-held`) lists why in `reasons`.
    """

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        self.type = str(body.get("type", "about:blank"))
        self.title = str(body.get("title", ""))
        self.detail = str(body.get("detail", ""))
        super().__init__(f"{status} {self.type}: {self.detail}")

    @property
    def problem(self) -> Problem | None:
        """The problem as an enum member, or None for a type this client does not know."""
        return Problem.by_slug(self.type.removeprefix("/problems/"))

    @property
    def reasons(self) -> list[str]:
        return [str(reason) for reason in self.body.get("reasons", [])]

    @classmethod
    def from_response(cls, response: httpx.Response) -> "ProblemError":
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {"type": "about:blank", "detail": response.text[:500]}
        return cls(response.status_code, body)


def decode(response: httpx.Response, into: type[T]) -> T:
    """The response body as `into`, or `ProblemError` for any 4xx/5xx answer."""
    if response.is_error:
        raise ProblemError.from_response(response)
    return msgspec.json.decode(response.content, type=into)


def _json(body: msgspec.Struct) -> dict[str, Any]:
    # Leave out unset optional fields: the server reads a missing field as "no change".
    built: dict[str, Any] = msgspec.to_builtins(body)
    return {key: value for key, value in built.items() if value is not None}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class DeviceKey:
    """The phone's key pair. Ed25519 by default; ES256 (P-256) is what secure hardware offers."""

    def __init__(self, algorithm: Algorithm = "Ed25519") -> None:
        self.algorithm: Algorithm = algorithm
        self._ed = Ed25519PrivateKey.generate() if algorithm == "Ed25519" else None
        self._ec = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else None

    @classmethod
    def from_pem(cls, pem: bytes) -> "DeviceKey":
        """A key saved with `private_pem` (a phone that keeps its key in a file, like the command-line phone)."""
        private = serialization.load_pem_private_key(pem, password=None)
        key = cls.__new__(cls)
        if isinstance(private, Ed25519PrivateKey):
            key.algorithm, key._ed, key._ec = "Ed25519", private, None
        elif isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
            key.algorithm, key._ed, key._ec = "ES256", None, private
        else:
            raise ValueError("a device key is Ed25519 or P-256")
        return key

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM: whoever holds it is this phone, so keep it private."""
        private = self._ed if self._ed is not None else self._ec
        assert private is not None
        return private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def public_jwk(self) -> dict[str, str]:
        if self._ed is not None:
            raw = self._ed.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(raw)}
        assert self._ec is not None
        numbers = self._ec.public_key().public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64u_encode(numbers.x.to_bytes(32, "big")),
            "y": b64u_encode(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, message: bytes) -> str:
        """The signature as unpadded base64url; ES256 as JOSE's 64-byte r||s."""
        if self._ed is not None:
            return b64u_encode(self._ed.sign(message))
        assert self._ec is not None
        r, s = decode_dss_signature(self._ec.sign(message, ec.ECDSA(hashes.SHA256())))
        return b64u_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


class PhoneClient:
    """A customer's phone: its own key, its counter, its session and its cards.

    `clock`, if given, is the phone's own clock: the session is renewed shortly before
    it expires instead of after the server refuses it. Either way works.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        algorithm: Algorithm = "Ed25519",
        key: DeviceKey | None = None,
        clock: Clock | None = None,
        retries: int = 1,
    ) -> None:
        self.http = http
        self.key = key or DeviceKey(algorithm)
        self.clock = clock
        self.retries = retries
        # The last counter this phone used; a real app persists it before each request.
        self.counter = 0
        self.customer_id: UUID | None = None
        self.device_id: UUID | None = None
        self.session: customers.DeviceSession | None = None
        self.card_id: UUID | None = None

    # --- identity -----------------------------------------------------------------

    @property
    def session_token(self) -> str:
        """The bearer token of the current session (what a copied login would copy)."""
        if self.session is None:
            raise RuntimeError("enroll first")
        return self.session.session_token

    async def _challenge(self) -> str:
        return decode(await self.http.post("/v1/challenges"), customers.Challenge).challenge

    async def enroll(
        self, *, email: str | None = None, phone: str | None = None, display_name: str | None = None
    ) -> customers.DeviceSession:
        """Bind this phone's key to a new customer; returns the first session."""
        challenge = await self._challenge()
        body = customers.Enrollment(
            challenge=challenge,
            public_key=msgspec.convert(self.key.public_jwk, customers.PublicKey),
            signature=self.key.sign(customers.proof_message("enroll", challenge)),
            email=email,
            phone=phone,
            display_name=display_name,
        )
        session = decode(await self.http.post("/v1/customers", json=_json(body)), customers.DeviceSession)
        self._use(session)
        return session

    async def renew_session(self) -> customers.DeviceSession:
        """Sign a fresh challenge with the device key for a new session."""
        if self.device_id is None:
            raise RuntimeError("enroll first")
        challenge = await self._challenge()
        body = customers.DeviceSessionRequest(
            device_id=self.device_id,
            challenge=challenge,
            signature=self.key.sign(customers.proof_message("session", challenge)),
        )
        session = decode(await self.http.post("/v1/customers/sessions", json=_json(body)), customers.DeviceSession)
        self._use(session)
        return session

    def _use(self, session: customers.DeviceSession) -> None:
        self.session = session
        self.customer_id = session.customer_id
        self.device_id = session.device_id

    async def _send(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """Send with the session; renew it once if the server says it expired.

        Transport failures are retried with the very same request: every write a phone
        makes is safe to repeat (a stamp or code request repeats its counter).
        """
        session = self.session
        if self.clock is not None and session is not None and session.expires_at - _RENEW_MARGIN <= self.clock():
            await self.renew_session()
        renewed = False
        attempt = 0
        while True:
            try:
                response = await self.http.request(
                    method, path, json=body, params=params, headers=_bearer(self.session_token)
                )
            except httpx.TransportError:
                attempt += 1
                if attempt > self.retries:
                    raise
                continue
            if response.status_code == 401 and not renewed and _problem_type(response) == _INVALID_TOKEN:
                renewed = True
                await self.renew_session()
                continue
            return response

    def _card(self, card_id: UUID | None) -> UUID:
        card = card_id or self.card_id
        if card is None:
            raise RuntimeError("join a program first, or name the card")
        return card

    # --- cards ----------------------------------------------------------------------

    async def join(self, program_id: UUID) -> customers.Card:
        """Join a program; the new card becomes this phone's default card."""
        body = customers.JoinProgram(program_id=program_id)
        card = decode(await self._send("POST", "/v1/me/cards", _json(body)), customers.Card)
        self.card_id = card.id
        return card

    async def cards(self) -> list[customers.Card]:
        return decode(await self._send("GET", "/v1/me/cards"), list[customers.Card])

    async def card(self, card_id: UUID | None = None) -> scans.CardDetail:
        """The card's balance, whether a reward is available, and its history."""
        return decode(await self._send("GET", f"/v1/me/cards/{self._card(card_id)}"), scans.CardDetail)

    # --- stamps and codes ---------------------------------------------------------------

    def next_counter(self) -> int:
        """Take the next counter value (a real app stores it before sending the request)."""
        self.counter += 1
        return self.counter

    def stamp_request(self, card_id: UUID, counter: int) -> scans.StampRequest:
        return scans.StampRequest(counter=counter, signature=self.key.sign(stamp_request_message(card_id, counter)))

    async def request_stamp(self, card_id: UUID | None = None, *, counter: int | None = None) -> scans.IssuedStamp:
        """A fresh stamp for the card, with the next counter (or `counter`, to repeat a request)."""
        card = self._card(card_id)
        body = self.stamp_request(card, self.next_counter() if counter is None else counter)
        return decode(await self._send("POST", f"/v1/me/cards/{card}/stamps", _json(body)), scans.IssuedStamp)

    async def stamp(self, card_id: UUID | None = None) -> str:
        """The text to show as a QR code at the till (single use, 30 s)."""
        return (await self.request_stamp(card_id)).stamp

    async def resend(self, counter: int, card_id: UUID | None = None) -> str:
        """Repeat the stamp request made with `counter`: the same stamp comes back.

        With a counter the server has not seen last, it is a clone signal instead.
        """
        return (await self.request_stamp(card_id, counter=counter)).stamp

    async def stamp_qr_svg(self, card_id: UUID | None = None, *, module_px: int = 8) -> bytes:
        """The same as `stamp()`, drawn by the server as an SVG QR code."""
        card = self._card(card_id)
        body = self.stamp_request(card, self.next_counter())
        response = await self._send("POST", f"/v1/me/cards/{card}/stamps.svg", _json(body), {"module_px": module_px})
        if response.is_error:
            raise ProblemError.from_response(response)
        return response.content

    async def redemption_code(
        self, card_id: UUID | None = None, *, counter: int | None = None
    ) -> redemptions.RedemptionCode:
        """A single-use code for the card's free item (60 s); it shares the stamps' counter."""
        card = self._card(card_id)
        used = self.next_counter() if counter is None else counter
        body = redemptions.RedemptionRequest(
            counter=used, signature=self.key.sign(redemptions.redemption_request_message(card, used))
        )
        response = await self._send("POST", f"/v1/me/cards/{card}/redemptions", _json(body))
        return decode(response, redemptions.RedemptionCode)

    # --- what an attacker would do (for tests and the fraud drill) ---------------------

    def clone(self) -> "PhoneClient":
        """A second phone with a copy of this key, device and session, but its own counter (T3).

        Both start from the counter as it stands now; whichever asks second with a counter
        the other already used gets the card frozen.
        """
        twin = PhoneClient(self.http, key=self.key, clock=self.clock, retries=self.retries)
        twin.counter = self.counter
        twin.customer_id, twin.device_id, twin.session, twin.card_id = (
            self.customer_id,
            self.device_id,
            self.session,
            self.card_id,
        )
        return twin

    def copy_login(self) -> "PhoneClient":
        """A second phone holding this phone's session token and ids but not its key (T3)."""
        thief = self.clone()
        thief.key = DeviceKey(self.key.algorithm)
        return thief


def _problem_type(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("type") if isinstance(body, dict) else None


class _StaffSession:
    """Sign-in, refresh and re-sign-in for staff, shared by scanners and the back office."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        email: str,
        password: str,
        scanner_id: UUID | None = None,
        scanner_secret: str | None = None,
        clock: Clock | None = None,
        retries: int = 1,
    ) -> None:
        self.http = http
        self.email = email
        self.password = password
        self.scanner_id = scanner_id
        self.scanner_secret = scanner_secret
        self.clock = clock
        self.retries = retries
        self.tokens: auth.StaffTokens | None = None
        self._refreshing = asyncio.Lock()

    @property
    def access_token(self) -> str:
        if self.tokens is None:
            raise RuntimeError("log in first")
        return self.tokens.access_token

    async def login(self) -> auth.StaffTokens:
        body = auth.Login(
            email=self.email, password=self.password, scanner_id=self.scanner_id, scanner_secret=self.scanner_secret
        )
        self.tokens = decode(await self.http.post("/v1/auth/login", json=_json(body)), auth.StaffTokens)
        return self.tokens

    async def refresh(self) -> auth.StaffTokens:
        """Trade the refresh token for the next ones; sign in again if it is refused (expired, revoked).

        A refresh token is good once, and showing it twice ends the session (the server takes
        the second for a thief): so refreshes go one at a time, and a request that waited for
        another's refresh uses its tokens instead of trading the spent one again.
        """
        spent = self.tokens
        async with self._refreshing:
            if self.tokens is not spent and self.tokens is not None:
                return self.tokens
            if self.tokens is None:
                return await self.login()
            body = auth.Refresh(refresh_token=self.tokens.refresh_token)
            response = await self.http.post("/v1/auth/refresh", json=_json(body))
            if response.status_code == 401:
                return await self.login()
            self.tokens = decode(response, auth.StaffTokens)
            return self.tokens

    async def logout(self) -> None:
        """End this sign-in: its access and refresh tokens stop working at once."""
        if self.tokens is not None:
            response = await self.http.post("/v1/auth/logout", headers=_bearer(self.tokens.access_token))
            if response.status_code != 204:
                raise ProblemError.from_response(response)
            self.tokens = None

    async def _send(
        self, method: str, path: str, body: Any = None, params: Mapping[str, Any] | None = None
    ) -> httpx.Response:
        """Send with the access token, refreshing once when the server says it expired.

        A transport failure (timeout, dropped connection) is retried with the identical
        request: scans, redemptions and voids all answer a repeat with the first answer.
        """
        if self.tokens is None:
            await self.login()
        elif self.clock is not None and self.tokens.access_expires_at - _RENEW_MARGIN <= self.clock():
            await self.refresh()
        refreshed = False
        attempt = 0
        while True:
            try:
                response = await self.http.request(
                    method, path, json=body, params=params, headers=_bearer(self.access_token)
                )
            except httpx.TransportError:
                attempt += 1
                if attempt > self.retries:
                    raise
                continue
            if response.status_code == 401 and not refreshed and _problem_type(response) == _INVALID_TOKEN:
                refreshed = True
                await self.refresh()
                continue
            return response


class ScannerClient(_StaffSession):
    """A cashier signed in at a store's scanner: scans stamps, redeems codes (and, for managers, voids)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        email: str,
        password: str,
        scanner_id: UUID,
        scanner_secret: str,
        clock: Clock | None = None,
        retries: int = 1,
    ) -> None:
        super().__init__(
            http,
            email=email,
            password=password,
            scanner_id=scanner_id,
            scanner_secret=scanner_secret,
            clock=clock,
            retries=retries,
        )

    async def scan(
        self, stamp: str, receipt: str, *, amount_cents: int | None = None, items: int | None = None
    ) -> scans.ScanResult:
        """Punch the card behind `stamp` for the purchase `receipt`.

        Retrying the same stamp with the same receipt returns the first answer, equal to it
        (the header `Idempotent-Replayed: true` tells them apart); that is how to recover from a lost answer.
        """
        body = scans.Scan(stamp=stamp, receipt=scans.Receipt(reference=receipt, amount_cents=amount_cents, items=items))
        return decode(await self._send("POST", "/v1/scans", _json(body)), scans.ScanResult)

    async def redeem(self, code: str) -> redemptions.RedemptionResult:
        """Give the free item for a scanned code; a held reward raises `ProblemError` (type reward-held).

        The same till retrying the same code gets the first answer; any other till is refused.
        """
        body = redemptions.Redeem(code=code)
        return decode(await self._send("POST", "/v1/redemptions", _json(body)), redemptions.RedemptionResult)

    async def void(self, receipt: str, *, reason: str | None = None) -> scans.VoidResult:
        """Refund: the punch of `receipt` at this scanner's store stops counting (managers only)."""
        body = scans.Void(receipt=receipt, reason=reason)
        return decode(await self._send("POST", "/v1/punches/void", _json(body)), scans.VoidResult)


class OwnerClient(_StaffSession):
    """The back office of an owner or manager: set-up, refunds, and the review of flags."""

    def __init__(self, http: httpx.AsyncClient, *, email: str, password: str, clock: Clock | None = None) -> None:
        super().__init__(http, email=email, password=password, clock=clock)

    @staticmethod
    async def set_up(http: httpx.AsyncClient, body: auth.OwnerSetup) -> stores.StaffMember:
        """Create the business and its first owner with the one-time setup code."""
        return decode(await http.post("/v1/setup", json=_json(body)), stores.StaffMember)

    # --- the café -----------------------------------------------------------------------

    async def create_store(self, body: stores.StoreCreate) -> stores.Store:
        return decode(await self._send("POST", "/v1/stores", _json(body)), stores.Store)

    async def register_scanner(self, store_id: UUID, name: str) -> stores.ScannerRegistered:
        """A new scanner; its secret is in the answer only."""
        body = stores.ScannerCreate(name=name)
        response = await self._send("POST", f"/v1/stores/{store_id}/scanners", _json(body))
        return decode(response, stores.ScannerRegistered)

    async def revoke_scanner(self, scanner_id: UUID, reason: str | None = None) -> stores.Scanner:
        body = _json(review.OptionalReason(reason=reason))
        return decode(await self._send("POST", f"/v1/scanners/{scanner_id}/revoke", body), stores.Scanner)

    async def create_staff(self, body: stores.StaffCreate) -> stores.StaffMember:
        return decode(await self._send("POST", "/v1/staff", _json(body)), stores.StaffMember)

    async def disable_staff(self, staff_id: UUID, reason: str | None = None) -> stores.StaffMember:
        """Disable a member; their tokens stop working on their next request (T9)."""
        body = _json(stores.StaffUpdate(active=False, reason=reason))
        return decode(await self._send("PATCH", f"/v1/staff/{staff_id}", body), stores.StaffMember)

    async def create_program(self, body: programs.ProgramCreate) -> programs.Program:
        return decode(await self._send("POST", "/v1/programs", _json(body)), programs.Program)

    async def update_program(self, program_id: UUID, body: programs.ProgramUpdate) -> programs.Program:
        """Change a program; relaxing it needs an owner (`owner-required` otherwise)."""
        response = await self._send("PATCH", f"/v1/programs/{program_id}", _json(body))
        return decode(response, programs.Program)

    async def update_store(self, store_id: UUID, body: stores.StoreUpdate) -> stores.Store:
        """Edit a store; `active=False` closes it and its tills stop at once."""
        return decode(await self._send("PATCH", f"/v1/stores/{store_id}", _json(body)), stores.Store)

    async def void(self, receipt: str, store_id: UUID, *, reason: str | None = None) -> scans.VoidResult:
        """Refund the purchase `receipt` at `store_id`: its punch stops counting."""
        body = scans.Void(receipt=receipt, store_id=store_id, reason=reason)
        return decode(await self._send("POST", "/v1/punches/void", _json(body)), scans.VoidResult)

    # --- review ---------------------------------------------------------------------------

    async def flags(self, **filters: Any) -> list[review.FlagView]:
        """Every flag matching the filters (rule, status, card_id, staff_id, store_id, since, until)."""
        params = {key: str(value) for key, value in filters.items() if value is not None}
        found: list[review.FlagView] = []
        offset: int | None = 0
        while offset is not None:
            response = await self._send("GET", "/v1/flags", params={**params, "limit": 1000, "offset": offset})
            page = decode(response, review.FlagPage)
            found.extend(page.flags)
            offset = page.next_offset
        return found

    async def approve_flag(self, flag_id: UUID, reason: str) -> review.FlagReviewed:
        body = _json(review.ReviewReason(reason=reason))
        return decode(await self._send("POST", f"/v1/flags/{flag_id}/approve", body), review.FlagReviewed)

    async def reject_flag(self, flag_id: UUID, reason: str) -> review.FlagReviewed:
        """The suspicion was right: the flag's punches are voided."""
        body = _json(review.ReviewReason(reason=reason))
        return decode(await self._send("POST", f"/v1/flags/{flag_id}/reject", body), review.FlagReviewed)

    async def timeline(self, card_id: UUID) -> review.CardTimeline:
        return decode(await self._send("GET", f"/v1/cards/{card_id}/timeline"), review.CardTimeline)

    async def freeze_card(self, card_id: UUID, reason: str) -> review.CardOverview:
        body = _json(review.ReviewReason(reason=reason))
        return decode(await self._send("POST", f"/v1/cards/{card_id}/freeze", body), review.CardOverview)

    async def unfreeze_card(self, card_id: UUID, reason: str) -> review.CardOverview:
        body = _json(review.ReviewReason(reason=reason))
        return decode(await self._send("POST", f"/v1/cards/{card_id}/unfreeze", body), review.CardOverview)

    async def revoke_device(self, device_id: UUID, reason: str) -> review.DeviceView:
        body = _json(review.ReviewReason(reason=reason))
        return decode(await self._send("POST", f"/v1/devices/{device_id}/revoke", body), review.DeviceView)

    async def audit_log(self, **filters: Any) -> review.AuditPage:
        params = {key: str(value) for key, value in filters.items() if value is not None}
        return decode(await self._send("GET", "/v1/audit-log", params=params), review.AuditPage)

    # --- checkpoints (T10) -----------------------------------------------------------------

    async def checkpoint(self, store_id: UUID, day: dt.date) -> checkpoints.Checkpoint:
        """The signed checkpoint of a store's finished local day: keep it outside the server."""
        response = await self._send("GET", f"/v1/stores/{store_id}/checkpoints/{day.isoformat()}")
        return decode(response, checkpoints.Checkpoint)

    async def verify_checkpoint(self, checkpoint: checkpoints.Checkpoint) -> checkpoints.CheckpointReport:
        """Which entries were added, removed or changed since the checkpoint was signed."""
        body = msgspec.to_builtins(checkpoint)
        return decode(await self._send("POST", "/v1/checkpoints/verify", body), checkpoints.CheckpointReport)
