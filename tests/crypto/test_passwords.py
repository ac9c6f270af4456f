"""Staff passwords: Argon2id hashes, and a check that never says yes by accident (T13)."""

from typing import Literal

import argon2
import pytest

from crypto import passwords
from crypto.passwords import hash_password, verify_password

PASSWORD = "correct horse battery"
# The password behind the module's dummy hash; it is in the source, so it must never log anyone in.
DUMMY_PASSWORD = "punchguard-dummy-password"


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(PASSWORD)


def test_hashed_password_verifies(stored_hash: str) -> None:
    assert verify_password(stored_hash, PASSWORD) is True


def test_hash_is_argon2id_and_does_not_contain_the_password(stored_hash: str) -> None:
    assert stored_hash.startswith("$argon2id$")
    assert PASSWORD not in stored_hash


def test_same_password_hashes_differently_each_time(stored_hash: str) -> None:
    again = hash_password(PASSWORD)

    assert again != stored_hash
    assert verify_password(again, PASSWORD) is True


@pytest.mark.parametrize(
    "attempt", ["correct horse batterY", "correct horse battery ", "", PASSWORD[:-1], PASSWORD.upper(), DUMMY_PASSWORD]
)
def test_wrong_password_does_not_verify(stored_hash: str, attempt: str) -> None:
    assert verify_password(stored_hash, attempt) is False


def test_non_ascii_password_round_trips() -> None:
    stored = hash_password("pässwörd ☕ 密码")

    assert verify_password(stored, "pässwörd ☕ 密码") is True
    assert verify_password(stored, "passwort ☕ 密码") is False


@pytest.mark.parametrize("attempt", [PASSWORD, DUMMY_PASSWORD, ""])
def test_unknown_account_never_verifies(attempt: str) -> None:
    assert verify_password(None, attempt) is False


def test_unknown_account_costs_a_full_argon2_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """T13: a miss must take as long as a hit, so it checks a real hash with the production parameters."""
    checked: list[str] = []

    class RecordingHasher(argon2.PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(hash if isinstance(hash, str) else hash.decode())
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", RecordingHasher())

    assert verify_password(None, PASSWORD) is False
    assert len(checked) == 1
    assert argon2.extract_parameters(checked[0]) == argon2.extract_parameters(hash_password(PASSWORD))


@pytest.mark.parametrize(
    ("password_hash", "attempt"),
    [
        ("garbage", PASSWORD),
        ("$2b$12$C6UzMDM.H6dfI/f/IKcEeO5cfqFGGDwTyAaqlyDeRJoECeJRd0e3i", PASSWORD),
        ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$", PASSWORD),
        ("$argon2id$", PASSWORD),
        ("", PASSWORD),
        pytest.param(
            "",
            DUMMY_PASSWORD,
            id="empty-hash-with-dummy-password",
        ),
        pytest.param(
            "$argon2id$v=19$m=65536,t=3,p=4$säলt$hash",
            PASSWORD,
            id="non-ascii-hash",
        ),
    ],
)
def test_malformed_hash_does_not_verify(password_hash: str, attempt: str) -> None:
    assert verify_password(password_hash, attempt) is False


def test_truncated_hash_does_not_verify(stored_hash: str) -> None:
    for cut in (1, 5, 20):
        assert verify_password(stored_hash[:-cut], PASSWORD) is False
