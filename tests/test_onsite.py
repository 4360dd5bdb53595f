"""On-site rules (pure) and operations on a real device store: answers, photos, findings, check-in, signatures,
what-you-see-is-what-you-sign, locking, corrections, the 笔录."""

from __future__ import annotations

import io
import subprocess
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from PIL import Image
from sqlmodel import Session, select

import checklists
from documents import signature
from inspector_app import device, onsite, outbox, photos
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import Answer, Photo, open_store
from sync.canonical import content_hash
from tests.test_onsite_support import (
    ASSIGNMENT_ID,
    StandInBureau,
    add_assignment,
    camera_jpeg,
    make_tablet,
    scribble,
)

TEMPLATE = checklists.template_for_kind("pharmacy")
CHECKIN = {
    "officers": [{"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001", "id_shown": True},
                 {"inspector_code": "I0002", "name": "陈晓燕", "badge_no": "闽榕医保执 0002", "id_shown": True}],
    "representative": {"name": "张丽", "role": "店长", "phone": "0591-87654321", "id_number": "11010519491231002X"},
    "place": "福州市鼓楼区东街 88 号", "gps": {"lat": "26.0823000", "lon": "119.2965000", "accuracy_m": "15"},
    # issue #15: the 法定代表人 apart from the person on site, and the notices given (the 记录人 defaults to I0002)
    "legal_representative": {"title": "法定代表人", "name": "郑国强", "id_number": "330106198503150016"},
    "notices": [{"id": "basis", "given": True}, {"id": "cooperation", "given": True},
                {"id": "recusal", "answer": "不申请回避"}],
}


# ------------------------------------------------------------ rules

@pytest.mark.parametrize("code", ["D350102000001", "Y3501020000017", "N110101123456", "HY350102000001",
                                  "HJ440300123456"])
def test_valid_staff_codes(code):
    assert onsite.staff_code_problem(code) is None


@pytest.mark.parametrize("code,why", [("X350102000001", "格式"), ("D35010200001", "格式"), ("HY35010200001", "格式"),
                                      ("D990102000001", "行政区划"), ("Y000000000000", "行政区划"),
                                      ("D３５０１０２０００００１", "格式"), ("D350102000001\n", "格式")])
def test_invalid_staff_codes(code, why):
    assert why in onsite.staff_code_problem(code)


def test_staff_codes_typed_in_one_box():
    codes, problems = onsite.parse_staff_codes(" y350102000017，D350102000001、y350102000017 bad")
    assert codes == ["Y350102000017", "D350102000001", "BAD"] and len(problems) == 1 and "BAD" in problems[0]


def test_answers_are_normalized():
    assert onsite.normalize_answer("fail", " 代刷 ", "1,200.5") == onsite.AnswerData("fail", "代刷", "1200.50")
    assert onsite.normalize_answer("pass", "ignored", "5") == onsite.AnswerData("pass", "", None)
    assert onsite.normalize_answer("na", "无此业务", "5") == onsite.AnswerData("na", "无此业务", None)
    for result, amount in (("fail", "-3"), ("fail", "12.345"), ("maybe", None)):
        with pytest.raises(device.DeviceError):
            onsite.normalize_answer(result, "x", amount)


def test_an_item_closes_only_with_what_it_needs():
    item = TEMPLATE.item("R-FEE-02")  # asks an amount, needs a photo when failed
    fail = onsite.AnswerData("fail", "", None)
    assert onsite.item_problems(item, None, 0) == ["未作答"]
    assert len(onsite.item_problems(item, fail, 0)) == 3
    assert onsite.item_problems(item, onsite.AnswerData("fail", "代刷", "0.00"), 0) == ["此项须拍照取证"]
    assert onsite.item_problems(item, onsite.AnswerData("fail", "代刷", "0.00"), 1) == []
    assert onsite.item_problems(item, onsite.AnswerData("na"), 0) == ["不适用须填写理由"]
    assert onsite.item_problems(TEMPLATE.item("R-MGT-03"), onsite.AnswerData("fail", "无制度"), 0) == []


