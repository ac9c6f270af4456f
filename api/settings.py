"""Settings, read from the environment once at start-up into a frozen object."""

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cards.database import data_dir as configured_data_dir


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _networks(text: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR blocks, checked now so that a typo stops the start-up."""
    parts = tuple(part.strip() for part in text.split(",") if part.strip())
    for part in parts:
        ipaddress.ip_network(part, strict=False)
    return parts


# Requests per minute, by route group: per client address, and for "login_account" per e-mail.
DEFAULT_RATE_LIMITS = {"login": 10, "login_account": 10, "refresh": 30, "enroll": 30, "setup": 10}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. The database is DATABASE_URL, or the SQLite file in `data_dir`
    (see cards/database.py): PUNCHGUARD_DATA_DIR moves the keys and that file together."""

    data_dir: Path = Path("data")
    keyring_path: Path = Path("data/keys/keyring.json")
    issuer: str = "punchguard"
    access_ttl: timedelta = timedelta(minutes=15)
    # A staff sign-in lasts this long at most, however often its tokens are refreshed.
    refresh_ttl: timedelta = timedelta(hours=12)
    session_ttl: timedelta = timedelta(hours=1)
    max_body_bytes: int = 64 * 1024
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR blocks); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # Origins whose web pages may call the API from a browser (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    log_requests: bool = True
    # How often each server process sweeps expired rows (challenges, codes, sessions...); 0: never.
    sweep_every_s: int = 300
    # A console sign-in (a browser's cookie) ends after this long unused, and at refresh_ttl at most.
    console_idle: timedelta = timedelta(minutes=30)
    # The address customers and tills reach the server at (e.g. https://cafe.example behind a TLS
    # proxy), for links the console prints; None: the address the console was opened at.
    public_url: str | None = None

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = configured_data_dir()
        return cls(
            data_dir=data_dir,
            keyring_path=Path(os.environ.get("PUNCHGUARD_KEYRING", data_dir / "keys" / "keyring.json")),
            issuer=os.environ.get("PUNCHGUARD_ISSUER", "punchguard"),
            access_ttl=timedelta(seconds=_int("PUNCHGUARD_ACCESS_TTL_S", 15 * 60)),
            refresh_ttl=timedelta(seconds=_int("PUNCHGUARD_REFRESH_TTL_S", 12 * 3600)),
            session_ttl=timedelta(seconds=_int("PUNCHGUARD_SESSION_TTL_S", 3600)),
            max_body_bytes=_int("PUNCHGUARD_MAX_BODY_BYTES", 64 * 1024),
            rate_limits={
                group: _int(f"PUNCHGUARD_{group.upper()}_PER_MINUTE", default)
                for group, default in DEFAULT_RATE_LIMITS.items()
            },
            trusted_proxies=_networks(os.environ.get("PUNCHGUARD_TRUSTED_PROXIES", "")),
            cors_origins=tuple(
                o.strip() for o in os.environ.get("PUNCHGUARD_CORS_ORIGINS", "").split(",") if o.strip()
            ),
            log_requests=os.environ.get("PUNCHGUARD_LOG_REQUESTS", "1") != "0",
            sweep_every_s=_int("PUNCHGUARD_SWEEP_EVERY_S", 300),
            console_idle=timedelta(seconds=_int("PUNCHGUARD_CONSOLE_IDLE_S", 30 * 60)),
            public_url=os.environ.get("PUNCHGUARD_PUBLIC_URL", "").strip().rstrip("/") or None,
        )
