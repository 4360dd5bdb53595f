"""Strict ingest through the real API, on SQLite and PostgreSQL: a signed record that does not fit the record schema
is refused with a reason naming the field, nothing of it is stored, and the review queue and case pages stand; a
record whose findings disagree with its answers is stored and flagged, and the proposal rests on the findings the
bureau derived from the answers."""

from __future__ import annotations

from sqlmodel import Session, select

import checklists
from bureau.db import make_engine
from bureau.models import Rejection
from checklists.findings import derive_findings
from checklists.scoring import score
from checklists.templates import template_history
from staff_app.review_vm import verification_lines
from tests.record_support import FAILED, sender
from tests.test_review_support import Staff

MALFORMED = {  # what the record carries -> (reason, the field the message names)
    "findings: 7": (lambda r: r.update(findings=7), "record_wrong_type", "findings"),
    "findings: [1]": (lambda r: r.update(findings=[1]), "record_wrong_type", "findings[0]"),
    "findings: [{}]": (lambda r: r.update(findings=[{}]), "record_missing_field", "findings[0].item_id"),
    "team: 5": (lambda r: r.update(team=5), "record_wrong_type", "team"),
    "unknown top-level field": (lambda r: r.update(remark="备注"), "record_unknown_field", "remark"),
    "overlong note": (lambda r: r["answers"]["R-RX-01"].update(note="长" * 10_001), "record_too_long",
                      "answers.R-RX-01.note"),
    "overlong finding title": (lambda r: r["findings"][0].update(title="题" * 1001), "record_too_long",
                               "findings[0].title"),
    "amount as a number": (lambda r: r["findings"][1].update(amount_yuan=420), "record_wrong_type",
                           "findings[1].amount_yuan"),
    "no format": (lambda r: r.pop("format"), "record_format_unknown", "格式"),
    "signature without strokes": (lambda r: r["signatures"][0].pop("strokes"), "record_missing_field",
                                  "signatures[0].strokes"),
}


def test_malformed_records_are_refused_and_the_queue_stands(running_bureau, tmp_path):
    s = sender(running_bureau, tmp_path / "tablet")
    for number, (label, (mutate, reason, field)) in enumerate(MALFORMED.items()):
        record_id = f"malformed-{number:02d}"
        record = s.variant(record_id)
        mutate(record)
        status, said, message = s.send(record, record_id)
        assert (status, said) == (422, reason), (label, status, said, message)
        assert field in message, (label, message)
        assert s.stored() == []
        assert s.queue() == []  # 200, every time
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        assert [r.reason for r in session.exec(select(Rejection).order_by(Rejection.id))] == \
            [reason for _mutate, reason, _field in MALFORMED.values()]
    engine.dispose()

    # the record as the tablet made it is taken, and its case page opens
    status, said, _hash = s.send(s.record, s.record["record_id"])
    assert (status, said) == (200, "accepted")
    [item] = s.queue()
    assert item["findings"] == 2
    case = s.reviewer.get(f"/v1/review/records/{item['record_id']}")
    assert case["findings_check"]["differences"] == [] and case["findings_check"]["problem"] is None
    assert (True, "发现的问题 2 项（局端按原始答案与模板重算，与平板所报一致）") in verification_lines(case)