def test_checkin_needs_two_officers_who_showed_id_the_representative_and_gps_or_why_not():
    team = ["I0001", "I0002"]
    assert onsite.checkin_problems({**CHECKIN, "gps_note": ""}, team) == []
    shy = {**CHECKIN, "officers": [CHECKIN["officers"][0], {**CHECKIN["officers"][1], "id_shown": False}]}
    assert any("出示执法证件" in p for p in onsite.checkin_problems({**shy, "gps_note": ""}, team))
    nowhere = {**CHECKIN, "gps": None, "gps_note": "", "representative": {"name": "张丽", "role": "", "phone": "x"}}
    problems = onsite.checkin_problems(nowhere, team)
    assert len(problems) == 4 and any("定位" in p for p in problems)
    assert "在场人员请填写身份证号码" in problems
    wrong = {**CHECKIN, "representative": {**CHECKIN["representative"], "id_number": "110105194912310021"}}
    assert onsite.checkin_problems(wrong, team) == ["在场人员身份证号码校验位不符，请核对"]
    short = {**CHECKIN, "representative": {**CHECKIN["representative"], "id_number": "11010519491231"}}
    assert onsite.checkin_problems(short, team) == ["在场人员身份证号码应为 18 位（现为 14 位）"]
    lower = {**CHECKIN, "representative": {**CHECKIN["representative"], "id_number": " 11010519491231002x "}}
    assert onsite.checkin_problems(lower, team) == []  # kept as 11010519491231002X by save_checkin
    assert onsite.checkin_problems({**CHECKIN, "gps": None, "gps_note": "定位权限被拒绝"}, team) == []
    assert onsite.checkin_problems(None, team) == ["尚未完成到场登记"]


def test_strokes_saved_one_by_one_make_one_signature_in_time_order():
    start = datetime(2026, 11, 23, 14, 0, 0, tzinfo=timezone(timedelta(hours=8)))
    strokes = [{"started_at": (start + timedelta(milliseconds=ms)).isoformat(), "points": points}
               for ms, points in ((0, [[10, 10, 0], [20, 20, 40], [30, 25, 80]]),
                                  (50, [[40, 10, 0], [50, 30, 30], [60, 30, 60], [70, 30, 90]]),  # clock stepped
                                  (900, [[80, 10, 0], [90, 20, 20], [95, 25, 40]]))]
    made = onsite.signature_from_strokes("representative", " 张丽 ", (640, 240), strokes, start + timedelta(seconds=2))
    times = [t for stroke in made.strokes for _x, _y, t in stroke]
    assert times == sorted(times) and times[3] == 81 and times[7] == 900 and made.signer_name == "张丽"
    with pytest.raises(signature.SignatureError):
        onsite.signature_from_strokes("representative", "张丽", (640, 240), [], start)


# ------------------------------------------------------------ operations

@pytest.fixture
def tablet(tmp_path):
    return make_tablet(tmp_path / "tablet")


def fill_checklist(t, inspection_id: str, failed=("R-FEE-02", "R-RX-01"), store=None) -> None:
    key = t.first.data_key
    store = store or EvidenceStore(t.home)
    for number, item in enumerate(TEMPLATE.items):
        if item.id in failed:
            onsite.save_answer(t.engine, key, inspection_id, item.id, "fail", f"{item.id} 现场发现问题", "1200.50")
            onsite.add_photo(t.engine, store, key, inspection_id, item.id, camera_jpeg(number), source="picker",
                             caption_item=item.text)
        else:
            onsite.save_answer(t.engine, key, inspection_id, item.id, "pass")


NAMES = {"inspector_1": "林建华", "inspector_2": "陈晓燕", "representative": "张丽", "witness": "王五"}


def sign_all(t, inspection_id: str, roles=onsite.SIGNING_ROLES) -> None:
    for number, role in enumerate(roles):
        for stroke in scribble(number):
            onsite.add_stroke(t.engine, t.first.data_key, inspection_id, role,
                              datetime.now().astimezone().isoformat(), stroke)
        onsite.confirm_signature(t.engine, t.first.data_key, inspection_id, role, NAMES[role], (640, 240))


def ready(t):
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, CHECKIN)
    fill_checklist(t, inspection.id)
    return inspection


