"""A whole pharmacy inspection in a real browser, as the inspectors do it with no signal: PIN, check-in with GPS,
every checklist item (two failed, with notes, amounts, photos and a responsible pharmacist), review with its hash,
three signatures, lock, and the 现场检查笔录 PDF rendered and read back. The second test is the refusal path.
Screenshots of every step go to the test artifacts directory."""

from __future__ import annotations

import hashlib
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from bureau.db import make_engine
from bureau.models import ReceivedRecord
from inspector_app import device, keyring, onsite, outbox
from inspector_app.evidence_store import EvidenceStore
from inspector_app.inspector_vm import team_assignments
from inspector_app.store import open_store
from tests.browser import (
    ARTIFACTS,
    FIRST_FRAME_PROBE,
    VIEWPORT,
    browser_context,
    button,
    check,
    choose,
    enable_semantics,
    fill,
    gone,
    reveal,
    screenshot,
    tap,
    until_taken,
    wait_shown,
)
from tests.support import start_app, stop
from tests.sync_support import bureau_holdings, issue_token
from tests.test_onsite_support import PIN, camera_jpeg

pytestmark = pytest.mark.browser

PHARMACY = "福州市鼓楼区东街口大药房"
FAILED = {"R-FEE-02": ("收银台发现代刷记录 12 笔，无对应购药", "3860.50"),
          "R-RX-01": ("处方药未凭处方销售，药师未审核签字", "420.00")}
NOT_APPLICABLE = {"R-MGT-03": "本店无此业务"}
PHARMACIST = "Y350102000017"


@pytest.fixture
def sqlite_only(bureau_db_url):
    if not bureau_db_url.startswith("sqlite"):
        pytest.skip("the browser walk runs once, on SQLite")


@pytest.fixture
def tablet(sqlite_only, running_bureau, tmp_path):
    """Both team members enrolled on one tablet, each with a PIN; the app serving it."""
    home = tmp_path / "tablet"
    engine = open_store(home)
    device.enroll(engine, running_bureau.url, issue_token(running_bureau.settings, "I0001"), pin=PIN["I0001"])
    first = keyring.unlock(engine, "I0001", PIN["I0001"])
    device.enroll(engine, running_bureau.url, issue_token(running_bureau.settings, "I0002"), pin=PIN["I0002"],
                  data_key=first.data_key)
    app, url = start_app(home)
    try:
        yield home, engine, first, url
    finally:
        stop(app)


class Browser:
    """Chromium with a fake camera, as a tablet would have (tests/browser.py launches it so), and (`gps`) a location
    fix."""

    def __init__(self, url: str, gps: bool):
        self.context = browser_context(VIEWPORT, accept_downloads=True)
        origin = url.rstrip("/")
        self.context.grant_permissions(["geolocation", "camera"] if gps else ["camera"], origin=origin)
        if gps:
            self.context.set_geolocation({"latitude": 26.0823, "longitude": 119.2965, "accuracy": 15})
        self.page = self.context.new_page()
        self.page.add_init_script(FIRST_FRAME_PROBE)
        self.page.goto(url)
        self.page.wait_for_function("window.__firstFrameAt !== null", timeout=30000)
        enable_semantics(self.page)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def browser(tablet, request):
    b = Browser(tablet[3], gps="refus" not in request.node.name)
    try:
        yield b.page
    finally:
        screenshot(b.page, f"last-{request.node.name}")  # where it stopped, when it fails
        b.close()


def enter_pin(page, pin: str, confirm: str) -> None:
    for digit in pin:
        button(page, digit).click()
    button(page, confirm).click()


def card(page, item_id: str, showing: str = ""):
    """An item's card; its texts are part of its accessible label (`showing`: one of them)."""
    return page.locator(f"flt-semantics[aria-label^='条目 {item_id}']" +
                        (f"[aria-label*='{showing}']" if showing else ""))


