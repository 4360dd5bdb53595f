"""Group commit of the log (`bureau.transparency.TransparencyLog.in_group`) on its own, on SQLite and PostgreSQL:
more appenders than one group holds are served in turn, each with its own index; a commit that fails fails its whole
group, leaves nothing in the log and lets the next group append as if it never ran."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event
from sqlmodel import Session, func, select

from bureau import transparency
from bureau.models import LogLeaf, SignedTreeHead
from sync.canonical import content_hash
from tests.sync_support import in_one_group


def appending(log: transparency.TransparencyLog, name: str):
    return lambda shared: log.append(shared, name, 1, content_hash({"record": name}))


def queue_behind_the_lock(log: transparency.TransparencyLog, engine, names: list[str]) -> dict[str, object]:
    """Every name appended from its own thread and session, the first alone while the others queue behind it
    (`in_one_group`). Returns what each append returned or raised."""
    def appender(name: str):
        def append() -> object:
            with Session(engine) as session:
                return log.in_group(session, appending(log, name))
        return append

    return dict(zip(names, in_one_group(log, [appender(name) for name in names]), strict=True))


def stored(engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.exec(select(func.count()).select_from(LogLeaf)).one(),
                session.exec(select(func.count()).select_from(SignedTreeHead)).one())


def test_more_appenders_than_a_group_holds_are_served_in_turn(bureau_engine, monkeypatch):
    log = transparency.TransparencyLog(bureau_engine, Ed25519PrivateKey.generate())
    sizes: list[int] = []
    commit_group = transparency.TransparencyLog._commit_group

    def counted(self, session, group):
        sizes.append(len(group))
        return commit_group(self, session, group)

    monkeypatch.setattr(transparency.TransparencyLog, "_commit_group", counted)
    names = [f"r{n:03d}" for n in range(1 + 2 * transparency.GROUP_MAX + 5)]
    outcomes = queue_behind_the_lock(log, bureau_engine, names)
    assert sizes == [1, transparency.GROUP_MAX, transparency.GROUP_MAX, 5]  # the leader alone, then the queue in turn
    assert sorted(outcomes.values()) == list(range(len(names)))  # type: ignore[type-var]
    assert stored(bureau_engine) == (len(names), len(names))
    assert log.load() == len(names)


def test_a_failed_commit_fails_its_whole_group_and_leaves_nothing(bureau_engine):
    log = transparency.TransparencyLog(bureau_engine, Ed25519PrivateKey.generate())
    failures = [RuntimeError("the database refused the commit")]

    def refuse_once(_session) -> None:
        if failures:
            raise failures.pop()

    event.listen(Session, "before_commit", refuse_once)
    try:
        outcomes = queue_behind_the_lock(log, bureau_engine, ["lead", "a", "b", "c"])
    finally:
        event.remove(Session, "before_commit", refuse_once)
    assert isinstance(outcomes.pop("lead"), RuntimeError)  # the leader's own group of one failed
    assert sorted(outcomes.values()) == [0, 1, 2]  # type: ignore[type-var]  # the next group: as if it never ran
    assert stored(bureau_engine) == (3, 3)
    with Session(bureau_engine) as session:  # and the log goes on from there, the cache agreeing with the database
        assert log.in_group(session, appending(log, "d")) == 3
    assert log.load() == 4