def test_checkin_keeps_the_registry_names_of_a_signed_assignment_and_types_only_for_an_older_one(tablet):
    t = tablet
    typed = {**CHECKIN, "officers": [{**o, "name": "张三", "badge_no": "自填 01"} for o in CHECKIN["officers"]]}
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, typed)
    stored = onsite.facts(t.engine, t.first.data_key, inspection.id).checkin["officers"]
    assert [(o["name"], o["badge_no"]) for o in stored] == [("林建华", "闽榕医保执 0001"), ("陈晓燕", "闽榕医保执 0002")]
    add_assignment(t.engine, "A-OLD-0001", members=False, seq=2)  # stored before assignments named their members
    older = onsite.start_inspection(t.engine, "A-OLD-0001", "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, older.id, typed)
    stored = onsite.facts(t.engine, t.first.data_key, older.id).checkin["officers"]
    assert [(o["name"], o["badge_no"]) for o in stored] == [("张三", "自填 01"), ("张三", "自填 01")]


def test_review_shows_what_is_missing_then_a_stable_hash(tablet):
    t = tablet
    key = t.first.data_key
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    first = onsite.review(t.engine, key, inspection.id)
    assert first.hash is None and first.problems[0] == "尚未完成到场登记" \
        and len(first.problems) == 1 + len(TEMPLATE.items)
    onsite.save_checkin(t.engine, key, inspection.id, CHECKIN)
    fill_checklist(t, inspection.id)
    onsite.save_staff_codes(t.engine, key, inspection.id, "R-RX-01", "y350102000017")
    shown = onsite.review(t.engine, key, inspection.id)
    assert shown.problems == [] and shown.hash == content_hash(shown.content)
    assert onsite.review(t.engine, key, inspection.id).hash == shown.hash  # nothing random in it
    content = shown.content
    assert content["findings"][1]["staff_codes"] == ["Y350102000017"]
    assert content["answers"]["R-FEE-02"]["photos"] == [p["sha256"] for p in content["photos"] if
                                                       p["item_id"] == "R-FEE-02"]
    assert content["score"] == {"value": "92.1", "critical": False}  # (152 − 6 − 6) / 152 of pharmacy 2026.1
    assert sum(Decimal(f["amount_yuan"] or "0") for f in content["findings"]) == Decimal("2401.00")
    assert "penalty" not in content  # the measure is the bureau's, after 告知: the tablet never proposes one
    with pytest.raises(device.DeviceError, match="格式"):
        onsite.save_staff_codes(t.engine, key, inspection.id, "R-RX-01", "Y35")


def test_signing_freezes_the_content_and_locking_queues_exactly_what_was_signed(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = ready(t)
    shown = onsite.review(t.engine, key, inspection.id)
    with pytest.raises(device.DeviceError, match="还不能锁定"):
        onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    sign_all(t, inspection.id, ["inspector_1"])
    with pytest.raises(device.DeviceError, match="作废"):
        onsite.save_answer(t.engine, key, inspection.id, "R-ID-01", "fail", "改了")
    sign_all(t, inspection.id, ["inspector_2", "representative"])

    # Someone changes an answer behind the screen's back: the signatures no longer match, nothing locks.
    with Session(t.engine) as session:
        row = session.get(Answer, (inspection.id, "R-ID-01"))
        row.result = "na"
        session.add(row)
        session.commit()
    with pytest.raises(device.DeviceError, match="还不能锁定"):
        onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    with Session(t.engine) as session:
        row = session.get(Answer, (inspection.id, "R-ID-01"))
        row.result = "pass"
        session.add(row)
        session.commit()

    record_hash = onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    record, again = onsite.locked_record(t.engine, store, key, inspection.id)
    assert again == record_hash and record["review_hash"] == shown.hash
    assert {k: record[k] for k in shown.content} == shown.content
    assert [s["signer_name"] for s in record["signatures"]] == ["林建华", "陈晓燕", "张丽"]
    assert len(record["blobs"]) == 2 and all(b["media_type"] == "image/jpeg" for b in record["blobs"])
    with Session(t.engine) as session:
        [queued] = session.exec(select(outbox.OutboxRecord)).all()
        blobs = session.exec(select(outbox.OutboxBlob)).all()
    assert queued.record_hash == record_hash and queued.record_id == inspection.id
    assert {b.source_path for b in blobs} == {None}  # read through the app's loader: encrypted here
    assert {b.free_after_receipt for b in blobs} == {str(store.path(b.sha256, "original")) for b in blobs}
    for blob in record["blobs"]:
        assert store.stored_image(key, blob["sha256"])  # what the sync run's loader returns, hash-checked
    for action in (lambda: onsite.save_answer(t.engine, key, inspection.id, "R-ID-01", "pass"),
                   lambda: onsite.clear_signature(t.engine, inspection.id, "inspector_1"),
                   lambda: onsite.add_photo(t.engine, store, key, inspection.id, "R-ID-01", camera_jpeg(1),
                                            source="picker", caption_item="x")):
        with pytest.raises(device.DeviceError, match="锁定"):
            action()


def test_refusal_needs_reason_witness_signature_and_photo(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = ready(t)
    sign_all(t, inspection.id, ["inspector_1", "inspector_2"])
    with pytest.raises(device.DeviceError, match="见证人请填写身份证号码"):
        onsite.record_refusal(t.engine, key, inspection.id, "认为检查结果不实", "王五", "执法记录仪录像")
    with pytest.raises(device.DeviceError, match="见证人身份证号码校验位不符"):
        onsite.record_refusal(t.engine, key, inspection.id, "认为检查结果不实", "王五", "执法记录仪录像",
                              "110105194912310021")
    onsite.record_refusal(t.engine, key, inspection.id, "认为检查结果不实", "王五", "执法记录仪录像",
                          "35010219800101002x")
    facts = onsite.facts(t.engine, key, inspection.id)
    review_hash = onsite.review(t.engine, key, inspection.id).hash
    assert onsite.signing_problems(facts, review_hash) == ["拒签须由见证人签名", "拒签须拍照记录"]
    with pytest.raises(device.DeviceError, match="拒签"):
        sign_all(t, inspection.id, ["representative"])
    onsite.add_photo(t.engine, store, key, inspection.id, onsite.REFUSAL_ITEM, camera_jpeg(99), source="camera",
                     caption_item="拒签现场")  # allowed after signatures: not part of the reviewed content
    assert onsite.review(t.engine, key, inspection.id).hash == review_hash
    sign_all(t, inspection.id, ["witness"])
    onsite.lock(t.engine, store, key, inspection.id, [t.first])
    record, record_hash = onsite.locked_record(t.engine, store, key, inspection.id)
    assert record["refusal"]["witness_name"] == "王五" and record["refusal"]["photos"][0]["source"] == "camera"
    assert record["refusal"]["witness_id_number"] == "35010219800101002X"
    assert record["checkin"]["representative"]["id_number"] == "11010519491231002X"
    assert len(record["blobs"]) == 3
    pdf = onsite.record_pdf_bytes(t.engine, store, key, inspection.id)
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())
    assert "拒绝签名。理由：认为检查结果不实" in flat and "见证人：王五" in flat and record_hash[:32] in flat
    assert "见证人身份证号码：35010219800101002X" in flat and "身份证号码11010519491231002X" in flat
    assert onsite.record_pdf_bytes(t.engine, store, key, inspection.id) == pdf  # the same record, the same bytes


def test_voiding_signatures_reopens_the_content(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = ready(t)
    sign_all(t, inspection.id, ["inspector_1"])
    onsite.record_refusal(t.engine, key, inspection.id, "不同意", "王五", witness_id_number="11010519491231002X")
    onsite.add_photo(t.engine, store, key, inspection.id, onsite.REFUSAL_ITEM, camera_jpeg(98), source="camera",
                     caption_item="拒签现场")
    onsite.void_signatures(t.engine, store, inspection.id)
    facts = onsite.facts(t.engine, key, inspection.id)
    assert facts.marks == {} and facts.refusal is None and not facts.photos_of(onsite.REFUSAL_ITEM)
    onsite.save_answer(t.engine, key, inspection.id, "R-ID-01", "fail", "改为不符合", "10")
    assert onsite.facts(t.engine, key, inspection.id).answers["R-ID-01"].note == "改为不符合"


def test_a_correction_is_a_new_version_naming_the_old_one(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = ready(t)
    sign_all(t, inspection.id)
    first_hash = onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    with pytest.raises(device.DeviceError, match="更正原因"):
        onsite.start_correction(t.engine, key, inspection.id, " ")
    draft = onsite.start_correction(t.engine, key, inspection.id, "金额录入错误，应为 1,020.50 元")
    assert onsite.current_inspection(t.engine, ASSIGNMENT_ID).id == draft.id and draft.version == 2
    with pytest.raises(device.DeviceError, match="更新的版本"):
        onsite.start_correction(t.engine, key, inspection.id, "again")
    copied = onsite.facts(t.engine, key, draft.id)
    assert copied.answers["R-FEE-02"].amount_yuan == "1200.50" and len(copied.photos) == 2 and not copied.marks
    onsite.save_answer(t.engine, key, draft.id, "R-FEE-02", "fail", "R-FEE-02 现场发现问题", "1020.50")
    sign_all(t, draft.id)
    onsite.lock(t.engine, store, key, draft.id, [t.first, t.second])
    record, _hash = onsite.locked_record(t.engine, store, key, draft.id)
    assert record["record_id"] == inspection.id and record["version"] == 2
    assert record["previous_hash"] == first_hash and record["correction_reason"].startswith("金额录入错误")
    assert onsite.locked_record(t.engine, store, key, inspection.id)[1] == first_hash  # the old one is untouched
    pdf = onsite.record_pdf_bytes(t.engine, store, key, draft.id)
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                  check=True).stdout.decode().split())
    assert "本笔录为第2版" in text and first_hash[:32] in text


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"), (b"%PDF-1.4 not a photo", "not_an_image"), ("truncated", "corrupt"), ("bomb", "too_many_pixels"),
])
def test_unusable_photos_are_refused_and_nothing_is_half_saved(tablet, data, reason):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    if data == "truncated":
        data = camera_jpeg(3)[:5000]
    elif data == "bomb":
        out = io.BytesIO()
        Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 MP declared, a few KB on disk
        data = out.getvalue()
    with pytest.raises(photos.PhotoError) as refused:
        onsite.add_photo(t.engine, store, key, inspection.id, "R-ID-01", data, source="picker", caption_item="x")
    assert refused.value.reason_code == reason and refused.value.message_zh
    with Session(t.engine) as session:
        assert session.exec(select(Photo)).all() == []
    assert not store.root.exists() or list(store.root.rglob("*")) == []


