"""The penalty procedure through the bureau's API, on SQLite and PostgreSQL: a case with a hearing (立案 approved by
another person, the 90-day clock flagged overdue at an injected day and extended, 告知书, a late hearing request
refused, an officer who inspected refused, 听证通知书 and 听证笔录, 法制审核, Art. 45, 送达, payments per payee with
the late-payment surcharge, 结案, 归档) and a case without a hearing right (a new 告知 for a heavier decision). The
documents are rendered and read back with pdftotext.

The bureau runs in its own process on today's clock; where the law needs days to pass (the hearing seven days after
its notice, a payment after its term), the test moves the case's recorded dates back, as if those days had passed."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from bureau import dashboard, review
from bureau.db import make_engine
from bureau.models import ReviewCase
from checklists.onsite_record import working_days_after
from tests.browser import ARTIFACTS
from tests.support import add_staff
from tests.test_review_support import INSPECTING_REVIEWER, Staff, add_review_staff, inspect, pin_tablet

PHARMACY = "P35010200001"
TODAY = date.today()


@pytest.fixture
def world(running_bureau, tmp_path):
    add_review_staff(running_bureau.settings)
    add_staff(running_bureau.settings, "fazhi", "reviewer")  # 法制审核
    add_staff(running_bureau.settings, "tingzheng", "reviewer")  # a hearing officer outside the case
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    return running_bureau, tablet


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def working(offset: int, days: int) -> str:
    """`days` working days after day(offset) (行政处罚法 第八十五条: its 五日 and 七日 are working days)."""
    return working_days_after(TODAY + timedelta(days=offset), days).isoformat()


def _shift(value: Any, days: int) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return (date.fromisoformat(value) - timedelta(days=days)).isoformat()
    return value


def days_pass(bureau, record_id: str, days: int) -> None:
    """As if `days` had passed: every date the case's procedure recorded, and its 陈述申辩 deadline, move back."""
    engine = make_engine(bureau.settings.database_url)
    with Session(engine) as session:
        case = session.get_one(ReviewCase, record_id)
        case.procedure = _shift(case.procedure, days)
        case.filed_on = date.fromisoformat(case.procedure["filed_on"])
        if case.statement_deadline:
            case.statement_deadline -= timedelta(days=days)
        session.add(case)
        session.commit()
    engine.dispose()


def pdf_text(data: bytes, name: str) -> str:
    path = ARTIFACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    body = [line for line in text.splitlines() if not PAGE_FOOTER.search(line)]  # a footer may split a sentence
    return "".join("".join(body).split())  # lines wrap anywhere in Chinese: compare without whitespace


PAGE_FOOTER = re.compile(r"检查记录哈希|第\s*\d+\s*页\s*共\s*\d+\s*页")


def step(who: Staff, base: str, name: str, body: dict | None = None, expect: int = 200) -> Any:
    return who.post(f"{base}/procedure/{name}", body or {}, expect=expect)


def reason_of(answer: dict) -> str:
    return answer["detail"]["reason"]


