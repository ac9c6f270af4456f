"""Point validation on edwards25519, the curve under Ed25519 (RFC 8032), in plain Python integers.

Why this is hand-written: neither `cryptography` nor the OpenSSL under it exposes any check on
an Ed25519 public key. `Ed25519PublicKey.from_public_bytes` accepts any 32 bytes, and OpenSSL's
verify is cofactorless and never looks at the order of the key. So a key that is a small-order
point -- one for which a fixed signature verifies for every message -- loads and verifies like
an honest one. The checks PunchGuard needs (canonical encoding, on the curve, not of small
order, in the prime-order subgroup) are a few lines of arithmetic on the curve, written here
from RFC 8032 section 5.1 with the point formulas of its section 6 (extended coordinates).

Nothing here is secret and nothing here signs: the inputs are public keys and the R half of
signatures, so the arithmetic does not need to run in constant time.

Curve: -x^2 + y^2 = 1 + d*x^2*y^2 over GF(p), p = 2^255 - 19, d = -121665/121666. The group
of points has order 8*L with L = 2^252 + 27742317777372353535851937790883648493 prime; honest
public keys are [a]B for the base point B of order L, so they lie in the subgroup of order L.
"""

import enum
import functools

P = 2**255 - 19
"""The field prime."""

L = 2**252 + 27742317777372353535851937790883648493
"""The order of the base point, and of the subgroup honest keys live in."""

D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]
"""A point in extended coordinates (X, Y, Z, T): x = X/Z, y = Y/Z, x*y = T/Z."""

IDENTITY: Point = (0, 1, 1, 0)

_BASE_Y = 4 * pow(5, -1, P) % P


class Defect(enum.Enum):
    """Why a 32-byte string is refused as a point (or as a public key)."""

    Y_NOT_REDUCED = "y_not_reduced"
    """The y coordinate is p or more: another spelling of the point whose y is 2^255 - 19 less."""
    NEGATIVE_ZERO = "negative_zero"
    """x = 0 with the sign bit set: the point's one canonical spelling has the bit clear."""
    NOT_ON_CURVE = "not_on_curve"
    """No x satisfies the curve equation for this y."""
    SMALL_ORDER = "small_order"
    """[8]P is the identity: one of the 8 points anyone can sign for."""
    MIXED_ORDER = "mixed_order"
    """Not small, but outside the subgroup of order L: an honest key plus a small-order point."""


class PointDecodingError(ValueError):
    """The encoding is not the canonical encoding of a point on the curve."""

    def __init__(self, defect: Defect) -> None:
        super().__init__(defect.value)
        self.defect = defect


def point_add(p: Point, q: Point) -> Point:
    """P + Q (RFC 8032 section 5.1.4; complete, so it also doubles and handles the identity)."""
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def point_negate(p: Point) -> Point:
    return (-p[0] % P, p[1], p[2], -p[3] % P)


def scalar_mult(k: int, p: Point) -> Point:
    """[k]P by double-and-add. Inputs are public, so variable time is fine."""
    result = IDENTITY
    addend = p
    while k > 0:
        if k & 1:
            result = point_add(result, addend)
        addend = point_add(addend, addend)
        k >>= 1
    return result


def is_identity(p: Point) -> bool:
    return p[0] % P == 0 and (p[1] - p[2]) % P == 0


def points_equal(p: Point, q: Point) -> bool:
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


def _recover_x(y: int, sign: int) -> int:
    """The x with the given sign bit on the curve at y (RFC 8032 section 5.1.3, steps 2-4).

    x = sqrt(u/v) with u = y^2 - 1, v = d*y^2 + 1, computed as u*v^3*(u*v^7)^((p-5)/8): one
    exponentiation and no inversion, as the RFC suggests.
    """
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vx2 = v * x * x % P
    if vx2 == (-u) % P:
        x = x * SQRT_M1 % P
    elif vx2 != u:
        raise PointDecodingError(Defect.NOT_ON_CURVE)
    if x == 0 and sign:
        raise PointDecodingError(Defect.NEGATIVE_ZERO)
    if x & 1 != sign:
        x = P - x
    return x