def test_opening_an_inspection_with_40_photos_reads_thumbnails_only(tablet):
    from inspector_app.inspector_vm import AppState, InspectionViewModel

    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    items = [item.id for item in TEMPLATE.items]
    for number in range(40):
        item_id = items[number % len(items)]
        onsite.save_answer(t.engine, key, inspection.id, item_id, "fail", "问题", "1")
        onsite.add_photo(t.engine, store, key, inspection.id, item_id, camera_jpeg(number, (800, 600)),
                         source="picker", caption_item=item_id)
    state = AppState.open(t.home)
    state.unlocked["I0001"] = t.first
    vm = InspectionViewModel(state, ASSIGNMENT_ID)
    shown = [vm.thumbnail(p.sha256) for item_id in items for p in vm.row(item_id).photos]
    assert len(shown) == 40
    thumbnail_bytes = sum(p.thumbnail_size for p in vm.facts.photos)
    assert dict(state.evidence.reads) == {"thumbnail": 40, "thumbnail_bytes": thumbnail_bytes}
    assert thumbnail_bytes < sum(p.size for p in vm.facts.photos)


def test_a_headless_tablet_without_pins_still_finishes_plain_inspections(tmp_path):
    """`yibao device demo-inspections` and the sync tests fill inspections with `device.save_answer` and no key."""
    engine = open_store(tmp_path / "headless")
    identity = device.enroll(engine, "http://127.0.0.1:9", "I0001", client=StandInBureau())
    add_assignment(engine, ASSIGNMENT_ID)
    inspection = onsite.start_inspection(engine, ASSIGNMENT_ID, "I0001")
    for item in TEMPLATE.items:
        device.save_answer(engine, inspection.id, item.id, "pass")
    onsite.finish(engine, onsite.facts(engine, None, inspection.id), signers=[identity])
    with Session(engine) as session:
        [queued] = session.exec(select(outbox.OutboxRecord)).all()
    assert queued.record_id == inspection.id and queued.state == "queued"


