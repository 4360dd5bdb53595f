"""Each signature is bound to the person: an inspector who signs by hand while their own key does not sign the
record is named — on the tablet before locking, in the 笔录, and in the bureau's verification — in the same words
("I0002 未以本人密钥签名"). A record signed with both inspectors' keys shows both valid. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess

import checklists
from documents.signature import unbound_in_record, unbound_inspectors, unbound_text
from inspector_app import onsite
from inspector_app.inspector_vm import AppState, ReviewViewModel
from staff_app.review_vm import verification_lines
from tests.test_onsite_support import PIN
from tests.test_review_flow import PHARMACY, world  # noqa: F401  (the fixture)
from tests.test_review_support import CHECKIN, PinTablet, Staff, _fill, _sign, sync

OFFICERS = CHECKIN["officers"]


def test_who_signed_by_hand_but_not_with_a_key():
    both = ["inspector_1", "inspector_2"]
    assert unbound_inspectors(OFFICERS, both, ["I0001", "I0002"]) == []
    assert unbound_inspectors(OFFICERS, both, ["I0001"]) == ["I0002"]
    assert unbound_inspectors(OFFICERS, ["inspector_1"], ["I0002"]) == ["I0001"]
    assert unbound_inspectors(OFFICERS, [], []) == []  # nobody signed by hand yet
    record = {"checkin": {"officers": OFFICERS}, "signatures": [{"role": r} for r in (*both, "representative")]}
    assert unbound_in_record(record, {"I0001"}) == ["I0002"]
    for malformed in (7, [1], {"checkin": 5, "signatures": [{}]}, {"signatures": "x"}):
        assert unbound_in_record(malformed, set()) == []  # a malformed record names nobody and raises nothing
    assert unbound_text("I0002") == "I0002 未以本人密钥签名"


def _signed_inspection(tablet: PinTablet) -> str:
    assignment = tablet.assignment(PHARMACY)
    inspection = onsite.start_inspection(tablet.engine, assignment.id, "I0001")
    onsite.save_checkin(tablet.engine, tablet.first.data_key, inspection.id, CHECKIN)
    _fill(tablet, inspection.id, checklists.template_for_kind(assignment.institution_kind), {}, {})
    _sign(tablet, inspection.id, onsite.SIGNING_ROLES)
    return inspection.id


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout \
        .decode("utf-8").replace(" ", "")


def test_a_stroke_only_team_member_is_named_on_the_tablet_in_the_record_and_at_the_bureau(world):  # noqa: F811
    bureau, tablet = world
    inspection_id = _signed_inspection(tablet)
    state = AppState.open(tablet.home)
    assert state.unlock("I0001", PIN["I0001"]) == ""  # only I0001's key is at hand: I0002 signs by hand alone
    review = ReviewViewModel(state, tablet.assignment(PHARMACY).id)
    status = dict(review.signing_status())
    assert "I0002 未以本人密钥签名" in status["inspector_2"] and "未以本人密钥签名" not in status["inspector_1"]

    onsite.lock(tablet.engine, tablet.store, tablet.first.data_key, inspection_id, [tablet.first])
    assert "I0002未以本人密钥签名" in _pdf_text(
        onsite.record_pdf_bytes(tablet.engine, tablet.store, tablet.first.data_key, inspection_id))
    sync(tablet)

    detail = Staff(bureau.url, "shenhe").get(f"/v1/review/records/{inspection_id}")
    verification = detail["verification"]
    assert [(s["inspector"], s["valid"]) for s in verification["signatures"]] == [("I0001", True)]
    assert verification["unbound"] == ["I0002"] and verification["all_valid"] is False
    assert (False, "检查人员 I0002 未以本人密钥签名（仅有手写签名）") in verification_lines(detail)


def test_both_keys_signed_shows_both_valid(world):  # noqa: F811
    bureau, tablet = world
    inspection_id = _signed_inspection(tablet)
    onsite.lock(tablet.engine, tablet.store, tablet.first.data_key, inspection_id, [tablet.first, tablet.second])
    assert "未以本人密钥签名" not in _pdf_text(
        onsite.record_pdf_bytes(tablet.engine, tablet.store, tablet.first.data_key, inspection_id))
    sync(tablet)

    detail = Staff(bureau.url, "shenhe").get(f"/v1/review/records/{inspection_id}")
    verification = detail["verification"]
    assert sorted((s["inspector"], s["valid"]) for s in verification["signatures"]) == [("I0001", True),
                                                                                          ("I0002", True)]
    assert verification["unbound"] == [] and verification["all_valid"] is True
    assert all(ok for ok, _text in verification_lines(detail)[:3])
