"""The penalty procedure's steps as operations: each reads its inputs, lets the pure rule in `bureau.procedure`
change the case's procedure record (`bureau.review.take_step`: one audit event) and, for a payment, stores the
payment row. The caller commits. Also what the procedure's documents print (`bureau.procedure_pdf`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Callable, Mapping

from sqlmodel import Session, col, select

from bureau import case_settings, procedure, review
from bureau.agency import agency_name
from bureau.models import CasePayment, Decision, Institution, ReceivedRecord, ReviewCase, StaffAccount
from bureau.problems import ReviewError

FIELD_NAMES = {"served_on": "送达日期", "requested_on": "申请日期", "notified_on": "通知日期", "held_on": "听证日期",
               "held_at": "听证时间", "officer": "听证主持人", "days": "延长天数", "kind": "缴款类别",
               "amount_yuan": "缴款金额",
               "paid_on": "缴款日期", "method": "送达方式", "approved_on": "主要负责人批准日期"}


def _need(inputs: Mapping[str, Any], name: str) -> Any:
    value = inputs.get(name)
    if value in (None, ""):
        raise ReviewError(422, "missing_field", f"请填写{FIELD_NAMES.get(name, name)}（{name}）")
    return value


def _officer(session: Session, record_id: str, username: str) -> tuple[StaffAccount, bool]:
    """The hearing officer's account, and whether they were on the inspection team."""
    account = session.get(StaffAccount, username)
    if account is None or not account.active:
        raise ReviewError(422, "unknown_officer", f"听证主持人（officer）：没有在用的工作人员账号 {username}")
    case = session.get(ReviewCase, record_id)
    if case is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    record = review.record_of(session, case)
    return account, bool(account.inspector_code
                         and account.inspector_code in review.inspected_by(record.record, record.signers))


