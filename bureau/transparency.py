"""The bureau's merkle log, persisted: `LogLeaf` rows (leaf hashes) and every `SignedTreeHead`. The database is the
log; a process keeps the tree (`sync.merkle.MerkleTree`) in memory only as a cache of what committed (and, while a
group transaction runs under the log's lock, of its leaves), caught up from the database before each use, checked
against a stored tree head before each answer, and cut back or dropped whenever a transaction that may have appended
to it fails.

Appending a record, its leaf and the new tree head (size index + 1, signed at once, so resending the record returns
the very same receipt) happens in a transaction whose first statement takes the log's lock: an UPDATE of the
`Counter` row `merkle_log`. On PostgreSQL that row lock serialises the appenders of every process until commit or
rollback, and under READ COMMITTED each later statement sees what the previous holder committed. On SQLite the
UPDATE takes the database's write lock; as the transaction has read nothing before it, there is no older snapshot
to conflict with. Only then are the log size and any duplicate read.

Appenders of one process share that transaction (group commit, `in_group`): each puts its work in a queue and
waits; one of them, the leader, takes up to `GROUP_MAX` waiting works and runs them in one transaction under the
log's lock, commits once and wakes them. So only the leader holds a pooled connection while it waits for the
database, and one commit (one fsync) serves every record that arrived meanwhile.

A group of several works runs first in one batch: no savepoints and no autoflush, so the new rows of each table go
in one statement at the end (the leaves and tree heads `append` holds back, and the ORM's rows; UPDATEs run as they
come); a work reads what an earlier work of its group added from `pending`, not from the database. If any work
raises, or the batch's rows do not flush, or a work must see an earlier work's rows in the database
(`see_earlier_works`), the batch is rolled back, its leaves cut from the cached tree, and the group runs again one
work at a time, each in a SAVEPOINT: a work that fails then is rolled back to its savepoint alone (the cached tree,
which may hold its leaf, is dropped) and the others still commit. So a work may run twice, its first run rolled
back: works change nothing but the database. If the commit fails, every work of the group fails.

`verify` recomputes the tree from the stored leaves and checks every signed tree head and every record's leaf and
receipt: what server start and `yibao bureau verify-log` run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterable, Sequence, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bureau.models import Counter, LogLeaf, ReceivedRecord, SignedTreeHead, utcnow
from sync import merkle
from sync.envelope import build_receipt, log_leaf_hash
from sync.errors import MerkleProofError

LOCK_ROW = "merkle_log"  # the Counter row whose row lock is the log's lock; its value is not used
SIGNED_HEADS_KEPT = 4096  # receipts of recent appends are answered from memory
GROUP_MAX = 64  # works one group transaction takes at most
_GROUP = "merkle_log_group"  # session.info key: the `_Group` of the transaction `in_group` runs, lock held

T = TypeVar("T")


class LogInconsistent(Exception):
    """The stored log does not add up (one Chinese sentence naming where)."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _head_json(row: SignedTreeHead) -> dict[str, Any]:
    return {"size": row.size, "root": row.root, "timestamp": row.timestamp, "signature": row.signature}


@dataclass(eq=False)
class _Work(Generic[T]):
    """One appender's work waiting for a group transaction, and what became of it."""
    run: Callable[[Session], T]
    done: bool = False
    result: T | None = None
    error: BaseException | None = None


@dataclass
class _Group:
    """The group transaction under way on a session: the log's lock is held; `tree` is the cached tree once an
    append of this transaction has brought it up to date (the database's with this transaction's leaves, as long as
    the cache still holds that very tree), `base_size` its size then. In a batch (`batched`) the leaves and tree
    heads wait in `leaves` and `heads` to be inserted together; `pending` is the works' own note of what they
    added (of the works that did not fail)."""
    batched: bool = False
    tree: merkle.MerkleTree | None = None
    base_size: int = 0
    leaves: list[dict[str, Any]] = field(default_factory=list)
    heads: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[Any, Any] = field(default_factory=dict)


class _RunSeparately(Exception):
    """A work of a batch needs what an earlier work of its group wrote to be in the database."""


