"""智能监控 in a real browser (issue #16): the supervisor signs in, imports a claims file with errors (the table names
them, nothing is stored), imports a generated one, runs the screening, sees the ranked institutions and the chart of
the top by amount, opens one institution's hits, and exports the run as Excel."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect
from sqlmodel import Session

from bureau.models import Institution
from bureau.service import open_bureau
from tests.browser import ARTIFACTS, chromium_page, fill, gone, open_app, screenshot
from tests.claims_gen import generate, institution_code
from tests.support import STAFF_PASSWORD, add_staff, init_bureau, serve_in_thread, start_app, stop

pytestmark = pytest.mark.browser
VIEWPORT = (1280, 800)
NAMES = {institution_code(1): "福州市晋安区新店镇卫生院", institution_code(2): "=福州市仓山区螺洲镇卫生院"}


@pytest.fixture
def sqlite_bureau(bureau_settings, operator_passphrase):
    if not bureau_settings.database_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the screening API is covered on PostgreSQL elsewhere")
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    engine = open_bureau(bureau_settings).engine
    with Session(engine) as session:
        for code, name in NAMES.items():
            session.add(Institution(code=code, name=name, kind="primary", region="350104",
                                    credit_code="12100000400000624D"))
        session.commit()
    engine.dispose()
    bureau = serve_in_thread(bureau_settings)
    try:
        yield bureau
    finally:
        stop(bureau.process)


def pick_file(page, button_name: str, path) -> None:
    with page.expect_file_chooser(timeout=15000) as chooser:
        page.get_by_role("button", name=button_name).click()
    chooser.value.set_files(str(path))


def scroll_to(page, locator):
    """Wheel the Flutter view until `locator` is wholly on screen (VIEWPORT high); returns it."""
    for _attempt in range(40):
        box = locator.bounding_box() if locator.count() else None
        if box and 80 <= box["y"] and box["y"] + box["height"] <= VIEWPORT[1]:
            return locator
        page.mouse.move(VIEWPORT[0] - 40, VIEWPORT[1] // 2)
        page.mouse.wheel(0, -300 if box and box["y"] < 80 else 300)
        page.wait_for_timeout(200)
    raise AssertionError(f"never scrolled into view: {locator}")


def test_supervisor_imports_screens_ranks_drills_down_and_exports(sqlite_bureau, tmp_path):
    out = io.StringIO()
    rows, expected = generate(out, 30, 4)
    claims = tmp_path / "结算明细.csv"
    claims.write_text(out.getvalue(), encoding="utf-8")
    lines = out.getvalue().splitlines(keepends=True)
    cells = lines[3].split(",")
    cells[1] = "X123"  # 机构编码
    bad = tmp_path / "结算明细-有错.csv"
    bad.write_text("".join(lines[:3] + [",".join(cells)] + lines[4:]), encoding="utf-8")
    app, url = start_app(tmp_path / "desk", sqlite_bureau.url)
    try:
        with chromium_page(viewport=VIEWPORT) as page:
            open_app(page, url)
            page.get_by_role("button", name="局端人员登录").click()
            gone(page, "请输入科室负责人提供的注册码")
            fill(page, "账号", "zhuren")
            fill(page, "密码", STAFF_PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            page.get_by_text("智能监控").wait_for(timeout=15000)
            page.get_by_text("智能监控").click()
            page.get_by_text("尚无筛查结果：先导入结算明细，再运行筛查").wait_for(timeout=15000)
            screenshot(page, "screening-empty")

            pick_file(page, "导入结算明细", bad)
            page.get_by_text("共 1 处错误").wait_for(timeout=30000)
            page.get_by_text("应为定点医药机构编码：H 或 P 加 11 位数字").wait_for(timeout=5000)
            screenshot(page, "screening-import-errors")
            pick_file(page, "导入结算明细", claims)
            page.get_by_text(f"已导入 结算明细.csv：结算明细 {rows} 行", exact=False).wait_for(timeout=60000)
            expect(page.get_by_text("共 1 处错误")).to_have_count(0)
            screenshot(page, "screening-imported")

            page.get_by_role("button", name="运行筛查").click()
            page.get_by_text(f"疑点 {len(expected)} 条，涉及机构 2 家", exact=False).wait_for(timeout=60000)
            page.get_by_text("疑点涉及金额最多的机构（前 2 家，元）").wait_for(timeout=15000)
            page.get_by_text(f"1. {NAMES[institution_code(1)]}", exact=False).wait_for(timeout=5000)
            screenshot(page, "screening-ranked-chart")

            target = page.get_by_role("button", name=NAMES[institution_code(2)])  # the tile reads as one button
            scroll_to(page, target)
            screenshot(page, "screening-ranked-list")
            target.click()
            page.get_by_text("疑点清单（第 1–", exact=False).wait_for(timeout=15000)
            planted = sum(1 for e in expected if e.institution == institution_code(2))
            page.get_by_text(f"共 {planted} 条）", exact=False).wait_for(timeout=5000)
            page.get_by_text("限性别项目与参保人性别不符（R-GENDER）").wait_for(timeout=5000)
            screenshot(page, "screening-institution-hits")

            page.get_by_role("button", name="返回").click()
            gone(page, "疑点清单")
            export = page.get_by_role("button", name="导出 XLSX")
            with page.expect_download(timeout=60000) as started:
                scroll_to(page, export).click()
            saved = ARTIFACTS / "screening-export.xlsx"
            started.value.save_as(str(saved))
            assert started.value.suggested_filename.startswith("智能监控筛查-")
    finally:
        stop(app)
    book = load_workbook(saved)
    assert book.sheetnames == ["机构风险排名", "疑点明细"]
    ranked = list(book["机构风险排名"].iter_rows(min_row=3, values_only=True))
    assert {row[1]: row[2] for row in ranked if row[1] in NAMES} == {
        institution_code(1): NAMES[institution_code(1)], institution_code(2): "'" + NAMES[institution_code(2)]}
    assert len(list(book["疑点明细"].iter_rows(min_row=3))) == len(expected)
