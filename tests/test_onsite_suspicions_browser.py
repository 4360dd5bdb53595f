"""疑点 go on site (issue #16), in a real browser against a real bureau: the bureau issues the pharmacy's assignment
after a screening run that found two 疑点 there, signs them into it, and the tablet pulls it. On the inspection's
screen the 疑点清单 shows with its count; one 疑点 is confirmed (a bad amount refused first) with a note and a photo,
the other excluded; after a reload everything is still there, and the review before signing lists both.
Screenshots at 1280×800 and 800×1280."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from bureau.db import make_engine
from bureau.screening.rules import load_rules
from bureau.screening.runs import record_run
from checklists import template_for_kind
from inspector_app import device, keyring, onsite
from inspector_app.store import open_store
from tests.browser import (
    button,
    chromium_page,
    enable_semantics,
    fill,
    gone,
    reveal,
    screenshot,
    tap,
    wait_shown,
)
from tests.support import init_bureau, seed_small, serve_in_thread, start_app, stop
from tests.sync_support import issue_token
from tests.test_app_browser import after_reload_showing, unlock
from tests.test_onsite import CHECKIN
from tests.test_onsite_support import PIN, camera_jpeg

pytestmark = pytest.mark.browser

PHARMACY = "福州市鼓楼区东街口大药房"
HITS = [  # as `yibao screen run` writes them
    {"rule": "R-GENDER", "settlement_id": "JS2026100300017", "institution": "P35010200001",
     "person": "PSN350102000123", "date": "2026-10-03", "amount_yuan": "860.00",
     "evidence": "男性参保人结算妇科检查项目 1 次"},
    {"rule": "R-VISITS", "settlement_id": None, "institution": "P35010200001", "person": "PSN350102000456",
     "month": "2026-09", "amount_yuan": "2400.50", "evidence": "当月购药 31 次"},
]
SIZES = {"landscape": (1280, 800), "portrait": (800, 1280)}
NOTE = "核查所见（必填）：病历、处方、票据显示的情况"


@pytest.fixture
def screened_bureau(bureau_db_url, bureau_settings, operator_passphrase):
    """A bureau whose latest screening run found `HITS` at the pharmacy before the assignments were issued."""
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite")
    init_bureau(bureau_settings)
    engine = make_engine(bureau_settings.database_url)
    rules = [r for r in load_rules() if r.id in {h["rule"] for h in HITS}]
    with Session(engine) as session:
        record_run(session, rules, {"input_digest": "a" * 64, "result_digest": "b" * 64, "hits": HITS,
                                    "institutions": []}, datetime.now(timezone.utc) - timedelta(hours=1))
        session.commit()
    engine.dispose()
    seed_small(bureau_settings)
    bureau = serve_in_thread(bureau_settings)
    try:
        yield bureau
    finally:
        stop(bureau.process)


@pytest.fixture
def tablet(screened_bureau, tmp_path):
    """Both team members enrolled; the pharmacy's assignment pulled (its 疑点 verified and sealed) and checked in."""
    home = tmp_path / "tablet"
    engine = open_store(home)
    device.enroll(engine, screened_bureau.url, issue_token(screened_bureau.settings, "I0001"), pin=PIN["I0001"])
    first = keyring.unlock(engine, "I0001", PIN["I0001"])
    device.enroll(engine, screened_bureau.url, issue_token(screened_bureau.settings, "I0002"), pin=PIN["I0002"],
                  data_key=first.data_key)
    assert device.pull_assignments(engine, first.identity, device.client_for(first), first.data_key).refused == 0
    assignment = next(a for a in device.assignments(engine, "I0001") if a.institution_name == PHARMACY)
    assert assignment.sealed is not None and "suspicions" not in assignment.signed
    inspection = onsite.start_inspection(engine, assignment.id, "I0001")
    onsite.save_checkin(engine, first.data_key, inspection.id, CHECKIN)
    app, url = start_app(home)
    try:
        yield engine, first, inspection, url
    finally:
        stop(app)


def suspicion(page, rule_name: str):
    """A 疑点's card; its texts are part of its accessible label."""
    return page.locator(f"flt-semantics[aria-label^='疑点 '][aria-label*='{rule_name}']")


