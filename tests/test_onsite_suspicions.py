"""疑点 on the tablet (issue #16): an assignment's 疑点 come with the bureau's signature and are kept sealed; each is
marked 属实 (with an amount within the 疑点's) or 排除 with a note, saved sealed, refused when bad and once signed or
locked; the locked record carries the checked ones as `suspicion_checks` (the bureau's schema accepts it), the 笔录
prints them, and an inspection without 疑点 shows none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlmodel import Session

from inspector_app import device, onsite
from inspector_app.evidence_store import EvidenceStore
from inspector_app.inspector_vm import AppState, InspectionViewModel
from inspector_app.store import DeviceAssignment
from sync.assignments import sign_assignment
from tests.test_onsite import CHECKIN, fill_checklist, sign_all
from tests.test_onsite_support import (
    ASSIGNMENT_ID,
    INSTITUTION,
    MEMBERS,
    PIN,
    TEAM,
    camera_jpeg,
    make_tablet,
)

PULLED = "A-SUSP-0001"
SUSPICIONS = [
    {"hit_id": "0f3c9a-1", "rule": "R-GENDER", "rule_name": "限性别项目与参保人性别不符", "result": "明确违规",
     "settlement_id": "JS2026100300017", "person": "PSN350102000123", "date": "2026-10-03", "amount_yuan": "860.00",
     "evidence": "男性参保人结算妇科检查项目 1 次", "basis": "《医疗保障基金使用监督管理条例》第十五条"},
    {"hit_id": "0f3c9a-2", "rule": "R-VISITS", "rule_name": "两个异常·就诊次数异常", "result": "可疑",
     "settlement_id": None, "person": "PSN350102000456", "month": "2026-09", "amount_yuan": "2400.50",
     "evidence": "当月购药 31 次", "basis": "国家医保局《医疗保障基金智能监管规则库》"},
]


class Pulling:
    """Answers a pull the way the bureau's /v1/assignments does."""

    def __init__(self, assignments: list[dict]):
        self.assignments = assignments

    def pull_assignments(self, since: int) -> dict:
        return {"assignments": self.assignments, "cursor": since + len(self.assignments)}


def signed_assignment(bureau, suspicions=SUSPICIONS, assignment_id: str = PULLED) -> dict:
    """An assignment as the bureau serves it, signed (v3) with the stand-in bureau's key."""
    item = {"id": assignment_id, "plan_id": "plan-2026-11", "institution_code": "P35010200001", "team": TEAM,
            "reason": "random", "issued_at": "2026-11-20T08:00:00Z", "due_date": "2026-12-20", "revoked": False,
            "members": MEMBERS, "suspicions": suspicions, "suspicions_total": len(suspicions),
            "institution": {"name": INSTITUTION, "kind": "pharmacy", "address": "福州市鼓楼区东街 88 号"},
            "status": "已下达", "seq": 7}
    return {**item, "signature": sign_assignment(item, bureau.signing)}


@pytest.fixture
def tablet(tmp_path):
    t = make_tablet(tmp_path / "tablet")
    result = device.pull_assignments(t.engine, device.identities(t.engine)[0], Pulling([signed_assignment(t.bureau)]),
                                     t.first.data_key)
    assert result == device.PullResult(received=1, refused=0)
    return t


def on_disk(home: Path) -> bytes:
    """The device store's bytes as they lie on disk (the write-ahead log included)."""
    return b"".join(path.read_bytes() for path in sorted(home.glob("device.db*")))


def checked_in(t) -> str:
    inspection = onsite.start_inspection(t.engine, PULLED, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, CHECKIN)
    return inspection.id


def test_pulled_suspicions_are_kept_as_signed_and_sealed(tablet):
    t = tablet
    stored = device.assignment(t.engine, PULLED)
    assert "suspicions" not in stored.signed and stored.sealed is not None
    assert device.suspicions_of(stored, t.first.data_key) == SUSPICIONS
    with pytest.raises(device.DeviceError, match="PIN"):
        device.suspicions_of(stored, None)
    raw = on_disk(t.home)
    assert b"PSN350102000123" not in raw and "男性参保人".encode() not in raw and b"JS2026100300017" not in raw


