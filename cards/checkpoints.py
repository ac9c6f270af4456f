"""Signed checkpoints of each store's ledger, one per local day, kept outside the database (T10).

Row signatures stop an insider from forging entries, but not from deleting whole rows or
a card's tail, nor from rolling the database back. A checkpoint pins the exact set of
entries a store recorded during a day under one signed Merkle root (RFC 9162); kept where
the database's insiders cannot write, it lets anyone re-read that day later and name every
entry that was added, removed or changed since.
"""

import os
import tempfile
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from cryptography.exceptions import InvalidSignature

from cards.audit_log import record_action
from cards.errors import DomainError
from cards.identity import StaffIdentity
from cards.ledger import StoredEntry, stored_entry
from cards.tables import LedgerEntry, Store
from crypto.encoding import EncodingError, b64u_decode, b64u_encode
from crypto.keyring import Keyring
from crypto.merkle import merkle_root
from mobile_contract.checkpoints import Checkpoint, CheckpointEntry, CheckpointReport, checkpoint_message
from mobile_contract.problems import Problem


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(Problem.CHECKPOINT_INVALID, f"Unknown time zone {name!r}") from exc


def day_window(day: date, time_zone: str) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a local calendar day; 23 or 25 hours long across a DST change.

    Each day's end is computed exactly as the next day's start, so consecutive days never
    overlap or leave a gap, whatever the zone does at midnight. A day at the very edge of
    the calendar, whose window cannot be expressed in UTC, is DomainError(INVALID_REQUEST).
    """
    zone = _zone(time_zone)
    try:
        start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    except OverflowError as exc:
        # 9999-12-31 has no next day, and 0001-01-01 east of UTC starts before year 1 in UTC.
        raise DomainError(
            Problem.INVALID_REQUEST, f"{day.isoformat()} in {time_zone} is outside the calendar this server can check"
        ) from exc
    return start, end


def previous_local_day(now: datetime, time_zone: str) -> date:
    """The last calendar day that has fully ended at a store, as of `now`."""
    return now.astimezone(_zone(time_zone)).date() - timedelta(days=1)


def _leaf(entry_id: UUID, entry_hash: str) -> bytes:
    # Fixed widths (16 + 32 bytes), so no two (id, hash) pairs can spell the same leaf.
    return entry_id.bytes + bytes.fromhex(entry_hash)


def _root(entries: list[CheckpointEntry]) -> str:
    return merkle_root([_leaf(e.id, e.entry_hash) for e in entries]).hex()


async def _store_time_zone(store_id: UUID) -> str:
    row = await Store.select(Store.time_zone).where(Store.id == store_id).first()
    if row is None:
        raise DomainError(Problem.NOT_FOUND, "No such store")
    return str(row["time_zone"])


@dataclass(frozen=True, slots=True)
class _Row:
    """A ledger row of the day: parsed when it can be, or just its id when an edit made it unreadable."""

    id: UUID
    entry_hash: str
    stored: StoredEntry | None


async def _day_rows(store_id: UUID, start: datetime, end: datetime) -> list[_Row]:
    """The store's entries recorded in [start, end), in leaf order: (recorded_at, id)."""
    rows: list[dict[str, Any]] = await LedgerEntry.select().where(
        (LedgerEntry.store == store_id) & (LedgerEntry.recorded_at >= start) & (LedgerEntry.recorded_at < end)
    )
    day: list[tuple[datetime, _Row]] = []
    for row in rows:
        entry_id = row["id"] if isinstance(row["id"], UUID) else UUID(str(row["id"]))
        try:
            stored = stored_entry(row)
        except (ValueError, TypeError, KeyError, AssertionError):
            # Only an edit makes a row unparseable; it still belongs to the day the database says.
            day.append((start, _Row(entry_id, str(row["entry_hash"]), None)))
            continue
        # The SQL bound compares stored text on SQLite; the parsed time has the last word.
        if start <= stored.entry.recorded_at < end:
            day.append((stored.entry.recorded_at, _Row(entry_id, stored.entry_hash, stored)))
    day.sort(key=lambda item: (item[0], item[1].id))
    return [row for _, row in day]


