"""The supervisor's screens in a real browser: sign in, import a registry (with its error table), commit a plan,
enter the public random values, preview, publish, withdraw one of the issued assignments, and look at coverage."""

from __future__ import annotations

import pytest

from tests.browser import chromium_page, fill, gone, open_app, screenshot
from tests.support import (
    STAFF_PASSWORD,
    add_staff,
    demo_file,
    init_bureau,
    serve_in_thread,
    start_app,
    stop,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def sqlite_bureau(bureau_settings, operator_passphrase):
    if not bureau_settings.database_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the supervisor API is covered on PostgreSQL elsewhere")
    init_bureau(bureau_settings)
    add_staff(bureau_settings, "zhuren", "supervisor")
    bureau = serve_in_thread(bureau_settings)
    try:
        yield bureau
    finally:
        stop(bureau.process)


def pick_file(page, button_name: str, path) -> None:
    with page.expect_file_chooser(timeout=15000) as chooser:
        page.get_by_role("button", name=button_name).click()
    chooser.value.set_files(str(path))


def test_supervisor_imports_draws_withdraws_and_sees_coverage(sqlite_bureau, tmp_path):
    bad = tmp_path / "机构名录-有错.csv"
    bad.write_bytes(demo_file("institutions.csv").read_text(encoding="utf-8")
                    .replace("91350102", "91350103", 1).encode("gbk"))
    app, url = start_app(tmp_path / "desk", sqlite_bureau.url)
    try:
        with chromium_page(viewport=(1400, 1000)) as page:
            open_app(page, url)
            page.get_by_role("button", name="局端人员登录").click()
            gone(page, "请输入科室负责人提供的注册码")  # typing during the page transition can be lost
            fill(page, "账号", "zhuren")
            fill(page, "密码", STAFF_PASSWORD)
            page.get_by_role("button", name="登录", exact=True).click()
            page.get_by_text("名录库导入").wait_for(timeout=15000)
            screenshot(page, "supervisor-menu")

            page.get_by_text("名录库导入").click()
            pick_file(page, "选择文件", bad)
            page.get_by_text("发现 1 处错误", exact=False).wait_for(timeout=15000)
            page.get_by_text("统一社会信用代码", exact=False).first.wait_for(timeout=5000)
            screenshot(page, "supervisor-import-errors")
            pick_file(page, "选择文件", demo_file("institutions.csv"))
            page.get_by_text("检查通过，可以导入", exact=False).wait_for(timeout=15000)
            page.get_by_role("button", name="导入", exact=True).click()
            page.get_by_text("已导入 定点医药机构名录 40 行", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-imported")
            page.get_by_role("button", name="执法检查人员名录").click()
            pick_file(page, "选择文件", demo_file("inspectors.csv"))
            page.get_by_text("inspectors.csv：检查通过，可以导入", exact=False).wait_for(timeout=15000)  # checked first
            page.get_by_role("button", name="导入", exact=True).click()
            page.get_by_text("已导入 执法检查人员名录 12 行", exact=False).wait_for(timeout=15000)

            page.get_by_role("button", name="返回").click()
            page.get_by_text("双随机抽查").click()
            gone(page, "名录库导入")
            fill(page, "计划编号", "2026-冬季-药店")
            fill(page, "比例（如 0.10）或家数", "0.25", nth=3)  # pharmacies
            page.get_by_role("button", name="承诺计划（公布承诺值）").click()
            page.get_by_text("已承诺：请在公开随机数产生之前公布承诺值", exact=False).wait_for(timeout=15000)
            fill(page, "公开随机数（承诺之后产生，如某期彩票开奖号码，用逗号或换行分隔）", "福彩3D 2026-12-01 4 0 8")
            page.get_by_role("button", name="预览抽取结果").click()
            page.get_by_text("预览：抽中 3 家", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-draw-preview")
            page.get_by_role("button", name="发布并下达任务").click()
            page.get_by_text("已下达 3 项检查任务", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-draw-published")

            page.get_by_role("button", name="返回").click()
            page.get_by_text("检查任务", exact=True).click()
            gone(page, "名录库导入")
            page.get_by_text("计划 2026-冬季-药店：共 3 项，已下达 3", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-assignments")
            page.get_by_role("button", name="撤回任务").first.click()
            page.get_by_role("button", name="确认撤回").click()
            page.get_by_text("撤回检查任务须写明理由").wait_for(timeout=15000)
            fill(page, "撤回理由（必填，如检查组成员回避、机构已注销）", "检查组成员申请回避")
            gone(page, "撤回检查任务须写明理由")  # the app has the reason: it cleared the complaint
            page.get_by_role("button", name="确认撤回").click()
            page.get_by_text("的检查任务；检查组平板下次同步时移除", exact=False).wait_for(timeout=15000)
            page.get_by_text("共 3 项，已下达 2，已撤回 1", exact=False).wait_for(timeout=15000)
            page.get_by_text("由 zhuren 撤回：检查组成员申请回避", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-assignment-withdrawn")

            page.get_by_role("button", name="返回").click()
            page.get_by_text("覆盖情况").click()
            page.get_by_text("三年全覆盖进度", exact=False).wait_for(timeout=15000)
            screenshot(page, "supervisor-coverage")
    finally:
        stop(app)
