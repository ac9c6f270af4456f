"""A signed checkpoint of a store's day names every entry an insider added, removed or changed later (T10).

Each test punches through the API late on a local day at a Los Angeles store (so the
store's day and the UTC day differ), fetches that day's checkpoint as the owner would
and keeps it outside the database, then edits `ledger_entry` rows directly as an insider
could and asks the server, or the command line, what changed.
"""

import asyncio
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import msgspec
import pytest
from piccolo.engine.postgres import PostgresEngine

from api.cli import main as cli
from cards.checkpoints import make_checkpoint, verify_checkpoint
from cards.database import current_engine
from cards.ledger import seal, stored_entry
from cards.tables import Business, LedgerEntry, Store
from crypto.encoding import b64u_encode
from crypto.keyring import Keyring, load_or_create_keyring, rotate_keyring
from crypto.merkle import merkle_root
from mobile_contract.checkpoints import Checkpoint, checkpoint_message
from mobile_contract.problems import Problem
from tests.support import OWNER_EMAIL, PASSWORD, Cafe, FakeClock, bearer, cashier_at_till, new_customer, set_up_cafe

LA = ZoneInfo("America/Los_Angeles")
DAY = date(2026, 3, 10)  # a Tuesday, after the switch to daylight time
NEXT_DAY = DAY + timedelta(days=1)


def _local(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, 123_457, tzinfo=LA).astimezone(UTC)


@dataclass
class Till:
    """A café whose store recorded four entries on DAY (three punches, one refund) and one on NEXT_DAY."""

    client: httpx.AsyncClient
    clock: FakeClock
    cafe: Cafe
    cashier: dict[str, str]
    day_ids: list[UUID]
    next_day_id: UUID
    _owner: tuple[datetime, dict[str, str]] | None = None

    async def owner(self) -> dict[str, str]:
        """The owner's headers, signed in again when the clock moved: checkpoints are fetched after the
        day, past the first token's life."""
        if self._owner is None or self._owner[0] != self.clock.now:
            login = await self.client.post("/v1/auth/login", json={"email": OWNER_EMAIL, "password": PASSWORD})
            assert login.status_code == 200, login.text
            self._owner = (self.clock.now, bearer(login.json()["access_token"]))
        return self._owner[1]

    async def checkpoint(self, day: date = DAY, store_id: str | None = None) -> dict[str, Any]:
        response = await self.client.get(
            f"/v1/stores/{store_id or self.cafe.store_id}/checkpoints/{day.isoformat()}", headers=await self.owner()
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def verify(self, checkpoint: Any) -> httpx.Response:
        return await self.client.post("/v1/checkpoints/verify", headers=await self.owner(), json=checkpoint)

    async def report(self, checkpoint: dict[str, Any]) -> dict[str, Any]:
        response = await self.verify(checkpoint)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


async def _punch(client: httpx.AsyncClient, cashier: dict[str, str], stamp: str, receipt: str) -> UUID:
    scan = await client.post("/v1/scans", headers=cashier, json={"stamp": stamp, "receipt": {"reference": receipt}})
    assert scan.status_code == 201, scan.text
    return UUID(scan.json()["punch_id"])


@pytest.fixture
async def till(client: httpx.AsyncClient, clock: FakeClock) -> Till:
    # 23:50 in Los Angeles is 06:50 UTC the next day: the store's day is not the UTC day.
    clock.now = _local(DAY, 23, 50)
    cafe = await set_up_cafe(client)
    cashier = await cashier_at_till(cafe)
    customer = await new_customer(client, cafe)
    day_ids = []
    for receipt in ("R-1", "R-2", "R-3"):
        day_ids.append(await _punch(client, cashier, await customer.stamp(), receipt))
        clock.advance(minutes=2)
    void = await client.post("/v1/punches/void", headers=cafe.owner, json={"receipt": "R-1", "store_id": cafe.store_id})
    assert void.status_code == 200, void.text
    day_ids.append(UUID(void.json()["void_id"]))
    clock.now = _local(NEXT_DAY, 0, 0, 30)  # still within the tokens' lifetime
    next_day_id = await _punch(client, cashier, await customer.stamp(), "R-4")
    clock.now = _local(NEXT_DAY + timedelta(days=1), 0, 5)  # both days are over
    return Till(client, clock, cafe, cashier, day_ids, next_day_id)


def _no_differences(store_id: str, day: date = DAY) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "date": day.isoformat(),
        "intact": True,
        "added": [],
        "removed": [],
        "changed": [],
        "problems": [],
    }


