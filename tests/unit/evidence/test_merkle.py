"""RFC 6962 Merkle proofs: known answers, every size and index, and tampered proofs."""
import hashlib
import itertools

import pytest

from services.contract import merkle

# The test vectors of the Certificate Transparency reference implementation (merkle_tree_test).
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(n):
    return [merkle.leaf_hash(b"evidence %d" % i) for i in range(n)]


def test_roots_match_the_reference_vectors():
    hashed = [merkle.leaf_hash(d) for d in CT_LEAVES]
    for size, expected in enumerate(CT_ROOTS, start=1):
        assert merkle.root(hashed[:size]).hex() == expected
    assert merkle.root([]) == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, 34))
def test_every_leaf_has_a_verifying_inclusion_proof(size):
    leaves = _leaves(size)
    top = merkle.root(leaves)
    for index in range(size):
        merkle.verify_inclusion(leaves[index], index, size, merkle.inclusion_proof(index, leaves), top)


@pytest.mark.parametrize("old,new", [(m, n) for n in range(1, 20) for m in range(1, n + 1)])
def test_every_prefix_has_a_verifying_consistency_proof(old, new):
    leaves = _leaves(new)
    proof = merkle.consistency_proof(old, leaves)
    merkle.verify_consistency(old, new, merkle.root(leaves[:old]), merkle.root(leaves), proof)


def test_tampered_inclusion_proofs_fail_with_a_reason():
    leaves = _leaves(11)
    top, proof = merkle.root(leaves), merkle.inclusion_proof(6, leaves)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
    cases = {
        "flipped node": (leaves[6], 6, 11, flipped, top),
        "other leaf": (leaves[5], 6, 11, proof, top),
        "wrong index": (leaves[6], 7, 11, proof, top),
        "truncated": (leaves[6], 6, 11, proof[:-1], top),
        "extended": (leaves[6], 6, 11, proof + [top], top),
        "wrong size": (leaves[6], 6, 7, proof, top),  # a size of another shape
        "index outside": (leaves[6], 11, 11, proof, top),
    }
    for name, args in cases.items():
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
            pytest.fail(name)


def test_tampered_consistency_proofs_fail_with_a_reason():
    leaves = _leaves(13)
    old_root, new_root = merkle.root(leaves[:5]), merkle.root(leaves)
    proof = merkle.consistency_proof(5, leaves)
    forked = _leaves(5)[:4] + [merkle.leaf_hash(b"rewritten history")]
    for bad in (proof[:-1], proof + [new_root], [bytes(32)] + proof[1:], list(reversed(proof))):
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(5, 13, old_root, new_root, bad)
    with pytest.raises(merkle.ProofError, match="old root"):
        merkle.verify_consistency(5, 13, merkle.root(forked), new_root, proof)


def test_proofs_are_logarithmic():
    leaves = _leaves(1000)
    assert len(merkle.inclusion_proof(999, leaves)) <= 10
    assert all(len(merkle.consistency_proof(m, leaves)) <= 20 for m in itertools.islice(range(1, 1000, 37), 30))
