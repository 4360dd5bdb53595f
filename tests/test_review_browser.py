"""The reviewer's work in a real browser, from an inspection synced by a tablet to its publication: the queue, the
case with its verification and a zoomed photo, 开始审核, the proposal within the regulation's range, 告知 and
陈述申辩, the decision and its 决定书 PDF (read back and rendered to PNG), the ledgers exported to Excel, the
year's dashboard, and 一公开 (`yibao disclose`) moving the case to 已公开. Screenshots go to the artifacts directory."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.browser import (
    ARTIFACTS,
    VIEWPORT,
    button,
    chromium_page,
    fill,
    gone,
    open_app,
    reveal,
    screenshot,
    shown,
    tap,
    wait_shown,
)
from tests.support import STAFF_PASSWORD, start_app, stop
from tests.test_review_flow import PHARMACY, pharmacy_findings
from tests.test_review_support import PHARMACIST, Staff, add_review_staff, inspect, pin_tablet

pytestmark = pytest.mark.browser
NAME = "福州市鼓楼区东街口大药房"


@pytest.fixture
def synced(bureau_db_url, running_bureau, tmp_path):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the review API is covered on PostgreSQL elsewhere")
    add_review_staff(running_bureau.settings)
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    _first, second, failed = pharmacy_findings()
    record_id = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    app, url = start_app(tmp_path / "desk", running_bureau.url)
    try:
        yield running_bureau, record_id, url
    finally:
        stop(app)


def download(page, name: str, file_name: str) -> bytes:
    target = reveal(page, button(page, name))
    with page.expect_download(timeout=60000) as started:
        target.click()
    path = ARTIFACTS / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    started.value.save_as(str(path))
    return path.read_bytes()


def test_from_a_synced_inspection_to_decision_pdf_ledger_and_disclosure(synced, tmp_path):
    bureau, record_id, url = synced
    with chromium_page(viewport=VIEWPORT) as page:
        try:
            walk(page, bureau, url, tmp_path, record_id)
        finally:
            screenshot(page, "review-last")  # where it stopped, when it fails


def walk(page, bureau, url: str, tmp_path, record_id: str) -> None:
    if True:
        open_app(page, url)
        page.get_by_role("button", name="局端人员登录").click()
        fill(page, "账号", "shenhe")
        fill(page, "密码", STAFF_PASSWORD)
        tap(page, page, "登录")

        # The queue: the synced inspection, with its status; a filter that leaves nothing, then back.
        wait_shown(page, f"{NAME}（{PHARMACY}）", 20000)
        wait_shown(page, "共 1 份检查记录", 15000)
        screenshot(page, "review-01-queue")
        tap(page, page, "基层医疗机构")
        wait_shown(page, "没有符合条件的检查记录", 15000)
        tap(page, page, "全部类别")
        shown(page, f"{NAME}（{PHARMACY}）").click(timeout=15000)

        # The case: verification, findings with photos (zoomable), signatures, answers, audit.
        wait_shown(page, "记录内容与其哈希一致", 20000)
        wait_shown(page, "检查人员 I0001 的签名有效", 15000)
        wait_shown(page, "回执经局端签名核验", 15000)
        screenshot(page, "review-02-case")
        reveal(page, page.get_by_role("button", name="放大问题 1 照片 1")).click()
        page.get_by_role("button", name="关闭").wait_for(timeout=15000)
        screenshot(page, "review-03-photo-zoomed")
        page.get_by_role("button", name="关闭").click()
        gone(page, "问题 1 照片 1 ·")

        tap(page, page, "开始审核")
        wait_shown(page, "已开始审核，当前状态：审核中", 15000)

        # The proposal: what the regulation prescribes, the fine chosen within the range with a reason.
        tap(page, page, "提出拟处理意见")
        wait_shown(page, "罚款幅度：¥4,280.50（肆仟贰佰捌拾元伍角整）", 20000)
        wait_shown(page, "适用条款：《医疗保障基金使用监督管理条例》第 38 条", 15000)
        wait_shown(page, "裁量幅度：¥5,564.65（伍仟伍佰陆拾肆元陆角伍分）", 15000)  # no factor: the middle
        wait_shown(page, "从重：两年内因同类违法行为受过行政处罚", 15000)  # the 裁量基准's factors to tick
        fill(page, "罚款金额（元，4280.50～8561.00）", "9000.00")
        fill(page, "确定罚款金额的理由（裁量理由）", "代刷 12 笔，情节较重")
        fill(page, "拟处理意见的理由（认定的事实与依据）", "现场检查发现串换结算、处方药未凭处方销售，事实清楚")
        fill(page, "暂停医保支付资格期限（月，1～6；年度记满9分时适用）", "13")  # the 药师's term, should points reach 9
        tap(page, page, "提交拟处理意见")
        wait_shown(page, "超出法定幅度", 15000)
        wait_shown(page, "暂停医保支付资格的期限应为 1～6 个月，实际为 13 个月", 15000)
        screenshot(page, "review-04-proposal-refused")
        reveal(page, page.get_by_role("textbox", name="暂停医保支付资格期限（月，1～6；年度记满9分时适用）"))
        screenshot(page, "review-04a-person-term")
        fill(page, "暂停医保支付资格期限（月，1～6；年度记满9分时适用）", "3")
        fill(page, "罚款金额（元，4280.50～8561.00）", "6000.00")
        tap(page, page, "提交拟处理意见")
        wait_shown(page, "处理意见（拟处理意见）", 20000)
        wait_shown(page, "罚款 ¥6,000.00（陆仟元整）", 15000)
        screenshot(page, "review-05-proposed")

        # 告知 and 陈述申辩: no decision until the party has been heard. A fine is a 行政处罚: 立案 first, asked
        # here and approved by the 负责人 (another person, through the API).
        assert button(page, "作出决定").count() == 0
        wait_shown(page, "告知前：本案尚未立案：拟作出的罚款属于行政处罚", 15000)
        tap(page, page, "告知拟处理意见")  # refused: the bureau's words below the button, beside the line above
        said = page.locator("flt-semantics-host [aria-label*='须经批准立案后方可送达行政处罚事先告知书']")
        said.nth(1).wait_for(state="attached", timeout=15000)  # the refusal, in the card of the button
        screenshot(page, "review-05b-not-filed")
        fill(page, "立案理由", "涉嫌违反条例第三十八条，造成医保基金损失")
        tap(page, page, "提请立案")
        wait_shown(page, "已提请立案", 15000)
        Staff(bureau.url, "zhuren").post(f"/v1/review/records/{record_id}/procedure/approve_filing",
                                         {"opinion": "同意立案调查"})
        tap(page, page, "告知拟处理意见")
        wait_shown(page, "已告知拟处理意见，当前状态：陈述申辩", 15000)
        assert button(page, "作出决定").count() == 0
        fill(page, "当事人陈述申辩内容", "我店已当场整改，请求从轻处理")
        tap(page, page, "记录陈述申辩")
        wait_shown(page, "已记录陈述申辩", 15000)
        screenshot(page, "review-06-heard")
        tap(page, page, "作出决定")
        wait_shown(page, "已作出决定，当前状态：已决定", 15000)
        decision_no = f"医保行处〔{date.today().year}〕1号"
        wait_shown(page, f"{decision_no}（行政处罚决定书）", 15000)
        screenshot(page, "review-07-decided")

        # The 决定书: downloaded from the screen, read back, rendered to PNG.
        pdf = download(page, "下载决定书（PDF）", "review-决定书.pdf")
        assert pdf.startswith(b"%PDF")
        text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                       .stdout.decode().split())
        for expected in ("医疗保障行政处罚决定书", decision_no, NAME, "4,280.50", "肆仟贰佰捌拾元伍角整", "6,000.00",
                         "陆仟元整", "行政复议", "我店已当场整改，请求从轻处理"):
            assert expected in text, expected
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(ARTIFACTS / "review-决定书.pdf"),
                        str(ARTIFACTS / "review-决定书")], check=True)
        assert (ARTIFACTS / "review-决定书-1.png").exists()

        # The ledgers: derived from the decision, exported to Excel.
        button(page, "台账与回头看").click()  # in the app bar
        wait_shown(page, f"{date.today().year} 年度机构协议记分与考核等次", 20000)
        wait_shown(page, "待回头看", 15000)
        screenshot(page, "review-08-ledger")
        book = load_workbook(io.BytesIO(download(page, "全部导出 Excel", "review-台账.xlsx")))
        institutions = book[book.sheetnames[0]]
        assert [c.value for c in institutions[3]][:2] == [PHARMACY, NAME]
        assert institutions["F3"].value == Decimal("4280.50") and institutions["G3"].value == Decimal("6000.00")
        assert [c.value for c in book[book.sheetnames[1]][3]][0] == PHARMACIST

        # The year at a glance.
        button(page, "年度概览").click()  # in the app bar
        wait_shown(page, "检查完成情况", 20000)
        wait_shown(page, "三年内已检查", 15000)
        screenshot(page, "review-09-dashboard")
        reveal(page, shown(page, "年度机构考核等次"))
        screenshot(page, "review-10-dashboard-grades")

        # 一公开: the period's export publishes the decided case; the queue shows it as 已公开.
        out = tmp_path / "disclosure"
        summary = json.loads(bureau.cli("disclose", "--period", str(date.today().year), "--out", str(out)).stdout)
        assert summary["outcomes"] == 1 and summary["newly_published"] == 1
        published = json.loads((out / "disclosure.json").read_text(encoding="utf-8"))
        [outcome] = published["outcomes"]
        assert outcome["institution_code"] == PHARMACY and outcome["decision_no"] == decision_no
        assert PHARMACIST not in (out / "disclosure.json").read_text(encoding="utf-8")
        button(page, "审核队列").click()  # in the app bar
        tap(page, page, "已公开")
        wait_shown(page, f"{NAME}（{PHARMACY}）", 20000)
        screenshot(page, "review-11-published")