def pick_photo(page, scope, path: Path) -> None:
    target = reveal(page, button(scope, "选择照片"))
    with page.expect_file_chooser(timeout=15000) as chooser:
        target.click()
    chooser.value.set_files(str(path))


def draw_signature(page, seed: int) -> None:
    box = reveal(page, page.get_by_text("签名板", exact=True).locator("xpath=..")).bounding_box()
    for stroke in range(3):
        x, y = box["x"] + 60 + stroke * 170, box["y"] + 60
        page.mouse.move(x, y)
        page.mouse.down()
        for k in range(12):
            page.mouse.move(x + k * 9, y + ((k * 37 + seed * 11) % 110), steps=2)
        page.mouse.up()


def unlock_and_open(page) -> None:
    page.get_by_text("检查人员 I0001，请输入 PIN").wait_for(timeout=20000)
    screenshot(page, "flow-01-unlock")
    enter_pin(page, PIN["I0001"], "解锁")
    gone(page, "请输入 PIN")
    page.get_by_text(PHARMACY).first.click()
    gone(page, "我的检查任务")


def check_in(page, prefix: str, gps: bool = True) -> None:
    page.get_by_text("请两名检查人员出示执法证件", exact=False).wait_for(timeout=15000)
    # The names and 执法证号 come signed with the assignment from the registry: shown, not typed.
    expect(page.get_by_role("textbox", name="I0001 姓名")).to_have_count(0)
    for code, name, badge in (("I0001", "林建华", "闽榕医保执 0001"), ("I0002", "陈晓燕", "闽榕医保执 0002")):
        wait_shown(page, f"{name}（{code}）")
        wait_shown(page, f"执法证号 {badge}")
        check(page, f"{code} 已向被检查单位出示执法证件")
    fill(page, "在场人员姓名", "张丽")
    fill(page, "职务", "店长")
    fill(page, "联系电话", "0591-87654321")
    fill(page, "在场人员身份证号码", "11010519491231002X")
    # issue #15: the 法定代表人 apart from the person on site; the notices read aloud (the 记录人 stays I0002)
    fill(page, "法定代表人（主要负责人）姓名", "郑国强")
    fill(page, "法定代表人（主要负责人）身份证号码", "330106198503150016")
    check(page, "已告知检查依据")
    check(page, "已告知配合检查义务")
    choose(page, "不申请回避")
    tap(page, page, "获取定位")
    page.get_by_text("定位：纬度 26.0823000" if gps else "未获取定位：", exact=False).wait_for(timeout=30000)
    screenshot(page, f"{prefix}-02-checkin")
    tap(page, page, "完成登记，开始检查")
    gone(page, "请两名检查人员出示执法证件")