def decode_point(encoded: bytes) -> Point:
    """Decode a 32-byte point strictly: refuse y >= p, negative zero and points off the curve.

    RFC 8032 section 5.1.3 already says to fail on y >= p and on x = 0 with the sign bit set;
    many implementations skip both, which is how one point gets several spellings.
    """
    if len(encoded) != 32:
        raise ValueError("an encoded point is 32 bytes")
    value = int.from_bytes(encoded, "little")
    y = value & ((1 << 255) - 1)
    sign = value >> 255
    if y >= P:
        raise PointDecodingError(Defect.Y_NOT_REDUCED)
    x = _recover_x(y, sign)
    return (x, y, 1, x * y % P)


def encode_point(p: Point) -> bytes:
    """The canonical 32-byte encoding (RFC 8032 section 5.1.2)."""
    z_inv = pow(p[2], -1, P)
    x = p[0] * z_inv % P
    y = p[1] * z_inv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def has_small_order(p: Point) -> bool:
    """Whether [8]P is the identity, i.e. P is one of the 8 points of order 1, 2, 4 or 8."""
    return is_identity(scalar_mult(8, p))


def in_prime_order_subgroup(p: Point) -> bool:
    """Whether [L]P is the identity. Every [a]B is; a point with a torsion part is not."""
    return is_identity(scalar_mult(L, p))


BASE: Point = (_recover_x(_BASE_Y, 0), _BASE_Y, 1, _recover_x(_BASE_Y, 0) * _BASE_Y % P)
"""The base point B of RFC 8032 (y = 4/5, x positive)."""


@functools.lru_cache(maxsize=4096)
def public_key_defect(encoded: bytes) -> Defect | None:
    """What is wrong with `encoded` as an Ed25519 public key, or None if nothing.

    Cached on the 32 bytes because PunchGuard re-checks a stored key each time it reads it
    back, and the subgroup check ([L]P, some 380 point operations, about 2 ms) is the slow part.
    """
    try:
        point = decode_point(encoded)
    except PointDecodingError as exc:
        return exc.defect
    if has_small_order(point):
        return Defect.SMALL_ORDER
    if not in_prime_order_subgroup(point):
        return Defect.MIXED_ORDER
    return None


SMALL_ORDER_ENCODINGS = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # the identity (order 1)
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # (0, -1), order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # (sqrt(-1), 0), order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # (-sqrt(-1), 0), order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    )
)
"""The canonical encodings of the 8 points of small order (tests recompute them as [k]T, T of order 8)."""

NEGATIVE_ZERO_ENCODINGS = frozenset(
    bytes.fromhex(h)
    for h in (
        "0100000000000000000000000000000000000000000000000000000000000080",  # y = 1 with the sign bit set
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  # y = -1 with the sign bit set
    )
)
"""x = 0 only where y^2 = 1, so these two are the only "negative zero" spellings with y < p."""


def signature_r_defect(encoded: bytes) -> Defect | None:
    """What is wrong with `encoded` as the R half of a signature, or None if nothing.

    R must be canonical (y < p, no negative zero) and must not be one of the 8 small-order points.
    This runs on every signature, so it compares bytes instead of doing curve arithmetic: once y < p
    and negative zero are excluded, a small-order R can only be spelled as one of the 8 encodings.
    An R off the curve is left to OpenSSL, which cannot decode it and refuses the signature. A
    mixed-order R needs no check either: under a key in the prime-order subgroup, the cofactorless
    equation R = [S]B - [k]A that OpenSSL checks only holds for R in that subgroup.
    """
    if len(encoded) != 32:
        raise ValueError("an encoded point is 32 bytes")
    if int.from_bytes(encoded, "little") & ((1 << 255) - 1) >= P:
        return Defect.Y_NOT_REDUCED
    if encoded in NEGATIVE_ZERO_ENCODINGS:
        return Defect.NEGATIVE_ZERO
    if encoded in SMALL_ORDER_ENCODINGS:
        return Defect.SMALL_ORDER
    return None