def run_step(session: Session, record_id: str, step: str, actor: StaffAccount, inputs: Mapping[str, Any],
             now: datetime) -> None:
    """Take `step` (one of `procedure.STEPS`) with its inputs; ReviewError when the law does not allow it."""
    if step not in procedure.STEPS:
        raise ReviewError(404, "unknown_step", f"未知的程序环节：{step}")
    if actor.role != "reviewer" and step not in procedure.SUPERVISOR_STEPS:
        raise ReviewError(403, "wrong_role", f"“{procedure.STEPS[step]}”须由审核人员办理")
    if step in procedure.SUPERVISOR_STEPS and actor.role != "supervisor":
        raise ReviewError(403, "wrong_role", f"“{procedure.STEPS[step]}”须经本部门负责人批准")
    reason = (inputs.get("reason") or "").strip()
    change: Callable[[dict[str, Any], procedure.Context], dict[str, Any]]
    if step == "renotify":
        review.renotify(session, record_id, actor, _need(inputs, "served_on"), reason, now)
        return
    if step == "request_filing":
        def change(p, c): return procedure.request_filing(p, c, reason)
    elif step == "approve_filing":
        def change(p, c): return procedure.approve_filing(p, c, inputs.get("opinion") or reason)
    elif step == "mark_major":
        def change(p, c): return procedure.mark_major(p, c, reason)
    elif step == "legal_review":
        def change(p, c): return procedure.legal_review(p, c, inputs.get("opinion") or "", inputs.get("passed") is True)
    elif step == "collective":
        def change(p, c): return procedure.collective(p, c, inputs.get("opinion") or "",
                                                      inputs.get("participants") or [])
    elif step == "extend":
        days = int(_need(inputs, "days"))

        def change(p, c): return procedure.extend(p, c, days, reason, inputs.get("discussed") is True)
    elif step == "request_hearing":
        def change(p, c): return procedure.request_hearing(p, c, _need(inputs, "requested_on"))
    elif step == "hearing_notice":
        account, inspected = _officer(session, record_id, _need(inputs, "officer"))

        def change(p, c): return procedure.hearing_notice(
            p, c, notified_on=_need(inputs, "notified_on"), held_on=_need(inputs, "held_on"),
            held_at=_need(inputs, "held_at"),
            place=inputs.get("place") or "", officer=account.username, officer_name=account.name,
            officer_inspected=inspected)
    elif step == "hearing_record":
        def change(p, c): return procedure.hearing_record(p, c, text=inputs.get("text") or "",
                                                          attendees=inputs.get("attendees") or "",
                                                          party_signed=inputs.get("party_signed") is True)
    elif step == "agreement_notice":
        def change(p, c): return procedure.agreement_notice(p, c, _need(inputs, "served_on"))
    elif step == "agreement_statement":
        def change(p, c): return procedure.agreement_statement(p, c, inputs.get("text") or "",
                                                               inputs.get("waived") is True)
    elif step == "interim_suspension":
        def change(p, c): return procedure.interim_suspension(
            p, c, facts=inputs.get("facts") or "", approver=inputs.get("approver") or "",
            approved_on=_need(inputs, "approved_on"))
    elif step == "lift_interim_suspension":
        def change(p, c): return procedure.lift_interim_suspension(p, c, inputs.get("text") or reason)
    elif step == "serve":
        def change(p, c): return procedure.serve(p, c, served_on=_need(inputs, "served_on"),
                                                 method=_need(inputs, "method"), receiver=inputs.get("receiver") or "")
    elif step == "payment":
        _record_payment(session, record_id, actor, inputs, now)
        return
    elif step == "enforce":
        def change(p, c): return procedure.enforce(p, c, payments_of(session, record_id), inputs.get("court") or "")
    elif step == "close_case":
        def change(p, c): return procedure.close_case(p, c, payments_of(session, record_id))
    else:  # archive
        def change(p, c): return procedure.archive(p, c)
    if step == "hearing_notice":  # the 听证通知书 and 听证笔录 print the settings as they are now, ever after
        change = _with_settings(change, "hearing", case_settings.snapshot(session))
    if step == "interim_suspension":  # so does the 暂停医疗保障基金结算通知书, with the facts of the version now
        case = session.get(ReviewCase, record_id)
        change = _suspension_with_settings(change, case_settings.snapshot(session), case.version if case else None)
    review.take_step(session, record_id, step, actor, now, change, reason)


def _with_settings(change: Callable[[dict[str, Any], procedure.Context], dict[str, Any]], key: str,
                   settings: Mapping[str, Any]) -> Callable[[dict[str, Any], procedure.Context], dict[str, Any]]:
    """`change`, with `settings` (`case_settings.snapshot`) kept in the procedure record's `key`, which it made."""
    def kept(p: dict[str, Any], c: procedure.Context) -> dict[str, Any]:
        after = change(p, c)
        return {**after, key: {**after[key], "settings": dict(settings)}}
    return kept


def _suspension_with_settings(change: Callable[[dict[str, Any], procedure.Context], dict[str, Any]],
                              settings: Mapping[str, Any], version: int | None,
                              ) -> Callable[[dict[str, Any], procedure.Context], dict[str, Any]]:
    """`change`, with `settings` and the record version under review kept in the interim suspension it added."""
    def kept(p: dict[str, Any], c: procedure.Context) -> dict[str, Any]:
        after = change(p, c)
        *earlier, added = after["interim_suspensions"]
        return {**after, "interim_suspensions": [*earlier, {**added, "settings": dict(settings), "version": version}]}
    return kept


def payments_of(session: Session, record_id: str) -> list[dict[str, Any]]:
    return [{"kind": p.kind, "amount_yuan": p.amount_yuan, "paid_on": p.paid_on.isoformat()}
            for p in session.exec(select(CasePayment).where(CasePayment.record_id == record_id)
                                  .order_by(col(CasePayment.paid_on), col(CasePayment.id)))]