def both_sizes(page, name: str) -> None:
    for size_name, size in SIZES.items():
        page.set_viewport_size({"width": size[0], "height": size[1]})
        screenshot(page, f"{name}-{size_name}")
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_suspicions_are_checked_on_site_and_survive_a_reload(tablet, tmp_path):
    engine, first, inspection, url = tablet
    carried = device.suspicions_of(device.assignment(engine, inspection.assignment_id), first.data_key)
    assert [(s["rule"], s["rule_name"], s["amount_yuan"]) for s in carried] == [
        ("R-GENDER", "限性别项目与参保人性别不符", "860.00"), ("R-VISITS", "两个异常·就诊次数异常", "2400.50")]
    with chromium_page(viewport=(1280, 1000)) as page:
        try:
            page.goto(url)
            page.wait_for_function("window.__firstFrameAt !== null", timeout=30000)
            enable_semantics(page)
            unlock(page)
            page.get_by_text(PHARMACY).first.click()
            gone(page, "我的检查任务")
            wait_shown(page, "疑点 2（待核 2）")
            screenshot(page, "suspicions-00-checklist")
            tap(page, page, "疑点 2（待核 2）")
            page.get_by_text("以下疑点来自局端对结算数据的筛查", exact=False).wait_for(timeout=20000)
            gone(page, "已答")
            both_sizes(page, "suspicions-01-list")

            confirmed, excluded = suspicion(page, "限性别项目"), suspicion(page, "就诊次数异常")
            wait_shown(page, "结算ID JS2026100300017 · 2026-10-03 · 参保人 PSN350102000123 · 金额 ¥860.00")
            tap(page, confirmed, "属实")  # no note yet: refused, nothing saved
            wait_shown(page, "请填写核查所见")
            fill(confirmed, NOTE, "门诊病历记载就诊人为其配偶，系冒名就医")
            tap(page, confirmed, "属实")
            wait_shown(page, "结论：属实，核实金额 ¥860.00")  # the amount field is prefilled with the 疑点's
            fill(confirmed, "属实金额（元，不超过 ¥860.00）", "900")
            wait_shown(page, "属实金额应大于 0 元且不超过疑点金额 860.00 元")
            fill(confirmed, "属实金额（元，不超过 ¥860.00）", "600")
            wait_shown(page, "结论：属实，核实金额 ¥600.00")
            target = reveal(page, button(confirmed, "添加照片"))
            photo = tmp_path / "record.jpg"
            photo.write_bytes(camera_jpeg(5))
            with page.expect_file_chooser(timeout=15000) as chooser:
                target.click()
            chooser.value.set_files(str(photo))
            wait_shown(page, "取证照片 1 张")

            fill(excluded, NOTE, "慢病长期处方，按月分次配药，处方齐全")
            tap(page, excluded, "排除")
            wait_shown(page, "结论：排除")
            wait_shown(page, "疑点 2（待核 0）")
            both_sizes(page, "suspicions-02-checked")

            page.reload()  # the tab reloads on the 疑点清单: the verdicts are in the device store
            page.wait_for_function("window.__firstFrameAt !== null", timeout=30000)
            after_reload_showing(page, "疑点 2（待核 0）")
            wait_shown(page, "结论：属实，核实金额 ¥600.00")
            wait_shown(page, "结论：排除")
            wait_shown(page, "取证照片 1 张")
            screenshot(page, "suspicions-03-after-reload")

            # The checklist is answered through the store the app reads; the review lists the checked 疑点.
            for item in template_for_kind("pharmacy").items:
                onsite.save_answer(engine, first.data_key, inspection.id, item.id, "pass")
            tap(page, page, "返回检查表")
            gone(page, "以下疑点来自局端")
            tap(page, page, "核对与签名")
            wait_shown(page, "1. 限性别项目与参保人性别不符 · 属实")
            wait_shown(page, "2. 两个异常·就诊次数异常 · 排除")
            wait_shown(page, "核查所见：慢病长期处方，按月分次配药，处方齐全")
            reveal(page, page.get_by_text("疑点核查", exact=True))
            screenshot(page, "suspicions-04-review")
        finally:
            screenshot(page, "suspicions-last")

    known = onsite.facts(engine, first.data_key, inspection.id)
    hits = [s["hit_id"] for s in carried]
    assert known.checks == {
        hits[0]: onsite.CheckData("confirmed", "门诊病历记载就诊人为其配偶，系冒名就医", "600.00"),
        hits[1]: onsite.CheckData("excluded", "慢病长期处方，按月分次配药，处方齐全", "0.00")}
    assert [p.item_id for p in known.photos] == [hits[0]]