def test_a_case_with_a_hearing_from_filing_to_archive(world):
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷医保卡购买日用品，无对应购药", "60000.00")})
    reviewer, supervisor = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren")
    legal, officer = Staff(bureau.url, "fazhi"), Staff(bureau.url, "tingzheng")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")

    # 立案: asked by the reviewer, approved by another person; the 90-day clock starts.
    assert reason_of(step(supervisor, base, "approve_filing", {"opinion": "同意"}, 409)) == "not_requested"
    asked = step(reviewer, base, "request_filing", {"reason": "涉嫌违反条例第三十八条，造成基金损失"})
    assert asked["procedure"]["stage"] == "立案审批" and "approve_filing" in supervisor.get(base)["procedure"]["steps"]
    assert reason_of(step(reviewer, base, "approve_filing", {"opinion": "同意"}, 403)) == "wrong_role"  # a 负责人's
    assert reason_of(step(supervisor, base, "request_hearing", {}, 403)) == "wrong_role"
    on_the_team = Staff(bureau.url, INSPECTING_REVIEWER)  # inspected this pharmacy: 回避 on every step
    assert reason_of(step(on_the_team, base, "mark_major", {"reason": "x"}, 403)) == "own_inspection"
    filed = step(supervisor, base, "approve_filing", {"opinion": "同意立案调查"})["procedure"]
    assert (filed["filed_on"], filed["days_left"], filed["overdue"], filed["stage"]) == (day(0), 90, False, "调查取证")
    [row] = reviewer.get("/v1/review/queue")["items"]
    assert (row["filed_on"], row["decision_due"], row["days_left"], row["overdue"]) == (day(0), day(90), 90, False)

    # The clock at an injected day: 91 days on, the case is overdue on the queue and the dashboard.
    engine = make_engine(bureau.settings.database_url)
    with Session(engine) as session:
        [late] = review.queue(session, review.QueueFilter(), TODAY + timedelta(days=91))
        assert (late["days_left"], late["overdue"]) == (-1, True)
        board = dashboard.load(session, TODAY.year, TODAY + timedelta(days=91))
        deadlines = next(t for t in board["tables"] if t["name"] == "deadlines")
        assert deadlines["rows"] == [[record_id, "福州市鼓楼区东街口大药房", day(0), day(90), -1, "超期"]] \
            and "超期 1 件" in deadlines["title"]
    assert reason_of(step(reviewer, base, "extend", {"days": 30, "reason": "x"}, 403)) == "wrong_role"
    extended = step(supervisor, base, "extend", {"days": 30, "reason": "需调取银行流水"})["procedure"]
    assert extended["decision_due"] == day(120) and extended["record"]["extensions"][0]["approver"] == "zhuren"
    with Session(engine) as session:
        [later] = review.queue(session, review.QueueFilter(), TODAY + timedelta(days=91))
        assert (later["days_left"], later["overdue"]) == (29, False)
    engine.dispose()

    # 拟处理 with a fine whose maximum reaches ¥100,000: the party may ask for a hearing.
    choice = {"fine_yuan": "80000.00", "fine_reason": "金额较大", "rectification_due": day(30), "reason": "事实清楚"}
    proposed = reviewer.post(f"{base}/proposal", choice)
    assert proposed["decision"]["proposal"]["hearing_right"] is True
    told = reviewer.post(f"{base}/notify", {"served_on": day(0)})
    notice = told["procedure"]["record"]["notice"]
    assert told["status"] == "陈述申辩" and told["statement"]["deadline"] == working(0, 5)
    assert (notice["hearing_right"], notice["hearing_deadline"], notice["terms"]["fine_yuan"]) == \
        (True, working(0, 5), "80000.00")
    text = pdf_text(reviewer.get(f"{base}/procedure/notice.pdf"), "procedure-notice.pdf")
    for element in ("行政处罚事先告知书", "福州市鼓楼区东街口大药房", "违法事实", "理由和依据", "条例第三十八条",
                    "拟作出的行政处罚", "处罚款 80,000.00 元", "责令退回医疗保障基金 60,000.00 元", "陈述和申辩",
                    "要求举行听证", "第六十四条", "不因你单位陈述、申辩而给予更重的处罚", "（印章）"):
        assert element.replace(" ", "") in text, element
    assert reviewer.get(f"{base}/procedure/notice.pdf") == reviewer.get(f"{base}/procedure/notice.pdf")
    blocked = reviewer.post(f"{base}/statement", {"waived": True}) and reviewer.post(f"{base}/decide", expect=409)
    assert reason_of(blocked) == "procedure_incomplete" and "第五十八条" in blocked["detail"]["message"]

    # 听证: a request after five working days is refused; the officer neither inspected nor investigated; seven
    # working days' notice.
    days_pass(bureau, record_id, 9)  # five working days end within seven calendar days
    late = step(reviewer, base, "request_hearing", {"requested_on": day(0)}, 409)
    assert reason_of(late) == "hearing_request_late" and "第六十四条第一项" in late["detail"]["message"]
    step(reviewer, base, "request_hearing", {"requested_on": day(-8)})
    earliest = working(0, 7)
    hearing = {"notified_on": day(0), "held_on": earliest, "held_at": "09:30", "place": "市医保局三楼听证室"}
    assert reason_of(step(reviewer, base, "hearing_notice", {**hearing, "held_at": "", "officer": "tingzheng"},
                          422)) == "missing_field"
    untimed = step(reviewer, base, "hearing_notice", {**hearing, "held_at": "上午九点半", "officer": "tingzheng"}, 422)
    assert reason_of(untimed) == "bad_time" and "09:30" in untimed["detail"]["message"]
    assert reason_of(step(reviewer, base, "hearing_notice", {**hearing, "officer": INSPECTING_REVIEWER},
                          422)) == "officer_inspected"
    assert reason_of(step(reviewer, base, "hearing_notice", {**hearing, "officer": "shenhe"},
                          422)) == "officer_investigated"
    too_soon = (date.fromisoformat(earliest) - timedelta(days=1)).isoformat()
    assert reason_of(step(reviewer, base, "hearing_notice", {**hearing, "held_on": too_soon, "officer": "tingzheng"},
                          422)) == "hearing_too_soon"
    noticed = step(reviewer, base, "hearing_notice", {**hearing, "officer": "tingzheng"})["procedure"]
    assert noticed["stage"] == "待听证" and noticed["record"]["hearing"]["held_at"] == "09:30"
    held = date.fromisoformat(earliest)
    when = f"{held.year}年{held.month}月{held.day}日上午9时30分"
    text = pdf_text(reviewer.get(f"{base}/procedure/hearing-notice.pdf"), "procedure-hearing-notice.pdf")
    for element in ("听证通知书", f"定于{when}在市医保局三楼听证室举行听证", "听证时间", "市医保局三楼听证室", "听证主持人", "测试tingzheng", "申请回避",
                    "一至二人代理", "视为放弃听证权利", "七日前"):
        assert element.replace(" ", "") in text, element
    assert reason_of(step(officer, base, "hearing_record", {"text": "x", "attendees": "y"}, 409)) == "hearing_not_held"
    days_pass(bureau, record_id, (date.fromisoformat(earliest) - TODAY).days)
    step(officer, base, "hearing_record", {"text": "调查人员陈述事实与证据。\n当事人称已全部退回，请求从轻。",
                                           "attendees": "主持人 测试tingzheng；调查人员 测试shenhe；当事人代理人 张丽",
                                           "party_signed": True})
    text = pdf_text(reviewer.get(f"{base}/procedure/hearing-record.pdf"), "procedure-hearing-record.pdf")
    held_today = f"{TODAY.year}年{TODAY.month}月{TODAY.day}日上午9时30分"  # the hearing's day, moved to today
    for element in ("听证笔录", "案由", held_today, "记录人", "出席人员", "当事人称已全部退回，请求从轻", "核对无误后签字",
                    "第六十四条第八项"):
        assert element.replace(" ", "") in text, element

    # 法制审核 by someone outside the case; no heavier decision than notified (Art. 45).
    assert reason_of(step(reviewer, base, "legal_review", {"opinion": "同意", "passed": True}, 403)) == "investigator"
    step(legal, base, "legal_review", {"opinion": "事实清楚，证据确凿，适用依据正确，程序合法", "passed": True})
    reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "90000.00", "reason": "听证后认为应加重"})
    heavier = reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    assert "第四十五条第二款" in heavier and "罚款由80000.00 元增至 90000.00 元" in heavier
    reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "79000.00", "reason": "采纳听证意见，从轻"})
    unreviewed = reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    assert "第五十八条" in unreviewed  # the 法制审核 reviewed other terms: the decision's must be reviewed
    step(legal, base, "legal_review", {"opinion": "采纳听证意见后的处理适当", "passed": True})
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定" and decided["procedure"]["stage"] == "待送达"

    # 送达, then payments per payee; the fine paid five days late carries 3 % a day.
    assert reason_of(step(reviewer, base, "serve", {"served_on": day(0), "method": "口头", "receiver": "张丽"},
                          422)) == "bad_method"
    served = step(reviewer, base, "serve", {"served_on": day(0), "method": "直接送达", "receiver": "张丽"})
    assert served["procedure"]["stage"] == "执行" and served["procedure"]["payment_due"] == day(15)
    days_pass(bureau, record_id, 20)
    step(reviewer, base, "payment", {"kind": "退回", "amount_yuan": "60000.00", "paid_on": day(-1), "reference": "J-1"})
    paid = step(reviewer, base, "payment", {"kind": "罚款", "amount_yuan": "79000.00", "paid_on": day(0)})["procedure"]
    assert paid["dues"] == [
        {"kind": "退回", "payee": "医疗保障基金账户", "owed_yuan": "60000.00", "paid_yuan": "60000.00",
         "outstanding_yuan": "0.00"},
        {"kind": "罚款", "payee": "国库", "owed_yuan": "79000.00", "paid_yuan": "79000.00", "outstanding_yuan": "0.00"},
        {"kind": "加处罚款", "payee": "国库", "owed_yuan": "11850.00", "paid_yuan": "0.00",
         "outstanding_yuan": "11850.00"}]
    assert [p["payee"] for p in paid["payments"]] == ["医疗保障基金账户", "国库"]
    assert reason_of(step(reviewer, base, "close_case", {}, 409)) == "unpaid"
    assert reason_of(step(reviewer, base, "payment", {"kind": "加处罚款", "amount_yuan": "11850.01",
                                                      "paid_on": day(0)}, 422)) == "overpaid"
    step(reviewer, base, "payment", {"kind": "加处罚款", "amount_yuan": "11850.00", "paid_on": day(0)})
    assert step(reviewer, base, "close_case")["procedure"]["stage"] == "已结案"
    archived = step(reviewer, base, "archive")
    assert archived["procedure"]["stage"] == "已归档" and not archived["audit_problems"]
    labels = [e["label"] for e in archived["audit"]]
    for label in ("提请立案", "批准立案", "延长办案期限", "当事人申请听证", "听证通知", "听证笔录", "法制审核", "送达决定书",
                  "记录缴款", "结案", "归档"):
        assert label in labels, label