def test_one_photo_for_two_items_is_captioned_for_each_in_the_record_pdf(tablet, monkeypatch):
    """The same picture as evidence of two failed items: one evidence blob, but each item's copy in the 笔录 carries
    its own caption strip (the strip is drawn when shown, never on the hashed image)."""
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    onsite.save_checkin(t.engine, key, inspection.id, CHECKIN)
    fill_checklist(t, inspection.id, failed=())
    same = camera_jpeg(7)
    for item_id in ("R-FEE-02", "R-RX-01"):
        onsite.save_answer(t.engine, key, inspection.id, item_id, "fail", f"{item_id} 现场发现问题", "1200.50")
        onsite.add_photo(t.engine, store, key, inspection.id, item_id, same, source="picker",
                         caption_item=TEMPLATE.item(item_id).text)
    sign_all(t, inspection.id)
    onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    record, _hash = onsite.locked_record(t.engine, store, key, inspection.id)
    assert len(record["blobs"]) == 1 and len(record["photos"]) == 2

    shown = []
    monkeypatch.setattr(onsite.record_pdf, "render_record_pdf", lambda _record, photos, _signatures: shown.append(
        photos) or b"%PDF")
    onsite.record_pdf_bytes(t.engine, store, key, inspection.id)
    [(first_caption, first_jpeg), (second_caption, second_jpeg)] = shown[0]
    assert TEMPLATE.item("R-FEE-02").text in first_caption and TEMPLATE.item("R-RX-01").text in second_caption
    assert first_jpeg != second_jpeg
    assert all(Image.open(io.BytesIO(j)).height > Image.open(io.BytesIO(store.stored_image(key, record["blobs"][0][
        "sha256"]))).height for j in (first_jpeg, second_jpeg))  # a strip below the evidence image
