"""The penalty procedure in a real browser: 立案 (asked on the screen, approved by the 负责人), the 90-day clock on
the queue and the case, 告知 from the service day, 听证 (request, notice, 笔录), 法制审核, the decision, 送达 and the
payments. The 负责人's approval and the 法制审核 are another person's acts, taken through the API; the seven days
before the hearing pass by moving the case's recorded dates back (tests.test_procedure_flow.days_pass).
Screenshots go to the artifacts directory."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from checklists.onsite_record import working_days_after
from tests.browser import (
    ARTIFACTS,
    VIEWPORT,
    button,
    chromium_page,
    fill,
    open_app,
    reveal,
    screenshot,
    shown,
    tap,
    until_taken,
    wait_shown,
)
from tests.support import STAFF_PASSWORD, add_staff, start_app, stop
from tests.test_procedure_flow import days_pass
from tests.test_review_browser import download
from tests.test_review_support import Staff, add_review_staff, file_case, inspect, pin_tablet

pytestmark = pytest.mark.browser
PHARMACY, NAME = "P35010200001", "福州市鼓楼区东街口大药房"


@contextmanager
def desk(bureau_db_url, running_bureau, tmp_path, failed: dict[str, tuple[str, str]]):
    """A pharmacy inspection with the `failed` items synced, the staff of a case, and the staff app: (bureau, record
    id, app url)."""
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the procedure API is covered on PostgreSQL elsewhere")
    add_review_staff(running_bureau.settings)
    add_staff(running_bureau.settings, "fazhi", "reviewer")
    add_staff(running_bureau.settings, "tingzheng", "reviewer")
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    record_id = inspect(tablet, PHARMACY, failed)
    app, url = start_app(tmp_path / "desk", running_bureau.url)
    try:
        yield running_bureau, record_id, url
    finally:
        stop(app)


@pytest.fixture
def synced(bureau_db_url, running_bureau, tmp_path):
    with desk(bureau_db_url, running_bureau, tmp_path,
              {"R-FEE-02": ("代刷医保卡购买日用品，无对应购药", "60000.00")}) as world:
        yield world


@pytest.fixture
def synced_fraud(bureau_db_url, running_bureau, tmp_path):
    """串换 done 以骗取为目的 (条例第四十条): a fine and 暂停 (administrative), 解除服务协议 (agreement)."""
    with desk(bureau_db_url, running_bureau, tmp_path, {"R-FEE-02": ("虚构购药记录，套取医保基金", "1000.00")}) as world:
        yield world


def test_filing_notice_hearing_decision_and_service_in_the_browser(synced):
    bureau, record_id, url = synced
    with chromium_page(viewport=VIEWPORT) as page:
        try:
            walk(page, bureau, record_id, url)
        finally:
            screenshot(page, "procedure-last")  # where it stopped, when it fails


def reopen_case(page) -> None:
    """Back to the queue and into the case again: the case screen reads the bureau anew."""
    page.get_by_role("button", name="审核队列").click()
    shown(page, f"{NAME}（{PHARMACY}）").click(timeout=15000)
    wait_shown(page, "行政处罚程序", 20000)


def walk(page, bureau, record_id: str, url: str) -> None:
    today = date.today()
    base = f"/v1/review/records/{record_id}"
    open_app(page, url)
    page.get_by_role("button", name="局端人员登录").click()
    fill(page, "账号", "shenhe")
    fill(page, "密码", STAFF_PASSWORD)
    tap(page, page, "登录")
    shown(page, f"{NAME}（{PHARMACY}）").click(timeout=20000)
    wait_shown(page, "记录内容与其哈希一致", 20000)
    tap(page, page, "开始审核")
    wait_shown(page, "已开始审核，当前状态：审核中", 15000)

    # 立案: asked here; the 负责人 approves (another person); the clock shows on the case and the queue.
    fill(page, "立案理由", "涉嫌违反条例第三十八条，造成医保基金损失 60000 元")
    tap(page, page, "提请立案")
    wait_shown(page, "已提请立案", 15000)
    Staff(bureau.url, "zhuren").post(f"{base}/procedure/approve_filing", {"opinion": "同意立案调查"})
    page.get_by_role("button", name="审核队列").click()
    wait_shown(page, f"决定期限 {(today + timedelta(days=90)).isoformat()} · 剩余 90 天", 20000)
    screenshot(page, "procedure-01-queue-clock")
    shown(page, f"{NAME}（{PHARMACY}）").click(timeout=15000)
    wait_shown(page, "程序环节：调查取证", 20000)
    reveal(page, shown(page, "提出拟处理意见"))
    screenshot(page, "procedure-02-filed")

    # 拟处理, then 告知 from the day the 告知书 was served: the hearing right and its five days.
    tap(page, page, "提出拟处理意见")
    fill(page, "罚款金额（元", "80000.00")
    fill(page, "确定罚款金额的理由（裁量理由）", "涉案金额较大")
    fill(page, "拟处理意见的理由（认定的事实与依据）", "代刷医保卡购买日用品，事实清楚")
    tap(page, page, "提交拟处理意见")
    wait_shown(page, "处理意见（拟处理意见）", 20000)
    fill(page, "告知书送达日期", today.isoformat())
    tap(page, page, "告知拟处理意见")
    wait_shown(page, "已告知拟处理意见，当前状态：陈述申辩", 15000)
    wait_shown(page, f"听证申请期限 {working_days_after(today, 5).isoformat()}", 15000)  # 五日: working days
    wait_shown(page, "第五十八条", 15000)  # 作出决定前：法制审核
    reveal(page, shown(page, "记录听证申请"))
    screenshot(page, "procedure-03-notified")

    # 听证: the request, the notice seven days ahead with an officer outside the case, then the 笔录.
    fill(page, "当事人申请听证日期", today.isoformat())
    tap(page, page, "记录听证申请")
    wait_shown(page, "已记录听证申请", 15000)
    fill(page, "听证通知日期", today.isoformat())
    earliest = working_days_after(today, 7)
    fill(page, "听证日期", (earliest - timedelta(days=1)).isoformat())
    fill(page, "听证地点", "市医保局三楼听证室")
    fill(page, "听证主持人（工作人员账号）", "tingzheng")
    fill(page, "听证开始时间", "9点半")  # the hour as HH:MM, checked on the screen
    tap(page, page, "发出听证通知")
    wait_shown(page, "听证开始时间应写作 09:30 这样的时:分（24 小时制）", 15000)
    fill(page, "听证开始时间", "9:30")
    tap(page, page, "发出听证通知")
    wait_shown(page, "听证应在通知之日起 7 个工作日后举行", 15000)
    reveal(page, shown(page, "听证应在通知之日起 7 个工作日后举行"))
    screenshot(page, "procedure-04-hearing-too-soon")
    fill(page, "听证日期", earliest.isoformat())
    tap(page, page, "发出听证通知")
    wait_shown(page, "已发出听证通知", 15000)
    wait_shown(page, f"{earliest.isoformat()} 09:30 在市医保局三楼听证室举行", 15000)
    wait_shown(page, "下载听证通知书（PDF）", 15000)
    reveal(page, shown(page, "下载听证通知书（PDF）"))
    screenshot(page, "procedure-05-hearing-noticed")
    days_pass(bureau, record_id, (earliest - today).days)
    reopen_case(page)
    fill(page, "出席人员", "主持人 测试tingzheng；调查人员 测试shenhe；当事人代理人 张丽")
    fill(page, "听证经过", "当事人称已全部退回，请求从轻处理")
    tap(page, page, "记录听证笔录")
    wait_shown(page, "听证笔录已记录", 15000)
    Staff(bureau.url, "fazhi").post(f"{base}/procedure/legal_review",
                                    {"opinion": "事实清楚，证据确凿，程序合法", "passed": True})
    reopen_case(page)
    wait_shown(page, "法制审核（fazhi", 15000)
    reveal(page, shown(page, "听证笔录已记录"))
    screenshot(page, "procedure-06-heard")

    # 决定, then 送达 and the payments per payee.
    tap(page, page, "作出决定")
    wait_shown(page, "已作出决定，当前状态：已决定", 20000)
    wait_shown(page, "程序环节：待送达", 15000)
    fill(page, "送达日期", today.isoformat())
    fill(page, "受送达人（签收人）", "张丽")
    tap(page, page, "记录送达")
    wait_shown(page, "已记录送达", 15000)
    wait_shown(page, f"缴款期限 {(today + timedelta(days=15)).isoformat()}", 15000)
    wait_shown(page, "退回（缴入医疗保障基金账户）", 15000)
    reveal(page, shown(page, "记录缴款"))
    screenshot(page, "procedure-07-served")


def test_both_tracks_on_one_case_in_the_browser(synced_fraud):
    """One case, both tracks, with a hearing: the 告知书 with its 陈述申辩 and a hearing asked for, noticed and held, the
    经办机构's 协议处理告知 with the institution's own 申辩, the decision, and both documents (行政处罚决定书, 协议处理通知书)
    downloaded from the case screen. 立案, the proposal and the 法制审核 are taken through the API (the first walk shows
    them on the screen). After 立案 the 负责人 suspends settlement (条例第三十条第一款), and the decision under 第四十条
    states its outcome; the 条例第四十三条 switch is tried on the decision screen and switched off again."""
    bureau, record_id, url = synced_fraud
    base = f"/v1/review/records/{record_id}"
    reviewer = Staff(bureau.url, "shenhe")
    reviewer.post(f"{base}/start")
    file_case(reviewer, Staff(bureau.url, "zhuren"), base, "涉嫌欺诈骗保（条例第四十条）")
    proposed = reviewer.post(f"{base}/proposal", {
        "intent_items": ["R-FEE-02"], "fine_yuan": "3500.00", "fine_reason": "骗取金额较小", "suspension_months": 9,
        "rectification_due": (date.today() + timedelta(days=30)).isoformat(), "reason": "以骗取医保基金为目的"})
    assert {d["measure"]: d["track"] for d in proposed["decision"]["proposal"]["measures_detail"]}["解除服务协议"] \
        == "agreement"
    with chromium_page(viewport=VIEWPORT) as page:
        try:
            suspend_settlement(page, url)
            walk_both_tracks(page, bureau, record_id, url)
        finally:
            screenshot(page, "procedure-tracks-last")  # where it stopped, when it fails


def hold_hearing(page, bureau, record_id: str) -> None:
    """The party asks for a hearing today; it is noticed for the seventh working day, that day comes, it is held."""
    today = date.today()
    fill(page, "当事人申请听证日期", today.isoformat())
    tap(page, page, "记录听证申请")
    wait_shown(page, "已记录听证申请", 15000)
    held_on = working_days_after(today, 7)
    fill(page, "听证通知日期", today.isoformat())
    fill(page, "听证日期", held_on.isoformat())
    fill(page, "听证地点", "市医保局三楼听证室")
    fill(page, "听证主持人（工作人员账号）", "tingzheng")
    fill(page, "听证开始时间", "14:30")
    tap(page, page, "发出听证通知")
    wait_shown(page, f"{held_on.isoformat()} 14:30 在市医保局三楼听证室举行", 15000)
    days_pass(bureau, record_id, (held_on - today).days)
    reopen_case(page)
    fill(page, "出席人员", "主持人 测试tingzheng；调查人员 测试shenhe；当事人代理人 张丽")
    fill(page, "听证经过", "当事人对暂停期限提出异议，请求从轻")
    tap(page, page, "记录听证笔录")
    wait_shown(page, "听证笔录已记录", 15000)
    reveal(page, shown(page, "听证笔录已记录"))
    screenshot(page, "procedure-tracks-01a-heard")


def pdf_text(pdf: bytes, name: str) -> str:
    """The PDF's words without whitespace, and its first page rendered to PNG in the artifacts to be looked at."""
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-", str(ARTIFACTS / name)], input=pdf,
                   check=True)
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return "".join(out.split())