def test_a_case_without_a_hearing_right_and_a_new_notice(world):
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷 12 笔", "3860.50")})
    reviewer, supervisor = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    step(reviewer, base, "request_filing", {"reason": "涉嫌违反条例第三十八条"})
    step(supervisor, base, "approve_filing", {"opinion": "同意"})
    # the findings (条例第三十八条) suspect no 骗取: no 暂停结算 (条例第三十条第一款)
    assert "interim_suspension" not in supervisor.get(base)["procedure"]["steps"]
    refused = step(supervisor, base, "interim_suspension", {"facts": "拒不提供台账", "approver": "王局长",
                                                            "approved_on": day(0)}, 409)["detail"]
    assert refused["reason"] == "not_suspected_fraud" and "第三十条第一款" in refused["message"]
    choice = {"fine_yuan": "5100.00", "fine_reason": "一般情节", "rectification_due": day(30), "reason": "事实清楚"}
    reviewer.post(f"{base}/proposal", choice)
    told = reviewer.post(f"{base}/notify", {"served_on": day(0)})["procedure"]["record"]["notice"]
    assert told["hearing_right"] is False and told["hearing_deadline"] is None
    # the 告知书 ends the investigation: no 暂停结算 for a refusal to cooperate from now on (条例第三十条第一款)
    assert reason_of(step(supervisor, base, "interim_suspension", {"facts": "拒不提供台账", "approver": "王局长",
                                                                   "approved_on": day(0)}, 409)) == "investigation_ended"
    assert "第六十三条" in step(reviewer, base, "request_hearing", {"requested_on": day(0)}, 409)["detail"]["message"]
    text = pdf_text(reviewer.get(f"{base}/procedure/notice.pdf"), "procedure-notice-no-hearing.pdf")
    assert "不属于《中华人民共和国行政处罚法》第六十三条规定的应当告知听证权利的情形" in text and "要求举行听证" not in text
    reviewer.get(f"{base}/procedure/hearing-notice.pdf", expect=404)

    # Heavier after the statement: refused until a new 告知书 is served and heard.
    reviewer.post(f"{base}/statement", {"text": "已整改"})
    reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "6000.00", "reason": "发现新的违规事实"})
    assert "第四十五条第二款" in reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    assert reason_of(step(reviewer, base, "renotify", {"served_on": day(0)}, 422)) == "reason_required"
    again = step(reviewer, base, "renotify", {"served_on": day(0), "reason": "发现新的违规事实，拟加重处罚"})
    assert again["procedure"]["record"]["notice"]["count"] == 2 and again["statement"]["text"] == ""
    assert reason_of(reviewer.post(f"{base}/decide", expect=409)) == "hearing_open"
    reviewer.post(f"{base}/statement", {"waived": True})
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定" and decided["decision"]["fine_yuan"] == "6000.00"
    assert reason_of(step(reviewer, base, "close_case", {}, 409)) == "not_served"


