"""The review status machine and the audit chain, pure: which action is allowed from which status and for whom, the
hearing rule (条例第三十一条), 回避, and an audit log that shows any edit, gap or reordering. Plus the signature
check a reviewer sees."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bureau import decisions, review
from bureau.models import ReviewEvent
from bureau.review import ACTIONS, STATUSES, CaseFacts, ReviewError, next_status
from checklists import penalty
from sync.canonical import content_hash
from sync.envelope import sign_record
from sync.keys import generate_signing_key, key_id, public_key_to_b64
from tests.test_record_schema import BASE, answers

TODAY = date(2026, 11, 23)
FACTS = CaseFacts(status="审核中", findings=2, today=TODAY)

# The flow in the issue, step by step, as (status before, action, status after).
HAPPY_PATH = [(None, "receive", "已接收"), ("已接收", "start", "审核中"), ("审核中", "return", "退回补正"),
              ("退回补正", "resubmit", "已接收"), ("已接收", "start", "审核中"), ("审核中", "propose", "拟处理"),
              ("拟处理", "notify", "陈述申辩"), ("陈述申辩", "statement", "陈述申辩"), ("陈述申辩", "decide", "已决定"),
              ("已决定", "publish", "已公开"), ("已公开", "withdraw", "已撤销")]


@pytest.mark.parametrize("before, action, after", HAPPY_PATH)
def test_the_flow(before, action, after):
    facts = replace(FACTS, status=before, statement_deadline=TODAY + timedelta(days=3), statement_recorded=True)
    assert next_status(facts, action, system=ACTIONS[action].system, reason="理由") == after


@pytest.mark.parametrize("status", [None, *STATUSES])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_from_every_status(status, action):
    """Allowed exactly from the sources the table names; refused (409) from anywhere else."""
    facts = replace(FACTS, status=status, findings=0 if action == "close" else 2,
                    statement_deadline=TODAY + timedelta(days=3), statement_recorded=True)
    system = ACTIONS[action].system
    if status in ACTIONS[action].sources:
        next_status(facts, action, system=system, reason="理由")
    else:
        with pytest.raises(ReviewError) as refused:
            next_status(facts, action, system=system, reason="理由")
        assert refused.value.status == 409 and refused.value.reason == "wrong_status"


def test_people_and_the_system_take_different_actions():
    with pytest.raises(ReviewError, match="系统自动记录") as person:
        next_status(replace(FACTS, status="已决定"), "publish", system=False)
    assert person.value.status == 403
    with pytest.raises(ReviewError) as machine:
        next_status(replace(FACTS, status="已接收"), "start", system=True)
    assert machine.value.reason == "not_a_person"


def test_an_inspector_cannot_review_their_own_inspection():
    own = replace(FACTS, status="已接收", actor_inspected=True)
    with pytest.raises(ReviewError) as refused:
        next_status(own, "start", system=False)
    assert (refused.value.status, refused.value.reason) == (403, "own_inspection")
    assert review.allowed_actions(own) == []
    assert next_status(replace(own, status=None), "receive", system=True) == "已接收"  # the bureau still files it


@pytest.mark.parametrize("action", ["return", "close", "propose", "revise", "reopen", "withdraw"])
def test_reasons_are_required(action):
    status = {"revise": "拟处理", "reopen": "拟处理", "withdraw": "已决定"}.get(action, "审核中")
    facts = replace(FACTS, status=status, findings=0 if action == "close" else 2)
    with pytest.raises(ReviewError) as refused:
        next_status(facts, action, system=False, reason="  ")
    assert refused.value.reason == "reason_required"


def test_findings_decide_between_closing_and_proposing():
    with pytest.raises(ReviewError, match="不能直接结案"):
        next_status(FACTS, "close", system=False, reason="x")
    with pytest.raises(ReviewError) as nothing:
        next_status(replace(FACTS, findings=0), "propose", system=False, reason="x")
    assert nothing.value.reason == "no_findings"


def test_the_hearing_comes_before_the_decision():
    hearing = replace(FACTS, status="陈述申辩", statement_deadline=TODAY + timedelta(days=1))
    with pytest.raises(ReviewError) as early:
        next_status(hearing, "decide", system=False)
    assert early.value.reason == "hearing_open"
    assert next_status(replace(hearing, statement_recorded=True), "decide", system=False) == "已决定"
    lapsed = replace(hearing, statement_deadline=TODAY - timedelta(days=1))
    assert next_status(lapsed, "decide", system=False) == "已决定"
    with pytest.raises(ReviewError):  # the deadline day itself still belongs to the institution
        next_status(replace(hearing, statement_deadline=TODAY), "decide", system=False)
    for deadline in (None, TODAY, TODAY - timedelta(days=1)):
        with pytest.raises(ReviewError) as bad:
            next_status(replace(FACTS, status="拟处理", statement_deadline=deadline), "notify", system=False)
        assert bad.value.reason == "bad_deadline"


def test_the_buttons_a_reviewer_gets():
    allowed = {status: review.allowed_actions(replace(FACTS, status=status)) for status in STATUSES}
    assert allowed == {"已接收": ["start"], "审核中": ["return", "propose"], "退回补正": [],
                       "拟处理": ["revise", "reopen", "notify"], "陈述申辩": ["revise", "statement"],
                       "已决定": ["withdraw"], "已公开": ["withdraw"], "已撤销": []}
    clean = replace(FACTS, status="审核中", findings=0)
    assert review.allowed_actions(clean) == ["return", "close"]
    heard = replace(FACTS, status="陈述申辩", statement_recorded=True)
    assert review.allowed_actions(heard) == ["revise", "statement", "decide"]


def test_unknown_actions():
    with pytest.raises(ReviewError) as unknown:
        next_status(FACTS, "approve", system=False)
    assert unknown.value.reason == "unknown_action"


# ------------------------------------------------------------ the audit chain


def chain(n: int) -> list[ReviewEvent]:
    rows, prev = [], review.GENESIS
    at = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    for seq in range(n):
        row = ReviewEvent(record_id="r1", seq=seq, version=1, action="start", from_status="已接收", to_status="审核中",
                          actor="shenhe", actor_role="reviewer", at=at + timedelta(minutes=seq), reason=f"第{seq}步",
                          details={"n": seq}, prev_hash=prev, event_hash="")
        row.event_hash = review.event_hash(prev, review.event_content(row))
        prev = row.event_hash
        rows.append(row)
    return rows


def test_an_intact_chain_and_naive_times_from_the_database():
    rows = chain(5)
    assert review.chain_problems(rows, 5, rows[-1].event_hash) == []
    naive = [row.model_copy(update={"at": row.at.replace(tzinfo=None)}) for row in rows]  # SQLite gives naive UTC
    assert review.chain_problems(naive, 5, rows[-1].event_hash) == []
    assert review.chain_problems([], 0, "") == []


@given(st.integers(min_value=0, max_value=5), st.sampled_from(["reason", "actor", "at", "details", "to_status"]))
def test_any_edit_shows(index, field):
    rows = chain(6)
    changed = {"reason": "改过", "actor": "someone", "at": rows[index].at + timedelta(seconds=1),
               "details": {"n": -1}, "to_status": "已决定"}[field]
    head = rows[-1].event_hash
    rows[index] = rows[index].model_copy(update={field: changed})
    assert review.chain_problems(rows, 6, head)


@given(st.integers(min_value=0, max_value=5))
def test_a_deleted_event_shows(index):
    rows = chain(6)
    head = rows[-1].event_hash
    del rows[index]
    assert review.chain_problems(rows, 6, head)


# ------------------------------------------------------------ signatures, checked again for the reviewer


def test_signatures_are_checked_again():
    record = {"record_id": "r1", "version": 1, "answers": {}}
    record_hash = content_hash(record)
    first, second = generate_signing_key(), generate_signing_key()
    keys = {key_id(k.public_key()): {"public_key": public_key_to_b64(k.public_key()), "inspector": code,
                                     "status": "active", "device_id": "tablet-1"}
            for k, code in ((first, "I0001"), (second, "I0002"))}
    signatures = [sign_record(record_hash, first, "I0001"), sign_record(record_hash, second, "I0002")]
    good = review.verify_signatures(record, record_hash, signatures, keys)
    assert good["all_valid"] and good["record_hash_ok"] and [s["valid"] for s in good["signatures"]] == [True, True]
    altered = review.verify_signatures({**record, "answers": {"x": 1}}, record_hash, signatures, keys)
    assert not altered["all_valid"] and not altered["record_hash_ok"]
    swapped = [{**signatures[0], "inspector": "I0002"}, signatures[1]]
    assert [s["valid"] for s in review.verify_signatures(record, record_hash, swapped, keys)["signatures"]] == \
        [False, True]
    unknown = review.verify_signatures(record, record_hash, signatures, {})
    assert not unknown["all_valid"] and {s["key_status"] for s in unknown["signatures"]} == {"unknown"}


def test_the_day_an_inspection_was_locked():
    assert review.inspected_on({"locked_at": "2026-11-20T03:00:00+00:00"}) is not None
    assert review.inspected_on({}) is None and review.inspected_on({"locked_at": "garbage"}) is None
    assert review.inspected_by({"team": ["I1", "I2"], "inspector_code": "I1"}, ["I3"]) == {"I1", "I2", "I3"}


def test_the_document_kind_follows_the_engines_tracks():
    """协议处理 only when every measure is on the agreement track the engine's `measures_detail` names (约谈 is the
    行政部门's under the rules), never by a list of the bureau's own; 行政处罚 when an administrative measure is a
    penalty (罚款, 暂停: 行政处罚法 第九条), 行政处理 when it only orders correction, repayment or a talk."""
    rules = [{"measure": m, "track": t.name} for m, t in penalty.penalty_rules().tracks.items()]
    assert decisions.document_kind(["约谈"], rules) == "行政处理"
    assert decisions.document_kind(["责令改正", "责令退回"], rules) == "行政处理"
    assert decisions.document_kind(["解除服务协议"], rules) == "协议处理"
    assert decisions.document_kind(["解除服务协议", "罚款"], rules) == "行政处罚"
    assert decisions.document_kind(["责令改正", "暂停联网结算"], rules) == "行政处罚"
    assert decisions.document_kind(["约谈"], [{"measure": "约谈", "track": "agreement"}]) == "协议处理"
    assert decisions.document_kind(["解除服务协议"], []) == "行政处理"  # a measure the engine did not place
    assert decisions.document_kind([], rules) == "行政处理"


def test_a_must_waiver_leaves_no_fine_to_choose():
    record = {**BASE, "answers": answers(**{"R-FEE-02": ("代刷", "500.00")})}
    flags = decisions.Flags(circumstances=("no_fault",))
    proposed = decisions.proposal(record, flags)
    assert proposed["penalty"]["no_penalty"] == "must" and proposed["flags"]["circumstances"] == ["no_fault"]
    chosen = decisions.check_choice(proposed, {"rectification_due": TODAY + timedelta(days=30)}, TODAY)
    assert chosen["fine_yuan"] is None and chosen["measures"] == ["责令改正", "责令退回"]
    assert chosen["case_flags"]["circumstances"] == ["no_fault"] and chosen["doc_kind"] == "行政处理"
    with pytest.raises(review.ReviewError) as refused:
        decisions.check_choice(proposed, {"fine_yuan": "500.00", "fine_reason": "x",
                                          "rectification_due": TODAY + timedelta(days=30)}, TODAY)
    assert "本案依规定不处罚款" in refused.value.message
    fined = decisions.proposal(record)["penalty"]
    assert fined["fine_yuan"] is not None and fined["no_penalty"] is None


def test_a_may_waiver_is_the_reviewers_choice():
    record = {**BASE, "answers": answers(**{"R-FEE-02": ("代刷", "500.00")})}
    due = TODAY + timedelta(days=30)
    proposed = decisions.proposal(record, decisions.Flags(
        circumstances=("first_offence", "harm_minor", "corrected_promptly")))
    assert proposed["penalty"]["no_penalty"] == "may" and proposed["penalty"]["fine_yuan"] is not None
    with pytest.raises(review.ReviewError) as unchosen:  # not waived: the fine within the range, as always
        decisions.check_choice(proposed, {"rectification_due": due}, TODAY)
    assert "之间确定罚款金额" in unchosen.value.message
    waived = decisions.check_choice(proposed, {"waive_penalty": True, "rectification_due": due}, TODAY)
    assert waived["fine_yuan"] is None and "罚款" not in waived["measures"] and waived["case_flags"]["waive_penalty"]
    with pytest.raises(review.ReviewError) as both:
        decisions.check_choice(proposed, {"waive_penalty": True, "fine_yuan": "500.00", "rectification_due": due},
                               TODAY)
    assert "不予行政处罚，不处罚款" in both.value.message
    with pytest.raises(review.ReviewError) as not_allowed:
        decisions.check_choice(decisions.proposal(record), {"waive_penalty": True, "rectification_due": due}, TODAY)
    assert "不属于可以不予行政处罚的情形" in not_allowed.value.message