def sign_in(page, url: str, username: str) -> None:
    open_app(page, url)
    page.get_by_role("button", name="局端人员登录").click()
    fill(page, "账号", username)
    fill(page, "密码", STAFF_PASSWORD)
    tap(page, page, "登录")


def suspend_settlement(page, url: str) -> None:
    """The 负责人 records the 主要负责人's approval of 暂停结算 on the filed fraud case (条例第三十条第一款): the case
    screen shows it in force from today."""
    today = date.today()
    sign_in(page, url, "zhuren")
    shown(page, "检查记录（只读）").click(timeout=20000)
    shown(page, f"{NAME}（{PHARMACY}）").click(timeout=20000)
    wait_shown(page, "程序环节：调查取证", 20000)
    fill(page, "拒不配合调查的事实", "拒不提供进销存台账，拒绝调查人员进入库房")
    fill(page, "批准的主要负责人", "王局长")
    fill(page, "主要负责人批准日期", today.isoformat())
    tap(page, page, "暂停医疗保障基金结算")
    wait_shown(page, "已暂停医疗保障基金结算", 15000)
    button(page, "解除暂停结算").wait_for(timeout=15000)  # the 负责人's step (the reviewer's screen must not offer it)
    wait_shown(page, f"调查期间暂停结算（条例第三十条）自{today.year}年{today.month}月{today.day}日", 15000)
    reveal(page, shown(page, "调查期间暂停结算（条例第三十条）"))
    screenshot(page, "procedure-tracks-00-suspended")


