"""Staff password hashing with Argon2id (argon2-cffi, RFC 9106 parameters)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when an e-mail is unknown, so that a miss costs as much as a hit
# and response times don't tell valid accounts from invalid ones (T13).
_DUMMY_HASH = _hasher.hash("punchguard-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password in constant work whether or not the account exists (pass None)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