def test_altered_or_malformed_suspicions_are_refused_on_pull(tablet):
    t = tablet
    identity = device.identities(t.engine)[0]
    altered = signed_assignment(t.bureau, assignment_id="A-SUSP-0002")
    altered["suspicions"] = [{**SUSPICIONS[0], "amount_yuan": "8600.00"}, SUSPICIONS[1]]  # after signing
    malformed = signed_assignment(t.bureau, [{**SUSPICIONS[0], "amount_yuan": "860"}], assignment_id="A-SUSP-0003")
    result = device.pull_assignments(t.engine, identity, Pulling([altered, malformed]), t.first.data_key)
    assert result == device.PullResult(received=0, refused=2)
    with pytest.raises(device.DeviceError):
        device.assignment(t.engine, "A-SUSP-0002")


def test_a_headless_pull_without_a_data_key_keeps_them_as_received(tmp_path):
    t = make_tablet(tmp_path / "tablet")
    device.pull_assignments(t.engine, device.identities(t.engine)[0], Pulling([signed_assignment(t.bureau)]))
    stored = device.assignment(t.engine, PULLED)
    assert stored.sealed is None and device.suspicions_of(stored, None) == SUSPICIONS


def test_verdicts_are_checked_saved_sealed_and_read_back(tablet):
    t = tablet
    key = t.first.data_key
    inspection_id = checked_in(t)
    for verdict, note, amount, why in (("confirmed", "  ", "860.00", "核查所见"),
                                       ("confirmed", "病历无该检查", "0", "大于 0"),
                                       ("confirmed", "病历无该检查", "860.01", "不超过疑点金额 860.00"),
                                       ("confirmed", "病历无该检查", "-5", "属实金额"),
                                       ("confirmed", "病历无该检查", "八百", "属实金额"),
                                       ("confirmed", "病历无该检查", "", "请填写属实的金额"),
                                       ("confirmed", "很长" * 1001, "860.00", "最多 2000 字"),
                                       ("maybe", "病历无该检查", "860.00", "属实 或 排除")):
        with pytest.raises(device.DeviceError, match=why):
            onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", verdict, note, amount)
    with pytest.raises(device.DeviceError, match="没有疑点 0f3c9a-9"):
        onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-9", "excluded", "无")
    assert onsite.facts(t.engine, key, inspection_id).checks == {}

    saved = onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", "confirmed",
                                        " 病历记载为女性家属，实为冒名 ", "¥600")
    assert saved == onsite.CheckData("confirmed", "病历记载为女性家属，实为冒名", "600.00")
    with pytest.raises(device.DeviceError, match="不超过"):  # 860.50 > 860.00: the previous verdict stays
        onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", "confirmed", "改", "860.50")
    onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-2", "excluded", "处方齐全，系慢病按月配药",
                                "2400.50")
    again = onsite.facts(t.engine, key, inspection_id)
    assert again.checks == {"0f3c9a-1": onsite.CheckData("confirmed", "病历记载为女性家属，实为冒名", "600.00"),
                            "0f3c9a-2": onsite.CheckData("excluded", "处方齐全，系慢病按月配药", "0.00")}
    raw = on_disk(t.home)
    assert "冒名".encode() not in raw and "慢病".encode() not in raw


