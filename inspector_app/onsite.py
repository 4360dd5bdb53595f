"""On site, offline: check-in, answers, photo evidence, findings, signatures, the review hash, locking, corrections,
and the 现场检查笔录.

The rules are pure functions over plain data (first half of this module); the operations below them are thin:
each reads or writes a few rows in one transaction and returns. Everything is durable when the call returns
(WAL + synchronous=FULL), so what the screen shows as saved survives a crash.

What you see is what you sign: the review screen shows `Review.content` and its hash (`Review.hash`, SHA-256 of the
canonical JSON). Each signature is stored with the review hash current when it was confirmed; the record is locked
only if every signature was made on the content as it is now. Once anyone has signed, the content cannot change
(`void_signatures` first). The locked record is ``content + review_hash + signatures (+ refusal) + locked_at``; the
outbox signs, seals and queues it (`finish`). A correction is a new version of the same record id that names
the previous version's record hash and says why.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Mapping, Sequence

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

import checklists
from checklists import scoring
from checklists.findings import finding_of
from checklists.money import format_money, parse_money
from checklists.onsite_record import record_rules, working_days_after
from checklists.templates import Item, Template
from documents import signature
from inspector_app import device, keyring, outbox, photos, record_pdf, vault
from inspector_app.evidence_store import EvidenceStore
from inspector_app.store import (
    Answer,
    CheckIn,
    DeviceAssignment,
    FindingDetail,
    Identity,
    Inspection,
    Photo,
    RecordPart,
    RefusalNote,
    SignatureMark,
    SignatureStroke,
    SuspicionCheck,
    identities,
    utcnow,
)
from sync import record_schema
from sync.canonical import canonical_bytes, content_hash, loads_canonical
from sync.envelope import build_record, sign_record
from sync.errors import RecordInvalid

RECORD_FORMAT = record_schema.FORMAT_V1
REFUSAL_ITEM = "refusal"  # Photo.item_id of the photos taken when the representative refuses to sign
SIGNING_ROLES = ("inspector_1", "inspector_2", "representative")
ROLES = (*SIGNING_ROLES, "witness")
INSPECTION_KINDS = {"random": "双随机抽查", "followup": "回头看"}
PHOTO_MEDIA_TYPE = "image/jpeg"
LEGAL_TITLES = ("法定代表人", "主要负责人")  # sync.record_schema.LegalRepresentative.title
DOCUMENT_FORMS = ("复印件", "原件")  # sync.record_schema.DocumentTaken.form; the first is the default
VERDICTS = {"confirmed": "属实", "excluded": "排除"}  # a 疑点 checked on site (record field `suspicion_checks`)
MAX_CHECK_NOTE = 2000

# 医保医师 D / 护士 N / 药师 Y + 6-digit region + 6-7 digit sequence; hospital pharmacy and technical staff HY / HJ
# + region + sequence (医保办函〔2022〕39号). The exact lengths are not published in one place (REGULATIONS.md §7 [?]).
_STAFF_CODE = re.compile(r"(?:[DNY][0-9]{12,13}|H[YJ][0-9]{12})")  # matched whole, ASCII digits
_PHONE = re.compile(r"[0-9+\-() ]{7,20}")
_SEPARATORS = re.compile(r"[\s,，、;；]+")


# ============================================================ the rules (pure)

def local_now() -> datetime:
    """Now, in the tablet's time zone, to the second: what the 笔录 prints."""
    return datetime.now().astimezone().replace(microsecond=0)


def staff_code_problem(code: str) -> str | None:
    if not _STAFF_CODE.fullmatch(code):
        return (f"人员代码 {code} 格式不正确：医保医师 D、护士 N、药师 Y 开头加 12～13 位数字，"
                f"或医院药学技术人员 HY、HJ 开头加 12 位数字")
    region = code[1:7] if code[0] in "DNY" else code[2:8]
    if not "11" <= region[:2] <= "82":
        return f"人员代码 {code} 中的行政区划代码 {region} 不正确"
    return None


def parse_staff_codes(text: str) -> tuple[list[str], list[str]]:
    """Codes typed in one box (separated by spaces, commas or 、) → (codes, problems)."""
    codes = list(dict.fromkeys(part.upper() for part in _SEPARATORS.split(text or "") if part))
    return codes, [problem for code in codes if (problem := staff_code_problem(code))]


@dataclass(frozen=True)
class AnswerData:
    result: str  # pass | fail | na
    note: str = ""
    amount_yuan: str | None = None  # "1200.00"


def _typed_amount(amount: str | None) -> str | None:
    """An amount as typed, without grouping commas and the yuan sign; None when empty."""
    return (amount or "").strip().replace(",", "").replace("，", "").lstrip("¥￥") or None


def normalize_answer(result: str, note: str = "", amount: str | None = None) -> AnswerData:
    """Validate what the inspector entered; raises device.DeviceError. A note or amount only for what needs one."""
    if result not in scoring.RESULTS:
        raise device.DeviceError(f"结果应为 符合、不符合 或 不适用（{result!r}）")
    amount = _typed_amount(amount)
    if amount is not None:
        try:
            amount = format_money(parse_money(amount, "金额"))
        except checklists.InputError as exc:
            raise device.DeviceError(str(exc)) from None
    return AnswerData(result, (note or "").strip() if result != "pass" else "",
                      amount if result == "fail" else None)


@dataclass(frozen=True)
class CheckData:
    """The verdict on one 疑点: confirmed (属实) with the amount found, or excluded (排除, "0.00"); the note says
    what the medical record, prescription or receipts showed."""

    verdict: str  # confirmed | excluded
    note: str
    amount_yuan: str


def normalize_check(suspicion: Mapping[str, Any], verdict: str, note: str, amount: str | None = None) -> CheckData:
    """Validate a verdict on `suspicion` (as the assignment carries it); raises device.DeviceError. A confirmed
    amount is more than 0 and at most the 疑点's amount."""
    if verdict not in VERDICTS:
        raise device.DeviceError(f"核查结论应为 属实 或 排除（{verdict!r}）")
    note = (note or "").strip()
    if not note:
        raise device.DeviceError("请填写核查所见：病历、处方、票据等显示的情况")
    if len(note) > MAX_CHECK_NOTE:
        raise device.DeviceError(f"核查所见最多 {MAX_CHECK_NOTE} 字（现有 {len(note)} 字）")
    if verdict == "excluded":
        return CheckData(verdict, note, "0.00")
    typed = _typed_amount(amount)
    if typed is None:
        raise device.DeviceError("请填写属实的金额（元）")
    try:
        value = parse_money(typed, "属实金额")
    except checklists.InputError as exc:
        raise device.DeviceError(str(exc)) from None
    limit = Decimal(suspicion["amount_yuan"])
    if not Decimal("0") < value <= limit:
        raise device.DeviceError(f"属实金额应大于 0 元且不超过疑点金额 {format_money(limit)} 元"
                                 f"（填写的是 {format_money(value)} 元）")
    return CheckData(verdict, note, format_money(value))


def item_problems(item: Item, answer: AnswerData | None, photo_count: int) -> list[str]:
    """Why the item cannot be closed yet (empty: closed)."""
    if answer is None:
        return ["未作答"]
    if answer.result == "na" and not answer.note:
        return ["不适用须填写理由"]
    if answer.result != "fail":
        return []
    problems = []
    if not answer.note:
        problems.append("请填写不符合情况说明")
    if item.asks_amount and answer.amount_yuan is None:
        problems.append("请填写涉及金额（元），无法确定时填 0")
    if item.photo_required_on_fail and photo_count == 0:
        problems.append("此项须拍照取证")
    return problems


def registry_officers(assignment: DeviceAssignment) -> dict[str, dict[str, str]]:
    """Inspector code → name and 执法证号 as the bureau's registry names them in the signed assignment. Empty for an
    assignment issued before assignments named their members: only then are they typed at check-in."""
    return {m["inspector_code"]: {"name": m["name"], "badge_no": m["badge_no"]}
            for m in (assignment.signed or {}).get("members") or []}


