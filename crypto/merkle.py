"""The Merkle Tree Hash of RFC 9162 (Certificate Transparency v2) section 2.1.1.

A checkpoint signs one root over a day's ledger entries; the RFC's tree lets a later
inclusion or consistency proof work without changing the format. Written by hand because
neither `hashlib` nor `cryptography` offers it, and it is a dozen lines.
"""

import hashlib
from collections.abc import Sequence

# Domain separation (RFC 9162 §2.1.1): a leaf can never be read as an interior node.
_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right), over the two subtrees' hashes."""
    return hashlib.sha256(_NODE + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    # The k of the RFC: the largest power of two smaller than n (n >= 2).
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _largest_power_of_two_below(len(hashes))
    return node_hash(_subtree(hashes[:k]), _subtree(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over the leaves' raw data (not their hashes), in order; SHA-256("") for none.

    The order matters: the same leaves in another order give another root.
    """
    if not leaves:
        return hashlib.sha256(b"").digest()
    return _subtree([leaf_hash(leaf) for leaf in leaves])
