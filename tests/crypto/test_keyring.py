"""The server's signing keyring file: created private, refused when exposed or edited, rotated safely."""

import json
import multiprocessing
import multiprocessing.queues
import multiprocessing.synchronize
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crypto.encoding import b64u_decode, b64u_encode
from crypto.jwk import jwk_thumbprint
from crypto.keyring import KeyringError, load_keyring, load_or_create_keyring, rotate_keyring

MESSAGE = b"punch 42 at store 7"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "keyring.json"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_bytes())
    return doc


def write_doc(path: Path, doc: dict[str, Any]) -> None:
    """Rewrite the file in place, as an editor would; its mode stays 0600."""
    path.write_text(json.dumps(doc, indent=2))
    assert mode_of(path) == 0o600


def raw_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# --- creation and loading ------------------------------------------------------------


def test_first_load_creates_an_owner_only_file_in_an_owner_only_directory(path: Path) -> None:
    assert not path.parent.exists()

    load_or_create_keyring(path, now=T0)

    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700


def test_first_load_creates_one_active_key_that_signs(path: Path) -> None:
    ring = load_or_create_keyring(path, now=T0)

    assert [key.kid for key in ring] == [ring.active.kid]
    assert ring.active.created_at == T0
    public = ring.public_key(ring.active.kid)
    assert public is not None
    public.verify(ring.sign(MESSAGE), MESSAGE)


def test_kid_is_the_start_of_the_rfc_7638_thumbprint(path: Path) -> None:
    ring = load_or_create_keyring(path, now=T0)
    x = b64u_encode(ring.active.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    assert ring.active.kid == jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": x})[:8]


def test_second_load_returns_the_same_active_key(path: Path) -> None:
    first = load_or_create_keyring(path, now=T0)
    before = path.read_bytes()

    second = load_or_create_keyring(path, now=T1)

    assert second.active.kid == first.active.kid
    assert path.read_bytes() == before
    public = first.public_key(first.active.kid)
    assert public is not None
    public.verify(second.sign(MESSAGE), MESSAGE)


def test_load_keyring_without_a_file_is_refused(path: Path) -> None:
    with pytest.raises(KeyringError, match="no keyring"):
        load_keyring(path)
    assert not path.exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620, 0o602, 0o610], ids=oct)
def test_keyring_readable_or_writable_by_others_is_refused(path: Path, mode: int) -> None:
    load_or_create_keyring(path, now=T0)
    path.chmod(mode)

    with pytest.raises(KeyringError):
        load_keyring(path)
    with pytest.raises(KeyringError):
        load_or_create_keyring(path, now=T0)


def test_unknown_kid_has_no_public_key(path: Path) -> None:
    ring = load_or_create_keyring(path, now=T0)

    assert ring.public_key("AAAAAAAA") is None
    assert ring.public_key("../../etc/passwd") is None
    assert ring.public_key("") is None


# --- edited files --------------------------------------------------------------------


def test_file_whose_kid_does_not_match_its_key_is_refused(path: Path) -> None:
    load_or_create_keyring(path, now=T0)
    doc = read_doc(path)
    doc["keys"][0]["kid"] = doc["active"] = "AAAAAAAA"
    write_doc(path, doc)

    with pytest.raises(KeyringError, match="kid"):
        load_keyring(path)


def test_file_whose_public_key_was_swapped_is_refused(path: Path) -> None:
    load_or_create_keyring(path, now=T0)
    doc = read_doc(path)
    intruder = Ed25519PrivateKey.generate()
    public = raw_public(intruder)
    doc["keys"][0]["public"] = b64u_encode(public)
    doc["keys"][0]["kid"] = doc["active"] = jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": b64u_encode(public)})[
        :8
    ]
    write_doc(path, doc)

    with pytest.raises(KeyringError, match="differ"):
        load_keyring(path)


def test_file_whose_active_key_has_no_private_half_is_refused(path: Path) -> None:
    load_or_create_keyring(path, now=T0)
    doc = read_doc(path)
    del doc["keys"][0]["private"]
    write_doc(path, doc)

    with pytest.raises(KeyringError):
        load_keyring(path)


def test_file_naming_an_unknown_active_kid_is_refused(path: Path) -> None:
    load_or_create_keyring(path, now=T0)
    doc = read_doc(path)
    doc["active"] = "AAAAAAAA"
    write_doc(path, doc)

    with pytest.raises(KeyringError):
        load_keyring(path)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "[]",
        lambda text: "{}",
        lambda text: text.replace('"public"', '"pub"'),
        lambda text: text.replace('"created_at": "', '"created_at": "not a date'),
    ],
    ids=["truncated", "list", "empty-object", "missing-public", "bad-date"],
)
def test_malformed_file_is_refused_with_keyring_error(path: Path, corrupt: Callable[[str], str]) -> None:
    load_or_create_keyring(path, now=T0)
    path.write_text(corrupt(path.read_text()))

    with pytest.raises(KeyringError):
        load_keyring(path)


# --- rotation ------------------------------------------------------------------------


def test_rotation_makes_a_new_active_key(path: Path) -> None:
    old = load_or_create_keyring(path, now=T0)

    rotated = rotate_keyring(path, now=T1)

    assert rotated.active.kid != old.active.kid
    assert rotated.active.created_at == T1
    assert load_keyring(path).active.kid == rotated.active.kid
    assert load_or_create_keyring(path).active.kid == rotated.active.kid