async def _row(entry_id: UUID) -> dict[str, Any]:
    row: dict[str, Any] | None = await LedgerEntry.select().where(LedgerEntry.id == entry_id).first()
    assert row is not None
    return row


async def _set(entry_id: UUID, values: dict[Any, Any]) -> None:
    await LedgerEntry.update(values).where(LedgerEntry.id == entry_id)


async def _edit_and_rehash(entry_id: UUID, **changes: Any) -> None:
    """An insider's edit that also recomputes the row's hash (but cannot sign it)."""
    edited = dataclasses.replace(stored_entry(await _row(entry_id)).entry, **changes)
    columns = {getattr(LedgerEntry, name): value for name, value in changes.items()}
    await _set(entry_id, {**columns, LedgerEntry.entry_hash: edited.digest()})


# --- what the owner saves -------------------------------------------------------------------


async def test_a_days_checkpoint_lists_that_days_entries_and_verifies_intact(till: Till, keyring: Keyring) -> None:
    checkpoint = await till.checkpoint()
    assert checkpoint["version"] == "punchguard-checkpoint-v1"
    assert (checkpoint["store_id"], checkpoint["date"], checkpoint["time_zone"]) == (
        till.cafe.store_id,
        "2026-03-10",
        "America/Los_Angeles",
    )
    assert [UUID(entry["id"]) for entry in checkpoint["entries"]] == till.day_ids, "in the order they were recorded"
    assert checkpoint["tree_size"] == 4
    assert checkpoint["kid"] == keyring.active.kid
    assert await till.report(checkpoint) == _no_differences(till.cafe.store_id)