def _record_payment(session: Session, record_id: str, actor: StaffAccount, inputs: Mapping[str, Any],
                    now: datetime) -> None:
    checked: dict[str, Any] = {}

    def change(p: dict[str, Any], c: procedure.Context) -> dict[str, Any]:
        earlier = payments_of(session, record_id)  # read under the case's lock: two payments cannot both pass
        checked.update(procedure.check_payment(p, c, earlier, kind=_need(inputs, "kind"),
                                               amount_yuan=str(_need(inputs, "amount_yuan")),
                                               paid_on=_need(inputs, "paid_on")))
        return {**p, "payments": int(p.get("payments", 0)) + 1}

    review.take_step(session, record_id, "payment", actor, now, change,
                     f"{inputs.get('kind')} {inputs.get('amount_yuan')} 元 {inputs.get('reference') or ''}".strip())
    session.add(CasePayment(record_id=record_id, kind=checked["kind"], payee=checked["payee"],
                            amount_yuan=checked["amount_yuan"], paid_on=date.fromisoformat(checked["paid_on"]),
                            reference=(inputs.get("reference") or "")[:200], recorded_by=actor.username,
                            recorded_at=now))


DOCUMENTS = {"notice": "行政处罚事先告知书", "hearing-notice": "听证通知书", "hearing-record": "听证笔录"}
SUSPENSION = "interim-suspension"  # 暂停医疗保障基金结算通知书 (条例 第三十条第一款), numbered by its suspension
LIFTED = "interim-suspension-lifted"  # 解除暂停医疗保障基金结算通知书: the 经办机构 resumes settlement on it
TITLES = {**DOCUMENTS, SUSPENSION: "暂停医疗保障基金结算通知书", LIFTED: "解除暂停医疗保障基金结算通知书"}


def _made(document: str, told: Mapping[str, Any]) -> bool:
    """Whether the notice `told` (an entry of `procedure.notices_on_file`) and its hearing made `document`."""
    hearing = told.get("hearing") or {}
    return {"notice": True, "hearing-notice": bool(hearing.get("held_on")),
            "hearing-record": bool(hearing.get("record"))}[document]


def _made_for_suspension(document: str, suspension: Mapping[str, Any]) -> bool:
    """Whether a suspension has this document: its 通知书 always, the 解除 notice once it was lifted."""
    return document == SUSPENSION or bool(suspension.get("lifted"))


def documents_on_file(proc: Mapping[str, Any]) -> list[tuple[str, int]]:
    """Every procedure document the case made, as (one of `TITLES`, the count of the notice or suspension it belongs
    to): each 告知书 served, an earlier one replaced by a 重新告知 too, the hearing documents that followed it, and
    each 暂停医疗保障基金结算通知书 with, once lifted, its 解除暂停医疗保障基金结算通知书."""
    return [(document, int(told["count"])) for told in procedure.notices_on_file(proc)
            for document in DOCUMENTS if _made(document, told)] \
        + [(document, int(s["count"])) for s in proc.get("interim_suspensions", [])
           for document in (SUSPENSION, LIFTED) if _made_for_suspension(document, s)]


def file_name(data: Mapping[str, Any]) -> str:
    """A `document_data`'s file name: its title and number (the record and the notice's or suspension's count)."""
    return f"{data['title']}-{data['record_id']}-{data['count']}.pdf"