def answer_checklist(page, prefix: str, failed: dict[str, tuple[str, str]], photo: Path | None) -> None:
    """Every item: `failed` ones with note, amount and a photo (from `photo` through the file picker, or from the
    camera when None), the rest pass (R-MGT-03 is not applicable)."""
    import checklists

    template = checklists.template_for_kind("pharmacy")
    sections = template.items_by_section()
    answered = 0

    def answer(scope, label: str, follow_up: str = "") -> None:
        """Tap a result and see it taken: the counter moves on, or the field the result asks for appears (a failed or
        not-applicable item counts once described). Tapping the same result again changes nothing."""
        nonlocal answered
        answered += 1
        taken = (scope.get_by_role("textbox", name=follow_up) if follow_up else
                 page.get_by_text(f"已答 {answered} / {len(template.items)}", exact=False))
        until_taken(lambda: tap(page, scope, label), lambda: expect(taken).to_have_count(1, timeout=5000),
                    f"the answer {label} was not taken ({answered - 1} answered)")

    for number, (section, items) in enumerate(sections):
        page.get_by_text(section.title, exact=True).first.wait_for(timeout=15000)
        for item in items:
            scope = card(page, item.id)
            if item.id in failed:
                note, amount = failed[item.id]
                answer(scope, "不符合", "不符合情况说明（写入笔录的问题描述）")
                fill(scope, "不符合情况说明（写入笔录的问题描述）", note)
                fill(scope, "涉及金额（元）", amount)
                if item.id == "R-RX-01":
                    fill(scope, "责任人员代码（医保医师/药师，多个用逗号分隔）", PHARMACIST)
                if photo is not None:
                    pick_photo(page, scope, photo)
                else:
                    take_photo(page, scope, f"{prefix}-03-camera")
                card(page, item.id, "照片 1 张").wait_for(state="attached", timeout=20000)
                screenshot(page, f"{prefix}-03-failed-{item.id}")
            elif item.id in NOT_APPLICABLE:
                answer(scope, "不适用", "不适用理由")
                fill(scope, "不适用理由", NOT_APPLICABLE[item.id])
            else:
                answer(scope, "符合")
        done = sum(len(i) for _, i in sections[:number + 1])
        reveal(page, page.get_by_text(f"已答 {done} / {len(template.items)}", exact=False))
        if number < len(sections) - 1:
            tap(page, page, "下一组")
            expect(card(page, items[0].id)).to_have_count(0, timeout=20000)
    screenshot(page, f"{prefix}-04-checklist-done")


def take_photo(page, scope, shot: str) -> None:
    tap(page, scope, "拍照")
    gone(page, "已答")
    tap(page, page, "打开相机")
    page.get_by_text("对准取证对象后点击“拍照”").wait_for(timeout=30000)
    screenshot(page, shot)
    tap(page, page, "拍照")
    gone(page, "打开相机")


def sign(page, role_button: str, seed: int, pin: str | None = None, shot: str = "", leaving: str = "签名时核对") -> None:
    """From the screen showing `leaving` to the pad and back."""
    tap(page, page, role_button)
    gone(page, leaving)
    if pin:
        page.get_by_text("请本人输入 PIN", exact=False).wait_for(timeout=15000)
        enter_pin(page, pin, "确认身份")
        gone(page, "请本人输入 PIN")
    page.get_by_text("请在下方框内手写签名").wait_for(timeout=15000)
    draw_signature(page, seed)
    if shot:
        screenshot(page, shot)
    tap(page, page, "确认签名")
    gone(page, "请在下方框内手写签名")


def download_pdf(page, name: str) -> Path:
    target = reveal(page, button(page, "下载现场检查笔录（PDF）"))
    with page.expect_download(timeout=60000) as download:
        target.click()
    target = ARTIFACTS / f"{name}.pdf"
    target.parent.mkdir(parents=True, exist_ok=True)
    download.value.save_as(str(target))
    return target


def pdf_text_and_pages(pdf: Path, name: str) -> str:
    """The PDF's text, and its pages rendered to PNG next to it (to look at)."""
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(ARTIFACTS / name)], check=True)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def pharmacy_assignment(engine) -> str:
    return next(a.id for a in team_assignments(engine, "I0001") if a.institution_name == PHARMACY)


def queued(engine) -> list[outbox.OutboxRecord]:
    with Session(engine) as session:
        return list(session.exec(select(outbox.OutboxRecord)))


