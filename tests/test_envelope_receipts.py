"""sync.envelope receipts: the bureau's signed answer that a record is in its log; any alteration is refused."""

from __future__ import annotations

import base64
import copy

import pytest

from sync import keys, merkle
from sync.envelope import build_receipt, log_leaf_hash, verify_receipt
from sync.errors import EnvelopeError

BUREAU_SIGNING = keys.generate_signing_key()
RECORD_HASH = "5a" * 32
RECORD_ID = "rec-2025-0042"


def issue_receipt(log_size_before=12, record_id=RECORD_ID, record_hash=RECORD_HASH, signing_key=BUREAU_SIGNING):
    """What the bureau does on accepting a record."""
    tree = merkle.MerkleTree(merkle.leaf_hash(b"earlier %d" % i) for i in range(log_size_before))
    index = tree.append(log_leaf_hash(record_id, record_hash))
    tree.append(merkle.leaf_hash(b"a later record"))
    head = merkle.sign_tree_head(tree.size, tree.root(), 1_740_000_000_000, signing_key)
    return build_receipt(record_id, record_hash, index, tree.inclusion_proof(index), head)


def reason(receipt, record_hash=RECORD_HASH, **kwargs):
    with pytest.raises(EnvelopeError) as caught:
        verify_receipt(receipt, record_hash, BUREAU_SIGNING.public_key(), **kwargs)
    assert caught.value.message_zh
    return caught.value.reason_code


def test_a_genuine_receipt_verifies():
    receipt = issue_receipt()
    assert set(receipt) == {"record_id", "record_hash", "log_index", "inclusion_proof", "tree_head"}
    assert set(receipt["tree_head"]) == {"size", "root", "timestamp", "signature"}
    verify_receipt(receipt, RECORD_HASH, BUREAU_SIGNING.public_key())
    verify_receipt(receipt, RECORD_HASH, BUREAU_SIGNING.public_key(), record_id=RECORD_ID)
    for size in (0, 1, 2, 7, 8, 100):
        verify_receipt(issue_receipt(size), RECORD_HASH, BUREAU_SIGNING.public_key())


def test_receipt_for_another_record():
    assert reason(issue_receipt(), record_hash="6b" * 32) == "receipt_record_mismatch"
    assert reason(issue_receipt(), record_id="rec-2025-0043") == "receipt_record_mismatch"


def test_altered_index():
    receipt = issue_receipt()
    for index in (receipt["log_index"] - 1, receipt["log_index"] + 1, receipt["log_index"] ^ 2, 10**6, -1):
        assert reason({**receipt, "log_index": index}) == "receipt_proof_invalid"


def test_altered_record_id_is_not_covered_by_the_proof():
    receipt = issue_receipt()
    assert reason({**receipt, "record_id": "rec-2025-0043"}) == "receipt_proof_invalid"


def test_every_altered_proof_element():
    receipt = issue_receipt()
    proof = receipt["inclusion_proof"]
    for position in range(len(proof)):
        for digit in range(64):
            altered = copy.deepcopy(receipt)
            node = altered["inclusion_proof"][position]
            flipped = format(int(node[digit], 16) ^ 1, "x")
            altered["inclusion_proof"][position] = node[:digit] + flipped + node[digit + 1:]
            assert reason(altered) == "receipt_proof_invalid"
    assert reason({**receipt, "inclusion_proof": proof[:-1]}) == "receipt_proof_invalid"
    assert reason({**receipt, "inclusion_proof": proof + [proof[0]]}) == "receipt_proof_invalid"
    assert reason({**receipt, "inclusion_proof": proof[::-1]}) == "receipt_proof_invalid"


def test_altered_tree_head():
    receipt = issue_receipt()
    head = receipt["tree_head"]
    altered_root = format(int(head["root"][0], 16) ^ 1, "x") + head["root"][1:]
    for changed in ({"root": altered_root}, {"size": head["size"] + 1}, {"timestamp": head["timestamp"] + 1}):
        assert reason({**receipt, "tree_head": {**head, **changed}}) == "receipt_signature_invalid"
    signature = bytearray(base64.b64decode(head["signature"]))
    for position in range(len(signature)):
        altered = bytearray(signature)
        altered[position] ^= 0x01
        tampered = {**receipt, "tree_head": {**head, "signature": base64.b64encode(bytes(altered)).decode()}}
        assert reason(tampered) == "receipt_signature_invalid"


def test_receipt_signed_by_another_key():
    assert reason(issue_receipt(signing_key=keys.generate_signing_key())) == "receipt_signature_invalid"


def test_a_correctly_signed_head_that_does_not_contain_the_record():
    genuine = issue_receipt()
    other_log = issue_receipt(record_hash="7c" * 32)
    assert reason({**genuine, "tree_head": other_log["tree_head"]}) == "receipt_proof_invalid"


@pytest.mark.parametrize("mutate", [
    lambda r: r.pop("tree_head"),
    lambda r: r.update(extra=True),
    lambda r: r.update(log_index="3"),
    lambda r: r.update(inclusion_proof="00" * 32),
    lambda r: r.update(inclusion_proof=["XY" * 32]),
    lambda r: r.update(record_hash="5A" * 32),
    lambda r: r["tree_head"].pop("signature"),
    lambda r: r["tree_head"].update(size=3.0),
])
def test_malformed_receipts(mutate):
    receipt = copy.deepcopy(issue_receipt())
    mutate(receipt)
    assert reason(receipt) == "receipt_bad_format"
