"""The bureau's merkle log, persisted: `LogLeaf` rows (leaf hashes) and every `SignedTreeHead`, with the tree itself
(`sync.merkle.MerkleTree`) kept in memory, built from the stored leaves at start and caught up from the database
before each append.

Appends are serialised by a lock held until the caller's transaction commits, and the leaf index is the primary key,
so the log stays gapless and in commit order; a second bureau process appending to the same PostgreSQL database
makes the loser's insert fail, and `forget()` plus a retry puts it right. Each accepted record gets a tree head of
size index + 1, signed at once and stored, so resending the record returns the very same receipt.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bureau.models import LogLeaf, SignedTreeHead
from sync import merkle
from sync.envelope import build_receipt, log_leaf_hash


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _head_json(row: SignedTreeHead) -> dict[str, Any]:
    return {"size": row.size, "root": row.root, "timestamp": row.timestamp, "signature": row.signature}


class TransparencyLog:
    def __init__(self, engine: Engine, signing_key: Ed25519PrivateKey):
        self.engine = engine
        self.signing_key = signing_key
        self.lock = threading.RLock()  # held across append + commit by the ingest
        self._tree: merkle.MerkleTree | None = None

    def _catch_up(self, session: Session) -> merkle.MerkleTree:
        """The in-memory tree with every committed leaf (built on first use, or after `forget`)."""
        if self._tree is None:
            self._tree = merkle.MerkleTree()
        tree = self._tree
        rows = session.exec(select(LogLeaf.leaf_index, LogLeaf.leaf_hash)
                            .where(col(LogLeaf.leaf_index) >= tree.size).order_by(col(LogLeaf.leaf_index)))
        for index, leaf_hex in rows:
            if index != tree.size:
                raise RuntimeError(f"merkle log has a gap at index {tree.size}")
            tree.append(bytes.fromhex(leaf_hex))
        return tree

    def load(self) -> int:
        """Build the tree from the database (at start); returns the log size."""
        with self.lock, Session(self.engine) as session:
            return self._catch_up(session).size

    def forget(self) -> None:
        """Drop the in-memory tree after a failed commit: it is rebuilt from what the database holds."""
        self._tree = None

    def append(self, session: Session, record_id: str, version: int, record_hash: str) -> int:
        """Add the leaf and its signed tree head to `session` (uncommitted); the caller holds `lock`, commits, and
        calls `forget()` if the commit fails. Returns the leaf index."""
        tree = self._catch_up(session)
        leaf = log_leaf_hash(record_id, record_hash)
        index = tree.append(leaf)
        session.add(LogLeaf(leaf_index=index, record_id=record_id, version=version, leaf_hash=leaf.hex()))
        head = merkle.sign_tree_head(tree.size, tree.root(), _now_ms(), self.signing_key)
        session.add(SignedTreeHead(size=head["size"], root=head["root"], timestamp=head["timestamp"],
                                   signature=head["signature"]))
        return index

    def receipt(self, session: Session, record_id: str, record_hash: str, index: int) -> dict[str, Any]:
        """The receipt of the record at `index`: its inclusion in the tree of size index + 1 and that tree's head."""
        with self.lock:
            tree = self._catch_up(session)
            proof = tree.inclusion_proof(index, index + 1)
        head = session.get(SignedTreeHead, index + 1)
        assert head is not None  # append stores the head of size index + 1 together with the leaf at index
        return build_receipt(record_id, record_hash, index, proof, _head_json(head))

    def consistency(self, session: Session, first: int, second: int) -> dict[str, Any] | None:
        """Both stored tree heads and the RFC 9162 consistency proof between them; None if either is unknown."""
        first_head, second_head = (session.get(SignedTreeHead, size) for size in (first, second))
        if first > second or first_head is None or second_head is None:
            return None
        with self.lock:
            proof = self._catch_up(session).consistency_proof(first, second)
        return {"first": _head_json(first_head), "second": _head_json(second_head), "proof": [p.hex() for p in proof]}

    def size(self, session: Session) -> int:
        with self.lock:
            return self._catch_up(session).size