def test_rotation_keeps_the_old_public_key_so_old_signatures_verify(path: Path) -> None:
    old = load_or_create_keyring(path, now=T0)
    old_signature = old.sign(MESSAGE)

    rotate_keyring(path, now=T1)
    reloaded = load_keyring(path)

    old_public = reloaded.public_key(old.active.kid)
    assert old_public is not None
    old_public.verify(old_signature, MESSAGE)
    assert {key.kid: key.created_at for key in reloaded} == {reloaded.active.kid: T1, old.active.kid: T0}


def test_rotation_drops_the_retired_private_key_from_the_file(path: Path) -> None:
    old = load_or_create_keyring(path, now=T0)
    old_private = old.active_private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )

    rotated = rotate_keyring(path, now=T1)

    doc = read_doc(path)
    entries = {entry["kid"]: entry for entry in doc["keys"]}
    assert doc["active"] == rotated.active.kid
    assert set(entries) == {rotated.active.kid, old.active.kid}
    assert "private" not in entries[old.active.kid]
    assert "private" in entries[rotated.active.kid]
    assert b64u_encode(old_private) not in path.read_text()
    assert mode_of(path) == 0o600
    assert [key.private_key for key in load_keyring(path) if key.kid == old.active.kid] == [None]


def test_rotation_leaves_no_temporary_files(path: Path) -> None:
    load_or_create_keyring(path, now=T0)

    rotate_keyring(path, now=T1)

    assert list(path.parent.iterdir()) == [path]


def test_repeated_rotation_keeps_every_public_key_and_only_one_private_key(path: Path) -> None:
    kids = [load_or_create_keyring(path, now=T0).active.kid]
    for _ in range(3):
        kids.append(rotate_keyring(path, now=T1).active.kid)

    ring = load_keyring(path)
    assert len(set(kids)) == 4
    assert {key.kid for key in ring} == set(kids)
    assert [key.kid for key in ring if key.private_key is not None] == [kids[-1]]
    assert sum("private" in entry for entry in read_doc(path)["keys"]) == 1


def test_rotation_refuses_an_exposed_keyring(path: Path) -> None:
    load_or_create_keyring(path, now=T0)
    path.chmod(0o644)
    before = path.read_bytes()

    with pytest.raises(KeyringError):
        rotate_keyring(path, now=T1)
    assert path.read_bytes() == before


# --- JWKS ----------------------------------------------------------------------------


def test_jwks_lists_the_active_key_first_with_its_public_members_only(path: Path) -> None:
    old = load_or_create_keyring(path, now=T0)
    rotated = rotate_keyring(path, now=T1)
    # Put the retired key first in the file, so the order comes from the keyring, not the file.
    doc = read_doc(path)
    doc["keys"].sort(key=lambda entry: entry["kid"] != old.active.kid)
    write_doc(path, doc)
    ring = load_keyring(path)
    assert next(iter(ring)).kid == old.active.kid

    keys = ring.jwks()["keys"]

    assert [key["kid"] for key in keys] == [rotated.active.kid, old.active.kid]
    for key, server_key in zip(keys, [rotated.active, old.active], strict=True):
        assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
        assert b64u_decode(key["x"]) == server_key.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        assert jwk_thumbprint(key)[:8] == key["kid"]


# --- concurrent first start ----------------------------------------------------------


def _load_when_released(
    path: str, barrier: multiprocessing.synchronize.Barrier, results: "multiprocessing.queues.Queue[str]"
) -> None:
    """A worker process starting up: wait for the others, then load or create the keyring."""
    barrier.wait(timeout=60)
    try:
        results.put(load_or_create_keyring(Path(path)).active.kid)
    except Exception as exc:
        results.put(f"error: {exc!r}")


def test_workers_starting_at_once_agree_on_one_key(path: Path) -> None:
    workers = 4
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results: multiprocessing.queues.Queue[str] = context.Queue()
    processes = [
        context.Process(target=_load_when_released, args=(str(path), barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    kids = [results.get(timeout=120) for _ in range(workers)]
    for process in processes:
        process.join(timeout=60)

    ring = load_keyring(path)
    assert kids == [ring.active.kid] * workers
    assert [key.kid for key in ring] == [ring.active.kid]
    assert list(path.parent.iterdir()) == [path]


def test_two_first_starts_with_the_same_pid_agree_on_one_key(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads (or two containers whose server is PID 1) create the keyring at the same moment.

    The interleaving is forced rather than left to the scheduler: the second start runs
    completely just before the first one links its temporary file into place.
    """
    real_link = os.link
    links: list[str] = []
    second: list[str] = []

    def link_after_second_start(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        links.append(str(src))
        if len(links) == 1:  # the first start is about to link: let the second one run to the end
            second.append(load_or_create_keyring(path, now=T1).active.kid)
        real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", link_after_second_start)

    first = load_or_create_keyring(path, now=T0).active.kid

    monkeypatch.undo()
    ring = load_keyring(path)
    assert second == [first] == [ring.active.kid]
    assert [key.kid for key in ring] == [first]