class TransparencyLog:
    def __init__(self, engine: Engine, signing_key: Ed25519PrivateKey):
        self.engine = engine
        self.signing_key = signing_key
        self.lock = threading.Lock()  # held by whoever appends in this process (a group's leader)
        self._cache_lock = threading.Lock()
        self._tree: merkle.MerkleTree | None = None
        self._signed: dict[int, dict[str, Any]] = {}  # tree heads this process signed and committed, by size
        self._queue_changed = threading.Condition()  # guards _waiting and _leading
        self._waiting: deque[_Work[Any]] = deque()
        self._leading = False  # an appender of this process is running groups

    # --- the cache (callers hold _cache_lock) ---

    def _catch_up(self, session: Session) -> merkle.MerkleTree:
        """The cached tree with every committed leaf (built on first use, or after `forget`)."""
        if self._tree is None:
            self._tree = merkle.MerkleTree()
        tree = self._tree
        rows = session.exec(select(LogLeaf.leaf_index, LogLeaf.leaf_hash)
                            .where(col(LogLeaf.leaf_index) >= tree.size).order_by(col(LogLeaf.leaf_index)))
        for index, leaf_hex in rows:
            if index != tree.size:
                self._tree = None
                raise LogInconsistent(f"局端日志第 {tree.size} 条缺失（叶子序号不连续）")
            tree.append(bytes.fromhex(leaf_hex))
        return tree

    def _agreeing(self, session: Session, size: int, *, exact: bool = False) -> merkle.MerkleTree:
        """The cached tree, caught up, with at least (`exact`: just) `size` leaves and agreeing with the stored tree
        head of that size; rebuilt from the database once if it does not, for the database is the log."""
        head = session.get(SignedTreeHead, size) if size else None
        if size and head is None:
            raise LogInconsistent(f"局端日志第 {size - 1} 条缺少大小为 {size} 的签名树头")
        for _ in range(2):
            tree = self._catch_up(session)
            if (tree.size == size if exact else tree.size >= size) and (
                    head is None or tree.root(size).hex() == head.root):
                return tree
            self._tree = None
        raise LogInconsistent(f"局端日志第 {size - 1} 条：按保存的叶子重算的树根与大小为 {size} 的签名树头不符")

    def _current(self, session: Session) -> merkle.MerkleTree:
        """The cached tree exactly as the database holds the log now, for an append under the log's lock. One query
        reads the cache's last leaf and every leaf after it: if the database bears the cache out and holds nothing
        more (the usual case: this process made the last append), that is all; leaves other processes appended are
        added and checked against their stored tree head; a cache the database does not bear out is rebuilt."""
        tree = self._tree or merkle.MerkleTree()
        rows = session.exec(select(LogLeaf.leaf_index, LogLeaf.leaf_hash)
                            .where(col(LogLeaf.leaf_index) >= max(tree.size - 1, 0))
                            .order_by(col(LogLeaf.leaf_index))).all()
        if tree.size:
            if not rows or rows[0][0] != tree.size - 1 or rows[0][1] != tree.leaf(tree.size - 1).hex():
                return self._rebuilt(session)
            rows = rows[1:]
        if not rows:
            self._tree = tree
            return tree
        for index, leaf_hex in rows:
            if index != tree.size:
                return self._rebuilt(session)
            tree.append(bytes.fromhex(leaf_hex))
        self._tree = tree
        head = session.get(SignedTreeHead, tree.size)
        if head is None or head.root != tree.root().hex():
            return self._rebuilt(session)
        return tree

    def _rebuilt(self, session: Session) -> merkle.MerkleTree:
        """The tree rebuilt from every stored leaf and checked against the stored head of its size (LogInconsistent
        naming where the database's log does not add up)."""
        self._drop()
        last = session.exec(select(LogLeaf.leaf_index).order_by(col(LogLeaf.leaf_index).desc())).first()
        return self._agreeing(session, 0 if last is None else last + 1, exact=True)

    def forget(self) -> None:
        """Drop the cached tree and the heads signed with it: the next use rebuilds it from what the database
        holds."""
        with self._cache_lock:
            self._drop()

    def _drop(self) -> None:
        """The cached tree and the heads signed with it, gone (the caller holds _cache_lock)."""
        self._tree = None
        self._signed.clear()

    # --- appending ---

    def _take_lock(self, session: Session) -> None:
        """The log's database lock, held until `session`'s transaction ends (see the module docstring)."""
        if session.exec(update(Counter).where(col(Counter.name) == LOCK_ROW)
                        .values(value=Counter.value)).rowcount == 0:
            session.add(Counter(name=LOCK_ROW))  # the first append ever; a second process's insert waits, then fails
            session.flush()

    def in_group(self, session: Session, work: Callable[[Session], T]) -> T:
        """`work(shared)` run and committed in a group transaction (see the module docstring) on `shared`, the
        leader's session, which may be `session` (no transaction open: the log's lock must be the first statement).
        Returns what `work` returned once its group committed; raises what `work` raised (its own changes rolled
        back), or what failed the group's commit. `work` may run twice (a batch undone first): it must change
        nothing but the database."""
        if session.in_transaction():
            raise RuntimeError("in_group needs a session with no transaction open: the lock must come first")
        mine: _Work[T] = _Work(work)
        with self._queue_changed:
            self._waiting.append(mine)
            while self._leading and not mine.done:
                self._queue_changed.wait()
            leading = not mine.done  # then no one leads: this appender does
            if leading:
                self._leading = True
        if leading:
            try:
                while not mine.done:  # the queue is first in, first out: a few groups at most
                    with self._queue_changed:
                        group = [self._waiting.popleft() for _ in range(min(GROUP_MAX, len(self._waiting)))]
                    self._commit_group(session, group)
                    with self._queue_changed:
                        self._queue_changed.notify_all()
            finally:
                with self._queue_changed:  # the next leader is a waiter whose work is still queued
                    self._leading = False
                    if not mine.done and mine in self._waiting:  # the leader is leaving (it is being stopped)
                        self._waiting.remove(mine)
                    self._queue_changed.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.result  # type: ignore[return-value]  # set whenever error is not

    def _commit_group(self, session: Session, group: list[_Work[Any]]) -> None:
        """One transaction under the log's lock: the works as one batch, or else each in a savepoint (see the module
        docstring), then one commit. A failed work drops the cached tree (it may hold the work's leaf); a failed
        commit drops it and fails them all. Every work is done when this returns."""
        try:
            with self.lock:
                if len(group) == 1 or not self._run_batch(session, group):
                    self._run_each(session, group)
                session.commit()
        except BaseException as exc:
            self.forget()  # before the rollback lets the next appender in
            session.rollback()
            # The others fail with an error of their own: a KeyboardInterrupt or SystemExit stays the leader's.
            failure = exc if isinstance(exc, Exception) else RuntimeError(f"本组记录未能提交：{type(exc).__name__}")
            for work in group:
                work.result, work.error = None, work.error or failure
            if not isinstance(exc, Exception):
                raise
        finally:
            session.info.pop(_GROUP, None)
            for work in group:
                work.done = True

    def _run_batch(self, session: Session, group: list[_Work[Any]]) -> bool:
        """The works in one batch, flushed, not committed; False (everything rolled back, no work's result set) if
        the batch failed: the group is then to run one work at a time."""
        self._take_lock(session)
        batch = session.info[_GROUP] = _Group(batched=True)
        try:
            with session.no_autoflush:  # a work's reads must not flush the rows of the works before it one by one
                results = [work.run(session) for work in group]
            connection = session.connection()
            if batch.leaves:
                connection.execute(insert(LogLeaf.__table__), batch.leaves)  # type: ignore[attr-defined]
                connection.execute(insert(SignedTreeHead.__table__), batch.heads)  # type: ignore[attr-defined]
            session.flush()
        except Exception:
            self._cut_back(batch)  # before the rollback lets another appender in
            session.rollback()
            return False
        for work, result in zip(group, results):
            work.result = result
        return True

    def _run_each(self, session: Session, group: list[_Work[Any]]) -> None:
        """The works one at a time, each in a savepoint: a failed one is rolled back alone."""
        self._take_lock(session)
        each = session.info[_GROUP] = _Group()
        for work in group:
            noted = dict(each.pending)
            try:
                with session.begin_nested():
                    work.result = work.run(session)
            except Exception as exc:
                work.error = exc
                each.pending.clear()  # what it noted was rolled back with it
                each.pending.update(noted)
                self.forget()

    def _cut_back(self, batch: _Group) -> None:
        """The cached tree without the batch's leaves, and without the tree heads signed over them: as the database
        holds the log once the batch is rolled back. Dropped instead if it is no longer the tree the batch appended
        to."""
        with self._cache_lock:
            if batch.tree is not None and batch.tree is self._tree:
                batch.tree.truncate(batch.base_size)
                for size in [size for size in self._signed if size > batch.base_size]:
                    del self._signed[size]
            elif batch.tree is not None:
                self._drop()

    def pending(self, session: Session) -> dict[Any, Any]:
        """The group's note of what its works added (a work's own keys and values): in a batch, what is not yet in
        the database. Inside `in_group` only."""
        return session.info[_GROUP].pending

    def see_earlier_works(self, session: Session) -> None:
        """Make what the earlier works of this group wrote visible to a work's queries: in a batch, the group then
        runs again one work at a time (each work's rows are flushed when its savepoint ends)."""
        if session.info[_GROUP].batched:
            raise _RunSeparately()

    def append(self, session: Session, record_id: str, version: int, record_hash: str) -> int:
        """Add the leaf and its signed tree head to `session`'s transaction (in a batch, to the rows it inserts at its
        end), inside `in_group` (or, as in tests, with `lock` held on a fresh session, committing it). Returns the leaf
        index."""
        group = session.info.get(_GROUP)
        if group is None:  # inside `in_group` the lock is already held
            self._take_lock(session)
        with self._cache_lock:  # exactly the database's: a leaf whose transaction never committed must not stay
            exact = group.tree if group is not None else None  # this transaction's previous append left it so
            if group is not None and group.batched and exact is not None and exact is not self._tree:
                raise _RunSeparately()  # the cache was dropped: the database does not hold the batch's leaves yet
            tree = exact if exact is self._tree and exact is not None else self._current(session)
            if group is not None:
                if group.tree is None:
                    group.base_size = tree.size
                group.tree = tree
            leaf = log_leaf_hash(record_id, record_hash)
            index = tree.append(leaf)
            head = merkle.sign_tree_head(tree.size, tree.root(), _now_ms(), self.signing_key)
            head_row = {key: head[key] for key in ("size", "root", "timestamp", "signature")}
            self._signed[tree.size] = head_row
            if len(self._signed) > SIGNED_HEADS_KEPT:
                del self._signed[min(self._signed)]
        leaf_row = {"leaf_index": index, "record_id": record_id, "version": version, "leaf_hash": leaf.hex(),
                    "appended_at": utcnow()}
        if group is not None and group.batched:
            group.leaves.append(leaf_row)
            group.heads.append(head_row)
        else:  # Core inserts: rows nothing reads back as objects, no flush to plan
            connection = session.connection()
            connection.execute(insert(LogLeaf.__table__), leaf_row)  # type: ignore[attr-defined]
            connection.execute(insert(SignedTreeHead.__table__), head_row)  # type: ignore[attr-defined]
        return index

    # --- answers from what committed ---

    def load(self) -> int:
        """Build the cache from the database; returns the log size."""
        with Session(self.engine) as session:
            return self.size(session)

    def receipt(self, session: Session, record_id: str, record_hash: str, index: int) -> dict[str, Any]:
        """The receipt of the record at `index`: its inclusion in the tree of size index + 1 and that tree's head —
        from memory when this process signed that head (no query), else from the database."""
        with self._cache_lock:
            tree, head_json = self._tree, self._signed.get(index + 1)
            if (tree is not None and head_json is not None and tree.size > index
                    and tree.leaf(index) == log_leaf_hash(record_id, record_hash)):
                return build_receipt(record_id, record_hash, index, tree.inclusion_proof(index, index + 1),
                                     dict(head_json))
            proof = self._agreeing(session, index + 1).inclusion_proof(index, index + 1)
        head = session.get(SignedTreeHead, index + 1)
        assert head is not None  # _agreeing found it
        return build_receipt(record_id, record_hash, index, proof, _head_json(head))

    def consistency(self, session: Session, first: int, second: int) -> dict[str, Any] | None:
        """Both stored tree heads and the RFC 9162 consistency proof between them; None if either is unknown."""
        first_head, second_head = (session.get(SignedTreeHead, size) for size in (first, second))
        if first > second or first_head is None or second_head is None:
            return None
        with self._cache_lock:
            tree = self._agreeing(session, second)
            if tree.root(first).hex() != first_head.root:
                raise LogInconsistent(f"局端日志第 {first - 1} 条：按保存的叶子重算的树根与大小为 {first} 的签名树头不符")
            proof = tree.consistency_proof(first, second)
        return {"first": _head_json(first_head), "second": _head_json(second_head), "proof": [p.hex() for p in proof]}

    def size(self, session: Session) -> int:
        with self._cache_lock:
            return self._catch_up(session).size