def test_the_agreement_track_is_notified_and_heard_by_its_own_step(world):
    """解除服务协议 (the 经办机构's, under the agreement) has its own notice and 申辩, apart from the 告知书."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("虚构购药记录，套取医保基金", "1000.00")})
    reviewer, supervisor, legal = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren"), Staff(bureau.url, "fazhi")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    step(reviewer, base, "request_filing", {"reason": "涉嫌欺诈骗保（条例第四十条）"})
    step(supervisor, base, "approve_filing", {"opinion": "同意"})
    proposed = reviewer.post(f"{base}/proposal", {
        "intent_items": ["R-FEE-02"], "fine_yuan": "3500.00", "fine_reason": "骗取金额较小", "suspension_months": 9,
        "rectification_due": day(30), "reason": "以骗取医保基金为目的"})["decision"]
    assert "解除服务协议" in proposed["measures"] and proposed["proposal"]["hearing_right"] is True

    # 调查期间暂停结算 (条例第三十条第一款): the 负责人 records the 主要负责人's approval; the 通知书 to the 经办机构.
    suspension = {"facts": "拒不提供2026年10月的进销存台账，拒绝调查人员进入库房", "approver": "王局长",
                  "approved_on": day(0)}
    assert reason_of(step(reviewer, base, "interim_suspension", suspension, 403)) == "wrong_role"
    assert reason_of(step(supervisor, base, "interim_suspension", {**suspension, "approved_on": day(1)},
                          422)) == "future_date"
    assert "interim_suspension" in supervisor.get(base)["procedure"]["steps"]
    held = step(supervisor, base, "interim_suspension", suspension)["procedure"]
    [shown] = held["interim_suspensions"]
    assert (shown["in_force"], shown["on"], shown["approver"], shown["outcome"]) == (True, day(0), "王局长", None)
    assert "lift_interim_suspension" in held["steps"] and "interim_suspension" not in held["steps"]
    assert reason_of(step(supervisor, base, "interim_suspension", suspension, 409)) == "already_suspended"
    assert reviewer.get("/v1/review/queue")["items"][0]["settlement_suspended"] is True
    text = pdf_text(reviewer.get(f"{base}/procedure/interim-suspension.pdf"), "procedure-interim-suspension.pdf")
    for element in ("暂停医疗保障基金结算通知书", "医疗保障经办机构：", "福州市鼓楼区东街口大药房", "涉嫌骗取医疗保障基金支出",
                    "第四十条", "虚构购药记录", "拒不配合调查的事实", "拒不提供2026年10月的进销存台账", "待调查终结后依法认定",
                    f"经本机关主要负责人王局长于{TODAY.year}年{TODAY.month}月{TODAY.day}日批准", "第三十条第一款",
                    "暂停该机构的医疗保障基金结算", "按照规定结算", "第三十条第一款", "（印章）",
                    "抄送：福州市鼓楼区东街口大药房"):
        assert element.replace(" ", "") in text, element
    # 解除 before the decision: the written notice the first one announced; then a second suspension.
    reviewer.get(f"{base}/procedure/interim-suspension-lifted.pdf", expect=404)
    assert reason_of(step(reviewer, base, "lift_interim_suspension", {"text": "已提供台账"}, 403)) == "wrong_role"
    step(supervisor, base, "lift_interim_suspension", {"text": "该机构已提供全部台账，配合调查"})
    lifted = pdf_text(reviewer.get(f"{base}/procedure/interim-suspension-lifted.pdf"), "procedure-suspension-lifted.pdf")
    for element in ("解除暂停医疗保障基金结算通知书", f"编号{record_id}-解除暂停1", "医疗保障经办机构：",
                    f"以《暂停医疗保障基金结算通知书》（编号{record_id}-暂停1）", "福州市鼓楼区东街口大药房",
                    "解除的理由", "该机构已提供全部台账，配合调查", f"本机关决定自{TODAY.year}年{TODAY.month}月{TODAY.day}日起解除",
                    "恢复该机构的医疗保障基金结算", "第三十条第一款", "（印章）", "抄送：福州市鼓楼区东街口大药房"):
        assert element.replace(" ", "") in lifted, element
    assert step(supervisor, base, "interim_suspension", suspension)["procedure"]["interim_suspensions"][-1]["count"] == 2
    assert reason_of(step(reviewer, base, "agreement_statement", {"text": "x"}, 409)) == "not_notified"
    reviewer.post(f"{base}/notify", {"served_on": day(0)})
    reviewer.post(f"{base}/statement", {"waived": True})
    step(legal, base, "legal_review", {"opinion": "同意", "passed": True})
    blocked = reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    assert "经办机构另行告知" in blocked and "解除服务协议" in blocked
    told = step(reviewer, base, "agreement_notice", {"served_on": day(0)})["procedure"]["record"]["agreement"]
    assert (told["measures"], told["deadline"]) == (["解除服务协议"], day(7))
    assert "协议处理的申辩期限" in reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    step(reviewer, base, "agreement_statement", {"text": "对解除协议有异议，请求改为中止协议"})
    assert "听证申请期限" in reviewer.post(f"{base}/decide", expect=409)["detail"]["message"]
    days_pass(bureau, record_id, 8)  # the party did not ask for a hearing within five working days
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定"
    # 条例第三十条第一款: decided under 第四十条, the suspension ends with it; the 决定书 says so, the 案卷 holds the 通知书
    first, ended = decided["procedure"]["interim_suspensions"]
    assert first["lifted"]["reason"] == "该机构已提供全部台账，配合调查"
    assert (ended["in_force"], ended["outcome"]) == (False, "经调查属于骗取医疗保障基金支出，依照条例第四十条处理")
    assert "lift_interim_suspension" not in supervisor.get(base)["procedure"]["steps"]
    decision = pdf_text(reviewer.get(f"{base}/decision.pdf"), "procedure-suspension-decision.pdf")
    assert "经调查属于骗取医疗保障基金支出，依照条例第四十条处理（《医疗保障基金使用监督管理条例》第三十条第一款）" in decision
    with zipfile.ZipFile(io.BytesIO(reviewer.get(f"{base}/case-file.zip"))) as archive:
        assert {f"documents/暂停医疗保障基金结算通知书-{record_id}-1.pdf", f"documents/暂停医疗保障基金结算通知书-{record_id}-2.pdf",
                f"documents/解除暂停医疗保障基金结算通知书-{record_id}-1.pdf"} <= set(archive.namelist())


def test_a_fine_waits_for_filing_while_handling_alone_does_not(world):
    """行政处罚法 第五十四条: a fine (a 行政处罚) is neither notified nor decided before an approved 立案; 责令改正 and
    责令退回 alone (行政处理: 不予行政处罚 under Art. 33) are."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷 12 笔", "3860.50")})
    reviewer = Staff(bureau.url, "shenhe")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    fine = {"fine_yuan": "5100.00", "fine_reason": "一般情节", "rectification_due": day(30), "reason": "事实清楚"}
    reviewer.post(f"{base}/proposal", fine)
    refused = reviewer.post(f"{base}/notify", {"served_on": day(0)}, expect=409)["detail"]
    assert refused["reason"] == "not_filed"
    assert "罚款属于行政处罚，须经批准立案后方可送达行政处罚事先告知书" in refused["message"]
    assert "第五十四条" in refused["message"] and reviewer.get(base)["status"] == "拟处理"

    handling = {"circumstances": ["minor", "corrected_promptly", "no_harm"], "rectification_due": day(30),
                "reason": "违法行为轻微并及时改正，没有造成危害后果"}
    assert reviewer.post(f"{base}/proposal", handling)["decision"]["measures"] == ["责令改正", "责令退回"]
    assert reviewer.post(f"{base}/notify", {"served_on": day(0)})["status"] == "陈述申辩"
    reviewer.post(f"{base}/statement", {"waived": True})
    reviewer.post(f"{base}/proposal", {**fine, "reason": "认定不属于轻微违法"})  # a fine after the notice
    refused = reviewer.post(f"{base}/decide", expect=409)["detail"]
    assert refused["reason"] == "not_filed" and "方可作出行政处罚决定" in refused["message"]
    assert any("方可作出行政处罚决定" in p for p in reviewer.get(base)["procedure"]["decide_blockers"])
    reviewer.post(f"{base}/proposal", {**handling, "reason": "维持不予行政处罚"})
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定" and decided["decision"]["doc_kind"] == "行政处理"
    assert decided["procedure"]["filed_on"] is None


