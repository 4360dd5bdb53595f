"""The bureau's append-only log: RFC 6962 / RFC 9162 Merkle tree hashing, proofs and signed tree heads.

leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right), empty tree = SHA-256(""); a tree of
n > 1 leaves splits at k, the largest power of two below n. All hashes here are 32-byte `bytes`; "leaves" always
means leaf *hashes* (what the bureau stores).

Cost: `MerkleTree` keeps every perfect subtree hash (about 2n hashes, built once in O(n) from the stored leaf hashes;
`append` is amortised O(1)). A root, inclusion proof or consistency proof for any size <= the current size is then
O(log^2 n) hash operations (each of the O(log n) proof nodes needs at most O(log n) of them), never a pass over all
leaves. The module-level `root` / `inclusion_proof` / `consistency_proof` over a plain list build that tree first,
so they are O(n) per call: fine for tests and one-off checks, not for a server answering every upload.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.canonical import canonical_bytes
from sync.errors import MerkleProofError
from sync.keys import b64decode_strict, b64encode

EMPTY_ROOT = hashlib.sha256(b"").digest()
_TREE_HEAD_DOMAIN = b"yibao-tree-head-v1\n"


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 6962 tree over leaf hashes, answering for its current size or any earlier one."""

    def __init__(self, leaves: Iterable[bytes] = ()):
        # _levels[h][i] is the hash of the perfect subtree over leaves [i * 2**h, (i + 1) * 2**h).
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        return self._levels[0][index]

    def append(self, leaf: bytes) -> int:
        """Add a leaf hash; returns its index."""
        if not isinstance(leaf, bytes) or len(leaf) != 32:
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0].append(leaf)
        height = 0
        while len(self._levels[height]) % 2 == 0:
            level = self._levels[height]
            if height + 1 == len(self._levels):
                self._levels.append([])
            self._levels[height + 1].append(node_hash(level[-2], level[-1]))
            height += 1
        return self.size - 1

    def truncate(self, size: int) -> None:
        """Drop every leaf from `size` on: the tree is then exactly as it was at that size."""
        self._check_size(size)
        for height, level in enumerate(self._levels):
            del level[size >> height:]  # the perfect subtrees that lie wholly below `size`

    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end): a stored perfect subtree, or split the RFC way."""
        width = end - start
        if width & (width - 1) == 0 and start % width == 0:
            return self._levels[width.bit_length() - 1][start // width]
        k = _split(width)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def _check_size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} outside 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._check_size(size)
        return self._hash(0, size) if size else EMPTY_ROOT

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
        size = self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} outside 0..{size - 1}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start += k
        return proof[::-1]

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 PROOF(old_size, D[0:size]); empty when old_size is 0 or equals size."""
        size = self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"old size {old_size} outside 0..{size}")
        if old_size in (0, size):
            return []
        proof: list[bytes] = []
        m, start, end, whole_old_tree = old_size, 0, size, True  # SUBPROOF(m, D[start:end], b)
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m, whole_old_tree = start + k, m - k, False
        if not whole_old_tree:
            proof.append(self._hash(start, end))
        return proof[::-1]


def root(leaves: Sequence[bytes]) -> bytes:
    return MerkleTree(leaves).root()


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaves).inclusion_proof(index)


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    return MerkleTree(leaves).consistency_proof(old_size)


def _fail(what: str) -> MerkleProofError:
    return MerkleProofError("proof_invalid", f"日志证明无效：{what}")


def _check_hashes(*hashes: bytes) -> None:
    if any(not isinstance(h, bytes) or len(h) != 32 for h in hashes):
        raise _fail("哈希长度不正确")


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes) -> None:
    """RFC 9162 §2.1.3.2: raises MerkleProofError unless `proof` shows leaf hash `leaf` at `index` under `root_hash`."""
    _check_hashes(leaf, root_hash, *proof)
    if not 0 <= index < size:
        raise _fail("叶子序号超出日志大小")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise _fail("证明过长")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root_hash:
        raise _fail("与树根不符")


def verify_consistency(old_size: int, size: int, old_root: bytes, root_hash: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: raises MerkleProofError unless the tree of `size` extends the tree of `old_size`."""
    _check_hashes(old_root, root_hash, *proof)
    if not 0 <= old_size <= size:
        raise _fail("日志大小倒退")
    if old_size == size:
        if proof or old_root != root_hash:
            raise _fail("同一大小的日志树根不同")
        return
    if old_size == 0:
        if proof:
            raise _fail("空日志不需要证明")
        return
    if not proof:
        raise _fail("缺少一致性证明")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _fail("证明过长")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != root_hash:
        raise _fail("前后两个日志树根不一致")


# --- signed tree heads ----------------------------------------------------------------------------------------

def _tree_head_message(size: int, root_hex: str, timestamp: int) -> bytes:
    return _TREE_HEAD_DOMAIN + canonical_bytes({"size": size, "root": root_hex, "timestamp": timestamp})


def sign_tree_head(size: int, root_hash: bytes, timestamp: int,
                   bureau_signing_key: Ed25519PrivateKey) -> dict[str, Any]:
    """``{"size", "root" (hex), "timestamp" (integer, ms since the epoch), "signature" (base64 Ed25519)}``."""
    if type(size) is not int or size < 0 or type(timestamp) is not int or timestamp < 0 or len(root_hash) != 32:
        raise ValueError("tree head needs size >= 0, a 32-byte root and an integer timestamp >= 0")
    signature = bureau_signing_key.sign(_tree_head_message(size, root_hash.hex(), timestamp))
    return {"size": size, "root": root_hash.hex(), "timestamp": timestamp, "signature": b64encode(signature)}


def verify_tree_head(tree_head: Any, bureau_signing_public: Ed25519PublicKey) -> tuple[int, bytes]:
    """(size, root) of a tree head signed by the bureau; raises MerkleProofError."""
    try:
        size, root_hex, timestamp = tree_head["size"], tree_head["root"], tree_head["timestamp"]
        if (set(tree_head) != {"size", "root", "timestamp", "signature"} or type(size) is not int or size < 0
                or type(timestamp) is not int or timestamp < 0 or not isinstance(root_hex, str)
                or len(root_hex) != 64 or root_hex != root_hex.lower()):
            raise ValueError
        root_hash = bytes.fromhex(root_hex)
        signature = b64decode_strict(tree_head["signature"])
    except (KeyError, TypeError, ValueError):
        raise MerkleProofError("bad_tree_head", "日志树头格式错误") from None
    try:
        bureau_signing_public.verify(signature, _tree_head_message(size, root_hex, timestamp))
    except InvalidSignature:
        raise MerkleProofError("tree_head_signature_invalid", "日志树头签名无效") from None
    return size, root_hash