MANAGEMENT_BAN = "禁止法定代表人（主要负责人）从事定点医药机构管理活动"


def try_article_43(page) -> None:
    """On the decision screen, 条例第四十三条 (造成基金重大损失): switched on, the proposal adds the ban on the legal
    representative; switched off again and left unsubmitted, the proposal stays as made."""
    button(page, "修改拟处理意见").wait_for(timeout=20000)  # at the top: tapped before any scrolling
    tap(page, page, "修改拟处理意见")
    switch = page.get_by_role("switch", name="造成基金重大损失或严重不良社会影响（条例第四十三条）")
    until_taken(lambda: reveal(page, switch).click(), lambda: expect(switch).to_be_checked(timeout=3000),
                "the 条例第四十三条 switch did not take")
    wait_shown(page, MANAGEMENT_BAN, 20000)
    reveal(page, shown(page, MANAGEMENT_BAN))
    screenshot(page, "procedure-tracks-00-article-43")
    page.mouse.wheel(0, -5000)  # back to the facts at the top
    until_taken(lambda: reveal(page, switch).click(), lambda: expect(switch).not_to_be_checked(timeout=3000),
                "the 条例第四十三条 switch did not switch off")
    reveal(page, shown(page, "应当采取的措施"))
    ban = page.get_by_text(MANAGEMENT_BAN, exact=False).or_(page.locator(f"flt-semantics-host [aria-label*='{MANAGEMENT_BAN}']"))
    expect(ban).to_have_count(0, timeout=20000)
    page.get_by_role("button", name="返回").click()


