"""The review screens' view-models against a real bureau on loopback (SQLite and PostgreSQL): the queue and its
filters, a case with its evidence and verification, the decision within the ranges, the ledgers, 回头看, the
dashboard, and the Excel export of their tables."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from PIL import Image

from bureau import case_file
from checklists import penalty
from staff_app.procedure_vm import ProcedureForm
from staff_app.review_vm import (
    CIRCUMSTANCE_LABELS,
    CaseViewModel,
    DashboardViewModel,
    DecisionViewModel,
    LedgerViewModel,
    QueueViewModel,
    answers_by_section,
    verification_lines,
    yuan_text,
)
from staff_app.supervisor_vm import LoginViewModel
from staff_app.xlsx_export import sheet_title, tables_xlsx
from tests.support import STAFF_PASSWORD
from tests.test_review_flow import CLINIC, PHARMACY, pharmacy_findings
from tests.test_review_support import PHARMACIST, add_review_staff, inspect, pin_tablet


@pytest.fixture
def world(running_bureau, tmp_path):
    add_review_staff(running_bureau.settings)
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    first, second, failed = pharmacy_findings()
    handled = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    clean = inspect(tablet, CLINIC, refuse=True)
    client = LoginViewModel(running_bureau.url).login("shenhe", STAFF_PASSWORD)
    assert client is not None
    return running_bureau, client, handled, clean


def test_queue_filters_and_refuses_bad_filters(world):
    _bureau, client, handled, clean = world
    queue = QueueViewModel(client)
    queue.load()
    assert {i["record_id"] for i in queue.items} == {handled, clean} and queue.message == ""
    assert queue.statuses == ["已接收", "审核中", "退回补正", "拟处理", "陈述申辩", "已决定", "已公开", "已撤销"]
    queue.kind = "pharmacy"
    queue.load()
    assert [i["record_id"] for i in queue.items] == [handled]
    assert "定点零售药店" in queue.summary(queue.items[0]) and "发现问题 2 项" in queue.summary(queue.items[0])
    queue.kind, queue.status = None, "审核中"
    queue.load()
    assert queue.items == [] and queue.message == "没有符合条件的检查记录"
    queue.status, queue.region = None, "35a1"
    queue.load()
    assert queue.items == [] and "区划代码" in queue.message
    queue.region, queue.min_score = "3501", "八十"
    queue.load()
    assert queue.items == [] and "最低分" in queue.message
    queue.min_score, queue.max_score = "", "100"
    queue.load()
    assert len(queue.items) == 2


def test_a_case_from_start_to_decision_through_the_view_models(world):
    bureau, client, handled, _clean = world
    case = CaseViewModel(client, handled)
    case.load()
    assert case.actions == ["start"] and case.detail["status"] == "已接收"
    lines = verification_lines(case.detail)
    assert all(ok for ok, _text in lines), lines
    assert any("I0001 的签名有效" in text for _ok, text in lines)
    sections = answers_by_section(case.record)
    assert sum(len(s.rows) for s in sections) == len(case.record["answers"])
    assert sum(r["result"] == "fail" for s in sections for r in s.rows) == 2
    photo = case.record["findings"][0]["photos"][0]
    with Image.open(io.BytesIO(case.thumbnail(photo))) as thumb:
        assert max(thumb.size) <= 240
    assert case.signature_png(case.record["signatures"][0]).startswith(b"\x89PNG")

    assert case.take("start") and case.detail["status"] == "审核中"
    assert not case.take("return") and case.message == "退回补正须写明理由"
    assert "propose" in case.actions

    decision = DecisionViewModel(client, handled)
    decision.load()
    assert decision.person_points == {(PHARMACIST, "out_of_scope_settled")}
    [suggested] = decision.proposal["person_points_suggested"]
    assert decision.penalty["fine_yuan"] == {"min": "4280.50", "max": "8561.00"}
    assert "约谈" in decision.penalty["optional_measures"]
    assert any("罚款幅度：¥4,280.50（肆仟贰佰捌拾元伍角整）" in line for line in decision.range_text())
    decision.fine_yuan, decision.fine_reason = "9999.999", "首次违规"
    assert not decision.submit() and any("两位小数" in p for p in decision.problems)
    decision.fine_yuan = "9000.00"
    decision.reason = "事实清楚，证据确凿"
    assert not decision.submit() and any("超出法定幅度" in p for p in decision.problems)
    decision.intent_items = {decision.findings[0]["item_id"]}  # 以骗取为目的: Art. 40, 2–5×, 解除
    decision.refresh()
    assert decision.penalty["terminate_agreement"] and 40 in decision.penalty["articles"]
    decision.intent_items = set()
    decision.refresh()
    decision.fine_yuan, decision.optional_measures = "5000.00", {"约谈"}
    assert not decision.submit() and any("不在裁量幅度 5564.65～7276.85 元内" in p for p in decision.problems)
    assert any(line.startswith("裁量幅度：¥5,564.65") for line in decision.range_text())
    assert [f["kind"] for f in decision.band_factors][:1] == ["减轻"] and "不予处罚" not in {
        f["kind"] for f in decision.band_factors}
    decision.factors = {"cooperated_truthfully"}  # 从轻: the lower part of the range
    decision.refresh()
    assert decision.penalty["band"]["high_yuan"] == "5564.65"
    assert decision.submit(), decision.problems
    assert decision.case["status"] == "拟处理" and decision.case["decision"]["fine_yuan"] == "5000.00"
    assert decision.case["decision"]["measures"] == ["责令改正", "约谈", "责令退回", "罚款"]

    case = CaseViewModel(client, handled)
    case.load()
    case.deadline = "明天"
    assert not case.take("notify") and "日期" in case.message
    case.deadline = (date.today() + timedelta(days=5)).isoformat()
    assert not case.take("notify") and "须经批准立案后方可送达行政处罚事先告知书" in case.message  # a fine
    assert ProcedureForm(client, handled, {"reason": "涉嫌违反条例第三十八条"}).take("request_filing")
    supervisor = LoginViewModel(bureau.url).login("zhuren", STAFF_PASSWORD)
    assert supervisor is not None
    assert ProcedureForm(supervisor, handled, {"opinion": "同意立案调查"}).take("approve_filing")
    assert case.take("notify") and case.detail["status"] == "陈述申辩"
    assert "decide" not in case.actions
    case.statement_text, case.attachment_name, case.attachment = "已整改", "申辩书.txt", "我店已整改。".encode()
    assert case.take("statement") and case.detail["statement"]["attachment_name"] == "申辩书.txt"
    assert "decide" in case.actions
    assert case.take("decide") and case.detail["status"] == "已决定"
    pdf, problem = case.decision_pdf()
    assert problem == "" and pdf.startswith(b"%PDF")
    assert case.pdf_name() == f"决定书-医保行处〔{date.today().year}〕1号.pdf"
    archive, problem = case.case_file()  # the 案卷, as the screen saves it: it verifies offline
    assert problem == "" and case_file.verify_case_file(archive) == [] and case.case_file_name() == f"案卷-{handled}.zip"

    ledger = LedgerViewModel(client)
    ledger.load()
    institutions, people, entries, followups = ledger.tables
    assert [r[0] for r in institutions["rows"]] == [PHARMACY]
    assert institutions["rows"][0][5:7] == ["4280.50", "5000.00"]
    assert people["rows"] == [[PHARMACIST, suggested["points"], "—", "—", "—", "—"]] and suggested["points"] > 0
    assert people["columns"][-1] == "说明" and f"截至 {date.today().isoformat()}" in people["title"]
    assert len(entries["rows"]) >= 4 and followups["rows"][0][4] == "待回头看"
    assert ledger.overdue_codes == set()

    dashboard = DashboardViewModel(client)
    dashboard.load()
    months, (recovered, fined) = dashboard.monthly("money")
    assert len(months) == 12 and sum(recovered) == 4280.50 and sum(fined) == 5000.0
    done = dashboard.table("progress")["rows"][-1]
    assert done[0] == "合计" and done[2] == 2

    book = load_workbook(io.BytesIO(tables_xlsx([*ledger.tables, *dashboard.data["tables"]])))
    assert len(book.sheetnames) == 10 and len(set(book.sheetnames)) == 10  # with the dashboard's 办案期限
    sheet = book[book.sheetnames[0]]
    assert sheet["A2"].value == "机构编码" and sheet["A3"].value == PHARMACY
    assert sheet["F3"].value == Decimal("4280.50") and sheet["F3"].number_format == "#,##0.00"


def test_staff_who_may_only_read_see_no_actions(world):
    bureau, _client, handled, _clean = world
    supervisor = LoginViewModel(bureau.url).login("zhuren", STAFF_PASSWORD)
    case = CaseViewModel(supervisor, handled)
    case.load()
    assert case.detail is not None and case.actions == []
    assert not case.take("start") and "审核人员" in case.message
    own = LoginViewModel(bureau.url).login("shenhe2", STAFF_PASSWORD)  # a reviewer who was on the team
    case = CaseViewModel(own, handled)
    case.load()
    assert case.detail["own_inspection"] and not case.take("start") and "回避" in case.message


def test_money_and_sheet_names():
    assert yuan_text("12000.00") == "¥12,000.00（壹万贰仟元整）" and yuan_text(None) == ""
    taken: set[str] = set()
    names = [sheet_title("2026 年度机构协议记分与考核等次（很长的标题：超过三十一个字符的部分会被截断）", taken) for _ in range(3)]
    assert len(set(names)) == 3 and all(len(n) <= 31 and ":" not in n for n in names)


def test_times_are_shown_in_the_local_zone_not_as_utc(monkeypatch):
    """The bureau sends UTC; a reviewer in 福州 reads 北京时间 (a case received at 23:50 UTC came in the next morning)."""
    import time

    from ui_kit.common import shown_time

    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        assert shown_time("2026-12-01T23:50:01Z") == "2026-12-02 07:50"
        assert shown_time("2026-12-01T23:50:01Z", "second") == "2026-12-02 07:50:01"
        assert shown_time("2026-12-01T23:50:01Z", "day") == "2026-12-02"
        assert shown_time("2024-05-01T14:03:22+08:00") == "2024-05-01 14:03"  # a tablet's time, offset and all
        assert shown_time("2024-05-01T14:03:22") == "2024-05-01 14:03"  # a camera's wall clock, no offset: as is
        assert shown_time(None) == "—" and shown_time("not a time") == "not a time"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


class _ProposalClient:
    """Answers the decision screen's proposal request with the real engine, keeping the parameters it was sent."""

    def __init__(self) -> None:
        self.params: dict = {}

    def proposal(self, _record_id: str, params: dict) -> dict:
        self.params = params
        case = {"party": {"kind": "institution", "code": PHARMACY, "name": "东街口大药房"},
                "findings": [{"category": "38.4", "amount_yuan": "60000.00", "intent_to_defraud": bool(params["intent"])}],
                "circumstances": {c: True for c in params["circumstance"]}}
        return {"findings": [], "institution_points_total": 3, "penalty": penalty.decide(case)}