# --- verification ---------------------------------------------------------------------------------------------

# What `verify` finds, in the order it reports problems at one index: what is wrong with a leaf comes first, for a
# bad leaf also makes every later tree head disagree.
KINDS = ("leaf_missing", "leaf_malformed", "record_leaf_missing", "record_leaf_mismatch", "leaf_without_record",
         "tree_head_signature_invalid", "tree_head_root_mismatch", "tree_head_beyond_log", "tree_head_missing",
         "receipt_invalid")


@dataclass(frozen=True)
class Problem:
    index: int  # the first leaf index it concerns (a tree head of size s: s - 1)
    kind: str  # one of KINDS
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class LogReport:
    log_size: int  # leaf rows stored
    tree_heads: int
    records: int
    problems: tuple[Problem, ...]  # by index

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "log_size": self.log_size, "tree_heads": self.tree_heads, "records": self.records,
                "problems": [p.to_json() for p in self.problems]}

    def summary(self) -> str:
        """One line: that everything matches, or the first problem."""
        if self.ok:
            return (f"局端日志核对无误：{self.log_size} 条日志、{self.tree_heads} 个签名树头、{self.records} 份检查记录"
                    "全部相符")
        first, more = self.problems[0], len(self.problems) - 1
        return (f"局端日志与保存的数据不一致，第一处在日志第 {first.index} 条：{first.message}"
                + (f"（另有 {more} 处问题）" if more else ""))