def test_whole_pharmacy_inspection(tablet, browser, running_bureau, tmp_path):
    home, engine, first, _url = tablet
    page = browser
    photo = tmp_path / "现场照片.jpg"
    photo.write_bytes(camera_jpeg(7))

    unlock_and_open(page)
    check_in(page, "flow")
    answer_checklist(page, "flow", FAILED, photo)

    tap(page, page, "询问与调取资料")  # the 询问 typed on the tablet, and a document taken
    gone(page, "已答")
    tap(page, page, "添加一问一答")
    fill(page, "问（第 1 问）", "三月的保健品由谁结算？")
    fill(page, "答（第 1 问）", "营业员周某按店长要求结算。")
    tap(page, page, "添加调取资料")
    fill(page, "资料名称（第 1 项）", "2024年3月销售小票")
    fill(page, "份数/页数（第 1 项）", "2本")
    choose(page, "原件（第 1 项）")
    screenshot(page, "flow-04-inquiry")
    tap(page, page, "返回检查表")
    gone(page, "逐问逐答记录询问内容")

    tap(page, page, "核对与签名")
    gone(page, "已答")
    page.get_by_text("内容摘要（SHA-256，签名时核对）").wait_for(timeout=15000)
    screenshot(page, "flow-05-review")
    expect(page.get_by_text("应予处理", exact=False)).to_have_count(0)  # no measure announced on site: 告知 comes later
    inspection = onsite.current_inspection(engine, pharmacy_assignment(engine))
    review = onsite.review(engine, first.data_key, inspection.id)
    page.get_by_text(review.short_hash, exact=True).first.wait_for(timeout=5000)  # what you see ...

    sign(page, "检查人员（一）签名", 1, shot="flow-06-sign-inspector-1")
    page.get_by_text("已签名：林建华").wait_for(timeout=15000)
    sign(page, "检查人员（二）签名", 2, pin=PIN["I0002"])
    page.get_by_text("已签名：陈晓燕").wait_for(timeout=15000)
    sign(page, "被检查单位在场人员签名", 3, shot="flow-07-sign-representative")
    reveal(page, page.get_by_text("签名已齐全，可以锁定记录"))
    screenshot(page, "flow-08-signed")
    tap(page, page, "签名完成，锁定记录")
    page.get_by_text("检查已完成，记录已锁定").wait_for(timeout=30000)
    gone(page, "签名时核对")
    screenshot(page, "flow-09-locked")

    pdf = download_pdf(page, "flow-笔录")
    text = pdf_text_and_pages(pdf, "flow-笔录")
    screenshot(page, "flow-10-pdf-downloaded")

    # ... is what is signed, sealed and printed
    [row] = queued(engine)
    record, record_hash = onsite.locked_record(engine, EvidenceStore(home), first.data_key, inspection.id)
    assert row.record_hash == record_hash and record["review_hash"] == review.hash
    assert [s["role"] for s in record["signatures"]] == ["inspector_1", "inspector_2", "representative"]
    assert {f["item_id"] for f in record["findings"]} == set(FAILED)
    assert record["findings"][1]["staff_codes"] == [PHARMACIST]
    assert record["checkin"]["gps"]["lat"] == "26.0823000"
    assert record["checkin"]["recorder"] == "I0002" and record["checkin"]["legal_representative"]["name"] == "郑国强"
    assert [n["given"] for n in record["checkin"]["notices"]] == [True, True, True]
    assert record["inquiries"] == [{"question": "三月的保健品由谁结算？", "answer": "营业员周某按店长要求结算。"}]
    assert record["documents_taken"] == [{"name": "2024年3月销售小票", "quantity": "2本", "form": "原件"}]
    assert len(record["blobs"]) == 1  # the same picture for both items: one evidence blob
    assert record["blobs"][0]["sha256"] == record["photos"][0]["sha256"]
    assert hashlib.sha256(EvidenceStore(home).stored_image(first.data_key, record["photos"][0]["sha256"])
                          ).hexdigest() == record["photos"][0]["sha256"]
    flat = "".join(text.split())
    for expected in ("医疗保障基金现场检查笔录", PHARMACY, "林建华", "闽榕医保执0001", "陈晓燕", "张丽", "3,860.50",
                     "420.00", PHARMACIST, record_hash[:32], "纬度26.0823000", "记录人：陈晓燕", "郑国强",
                     "答：营业员周某按店长要求结算。", "2024年3月销售小票", "以上笔录我已看过，与事实相符。"):
        assert expected in flat, expected
    assert (ARTIFACTS / "flow-笔录-1.png").exists()

    # The bureau accepts it: both inspectors' keys signed, the photo arrives whole.
    second = keyring.unlock(engine, "I0002", PIN["I0002"])
    store = EvidenceStore(home)
    with keyring.session([first, second]):
        report = device.sync(engine, timeout=60, load_blob=lambda sha: store.stored_image(first.data_key, sha))
    assert report.error is None and report.records_sent == 1 and report.blobs_sent == 1, report
    held = bureau_holdings(running_bureau.settings)
    assert held.records == [(record["record_id"], 1)] and set(held.blobs) == {record["blobs"][0]["sha256"]}
    bureau = make_engine(running_bureau.settings.database_url)
    with Session(bureau) as session:
        received = session.exec(select(ReceivedRecord)).one()
    bureau.dispose()
    assert sorted(received.signers) == ["I0001", "I0002"] and not received.score_mismatch