def test_the_record_carries_the_checked_suspicions_and_they_freeze_with_it(tablet):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection_id = checked_in(t)
    fill_checklist(t, inspection_id)
    assert "suspicion_checks" not in onsite.review(t.engine, key, inspection_id).content  # none checked yet
    onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-2", "excluded", "处方齐全，系慢病按月配药")
    photo = onsite.add_photo(t.engine, store, key, inspection_id, "0f3c9a-2", camera_jpeg(11), source="picker",
                             caption_item="疑点 两个异常·就诊次数异常 2026-09")
    content = onsite.review(t.engine, key, inspection_id).content
    assert content["suspicion_checks"] == [{"hit_id": "0f3c9a-2", "rule": "R-VISITS", "verdict": "excluded",
                                            "note": "处方齐全，系慢病按月配药", "amount_yuan": "0.00",
                                            "photos": [photo.sha256]}]
    onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", "confirmed", "病历无该项检查记录", "860")
    sign_all(t, inspection_id, ["inspector_1"])
    with pytest.raises(device.DeviceError, match="作废"):
        onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", "excluded", "改为排除")
    sign_all(t, inspection_id, ["inspector_2", "representative"])
    onsite.lock(t.engine, store, key, inspection_id, [t.first, t.second])  # checked against the record schema
    record, _hash = onsite.locked_record(t.engine, store, key, inspection_id)
    assert [(c["hit_id"], c["verdict"], c["amount_yuan"]) for c in record["suspicion_checks"]] == [
        ("0f3c9a-1", "confirmed", "860.00"), ("0f3c9a-2", "excluded", "0.00")]  # in the assignment's order
    assert {"sha256": photo.sha256, "item_id": "0f3c9a-2"}.items() <= next(
        p for p in record["photos"] if p["sha256"] == photo.sha256).items()
    with pytest.raises(device.DeviceError, match="锁定"):
        onsite.save_suspicion_check(t.engine, key, inspection_id, "0f3c9a-1", "excluded", "改为排除")

    pdf = onsite.record_pdf_bytes(t.engine, store, key, inspection_id)
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True,
                                  check=True).stdout.decode().split())
    assert "疑点核查对检查任务所附疑点现场核查2条：属实1条，排除1条。" in text
    assert "1R-GENDER限性别项目与参保人性别不符JS2026100300017属实860.00病历无该项检查记录" in text
    assert "2R-VISITS两个异常·就诊次数异常—排除0.00处方齐全，系慢病按月配药" in text

    corrected = onsite.start_correction(t.engine, key, inspection_id, "更正笔误")
    assert onsite.facts(t.engine, key, corrected.id).checks == onsite.facts(t.engine, key, inspection_id).checks


def test_the_screen_counts_pending_suspicions_and_shows_none_without_them(tablet):
    t = tablet
    t.engine.dispose()
    state = AppState.open(t.home)
    assert state.unlock("I0001", PIN["I0001"]) == ""
    vm = InspectionViewModel(state, PULLED)
    assert vm.suspicions_label == "疑点 2（待核 2）"
    assert "核查所见" in vm.check_suspicion("0f3c9a-1", "confirmed", "", "860.00")
    assert vm.check_suspicion("0f3c9a-1", "confirmed", "病历无该项检查记录", "860.00") == ""
    assert vm.suspicions_label == "疑点 2（待核 1）"
    assert [(r.hit_id, r.when, r.check and r.check.verdict) for r in vm.suspicion_rows()] == [
        ("0f3c9a-1", "2026-10-03", "confirmed"), ("0f3c9a-2", "2026-09", None)]
    assert vm.add_photo("0f3c9a-1", camera_jpeg(3), "picker") == ""
    [photo] = vm.suspicion_row("0f3c9a-1").photos
    assert photo.meta["caption"].endswith("疑点 限性别项目与参保人性别不符 JS2026100300017")
    assert vm.suspicions_left_out == ""  # it carries every 疑点 found there
    many = {**signed_assignment(t.bureau, assignment_id="A-SUSP-0004"), "suspicions_total": 812}  # not signed
    device.pull_assignments(state.engine, state.identity, Pulling([many]), state.data_key)
    assert InspectionViewModel(state, "A-SUSP-0004").suspicions_left_out == \
        "局端筛查共发现该机构疑点 812 条，此处列出金额最高的 2 条"
    plain = InspectionViewModel(state, ASSIGNMENT_ID)  # an assignment without 疑点
    assert plain.suspicions_label == "" and plain.suspicion_rows() == []
    with Session(state.engine) as session:
        assert session.get(DeviceAssignment, ASSIGNMENT_ID).sealed is None
