"""The persisted merkle log: gapless under concurrent appends, rebuilt identically from the database, receipts that
verify and stay the same, consistency between any two signed heads; two bureau processes on one database."""

from __future__ import annotations

import threading

from sqlmodel import Session

from bureau.transparency import TransparencyLog
from sync import keys, merkle
from sync.envelope import verify_receipt

SIGNING = keys.generate_signing_key()


def record_hash(number: int) -> str:
    return f"{number:064x}"


def append(log: TransparencyLog, number: int) -> int:
    with log.lock, Session(log.engine) as session:
        index = log.append(session, f"rec-{number}", 1, record_hash(number))
        session.commit()
        return index


def test_concurrent_appends_receipts_and_reload(bureau_engine):
    log = TransparencyLog(bureau_engine, SIGNING)
    assert log.load() == 0
    indexes: dict[int, int] = {}

    def worker(numbers):
        for number in numbers:
            indexes[number] = append(log, number)

    threads = [threading.Thread(target=worker, args=(range(k, 60, 4),)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(indexes.values()) == list(range(60))

    with Session(bureau_engine) as session:
        receipts = {n: log.receipt(session, f"rec-{n}", record_hash(n), i) for n, i in indexes.items()}
        for number, receipt in receipts.items():
            verify_receipt(receipt, record_hash(number), SIGNING.public_key(), record_id=f"rec-{number}")
            assert receipt["tree_head"]["size"] == receipt["log_index"] + 1
        reloaded = TransparencyLog(bureau_engine, SIGNING)
        assert reloaded.load() == 60
        assert reloaded.receipt(session, "rec-7", record_hash(7), indexes[7]) == receipts[7]  # the same receipt
        for first, second in [(1, 60), (7, 8), (16, 33), (60, 60)]:
            answer = reloaded.consistency(session, first, second)
            old, new = (merkle.verify_tree_head(answer[k], SIGNING.public_key()) for k in ("first", "second"))
            merkle.verify_consistency(first, second, old[1], new[1], [bytes.fromhex(p) for p in answer["proof"]])
        assert reloaded.consistency(session, 5, 61) is None and reloaded.consistency(session, 9, 3) is None


def test_two_processes_append_to_one_database(bureau_engine):
    """Each bureau process keeps its own tree; before appending it catches up from the database."""
    first, second = TransparencyLog(bureau_engine, SIGNING), TransparencyLog(bureau_engine, SIGNING)
    assert [append(first, 0), append(first, 1), append(second, 2), append(first, 3)] == [0, 1, 2, 3]
    with Session(bureau_engine) as session:
        assert first.size(session) == second.size(session) == 4
        receipt = second.receipt(session, "rec-3", record_hash(3), 3)
    verify_receipt(receipt, record_hash(3), SIGNING.public_key())


def test_a_cache_the_database_does_not_bear_out_is_rebuilt(bureau_engine):
    """A leaf appended in a transaction that was then rolled back, the cache not told: the next append finds the
    cache's last leaf missing from the database, rebuilds, and continues at the database's index; its receipt,
    answered from memory, is the one a fresh process answers from the database."""
    log = TransparencyLog(bureau_engine, SIGNING)
    assert [append(log, 0), append(log, 1)] == [0, 1]
    with log.lock, Session(bureau_engine) as session:
        assert log.append(session, "rec-lost", 1, record_hash(99)) == 2
        session.rollback()
    assert append(log, 2) == 2
    with Session(bureau_engine) as session:
        receipt = log.receipt(session, "rec-2", record_hash(2), 2)
        verify_receipt(receipt, record_hash(2), SIGNING.public_key(), record_id="rec-2")
        assert TransparencyLog(bureau_engine, SIGNING).receipt(session, "rec-2", record_hash(2), 2) == receipt