def test_representative_refuses_to_sign(tablet, browser, tmp_path):
    """拒签: no GPS fix inside (recorded as such), a camera photo as evidence, both inspectors sign, the
    representative refuses; the reason, a witness's signature and a photo of the scene complete the record."""
    home, engine, first, _url = tablet
    page = browser
    scene = tmp_path / "拒签现场.jpg"
    scene.write_bytes(camera_jpeg(11))

    unlock_and_open(page)
    check_in(page, "refusal", gps=False)
    answer_checklist(page, "refusal", {"R-ID-02": ("收银台抽屉内留存参保人医保卡 6 张", "0")}, None)
    tap(page, page, "核对与签名")
    gone(page, "已答")
    page.get_by_text("内容摘要（SHA-256，签名时核对）").wait_for(timeout=15000)
    sign(page, "检查人员（一）签名", 4)
    page.get_by_text("已签名：林建华").wait_for(timeout=15000)
    sign(page, "检查人员（二）签名", 5, pin=PIN["I0002"])
    page.get_by_text("已签名：陈晓燕").wait_for(timeout=15000)

    tap(page, page, "在场人员拒签")
    gone(page, "签名时核对")
    fill(page, "拒签理由", "认为检查结果不实，拒绝签字")
    fill(page, "见证人姓名", "王五（社区网格员）")
    fill(page, "见证人身份证号码", "350102198001010021")  # a wrong check digit is refused in words
    tap(page, page, "记录拒签")
    wait_shown(page, "见证人身份证号码校验位不符，请核对", timeout=15000)
    fill(page, "见证人身份证号码", "350102198001010038")
    fill(page, "录音录像情况（如有）", "执法记录仪全程录像，文件 DJI_0012.MP4")
    tap(page, page, "记录拒签")
    page.get_by_text("已记录拒签").wait_for(timeout=15000)
    pick_photo(page, page, scene)
    page.get_by_text("拒签现场照片 1 张").wait_for(timeout=20000)
    sign(page, "见证人签名", 6, shot="refusal-05-witness", leaving="被检查单位在场人员拒绝签名时")
    page.get_by_text("见证人已签名").wait_for(timeout=15000)
    screenshot(page, "refusal-06-recorded")
    tap(page, page, "返回核对与签名")
    gone(page, "被检查单位在场人员拒绝签名时")
    reveal(page, page.get_by_text("签名已齐全，可以锁定记录"))
    screenshot(page, "refusal-07-review")
    tap(page, page, "签名完成，锁定记录")
    page.get_by_text("在场人员拒签，见证人 王五（社区网格员）", exact=False).wait_for(timeout=30000)
    gone(page, "签名时核对")
    screenshot(page, "refusal-08-locked")

    pdf = download_pdf(page, "refusal-笔录")
    flat = "".join(pdf_text_and_pages(pdf, "refusal-笔录").split())
    inspection = onsite.current_inspection(engine, pharmacy_assignment(engine))
    record, record_hash = onsite.locked_record(engine, EvidenceStore(home), first.data_key, inspection.id)
    assert record["checkin"]["gps"] is None and record["checkin"]["gps_note"]
    assert [s["role"] for s in record["signatures"]] == ["inspector_1", "inspector_2"]
    refusal = record["refusal"]
    assert refusal["reason"] == "认为检查结果不实，拒绝签字" and refusal["witness_signature"]["role"] == "witness"
    assert len(refusal["photos"]) == 1 and record["photos"][0]["source"] == "camera"
    assert {b["sha256"] for b in record["blobs"]} == {refusal["photos"][0]["sha256"], record["photos"][0]["sha256"]}
    for expected in ("拒绝签名。理由：认为检查结果不实，拒绝签字", "见证人：王五（社区网格员）", "未获取定位",
                     "DJI_0012.MP4", record_hash[:32]):
        assert expected in flat, expected


