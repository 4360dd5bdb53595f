"""Every screen of both apps at a landscape (1280×800) and a portrait (800×1280) tablet size, saved to
test-artifacts/screens/<size>/<name>.png for people to look at; each is asserted to be the screen it claims (its
heading). The data is made the way the app makes it (`tests.test_review_support`): a record locked and synced, a
clinic inspection in progress with a failed item and its photo, a tablet whose inspector has no PIN yet."""

from __future__ import annotations

import json

import pytest

import checklists
from inspector_app import device, onsite
from inspector_app.store import open_store
from tests.browser import ARTIFACTS, chromium_page, fill, gone, open_app, settle, tap, wait_shown
from tests.support import STAFF_PASSWORD, start_app, stop
from tests.sync_support import issue_token
from tests.test_onsite_support import PIN
from tests.test_review_flow import CLINIC, PHARMACY, pharmacy_findings
from tests.test_review_support import CHECKIN, PHARMACIST, _fill, add_review_staff, inspect, pin_tablet
from ui_kit.common import FONTS
from yibao.app_shell import ASSETS_DIR, FONT_MANIFEST, flet_font_manifest, font_manifest

pytestmark = pytest.mark.browser
SIZES = {"1280x800": (1280, 800), "800x1280": (800, 1280)}


@pytest.fixture
def world(bureau_db_url, running_bureau, tmp_path):
    """The bureau with staff; a tablet (I0001, I0002) holding a locked, synced pharmacy record and a clinic
    inspection checked in and answered, with a failed item and its photo; a second tablet enrolled headless."""
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite")
    add_review_staff(running_bureau.settings)
    tablet = pin_tablet(running_bureau, tmp_path / "tablet")
    _first, second, failed = pharmacy_findings()
    record_id = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    clinic = tablet.assignment(CLINIC)
    template = checklists.template_for_kind(clinic.institution_kind)
    inspection = onsite.start_inspection(tablet.engine, clinic.id, "I0001")
    onsite.save_checkin(tablet.engine, tablet.first.data_key, inspection.id,
                        {**CHECKIN, "place": clinic.institution_address})
    failed_item = template.items[0]
    _fill(tablet, inspection.id, template, {failed_item.id: ("门诊日志与结算记录不符，抽查 20 份缺 3 份", "1280.00")},
          {failed_item.id: "D350102000001"})
    headless = open_store(tmp_path / "new-tablet")
    device.enroll(headless, running_bureau.url, issue_token(running_bureau.settings, "I0003"))
    app, url = start_app(tablet.home, running_bureau.url)
    new_app, new_url = start_app(tmp_path / "new-tablet", running_bureau.url)
    try:
        yield {"url": url, "new_url": new_url, "clinic": clinic.id, "item": failed_item.id,
               "pharmacy": tablet.assignment(PHARMACY).id, "record_id": record_id}
    finally:
        stop(app)
        stop(new_app)


def save(page, size: str, name: str, heading: str) -> None:
    """The screen showing `heading` (it proves which screen this is), saved once it has settled."""
    wait_shown(page, heading, 30000)
    settle(page)
    path = ARTIFACTS / "screens" / size / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))


def visit(page, route: str) -> None:
    """Go to `route` in the same session (the browser's history, as its back button does): the keys unlocked in this
    session stay unlocked, and the screen is built as the app would build it."""
    page.evaluate("route => { history.pushState(null, '', route);"
                  " window.dispatchEvent(new PopStateEvent('popstate', {state: null})); }", route)


def enter_pin(page, pin: str, confirm: str) -> None:
    for digit in pin:
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_role("button", name=confirm, exact=True).click()


def sign_in(page, username: str) -> None:
    visit(page, "/staff/login")
    gone(page, "我的检查任务")
    fill(page, "账号", username)
    fill(page, "密码", STAFF_PASSWORD)
    tap(page, page, "登录")