async def make_checkpoint(store_id: UUID, day: date, keyring: Keyring, now: datetime) -> Checkpoint:
    """Sign the set of ledger entries `store_id` recorded during its local `day`.

    Refuses a day that has not ended at the store yet: a later honest punch would
    otherwise read as added. Raises DomainError(NOT_FOUND) for an unknown store; scoping
    the store to a business is the caller's job.
    """
    time_zone = await _store_time_zone(store_id)
    start, end = day_window(day, time_zone)
    if now < end:
        raise DomainError(
            Problem.INVALID_REQUEST, f"{day.isoformat()} has not ended yet at this store ({time_zone}); try tomorrow"
        )
    entries = [CheckpointEntry(id=row.id, entry_hash=row.entry_hash) for row in await _day_rows(store_id, start, end)]
    root_hash = _root(entries)
    created_at = now.astimezone(UTC)
    message = checkpoint_message(
        store_id=store_id,
        day=day,
        time_zone=time_zone,
        tree_size=len(entries),
        root_hash=root_hash,
        created_at=created_at,
    )
    return Checkpoint(
        store_id=store_id,
        date=day,
        time_zone=time_zone,
        tree_size=len(entries),
        root_hash=root_hash,
        entries=entries,
        created_at=created_at,
        kid=keyring.active.kid,
        signature=b64u_encode(keyring.sign(message)),
    )


def check_signature(checkpoint: Checkpoint, keyring: Keyring) -> None:
    """Raise DomainError(CHECKPOINT_INVALID) unless this server signed this checkpoint as it stands.

    Both the signature over the header and the Merkle root over the entries are checked,
    so neither a changed header nor an edited, added or dropped entry line gets through.
    """
    key = keyring.public_key(checkpoint.kid)
    if key is None:
        raise DomainError(Problem.CHECKPOINT_INVALID, f"Signed by key {checkpoint.kid!r}, which this server never had")
    message = checkpoint_message(
        store_id=checkpoint.store_id,
        day=checkpoint.date,
        time_zone=checkpoint.time_zone,
        tree_size=checkpoint.tree_size,
        root_hash=checkpoint.root_hash,
        created_at=checkpoint.created_at,
    )
    try:
        key.verify(b64u_decode(checkpoint.signature), message)
    except (EncodingError, InvalidSignature) as exc:
        raise DomainError(
            Problem.CHECKPOINT_INVALID, "The signature does not match: the checkpoint was edited or signed elsewhere"
        ) from exc
    if checkpoint.tree_size != len(checkpoint.entries) or _root(checkpoint.entries) != checkpoint.root_hash:
        raise DomainError(
            Problem.CHECKPOINT_INVALID, "The entries do not match the signed root: the checkpoint's entries were edited"
        )


def _signature_holds(stored: StoredEntry, keyring: Keyring) -> bool:
    key = keyring.public_key(stored.kid)
    try:
        if key is None:
            return False
        key.verify(b64u_decode(stored.signature), bytes.fromhex(stored.entry_hash))
    except (ValueError, EncodingError, InvalidSignature):
        return False
    return True


def _why_changed(row: _Row, signed_hash: str, keyring: Keyring) -> str | None:
    if row.stored is None:
        return "its row was edited until it can no longer be read"
    if row.entry_hash != signed_hash:
        return "its hash is not the one the checkpoint signed (the row was rewritten)"
    if row.stored.entry.digest() != row.entry_hash:
        return "its columns were edited after it was written (they no longer match its hash)"
    if not _signature_holds(row.stored, keyring):
        return "its server signature was replaced"
    return None


async def verify_checkpoint(checkpoint: Checkpoint, keyring: Keyring) -> CheckpointReport:
    """Compare a checkpoint with the ledger as it is now.

    Raises DomainError(CHECKPOINT_INVALID) if the checkpoint itself is not this server's,
    unaltered (see `check_signature`). The day is re-read in the checkpoint's own signed
    time zone, so a later change of the store's zone does not shift it.
    """
    check_signature(checkpoint, keyring)
    start, end = day_window(checkpoint.date, checkpoint.time_zone)
    rows = await _day_rows(checkpoint.store_id, start, end)
    now_by_id = {row.id: row for row in rows}
    signed = {entry.id: entry.entry_hash for entry in checkpoint.entries}
    added = [row.id for row in rows if row.id not in signed]
    removed = [entry.id for entry in checkpoint.entries if entry.id not in now_by_id]
    changed: list[UUID] = []
    problems = [f"entry {entry_id} was added after the checkpoint was signed" for entry_id in added]
    problems += [
        f"entry {entry_id} is gone from this store's ledger for this day (deleted, or moved to another day or store)"
        for entry_id in removed
    ]
    for entry in checkpoint.entries:
        row = now_by_id.get(entry.id)
        why = None if row is None else _why_changed(row, entry.entry_hash, keyring)
        if why is not None:
            changed.append(entry.id)
            problems.append(f"entry {entry.id} changed: {why}")
    return CheckpointReport(
        store_id=checkpoint.store_id,
        date=checkpoint.date,
        intact=not problems,
        added=added,
        removed=removed,
        changed=changed,
        problems=problems,
    )