def test_pin_after_headless_enrollment_and_a_second_team_member(sqlite_only, running_bureau, tmp_path):
    """A tablet enrolled from the command line asks its inspector for a PIN first; then a second team member is
    added on the same tablet with their own token and PIN, each unlocks with their own, and changes it."""
    home = tmp_path / "tablet"
    engine = open_store(home)
    device.enroll(engine, running_bureau.url, issue_token(running_bureau.settings, "I0001"))
    token = issue_token(running_bureau.settings, "I0002")
    app, url = start_app(home, running_bureau.url)
    try:
        with closing(Browser(url, gps=False)) as browser:
            page = browser.page
            page.get_by_text("请设置 PIN", exact=False).wait_for(timeout=20000)
            screenshot(page, "pin-01-set")
            enter_pin(page, "135790", "确定")
            page.get_by_text("请再输入一次 PIN").wait_for(timeout=15000)
            enter_pin(page, "135790", "确定")
            page.get_by_text("我的检查任务 · I0001").wait_for(timeout=20000)
            gone(page, "请再输入一次 PIN")
            button(page, "添加检查组成员").click()
            gone(page, "我的检查任务")
            fill(page, "注册码", token)
            fill(page, "设置 PIN（至少 6 位数字）", "802468")
            fill(page, "再次输入 PIN", "802468")
            screenshot(page, "pin-02-add-member")
            tap(page, page, "注册")
            page.get_by_text("我的检查任务 · I0001").wait_for(timeout=20000)
            gone(page, "再次输入 PIN")
            button(page, "锁定").click()
            gone(page, "我的检查任务")
            button(page, "I0002").click()
            page.get_by_text("检查人员 I0002，请输入 PIN").wait_for(timeout=15000)
            enter_pin(page, "135790", "解锁")
            page.get_by_text("PIN 不正确，还可尝试 4 次").wait_for(timeout=15000)
            screenshot(page, "pin-03-wrong")
            enter_pin(page, "802468", "解锁")
            page.get_by_text("我的检查任务 · I0002").wait_for(timeout=20000)

            # I0002 changes their PIN: the old one, then the new one twice.
            button(page, "修改 PIN").click()
            page.get_by_text("请输入当前 PIN").wait_for(timeout=15000)
            enter_pin(page, "802468", "确定")
            page.get_by_text("请输入新 PIN", exact=False).wait_for(timeout=15000)
            enter_pin(page, "913572", "确定")
            page.get_by_text("请再输入一次新 PIN").wait_for(timeout=15000)
            enter_pin(page, "913572", "确定")
            page.get_by_text("PIN 已修改，下次解锁请使用新 PIN").wait_for(timeout=20000)
            screenshot(page, "pin-04-changed")
    finally:
        stop(app)
    assert keyring.has_pin(engine, "I0001") and keyring.has_pin(engine, "I0002")
    assert keyring.unlock(engine, "I0002", "913572").data_key == keyring.unlock(engine, "I0001", "135790").data_key
    with pytest.raises(keyring.PinError):
        keyring.unlock(engine, "I0002", "802468")
