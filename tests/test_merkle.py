"""sync.merkle against the RFC 6962 test vectors and a brute-force transcription of RFC 9162 §2.1."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import keys, merkle
from sync.errors import MerkleProofError

# RFC 6962 test data (as published with the Certificate Transparency / transparency-dev merkle code).
CT_ENTRIES = [bytes.fromhex(h) for h in
              ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, proof)
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
]
CT_CONSISTENCY = [  # (old size, size, proof)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_LEAVES = [merkle.leaf_hash(entry) for entry in CT_ENTRIES]


# --- the reference: RFC 9162 §2.1 definitions, transcribed literally -----------------------------------------

def ref_split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = ref_split(len(leaves))
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m, leaves):
    if len(leaves) == 1:
        return []
    k = ref_split(len(leaves))
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m, leaves, whole):
    n = len(leaves)
    if m == n:
        return [] if whole else [ref_mth(leaves)]
    k = ref_split(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], whole) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def synthetic_leaves(n):
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def rejects(check, *args):
    with pytest.raises(MerkleProofError):
        check(*args)
    return True


# --- known answers --------------------------------------------------------------------------------------------

def test_rfc6962_roots():
    tree = merkle.MerkleTree()
    assert tree.root().hex() == CT_ROOTS[0]
    for size, leaf in enumerate(CT_LEAVES, start=1):
        tree.append(leaf)
        assert tree.root().hex() == CT_ROOTS[size]
    for size in range(len(CT_ROOTS)):
        assert tree.root(size).hex() == CT_ROOTS[size]
        assert merkle.root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize("index, size, proof_hex", CT_INCLUSION)
def test_rfc6962_inclusion_proofs(index, size, proof_hex):
    proof = [bytes.fromhex(h) for h in proof_hex]
    assert merkle.inclusion_proof(index, CT_LEAVES[:size]) == proof
    assert merkle.MerkleTree(CT_LEAVES).inclusion_proof(index, size) == proof
    merkle.verify_inclusion(CT_LEAVES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize("old_size, size, proof_hex", CT_CONSISTENCY)
def test_rfc6962_consistency_proofs(old_size, size, proof_hex):
    proof = [bytes.fromhex(h) for h in proof_hex]
    assert merkle.consistency_proof(old_size, CT_LEAVES[:size]) == proof
    assert merkle.MerkleTree(CT_LEAVES).consistency_proof(old_size, size) == proof
    merkle.verify_consistency(old_size, size, bytes.fromhex(CT_ROOTS[old_size]), bytes.fromhex(CT_ROOTS[size]), proof)


# --- against the reference ------------------------------------------------------------------------------------

@settings(max_examples=80)
@given(st.lists(st.binary(max_size=8), max_size=70))
def test_root_matches_reference(entries):
    leaves = [merkle.leaf_hash(e) for e in entries]
    assert merkle.root(leaves) == ref_mth(leaves)


@settings(max_examples=80)
@given(st.integers(min_value=1, max_value=140), st.data())
def test_inclusion_proofs_match_reference_and_verify(size, data):
    leaves = synthetic_leaves(size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    tree = merkle.MerkleTree(leaves)
    proof = tree.inclusion_proof(index)
    assert proof == ref_path(index, leaves)
    root = ref_mth(leaves)
    merkle.verify_inclusion(leaves[index], index, size, proof, root)
    # Wrong leaf, index, size or root; any proof element altered, dropped or added: all refused.
    assert rejects(merkle.verify_inclusion, merkle.leaf_hash(b"other"), index, size, proof, root)
    for wrong_index in {index - 1, index + 1, index ^ 2} - {index}:
        if wrong_index >= 0:
            assert rejects(merkle.verify_inclusion, leaves[index], wrong_index, size, proof, root)
    for wrong_size in {size * 2, size // 2} - {size}:
        assert rejects(merkle.verify_inclusion, leaves[index], index, wrong_size, proof, root)
    assert rejects(merkle.verify_inclusion, leaves[index], index, size, proof, merkle.EMPTY_ROOT)
    for position in range(len(proof)):
        altered = list(proof)
        altered[position] = bytes([altered[position][0] ^ 8]) + altered[position][1:]
        assert rejects(merkle.verify_inclusion, leaves[index], index, size, altered, root)
    if proof:
        assert rejects(merkle.verify_inclusion, leaves[index], index, size, proof[:-1], root)
    assert rejects(merkle.verify_inclusion, leaves[index], index, size, proof + [root], root)
    assert rejects(merkle.verify_inclusion, leaves[index], index, size, [root] + proof, root)


@settings(max_examples=80)
@given(st.integers(min_value=1, max_value=140), st.data())
def test_consistency_proofs_match_reference_and_verify(size, data):
    leaves = synthetic_leaves(size)
    old_size = data.draw(st.integers(min_value=0, max_value=size))
    tree = merkle.MerkleTree(leaves)
    proof = tree.consistency_proof(old_size)
    old_root, root = ref_mth(leaves[:old_size]), ref_mth(leaves)
    if 0 < old_size < size:
        assert proof == ref_subproof(old_size, leaves, True)
    else:
        assert proof == []
    merkle.verify_consistency(old_size, size, old_root, root, proof)
    if not proof:
        return
    assert rejects(merkle.verify_consistency, old_size, size, root, old_root, proof)
    assert rejects(merkle.verify_consistency, old_size, size, merkle.EMPTY_ROOT, root, proof)
    assert rejects(merkle.verify_consistency, old_size, size, old_root, merkle.EMPTY_ROOT, proof)
    assert rejects(merkle.verify_consistency, old_size, size, old_root, root, [])
    assert rejects(merkle.verify_consistency, old_size, size, old_root, root, proof[:-1])
    assert rejects(merkle.verify_consistency, old_size, size, old_root, root, proof + [root])
    assert rejects(merkle.verify_consistency, old_size, size, old_root, root, [proof[0]] + proof)
    for position in range(len(proof)):
        altered = list(proof)
        altered[position] = bytes([altered[position][0] ^ 16]) + altered[position][1:]
        assert rejects(merkle.verify_consistency, old_size, size, old_root, root, altered)
    for wrong_old in {old_size - 1, old_size + 1, old_size ^ 2} - {old_size}:
        if 0 < wrong_old < size:
            assert rejects(merkle.verify_consistency, wrong_old, size, old_root, root, proof)
    assert rejects(merkle.verify_consistency, old_size, size * 2, old_root, root, proof)


@settings(max_examples=80)
@given(st.integers(min_value=0, max_value=140), st.data())
def test_a_tree_cut_back_is_the_tree_of_that_size_and_grows_like_it(size, data):
    leaves = synthetic_leaves(size + 40)
    cut = data.draw(st.integers(min_value=0, max_value=size))
    tree = merkle.MerkleTree(leaves[:size])
    tree.truncate(cut)
    fresh = merkle.MerkleTree(leaves[:cut])
    assert tree.size == cut and [level for level in tree._levels if level] == [level for level in fresh._levels if level]
    for leaf in leaves[cut:]:  # appended again, it is the tree of every size on the way
        tree.append(leaf)
        assert tree.root() == ref_mth(leaves[:tree.size])
    with pytest.raises(ValueError):
        tree.truncate(tree.size + 1)


def test_every_pair_of_sizes_up_to_40():
    leaves = synthetic_leaves(40)
    tree = merkle.MerkleTree(leaves)
    roots = [ref_mth(leaves[:n]) for n in range(41)]
    for size in range(41):
        assert tree.root(size) == roots[size]
        for index in range(size):
            assert tree.inclusion_proof(index, size) == ref_path(index, leaves[:size])
        for old_size in range(size + 1):
            proof = tree.consistency_proof(old_size, size)
            merkle.verify_consistency(old_size, size, roots[old_size], roots[size], proof)


def test_edge_cases():
    assert rejects(merkle.verify_inclusion, merkle.EMPTY_ROOT, 0, 0, [], merkle.EMPTY_ROOT)
    leaf = merkle.leaf_hash(b"data")
    merkle.verify_inclusion(leaf, 0, 1, [], leaf)
    assert rejects(merkle.verify_inclusion, leaf, 0, 1, [], b"short")
    assert rejects(merkle.verify_consistency, 2, 1, leaf, leaf, [])
    assert rejects(merkle.verify_consistency, 1, 1, leaf, merkle.EMPTY_ROOT, [])
    assert rejects(merkle.verify_consistency, 1, 1, leaf, leaf, [leaf])
    assert rejects(merkle.verify_consistency, 0, 1, merkle.EMPTY_ROOT, leaf, [leaf])
    tree = merkle.MerkleTree([leaf])
    for bad_call in (lambda: tree.inclusion_proof(1), lambda: tree.root(2), lambda: tree.consistency_proof(2),
                     lambda: tree.append(b"short")):
        with pytest.raises(ValueError):
            bad_call()


def test_a_large_log_answers_without_rehashing_it(monkeypatch):
    """100,000 leaves: a proof costs O(log^2 n) node hashes, not a pass over the log."""
    size = 100_000
    leaves = synthetic_leaves(size)
    tree = merkle.MerkleTree(leaves)
    root = tree.root()
    calls = 0
    real_node_hash = merkle.node_hash

    def counting(left, right):
        nonlocal calls
        calls += 1
        return real_node_hash(left, right)

    monkeypatch.setattr(merkle, "node_hash", counting)
    bound = math.ceil(math.log2(size)) ** 2
    for index in (0, 1, 54_321, 65_536, size - 1):
        calls = 0
        proof = tree.inclusion_proof(index)
        assert calls <= bound
        merkle.verify_inclusion(leaves[index], index, size, proof, root)
    calls = 0
    proof = tree.consistency_proof(77_777)
    assert calls <= bound
    merkle.verify_consistency(77_777, size, tree.root(77_777), root, proof)


# --- signed tree heads ----------------------------------------------------------------------------------------

BUREAU_SIGNING = keys.generate_signing_key()


def test_tree_head_round_trip_and_tampering():
    root = ref_mth(synthetic_leaves(5))
    head = merkle.sign_tree_head(5, root, 1_740_000_000_000, BUREAU_SIGNING)
    assert set(head) == {"size", "root", "timestamp", "signature"}
    assert merkle.verify_tree_head(head, BUREAU_SIGNING.public_key()) == (5, root)
    altered_root = ("0" if head["root"][0] != "0" else "1") + head["root"][1:]
    for altered in ({**head, "size": 6}, {**head, "timestamp": head["timestamp"] + 1}, {**head, "root": altered_root}):
        with pytest.raises(MerkleProofError) as caught:
            merkle.verify_tree_head(altered, BUREAU_SIGNING.public_key())
        assert caught.value.reason_code == "tree_head_signature_invalid"
    with pytest.raises(MerkleProofError) as caught:
        merkle.verify_tree_head(head, keys.generate_signing_key().public_key())
    assert caught.value.reason_code == "tree_head_signature_invalid"
    for malformed in ({**head, "size": -1}, {**head, "size": 5.0}, {**head, "root": head["root"].upper()},
                      {**head, "extra": 1}, {k: v for k, v in head.items() if k != "signature"}, None):
        with pytest.raises(MerkleProofError) as caught:
            merkle.verify_tree_head(malformed, BUREAU_SIGNING.public_key())
        assert caught.value.reason_code == "bad_tree_head"
