"""The whole 智能监控 loop in a real browser (issue #16): the supervisor imports a generated claims file with planted
violations at two registered 卫生院, runs the screening and sees them ranked; draws both by the screening's risk on the
抽查 screen and issues the assignments there; the tablet pulls them on unlock and its 疑点清单 shows the institution's
hits; one is confirmed with a note and an amount, one excluded; the record is locked (checklist answers and signatures
through the store the app reads, as in test_app_browser) and sent with the app's 同步; the supervisor opens 智能监控
again and 规则核实情况 counts, per rule, what went on site and what was found. A `yibao serve` bureau and two
`yibao app` processes (the supervisor's desk and the tablet); screenshots of every step go to the artifacts."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from bureau.models import Institution
from bureau.screening.rules import load_rules
from bureau.service import open_bureau
from checklists import template_for_kind
from inspector_app import device, keyring, onsite
from inspector_app.store import open_store
from tests.browser import (
    FIRST_FRAME_PROBE,
    choose,
    chromium_page,
    fill,
    gone,
    open_app,
    reveal,
    screenshot,
    tap,
    until_taken,
    wait_shown,
)
from tests.claims_gen import generate, institution_code
from tests.support import SMALL_INSPECTORS, STAFF_PASSWORD, add_staff, init_bureau, serve_in_thread, start_app, stop
from tests.sync_support import issue_token
from tests.test_app_browser import unlock
from tests.test_onsite import CHECKIN
from tests.test_onsite_support import PIN, scribble
from tests.test_onsite_suspicions_browser import NOTE, suspicion
from tests.test_screening_browser import pick_file

pytestmark = pytest.mark.browser
VIEWPORT = (1280, 1000)  # tests.browser.reveal scrolls within this height
DRAWN = institution_code(1)  # the tablet inspects this one; the draw takes both
NAMES = {DRAWN: "福州市晋安区新店镇卫生院", institution_code(2): "福州市仓山区螺洲镇卫生院"}
GENDER, CHILD = "限性别项目与参保人性别不符", "限年龄项目超出限定年龄"


@pytest.fixture
def loop_bureau(bureau_settings, tmp_path, operator_passphrase):
    """A bureau whose registry holds the two 卫生院 the claims plant violations at and two inspectors (a team of two
    is then always both); its supervisor; the tablet enrolled for I0001 (nothing pulled yet)."""
    if not bureau_settings.database_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the screening, draw and confirmations APIs are covered on "
                    "PostgreSQL elsewhere")
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    engine = open_bureau(bureau_settings).engine
    with Session(engine) as session:
        for code, name in NAMES.items():
            session.add(Institution(code=code, name=name, kind="primary", region="350102",
                                    credit_code="12100000400000624D", address=f"{name}门诊楼"))
        for inspector in SMALL_INSPECTORS[:2]:
            session.merge(inspector.model_copy())
        session.commit()
    engine.dispose()
    bureau = serve_in_thread(bureau_settings)
    tablet = open_store(tmp_path / "tablet")
    device.enroll(tablet, bureau.url, issue_token(bureau_settings, "I0001"), pin=PIN["I0001"])
    try:
        yield bureau, tablet
    finally:
        stop(bureau.process)


def sign_in(page, url: str) -> None:
    open_app(page, url)
    page.get_by_role("button", name="局端人员登录").click()
    gone(page, "请输入科室负责人提供的注册码")
    fill(page, "账号", "zhuren")
    fill(page, "密码", STAFF_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.get_by_text("智能监控").wait_for(timeout=15000)


def test_import_screen_draw_check_on_site_sync_and_count_per_rule(loop_bureau, tmp_path):
    bureau, tablet = loop_bureau
    out = io.StringIO()
    rows, expected = generate(out, 30, 4)
    claims = tmp_path / "结算明细.csv"
    claims.write_text(out.getvalue(), encoding="utf-8")
    at_drawn = [e for e in expected if e.institution == DRAWN]
    carried = {rule: sum(1 for e in expected if e.rule == rule and e.institution in NAMES) for rule in
               ("R-GENDER", "R-CHILD")}
    gender_hit = next(e for e in at_drawn if e.rule == "R-GENDER")
    desk, desk_url = start_app(tmp_path / "desk", bureau.url)
    pad = None
    try:
        with chromium_page(viewport=VIEWPORT) as page:
            # -- the supervisor: import, screen, ranked list
            sign_in(page, desk_url)
            page.get_by_text("智能监控").click()
            page.get_by_text("尚无筛查结果：先导入结算明细，再运行筛查").wait_for(timeout=15000)
            pick_file(page, "导入结算明细", claims)
            page.get_by_text(f"已导入 结算明细.csv：结算明细 {rows} 行", exact=False).wait_for(timeout=60000)
            screenshot(page, "loop-01-imported")
            page.get_by_role("button", name="运行筛查").click()
            page.get_by_text(f"疑点 {len(expected)} 条，涉及机构 2 家", exact=False).wait_for(timeout=60000)
            wait_shown(page, "规则核实情况")
            wait_shown(page, "尚无带疑点的检查任务")
            for name in NAMES.values():
                reveal(page, page.get_by_role("button", name=name))
            screenshot(page, "loop-02-ranked")

            # -- the 抽查 screen: both 卫生院, weighted by the screening run; published = issued to the team
            page.get_by_role("button", name="返回").click()
            page.get_by_text("双随机抽查").click()
            gone(page, "名录库导入")
            fill(page, "计划编号", "2026-智能监控-卫生院")
            fill(page, "比例（如 0.10）或家数", "1", nth=1)  # 基层医疗机构: all (two) of them
            switch = page.get_by_role("switch", name="按风险分加权（风险越高，被抽中的机会越大）")
            until_taken(lambda: switch.click(), lambda: expect(switch).to_be_checked(timeout=3000),
                        "the weighting switch did not take")
            choose(page, "最近一次智能监控筛查")
            page.get_by_role("button", name="承诺计划（公布承诺值）").click()
            wait_shown(page, "（风险分取自智能监控筛查")
            fill(page, "公开随机数（承诺之后产生，如某期彩票开奖号码，用逗号或换行分隔）", "福彩3D 2026-12-01 4 0 8")
            page.get_by_role("button", name="预览抽取结果").click()
            wait_shown(page, "预览：抽中 2 家")
            wait_shown(page, "风险分取自智能监控筛查")
            screenshot(page, "loop-03-draw-preview")
            page.get_by_role("button", name="发布并下达任务").click()
            wait_shown(page, "已下达 2 项检查任务")
            screenshot(page, "loop-04-draw-published")
            page.get_by_role("button", name="返回").click()
            gone(page, "发布并下达任务")
            page.get_by_text("智能监控", exact=True).click()  # opened again: the figures are read afresh
            wait_shown(page, "带疑点的检查任务 2 项，已收到检查记录 0 份")
            reveal(page, page.get_by_text(f"{GENDER}（R-GENDER）", exact=False))
            screenshot(page, "loop-05-carried")
            page.get_by_role("button", name="返回").click()
            gone(page, "规则核实情况")

            # -- the tablet: unlock pulls the assignments; the drawn 卫生院's 疑点清单
            pad, pad_url = start_app(tmp_path / "tablet")
            pad_page = page.context.new_page()  # a tab of its own: the supervisor's session stays signed in
            pad_page.add_init_script(FIRST_FRAME_PROBE)
            open_app(pad_page, pad_url)
            unlock(pad_page)
            wait_shown(pad_page, NAMES[DRAWN])
            screenshot(pad_page, "loop-06-tablet-tasks")
            assignment = next(a for a in device.assignments(tablet, "I0001") if a.institution_code == DRAWN)
            unlocked = keyring.unlock(tablet, "I0001", PIN["I0001"])
            inspection = onsite.start_inspection(tablet, assignment.id, "I0001")
            onsite.save_checkin(tablet, unlocked.data_key, inspection.id, {**CHECKIN, "place": f"{NAMES[DRAWN]}门诊楼"})
            pad_page.get_by_text(NAMES[DRAWN]).first.click()
            gone(pad_page, "我的检查任务")
            count = f"疑点 {len(at_drawn)}（待核 {len(at_drawn)}）"
            wait_shown(pad_page, count)
            tap(pad_page, pad_page, count)
            pad_page.get_by_text("以下疑点来自局端对结算数据的筛查", exact=False).wait_for(timeout=20000)
            gone(pad_page, "已答")
            wait_shown(pad_page, f"结算ID {gender_hit.settlement_id} · {gender_hit.when}")
            screenshot(pad_page, "loop-07-suspicions")

            confirmed, excluded = suspicion(pad_page, GENDER), suspicion(pad_page, CHILD)
            fill(confirmed, NOTE, "门诊病历记载就诊人为其配偶，系冒名就医")
            tap(pad_page, confirmed, "属实")
            wait_shown(pad_page, f"结论：属实，核实金额 ¥{gender_hit.amount_yuan}")
            fill(excluded, NOTE, "出生证明显示参保人年龄登记有误，已更正")
            tap(pad_page, excluded, "排除")
            wait_shown(pad_page, "结论：排除")
            wait_shown(pad_page, f"疑点 {len(at_drawn)}（待核 {len(at_drawn) - 2}）")
            screenshot(pad_page, "loop-08-checked")

            # -- the rest of the record through the store the app reads; locked and sent from the app
            for item in template_for_kind("primary").items:
                onsite.save_answer(tablet, unlocked.data_key, inspection.id, item.id, "pass")
            for number, (role, name) in enumerate((("inspector_1", "林建华"), ("inspector_2", "陈晓燕"),
                                                   ("representative", "张丽"))):
                for stroke in scribble(number):
                    onsite.add_stroke(tablet, unlocked.data_key, inspection.id, role,
                                      datetime.now().astimezone().isoformat(), stroke)
                onsite.confirm_signature(tablet, unlocked.data_key, inspection.id, role, name, (640, 240))
            tap(pad_page, pad_page, "返回检查表")
            gone(pad_page, "以下疑点来自局端")
            tap(pad_page, pad_page, "核对与签名")
            gone(pad_page, "已答")
            wait_shown(pad_page, f"1. {GENDER} · 属实")
            tap(pad_page, pad_page, "签名完成，锁定记录")
            pad_page.get_by_text("检查已完成，记录已锁定").wait_for(timeout=15000)
            gone(pad_page, "签名时核对")
            pad_page.get_by_role("button", name="返回").click()
            gone(pad_page, "检查已完成")
            pad_page.get_by_role("button", name="同步", exact=True).click()
            pad_page.get_by_text("已同步 1 份检查记录").wait_for(timeout=30000)
            screenshot(pad_page, "loop-09-synced")

            # -- the supervisor's tab again, still signed in: 规则核实情况
            page.bring_to_front()
            page.get_by_text("智能监控", exact=True).click()
            page.get_by_text("最近一次筛查：", exact=False).wait_for(timeout=15000)
            wait_shown(page, "带疑点的检查任务 2 项，已收到检查记录 1 份")
            gender_line = (f"带到现场 {carried['R-GENDER']} · 已核 1 · 属实 1 · 排除 0 · "
                           f"属实金额 ¥{gender_hit.amount_yuan} · 属实率 100.0%")
            child_line = f"带到现场 {carried['R-CHILD']} · 已核 1 · 属实 0 · 排除 1 · 属实金额 ¥0.00 · 属实率 0.0%"
            unchecked = "已核 0 · 属实 0 · 排除 0 · 属实金额 ¥0.00 · 属实率 —（尚未核查）"
            names = {r.id: r.name for r in load_rules()}
            lines = {rule: (gender_line if rule == "R-GENDER" else child_line if rule == "R-CHILD" else unchecked)
                     for rule in sorted({e.rule for e in expected if e.institution in NAMES})}
            for rule, line in lines.items():  # each rule's figures are one text with its name
                expect(reveal(page, page.get_by_text(f"{names[rule]}（{rule}）", exact=False))).to_contain_text(line)
            screenshot(page, "loop-10-confirmations")
    finally:
        stop(desk)
        if pad is not None:
            stop(pad)