def test_the_web_engine_is_given_the_bundled_fonts():
    """The served font manifest is Flet's own plus the bundled fonts (regenerate it with `font_manifest` when Flet
    changes its own)."""
    assert json.loads(FONT_MANIFEST.read_text(encoding="utf-8")) == font_manifest(flet_font_manifest())
    for family, path in FONTS.items():
        [entry] = [e for e in font_manifest([]) if e["family"] == family]
        assert (FONT_MANIFEST.parent / entry["fonts"][0]["asset"]).resolve() == (ASSETS_DIR / path).resolve()


@pytest.mark.parametrize("size", SIZES)
def test_every_screen_at_tablet_sizes(world, size):
    viewport = SIZES[size]
    clinic, item = world["clinic"], world["item"]
    with chromium_page(viewport=viewport) as page:
        first_frame = open_app(page, world["new_url"])
        fonts = page.evaluate("performance.getEntriesByType('resource').filter(e => e.name.includes('/fonts/NotoSansSC'))"
                              ".map(e => [e.name, e.responseEnd])")
        assert len(fonts) == len(FONTS) and all(end <= first_frame for _name, end in fonts), (first_frame, fonts)
        save(page, size, "01-pin-set", "请设置 PIN")

    with chromium_page(viewport=viewport) as page:
        open_app(page, world["url"])
        save(page, size, "02-pin-unlock", "检查人员 I0001，请输入 PIN")
        enter_pin(page, PIN["I0001"], "解锁")
        save(page, size, "03-home", "我的检查任务 · I0001")
        visit(page, f"/inspection/{clinic}/checkin")
        save(page, size, "04-checkin", "到场登记 · ")
        wait_shown(page, "林建华（I0001）")  # the registry's names, not typed
        visit(page, f"/inspection/{clinic}")
        save(page, size, "05-checklist-item", "已答 ")
        visit(page, f"/inspection/{clinic}/camera/{item}")
        save(page, size, "06-photos-camera", f"拍照取证 · {item}")
        visit(page, f"/inspection/{clinic}/inquiry")
        save(page, size, "06-inquiry", "询问与调取资料 · ")
        visit(page, f"/inspection/{clinic}/review")
        save(page, size, "07-review", "内容摘要（SHA-256，签名时核对）")
        page.mouse.move(viewport[0] // 2, viewport[1] // 2)
        page.mouse.wheel(0, 500)
        save(page, size, "08-findings", "发现的问题")
        visit(page, f"/inspection/{clinic}/sign/representative")
        save(page, size, "09-signature", "请在下方框内手写签名")
        visit(page, f"/inspection/{clinic}/refusal")
        save(page, size, "10-refusal", "被检查单位在场人员拒绝签名时")
        visit(page, f"/inspection/{world['pharmacy']}")
        save(page, size, "11-record-笔录", "检查已完成，记录已锁定")

        sign_in(page, "zhuren")
        save(page, size, "12-staff-supervisor-menu", "局端工作台")
        for name, route, heading in (("registry", "/supervisor/registry", "名录库导入"),
                                     ("draw", "/supervisor/draw", "双随机抽查"),
                                     ("assignments", "/supervisor/assignments", "检查任务"),
                                     ("coverage", "/supervisor/coverage", "覆盖情况"),
                                     ("tokens", "/supervisor/tokens", "设备注册码"),
                                     ("dashboard", "/dashboard", "年度概览"),
                                     ("ledger", "/review/ledger", "台账与回头看")):
            visit(page, route)
            save(page, size, f"13-supervisor-{name}", heading)

    with chromium_page(viewport=viewport) as page:
        open_app(page, world["url"])
        wait_shown(page, "请输入 PIN")
        visit(page, "/staff/login")
        save(page, size, "14-staff-sign-in", "账号")
        sign_in(page, "shenhe")
        save(page, size, "15-reviewer-queue", "审核队列")
        visit(page, f"/review/case/{world['record_id']}")
        save(page, size, "16-reviewer-case", "记录内容与其哈希一致")
