"""The view-models behind the on-site screens, without a browser: the session's PINs, check-in, an item's life,
signing with a second inspector's PIN, the locked record and its correction."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from inspector_app import device, keyring, onsite
from inspector_app.inspector_vm import (
    AppState,
    CheckInViewModel,
    HomeViewModel,
    InspectionViewModel,
    OfficerForm,
    RecordViewModel,
    ReviewViewModel,
    SignatureViewModel,
)
from tests.test_onsite import CHECKIN, TEMPLATE
from tests.test_onsite_support import (
    ASSIGNMENT_ID,
    PIN,
    add_assignment,
    camera_jpeg,
    make_tablet,
    scribble,
)


@pytest.fixture
def state(tmp_path):
    tablet = make_tablet(tmp_path / "tablet")
    tablet.engine.dispose()
    return AppState.open(tablet.home)


def fill_legal_elements(checkin: CheckInViewModel) -> None:
    """The 法定代表人 and the notices given and answered, as on the check-in screen (issue #15)."""
    checkin.legal = dict(CHECKIN["legal_representative"])
    for notice in CHECKIN["notices"]:
        checkin.notices[notice["id"]].update({k: v for k, v in notice.items() if k != "id"})


def test_the_session_unlocks_with_a_pin_and_forgets_on_lock(state):
    assert state.identity.inspector_code == "I0001" and state.active is None and not state.needs_pin
    assert state.inspectors() == ["I0001", "I0002"]
    assert "还可尝试" in state.unlock("I0001", "000000")
    assert state.unlock("I0002", PIN["I0002"]) == ""
    assert state.identity.inspector_code == "I0002"  # the one who unlocked uses the app
    assert state.unlock_signer("I0001", PIN["I0001"]) == "" and state.identity.inspector_code == "I0002"
    assert state.enroll("http://127.0.0.1:9", "token", "147258", "147259") == "两次输入的 PIN 不一致"
    assert state.enroll("http://127.0.0.1:9", "token", "864209", "864209") == "无法连接局端，请检查网络或地址"
    state.lock()
    assert state.active is None
    with pytest.raises(device.DeviceError, match="PIN"):
        _ = state.data_key  # reading it without an unlocked inspector raises


def test_home_shows_the_stored_assignments_when_the_bureau_is_away(state):
    state.unlock("I0001", PIN["I0001"])
    home = HomeViewModel(state)
    home.refresh()
    assert home.offline and "离线模式" in home.message
    [card] = home.cards
    assert card.assignment_id == ASSIGNMENT_ID and card.status_label == "未开始" and card.total == len(TEMPLATE.items)


def test_checkin_names_the_team_from_the_registry_own_inspector_first(state):
    """The names and 执法证号 come signed with the assignment: the tablet's inspector is listed first, and what the
    screen might send in their place is not what is stored."""
    state.unlock("I0002", PIN["I0002"])
    checkin = CheckInViewModel(state, ASSIGNMENT_ID)
    assert [(o.inspector_code, o.name, o.badge_no, o.from_registry) for o in checkin.officers] == [
        ("I0002", "陈晓燕", "闽榕医保执 0002", True), ("I0001", "林建华", "闽榕医保执 0001", True)]
    checkin.officers[0].name, checkin.officers[0].badge_no = "张三", "伪造 0001"
    for officer in checkin.officers:
        officer.id_shown = True
    checkin.representative, checkin.gps = {**CHECKIN["representative"], "id_number": ""}, dict(CHECKIN["gps"])
    fill_legal_elements(checkin)
    assert checkin.save() == ["在场人员请填写身份证号码"]
    checkin.representative["id_number"] = "11010519491231002x"  # typed with a small x: kept with a capital X
    assert checkin.save() == []
    stored = InspectionViewModel(state, ASSIGNMENT_ID).facts.checkin["officers"]
    assert [(o["inspector_code"], o["name"], o["badge_no"]) for o in stored] == [
        ("I0002", "陈晓燕", "闽榕医保执 0002"), ("I0001", "林建华", "闽榕医保执 0001")]
    state.lock()
    state.unlock("I0001", PIN["I0001"])
    assert state.identity.inspector_code == "I0001"
    again = CheckInViewModel(state, ASSIGNMENT_ID)  # a saved check-in keeps its order (inspector_1 is its first)
    assert [o.inspector_code for o in again.officers] == ["I0002", "I0001"] and again.officers[0].name == "陈晓燕"
    assert again.representative["id_number"] == "11010519491231002X"


def test_checkin_of_an_assignment_without_members_is_typed_remembered_and_records_no_fix_honestly(state):
    """An assignment a tablet stored before assignments named their members still loads: the names are typed."""
    add_assignment(state.engine, "A-OLD-0001", members=False, seq=2)
    state.unlock("I0001", PIN["I0001"])
    first = CheckInViewModel(state, "A-OLD-0001")
    assert [(o.inspector_code, o.name, o.from_registry) for o in first.officers] == [("I0001", "", False),
                                                                                     ("I0002", "", False)]
    assert first.place.startswith("福州市")
    for officer, source in zip(first.officers, CHECKIN["officers"]):
        officer.name, officer.badge_no = source["name"], source["badge_no"]
    first.representative = dict(CHECKIN["representative"])
    fill_legal_elements(first)
    assert any("出示执法证件" in p for p in first.save())
    for officer in first.officers:
        officer.id_shown = True
    assert first.save() == ["请获取定位，或记录未能定位的原因"]
    first.no_position("定位超时")
    assert first.save() == []
    first.set_position(26.08230001, 119.2965, 14.6)
    assert first.gps == {"lat": "26.0823000", "lon": "119.2965000", "accuracy_m": "15"} and first.save() == []
    again = CheckInViewModel(state, "A-OLD-0001")
    assert again.gps == first.gps and again.officers[0].name == "林建华" and again.officers[1].id_shown
    add_assignment(state.engine, "A-OLD-0002", members=False, seq=3)
    remembered = CheckInViewModel(state, "A-OLD-0002")  # the last check-in's names, to confirm, not retype
    assert [o.name for o in remembered.officers] == ["林建华", "陈晓燕"] and not remembered.officers[0].id_shown


def answer_everything(vm: InspectionViewModel) -> None:
    for number, item in enumerate(TEMPLATE.items):
        if item.id == "R-FEE-02":
            assert vm.answer(item.id, "fail", "代刷 12 笔", "abc").startswith("金额")
            assert vm.answer(item.id, "fail", "代刷 12 笔", "3,860.5") == ""
            assert vm.row(item.id).problems == ["此项须拍照取证"]
            assert vm.add_photo(item.id, b"not a photo", "picker").startswith("不是可用的照片")
            assert vm.add_photo(item.id, camera_jpeg(number), "picker") == ""
            assert vm.set_staff_codes(item.id, "Y3501") != ""
            assert vm.set_staff_codes(item.id, "Y350102000017") == ""
            assert vm.row(item.id).problems == [] and vm.row(item.id).staff_codes == ["Y350102000017"]
        else:
            assert vm.answer(item.id, "pass") == ""


def test_an_inspection_from_checklist_to_locked_record_and_correction(state):
    state.unlock("I0001", PIN["I0001"])
    checkin = CheckInViewModel(state, ASSIGNMENT_ID)
    checkin.officers = [OfficerForm(**source) for source in CHECKIN["officers"]]
    checkin.representative, checkin.gps = dict(CHECKIN["representative"]), dict(CHECKIN["gps"])
    fill_legal_elements(checkin)
    assert checkin.save() == []
    vm = InspectionViewModel(state, ASSIGNMENT_ID)
    assert vm.checked_in and vm.progress().answered == 0
    answer_everything(vm)
    assert vm.progress().answered == len(TEMPLATE.items)
    assert sum(Decimal(f["amount_yuan"] or "0") for f in vm.findings()) == Decimal("3860.50")

    review = ReviewViewModel(state, ASSIGNMENT_ID)
    assert review.signing_status() == [(r, "未签名") for r in onsite.SIGNING_ROLES]
    assert not review.lock() and "尚未签名" in review.message
    for number, role in enumerate(onsite.SIGNING_ROLES):
        pad = SignatureViewModel(state, ASSIGNMENT_ID, role)
        if role == "inspector_2":
            assert pad.needs_pin and pad.code == "I0002" and not pad.confirm("陈晓燕")
            assert "还可尝试" in pad.unlock("111222")
            assert pad.unlock(PIN["I0002"]) == "" and not pad.needs_pin
        assert pad.name == {"inspector_1": "林建华", "inspector_2": "陈晓燕", "representative": "张丽"}[role]
        assert not pad.confirm(pad.name) and "签名为空" in pad.message
        for stroke in scribble(number):
            assert pad.add_stroke(datetime.now().astimezone(), stroke) == ""
        assert pad.confirm(pad.name)
    assert InspectionViewModel(state, ASSIGNMENT_ID).answer("R-ID-01", "na", "改") != ""  # frozen once signed
    review = ReviewViewModel(state, ASSIGNMENT_ID)
    assert review.remaining() == [] and review.lock()

    record = RecordViewModel(state, ASSIGNMENT_ID)
    assert record.outbox_state == "queued" and record.status_text.startswith("已签名锁定")
    assert {s["role"] for s in record.record["signatures"]} == set(onsite.SIGNING_ROLES)
    assert record.pdf().startswith(b"%PDF") and record.pdf_name().endswith(".pdf")
    with keyring.session(state.unlocked.values()):
        assert state.load_blob(record.record["blobs"][0]["sha256"])
    assert record.start_correction("") == "请填写更正原因"
    assert record.start_correction("金额应为 3,680.50 元") == ""
    corrected = InspectionViewModel(state, ASSIGNMENT_ID)
    assert corrected.inspection.version == 2 and not corrected.locked and not corrected.signed
    assert corrected.answer("R-FEE-02", "fail", "代刷 12 笔", "3680.50") == ""
    home = HomeViewModel(state)
    home.refresh()
    assert home.cards[0].status_label == "检查中（更正第 2 版）"


def test_the_inspector_changes_their_pin_and_nothing_else_is_touched(state):
    assert state.unlock("I0001", PIN["I0001"]) == ""
    inspection = onsite.start_inspection(state.engine, ASSIGNMENT_ID, "I0001")
    photo = onsite.add_photo(state.engine, state.evidence, state.data_key, inspection.id, TEMPLATE.items[0].id,
                             camera_jpeg(1), source="picker", caption_item="营业执照")
    before = {p: p.read_bytes() for p in (state.home / "evidence").rglob("*") if p.is_file()}
    assert before
    assert state.change_pin(PIN["I0001"], "582046", "582047") == "两次输入的新 PIN 不一致"
    assert state.change_pin(PIN["I0001"], PIN["I0001"], PIN["I0001"]) == "新 PIN 不能与原 PIN 相同"
    assert "还可尝试" in state.change_pin("000000", "582046", "582046")
    assert state.change_pin(PIN["I0001"], "111111", "111111") != ""  # a weak PIN is refused
    assert state.change_pin(PIN["I0001"], "582046", "582046") == ""
    state.lock()
    assert "还可尝试" in state.unlock("I0001", PIN["I0001"])
    assert state.unlock("I0001", "582046") == "" and state.data_key is not None
    assert state.unlock_signer("I0002", PIN["I0002"]) == ""  # the other inspector's PIN is theirs alone
    assert {p: p.read_bytes() for p in before} == before  # no evidence file was re-encrypted
    assert state.evidence.stored_image(state.data_key, photo.sha256)  # and the new PIN's session reads them
