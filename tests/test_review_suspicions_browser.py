"""The reviewer sees what the inspectors made of the 疑点 on site, in a real browser: a record with one confirmed and
one excluded check, the case page's 疑点核查 card (rule, 结算ID, amounts, verdict, note) and the confirmed one among
the findings. Screenshots go to the artifacts directory."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from bureau.assignments import assignments_for
from bureau.db import make_engine
from tests.browser import VIEWPORT, chromium_page, fill, open_app, reveal, screenshot, shown, tap, wait_shown
from tests.support import STAFF_PASSWORD, start_app, stop
from tests.test_suspicions import CLINIC, PHARMACY, PLANTED, plant_and_issue, signed_by_hand

pytestmark = pytest.mark.browser
NAME = "福州市鼓楼区东街口大药房"


@pytest.fixture
def checked(bureau_db_url, running_bureau, tmp_path):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the API is covered on PostgreSQL in test_suspicions")
    s = signed_by_hand(running_bureau, tmp_path / "tablet")
    issued = plant_and_issue(running_bureau.settings, PLANTED, [PHARMACY, CLINIC])
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        [gender, days, _visits] = next(a["suspicions"] for a in assignments_for(session, "I0001")
                                       if a["id"] == issued[PHARMACY])
    engine.dispose()
    record = s.variant("checked-browser")
    record["assignment_id"] = issued[PHARMACY]
    record["suspicion_checks"] = [
        {"hit_id": gender["hit_id"], "rule": "R-GENDER", "verdict": "confirmed", "note": "病历记载患者为女性",
         "amount_yuan": "150.00", "photos": [record["photos"][0]["sha256"]]},
        {"hit_id": days["hit_id"], "rule": "R-DAYS", "verdict": "excluded", "note": "慢病长期处方，已备案",
         "amount_yuan": "0.00", "photos": []}]
    assert s.send(record, "checked-browser")[:2] == (200, "accepted")
    app, url = start_app(tmp_path / "desk", running_bureau.url)
    try:
        yield url
    finally:
        stop(app)


def test_the_case_shows_the_checked_suspicions(checked):
    with chromium_page(viewport=VIEWPORT) as page:
        try:
            open_app(page, checked)
            page.get_by_role("button", name="局端人员登录").click()
            fill(page, "账号", "shenhe")
            fill(page, "密码", STAFF_PASSWORD)
            tap(page, page, "登录")
            wait_shown(page, f"{NAME}（{PHARMACY}）", 20000)
            shown(page, f"{NAME}（{PHARMACY}）").click(timeout=15000)
            wait_shown(page, "记录内容与其哈希一致", 20000)
            wait_shown(page, "发现的问题（3 项", 15000)
            reveal(page, shown(page, "疑点核查（2 项，属实 1 项）"))
            reveal(page, shown(page, "限性别项目与参保人性别不符 · 结算ID S-0001 · 疑点金额 ¥200.00 · 属实，认定 ¥150.00"))
            reveal(page, shown(page, "单次用药天数超限 · 结算ID S-0003 · 疑点金额 ¥88.50 · 排除 · 慢病长期处方"))
            screenshot(page, "suspicions-review-case")
        finally:
            screenshot(page, "suspicions-review-last")