def checkpoint_path(directory: Path, store_id: UUID, day: date) -> Path:
    """Where `write_checkpoints` keeps a store's checkpoint for a day: `<dir>/<store_id>/<date>.json`."""
    return directory / str(store_id) / f"{day.isoformat()}.json"


def _write_new(path: Path, data: bytes) -> bool:
    """Write `path` unless it exists; a half-written file is never left under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    tmp = Path(tmp_name)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # link() refuses an existing name: a second run never replaces a checkpoint with one
        # made after an insider's edit.
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


async def write_checkpoints(day: date | None, directory: Path, keyring: Keyring, now: datetime) -> list[Path]:
    """Write one signed checkpoint per store of every business; return the files written.

    `day=None` means each store's previous local day. A file that already exists is kept,
    never overwritten, and a store whose `day` has not ended yet is skipped; neither is
    in the returned list.
    """
    written: list[Path] = []
    stores = await Store.select(Store.id, Store.time_zone).order_by(Store.id)
    for store in stores:
        store_id = store["id"] if isinstance(store["id"], UUID) else UUID(str(store["id"]))
        store_day = day or previous_local_day(now, store["time_zone"])
        path = checkpoint_path(directory, store_id, store_day)
        if path.exists():
            continue
        if now < day_window(store_day, store["time_zone"])[1]:
            continue
        checkpoint = await make_checkpoint(store_id, store_day, keyring, now)
        if _write_new(path, msgspec.json.format(msgspec.json.encode(checkpoint), indent=2) + b"\n"):
            written.append(path)
            await record_checkpoint(None, checkpoint, now, where=str(path))
    return written


async def record_checkpoint(actor: StaffIdentity | None, checkpoint: Checkpoint, now: datetime, *, where: str) -> None:
    """Log a checkpoint made (by `actor`, or by the command line): which store, day and root, and where it went."""
    business = await Store.select(Store.business).where(Store.id == checkpoint.store_id).first()
    assert business is not None, "a checkpoint is made for an existing store"
    await record_action(
        actor=actor,
        business_id=business["business"],
        action="checkpoint.make",
        subject_kind="store",
        subject_id=checkpoint.store_id,
        reason=None,
        now=now,
        details={
            "date": checkpoint.date.isoformat(),
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
            "kid": checkpoint.kid,
            "to": where,
        },
    )


def _path_names(path: Path) -> tuple[UUID, date] | None:
    try:
        return UUID(path.parent.name), date.fromisoformat(path.stem)
    except ValueError:
        return None


def _checkpoint_files(directory: Path) -> list[tuple[Path, UUID, date]]:
    found = ((path, _path_names(path)) for path in sorted(directory.glob("*/*.json")))
    return [(path, *names) for path, names in found if names is not None]


async def verify_directory(directory: Path, keyring: Keyring) -> list[CheckpointReport]:
    """Check every `<store_id>/<date>.json` under `directory` against the ledger, in path order.

    A file that cannot be read, or is not this server's unaltered checkpoint, gets a report
    that is not intact and says why; files not named like a checkpoint are not ours and are skipped.
    """
    reports: list[CheckpointReport] = []
    for path, store_id, day in _checkpoint_files(directory):
        try:
            checkpoint = msgspec.json.decode(path.read_bytes(), type=Checkpoint)
            report = await verify_checkpoint(checkpoint, keyring)
        except (OSError, msgspec.DecodeError) as exc:
            reports.append(
                CheckpointReport(store_id=store_id, date=day, intact=False, problems=[f"{path} is unreadable: {exc}"])
            )
            continue
        except DomainError as exc:
            reports.append(CheckpointReport(store_id=store_id, date=day, intact=False, problems=[exc.detail]))
            continue
        if (checkpoint.store_id, checkpoint.date) != (store_id, day):
            misplaced = f"{path} holds the checkpoint of store {checkpoint.store_id} for {checkpoint.date}"
            report = msgspec.structs.replace(report, intact=False, problems=[misplaced, *report.problems])
        reports.append(report)
    return reports
