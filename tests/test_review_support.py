"""Helpers for the review, decision, ledger and disclosure tests: a real bureau on loopback with staff accounts, a
tablet with both team members (PINs), whole inspections done on it the way the app does them (check-in, answers,
photos, responsible staff, three signatures or a refusal) and synced, corrections, and a staff HTTP client.
No tests here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import checklists
from inspector_app import device, keyring, onsite
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import DeviceAssignment, Inspection, open_store
from tests.support import FAST_SCRYPT_N, STAFF_PASSWORD, add_staff
from tests.sync_support import issue_token
from tests.test_onsite_support import PIN, camera_jpeg, scribble

CHECKIN = {
    "officers": [{"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001", "id_shown": True},
                 {"inspector_code": "I0002", "name": "陈晓燕", "badge_no": "闽榕医保执 0002", "id_shown": True}],
    "representative": {"name": "张丽", "role": "店长", "phone": "0591-87654321", "id_number": "11010519491231002X"},
    "place": "福州市鼓楼区东街 88 号", "gps": {"lat": "26.0823000", "lon": "119.2965000", "accuracy_m": "15"},
    "gps_note": "",
    # issue #15: the 法定代表人 apart from the person on site, and the notices given (the 记录人 defaults to I0002)
    "legal_representative": {"title": "法定代表人", "name": "郑国强", "id_number": "330106198503150016"},
    "notices": [{"id": "basis", "given": True}, {"id": "cooperation", "given": True},
                {"id": "recusal", "answer": "不申请回避"}],
}
NAMES = {"inspector_1": "林建华", "inspector_2": "陈晓燕", "representative": "张丽", "witness": "王五"}
PHARMACIST = "Y350102000017"
STAFF = {"shenhe": "reviewer", "zhuren": "supervisor", "guanli": "admin"}
INSPECTING_REVIEWER = "shenhe2"  # a reviewer who is also inspector I0001


def add_review_staff(settings) -> None:
    for username, role in STAFF.items():
        add_staff(settings, username, role)
    add_staff(settings, INSPECTING_REVIEWER, "reviewer", inspector_code="I0001")


@dataclass
class PinTablet:
    home: Path
    engine: Engine
    first: keyring.Unlocked
    second: keyring.Unlocked

    @property
    def store(self) -> EvidenceStore:
        return EvidenceStore(self.home)

    def assignment(self, institution_code: str) -> DeviceAssignment:
        with keyring.session([self.first, self.second]):
            device.pull_assignments(self.engine, self.first.identity)
        with Session(self.engine) as session:
            found = session.exec(select(DeviceAssignment).where(DeviceAssignment.institution_code == institution_code)
                                 .order_by(DeviceAssignment.seq)).all()
        return next((a for a in found if onsite.current_inspection(self.engine, a.id) is None), found[0])


def pin_tablet(bureau, home: Path) -> PinTablet:
    engine = open_store(home)
    device.enroll(engine, bureau.url, issue_token(bureau.settings, "I0001"), pin=PIN["I0001"],
                  scrypt_n=FAST_SCRYPT_N)
    first = keyring.unlock(engine, "I0001", PIN["I0001"])
    device.enroll(engine, bureau.url, issue_token(bureau.settings, "I0002"), pin=PIN["I0002"],
                  data_key=first.data_key, scrypt_n=FAST_SCRYPT_N)
    second = keyring.unlock(engine, "I0002", PIN["I0002"])
    return PinTablet(home, engine, first, second)


def _sign(t: PinTablet, inspection_id: str, roles) -> None:
    for number, role in enumerate(roles):
        for stroke in scribble(number):
            onsite.add_stroke(t.engine, t.first.data_key, inspection_id, role,
                              datetime.now().astimezone().isoformat(), stroke)
        onsite.confirm_signature(t.engine, t.first.data_key, inspection_id, role, NAMES[role], (640, 240))


def _fill(t: PinTablet, inspection_id: str, template, failed: dict[str, tuple[str, str | None]],
          staff: dict[str, str]) -> None:
    key = t.first.data_key
    for number, item in enumerate(template.items):
        if item.id in failed:
            note, amount = failed[item.id]
            onsite.save_answer(t.engine, key, inspection_id, item.id, "fail", note,
                               amount if item.asks_amount else None)
            if item.photo_required_on_fail or number % 2 == 0:
                onsite.add_photo(t.engine, t.store, key, inspection_id, item.id, camera_jpeg(number),
                                 source="picker", caption_item=item.text)
        else:
            onsite.save_answer(t.engine, key, inspection_id, item.id, "pass")
    for item_id, codes in staff.items():
        onsite.save_staff_codes(t.engine, key, inspection_id, item_id, codes)


def inspect(t: PinTablet, institution_code: str, failed: dict[str, tuple[str, str | None]] | None = None,
            staff: dict[str, str] | None = None, refuse: bool = False) -> str:
    """A whole inspection on the tablet, locked (signed by both inspectors) and synced. Returns the record id."""
    assignment = t.assignment(institution_code)
    template = checklists.template_for_kind(assignment.institution_kind)
    inspection = onsite.start_inspection(t.engine, assignment.id, "I0001")
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, CHECKIN)
    _fill(t, inspection.id, template, failed or {}, staff or {})
    _lock(t, inspection.id, refuse)
    return inspection.record_id or inspection.id


def _lock(t: PinTablet, inspection_id: str, refuse: bool) -> None:
    key = t.first.data_key
    if refuse:
        _sign(t, inspection_id, ["inspector_1", "inspector_2"])
        onsite.record_refusal(t.engine, key, inspection_id, "认为检查结果不实", "王五", "已全程录像",
                              "11010519491231002X")
        onsite.add_photo(t.engine, t.store, key, inspection_id, onsite.REFUSAL_ITEM, camera_jpeg(97),
                         source="camera", caption_item="拒签现场")
        _sign(t, inspection_id, ["witness"])
    else:
        _sign(t, inspection_id, onsite.SIGNING_ROLES)
    onsite.lock(t.engine, t.store, key, inspection_id, [t.first, t.second])
    sync(t)


def sync(t: PinTablet) -> device.sync_protocol.SyncReport:
    with keyring.session([t.first, t.second]):
        report = device.sync(t.engine, timeout=60, load_blob=lambda sha: t.store.stored_image(t.first.data_key, sha))
    assert report.error is None, report
    return report


def correct(t: PinTablet, record_id: str, reason: str, item_id: str, note: str, amount: str | None) -> None:
    """The inspectors answer a correction request: a new version with one answer changed, signed and synced."""
    key = t.first.data_key
    with Session(t.engine) as session:
        latest = session.exec(select(Inspection).where((Inspection.record_id == record_id)
                                                       | (Inspection.id == record_id))
                              .order_by(Inspection.version.desc())).first()
    draft = onsite.start_correction(t.engine, key, latest.id, reason)
    onsite.save_answer(t.engine, key, draft.id, item_id, "fail", note, amount)
    _lock(t, draft.id, refuse=False)


class Staff:
    """A signed-in staff member talking to the bureau's HTTP API."""

    def __init__(self, url: str, username: str):
        self.url = url
        answer = requests.post(f"{url}/v1/staff/login", json={"username": username, "password": STAFF_PASSWORD},
                               timeout=10)
        answer.raise_for_status()
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = requests.request(method, self.url + path, headers=self.headers, timeout=60, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text[:800])
        return response.json() if response.headers.get("content-type", "").startswith("application/json") \
            else response.content

    def get(self, path: str, expect: int = 200, **kwargs: Any) -> Any:
        return self.call("GET", path, expect, **kwargs)

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> Any:
        return self.call("POST", path, expect, json=body or {})


def file_case(reviewer: Staff, supervisor: Staff, base: str,
              reason: str = "涉嫌违反《医疗保障基金使用监督管理条例》，拟给予行政处罚") -> dict[str, Any]:
    """立案 (审核中 or 拟处理): the reviewer asks, the 负责人 approves; a 行政处罚 is notified and decided only once
    filed (行政处罚法 第五十四条). The case afterwards."""
    reviewer.post(f"{base}/procedure/request_filing", {"reason": reason})
    return supervisor.post(f"{base}/procedure/approve_filing", {"opinion": "同意立案调查"})
