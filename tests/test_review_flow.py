"""A synced inspection through review on a real bureau, on SQLite and PostgreSQL: the queue and its filters, the
case with its verification, 退回补正 and the corrected version, 回避, the proposal within the range, 陈述申辩,
the decision and its PDF, the ledgers and 回头看, withdrawal on 复议, and the audit log."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from bureau import review
from bureau.db import make_engine
from bureau.draw_records import load_snapshot
from bureau.models import ReviewCase, ReviewEvent
from checklists import points
from checklists.money import yuan_in_capitals
from tests.browser import ARTIFACTS
from tests.test_review_support import (
    INSPECTING_REVIEWER,
    PHARMACIST,
    Staff,
    add_review_staff,
    correct,
    file_case,
    inspect,
    pin_tablet,
    sync,
)

PHARMACY, CLINIC = "P35010200001", "H35010200002"


@pytest.fixture
def world(running_bureau, tmp_path):
    add_review_staff(running_bureau.settings)
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    return running_bureau, tablet


def pharmacy_findings():
    """串换 (38.4, B) and 处方药未凭处方 (38.6, C): Art. 38, fined 1–2 times the loss."""
    first, second = "R-FEE-02", "R-RX-01"
    return first, second, {first: ("收银台发现代刷记录 12 笔，无对应购药", "3860.50"),
                           second: ("处方药未凭处方销售", "420.00")}


def test_a_case_from_receipt_to_decision_withdrawal_and_ledgers(world):
    bureau, tablet = world
    first, second, failed = pharmacy_findings()
    record_id = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    reviewer, supervisor = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren")
    base = f"/v1/review/records/{record_id}"

    # The queue: filters by kind, region, status, critical, score.
    queue = reviewer.get("/v1/review/queue")["items"]
    assert [(i["record_id"], i["status"], i["findings"]) for i in queue] == [(record_id, "已接收", 2)]
    assert reviewer.get("/v1/review/queue", params={"kind": "hospital"})["items"] == []
    assert len(reviewer.get("/v1/review/queue", params={"kind": "pharmacy", "region": "3501"})["items"]) == 1
    assert reviewer.get("/v1/review/queue", params={"region": "4403"})["items"] == []
    assert reviewer.get("/v1/review/queue", params={"status": "审核中"})["items"] == []
    score = Decimal(queue[0]["score"])
    assert len(reviewer.get("/v1/review/queue", params={"max_score": str(score)})["items"]) == 1
    assert reviewer.get("/v1/review/queue", params={"min_score": str(score + 1)})["items"] == []
    assert len(reviewer.get("/v1/review/queue", params={"critical": str(queue[0]["critical"]).lower()})["items"]) == 1
    reviewer.get("/v1/review/queue", expect=422, params={"status": "胡说"})

    # The case: the record as signed, verified again; the receipt; photos.
    case = reviewer.get(base)
    assert case["verification"]["all_valid"] and case["receipt_verified"] and not case["score"]["mismatch"]
    assert [s["role"] for s in case["record"]["signatures"]] == ["inspector_1", "inspector_2", "representative"]
    assert {s["inspector"] for s in case["verification"]["signatures"]} == {"I0001", "I0002"}
    assert case["actions"] == ["start"] and case["audit"][0]["action"] == "receive" and not case["audit_problems"]
    photo = case["record"]["photos"][0]["sha256"]
    assert hashlib.sha256(reviewer.get(f"/v1/review/blobs/{photo}")).hexdigest() == photo
    assert supervisor.get(base)["actions"] == []

    # 回避 and roles: the reviewer who inspected cannot act; a supervisor cannot act.
    own = Staff(bureau.url, INSPECTING_REVIEWER)
    refused = own.post(f"{base}/start", expect=403)
    assert refused["detail"]["reason"] == "own_inspection"
    assert own.get(base)["own_inspection"] is True
    assert supervisor.post(f"{base}/start", expect=403)["detail"]["reason"] == "wrong_role"

    # 退回补正: the tablet receives the request; the corrected version comes back and links to the old one.
    reviewer.post(f"{base}/start")
    assert reviewer.post(f"{base}/return", {"reason": ""}, expect=422)["detail"]["reason"] == "reason_required"
    returned = reviewer.post(f"{base}/return", {"reason": "金额与票据不符，请核实后更正"})
    assert returned["status"] == "退回补正" and returned["corrections"][0]["status"] == "open"
    report = sync(tablet)
    assert report.error is None
    correct(tablet, record_id, "依审核意见更正金额", first, "收银台发现代刷记录 12 笔，无对应购药", "3680.50")
    case = reviewer.get(base)
    assert case["status"] == "已接收" and case["version"] == 2
    assert case["versions"][1]["previous_hash"] == case["versions"][0]["record_hash"]
    assert case["corrections"][0]["status"] == "answered"
    assert reviewer.get(base, params={"version": 1})["record"]["version"] == 1

    # 拟处理: the engine's proposal; the fine within the range, with a reason.
    reviewer.post(f"{base}/start")
    proposal = reviewer.get(f"{base}/proposal")
    fine_range = proposal["penalty"]["fine_yuan"]
    recover = proposal["penalty"]["recover_yuan"]
    assert recover == "4100.50" and fine_range == {"min": "4100.50", "max": "8201.00"}
    assert [(p["staff_code"], p["behaviour_id"]) for p in proposal["person_points_suggested"]] == [
        (PHARMACIST, "out_of_scope_settled")]
    assert proposal["institution_points_total"] == 12  # two B items (R-RX-01 is B from pharmacy 2026.1): 6 + 6
    due = (date.today() + timedelta(days=30)).isoformat()
    choice = {"fine_yuan": "9000.00", "fine_reason": "多次违规", "rectification_due": due, "reason": "事实清楚",
              "optional_measures": ["约谈"], "person_points": [{"staff_code": PHARMACIST, "behaviour_id": "substitution"}]}
    too_much = reviewer.post(f"{base}/proposal", choice, expect=422)["detail"]
    assert too_much["reason"] == "invalid_choice" and any("超出法定幅度" in p for p in too_much["problems"])
    no_reason = reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "6000", "fine_reason": ""}, expect=422)
    assert any("裁量理由" in p for p in no_reason["detail"]["problems"])
    # the 暂停医保支付资格's term, should the points reach 9: within the rules' 1–6 months
    assert proposal["person_suspension"] == {"at": 9, "min": 1, "max": 6}
    long_term = reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "6000", "person_points": [
        {"staff_code": PHARMACIST, "behaviour_id": "substitution", "suspension_months": 7}]}, expect=422)["detail"]
    assert f"{PHARMACIST} 暂停医保支付资格的期限应为 1～6 个月，实际为 7 个月" in long_term["problems"]
    proposed = reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "6000"})
    assert proposed["status"] == "拟处理" and proposed["decision"]["fine_yuan"] == "6000.00"
    assert proposed["decision"]["measures"] == ["责令改正", "约谈", "责令退回", "罚款"]

    # 陈述申辩: a deadline; no decision before the statement or the deadline. A fine is a 行政处罚: 立案 first.
    assert reviewer.post(f"{base}/decide", expect=409)["detail"]["reason"] == "wrong_status"
    deadline = (date.today() + timedelta(days=7)).isoformat()
    unfiled = reviewer.post(f"{base}/notify", {"deadline": deadline}, expect=409)["detail"]
    assert unfiled["reason"] == "not_filed" and "罚款属于行政处罚" in unfiled["message"]
    file_case(reviewer, supervisor, base)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    assert reviewer.post(f"{base}/notify", {"deadline": yesterday}, expect=422)["detail"]["reason"] == "bad_deadline"
    assert reviewer.post(f"{base}/notify", {"deadline": deadline})["status"] == "陈述申辩"
    assert reviewer.post(f"{base}/decide", expect=409)["detail"]["reason"] == "hearing_open"
    letter = "我店已于当日整改，请求从轻处理。".encode()
    heard = reviewer.post(f"{base}/statement", {"text": "已整改，请求从轻", "attachment_name": "申辩书.txt",
                                                 "attachment_b64": base64.b64encode(letter).decode()})
    assert heard["statement"]["text"] == "已整改，请求从轻" and heard["statement"]["attachment_name"] == "申辩书.txt"
    assert reviewer.get(f"{base}/statement/attachment") == letter
    revised = reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "4500.00", "fine_reason": "已整改，从轻",
                                                 "reason": "采纳申辩意见", "factors": ["refunded_before_decision"]})
    assert revised["status"] == "陈述申辩" and revised["decision"]["fine_yuan"] == "4500.00"
    decided = reviewer.post(f"{base}/decide")
    decision = decided["decision"]
    assert decided["status"] == "已决定" and decision["status"] == "issued"
    assert decision["decision_no"] == f"医保行处〔{date.today().year}〕1号"

    # The 决定书: amounts in figures and capitals, the basis, the 复议 notice, the record hash; rendered to PNG.
    pdf = reviewer.get(f"{base}/decision.pdf")
    assert pdf.startswith(b"%PDF") and supervisor.get(f"{base}/decision.pdf") == pdf
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                   .stdout.decode().split())
    for expected in ("医疗保障行政处罚决定书", decision["decision_no"], "4,100.50", yuan_in_capitals(Decimal("4100.50")),
                     "4,500.00", "肆仟伍佰元整", "条例第三十八条", "行政复议", "行政诉讼", "已整改，请求从轻",
                     decided["record_hash"][:40]):
        assert expected in text, expected
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-", str(ARTIFACTS / "review-decision-pdf")], input=pdf,
                   check=True)
    assert (ARTIFACTS / "review-decision-pdf-1.png").exists()

    # The ledgers match the decision.
    ledgers = reviewer.get("/v1/ledger")
    [institution] = ledgers["institutions"]
    severities = {f["item_id"]: f["severity"] for f in decided["record"]["findings"]}
    expected_points = sum(points.institution_points(s) for s in severities.values())
    assert institution["points"] == expected_points and institution["institution_code"] == PHARMACY
    assert institution["grade"] == points.annual_grade(expected_points)
    assert institution["recovered_yuan"] == "4100.50" and institution["fined_yuan"] == "4500.00"
    assert ledgers["people"] == [{"staff_code": PHARMACIST, "year": date.today().year, "points": 6, "action": None,
                                  "suspension_months": None, "bar_years": None, "since": None, "until": None,
                                  "register_from": None, "at_once": None, "carried": False, "text": ""}]
    assert decision["person_points"][0]["status"] == {k: v for k, v in ledgers["people"][0].items()
                                                      if k != "staff_code"}
    assert ledgers["totals"] == {"recovered_yuan": "4100.50", "fined_yuan": "4500.00"}
    month = date.today().strftime("%Y-%m")
    assert [m for m in ledgers["money"] if m["month"] == month] == [
        {"month": month, "recovered_yuan": "4100.50", "fined_yuan": "4500.00"}]

    # 回头看: the rectification order is a follow-up of the next draw, overdue after its due date.
    followups = reviewer.get("/v1/followups")
    [order] = followups["items"]
    assert order["open"] and not order["overdue"] and order["due_date"] == due
    late = reviewer.get("/v1/followups", params={"as_of": (date.today() + timedelta(days=31)).isoformat()})
    assert late["items"][0]["overdue"] and late["items"][0]["days_overdue"] == 1 and late["overdue"] == 1
    engine = make_engine(bureau.settings.database_url)
    with Session(engine) as session:
        assert load_snapshot(session)["followups"] == [PHARMACY]
    coverage = supervisor.get("/v1/coverage")
    assert PHARMACY not in {o["code"] for o in coverage["overdue_institutions"]}

    # Withdrawn on 复议: every entry reversed, the order closed, nothing left standing.
    assert reviewer.post(f"{base}/withdraw", {"reason": ""}, expect=422)["detail"]["reason"] == "reason_required"
    withdrawn = reviewer.post(f"{base}/withdraw", {"reason": "复议决定撤销（榕政复〔2026〕12号）"})
    assert withdrawn["status"] == "已撤销" and withdrawn["decision"]["status"] == "withdrawn"
    ledgers = reviewer.get("/v1/ledger")
    assert ledgers["totals"] == {"recovered_yuan": "0.00", "fined_yuan": "0.00"}
    assert ledgers["institutions"][0]["points"] == 0 and ledgers["people"] == []
    reversals = [e for e in ledgers["entries"] if e["reversal"]]
    originals = [e for e in ledgers["entries"] if not e["reversal"]]
    assert len(reversals) == len(originals) > 0
    assert reviewer.get("/v1/followups")["open"] == 0
    with Session(engine) as session:
        assert load_snapshot(session)["followups"] == []

    # The audit log: every step, who and why, and a chain that shows tampering.
    audit = reviewer.get(base)["audit"]
    assert [e["action"] for e in audit] == ["receive", "start", "return", "resubmit", "start", "propose",
                                            "request_filing", "approve_filing", "notify", "statement", "revise",
                                            "decide", "withdraw"]
    assert {e["actor"] for e in audit if e["action"] not in ("receive", "resubmit", "approve_filing")} == {"shenhe"}
    assert audit[2]["reason"] == "金额与票据不符，请核实后更正"
    with Session(engine) as session:
        event = session.exec(select(ReviewEvent).where(ReviewEvent.record_id == record_id,
                                                       ReviewEvent.action == "revise")).one()
        event.reason = "改过的理由"
        session.add(event)
        session.commit()
    engine.dispose()
    assert reviewer.get(base)["audit_problems"]


def test_the_case_opens_with_the_record_and_older_databases_are_backfilled(world):
    """Ingest opens the case in the transaction that stores the record, before anyone looks at the queue; a record
    stored without one (by a bureau from before that) gets it from the backfill, once."""
    bureau, tablet = world
    record_id = inspect(tablet, CLINIC)
    engine = make_engine(bureau.settings.database_url)
    with Session(engine) as session:
        case = session.get(ReviewCase, record_id)
        assert (case.status, case.events) == (review.RECEIVED, 1)
        for event in session.exec(select(ReviewEvent).where(ReviewEvent.record_id == record_id)):
            session.delete(event)
        session.commit()
        session.delete(case)
        session.commit()
        assert review.backfill_cases(session, datetime.now(timezone.utc)) == 1
        assert review.backfill_cases(session, datetime.now(timezone.utc)) == 0
    engine.dispose()
    detail = Staff(bureau.url, "shenhe").get(f"/v1/review/records/{record_id}")
    assert detail["status"] == review.RECEIVED and [e["action"] for e in detail["audit"]] == ["receive"]
    assert detail["audit_problems"] == []


def test_no_findings_closes_and_a_refusal_is_shown(world):
    bureau, tablet = world
    record_id = inspect(tablet, CLINIC, refuse=True)
    reviewer = Staff(bureau.url, "shenhe")
    base = f"/v1/review/records/{record_id}"
    case = reviewer.get(base)
    refusal = case["record"]["refusal"]
    assert refusal["reason"] == "认为检查结果不实" and refusal["witness_name"] == "王五"
    assert [s["role"] for s in case["record"]["signatures"]] == ["inspector_1", "inspector_2"]
    reviewer.post(f"{base}/start")
    assert reviewer.get(f"{base}/proposal", expect=409)["detail"]["reason"] == "no_findings"
    assert reviewer.post(f"{base}/proposal", {"reason": "x"}, expect=409)["detail"]["reason"] == "no_findings"
    closed = reviewer.post(f"{base}/close", {"reason": "未发现违法违规问题"})
    assert closed["status"] == "已决定" and closed["decision"]["outcome"] == "no_violation"
    assert reviewer.get(f"{base}/decision.pdf", expect=404)["detail"]["reason"] == "no_decision"
    assert reviewer.get("/v1/ledger")["entries"] == []


def test_a_score_mismatch_shows_in_the_queue(world):
    """A tablet that claims a different score than the answers give is flagged, not refused (ingest's check)."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("发现问题", "100.00")})
    engine = make_engine(bureau.settings.database_url)
    from bureau.models import ReceivedRecord

    with Session(engine) as session:  # what ingest stores for a tablet whose shown score was wrong
        row = session.exec(select(ReceivedRecord).where(ReceivedRecord.record_id == record_id)).one()
        row.score_claimed, row.score_mismatch = "100.0", True
        session.add(row)
        session.commit()
    engine.dispose()
    reviewer = Staff(bureau.url, "shenhe")
    [item] = reviewer.get("/v1/review/queue", params={"mismatch": "true"})["items"]
    assert item["score_claimed"] == "100.0" and item["score"] != "100.0"
    assert reviewer.get(f"/v1/review/records/{record_id}")["score"]["mismatch"] is True


def test_circumstances_waive_the_fine_and_a_large_fine_gives_the_hearing_right(world):
    """行政处罚法 Art. 33 circumstances go to the engine: 应当不予处罚 leaves no fine to propose and the decision is
    fine-free; without them the fine's upper end reaches the hearing threshold."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("收银台代刷记录", "60000.00")})
    reviewer = Staff(bureau.url, "shenhe")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")

    fined = reviewer.get(f"{base}/proposal")["penalty"]
    assert fined["fine_yuan"] == {"min": "60000.00", "max": "120000.00"} and fined["hearing_right"] is True
    assert fined["no_penalty"] is None and fined["referrals"] == []
    fraud = reviewer.get(f"{base}/proposal", params={"intent": ["R-FEE-02"]})["penalty"]
    assert {r["to"] for r in fraud["referrals"]} == {"公安机关", "卫生健康主管部门"}
    assert {d["measure"]: d["imposed_by"] for d in fined["measures_detail"]}["约谈"] == "医疗保障行政部门"

    must = ["minor", "corrected_promptly", "no_harm"]
    waived = reviewer.get(f"{base}/proposal", params={"circumstance": must})["penalty"]
    assert waived["no_penalty"] == "must" and "第三十三条" in waived["no_penalty_basis"]
    assert waived["fine_yuan"] is None and "罚款" not in waived["measures"] and waived["hearing_right"] is False
    contradiction = reviewer.get(f"{base}/proposal", expect=422, params={
        "circumstance": ["corrected_promptly"], "refused_to_correct": "true"})["detail"]
    assert any("相互矛盾" in p for p in contradiction["problems"])
    assert reviewer.get(f"{base}/proposal", expect=422, params={"circumstance": ["后悔"]})["detail"]["problems"]

    due = (date.today() + timedelta(days=30)).isoformat()
    choice = {"circumstances": must, "rectification_due": due, "reason": "违法行为轻微并及时改正，没有造成危害后果"}
    refused = reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "100.00", "fine_reason": "x"}, expect=422)
    assert "本案依规定不处罚款" in refused["detail"]["problems"]
    proposed = reviewer.post(f"{base}/proposal", choice)["decision"]
    assert proposed["fine_yuan"] is None and proposed["measures"] == ["责令改正", "责令退回"]
    assert proposed["case_flags"]["circumstances"] == must and proposed["proposal"]["no_penalty"] == "must"
    assert proposed["doc_kind"] == "行政处理"
    reviewer.post(f"{base}/notify", {"deadline": (date.today() + timedelta(days=5)).isoformat()})
    reviewer.post(f"{base}/statement", {"waived": True})
    decided = reviewer.post(f"{base}/decide")  # 责令改正 and 责令退回 are 行政处理: notified and decided unfiled
    assert decided["status"] == "已决定" and decided["decision"]["fine_yuan"] is None
    assert decided["decision"]["recover_yuan"] == "60000.00" and decided["procedure"]["filed_on"] is None