def id_number_text(text: str | None) -> str:
    """A 身份证号码 as typed, the way it is kept: no spaces, a final x upper-case."""
    return "".join((text or "").split()).upper()


def recorder_of(checkin: Mapping[str, Any]) -> str | None:
    """The 记录人 chosen, or by default the second officer (the first is the tablet's own inspector, who asks)."""
    codes = [o["inspector_code"] for o in checkin["officers"]]
    return checkin.get("recorder") or (codes[1] if len(codes) > 1 else codes[0] if codes else None)


def notices_given(given: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The notices of the rules (`checklists.onsite_record`) as the check-in keeps them: their words as read, whether
    each was given and the answer to its question. `given`: [{"id", "given", "answer", "detail"}]; a notice with a
    question counts as given once it is answered."""
    entered = {n["id"]: n for n in given}
    out = []
    for notice in record_rules().notices:
        typed = entered.get(notice.id) or {}
        answer = (typed.get("answer") or "").strip()
        out.append({"id": notice.id, "title": notice.title, "basis": notice.basis, "text": notice.text,
                    "question": notice.question, "given": bool(typed.get("given")) or bool(answer),
                    "answer": answer, "detail": (typed.get("detail") or "").strip()})
    return out


def notice_problems(notices: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """What the check-in still lacks of the notices: each given, each question answered with one of its choices."""
    kept = {n["id"]: n for n in notices or []}
    problems = []
    for notice in record_rules().notices:
        entry = kept.get(notice.id)
        if notice.question:
            answer = (entry or {}).get("answer") or ""
            if answer not in notice.choices:
                problems.append(f"请告知{notice.title}（{notice.basis}）并记录回答：{notice.question}")
            elif answer != notice.choices[0] and not (entry or {}).get("detail"):  # e.g. 申请回避: whom, and why
                problems.append(f"在场人员{answer}，请记录其说明（对象及理由）")
        elif not (entry or {}).get("given"):
            problems.append(f"请告知{notice.title}（{notice.basis}）并勾选已告知")
    return problems


def legal_representative_problems(legal: Mapping[str, Any] | None) -> list[str]:
    if not legal or not (legal.get("name") or "").strip():
        return ["请填写被检查单位法定代表人（主要负责人）的姓名"]
    problems = [] if legal.get("title") in LEGAL_TITLES else ["请选择法定代表人或主要负责人"]
    id_problem = record_schema.id_number_problem(id_number_text(legal.get("id_number")))
    return problems + ([(legal.get("title") or LEGAL_TITLES[0]) + id_problem] if id_problem else [])


def checkin_problems(checkin: Mapping[str, Any] | None, team: Sequence[str]) -> list[str]:
    """What is missing from 到场登记: two officers who showed their ID, the 记录人, the person on site and the 法定代表人,
    the notices given and answered, the place, GPS or why not."""
    if checkin is None:
        return ["尚未完成到场登记"]
    problems = []
    officers = {o["inspector_code"]: o for o in checkin["officers"]}
    for code in team:
        officer = officers.get(code)
        if officer is None or not officer["name"] or not officer["badge_no"]:
            problems.append(f"请填写检查人员 {code} 的姓名和执法证号")
        elif not officer["id_shown"]:
            problems.append(f"请确认检查人员 {officer['name']} 已出示执法证件")
    if len([o for o in checkin["officers"] if o["id_shown"]]) < 2:
        problems.append("现场检查须有两名检查人员出示执法证件")
    representative = checkin["representative"]
    if not representative["name"] or not representative["role"]:
        problems.append("请填写被检查单位在场人员的姓名和职务")
    if not _PHONE.fullmatch(representative["phone"] or ""):
        problems.append("请填写在场人员的联系电话")
    id_problem = record_schema.id_number_problem(id_number_text(representative.get("id_number")))
    if id_problem is not None:
        problems.append("在场人员" + id_problem)
    if recorder_of(checkin) not in officers:
        problems.append("请从检查人员中选择记录人")
    problems += legal_representative_problems(checkin.get("legal_representative"))
    problems += notice_problems(checkin.get("notices"))
    if not checkin["place"]:
        problems.append("请填写检查地点")
    if checkin["gps"] is None and not checkin["gps_note"]:
        problems.append("请获取定位，或记录未能定位的原因")
    return problems


def _bounded(text: Any, limit: int, what: str) -> str:
    value = (text or "").strip()
    if len(value) > limit:
        raise device.DeviceError(f"{what}最多 {limit} 字（现有 {len(value)} 字）")
    return value


def _rows(rows: Sequence[Mapping[str, Any]], fields: Mapping[str, tuple[int, str]], limit: int, what: str,
          choices: Mapping[str, tuple[str, ...]] | None = None) -> list[dict[str, str]]:
    """Typed rows with each field stripped and bounded, each choice one of its values (default the first); rows
    whose typed fields are all empty are dropped."""
    out = []
    for number, row in enumerate(rows, 1):
        kept = {name: _bounded(row.get(name), size, f"{what}第 {number} 项的{label}")
                for name, (size, label) in fields.items()}
        if not any(kept.values()):
            continue
        for name, allowed in (choices or {}).items():
            chosen = row.get(name) or allowed[0]
            if chosen not in allowed:
                raise device.DeviceError(f"{what}第 {number} 项应为{'或'.join(allowed)}（{chosen!r}）")
            kept[name] = chosen
        out.append(kept)
    if len(out) > limit:
        raise device.DeviceError(f"{what}最多 {limit} 项")
    return out


def inquiries_value(pairs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The 询问 as kept: question and answer pairs in the order asked. Raises DeviceError for one too long."""
    return _rows(pairs, {"question": (2000, "问题"), "answer": (10_000, "回答")}, 200, "询问")


def documents_value(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """调取资料清单: name, 份数/页数, 原件 or 复印件 (default 复印件)."""
    return _rows(documents, {"name": (200, "名称"), "quantity": (200, "份数（页数）")}, 500, "调取资料",
                 {"form": DOCUMENT_FORMS})


def preservation_value(approved_by: str, items: Sequence[Mapping[str, Any]], registered_at: str | None,
                       now: datetime) -> dict[str, Any]:
    """先行登记保存 as kept: the approver, the items (name, quantity, where kept), when the first item was
    registered and the last day of the decision on them (行政处罚法 第五十六条, 工作日 per 第八十五条)."""
    kept = _rows(items, {"name": (200, "名称"), "quantity": (200, "数量"), "place": (200, "存放地点")}, 200,
                 "先行登记保存物品")
    registered = (registered_at or now.isoformat()) if kept else None
    decision_by = working_days_after(datetime.fromisoformat(registered).date(), record_rules().preservation.days) \
        if registered else None
    return {"approved_by": _bounded(approved_by, 200, "批准人"), "items": kept, "registered_at": registered,
            "decision_by": decision_by.isoformat() if decision_by else None}


def parts_problems(parts: Mapping[str, Any]) -> list[str]:
    """What the 询问, 调取资料 and 先行登记保存 still lack: every row filled in, the preservation approved."""
    problems = [f"询问第 {n} 问：请填写问题和回答" for n, pair in enumerate(parts.get("inquiries") or [], 1)
                if not (pair["question"] and pair["answer"])]
    problems += [f"调取资料第 {n} 项：请填写名称和份数（页数）"
                 for n, row in enumerate(parts.get("documents_taken") or [], 1) if not (row["name"] and row["quantity"])]
    preservation = parts.get("preservation") or {}
    problems += [f"先行登记保存第 {n} 项：请填写名称、数量和存放地点"
                 for n, row in enumerate(preservation.get("items") or [], 1)
                 if not (row["name"] and row["quantity"] and row["place"])]
    if preservation.get("items") and not preservation["approved_by"]:
        problems.append("先行登记保存须经行政机关负责人批准，请填写批准人")
    return problems


def record_parts(parts: Mapping[str, Any]) -> dict[str, Any]:
    """The parts as the record carries them: only those with content (a record without keeps its hash)."""
    out = {part: parts[part] for part in ("inquiries", "documents_taken") if parts.get(part)}
    preservation = parts.get("preservation")
    if preservation and preservation["items"]:
        out["preservation"] = preservation
    return out


@dataclass(frozen=True)
class PhotoInfo:
    id: str
    item_id: str
    sha256: str
    size: int
    thumbnail_size: int
    meta: dict[str, Any]  # caption, captured_at, gps, source, added_at, width, height, source_format

    def manifest_entry(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "item_id": self.item_id, "size": self.size, "media_type": PHOTO_MEDIA_TYPE,
                **self.meta}


@dataclass(frozen=True)
class Facts:
    """Everything an inspection holds, decrypted: the input of the pure builders below."""

    inspection: Inspection
    assignment: DeviceAssignment
    template: Template
    device_id: str
    checkin: dict[str, Any] | None
    answers: dict[str, AnswerData]
    photos: list[PhotoInfo]
    staff: dict[str, list[str]]
    marks: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> signature mark (with review_hash)
    refusal: dict[str, Any] | None = None
    suspicions: list[dict[str, Any]] = field(default_factory=list)  # the assignment's 疑点, as the bureau signed them
    checks: dict[str, CheckData] = field(default_factory=dict)  # hit_id -> verdict
    parts: dict[str, Any] = field(default_factory=dict)  # RecordPart.part -> as kept (询问, 调取资料, 先行登记保存)

    @property
    def record_id(self) -> str:
        return self.inspection.record_id or self.inspection.id

    def photos_of(self, item_id: str) -> list[PhotoInfo]:
        return [p for p in self.photos if p.item_id == item_id]


def open_items(facts: Facts) -> dict[str, list[str]]:
    """Item id → why it is not closed, for every item not closed."""
    found = {}
    for item in facts.template.items:
        problems = item_problems(item, facts.answers.get(item.id), len(facts.photos_of(item.id)))
        if problems:
            found[item.id] = problems
    return found


def progress(facts: Facts) -> scoring.Progress:
    """答了 n / N counts closed items; the live score is over those."""
    still_open = open_items(facts)
    closed = {k: {"result": a.result, "note": a.note, "amount_yuan": a.amount_yuan}
              for k, a in facts.answers.items() if k not in still_open}
    return scoring.score_partial(facts.template, closed)


def raw_answers(facts: Facts) -> dict[str, dict[str, Any]]:
    """The answers as the record carries them (and the bureau rescores): photos named by evidence hash."""
    out = {}
    for item_id, answer in sorted(facts.answers.items()):
        entry: dict[str, Any] = {"result": answer.result, "note": answer.note, "amount_yuan": answer.amount_yuan}
        hashes = [p.sha256 for p in facts.photos_of(item_id)]
        if hashes:
            entry["photos"] = hashes
        out[item_id] = entry
    return out


def findings(facts: Facts) -> list[dict[str, Any]]:
    """Each failed item as a finding, in template order: its category, basis, amount, staff and description."""
    out = []
    for item in facts.template.items:
        answer = facts.answers.get(item.id)
        if answer is None or answer.result != "fail":
            continue
        out.append({**finding_of(item, answer.amount_yuan, answer.note, [p.sha256 for p in facts.photos_of(item.id)]),
                    "staff_codes": facts.staff.get(item.id, [])})
    return out


def suspicion_checks(facts: Facts) -> list[dict[str, Any]]:
    """The checked 疑点 as the record carries them, in the assignment's order; photos by evidence hash (their
    manifest entries name the hit as `item_id`). Unchecked ones are absent."""
    return [{"hit_id": s["hit_id"], "rule": s["rule"], "verdict": check.verdict, "note": check.note,
             "amount_yuan": check.amount_yuan, "photos": [p.sha256 for p in facts.photos_of(s["hit_id"])]}
            for s in facts.suspicions if (check := facts.checks.get(s["hit_id"])) is not None]


def review_content(facts: Facts) -> dict[str, Any]:
    """The content everyone reviews and signs. Raises checklists.InputError while answers are incomplete."""
    inspection, assignment = facts.inspection, facts.assignment
    result = scoring.score(facts.template, raw_answers(facts))
    content: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "record_id": facts.record_id,
        "version": inspection.version,
        "device_id": facts.device_id,
        "assignment_id": assignment.id,
        "institution_code": assignment.institution_code,
        "institution": {"code": assignment.institution_code, "name": assignment.institution_name,
                        "kind": assignment.institution_kind, "address": assignment.institution_address},
        "inspection_kind": assignment.reason,
        "team": list(assignment.team),
        "inspector_code": inspection.inspector_code,
        "template_id": inspection.template_id,
        "template_hash": inspection.template_hash,
        "checkin": facts.checkin,
        "answers": raw_answers(facts),
        "photos": [p.manifest_entry() for p in facts.photos if p.item_id != REFUSAL_ITEM],
        "findings": findings(facts),
        "score": {"value": None if result.score is None else str(result.score), "critical": result.critical},
        "created_at": _iso(inspection.created_at),
    }
    if inspection.version > 1:
        content["previous_hash"] = inspection.previous_hash
        content["correction_reason"] = inspection.correction_reason
    checks = suspicion_checks(facts)
    if checks:  # absent otherwise, so a record locked before 疑点 travelled keeps its hash
        content["suspicion_checks"] = checks
    content.update(record_parts(facts.parts))
    return content


def signing_problems(facts: Facts, review_hash: str) -> list[str]:
    """What is missing before the record can be locked: two inspectors' signatures, and the representative's or a
    recorded refusal with a witness signature and a photo; all made on the content as it is now."""
    labels = {"inspector_1": "检查人员（一）", "inspector_2": "检查人员（二）", "representative": "被检查单位在场人员",
              "witness": "见证人"}
    problems = [f"内容已改变，{labels[role]}须重新签名" for role, mark in facts.marks.items()
                if mark["review_hash"] != review_hash]
    for role in ("inspector_1", "inspector_2"):
        if role not in facts.marks:
            problems.append(f"{labels[role]}尚未签名")
    if facts.refusal is None:
        if "representative" not in facts.marks:
            problems.append("被检查单位在场人员尚未签名（如拒签，请记录拒签）")
        return problems
    if facts.refusal["review_hash"] != review_hash:
        problems.append("内容已改变，请重新记录拒签")
    if "witness" not in facts.marks:
        problems.append("拒签须由见证人签名")
    if not facts.photos_of(REFUSAL_ITEM):
        problems.append("拒签须拍照记录")
    return problems


def record_fields(facts: Facts, locked_at: datetime) -> dict[str, Any]:
    """The locked record (without the blob manifest, which `build_record` adds)."""
    content = review_content(facts)
    review_hash = content_hash(content)
    fields = {**content, "review_hash": review_hash,
              "signatures": [facts.marks[role]["signature"] for role in SIGNING_ROLES if role in facts.marks],
              "refusal": None, "locked_at": _iso(locked_at)}
    if facts.refusal is not None:
        fields["refusal"] = {key: facts.refusal[key] for key in ("reason", "witness_name", "recorded_at",
                                                                 "media_note")}
        if facts.refusal.get("witness_id_number"):  # a refusal recorded before issue #12 has none
            fields["refusal"]["witness_id_number"] = facts.refusal["witness_id_number"]
        fields["refusal"]["witness_signature"] = facts.marks["witness"]["signature"] if "witness" in facts.marks \
            else None
        fields["refusal"]["photos"] = [p.manifest_entry() for p in facts.photos_of(REFUSAL_ITEM)]
    return fields


def evidence_of(facts: Facts, store: EvidenceStore) -> list[device.Evidence]:
    """The photo blobs the outbox sends (read through the sync run's loader: they are encrypted here); the camera
    original is freed once the bureau has confirmed the blob."""
    return [device.Evidence(p.item_id, outbox.BlobSource(
        sha256=p.sha256, size=p.size, media_type=PHOTO_MEDIA_TYPE, path=None,
        free_after_receipt=store.path(p.sha256, "original"))) for p in facts.photos]


def short_hash(hex_digest: str) -> str:
    """The form shown on screen and read aloud: the first 16 hex digits in groups of 4."""
    return " ".join(hex_digest[i:i + 4] for i in range(0, 16, 4))


def _iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().replace(microsecond=0).isoformat()


def pdf_inputs(record: dict[str, Any], record_hash: str, photo_jpegs: Mapping[tuple[str, str], bytes],
               signature_pngs: Mapping[str, bytes], unbound: Sequence[str] = (),
               suspicions: Sequence[Mapping[str, Any]] = ()) -> tuple[record_pdf.RecordForPdf, list, list]:
    """`render_record_pdf` arguments for a locked record; `unbound`: inspectors who signed by hand only;
    `suspicions`: the assignment's 疑点 (their rule names and 结算ID for the 疑点核查 section)."""
    checkin = record["checkin"]
    failed = record["findings"]
    counts = {result: sum(1 for a in record["answers"].values() if a["result"] == result)
              for result in scoring.RESULTS}
    numbers = [p["item_id"] for p in record["photos"]]  # the 笔录 numbers the photos in this order

    def evidence(item_id: str) -> str:
        shown = [str(n) for n, of in enumerate(numbers, 1) if of == item_id]
        return f"照片 {'、'.join(shown)}" if shown else ""

    notes = [f"签名前核对的内容摘要（SHA-256）：{record['review_hash']}"]
    notes += [f"{signature.unbound_text(code)}：其签名仅为手写笔迹，未经本人密钥认证。" for code in unbound]
    if record["version"] > 1:
        notes.insert(0, f"本笔录为第 {record['version']} 版，更正前一版（内容哈希 {record['previous_hash']}）。"
                        f"更正原因：{record['correction_reason']}")
    pdf_record: record_pdf.RecordForPdf = {
        "record_id": record["record_id"] + (f"（第 {record['version']} 版）" if record["version"] > 1 else ""),
        "inspection_kind": INSPECTION_KINDS.get(record["inspection_kind"], record["inspection_kind"]),
        "institution": record["institution"],
        "started_at": checkin["checked_in_at"],
        "ended_at": _local(record["locked_at"]),
        "place": checkin["place"],
        "gps": {"lat": checkin["gps"]["lat"], "lon": checkin["gps"]["lon"]} if checkin["gps"] else None,
        "officers": [{"name": o["name"], "badge_no": o["badge_no"]} for o in checkin["officers"]],
        "id_shown": all(o["id_shown"] for o in checkin["officers"]),
        "representative": checkin["representative"],
        "items": {"total": len(record["answers"]), "passed": counts["pass"], "failed": counts["fail"],
                  "not_applicable": counts["na"],
                  "failed_items": [{"item_id": f["item_id"], "title": f["title"], "amount": f["amount_yuan"],
                                    "note": f["description"]} for f in failed]},
        "findings": [{"description": f["description"] + (f"（责任人员代码：{'、'.join(f['staff_codes'])}）"
                                                         if f["staff_codes"] else ""),
                      "evidence": evidence(f["item_id"]), "amount": f["amount_yuan"]} for f in failed],
        "notes": "\n".join(notes),
        "content_hash": record_hash,
    }
    add_legal_elements(pdf_record, record)
    if record.get("suspicion_checks"):
        pdf_record["suspicion_checks"] = pdf_suspicion_checks(record["suspicion_checks"], suspicions)
    shown = [*record["photos"], *(record["refusal"]["photos"] if record["refusal"] else [])]
    pdf_photos = [(p["caption"] + (f"（拍摄于 {p['captured_at'].replace('T', ' ')}）" if p["captured_at"] else ""),
                   photo_jpegs[(p["sha256"], p["caption"])]) for p in shown]
    signed = {s["role"]: s for s in record["signatures"]}
    entries: list[tuple[str, str, bytes | None, dict[str, Any] | None]] = [
        (role, signed[role]["signer_name"], signature_pngs[role], None) for role in SIGNING_ROLES if role in signed]
    refusal = record["refusal"]
    if refusal is not None:
        entries.append(("representative", checkin["representative"]["name"], None, {
            "reason": refusal["reason"], "witness_name": refusal["witness_name"],
            **({"witness_id_number": refusal["witness_id_number"]} if refusal.get("witness_id_number") else {}),
            "witness_signature_png": signature_pngs.get("witness"), "recorded_at": refusal["recorded_at"],
            **({"media_note": refusal["media_note"]} if refusal["media_note"] else {})}))
    return pdf_record, pdf_photos, entries


def add_legal_elements(out: record_pdf.RecordForPdf, record: Mapping[str, Any]) -> None:
    """What the 笔录 prints of issue #15's elements, for a record that has them: the 记录人, the 法定代表人, the notices
    and answers, the 询问, the documents taken and a 先行登记保存 with the last day of its decision. A record
    checked in before then has none of them (nothing is printed for them)."""
    checkin = record["checkin"]
    if checkin.get("notices") is None:
        return
    recorder = next((o for o in checkin["officers"] if o["inspector_code"] == checkin.get("recorder")), None)
    if recorder is not None:  # the schema lets a record name notices without a 记录人: nothing to print for it
        out["recorder"] = {"name": recorder["name"], "badge_no": recorder["badge_no"]}
    if checkin.get("legal_representative") is not None:
        out["legal_representative"] = checkin["legal_representative"]
    out["notices"] = [{"title": n["title"], "basis": n["basis"], "text": n["text"], "question": n["question"],
                       "given": n["given"], "answer": n["answer"], "detail": n["detail"]} for n in checkin["notices"]]
    out["inquiries"] = record.get("inquiries") or []
    out["documents_taken"] = record.get("documents_taken") or []
    preservation = record.get("preservation")
    if preservation:
        law = record_rules().preservation
        out["preservation"] = {
            "approved_by": preservation["approved_by"], "registered_at": preservation["registered_at"],
            "items": preservation["items"],
            "deadline": f"依据{law.basis}，应当在 {law.days} 日内（{law.counting_basis}：指工作日，不含法定节假日）"
                        f"作出处理决定，即最迟于 {_date_text(preservation['decision_by'])}"
                        f"（按周一至周五计；遇法定节假日、调休，以实际工作日为准）；在此期间，当事人或者有关人员"
                        f"不得销毁或者转移证据。"}


def _date_text(iso_date: str) -> str:
    day = datetime.fromisoformat(iso_date)
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def pdf_suspicion_checks(checks: Sequence[Mapping[str, Any]],
                         suspicions: Sequence[Mapping[str, Any]]) -> list[record_pdf.SuspicionCheck]:
    """The record's 疑点 checks as the 笔录 prints them, named as the assignment's 疑点 name them."""
    carried = {s["hit_id"]: s for s in suspicions}
    out: list[record_pdf.SuspicionCheck] = []
    for check in checks:
        suspicion = carried.get(check["hit_id"], {})
        out.append({"rule": f"{check['rule']} {suspicion.get('rule_name', '')}".strip(),
                    "settlement_id": suspicion.get("settlement_id"), "verdict": VERDICTS[check["verdict"]],
                    "amount": check["amount_yuan"], "note": check["note"]})
    return out


# ============================================================ sealed rows

def _seal(key: vault.DataKey, slot: vault.Slot, value: Any) -> bytes:
    return vault.encrypt_content(key, canonical_bytes(value), slot)


def _unseal(key: vault.DataKey, slot: vault.Slot, blob: bytes) -> Any:
    return loads_canonical(vault.decrypt_content(key, blob, slot))


def _checkin_slot(inspection_id: str) -> vault.Slot:
    return vault.Slot("checkin", (inspection_id,))


def _photo_meta_slot(inspection_id: str, photo_id: str) -> vault.Slot:
    return vault.Slot("photo-meta", (inspection_id, photo_id))


def _stroke_slot(inspection_id: str, role: str, seq: int) -> vault.Slot:
    return vault.Slot("stroke", (inspection_id, role, str(seq)))


def _refusal_slot(inspection_id: str) -> vault.Slot:
    return vault.Slot("refusal", (inspection_id,))


def _part_slot(inspection_id: str, part: str) -> vault.Slot:
    return vault.Slot("record-part", (inspection_id, part))


def _check_slot(inspection_id: str, hit_id: str) -> vault.Slot:
    return vault.Slot("suspicion-check", (inspection_id, hit_id))


# ============================================================ operations (thin)

def current_inspection(engine: Engine, assignment_id: str) -> Inspection | None:
    """The newest version of the newest inspection of an assignment."""
    with Session(engine) as session:
        return session.exec(select(Inspection).where(Inspection.assignment_id == assignment_id)
                            .order_by(col(Inspection.version).desc(), col(Inspection.created_at).desc())).first()


def start_inspection(engine: Engine, assignment_id: str, inspector_code: str) -> Inspection:
    """The inspection of an assignment as the inspector left it, created (template pinned by hash) on first open."""
    found = current_inspection(engine, assignment_id)
    if found is not None:
        return found
    template = checklists.template_for_kind(device.assignment(engine, assignment_id).institution_kind)
    return device.open_inspection(engine, assignment_id, inspector_code, template.id, template.hash)


def _draft(session: Session, inspection_id: str, *, content: bool = True) -> Inspection:
    """The inspection, if it may still change; `content`: also no signature may have been given yet."""
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise device.DeviceError("检查记录不存在")
    if inspection.status != "draft":
        raise device.DeviceError("检查记录已签名锁定，不能再修改；如需更正，请发起更正")
    if content and (session.exec(select(SignatureMark.role).where(SignatureMark.inspection_id == inspection_id))
                    .first() or session.get(RefusalNote, inspection_id)):
        raise device.DeviceError("已有人签名：如需修改内容，请先作废全部签名")
    return inspection


def _touch(session: Session, inspection: Inspection) -> None:
    inspection.updated_at = utcnow()
    session.add(inspection)


def save_checkin(engine: Engine, key: vault.DataKey, inspection_id: str, checkin: Mapping[str, Any]) -> None:
    """Store 到场登记 as entered (`checkin_problems` says what is still missing); the officers' names and 执法证号
    are the registry's (`registry_officers`) whatever was typed, when the assignment names them; the notices are
    kept with the words the rules give them (`notices_given`)."""
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
        assignment = session.get(DeviceAssignment, inspection.assignment_id) if inspection else None
    registry = registry_officers(assignment) if assignment else {}
    legal = checkin.get("legal_representative") or {}
    value = {"officers": [{"inspector_code": o["inspector_code"],
                           **registry.get(o["inspector_code"], {"name": o["name"].strip(),
                                                                "badge_no": o["badge_no"].strip()}),
                           "id_shown": bool(o["id_shown"])}
                          for o in checkin["officers"]],
             "representative": {**{k: (checkin["representative"].get(k) or "").strip()
                                   for k in ("name", "role", "phone")},
                                "id_number": id_number_text(checkin["representative"].get("id_number"))},
             "place": (checkin.get("place") or "").strip(), "gps": checkin.get("gps"),
             "gps_note": "" if checkin.get("gps") else (checkin.get("gps_note") or ""),
             "checked_in_at": checkin.get("checked_in_at") or local_now().isoformat(),
             "recorder": recorder_of(checkin),
             "legal_representative": {"title": legal.get("title") or LEGAL_TITLES[0],
                                      "name": (legal.get("name") or "").strip(),
                                      "id_number": id_number_text(legal.get("id_number"))},
             "notices": notices_given(checkin.get("notices") or [])}
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        session.merge(CheckIn(inspection_id=inspection_id, sealed=_seal(key, _checkin_slot(inspection_id), value),
                              updated_at=utcnow()))
        _touch(session, inspection)
        session.commit()


def save_answer(engine: Engine, key: vault.DataKey, inspection_id: str, item_id: str, result: str, note: str = "",
                amount: str | None = None) -> AnswerData:
    """Validate and store one answer (note and amount sealed); returns it as stored."""
    answer = normalize_answer(result, note, amount)
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        sealed = _seal(key, vault.answer_slot(inspection_id, item_id),
                       {"note": answer.note, "amount_yuan": answer.amount_yuan})
        session.merge(Answer(inspection_id=inspection_id, item_id=item_id, result=answer.result, note="",
                             amount_yuan=None, sealed=sealed, updated_at=utcnow()))
        _touch(session, inspection)
        session.commit()
    return answer


def _save_part(engine: Engine, key: vault.DataKey, inspection_id: str, part: str, value: Any) -> None:
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        session.merge(RecordPart(inspection_id=inspection_id, part=part,
                                 sealed=_seal(key, _part_slot(inspection_id, part), value), updated_at=utcnow()))
        _touch(session, inspection)
        session.commit()


def save_inquiries(engine: Engine, key: vault.DataKey, inspection_id: str,
                   pairs: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The 询问 as typed so far (question/answer pairs), sealed; returns it as kept."""
    value = inquiries_value(pairs)
    _save_part(engine, key, inspection_id, "inquiries", value)
    return value


def save_documents_taken(engine: Engine, key: vault.DataKey, inspection_id: str,
                         documents: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    value = documents_value(documents)
    _save_part(engine, key, inspection_id, "documents_taken", value)
    return value


def save_preservation(engine: Engine, key: vault.DataKey, inspection_id: str, approved_by: str,
                      items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """先行登记保存 as typed so far; the registration time is that of the first save with an item."""
    earlier = facts(engine, key, inspection_id).parts.get("preservation") or {}
    value = preservation_value(approved_by, items, earlier.get("registered_at"), local_now())
    _save_part(engine, key, inspection_id, "preservation", value)
    return value


def save_staff_codes(engine: Engine, key: vault.DataKey, inspection_id: str, item_id: str, text: str) -> list[str]:
    """The responsible staff of a finding; raises DeviceError naming every invalid code."""
    codes, problems = parse_staff_codes(text)
    if problems:
        raise device.DeviceError("；".join(problems))
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        session.merge(FindingDetail(inspection_id=inspection_id, item_id=item_id,
                                    sealed=_seal(key, vault.finding_slot(inspection_id, item_id), {"staff_codes": codes}),
                                    updated_at=utcnow()))
        _touch(session, inspection)
        session.commit()
    return codes


def save_suspicion_check(engine: Engine, key: vault.DataKey, inspection_id: str, hit_id: str, verdict: str,
                         note: str, amount: str | None = None) -> CheckData:
    """Validate and store the verdict on one 疑点 of the assignment (note and amount sealed); returns it as stored.
    Raises DeviceError (the previous verdict stays)."""
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        assignment = session.get(DeviceAssignment, inspection.assignment_id)
    suspicion = next((s for s in device.suspicions_of(assignment, key) if s["hit_id"] == hit_id), None) \
        if assignment is not None else None
    if suspicion is None:
        raise device.DeviceError(f"检查任务中没有疑点 {hit_id}")
    check = normalize_check(suspicion, verdict, note, amount)
    with Session(engine) as session:
        inspection = _draft(session, inspection_id)
        session.merge(SuspicionCheck(inspection_id=inspection_id, hit_id=hit_id, verdict=check.verdict,
                                     sealed=_seal(key, _check_slot(inspection_id, hit_id),
                                                  {"note": check.note, "amount_yuan": check.amount_yuan}),
                                     updated_at=utcnow()))
        _touch(session, inspection)
        session.commit()
    return check


def add_photo(engine: Engine, store: EvidenceStore, key: vault.DataKey, inspection_id: str, item_id: str,
              data: bytes, *, source: str, caption_item: str) -> PhotoInfo:
    """Run a camera or picked image through the evidence pipeline and attach it. Raises photos.PhotoError for an
    unusable file (nothing is stored) or DeviceError. Files first, each atomic; the row last: a crash in between
    leaves at most unreferenced files, never a row without its files."""
    with Session(engine) as session:
        inspection = _draft(session, inspection_id, content=item_id != REFUSAL_ITEM)
        assignment = session.get(DeviceAssignment, inspection.assignment_id)
        if assignment is None:
            raise device.DeviceError("本机没有这项检查任务")
    taken = local_now()
    processed = photos.process_photo(data, caption=photos.photo_caption(
        taken.strftime("%Y-%m-%d %H:%M"), assignment.institution_name, caption_item))
    sha = processed.sha256
    for variant, plain in (("original", data), ("stored", processed.stored_jpeg),
                           ("thumbnail", processed.thumbnail_jpeg)):
        store.put(key, sha, variant, plain)
    meta = processed.metadata
    photo_id = str(uuid.uuid4())
    info = PhotoInfo(photo_id, item_id, sha, len(processed.stored_jpeg), len(processed.thumbnail_jpeg), {
        "caption": processed.caption, "captured_at": meta.captured_at,
        "gps": {"lat": meta.gps_lat, "lon": meta.gps_lon} if meta.gps_lat else None, "source": source,
        "added_at": taken.isoformat(), "width": processed.width, "height": processed.height,
        "source_format": meta.source_format})
    with Session(engine) as session:
        inspection = _draft(session, inspection_id, content=item_id != REFUSAL_ITEM)
        existing = session.exec(select(Photo).where(Photo.inspection_id == inspection_id, Photo.item_id == item_id,
                                                    Photo.sha256 == sha)).first()
        if existing is not None:
            return _photo_info(key, existing)
        session.add(Photo(id=photo_id, inspection_id=inspection_id, item_id=item_id, sha256=sha, size=info.size,
                          thumbnail_size=info.thumbnail_size,
                          sealed=_seal(key, _photo_meta_slot(inspection_id, photo_id), info.meta)))
        _touch(session, inspection)
        session.commit()
    return info


def remove_photo(engine: Engine, store: EvidenceStore, inspection_id: str, photo_id: str) -> None:
    with Session(engine) as session:
        row = session.get(Photo, photo_id)
        if row is None or row.inspection_id != inspection_id:
            return
        inspection = _draft(session, inspection_id, content=row.item_id != REFUSAL_ITEM)
        sha = row.sha256
        session.delete(row)
        _touch(session, inspection)
        session.commit()
        still_used = session.exec(select(Photo.id).where(Photo.sha256 == sha)).first()
    if still_used is None:
        store.remove(sha)


def _photo_info(key: vault.DataKey, row: Photo) -> PhotoInfo:
    return PhotoInfo(row.id, row.item_id, row.sha256, row.size, row.thumbnail_size,
                     _unseal(key, _photo_meta_slot(row.inspection_id, row.id), row.sealed))


def add_stroke(engine: Engine, key: vault.DataKey, inspection_id: str, role: str, started_at: str,
               points: Sequence[signature.Point]) -> int:
    """Save one stroke of a signature as the finger lifts: its wall-clock start and its points (x, y, ms since
    the stroke began). Returns its number."""
    if role not in ROLES:
        raise device.DeviceError(f"未知的签名人身份：{role}")
    with Session(engine) as session:
        _draft(session, inspection_id, content=False)
        if session.get(SignatureMark, (inspection_id, role)) is not None:
            raise device.DeviceError("该签名已确认；如需重签，请先清除")
        seq = (session.exec(select(func.max(SignatureStroke.seq)).where(
            SignatureStroke.inspection_id == inspection_id, SignatureStroke.role == role)).one() or 0) + 1
        session.add(SignatureStroke(inspection_id=inspection_id, role=role, seq=seq, sealed=_seal(
            key, _stroke_slot(inspection_id, role, seq),
            {"started_at": started_at, "points": [[int(x), int(y), int(t)] for x, y, t in points]})))
        session.commit()
    return seq


def strokes_of(engine: Engine, key: vault.DataKey, inspection_id: str, role: str) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.exec(select(SignatureStroke).where(SignatureStroke.inspection_id == inspection_id,
                                                          SignatureStroke.role == role)
                            .order_by(col(SignatureStroke.seq))).all()
        return [_unseal(key, _stroke_slot(inspection_id, role, r.seq), r.sealed) for r in rows]


def signature_from_strokes(role: str, signer_name: str, canvas: tuple[int, int], strokes: Sequence[Mapping[str, Any]],
                           finished_at: datetime) -> signature.Signature:
    """One Signature from strokes saved one by one: times become milliseconds since the first touch."""
    if not strokes:
        raise signature.SignatureError("empty", "签名为空，请在签名框内签名")
    first = datetime.fromisoformat(strokes[0]["started_at"])
    timed: list[tuple[signature.Point, ...]] = []
    for stroke in strokes:
        offset = round((datetime.fromisoformat(stroke["started_at"]) - first).total_seconds() * 1000)
        if timed and timed[-1]:  # never before the previous stroke ended (clock steps, coarse clocks)
            offset = max(offset, timed[-1][-1][2] + 1)
        timed.append(tuple((x, y, offset + t) for x, y, t in stroke["points"]))
    made = signature.Signature(role=role, signer_name=signer_name.strip(), canvas_width=canvas[0],
                               canvas_height=canvas[1], strokes=tuple(timed),
                               started_at=first.isoformat(), finished_at=max(finished_at, first).isoformat())
    signature.validate_signature(made)
    return made


def confirm_signature(engine: Engine, key: vault.DataKey, inspection_id: str, role: str, signer_name: str,
                      canvas: tuple[int, int]) -> signature.Signature:
    """The signer confirms: the strokes become their signature on the content as it is now (its review hash).
    Raises SignatureError (with a message for the signer) or DeviceError."""
    current = review(engine, key, inspection_id)
    if current.hash is None:
        raise device.DeviceError("检查内容尚不完整，不能签名：" + "；".join(current.problems[:3]))
    if role == "representative" and current.facts.refusal is not None:
        raise device.DeviceError("已记录拒签；如在场人员同意签名，请先作废拒签记录")
    made = signature_from_strokes(role, signer_name, canvas, strokes_of(engine, key, inspection_id, role),
                                  local_now())
    with Session(engine) as session:
        _draft(session, inspection_id, content=False)
        session.merge(SignatureMark(inspection_id=inspection_id, role=role, review_hash=current.hash,
                                    sealed=_seal(key, vault.signature_slot(inspection_id, role), made.to_dict())))
        session.commit()
    return made


def clear_signature(engine: Engine, inspection_id: str, role: str) -> None:
    with Session(engine) as session:
        _draft(session, inspection_id, content=False)
        session.exec(delete(SignatureStroke).where(col(SignatureStroke.inspection_id) == inspection_id,
                                                   col(SignatureStroke.role) == role))
        session.exec(delete(SignatureMark).where(col(SignatureMark.inspection_id) == inspection_id,
                                                 col(SignatureMark.role) == role))
        session.commit()


def record_refusal(engine: Engine, key: vault.DataKey, inspection_id: str, reason: str, witness_name: str,
                   media_note: str = "", witness_id_number: str = "") -> None:
    """拒签: the representative refuses; a witness (named here with the 身份证号码, signing as role "witness") and a
    photo complete it."""
    if not reason.strip() or not witness_name.strip():
        raise device.DeviceError("请填写拒签理由和见证人姓名")
    witness_id = id_number_text(witness_id_number)
    id_problem = record_schema.id_number_problem(witness_id)
    if id_problem is not None:
        raise device.DeviceError("见证人" + id_problem)
    current = review(engine, key, inspection_id)
    if current.hash is None:
        raise device.DeviceError("检查内容尚不完整：" + "；".join(current.problems[:3]))
    with Session(engine) as session:
        _draft(session, inspection_id, content=False)
        if session.get(SignatureMark, (inspection_id, "representative")) is not None:
            raise device.DeviceError("在场人员已签名，不能再记录拒签")
        session.merge(RefusalNote(inspection_id=inspection_id, review_hash=current.hash, sealed=_seal(
            key, _refusal_slot(inspection_id), {"reason": reason.strip(), "witness_name": witness_name.strip(),
                                                "witness_id_number": witness_id,
                                                "media_note": media_note.strip(),
                                                "recorded_at": local_now().isoformat()})))
        session.commit()


def void_signatures(engine: Engine, store: EvidenceStore, inspection_id: str) -> None:
    """Back to editing: every signature, stroke, the refusal and its photos go."""
    with Session(engine) as session:
        _draft(session, inspection_id, content=False)
        for model in (SignatureStroke, SignatureMark):
            session.exec(delete(model).where(col(model.inspection_id) == inspection_id))
        session.exec(delete(RefusalNote).where(col(RefusalNote.inspection_id) == inspection_id))
        refusal_photos = session.exec(select(Photo.id).where(Photo.inspection_id == inspection_id,
                                                             Photo.item_id == REFUSAL_ITEM)).all()
        session.commit()
    for photo_id in refusal_photos:
        remove_photo(engine, store, inspection_id, photo_id)


def facts(engine: Engine, key: vault.DataKey | None, inspection_id: str) -> Facts:
    """Everything about one inspection, decrypted with `key`. Without a key (a headless tablet whose inspectors have
    no PIN) only plain answers can be read; anything sealed raises DeviceError."""
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
        if inspection is None:
            raise device.DeviceError("检查记录不存在")
        assignment = session.get(DeviceAssignment, inspection.assignment_id)
        if assignment is None:
            raise device.DeviceError("本机没有这项检查任务")
        answers = session.exec(select(Answer).where(Answer.inspection_id == inspection_id)).all()
        checkin = session.get(CheckIn, inspection_id)
        photo_rows = session.exec(select(Photo).where(Photo.inspection_id == inspection_id)
                                  .order_by(col(Photo.added_at), col(Photo.id))).all()
        staff_rows = session.exec(select(FindingDetail).where(FindingDetail.inspection_id == inspection_id)).all()
        marks = session.exec(select(SignatureMark).where(SignatureMark.inspection_id == inspection_id)).all()
        refusal = session.get(RefusalNote, inspection_id)
        check_rows = session.exec(select(SuspicionCheck).where(SuspicionCheck.inspection_id == inspection_id)).all()
        part_rows = session.exec(select(RecordPart).where(RecordPart.inspection_id == inspection_id)).all()
    sealed = checkin or photo_rows or staff_rows or marks or refusal or check_rows or part_rows or \
        any(a.sealed for a in answers)
    if key is None and sealed:
        raise device.DeviceError("请先输入 PIN 解锁：检查记录已加密保存")
    template = checklists.resolve_template(f"{inspection.template_id}@{inspection.template_hash}")

    def data_key() -> vault.DataKey:
        assert key is not None  # only sealed rows are opened, and those need the key (checked above)
        return key

    def answer(row: Answer) -> AnswerData:
        if row.sealed is None:
            return AnswerData(row.result, row.note, row.amount_yuan)
        opened = _unseal(data_key(), vault.answer_slot(inspection_id, row.item_id), row.sealed)
        return AnswerData(row.result, opened["note"], opened["amount_yuan"])

    return Facts(
        inspection=inspection, assignment=assignment, template=template, device_id=device.device_id_of(engine),
        checkin=_unseal(data_key(), _checkin_slot(inspection_id), checkin.sealed) if checkin else None,
        answers={row.item_id: answer(row) for row in answers},
        photos=[_photo_info(data_key(), row) for row in photo_rows],
        staff={row.item_id: _unseal(data_key(), vault.finding_slot(inspection_id, row.item_id), row.sealed)
               ["staff_codes"] for row in staff_rows},
        marks={m.role: {"review_hash": m.review_hash,
                        "signature": _unseal(data_key(), vault.signature_slot(inspection_id, m.role), m.sealed)}
               for m in marks},
        refusal={"review_hash": refusal.review_hash,
                 **_unseal(data_key(), _refusal_slot(inspection_id), refusal.sealed)} if refusal else None,
        suspicions=device.suspicions_of(assignment, key),
        checks={row.hit_id: CheckData(row.verdict, **_unseal(data_key(), _check_slot(inspection_id, row.hit_id),
                                                             row.sealed)) for row in check_rows},
        parts={row.part: _unseal(data_key(), _part_slot(inspection_id, row.part), row.sealed) for row in part_rows},
    )


@dataclass(frozen=True)
class Review:
    facts: Facts
    content: dict[str, Any] | None  # None while something is missing
    hash: str | None
    problems: list[str]  # what is missing before anyone can sign

    @property
    def short_hash(self) -> str:
        return short_hash(self.hash) if self.hash else "—"


def review(engine: Engine, key: vault.DataKey, inspection_id: str) -> Review:
    known = facts(engine, key, inspection_id)
    problems = checkin_problems(known.checkin, known.assignment.team)
    problems += [f"{item_id}：{'、'.join(why)}" for item_id, why in open_items(known).items()]
    problems += parts_problems(known.parts)
    if problems:
        return Review(known, None, None, problems)
    content = review_content(known)
    return Review(known, content, content_hash(content), [])


def lock(engine: Engine, store: EvidenceStore, key: vault.DataKey, inspection_id: str,
         signers: Sequence[keyring.Unlocked]) -> str:
    """Sign (every unlocked team member's key), seal and queue the record; from now on it is immutable. Returns the
    record hash (what the 笔录 prints)."""
    current = review(engine, key, inspection_id)
    # review() gives a hash exactly when nothing is missing (no problems)
    problems = current.problems if current.hash is None else signing_problems(current.facts, current.hash)
    if problems:
        raise device.DeviceError("还不能锁定：" + "；".join(problems[:4]))
    return finish(engine, current.facts, evidence_of(current.facts, store), signers)


def record_of(known: Facts, evidence: Sequence[device.Evidence], locked_at: datetime) -> dict[str, Any]:
    """The record of an inspection as it is locked and signed: the reviewed content, its review hash, the
    handwritten signatures or the refusal, and the manifest of `evidence`. It is checked against the record schema
    the bureau validates with (`sync.record_schema`), so the tablet never signs what the bureau would refuse. The
    score is the one the tablet showed; the bureau recomputes it, and the findings, from the raw answers."""
    listed = {p.sha256 for p in known.photos}
    extra = [PhotoInfo(f"evidence-{n}", item.item_id, item.blob.sha256, item.blob.size, 0, {})
             for n, item in enumerate(evidence) if item.blob.sha256 not in listed]
    if extra:  # blobs handed in by a headless caller that are not in the evidence store: named in the answers
        known = replace(known, photos=[*known.photos, *extra])
    blobs = {item.blob.sha256: item.blob for item in evidence}.values()
    record = build_record(record_fields(known, locked_at), outbox.manifest(list(blobs)))
    where = record_schema.control_character_path(record)
    if where is not None:
        raise device.DeviceError(f"检查记录的字段 {where} 含有控制字符，请删除后再签名锁定")
    try:
        record_schema.check_record(record)
    except RecordInvalid as exc:
        raise device.DeviceError(exc.message_zh) from None
    return record


def finish(engine: Engine, known: Facts, evidence: Sequence[device.Evidence] = (),
           signers: Sequence[Identity | keyring.Unlocked] | None = None) -> str:
    """Lock the inspection `known` was read from and queue its record, signed by `signers` (default: every inspector
    of the assignment's team enrolled on this tablet) and sealed to the bureau, in one transaction: a locked
    inspection is always in the outbox, and an inspection that changed after `known` was read is not locked.
    Returns the record hash (an inspection already locked: the hash it was queued with)."""
    outbox.open_outbox(engine)
    if known.inspection.status != "draft":
        sealed = queued(engine, known.inspection)
        if sealed is None:
            raise device.DeviceError("检查记录已锁定，但未在待发送队列中，请报告科室负责人")
        return sealed.record_hash
    team = set(known.assignment.team)
    chosen = {i.inspector_code: i for i in reversed(signers if signers is not None else identities(engine))
              if i.inspector_code in team}
    if not chosen:
        raise device.DeviceError("本机没有该检查组成员的签名密钥，无法完成检查")
    blobs = list({item.blob.sha256: item.blob for item in evidence}.values())
    locked_at = utcnow()
    record = record_of(known, evidence, locked_at)
    record_hash = content_hash(record)
    signatures = [sign_record(record_hash, device.signing_key(i), code) for code, i in sorted(chosen.items())]
    with Session(engine) as session:
        inspection = session.get(Inspection, known.inspection.id)
        if inspection is None or inspection.status != "draft" or inspection.updated_at != known.inspection.updated_at:
            raise device.DeviceError("检查记录在签名时被修改，请重新完成")
        inspection.status, inspection.updated_at = "finished", locked_at
        inspection.key_signers = ",".join(sorted(chosen))
        session.add(inspection)
        try:
            outbox.enqueue(session, record, signatures, blobs)
        except outbox.OutboxError as exc:
            raise device.DeviceError(exc.message_zh) from None
        session.commit()
    return record_hash


def locked_record(engine: Engine, store: EvidenceStore, key: vault.DataKey,
                  inspection_id: str) -> tuple[dict[str, Any], str]:
    """The record as it was locked and queued, rebuilt from the store and checked against the hash the outbox
    sealed: (record, record hash)."""
    known = facts(engine, key, inspection_id)
    if known.inspection.status == "draft":
        raise device.DeviceError("检查记录尚未锁定")
    sealed = queued(engine, known.inspection)
    blobs = list({e.blob.sha256: e.blob for e in evidence_of(known, store)}.values())
    record = build_record(record_fields(known, known.inspection.updated_at), outbox.manifest(blobs))
    record_hash = content_hash(record)
    if sealed is None or sealed.record_hash != record_hash:
        raise device.DeviceError("本机保存的内容与已封存的记录不一致，请报告科室负责人")
    return record, record_hash


def record_pdf_bytes(engine: Engine, store: EvidenceStore, key: vault.DataKey, inspection_id: str) -> bytes:
    """The 现场检查笔录 of a locked record, made here without any network."""
    record, record_hash = locked_record(engine, store, key, inspection_id)
    shown = [*record["photos"], *(record["refusal"]["photos"] if record["refusal"] else [])]
    jpegs = {(p["sha256"], p["caption"]): photos.captioned_jpeg(store.stored_image(key, p["sha256"]), p["caption"])
             for p in shown}
    pngs = {s["role"]: signature.render_signature_png(s["strokes"], s["canvas"]["width"], s["canvas"]["height"])
            for s in record["signatures"]}
    if record["refusal"] and record["refusal"]["witness_signature"]:
        witness = record["refusal"]["witness_signature"]
        pngs["witness"] = signature.render_signature_png(witness["strokes"], witness["canvas"]["width"],
                                                         witness["canvas"]["height"])
    key_signers = known_key_signers(engine, inspection_id)
    unbound = signature.unbound_in_record(record, key_signers) if key_signers is not None else []
    suspicions = device.suspicions_of(device.assignment(engine, record["assignment_id"]), key)
    return record_pdf.render_record_pdf(*pdf_inputs(record, record_hash, jpegs, pngs, unbound, suspicions))


def known_key_signers(engine: Engine, inspection_id: str) -> list[str] | None:
    """Whose own keys signed a locked version, as recorded at lock; None for a version locked before that was
    recorded (then the bureau's verification alone says it)."""
    with Session(engine) as session:
        inspection = session.get(Inspection, inspection_id)
    if inspection is None or not inspection.key_signers:
        return None
    return inspection.key_signers.split(",")


def start_correction(engine: Engine, key: vault.DataKey, inspection_id: str, reason: str) -> Inspection:
    """A new draft version of a locked record: the same content (re-sealed for the new version), no signatures; it
    names the locked version's record hash and why it is corrected."""
    if not reason.strip():
        raise device.DeviceError("请填写更正原因")
    known = facts(engine, key, inspection_id)
    old = known.inspection
    if old.status == "draft":
        raise device.DeviceError("检查记录尚未锁定，直接修改即可")
    latest = current_inspection(engine, old.assignment_id)
    assert latest is not None  # `old` itself is an inspection of that assignment
    if latest.id != old.id:
        raise device.DeviceError("该记录已有更新的版本")
    previous = queued(engine, old)
    if previous is None:  # locked versions are queued in the transaction that locks them (`finish`)
        raise device.DeviceError("检查记录已锁定，但未在待发送队列中，请报告科室负责人")
    with Session(engine) as session:
        new = Inspection(id=str(uuid.uuid4()), assignment_id=old.assignment_id, inspector_code=old.inspector_code,
                         template_id=old.template_id, template_hash=old.template_hash, record_id=known.record_id,
                         version=old.version + 1, previous_hash=previous.record_hash,
                         correction_reason=reason.strip())
        session.add(new)
        for item_id, answer in known.answers.items():
            session.add(Answer(inspection_id=new.id, item_id=item_id, result=answer.result, sealed=_seal(
                key, vault.answer_slot(new.id, item_id), {"note": answer.note, "amount_yuan": answer.amount_yuan})))
        if known.checkin is not None:
            session.add(CheckIn(inspection_id=new.id, sealed=_seal(key, _checkin_slot(new.id), known.checkin)))
        for photo in known.photos:
            if photo.item_id == REFUSAL_ITEM:
                continue
            photo_id = str(uuid.uuid4())
            session.add(Photo(id=photo_id, inspection_id=new.id, item_id=photo.item_id, sha256=photo.sha256,
                              size=photo.size, thumbnail_size=photo.thumbnail_size,
                              sealed=_seal(key, _photo_meta_slot(new.id, photo_id), photo.meta)))
        for item_id, codes in known.staff.items():
            session.add(FindingDetail(inspection_id=new.id, item_id=item_id,
                                      sealed=_seal(key, vault.finding_slot(new.id, item_id), {"staff_codes": codes})))
        for hit_id, check in known.checks.items():
            session.add(SuspicionCheck(inspection_id=new.id, hit_id=hit_id, verdict=check.verdict, sealed=_seal(
                key, _check_slot(new.id, hit_id), {"note": check.note, "amount_yuan": check.amount_yuan})))
        for part, value in known.parts.items():
            session.add(RecordPart(inspection_id=new.id, part=part, sealed=_seal(key, _part_slot(new.id, part), value)))
        session.commit()
        session.refresh(new)
    return new


def queued(engine: Engine, inspection: Inspection) -> outbox.OutboxRecord | None:
    """The outbox row of a locked version (its sealed record hash and whether the bureau has it)."""
    with Session(engine) as session:
        return session.exec(select(outbox.OutboxRecord).where(
            outbox.OutboxRecord.record_id == (inspection.record_id or inspection.id),
            outbox.OutboxRecord.version == inspection.version)).first()


def amount_total(found: Sequence[Mapping[str, Any]]) -> str:
    return format_money(sum((Decimal(f["amount_yuan"]) for f in found if f["amount_yuan"]), Decimal("0.00")))
