"""The RFC 9162 Merkle Tree Hash reproduces Certificate Transparency's published test vectors.

The vectors are copied from google/certificate-transparency, python/ct/crypto/merkle_test.py
(TreeHasherTest: the leaf, node and full-tree hashes its C++ and Python log servers were tested
against). A naive implementation written straight from the RFC's recursive definition checks
sizes the vectors do not cover.
"""

import hashlib

import pytest

from crypto.merkle import leaf_hash, merkle_root, node_hash

EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# (leaf data, SHA-256(0x00 || data)).
LEAF_HASHES = [
    ("", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ("101112131415161718191a1b1c1d1e1f", "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"),
]

# (left, right, SHA-256(0x01 || left || right)).
NODE_HASHES = [
    (
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
        "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57",
    )
]

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# The root of the first n leaves, for n = 1..8.
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _naive_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 read literally: k is found by counting up, not by bit tricks."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _naive_root(leaves[:k]) + _naive_root(leaves[k:])).digest()


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle_root([]).hex() == EMPTY_ROOT


@pytest.mark.parametrize(("data", "expected"), LEAF_HASHES)
def test_leaf_hashes_match_the_published_vectors(data: str, expected: str) -> None:
    assert leaf_hash(bytes.fromhex(data)).hex() == expected


@pytest.mark.parametrize(("left", "right", "expected"), NODE_HASHES)
def test_node_hashes_match_the_published_vectors(left: str, right: str, expected: str) -> None:
    assert node_hash(bytes.fromhex(left), bytes.fromhex(right)).hex() == expected


@pytest.mark.parametrize("size", range(1, len(ROOTS) + 1))
def test_roots_match_certificate_transparencys_vectors(size: int) -> None:
    assert merkle_root(LEAVES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize("size", range(0, 70))
def test_roots_match_the_definition_for_sizes_the_vectors_skip(size: int) -> None:
    leaves = [i.to_bytes(2, "big") * (i % 5) for i in range(size)]
    assert merkle_root(leaves) == _naive_root(leaves)


def test_order_duplicates_and_leaf_boundaries_all_change_the_root() -> None:
    leaves = LEAVES[:5]
    root = merkle_root(leaves)
    assert merkle_root([leaves[1], leaves[0], *leaves[2:]]) != root
    # Bitcoin's tree repeats an odd last leaf; this one must not, or a duplicated entry would pass.
    assert merkle_root([*LEAVES[:3], LEAVES[2]]) != merkle_root(LEAVES[:3])
    # The same bytes split into leaves differently are a different tree.
    assert merkle_root([b"ab", b"c"]) != merkle_root([b"a", b"bc"])
    # A leaf whose data is two node hashes does not collide with the node above them.
    pair = [b"x", b"y"]
    assert merkle_root([leaf_hash(b"x") + leaf_hash(b"y")]) != merkle_root(pair)
