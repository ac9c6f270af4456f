"""Signed ledger checkpoints: one store's ledger for one local day, sealed by a Merkle root (T10).

The owner keeps checkpoints where the database's insiders cannot write; checking one later
against the database names every entry added, removed or changed since it was signed.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Final, Literal
from uuid import UUID

import msgspec

from mobile_contract.base import ZERO_OR_MORE, Id, Wire

VERSION: Final = "punchguard-checkpoint-v1"

HexHash = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Kid = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Signature = Annotated[str, msgspec.Meta(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9_-]+$")]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["America/Los_Angeles"])]
Day = date  # a field named `date` cannot also name its type
# Aware only: a time without an offset would sign differently on a server in another zone.
AwareTimestamp = Annotated[datetime, msgspec.Meta(tz=True)]


class CheckpointEntry(Wire, frozen=True, kw_only=True):
    """One leaf: the ledger entry's id and the hash its row carried when the checkpoint was signed."""

    id: Id
    entry_hash: HexHash


# A day of a busy till is a few hundred entries; the cap bounds what a posted checkpoint can make us read.
Entries = Annotated[list[CheckpointEntry], msgspec.Meta(max_length=100_000)]


class Checkpoint(Wire, frozen=True, kw_only=True):
    """A store's ledger entries recorded during one local day, in leaf order (recorded_at, then id).

    Leaf i is `entries[i].id` (16 bytes) followed by `entries[i].entry_hash` (32 bytes);
    `root_hash` is their RFC 9162 Merkle Tree Hash. `signature` is the server's Ed25519
    signature (key `kid`) over `checkpoint_message(...)`.
    """

    version: Literal["punchguard-checkpoint-v1"] = VERSION
    store_id: Id
    date: Day
    time_zone: TimeZone
    tree_size: Annotated[int, msgspec.Meta(ge=0, extra_json_schema=ZERO_OR_MORE)]
    root_hash: HexHash
    entries: Entries
    created_at: AwareTimestamp
    kid: Kid
    signature: Signature


class CheckpointReport(Wire, frozen=True, kw_only=True):
    """How the ledger compares with a checkpoint today; `problems` says it in plain words.

    added: in the ledger now but not in the checkpoint. removed: in the checkpoint but no
    longer among that store's entries for that day (deleted, or moved to another day or
    store). changed: still there, but its row was edited.
    """

    store_id: Id
    date: Day
    intact: bool
    added: list[Id] = []
    removed: list[Id] = []
    changed: list[Id] = []
    problems: list[str] = []


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp could round differently on the two sides.
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def checkpoint_message(
    *, store_id: UUID, day: date, time_zone: str, tree_size: int, root_hash: str, created_at: datetime
) -> bytes:
    """The exact bytes a checkpoint's signature covers; the server and every verifier build them here.

    The time zone is signed because it fixes where the day begins and ends; `created_at`
    (integer microseconds since the epoch) because a checkpoint only vouches for the ledger
    as it was when it was made, so it must be an aware time.
    """
    lines = [
        VERSION,
        str(store_id),
        day.isoformat(),
        time_zone,
        str(tree_size),
        root_hash,
        str(_microseconds(created_at)),
    ]
    return ("\n".join(lines) + "\n").encode()