def test_findings_that_disagree_with_the_answers_are_flagged_and_not_proposed(running_bureau, tmp_path):
    s = sender(running_bureau, tmp_path / "tablet")
    record = s.variant("disagreeing-0001")
    fee, prescription = record["findings"]
    fee.update(amount_yuan="999999.00", category="40.3")  # the tablet's finding: 虚构服务, a far larger loss
    prescription.update(description="无")  # ... and another description than the answer's
    status, said, _hash = s.send(record, "disagreeing-0001")
    assert (status, said) == (200, "accepted")  # stored: the answers are what was signed on site
    [item] = s.queue()
    assert item["findings"] == 2  # counted from the answers

    base = "/v1/review/records/disagreeing-0001"
    case = s.reviewer.get(base)
    check = case["findings_check"]
    assert [(f["item_id"], f["category"], f["amount_yuan"]) for f in check["findings"]] == [
        ("R-FEE-02", "38.4", FAILED["R-FEE-02"][1]), ("R-RX-01", "38.6", FAILED["R-RX-01"][1])]
    assert check["findings"][1]["staff_codes"] == prescription["staff_codes"] != []
    assert len(check["differences"]) == 3
    assert any("R-RX-01" in d and "情况说明" in d and "处方药未凭处方销售" in d for d in check["differences"])
    assert any("R-FEE-02" in d and "涉及金额" in d and "999999.00" in d and "3860.50" in d
               for d in check["differences"])
    assert any("R-FEE-02" in d and "违规类别" in d and "40.3" in d for d in check["differences"])
    flagged = [text for ok, text in verification_lines(case) if not ok]
    assert flagged[0].startswith("平板所报问题与答案不符（3 处）") and len(flagged) == 4

    # the year's dashboard counts the categories of the answers (38.4, 38.6), not the tablet's 40.3
    board = Staff(running_bureau.url, "zhuren").get(f"/v1/dashboard?year={item['inspected_on'][:4]}")
    [violations] = [t for t in board["tables"] if t["name"] == "violations"]
    assert [(row[0], row[-1]) for row in violations["rows"]] == [("38.4", 1), ("38.6", 1), ("合计", 2)]

    s.reviewer.post(f"{base}/start")
    proposal = s.reviewer.get(f"{base}/proposal")
    assert [f["item_id"] for f in proposal["findings"]] == ["R-FEE-02", "R-RX-01"]
    assert proposal["penalty"]["recover_yuan"] == "4280.50"  # 3860.50 + 420.00, from the answers
    assert 40 not in proposal["penalty"]["articles"]  # no 虚构服务: the tablet's category is not taken
    assert proposal["person_points_suggested"][0]["staff_code"] == prescription["staff_codes"][0]


def test_a_record_pinned_to_an_earlier_template_release_is_scored_and_judged_with_it(running_bureau, tmp_path):
    """A tablet that began its inspection on the pharmacy template 2025.2 syncs after the 2026.1 upgrade: the bureau
    takes it, scores it and derives its findings with 2025.2 (R-RX-01 still a C item there, a B item now)."""
    [old] = [t for (template_id, _hash), t in template_history().items() if template_id == "pharmacy"]
    assert old.version == "2025.2" and old.hash != checklists.template_for_kind("pharmacy").hash
    s = sender(running_bureau, tmp_path / "tablet")
    record = s.variant("pinned-2025-0001")
    record["template_hash"] = old.hash
    record["answers"] = {item_id: a for item_id, a in record["answers"].items() if old.has_item(item_id)}
    staff = {f["item_id"]: f["staff_codes"] for f in record["findings"]}
    record["findings"] = [f | {"staff_codes": staff[f["item_id"]]} for f in derive_findings(old, record["answers"])]
    result = score(old, record["answers"])
    record["score"] = {"value": str(result.score), "critical": result.critical}
    assert score(checklists.template_for_kind("pharmacy"), s.record["answers"]).score != result.score

    status, said, _hash = s.send(record, "pinned-2025-0001")
    assert (status, said) == (200, "accepted")
    [item] = s.queue()
    assert item["findings"] == 2 and item["score"] == str(result.score)
    base = "/v1/review/records/pinned-2025-0001"
    case = s.reviewer.get(base)
    assert not case["score"]["mismatch"]
    check = case["findings_check"]
    assert check["differences"] == [] and check["problem"] is None
    assert [(f["item_id"], f["category"], f["severity"]) for f in check["findings"]] == [
        ("R-FEE-02", "38.4", "B"), ("R-RX-01", "38.6", "C")]
    s.reviewer.post(f"{base}/start")
    proposal = s.reviewer.get(f"{base}/proposal")
    assert [f["item_id"] for f in proposal["findings"]] == ["R-FEE-02", "R-RX-01"]
    assert proposal["penalty"]["recover_yuan"] == "4280.50"