def document_data(session: Session, record_id: str, document: str, count: int | None = None) -> dict[str, Any]:
    """What `bureau.procedure_pdf` prints for one of `DOCUMENTS` of the notice numbered `count` (the current notice
    when None): the party, the facts of the record version notified, the notified terms and basis, the procedure
    record, the deadlines' bases, and the authority as the document was issued (a later change of the setting does
    not change it; the current name for documents issued before documents kept it)."""
    if document not in TITLES:
        raise ReviewError(404, "unknown_document", f"没有这种文书：{document}")
    case = session.get(ReviewCase, record_id)
    if case is None:
        raise ReviewError(404, "unknown_record", f"没有检查记录 {record_id}")
    proc = case.procedure or {}
    if document in (SUSPENSION, LIFTED):
        return _suspension_data(session, case, count, document)
    on_file = procedure.notices_on_file(proc)
    told = next((n for n in on_file if n["count"] == count), None) if count is not None else \
        (on_file[-1] if proc.get("notice") else None)
    if told is None or not _made(document, told):
        raise ReviewError(404, "no_document", f"本案尚未制作{DOCUMENTS[document]}")
    hearing = told.get("hearing") or {}
    record = session.get_one(ReceivedRecord, (record_id, told.get("version") or case.version))
    draft = session.get(Decision, record_id)
    rules = procedure.rules()
    recorder = session.get(StaffAccount, (hearing.get("record") or {}).get("by") or "")
    issued = (told if document == "notice" else hearing).get("settings") or {}
    inspected = review.inspected_on(record.record)
    return {"document": document, "recorder": recorder.name if recorder else "", "title": DOCUMENTS[document],
            "record_id": record_id, "count": told.get("count", 1),
            "record_hash": record.record_hash, "authority": issued.get(case_settings.AGENCY) or agency_name(session),
            "procedure": {**proc, "notice": {k: v for k, v in told.items() if k != "hearing"}, "hearing": hearing},
            "institution": {**_institution(session, case),
                            "representative": (record.record.get("checkin") or {}).get("representative") or {}},
            "inspected_on": inspected.isoformat() if inspected else None,
            "findings": review.findings_check(record.record).findings,
            # as notified (a notice made before the terms kept them: the draft's)
            "basis": told.get("terms", {}).get("basis")
            or (list((draft.proposal or {}).get("basis", [])) if draft is not None else []),
            "fine_reason": told.get("terms", {}).get("fine_reason")
            or (draft.fine_reason if draft is not None else ""),
            "rules": {"statement_days": rules.statement_days, "hearing_request_days": rules.hearing_request_days,
                      "hearing_notice_days": rules.hearing_notice_days, "basis": rules.basis,
                      "statement_unit": rules.unit("statement"), "hearing_unit": rules.unit("hearing")}}


def _institution(session: Session, case: ReviewCase) -> dict[str, str]:
    """The party as the procedure documents name it, from the registry (blank where it has no row)."""
    institution = session.get(Institution, case.institution_code)
    return {"code": case.institution_code, "name": institution.name if institution else "",
            "address": institution.address if institution else "",
            "credit_code": institution.credit_code if institution else ""}


def _suspension_data(session: Session, case: ReviewCase, count: int | None, document: str) -> dict[str, Any]:
    """What the 暂停医疗保障基金结算通知书 (SUSPENSION) or its 解除 notice (LIFTED) numbered `count` (the last one when
    None) prints: the suspension as recorded (with its lifting), the institution, the suspected facts (the findings
    of the record version then under review), the authority and the 经办机构 it is addressed to as the suspension
    was issued."""
    suspensions = [s for s in (case.procedure or {}).get("interim_suspensions", [])
                   if _made_for_suspension(document, s)]
    shown = next((s for s in suspensions if s["count"] == count), None) if count is not None else \
        (suspensions[-1] if suspensions else None)
    if shown is None:
        raise ReviewError(404, "no_document", f"本案尚未制作{TITLES[document]}")
    record = session.get_one(ReceivedRecord, (case.record_id, shown.get("version") or case.version))
    inspected = review.inspected_on(record.record)
    issued = case_settings.as_issued(shown.get("settings"), case_settings.snapshot(session))
    return {"document": document, "title": TITLES[document], "record_id": case.record_id,
            "count": shown["count"], "record_hash": record.record_hash,
            "authority": issued[case_settings.AGENCY] or agency_name(session),
            "handling_agency": issued.get("handling_agency") or case_settings.BY_NAME["handling_agency"].placeholder,
            "suspension": shown, "filed_on": (case.procedure or {}).get("filed_on"),
            "institution": _institution(session, case),
            "inspected_on": inspected.isoformat() if inspected else None,
            "findings": review.findings_check(record.record).findings}
