"""The penalty procedure in a real browser: 立案 (asked on the screen, approved by the 负责人), the 90-day clock on
the queue and the case, 告知 from the service day, 听证 (request, notice, 笔录), 法制审核, the decision, 送达 and the
payments. The 负责人's approval and the 法制审核 are another person's acts, taken through the API; the seven days
before the hearing pass by moving the case's recorded dates back (tests.test_procedure_flow.days_pass).
Screenshots go to the artifacts directory."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from checklists.onsite_record import working_days_after
from tests.browser import VIEWPORT, chromium_page, fill, open_app, reveal, screenshot, shown, tap, wait_shown
from tests.support import STAFF_PASSWORD, add_staff, start_app, stop
from tests.test_procedure_flow import days_pass
from tests.test_review_support import Staff, add_review_staff, inspect, pin_tablet

pytestmark = pytest.mark.browser
PHARMACY, NAME = "P35010200001", "福州市鼓楼区东街口大药房"


@pytest.fixture
def synced(bureau_db_url, running_bureau, tmp_path):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the procedure API is covered on PostgreSQL elsewhere")
    add_review_staff(running_bureau.settings)
    add_staff(running_bureau.settings, "fazhi", "reviewer")
    add_staff(running_bureau.settings, "tingzheng", "reviewer")
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷医保卡购买日用品，无对应购药", "60000.00")})
    app, url = start_app(tmp_path / "desk", running_bureau.url)
    try:
        yield running_bureau, record_id, url
    finally:
        stop(app)


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
    tap(page, page, "发出听证通知")
    wait_shown(page, "听证应在通知之日起 7 个工作日后举行", 15000)
    reveal(page, shown(page, "听证应在通知之日起 7 个工作日后举行"))
    screenshot(page, "procedure-04-hearing-too-soon")
    fill(page, "听证日期", earliest.isoformat())
    tap(page, page, "发出听证通知")
    wait_shown(page, "已发出听证通知", 15000)
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