def test_the_proposal_says_the_waiver_the_hearing_the_organs_and_the_referrals():
    client = _ProposalClient()
    vm = DecisionViewModel(client, "r1")  # type: ignore[arg-type]
    vm.refresh()
    lines = vm.range_text()
    assert "应当采取的措施：责令改正（由医疗保障行政部门作出）、责令退回（由医疗保障行政部门作出）、罚款（由医疗保障行政部门作出）" in lines
    assert "可以采取的措施：约谈（由医疗保障行政部门作出）" in lines
    assert any(line.startswith("听证权利：") and "要求听证" in line for line in lines)
    assert not any("不予行政处罚" in line or line.startswith("移送") for line in lines)

    vm.intent_items = {"R-FEE-02"}  # 以骗取为目的: Art. 40, 解除服务协议 by the 经办机构, referrals
    vm.refresh()
    lines = vm.range_text()
    assert any("解除服务协议（由医疗保障经办机构作出）" in line for line in lines)
    assert {line.split("：")[0] for line in lines if line.startswith("移送")} == {"移送公安机关", "移送卫生健康主管部门"}

    vm.intent_items, vm.circumstances = set(), {"minor", "corrected_promptly", "no_harm"}
    vm.refresh()
    assert client.params["circumstance"] == ["corrected_promptly", "minor", "no_harm"]
    lines = vm.range_text()
    assert lines[1].startswith("应当不予行政处罚：《中华人民共和国行政处罚法》第三十三条")
    assert not any(line.startswith(("罚款幅度", "听证权利")) for line in lines)
    vm.reason = "违法行为轻微并及时改正"
    assert vm.choice()["circumstances"] == ["corrected_promptly", "minor", "no_harm"]
    assert set(CIRCUMSTANCE_LABELS) == set(penalty.CIRCUMSTANCES)


