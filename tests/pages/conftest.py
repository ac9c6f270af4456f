from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from crypto import passwords
from tests.support import FakeClock


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its real cost takes ~0.2 s a hash; these tests sign in many times."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", hasher.hash("punchguard-dummy-password"))


@pytest.fixture(autouse=True)
def mid_morning(clock: FakeClock) -> None:
    """Monday 10:00 at the store: a test's punches fall within one day."""
    clock.now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
