"""疑点 go on site, the bureau's side: an assignment issued after a screening run carries exactly its institution's
hits, signed (v3); a v1/v2 assignment verifies as before; a record's 疑点 checks are refused when hostile and, when
accepted, their confirmed amounts are findings the proposal rests on; per rule, how many hits were confirmed. The
integration tests run a real bureau on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session, select

import checklists
from bureau import keystore
from bureau.assignments import assignments_for, issue_assignments
from bureau.db import make_engine
from bureau.models import Assignment, Rejection
from bureau.screening.confirmations import confirmation_figures
from bureau.screening.rules import finding_rules, load_rules
from bureau.screening.runs import record_run
from checklists import scoring
from checklists.findings import derive_findings, suspicion_findings
from inspector_app import outbox
from sync import record_schema
from sync.assignments import (
    MAX_SUSPICIONS,
    assignment_signature_valid,
    sign_assignment,
    suspicions_problem,
)
from sync.canonical import canonical_bytes
from sync.envelope import build_record
from sync.errors import RecordInvalid
from sync.keys import sealing_public_from_b64
from tests.record_support import FAILED, PHARMACY, Sender
from tests.support import PASSPHRASE
from tests.sync_support import record_fields
from tests.test_review_support import Staff, add_review_staff, pin_tablet

CLINIC = "H35010200002"
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
V1 = {"id": "A-1", "plan_id": "2026-Q3", "institution_code": PHARMACY, "team": ["I0001", "I0002"],
      "reason": "random", "issued_at": "2026-07-01T08:00:00Z", "due_date": None, "revoked": False}
V2 = {**V1, "members": [{"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001"},
                        {"inspector_code": "I0002", "name": "陈晓燕", "badge_no": "闽榕医保执 0002"}]}
SUSPICION = {"hit_id": "run1-1", "rule": "R-GENDER", "rule_name": "限性别项目与参保人性别不符", "result": "明确违规",
             "settlement_id": "S-0001", "person": "P-001", "date": "2026-03-02", "amount_yuan": "200.00",
             "evidence": "项目「前列腺特异性抗原测定」限男性使用，参保人性别为女", "basis": "条例第十五条、第三十八条"}


def independently_signed(assignment: dict[str, Any], domain: bytes, fields: tuple[str, ...]) -> str:
    """The signature written out from the format, not through `sync.assignments`."""
    return base64.b64encode(KEY.sign(domain + canonical_bytes({k: assignment[k] for k in fields}))).decode()


# --- the signature -------------------------------------------------------------------------------------------

def test_v1_and_v2_assignments_are_signed_and_verified_as_before():
    fields = tuple(V1)
    for assignment, domain, signed in ((V1, b"yibao-assignment-v1\n", fields),
                                       (V2, b"yibao-assignment-v2\n", (*fields, "members"))):
        expected = independently_signed(assignment, domain, signed)
        assert sign_assignment(assignment, KEY) == expected  # Ed25519 is deterministic: the same bytes were signed
        assert assignment_signature_valid({**assignment, "signature": expected}, KEY.public_key())
        assert suspicions_problem(assignment) is None


def test_suspicions_are_signed_under_their_own_domain_and_altering_one_breaks_the_signature():
    v3 = {**V2, "suspicions": [SUSPICION, {**SUSPICION, "hit_id": "run1-2", "date": "2026-03-03"}]}
    signature = independently_signed(v3, b"yibao-assignment-v3\n", (*V1, "members", "suspicions"))
    assert sign_assignment(v3, KEY) == signature
    assert assignment_signature_valid({**v3, "signature": signature}, KEY.public_key())
    altered = copy.deepcopy(v3)
    altered["suspicions"][1]["amount_yuan"] = "2.00"
    assert not assignment_signature_valid({**altered, "signature": signature}, KEY.public_key())
    dropped = {k: v for k, v in v3.items() if k != "suspicions"}  # the 疑点 withheld: no longer what was signed
    assert not assignment_signature_valid({**dropped, "signature": signature}, KEY.public_key())


@pytest.mark.parametrize("suspicions, said", [
    ("none", "suspicions 应为至多 500 项的列表"),
    ([SUSPICION] * (MAX_SUSPICIONS + 1), "suspicions 应为至多 500 项的列表"),
    ([{**SUSPICION, "amount_yuan": "200"}], "suspicions[0] 的 amount_yuan 应为两位小数的金额文字"),
    ([{**SUSPICION, "result": "疑似"}], "suspicions[0] 的 result 应为 可疑 或 明确违规"),
    ([{**SUSPICION, "month": "2026-03"}], "suspicions[0] 不应同时有 date 与 month"),
    ([{k: v for k, v in SUSPICION.items() if k != "evidence"}], "suspicions[0] 缺少字段 evidence"),
    ([SUSPICION, SUSPICION], "suspicions[1] 的 hit_id run1-1 重复"),
    ([{**SUSPICION, "settlement_id": 7}], "suspicions[0] 的 settlement_id 应为结算ID文字或 null"),
    ([{**SUSPICION, "extra": 1}], "suspicions[0] 不应有字段 extra"),
])
def test_suspicions_of_the_wrong_shape_are_named(suspicions, said):
    assert (suspicions_problem({**V2, "suspicions": suspicions}) or "").startswith(f"检查任务 A-1 的 {said}")


def test_a_person_month_suspicion_has_a_month_and_no_settlement():
    month = {k: v for k, v in SUSPICION.items() if k != "date"} | {"month": "2026-03", "settlement_id": None}
    assert suspicions_problem({**V2, "suspicions": [month]}) is None


# --- the record's checks and the findings they make, pure -----------------------------------------------------

BASE = build_record(record_fields("A-1", PHARMACY, "pharmacy", ["I0001", "I0002"], "tablet-1", "I0001", "rec-1"), [])
PHOTO = {"sha256": "ab" * 32, "item_id": "run1-1", "size": 10, "media_type": "image/jpeg"}


def with_checks(*checks: dict[str, Any]) -> dict[str, Any]:
    record = copy.deepcopy(BASE)
    record["photos"].append(PHOTO)
    record["suspicion_checks"] = list(checks)
    return record


CONFIRMED = {"hit_id": "run1-1", "rule": "R-GENDER", "verdict": "confirmed", "note": "病历记载患者为女性，收取前列腺检查费",
             "amount_yuan": "150.00", "photos": [PHOTO["sha256"]]}
EXCLUDED = {"hit_id": "run1-2", "rule": "R-DAYS", "verdict": "excluded", "note": "长期处方，有医师签名的慢病备案",
            "amount_yuan": "0.00", "photos": []}


def test_a_record_with_checks_fits_and_one_without_reads_as_before():
    assert record_schema.check_record(with_checks(CONFIRMED, EXCLUDED)).suspicion_checks is not None
    assert record_schema.check_record(copy.deepcopy(BASE)).suspicion_checks is None


@pytest.mark.parametrize("check, reason, field", [
    ({**CONFIRMED, "verdict": "maybe"}, "record_bad_value", "suspicion_checks[0].verdict 应为 confirmed、excluded 之一"),
    ({**CONFIRMED, "note": ""}, "record_bad_value", "suspicion_checks[0].note 不能为空"),
    ({**CONFIRMED, "note": "  "}, "record_bad_value", "suspicion_checks[0].note 不能为空"),
    ({**CONFIRMED, "note": "长" * 2001}, "record_too_long", "suspicion_checks[0].note 过长"),
    ({**CONFIRMED, "amount_yuan": "0.00"}, "record_bad_value", "suspicion_checks[0].amount_yuan 应大于 0"),
    ({**EXCLUDED, "amount_yuan": "5.00"}, "record_bad_value", "suspicion_checks[0].amount_yuan 应为 0.00"),
    ({**CONFIRMED, "amount_yuan": 150}, "record_wrong_type", "suspicion_checks[0].amount_yuan 应为字符串"),
    ({**CONFIRMED, "photos": ["cd" * 32]}, "record_photo_unknown", "suspicion_checks[0].photos[0] 所指照片不在"),
])
def test_a_check_the_record_itself_contradicts_is_refused_naming_the_field(check, reason, field):
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record(with_checks(check))
    assert caught.value.reason_code == reason and field in caught.value.message_zh


def test_two_checks_of_one_hit_are_refused():
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record(with_checks(CONFIRMED, {**EXCLUDED, "hit_id": "run1-1", "rule": "R-GENDER"}))
    assert caught.value.reason_code == "record_duplicate_check"
    assert caught.value.path == "suspicion_checks[1].hit_id"


def test_confirmed_checks_are_findings_under_their_rules_category():
    [finding] = suspicion_findings([CONFIRMED, EXCLUDED], finding_rules())
    assert finding == {"item_id": "run1-1", "title": "疑点核实属实：限性别项目与参保人性别不符", "rule": "R-GENDER",
                       "category": "38.6", "category_title": "将不属于基金支付范围的费用纳入结算", "severity": "B",
                       "legal_basis": finding_rules()["R-GENDER"]["basis"], "amount_yuan": "150.00",
                       "description": CONFIRMED["note"], "photos": [PHOTO["sha256"]]}
    assert "第三十八条第（六）项" in finding["legal_basis"]
    assert suspicion_findings(None, finding_rules()) == []


def test_every_rule_names_a_finding_category_the_penalty_engine_knows():
    from checklists import penalty

    for rule in load_rules():
        decided = penalty.decide({"party": {"kind": "institution", "code": PHARMACY, "name": "药房"},
                                  "findings": [{"category": rule.finding_category, "amount_yuan": "100.00"}]})
        assert decided["recover_yuan"] == "100.00", rule.id


def test_confirmation_figures_for_a_planted_set():
    carried = [{"hit_id": f"r-{n}", "rule": rule} for n, rule in
               enumerate(["R-GENDER", "R-GENDER", "R-GENDER", "R-DAYS", "R-VISITS", "R-OLD"])]
    checks = [{"hit_id": "r-0", "verdict": "confirmed", "amount_yuan": "10.50"},
              {"hit_id": "r-1", "verdict": "confirmed", "amount_yuan": "99.00"},
              {"hit_id": "r-1", "verdict": "excluded", "amount_yuan": "0.00"},  # a later record's word on r-1
              {"hit_id": "r-2", "verdict": "confirmed", "amount_yuan": "0.25"},
              {"hit_id": "r-3", "verdict": "excluded", "amount_yuan": "0.00"},
              {"hit_id": "elsewhere", "verdict": "confirmed", "amount_yuan": "500.00"}]  # not carried: not counted
    figures = {f["rule"]: f for f in confirmation_figures(carried, checks, {"R-GENDER": "性别", "R-DAYS": "天数",
                                                                             "R-VISITS": "次数", "R-COST": "费用"})}
    assert list(figures) == ["R-GENDER", "R-DAYS", "R-VISITS", "R-COST", "R-OLD"]
    assert figures["R-GENDER"] == {"rule": "R-GENDER", "rule_name": "性别", "carried": 3, "checked": 3,
                                   "confirmed": 2, "excluded": 1, "confirmed_amount_yuan": "10.75",
                                   "confirmation_rate": "0.6667"}
    assert (figures["R-DAYS"]["checked"], figures["R-DAYS"]["excluded"], figures["R-DAYS"]["confirmation_rate"]) \
        == (1, 1, "0.0000")
    assert (figures["R-VISITS"]["carried"], figures["R-VISITS"]["checked"], figures["R-VISITS"]["confirmation_rate"]) \
        == (1, 0, None)
    assert figures["R-COST"]["carried"] == 0 and figures["R-OLD"]["rule_name"] == "R-OLD"


# --- a real bureau -----------------------------------------------------------------------------------------------

def hit(rule: str, institution: str, amount: str, number: int, month: bool = False) -> dict[str, Any]:
    when = {"date": None, "month": "2026-03"} if month else {"date": f"2026-03-{number % 28 + 1:02d}", "month": None}
    return {"rule": rule, "settlement_id": None if month else f"S-{number:04d}", "institution": institution,
            "person": f"P-{number:03d}", **when, "amount_yuan": amount, "evidence": f"第 {number} 条疑点的依据"}


PLANTED = [hit("R-GENDER", PHARMACY, "200.00", 1), hit("R-GENDER", CLINIC, "80.00", 2),
           hit("R-DAYS", PHARMACY, "88.50", 3), hit("R-VISITS", PHARMACY, "1200.00", 4, month=True)]


def plant_and_issue(settings, hits: list[dict[str, Any]], institutions: list[str]) -> dict[str, str]:
    """A screening run with these hits, then one assignment per institution (team I0001 + I0002) issued after
    it: institution → assignment id."""
    engine = make_engine(settings.database_url)
    key = keystore.open_signing_key(settings, PASSPHRASE.encode())
    with Session(engine) as session:
        record_run(session, load_rules(), {"input_digest": "0" * 64, "result_digest": "1" * 64, "hits": hits,
                                           "institutions": []}, datetime.now(timezone.utc))
        session.commit()
        issue_assignments(session, key, plan_id="screened", issued_at=datetime.now(timezone.utc), selected=[
            {"institution": code, "team": ["I0001", "I0002"], "reason": "manual"} for code in institutions])
        session.commit()
        issued = {a.institution_code: a.id for a in session.exec(select(Assignment)
                                                                 .where(Assignment.plan_id == "screened"))}
    engine.dispose()
    return issued


def test_issuing_after_a_run_carries_exactly_that_institutions_hits(seeded_bureau):
    engine = make_engine(seeded_bureau.database_url)
    with Session(engine) as session:
        before = {a["institution_code"]: a for a in assignments_for(session, "I0001")}
    many = [hit("R-COST", CLINIC, f"{n}.00", n) for n in range(1, MAX_SUSPICIONS + 3)]  # 502 hits at the clinic
    issued = plant_and_issue(seeded_bureau, PLANTED + many, [PHARMACY, CLINIC])
    public = keystore.open_signing_key(seeded_bureau, PASSPHRASE.encode()).public_key()
    with Session(engine) as session:
        pulled = {a["id"]: a for a in assignments_for(session, "I0001")}
    engine.dispose()

    pharmacy = pulled[issued[PHARMACY]]
    run = pharmacy["suspicions"][0]["hit_id"].rsplit("-", 1)[0]
    assert pharmacy["suspicions"] == [
        {"hit_id": f"{run}-1", "rule": "R-GENDER", "rule_name": "限性别项目与参保人性别不符", "result": "明确违规",
         "settlement_id": "S-0001", "person": "P-001", "date": "2026-03-02", "amount_yuan": "200.00",
         "evidence": "第 1 条疑点的依据", "basis": load_rules()[0].basis},
        {"hit_id": f"{run}-3", "rule": "R-DAYS", "rule_name": "单次用药天数超限", "result": "可疑",
         "settlement_id": "S-0003", "person": "P-003", "date": "2026-03-04", "amount_yuan": "88.50",
         "evidence": "第 3 条疑点的依据", "basis": next(r.basis for r in load_rules() if r.id == "R-DAYS")},
        {"hit_id": f"{run}-4", "rule": "R-VISITS", "rule_name": next(r.name for r in load_rules() if r.id == "R-VISITS"),
         "result": "可疑", "settlement_id": None, "person": "P-004", "month": "2026-03", "amount_yuan": "1200.00",
         "evidence": "第 4 条疑点的依据", "basis": next(r.basis for r in load_rules() if r.id == "R-VISITS")}]
    assert pharmacy["suspicions_total"] == 3 and suspicions_problem(pharmacy) is None

    clinic = pulled[issued[CLINIC]]  # 503 hits: the 500 highest amounts, in the run's order
    assert clinic["suspicions_total"] == MAX_SUSPICIONS + 3 and len(clinic["suspicions"]) == MAX_SUSPICIONS
    assert clinic["suspicions"][0]["amount_yuan"] == "80.00"  # the R-GENDER hit (seq 2), then the R-COST ones
    assert [s["amount_yuan"] for s in clinic["suspicions"][1:3]] == ["4.00", "5.00"]  # 1.00–3.00 left behind
    assert suspicions_problem(clinic) is None

    for item in pulled.values():  # every one verifies; the v3 ones under their suspicions
        assert assignment_signature_valid(item, public)
    altered = copy.deepcopy(pharmacy)
    altered["suspicions"][0]["amount_yuan"] = "20.00"
    assert not assignment_signature_valid(altered, public)
    for old in before.values():  # issued before the run: no 疑点, the same signature as before
        assert "suspicions" not in pulled[old["id"]] and pulled[old["id"]]["signature"] == old["signature"]


def signed_by_hand(bureau, home) -> Sender:
    """A tablet enrolled for I0001 and I0002 and a complete record of the pharmacy made from its fields (not through
    the on-site screens): the two failed items of `FAILED` with their amounts, and one photo."""
    add_review_staff(bureau.settings)
    t = pin_tablet(bureau, home)
    template = checklists.template_for_kind("pharmacy")
    answers: dict[str, Any] = {item.id: {"result": "pass", "note": "", "amount_yuan": None} for item in template.items}
    for item_id, (note, amount) in FAILED.items():
        answers[item_id] = {"result": "fail", "note": note, "amount_yuan": amount}
    scored = scoring.score(template, answers)
    photo = {"sha256": hashlib.sha256(b"photo").hexdigest(), "size": 5, "media_type": "image/jpeg"}
    fields = record_fields("unused", PHARMACY, "pharmacy", ["I0001", "I0002"], t.first.identity.device_id, "I0001",
                           "unused", answers=answers, photos=[{**photo, "item_id": "R-FEE-02"}],
                           findings=[{**f, "staff_codes": []} for f in derive_findings(template, answers)],
                           score={"value": str(scored.score), "critical": scored.critical})
    with Session(t.engine) as session:
        pin = session.get(outbox.BureauPin, 1)
    assert pin is not None  # enrolment pinned the bureau's keys
    return Sender(bureau, t, build_record(fields, [photo]), sealing_public_from_b64(pin.sealing_public),
                  Staff(bureau.url, "shenhe"))


def test_checks_are_validated_at_ingest_and_confirmed_amounts_are_findings(running_bureau, tmp_path):
    s = signed_by_hand(running_bureau, tmp_path / "tablet")
    issued = plant_and_issue(running_bureau.settings, PLANTED, [PHARMACY, CLINIC])
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        carried = {a["id"]: a.get("suspicions", []) for a in assignments_for(session, "I0001")}
    gender, days, visits = carried[issued[PHARMACY]]
    photo = s.record["photos"][0]["sha256"]
    confirmed = {"hit_id": gender["hit_id"], "rule": "R-GENDER", "verdict": "confirmed",
                 "note": "病历：患者女性；收费清单列前列腺特异性抗原测定", "amount_yuan": "150.00", "photos": [photo]}
    excluded = {"hit_id": days["hit_id"], "rule": "R-DAYS", "verdict": "excluded",
                "note": "慢病长期处方，已备案", "amount_yuan": "0.00", "photos": []}

    def record_with(*checks: dict[str, Any], record_id: str) -> dict[str, Any]:
        record = s.variant(record_id)
        record["assignment_id"] = issued[PHARMACY]
        record["suspicion_checks"] = [copy.deepcopy(c) for c in checks]
        return record

    clinic_hit = carried[issued[CLINIC]][0]
    hostile = {  # what the checks say -> (reason, words of the message)
        "unknown hit": ({**confirmed, "hit_id": "no-such-hit"}, "record_suspicion_unknown", "suspicion_checks[0].hit_id"),
        "another assignment's hit": ({**confirmed, "hit_id": clinic_hit["hit_id"]}, "record_suspicion_unknown",
                                     "不在该检查任务下发的疑点清单中"),
        "another rule": ({**confirmed, "rule": "R-CHILD"}, "record_suspicion_unknown", "suspicion_checks[0].rule"),
        "amount too high": ({**confirmed, "amount_yuan": "200.01"}, "record_amount_exceeds_hit", "200.00"),
        "verdict maybe": ({**confirmed, "verdict": "maybe"}, "record_bad_value", "suspicion_checks[0].verdict"),
        "photo not in manifest": ({**confirmed, "photos": ["ef" * 32]}, "record_photo_unknown",
                                  "suspicion_checks[0].photos[0]"),
    }
    for number, (label, (check, reason, words)) in enumerate(hostile.items()):
        status, said, message = s.send(record_with(check, record_id=f"hostile-{number}"), f"hostile-{number}")
        assert (status, said) == (422, reason), (label, status, said, message)
        assert words in message, (label, message)
    status, said, message = s.send(record_with(confirmed, {**excluded, "hit_id": gender["hit_id"]},
                                               record_id="hostile-dup"), "hostile-dup")
    assert (status, said) == (422, "record_duplicate_check") and "suspicion_checks[1].hit_id" in message
    assert s.stored() == []
    with Session(engine) as session:
        reasons = [r.reason for r in session.exec(select(Rejection).order_by(Rejection.id))]
    assert reasons == [reason for _c, reason, _w in hostile.values()] + ["record_duplicate_check"]

    status, said, _hash = s.send(record_with(confirmed, excluded, record_id="checked-1"), "checked-1")
    assert (status, said) == (200, "accepted")
    [item] = s.queue()
    assert item["findings"] == 3  # two failed items and the confirmed 疑点
    case = s.reviewer.get("/v1/review/records/checked-1")
    assert case["findings_check"]["differences"] == []  # the tablet does not report the 疑点 among its findings
    suspicion = case["findings_check"]["findings"][-1]
    assert (suspicion["item_id"], suspicion["category"], suspicion["amount_yuan"], suspicion["photos"]) == \
        (gender["hit_id"], "38.6", "150.00", [photo])
    assert [(c["rule_name"], c["settlement_id"], c["hit_amount_yuan"], c["verdict"], c["amount_yuan"], c["note"])
            for c in case["suspicion_checks"]] == [
        ("限性别项目与参保人性别不符", "S-0001", "200.00", "confirmed", "150.00", confirmed["note"]),
        ("单次用药天数超限", "S-0003", "88.50", "excluded", "0.00", excluded["note"])]

    s.reviewer.post("/v1/review/records/checked-1/start")
    proposal = s.reviewer.get("/v1/review/records/checked-1/proposal")
    assert [f["item_id"] for f in proposal["findings"]] == ["R-FEE-02", "R-RX-01", gender["hit_id"]]
    assert proposal["penalty"]["recover_yuan"] == "4430.50"  # 3860.50 + 420.00 from the answers, 150.00 confirmed

    # per rule: the clinic's assignment is revoked, so its hit no longer counts as carried to site
    supervisor = Staff(running_bureau.url, "zhuren")
    supervisor.post(f"/v1/assignments/{issued[CLINIC]}/revoke", {"reason": "机构已停业"})
    figures = {f["rule"]: f for f in s.reviewer.get("/v1/screening/confirmations")["rules"]}
    assert supervisor.get("/v1/screening/confirmations")["rules"] == list(figures.values())
    assert [(r, f["carried"], f["checked"], f["confirmed"], f["excluded"], f["confirmed_amount_yuan"],
             f["confirmation_rate"]) for r, f in figures.items() if f["carried"]] == [
        ("R-GENDER", 1, 1, 1, 0, "150.00", "1.0000"), ("R-DAYS", 1, 1, 0, 1, "0.00", "0.0000"),
        ("R-VISITS", 1, 0, 0, 0, "0.00", None)]
    assert visits["rule"] == "R-VISITS"
    cli = json.loads(running_bureau.cli("screen", "confirmations").stdout)
    assert cli["rules"] == list(figures.values()) and (cli["assignments"], cli["records"]) == (1, 1)
    engine.dispose()


def test_the_reviewer_reads_each_check_in_one_line():
    from staff_app.review_vm import suspicion_lines

    checks = [{"rule_name": "限性别项目与参保人性别不符", "settlement_id": "S-0001", "hit_amount_yuan": "200.00",
               "verdict": "confirmed", "amount_yuan": "150.00", "note": "病历记载患者为女性"},
              {"rule_name": "就诊次数异常", "settlement_id": None, "hit_amount_yuan": None, "verdict": "excluded",
               "amount_yuan": "0.00", "note": "家庭病床，按医嘱每日换药"}]
    assert suspicion_lines(checks) == [
        (True, "限性别项目与参保人性别不符 · 结算ID S-0001 · 疑点金额 ¥200.00 · 属实，认定 ¥150.00 · 病历记载患者为女性"),
        (False, "就诊次数异常 · 结算ID — · 疑点金额 — · 排除 · 家庭病床，按医嘱每日换药")]