def test_the_agreement_track_needs_no_filing(world):
    """The 经办机构's measures under the agreement (解除服务协议) are no 行政处罚: notified, heard and decided with the
    行政处理 beside them (no fine, no suspension: 不予行政处罚) on a case never filed; both documents issue."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("虚构购药记录，套取医保基金", "1000.00")})
    reviewer = Staff(bureau.url, "shenhe")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    proposed = reviewer.post(f"{base}/proposal", {
        "intent_items": ["R-FEE-02"], "circumstances": ["minor", "corrected_promptly", "no_harm"],
        "rectification_due": day(30), "reason": "以骗取医保基金为目的，违法行为轻微并及时改正"})["decision"]
    detail = {d["measure"]: d["track"] for d in proposed["proposal"]["measures_detail"]}
    assert "解除服务协议" in proposed["measures"] and proposed["fine_yuan"] is None
    assert not {"罚款", "暂停医药服务"} & set(proposed["measures"]) and detail["解除服务协议"] == "agreement"
    told = step(reviewer, base, "agreement_notice", {"served_on": day(0)})["procedure"]["record"]["agreement"]
    assert told["measures"] == ["解除服务协议"]
    step(reviewer, base, "agreement_statement", {"text": "对解除协议有异议"})
    reviewer.post(f"{base}/notify", {"served_on": day(0)})
    reviewer.post(f"{base}/statement", {"waived": True})
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定" and decided["procedure"]["filed_on"] is None
    assert [d["key"] for d in reviewer.get(f"{base}/documents")["documents"]][:2] == ["decision", "agreement"]
