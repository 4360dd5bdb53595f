"""The app in a real browser: unlock with the PIN, answer, reload (unlock again), lock, sync — and the bureau has
it; and the same with no bureau at all."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pytest
from sqlmodel import Session, select

from bureau.blobs import read_blob
from bureau.db import make_engine
from bureau.models import ReceivedRecord, StoredBlob
from checklists import template_for_kind
from inspector_app import device, keyring, onsite
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import open_store
from tests.browser import chromium_page, open_app, screenshot
from tests.support import start_app, stop
from tests.test_flow_browser import button, card, enter_pin, gone, tap
from tests.test_onsite import CHECKIN
from tests.test_onsite_support import PIN, camera_jpeg, scribble

pytestmark = pytest.mark.browser
PHARMACY = "福州市鼓楼区东街口大药房"
RIVE_RUNTIME = "https://cdn.jsdelivr.net/npm/@rive-app/flutter-native-wasm@"


@pytest.fixture
def sqlite_only(bureau_db_url):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite; the bureau API is covered on PostgreSQL elsewhere")


def checked_in_tablet(bureau, home):
    """I0001 enrolled with a PIN, assignments pulled, the pharmacy inspection checked in (headless)."""
    engine = open_store(home)
    token = bureau.cli("bureau", "enroll-token", "--inspector", "I0001").stdout.strip().splitlines()[-1]
    device.enroll(engine, bureau.url, token, pin=PIN["I0001"])
    unlocked = keyring.unlock(engine, "I0001", PIN["I0001"])
    device.pull_assignments(engine, unlocked.identity, device.client_for(unlocked))
    assignment = next(a for a in device.assignments(engine, "I0001") if a.institution_name == PHARMACY)
    inspection = onsite.start_inspection(engine, assignment.id, "I0001")
    onsite.save_checkin(engine, unlocked.data_key, inspection.id, {
        "officers": [{"inspector_code": code, "name": name, "badge_no": f"闽榕医保执 {code[-4:]}", "id_shown": True}
                     for code, name in (("I0001", "林建华"), ("I0002", "陈晓燕"))],
        "representative": {"name": "张丽", "role": "店长", "phone": "0591-87654321", "id_number": "11010519491231002X"},
        "place": "福州市鼓楼区东街 88 号", "gps": None, "gps_note": "室内无信号",
        "legal_representative": CHECKIN["legal_representative"], "notices": CHECKIN["notices"]})
    return engine, unlocked, inspection


def after_reload_showing(page, text: str) -> None:
    """Flet either reconnects the tab to its session (still unlocked) or starts a new one (the PIN is asked for
    again, on the same screen); either way the answer is there. Semantics may need switching on again."""
    for _attempt in range(60):
        if page.get_by_text(text).count():
            return
        if page.get_by_text("检查人员 I0001，请输入 PIN").count():
            unlock(page)  # waits until the PIN is checked: typing it again meanwhile finds the pad disabled
        elif page.locator("flt-semantics-placeholder").count():
            page.evaluate("document.querySelector('flt-semantics-placeholder').click()")
        page.wait_for_timeout(500)
    raise AssertionError(f"{text} never appeared")


def unlock(page) -> None:
    page.get_by_text("检查人员 I0001，请输入 PIN").wait_for(timeout=20000)
    enter_pin(page, PIN["I0001"], "解锁")
    gone(page, "请输入 PIN")


def test_answer_reload_lock_sync(sqlite_only, running_bureau, tmp_path):
    engine, unlocked, inspection = checked_in_tablet(running_bureau, tmp_path / "tablet")
    app, url = start_app(tmp_path / "tablet")
    try:
        with chromium_page() as page:
            first_frame_ms = open_app(page, url)
            print(f"\nfirst frame after {first_frame_ms:.0f} ms")
            unlock(page)
            page.get_by_text(PHARMACY).first.click()
            total = len(template_for_kind("pharmacy").items)
            page.get_by_text(f"已答 0 / {total}").wait_for(timeout=15000)
            gone(page, "我的检查任务")
            tap(page, card(page, "R-ID-01"), "符合")
            page.get_by_text(f"已答 1 / {total}").wait_for(timeout=15000)
            screenshot(page, "skeleton-answered")

            page.reload()  # the tab reloads: the answer is in the device store
            page.wait_for_function("window.__firstFrameAt !== null", timeout=30000)
            after_reload_showing(page, f"已答 1 / {total}")

            # The rest is answered and signed through the same store the app reads.
            answered = device.answers_of(engine, inspection.id)
            assert list(answered) == ["R-ID-01"] and answered["R-ID-01"].result == "pass"
            for item in template_for_kind("pharmacy").items[1:]:
                onsite.save_answer(engine, unlocked.data_key, inspection.id, item.id, "pass")
            photo = onsite.add_photo(engine, EvidenceStore(tmp_path / "tablet"), unlocked.data_key, inspection.id,
                                     "R-ID-01", camera_jpeg(3), source="picker", caption_item="营业执照公示")
            for number, (role, name) in enumerate((("inspector_1", "林建华"), ("inspector_2", "陈晓燕"),
                                                   ("representative", "张丽"))):
                for stroke in scribble(number):
                    onsite.add_stroke(engine, unlocked.data_key, inspection.id, role,
                                      datetime.now().astimezone().isoformat(), stroke)
                onsite.confirm_signature(engine, unlocked.data_key, inspection.id, role, name, (640, 240))
            button(page, "返回").click()
            page.get_by_text(f"已答 {total}/{total}").wait_for(timeout=15000)
            gone(page, f"已答 1 / {total}")
            page.get_by_text(PHARMACY).first.click()
            tap(page, page, "核对与签名")
            gone(page, "已答")
            tap(page, page, "签名完成，锁定记录")
            page.get_by_text("检查已完成，记录已锁定").wait_for(timeout=15000)
            gone(page, "签名时核对")
            button(page, "返回").click()
            gone(page, "检查已完成")
            button(page, "同步").click()
            page.get_by_text("已同步 1 份检查记录、1 张照片").wait_for(timeout=20000)
            screenshot(page, "skeleton-synced")
    finally:
        stop(app)

    bureau_engine = make_engine(running_bureau.settings.database_url)
    with Session(bureau_engine) as session:
        received = session.exec(select(ReceivedRecord)).all()
        stored = session.get(StoredBlob, photo.sha256)
    bureau_engine.dispose()
    assert [r.record_id for r in received] == [inspection.id]
    assert len(received[0].record["answers"]) == len(template_for_kind("pharmacy").items)
    assert received[0].signers == ["I0001"]
    assert [p["sha256"] for p in received[0].record["photos"]] == [photo.sha256]
    assert stored is not None
    assert hashlib.sha256(read_blob(running_bureau.settings, photo.sha256)).hexdigest() == photo.sha256


def test_app_works_offline_from_the_device_store(sqlite_only, running_bureau, tmp_path):
    engine, _unlocked, inspection = checked_in_tablet(running_bureau, tmp_path / "tablet")
    stop(running_bureau.process)  # the bureau goes away: the pharmacy basement
    app, url = start_app(tmp_path / "tablet")
    try:
        with chromium_page() as page:
            requested: list[tuple[str, int]] = []
            page.on("requestfinished", lambda r: requested.append((r.url, r.response().status if r.response() else 0)))
            page.on("requestfailed", lambda r: requested.append((r.url, -1)))
            open_app(page, url)
            unlock(page)
            page.get_by_text("离线模式：无法连接局端，显示本机已保存的任务").wait_for(timeout=20000)
            # Everything the page needs came from the app itself (no CDN), the fonts included, both of them. The one
            # exception is flet-web 1.0.5's client asking jsDelivr for the Rive animation runtime (hard-coded in its
            # main.dart.js, unused here): with no network it fails, and the app works regardless.
            foreign = [u for u, _status in requested if not u.startswith((url, f"blob:{url}"))]
            assert requested and all(u.startswith(RIVE_RUNTIME) for u in foreign), foreign
            fonts = {u.rsplit("/", 1)[-1]: status for u, status in requested if "/fonts/NotoSansSC" in u}
            assert fonts == {"NotoSansSC-Subset.otf": 200, "NotoSansSC-Subset-Ext.otf": 200}, fonts
            page.get_by_text(PHARMACY).first.click()
            gone(page, "离线模式")
            tap(page, card(page, "R-ID-01"), "不符合")
            card(page, "R-ID-01", "请填写不符合情况说明").wait_for(timeout=15000)
            time.sleep(0.5)
            screenshot(page, "skeleton-offline")
    finally:
        stop(app)
    assert [a.result for a in device.answers_of(engine, inspection.id).values()] == ["fail"]