def test_a_may_waiver_drops_the_fine_from_the_choice():
    vm = DecisionViewModel(_ProposalClient(), "r1")  # type: ignore[arg-type]
    vm.circumstances = {"first_offence", "harm_minor", "corrected_promptly"}
    vm.refresh()
    assert vm.penalty["no_penalty"] == "may" and vm.range_text()[1].startswith("可以不予行政处罚：")
    vm.fine_yuan, vm.fine_reason, vm.reason, vm.waive_penalty = "70000.00", "情节", "初次违法，及时改正", True
    body = vm.choice()
    assert body is not None and body["waive_penalty"] and body["fine_yuan"] is None and body["fine_reason"] == ""
    vm.circumstances = set()
    vm.refresh()  # no longer waivable: the waiver is dropped with the circumstances
    assert not vm.waive_penalty and vm.choice()["fine_yuan"] == "70000.00"


def test_a_persons_suspension_term_goes_with_each_of_their_points():
    """The 暂停医保支付资格's term typed for a person rides on each of their entries; a term not in months is refused
    on the form."""
    vm = DecisionViewModel(_ProposalClient(), "r1")  # type: ignore[arg-type]
    vm.refresh()
    vm.reason = "事实清楚"
    vm.person_points = {("D1", "substitution"), ("D1", "out_of_scope_settled"), ("D2", "substitution")}
    vm.person_terms = {"D1": " 3 ", "D2": ""}
    body = vm.choice()
    assert body is not None and body["person_points"] == [
        {"staff_code": "D1", "behaviour_id": "out_of_scope_settled", "suspension_months": 3},
        {"staff_code": "D1", "behaviour_id": "substitution", "suspension_months": 3},
        {"staff_code": "D2", "behaviour_id": "substitution"}]
    vm.person_terms["D2"] = "三个月"
    assert vm.choice() is None and vm.problems == ["D2 的暂停医保支付资格期限应为整数（月）"]