async def test_the_day_ends_at_the_stores_midnight_not_at_utcs(till: Till) -> None:
    # DAY's last punch (23:54 local) and NEXT_DAY's first (00:00:30 local) share a UTC date.
    next_day = await till.checkpoint(NEXT_DAY)
    assert [UUID(entry["id"]) for entry in next_day["entries"]] == [till.next_day_id]
    assert await till.report(next_day) == _no_differences(till.cafe.store_id, NEXT_DAY)
    empty = await till.checkpoint(DAY - timedelta(days=1))
    assert (empty["tree_size"], empty["entries"]) == (0, [])
    assert empty["root_hash"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


async def test_another_stores_entries_are_in_its_own_checkpoint_only(till: Till) -> None:
    client, owner = till.client, await till.owner()
    till.clock.now = _local(DAY, 22, 0)
    owner = await till.owner()
    store = await client.post(
        "/v1/stores",
        headers=owner,
        json={"name": "Pier 39", "time_zone": "America/Los_Angeles", "latitude": 37.8087, "longitude": -122.4098},
    )
    assert store.status_code == 201, store.text
    pier = store.json()["id"]
    scanner = await client.post(f"/v1/stores/{pier}/scanners", headers=owner, json={"name": "Pier till"})
    assert scanner.status_code == 201, scanner.text
    pier_cafe = dataclasses.replace(
        till.cafe,
        owner_token=owner["Authorization"].removeprefix("Bearer "),
        store_id=pier,
        scanner_id=scanner.json()["scanner"]["id"],
        scanner_secret=scanner.json()["scanner_secret"],
    )
    pier_cashier = await cashier_at_till(pier_cafe, "pier@cafe.test")
    walker = await new_customer(client, till.cafe)
    pier_punch = await _punch(client, pier_cashier, await walker.stamp(), "P-1")
    till.clock.now = _local(NEXT_DAY + timedelta(days=1), 0, 5)

    market = await till.checkpoint()
    assert pier_punch not in [UUID(entry["id"]) for entry in market["entries"]]
    assert await till.report(market) == _no_differences(till.cafe.store_id)
    at_the_pier = await till.checkpoint(store_id=pier)
    assert [UUID(entry["id"]) for entry in at_the_pier["entries"]] == [pier_punch]


# --- what the insider did -------------------------------------------------------------------


async def test_an_inserted_row_is_named_as_added(till: Till, tmp_path: Path) -> None:
    checkpoint = await till.checkpoint()
    head_row = await _row(till.day_ids[-1])
    head = stored_entry(head_row)
    rogue = load_or_create_keyring(tmp_path / "rogue-keyring.json")
    entry = dataclasses.replace(
        head.entry,
        seq=head.entry.seq + 2,  # past NEXT_DAY's entry, which took the next seq
        kind="punch",
        voids=None,
        receipt="R-FAKE",
        recorded_at=_local(DAY, 23, 58),
        prev_hash=head.entry_hash,
    )
    sealed = seal(entry, rogue)
    inserted = uuid4()
    await LedgerEntry.insert(
        LedgerEntry(
            id=inserted,
            card=entry.card,
            business=head_row["business"],
            seq=entry.seq,
            kind=entry.kind,
            store=entry.store,
            scanner=entry.scanner,
            staff=entry.staff,
            receipt=entry.receipt,
            recorded_at=entry.recorded_at,
            prev_hash=entry.prev_hash,
            entry_hash=sealed.entry_hash,
            kid=sealed.kid,
            signature=sealed.signature,
        )
    )
    report = await till.report(checkpoint)
    assert (report["intact"], report["added"], report["removed"], report["changed"]) == (
        False,
        [str(inserted)],
        [],
        [],
    )
    assert report["problems"] == [f"entry {inserted} was added after the checkpoint was signed"]


async def test_a_deleted_row_is_named_as_removed(till: Till) -> None:
    checkpoint = await till.checkpoint()
    await LedgerEntry.delete().where(LedgerEntry.id == till.day_ids[1])
    report = await till.report(checkpoint)
    assert (report["intact"], report["added"], report["removed"], report["changed"]) == (
        False,
        [],
        [str(till.day_ids[1])],
        [],
    )


@pytest.mark.parametrize("rehash", [False, True], ids=["hash-left-alone", "hash-recomputed"])
async def test_an_edited_receipt_is_named_as_changed(till: Till, rehash: bool) -> None:
    checkpoint = await till.checkpoint()
    edited = till.day_ids[2]
    if rehash:
        await _edit_and_rehash(edited, receipt="R-3-EDITED")
    else:
        await _set(edited, {LedgerEntry.receipt: "R-3-EDITED"})
    report = await till.report(checkpoint)
    assert (report["intact"], report["added"], report["removed"], report["changed"]) == (
        False,
        [],
        [],
        [str(edited)],
    )
    why = "its hash is not the one the checkpoint signed" if rehash else "its columns were edited after it was written"
    assert report["problems"][0].startswith(f"entry {edited} changed: {why}")


@pytest.mark.parametrize("rehash", [False, True], ids=["hash-left-alone", "hash-recomputed"])
async def test_a_time_moved_within_the_day_is_named_as_changed(till: Till, rehash: bool) -> None:
    checkpoint = await till.checkpoint()
    edited, earlier = till.day_ids[1], _local(DAY, 9, 15)
    if rehash:
        await _edit_and_rehash(edited, recorded_at=earlier)
    else:
        await _set(edited, {LedgerEntry.recorded_at: earlier})
    report = await till.report(checkpoint)
    assert (report["added"], report["removed"], report["changed"]) == ([], [], [str(edited)])


async def test_a_time_moved_to_another_day_is_named_as_removed_from_this_one(till: Till) -> None:
    checkpoint = await till.checkpoint()
    await _edit_and_rehash(till.day_ids[0], recorded_at=_local(DAY - timedelta(days=1), 12, 0))
    report = await till.report(checkpoint)
    assert (report["added"], report["removed"], report["changed"]) == ([], [str(till.day_ids[0])], [])


async def test_only_the_touched_entries_are_named(till: Till) -> None:
    checkpoint = await till.checkpoint()
    await LedgerEntry.delete().where(LedgerEntry.id == till.day_ids[3])
    await _set(till.day_ids[0], {LedgerEntry.receipt: "R-1-EDITED"})
    await _set(till.next_day_id, {LedgerEntry.recorded_at: _local(DAY, 23, 59)})
    report = await till.report(checkpoint)
    assert (report["added"], report["removed"], report["changed"]) == (
        [str(till.next_day_id)],
        [str(till.day_ids[3])],
        [str(till.day_ids[0])],
    )
    assert len(report["problems"]) == 3


# --- a checkpoint that is not the server's, as signed ---------------------------------------------


def _edit_root(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "root_hash": "00" * 32}


def _drop_an_entry(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "entries": cp["entries"][:-1]}


def _drop_an_entry_and_fix_the_size(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "entries": cp["entries"][:-1], "tree_size": cp["tree_size"] - 1}


def _edit_an_entry_hash(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "entries": [{**cp["entries"][0], "entry_hash": "ab" * 32}, *cp["entries"][1:]]}


def _swap_two_entries(cp: dict[str, Any]) -> dict[str, Any]:
    first, second, *rest = cp["entries"]
    return {**cp, "entries": [second, first, *rest]}


def _move_the_day(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "date": NEXT_DAY.isoformat()}


def _edit_the_time_zone(cp: dict[str, Any]) -> dict[str, Any]:
    return {**cp, "time_zone": "UTC"}


def _edit_a_signature_character(cp: dict[str, Any]) -> dict[str, Any]:
    signature = cp["signature"]
    return {**cp, "signature": ("B" if signature[0] == "A" else "A") + signature[1:]}


TAMPERINGS: list[Callable[[dict[str, Any]], dict[str, Any]]] = [
    _edit_root,
    _drop_an_entry,
    _drop_an_entry_and_fix_the_size,
    _edit_an_entry_hash,
    _swap_two_entries,
    _move_the_day,
    _edit_the_time_zone,
    _edit_a_signature_character,
]


async def test_an_edited_checkpoint_is_refused(till: Till) -> None:
    genuine = await till.checkpoint()
    for tamper in TAMPERINGS:
        response = await till.verify(tamper(genuine))
        assert response.status_code == 400, (tamper.__name__, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == Problem.CHECKPOINT_INVALID.type, tamper.__name__


def _signed_by(cp: dict[str, Any], ring: Keyring, kid: str) -> dict[str, Any]:
    checkpoint = msgspec.convert(cp, Checkpoint)
    message = checkpoint_message(
        store_id=checkpoint.store_id,
        day=checkpoint.date,
        time_zone=checkpoint.time_zone,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        created_at=checkpoint.created_at,
    )
    return {**cp, "kid": kid, "signature": b64u_encode(ring.sign(message))}


async def test_a_checkpoint_signed_by_another_key_is_refused(till: Till, keyring: Keyring, tmp_path: Path) -> None:
    genuine = await till.checkpoint()
    rogue = load_or_create_keyring(tmp_path / "rogue-keyring.json")
    for forged in (
        _signed_by(genuine, rogue, rogue.active.kid),  # the insider's own key
        _signed_by(genuine, rogue, keyring.active.kid),  # ... claiming to be the server's
    ):
        response = await till.verify(forged)
        assert response.status_code == 400, response.text
        assert response.json()["type"] == Problem.CHECKPOINT_INVALID.type


@pytest.fixture
def rotated(keyring_path: Path, tmp_path: Path) -> Keyring:
    """The server's keyring after `rotate-keys`, on a copy so the session's keyring stays as it is."""
    copy = tmp_path / "keyring.json"
    copy.write_bytes(keyring_path.read_bytes())
    copy.chmod(0o600)
    return rotate_keyring(copy)


async def test_a_checkpoint_signed_by_a_retired_key_still_verifies(till: Till, rotated: Keyring) -> None:
    # Rotation keeps old public keys, so last year's checkpoints stay checkable.
    genuine = msgspec.convert(await till.checkpoint(), Checkpoint)
    assert rotated.active.kid != genuine.kid
    report = await verify_checkpoint(genuine, rotated)
    assert (report.intact, report.problems) == (True, [])


# --- who may ask, and bad input -------------------------------------------------------------


async def test_another_business_cannot_fetch_or_verify_a_stores_checkpoint(till: Till, keyring: Keyring) -> None:
    rival = Business(name="Rival")
    await rival.save()
    rival_store = Store(business=rival.id, name="Rival St", time_zone="UTC", latitude=0.0, longitude=0.0)
    await rival_store.save()
    owner = await till.owner()
    missing = await till.client.get(f"/v1/stores/{uuid4()}/checkpoints/2026-03-10", headers=owner)
    theirs = await till.client.get(f"/v1/stores/{rival_store.id}/checkpoints/2026-03-10", headers=owner)
    assert missing.status_code == theirs.status_code == 404
    assert missing.json() == theirs.json()
    genuine = await make_checkpoint(rival_store.id, DAY, keyring, till.clock())
    verify = await till.verify(msgspec.to_builtins(genuine))
    assert verify.status_code == 404, verify.text
    assert verify.json()["type"] == Problem.NOT_FOUND.type


async def test_a_cashier_cannot_fetch_checkpoints(till: Till) -> None:
    till.clock.now = _local(DAY, 23, 59)
    response = await till.client.get(f"/v1/stores/{till.cafe.store_id}/checkpoints/2026-03-09", headers=till.cashier)
    assert response.status_code == 403
    assert response.json()["type"] == Problem.FORBIDDEN.type


async def test_a_bad_or_unfinished_day_is_a_400_problem(till: Till) -> None:
    # 2026-03-12 is still going on at the store: the clock reads 00:05 that day.
    for day in ("2026-13-01", "2026-02-30", "yesterday", "2026-3-10", "20260310", "2026-03-12"):
        response = await till.client.get(
            f"/v1/stores/{till.cafe.store_id}/checkpoints/{day}", headers=await till.owner()
        )
        assert response.status_code == 400, (day, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == Problem.INVALID_REQUEST.type, day


async def test_a_day_at_the_edge_of_the_calendar_is_a_400_problem_not_a_crash(till: Till, keyring: Keyring) -> None:
    # 9999-12-31 has no next day; 0001-01-01 in Tokyo (east of UTC) began before year 1 in UTC.
    tokyo = await till.client.post(
        "/v1/stores",
        headers=await till.owner(),
        json={"name": "Ginza", "time_zone": "Asia/Tokyo", "latitude": 35.67, "longitude": 139.77},
    )
    assert tokyo.status_code == 201, tokyo.text
    for store_id, day in (
        (till.cafe.store_id, "9999-12-31"),
        (tokyo.json()["id"], "9999-12-31"),
        (tokyo.json()["id"], "0001-01-01"),
    ):
        response = await till.client.get(f"/v1/stores/{store_id}/checkpoints/{day}", headers=await till.owner())
        assert response.status_code == 400, (store_id, day, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"] == Problem.INVALID_REQUEST.type, day
    # West of UTC, year 1's first day is a day like any other (with nothing in it).
    empty = await till.checkpoint(date(1, 1, 1))
    assert (empty["date"], empty["tree_size"], empty["entries"]) == ("0001-01-01", 0, [])
    # A signed checkpoint naming such a day is refused the same way when verified.
    genuine = msgspec.convert(await till.checkpoint(), Checkpoint)
    edge = msgspec.structs.replace(
        genuine, date=date(9999, 12, 31), tree_size=0, entries=[], root_hash=merkle_root([]).hex()
    )
    response = await till.verify(_signed_by(msgspec.to_builtins(edge), keyring, keyring.active.kid))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == Problem.INVALID_REQUEST.type


async def test_a_malformed_checkpoint_is_a_400_problem(till: Till) -> None:
    genuine = await till.checkpoint()
    for body in (
        {},
        {"store_id": "not-a-uuid"},
        "checkpoint",
        {**genuine, "note": "trust me"},
        {**genuine, "created_at": genuine["created_at"].rstrip("Z")},  # a time without its offset
        {**genuine, "root_hash": genuine["root_hash"].upper()},
        {**genuine, "version": "punchguard-checkpoint-v2"},
    ):
        response = await till.verify(body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["type"] == Problem.INVALID_REQUEST.type, body


# --- the command line -----------------------------------------------------------------------


async def _run_cli(argv: list[str]) -> int:
    """`python -m api …` in-process; it runs its own event loop, so it gets a thread (and, on
    PostgreSQL, the engine without the test loop's pool, which other loops cannot use)."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine) or engine.pool is None:
        return await asyncio.to_thread(cli, argv)
    await engine.close_connection_pool()
    try:
        return await asyncio.to_thread(cli, argv)
    finally:
        await engine.start_connection_pool(min_size=1, max_size=10)


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, keyring_path: Path) -> Path:
    monkeypatch.setenv("PUNCHGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PUNCHGUARD_KEYRING", str(keyring_path))
    return tmp_path / "offsite"


async def test_the_cli_writes_checkpoints_and_names_what_changed_since(
    till: Till, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run_cli(["checkpoint", "--date", "2026-03-10", "--dir", str(cli_env)]) == 0
    written = cli_env / till.cafe.store_id / "2026-03-10.json"
    assert f"wrote {written}" in capsys.readouterr().out
    saved = json.loads(written.read_text())
    assert [UUID(entry["id"]) for entry in saved["entries"]] == till.day_ids

    assert await _run_cli(["verify-checkpoints", "--dir", str(cli_env)]) == 0
    assert capsys.readouterr().out == f"{till.cafe.store_id} 2026-03-10: intact\n"

    await LedgerEntry.delete().where(LedgerEntry.id == till.day_ids[1])
    await _set(till.day_ids[2], {LedgerEntry.receipt: "R-3-EDITED"})
    await _set(till.next_day_id, {LedgerEntry.recorded_at: _local(DAY, 23, 59)})
    # A second run keeps the first checkpoint: it must not bless the edits.
    assert await _run_cli(["checkpoint", "--date", "2026-03-10", "--dir", str(cli_env)]) == 0
    assert json.loads(written.read_text()) == saved
    capsys.readouterr()

    assert await _run_cli(["verify-checkpoints", "--dir", str(cli_env)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        f"{till.cafe.store_id} 2026-03-10: DIFFERS (3 entries)",
        f"  added    {till.next_day_id}",
        f"  removed  {till.day_ids[1]}",
        f"  changed  {till.day_ids[2]}",
    ]
    assert len(lines) == 7, lines  # and one plain-words line for each


async def test_the_cli_refuses_an_edited_file_and_defaults_to_the_previous_local_day(
    till: Till, cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _run_cli(["checkpoint", "--dir", str(cli_env)]) == 0
    yesterday = datetime.now(UTC).astimezone(LA).date() - timedelta(days=1)
    assert (cli_env / till.cafe.store_id / f"{yesterday.isoformat()}.json").exists()
    assert await _run_cli(["checkpoint", "--date", "2026-03-10", "--dir", str(cli_env)]) == 0
    path = cli_env / till.cafe.store_id / "2026-03-10.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(_drop_an_entry(doc)))
    capsys.readouterr()

    assert await _run_cli(["verify-checkpoints", "--dir", str(cli_env)]) == 1
    out = capsys.readouterr().out
    assert f"{till.cafe.store_id} 2026-03-10: NOT VERIFIED\n  - The entries do not match the signed root" in out
    assert f"{till.cafe.store_id} {yesterday.isoformat()}: intact" in out


async def test_the_cli_help_says_to_keep_checkpoints_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("checkpoint", "verify-checkpoints"):
        with pytest.raises(SystemExit):
            cli([command, "--help"])
        assert "somewhere the database's insiders cannot write" in " ".join(capsys.readouterr().out.split())
