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


# Known answers for proofs over the same eight leaves: inclusionProofs and consistencyProofs of the
# reference verifier's tests, github.com/transparency-dev/merkle proof/verify_test.go (formerly
# google/certificate-transparency-go merkle/log_verifier_test.go, from the C++ merkle_tree_test).
# Leaf numbers there count from 1; here they are 0-based indexes.
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (1, 1, []),
]
# The reference's arbitrary 32-byte hash and the empty tree's root, used to corrupt proofs.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def _ct_root(size: int) -> bytes:
    return bytes.fromhex(CT_ROOTS[size - 1])


@pytest.mark.parametrize("index,size,expected", CT_INCLUSION)
def test_inclusion_proofs_match_the_reference_vectors(index, size, expected):
    hashed = [merkle.leaf_hash(d) for d in CT_LEAVES[:size]]
    proof = [bytes.fromhex(h) for h in expected]
    assert merkle.inclusion_proof(index, hashed) == proof
    merkle.verify_inclusion(hashed[index], index, size, proof, _ct_root(size))


@pytest.mark.parametrize("old,new,expected", CT_CONSISTENCY)
def test_consistency_proofs_match_the_reference_vectors(old, new, expected):
    hashed = [merkle.leaf_hash(d) for d in CT_LEAVES[:new]]
    proof = [bytes.fromhex(h) for h in expected]
    assert merkle.consistency_proof(old, hashed) == proof
    merkle.verify_consistency(old, new, _ct_root(old), _ct_root(new), proof)


def _flipped(proof: list[bytes], at: int, bit: int) -> list[bytes]:
    return [bytes([p[0] ^ bit]) + p[1:] if i == at else p for i, p in enumerate(proof)]


@pytest.mark.parametrize("index,size,expected", [v for v in CT_INCLUSION if v[2]])
def test_the_reference_corruptions_of_inclusion_proofs_are_refused(index, size, expected):
    """The probes of the reference's corruptInclusionProof, each of which must fail."""
    proof, top = [bytes.fromhex(h) for h in expected], _ct_root(size)
    leaf = merkle.leaf_hash(CT_LEAVES[index])
    probes = {
        "leafIndex - 1": (leaf, index - 1, size, proof, top),
        "leafIndex + 1": (leaf, index + 1, size, proof, top),
        "leafIndex ^ 2": (leaf, index ^ 2, size, proof, top),
        "treeSize * 2": (leaf, index, size * 2, proof, top),
        "treeSize / 2": (leaf, index, size // 2, proof, top),
        "wrong leaf": (b"WrongLeaf", index, size, proof, top),
        "empty root": (leaf, index, size, proof, EMPTY_TREE),
        "random root": (leaf, index, size, proof, SOME_HASH),
        "trailing garbage": (leaf, index, size, proof + [b""], top),
        "trailing root": (leaf, index, size, proof + [top], top),
        "preceding garbage": (leaf, index, size, [b""] + proof, top),
        "preceding root": (leaf, index, size, [top] + proof, top),
        "removed component": (leaf, index, size, proof[:-1], top),
        **{f"modified proof[{i}] bit 3": (leaf, index, size, _flipped(proof, i, 8), top) for i in range(len(proof))},
    }
    if len(proof) > 1:
        probes["inserted component"] = (leaf, index, size, [SOME_HASH, proof[0], *proof[1:]], top)
    accepted = []
    for name, args in probes.items():
        try:
            merkle.verify_inclusion(*args)
            accepted.append(name)
        except merkle.ProofError:
            pass
    assert not accepted, f"accepted corrupted proofs: {accepted}"


@pytest.mark.parametrize("old,new,expected", [v for v in CT_CONSISTENCY if v[2]])
def test_the_reference_corruptions_of_consistency_proofs_are_refused(old, new, expected):
    """The probes of the reference's corruptConsistencyProof, each of which must fail."""
    proof, first, second = [bytes.fromhex(h) for h in expected], _ct_root(old), _ct_root(new)
    probes = {
        "size1 - 1": (old - 1, new, first, second, proof),
        "size1 + 1": (old + 1, new, first, second, proof),
        "size1 ^ 2": (old ^ 2, new, first, second, proof),
        "size2 * 2": (old, new * 2, first, second, proof),
        "size2 / 2": (old, new // 2, first, second, proof),
        "wrong root1": (old, new, b"WrongRoot", second, proof),
        "wrong root2": (old, new, first, b"WrongRoot", proof),
        "swapped roots": (old, new, second, first, proof),
        "empty proof": (old, new, first, second, []),
        "trailing garbage": (old, new, first, second, proof + [b""]),
        "trailing root1": (old, new, first, second, proof + [first]),
        "trailing root2": (old, new, first, second, proof + [second]),
        "preceding garbage": (old, new, first, second, [b""] + proof),
        "preceding root1": (old, new, first, second, [first] + proof),
        "preceding root2": (old, new, first, second, [second] + proof),
        "preceding proof[0]": (old, new, first, second, [proof[0]] + proof),
        "truncated proof": (old, new, first, second, proof[:-1]),
        **{f"modified proof[{i}] bit 4": (old, new, first, second, _flipped(proof, i, 16)) for i in range(len(proof))},
    }
    accepted = []
    for name, args in probes.items():
        try:
            merkle.verify_consistency(*args)
            accepted.append(name)
        except merkle.ProofError:
            pass
    assert not accepted, f"accepted corrupted proofs: {accepted}"