LeafRow = tuple[int, str, int, str]  # leaf index, record id, version, leaf hash (hex)
HeadRow = tuple[int, str, int, str]  # size, root (hex), timestamp, signature
RecordRow = tuple[str, int, str, int]  # record id, version, record hash, log index


def _signed_root(head: dict[str, Any], signing_keys: Sequence[Ed25519PublicKey]) -> bytes | None:
    """The head's root if one of the keys signed it."""
    for key in signing_keys:
        try:
            return merkle.verify_tree_head(head, key)[1]
        except MerkleProofError:
            continue
    return None


def verify(leaves: Iterable[LeafRow], heads: Iterable[HeadRow], records: Iterable[RecordRow],
           signing_keys: Sequence[Ed25519PublicKey]) -> LogReport:
    """Recompute the tree from the leaves (ordered by index), then check every tree head (ordered by size): signed by
    one of `signing_keys`, and its root that of the recomputed tree at its size; that every size has its head; that
    every record's leaf is at its index and its receipt (inclusion in the head of size index + 1) verifies; that
    every leaf has its record."""
    problems: list[Problem] = []
    tree = merkle.MerkleTree()
    entries: list[tuple[str, int, bytes]] = []  # (record id, version, leaf) by index, up to the first bad leaf
    log_size = 0
    placing = True  # after a missing or malformed leaf the rest cannot be placed
    for index, record_id, version, leaf_hex in leaves:
        log_size += 1
        if not placing:
            continue
        if index != tree.size:
            problems.append(Problem(tree.size, "leaf_missing", f"日志第 {tree.size} 条缺失（叶子序号不连续）"))
            placing = False
            continue
        try:
            leaf = bytes.fromhex(leaf_hex)
            tree.append(leaf)
        except ValueError:
            problems.append(Problem(index, "leaf_malformed", f"日志第 {index} 条的叶子哈希格式错误"))
            placing = False
            continue
        entries.append((record_id, version, leaf))

    roots: dict[int, bytes] = {}  # size -> root, of the heads that verified
    seen: set[int] = set()
    for size, root_hex, timestamp, signature in heads:
        seen.add(size)
        head = {"size": size, "root": root_hex, "timestamp": timestamp, "signature": signature}
        signed_root = _signed_root(head, signing_keys)
        if signed_root is None:
            problems.append(Problem(size - 1, "tree_head_signature_invalid",
                                    f"大小为 {size} 的签名树头格式错误，或不是局端（现用或此前的）签名密钥所签"))
        elif size > tree.size:
            problems.append(Problem(size - 1, "tree_head_beyond_log",
                                    f"大小为 {size} 的签名树头超出可核对的日志（{tree.size} 条）"))
        elif signed_root != tree.root(size):
            problems.append(Problem(size - 1, "tree_head_root_mismatch",
                                    f"大小为 {size} 的签名树头与按日志第 0–{size - 1} 条重算的树根不符"))
        else:
            roots[size] = signed_root
    problems += [Problem(size - 1, "tree_head_missing", f"缺少大小为 {size} 的签名树头（日志第 {size - 1} 条之后）")
                 for size in range(1, tree.size + 1) if size not in seen]

    record_count = 0
    recorded: set[int] = set()
    for record_id, version, record_hash, index in records:
        record_count += 1
        what = f"检查记录 {record_id} 第 {version} 版"
        if not 0 <= index < len(entries):
            problems.append(Problem(index, "record_leaf_missing", f"{what}所在的日志第 {index} 条不存在"))
            continue
        recorded.add(index)
        leaf = log_leaf_hash(record_id, record_hash)
        if entries[index] != (record_id, version, leaf):
            problems.append(Problem(index, "record_leaf_mismatch", f"日志第 {index} 条与{what}不符"))
            continue
        if index + 1 not in roots:
            continue  # its tree head is reported above
        try:
            merkle.verify_inclusion(leaf, index, index + 1, tree.inclusion_proof(index, index + 1), roots[index + 1])
        except MerkleProofError as exc:
            problems.append(Problem(index, "receipt_invalid", f"{what}的回执（日志第 {index} 条）无法验证：{exc.message_zh}"))
    problems += [Problem(index, "leaf_without_record", f"日志第 {index} 条（{record_id} 第 {version} 版）没有对应的检查记录")
                 for index, (record_id, version, _) in enumerate(entries) if index not in recorded]
    problems.sort(key=lambda p: (p.index, KINDS.index(p.kind)))
    return LogReport(log_size, len(seen), record_count, tuple(problems))


def check(session: Session, signing_keys: Sequence[Ed25519PublicKey]) -> LogReport:
    """`verify` over what the database holds."""
    leaves = session.exec(select(LogLeaf.leaf_index, LogLeaf.record_id, LogLeaf.version, LogLeaf.leaf_hash)
                          .order_by(col(LogLeaf.leaf_index))).all()
    heads = session.exec(select(SignedTreeHead.size, SignedTreeHead.root, SignedTreeHead.timestamp,
                                SignedTreeHead.signature).order_by(col(SignedTreeHead.size))).all()
    records = session.exec(select(ReceivedRecord.record_id, ReceivedRecord.version, ReceivedRecord.record_hash,
                                  ReceivedRecord.log_index)).all()
    return verify(leaves, heads, records, signing_keys)
