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
    if not password_hash:
        # Still pay for one verification, and never match: an account without a hash has no password.
        password_hash, known = _DUMMY_HASH, False
    else:
        known = True
    try:
        return _hasher.verify(password_hash, password) and known
    except (VerifyMismatchError, VerificationError, InvalidHashError, ValueError):
        return False
