"""Issuing a draw's assignments: sequence numbers taken in one counter update, rows inserted in bulk (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from sqlmodel import Session, select

from bureau import keystore
from bureau.assignments import assignments_for, issue_assignments, next_seq, signed_content
from bureau.db import create_schema, make_engine
from bureau.models import Assignment, AssignmentMember, Inspector, Institution
from sync.assignments import assignment_signature_valid
from tests.support import PASSPHRASE, init_bureau


def test_next_seq_takes_consecutive_blocks_and_single_numbers_follow_on(bureau_db_url):
    engine = make_engine(bureau_db_url)
    create_schema(engine)
    with Session(engine) as session:
        assert next_seq(session, "x", count=5) == 1  # the first use creates the counter
        assert next_seq(session, "x") == 6
        assert next_seq(session, "x", count=3) == 7
        assert next_seq(session, "y") == 1
        session.commit()
    with Session(engine) as session:
        assert next_seq(session, "x") == 10
        session.rollback()  # a rolled-back block is handed out again
    with Session(engine) as session:
        assert next_seq(session, "x", count=2) == 10
        session.commit()
    engine.dispose()


def test_concurrent_takers_get_disjoint_blocks(bureau_db_url):
    engine = make_engine(bureau_db_url)
    create_schema(engine)
    with Session(engine) as session:
        next_seq(session, "z")  # the counter exists: takers contend for its row
        session.commit()
    taken: list[range] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            for _ in range(5):
                with Session(engine) as session:
                    first = next_seq(session, "z", count=7)
                    session.commit()
                taken.append(range(first, first + 7))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(n for block in taken for n in block)
    assert numbers == list(range(2, 2 + 4 * 5 * 7))
    engine.dispose()


def test_issued_assignments_carry_consecutive_seqs_members_and_valid_signatures(bureau_settings):
    init_bureau(bureau_settings)
    key = keystore.open_signing_key(bureau_settings, PASSPHRASE.encode())
    engine = make_engine(bureau_settings.database_url)
    codes = [f"I{n:04d}" for n in range(6)]
    with Session(engine) as session:
        session.add_all([Inspector(code=code, name=f"检查员{n}", badge_no=f"闽榕医保执 {n:04d}", region="350102")
                         for n, code in enumerate(codes)])
        session.add_all([Institution(code=f"P3501020000{n}", name=f"药房{n}", kind="pharmacy", region="350102",
                                     credit_code="91350100M000100Y43") for n in range(3)])
        next_seq(session)  # an earlier change: the draw's numbers follow it
        selected = [{"institution": f"P3501020000{n}", "team": [codes[2 * n], codes[2 * n + 1]],
                     "reason": "followup" if n == 0 else "random"} for n in range(3)]
        issue_assignments(session, key, plan_id="p", selected=selected, issued_at=datetime.now(timezone.utc))
        session.commit()
    public = key.public_key()
    with Session(engine) as session:
        issued = session.exec(select(Assignment).order_by(Assignment.seq)).all()
        assert [a.seq for a in issued] == [2, 3, 4]
        assert [(a.institution_code, a.team, a.reason, a.status) for a in issued] == [
            (s["institution"], s["team"], s["reason"], "已下达") for s in selected]
        assert [m["name"] for m in issued[1].members] == ["检查员2", "检查员3"]
        assert all(assignment_signature_valid({**signed_content(a), "signature": a.signature}, public)
                   for a in issued)
        members = session.exec(select(AssignmentMember.assignment_id, AssignmentMember.inspector_code)).all()
        assert sorted(members) == sorted((a.id, code) for a in issued for code in a.team)
        assert [a["seq"] for a in assignments_for(session, codes[3])] == [3]
        assert next_seq(session) == 5
    engine.dispose()

