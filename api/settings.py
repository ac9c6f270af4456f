"""Settings, read from the environment once at start-up into a frozen object."""

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. The database is configured by DATABASE_URL (see cards/database.py)."""

    data_dir: Path = Path("data")
    keyring_path: Path = Path("data/keys/keyring.json")
    issuer: str = "punchguard"
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(hours=12)
    session_ttl: timedelta = timedelta(hours=1)
    max_body_bytes: int = 64 * 1024
    # Requests per minute per client address, by route group.
    rate_limits: dict[str, int] = field(default_factory=lambda: {"login": 10, "enroll": 30, "setup": 10})
    log_requests: bool = True

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(os.environ.get("PUNCHGUARD_DATA_DIR", "data"))
        return cls(
            data_dir=data_dir,
            keyring_path=Path(os.environ.get("PUNCHGUARD_KEYRING", data_dir / "keys" / "keyring.json")),
            issuer=os.environ.get("PUNCHGUARD_ISSUER", "punchguard"),
            access_ttl=timedelta(seconds=_int("PUNCHGUARD_ACCESS_TTL_S", 15 * 60)),
            refresh_ttl=timedelta(seconds=_int("PUNCHGUARD_REFRESH_TTL_S", 12 * 3600)),
            session_ttl=timedelta(seconds=_int("PUNCHGUARD_SESSION_TTL_S", 3600)),
            max_body_bytes=_int("PUNCHGUARD_MAX_BODY_BYTES", 64 * 1024),
            rate_limits={
                "login": _int("PUNCHGUARD_LOGIN_PER_MINUTE", 10),
                "enroll": _int("PUNCHGUARD_ENROLL_PER_MINUTE", 30),
                "setup": _int("PUNCHGUARD_SETUP_PER_MINUTE", 10),
            },
            log_requests=os.environ.get("PUNCHGUARD_LOG_REQUESTS", "1") != "0",
        )