def walk_both_tracks(page, bureau, record_id: str, url: str) -> None:
    """The reviewer signs in where the 负责人 just worked. Flet reattaches a reloaded page to its session when the old
    connection closed first (not always: it is a race), and then the case screen must still be the reviewer's own,
    not the 负责人's kept from before (with its 解除暂停结算)."""
    today = date.today().isoformat()
    base = f"/v1/review/records/{record_id}"
    sign_in(page, url, "shenhe")
    shown(page, f"{NAME}（{PHARMACY}）").click(timeout=20000)
    wait_shown(page, "程序环节：调查取证", 20000)
    wait_shown(page, "调查期间暂停结算（条例第三十条）", 15000)
    expect(button(page, "解除暂停结算")).to_have_count(0, timeout=5000)
    try_article_43(page)
    wait_shown(page, "程序环节：调查取证", 20000)

    # 告知 (the 行政部门's), then the party's 陈述申辩.
    fill(page, "告知书送达日期", today)
    tap(page, page, "告知拟处理意见")
    wait_shown(page, "已告知拟处理意见，当前状态：陈述申辩", 15000)
    fill(page, "当事人陈述申辩内容", "对罚款无异议")
    tap(page, page, "记录陈述申辩")
    wait_shown(page, "已记录陈述申辩", 15000)
    hold_hearing(page, bureau, record_id)
    wait_shown(page, "须由经办机构另行告知并听取申辩", 15000)  # 作出决定前: the agreement track's own notice
    reveal(page, shown(page, "协议处理告知送达日期"))
    screenshot(page, "procedure-tracks-01-notified")

    # The agreement track: the 经办机构's 协议处理告知 and the institution's 申辩, apart from the 告知书.
    fill(page, "协议处理告知送达日期", today)
    tap(page, page, "协议处理告知")
    wait_shown(page, "已协议处理告知", 15000)
    wait_shown(page, f"协议处理告知（解除服务协议）送达 {today}", 15000)
    fill(page, "定点医药机构的申辩", "对解除协议有异议，请求改为中止协议")
    tap(page, page, "记录协议处理申辩")
    wait_shown(page, "已记录协议处理申辩", 15000)
    wait_shown(page, "；已申辩", 15000)
    reveal(page, shown(page, "；已申辩"))
    screenshot(page, "procedure-tracks-02-agreement-heard")

    # 法制审核 by another person; the decision.
    Staff(bureau.url, "fazhi").post(f"{base}/procedure/legal_review", {"opinion": "同意", "passed": True})
    reopen_case(page)
    tap(page, page, "作出决定")
    wait_shown(page, "已作出决定，当前状态：已决定", 20000)
    wait_shown(page, "经调查属于骗取医疗保障基金支出，依照条例第四十条处理", 15000)  # 条例第三十条第一款
    wait_shown(page, "下载医疗保障协议处理通知书（PDF）", 15000)
    reveal(page, shown(page, "下载医疗保障协议处理通知书（PDF）"))
    screenshot(page, "procedure-tracks-03-decided")

    # Both documents from the case screen, each with only its own track's measures.
    decision = pdf_text(download(page, "下载决定书（PDF）", "procedure-tracks-决定书.pdf"), "procedure-tracks-decision")
    notice = pdf_text(download(page, "下载医疗保障协议处理通知书（PDF）", "procedure-tracks-协议处理通知书.pdf"),
                      "procedure-tracks-agreement")
    assert "医疗保障行政处罚决定书" in decision and "处罚款3,500.00元" in decision and "责令暂停相关责任部门9个月" in decision
    assert "解除与你单位签订的医疗保障服务协议" not in decision
    assert "医疗保障协议处理通知书" in notice and "解除与你单位签订的医疗保障服务协议" in notice
    assert "处罚款" not in notice
    assert "经调查属于骗取医疗保障基金支出，依照条例第四十条处理" in decision  # 条例第三十条第一款
