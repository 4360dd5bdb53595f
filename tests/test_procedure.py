"""The penalty procedure's pure rules (bureau.procedure) against the articles: 立案 approved by another person,
法制审核 (行政处罚法 Art. 58) and 集体讨论 (Art. 57) before the decision, the 告知 deadlines (Art. 44/45), the hearing
(Art. 63/64: request within 5 days, notice 7 days ahead, an officer who did not investigate, a 笔录), no heavier
decision without a new notice (Art. 45 ¶2), 送达 (Art. 61), payments per payee and the late-payment surcharge
(Art. 72), 结案 and 归档, and the 90-day clock with extensions (Art. 60)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bureau import procedure
from bureau.procedure import Context, ReviewError

TODAY = date(2026, 12, 1)
TERMS = {"measures": ["责令改正", "责令退回", "罚款"], "fine_yuan": "8000.00", "suspension_months": None,
         "recover_yuan": "4000.00", "hearing_right": False, "agreement_measures": []}
HEAVY = {"measures": ["责令改正", "责令退回", "罚款", "暂停医药服务", "解除服务协议"], "fine_yuan": "150000.00",
         "suspension_months": 6, "recover_yuan": "50000.00", "hearing_right": True,
         "agreement_measures": ["解除服务协议"]}
CTX = Context(status="拟处理", today=TODAY, actor="shenhe", drafted_by="shenhe", penalty=TERMS,
              inspected_on=TODAY - timedelta(days=10))


def refused(reason: str, call, *args, **kwargs) -> str:
    with pytest.raises(ReviewError) as caught:
        call(*args, **kwargs)
    assert caught.value.reason == reason, caught.value.message
    return caught.value.message


def filed(ctx: Context = CTX) -> dict:
    asked = procedure.request_filing({}, replace(ctx, status="审核中"), "涉嫌违反条例第三十八条")
    return procedure.approve_filing(asked, replace(ctx, status="审核中", actor="kezhang"), "同意立案")


def test_the_rules_file_reads_and_cites_its_basis():
    r = procedure.rules()
    assert (r.decision_days, r.statement_days, r.hearing_request_days, r.hearing_notice_days) == (90, 5, 5, 7)
    assert r.payees == {"退回": "医疗保障基金账户", "罚款": "国库", "加处罚款": "国库"}
    assert "第六十条" in r.basis["decision_limit"] and "第七十二条" in r.basis["surcharge"]
    text = procedure.RULES_PATH.read_text(encoding="utf-8")
    with pytest.raises(ValueError) as bad:
        procedure.parse_rules(text.replace("notice_days = 7", "notice_days = -7"), "p.toml")
    assert "p.toml" in str(bad.value) and "hearing.notice_days" in str(bad.value)
    with pytest.raises(ValueError) as no_basis:
        procedure.parse_rules(text.replace('basis = "《中华人民共和国行政处罚法》第六十条', 'x = "'), "p.toml")
    assert "decision_limit.basis" in str(no_basis.value)


def test_filing_needs_a_second_person():
    asked = procedure.request_filing({}, replace(CTX, status="审核中"), "涉嫌违法")
    assert refused("same_person", procedure.approve_filing, asked, replace(CTX, status="审核中"), "同意")
    refused("reason_required", procedure.request_filing, {}, replace(CTX, status="审核中"), " ")
    refused("not_requested", procedure.approve_filing, {}, replace(CTX, actor="kezhang"), "同意")
    refused("wrong_status", procedure.request_filing, {}, replace(CTX, status="已接收"), "x")
    refused("own_inspection", procedure.request_filing, {}, replace(CTX, actor_inspected=True), "x")
    done = filed()
    assert done["filed_on"] == TODAY.isoformat() and done["filing_approved_by"] == "kezhang"
    refused("already_filed", procedure.approve_filing, done, replace(CTX, actor="fuzeren"), "同意")
    assert procedure.stage(asked, "审核中") == "立案审批" and procedure.stage(done, "审核中") == "调查取证"


def test_the_clock_and_its_extensions():
    proc = filed()
    assert procedure.clock(proc, TODAY, decided=False) == {
        "filed_on": "2026-12-01", "decision_due": "2027-03-01", "days_left": 90, "overdue": False}
    assert procedure.clock(proc, TODAY + timedelta(days=91), decided=False)["overdue"]
    assert not procedure.clock(proc, TODAY + timedelta(days=91), decided=True)["overdue"]
    assert procedure.clock({}, TODAY, decided=False)["days_left"] is None
    message = refused("too_long", procedure.extend, proc, replace(CTX, actor="kezhang"), 31, "案情复杂", False)
    assert "30" in message
    once = procedure.extend(proc, replace(CTX, actor="kezhang"), 30, "需鉴定", False)
    assert once["extensions"][0] == {"days": 30, "approver": "kezhang", "on": "2026-12-01", "reason": "需鉴定",
                                     "collective": False}
    refused("needs_collective", procedure.extend, once, replace(CTX, actor="kezhang"), 10, "仍需鉴定", False)
    twice = procedure.extend(once, replace(CTX, actor="kezhang"), 45, "集体讨论决定继续延期", True)
    assert procedure.clock(twice, TODAY, decided=False)["days_left"] == 165
    refused("not_filed", procedure.extend, {}, CTX, 10, "x", False)


def test_legal_review_and_collective_discussion_before_the_decision():
    proc = filed()
    heavy = replace(CTX, status="陈述申辩", penalty={**HEAVY, "agreement_measures": []})
    told = procedure.notice(proc, heavy, TODAY)
    problems = procedure.decide_problems(told, heavy)
    assert any("听证申请期限" in p for p in problems)  # the party may still ask for a hearing
    heavy = replace(heavy, today=TODAY + timedelta(days=10))  # the hearing-request window has passed
    problems = procedure.decide_problems(told, heavy)
    assert any("第五十八条" in p for p in problems)  # a hearing right: 法制审核
    refused("investigator", procedure.legal_review, told, heavy, "同意", True)  # the drafter reviews own work
    reviewed = procedure.legal_review(told, replace(heavy, actor="fazhi"), "事实清楚，依据正确", True)
    assert procedure.decide_problems(reviewed, heavy) == []
    other_terms = replace(heavy, penalty={**heavy.penalty, "fine_yuan": "120000.00"})
    assert any("第五十八条" in p for p in procedure.decide_problems(reviewed, other_terms))  # reviewed other terms
    failed = procedure.legal_review(told, replace(heavy, actor="fazhi"), "证据不足", False)
    assert any("法制审核未通过" in p for p in procedure.decide_problems(failed, heavy))
    major = procedure.mark_major(reviewed, heavy, "涉案金额大、社会影响大")
    assert any("第五十七条" in p for p in procedure.decide_problems(major, heavy))
    refused("too_few", procedure.collective, major, heavy, "同意", ["局长", "副局长"])
    discussed = procedure.collective(major, heavy, "同意拟处理意见", ["局长", "副局长", "科长"])
    assert procedure.decide_problems(discussed, heavy) == []
    light = replace(CTX, status="陈述申辩")
    assert procedure.decide_problems(procedure.notice(proc, light, TODAY), light) == []  # no hearing, not major
    assert any("告知书" in p for p in procedure.decide_problems(proc, light))  # filed: a notice first


def test_the_notice_counts_its_deadlines_from_service():
    told = procedure.notice(filed(), replace(CTX, penalty=HEAVY), TODAY - timedelta(days=1))["notice"]
    assert told["statement_deadline"] == "2026-12-07" and told["hearing_deadline"] == "2026-12-07"  # 5 working days
    assert told["hearing_right"] and told["terms"] == HEAVY and told["count"] == 1
    assert procedure.notice(filed(), CTX, TODAY)["notice"]["hearing_deadline"] is None
    refused("future_date", procedure.notice, filed(), CTX, TODAY + timedelta(days=1))
    refused("bad_date", procedure.notice, filed(), CTX, TODAY - timedelta(days=30))  # before the inspection
    refused("no_proposal", procedure.notice, filed(), replace(CTX, penalty=None), TODAY)


def test_a_penalty_is_notified_and_decided_only_once_filed():
    """行政处罚法 第五十四条: a 行政处罚 (罚款, 暂停) waits for an approved 立案; 责令改正 and 责令退回 (行政处理) and the
    经办机构's measures under the agreement do not."""
    assert procedure.penalties(TERMS) == ["罚款"]
    assert procedure.penalties(HEAVY) == ["罚款", "暂停医药服务"]  # 解除服务协议 is the 经办机构's
    message = refused("not_filed", procedure.notice, {}, CTX, TODAY)
    assert "罚款属于行政处罚" in message and "送达行政处罚事先告知书" in message and "第五十四条" in message
    asked = procedure.request_filing({}, replace(CTX, status="审核中"), "涉嫌违反条例第三十八条")
    refused("not_filed", procedure.notice, asked, CTX, TODAY)  # asked, not yet approved
    suspension = replace(CTX, penalty={**TERMS, "measures": ["责令改正", "暂停联网结算"], "fine_yuan": None})
    assert "暂停联网结算" in refused("not_filed", procedure.notice, {}, suspension, TODAY)
    # 决定: refused on an unfiled case that was notified before the rule (a case of an earlier version)
    hearing = replace(CTX, status="陈述申辩")
    told_unfiled = {"notice": procedure.notice(filed(), hearing, TODAY)["notice"]}
    refused("not_filed", procedure.need_filing, told_unfiled, hearing, procedure.DECIDE)
    assert any("方可作出行政处罚决定" in p for p in procedure.decide_problems(told_unfiled, hearing))
    procedure.need_filing(filed(), hearing, procedure.DECIDE)
    # ... and such a case is filed where it stands (陈述申辩), then may be decided
    asked_late = procedure.request_filing(told_unfiled, hearing, "告知在先，补办立案")
    assert "approve_filing" in procedure.available(asked_late, replace(hearing, actor="kezhang"), "supervisor")
    filed_late = procedure.approve_filing(asked_late, replace(hearing, actor="kezhang"), "同意立案")
    procedure.need_filing(filed_late, hearing, procedure.DECIDE)
    # 行政处理 only, and the agreement track: no 立案
    handling = replace(CTX, penalty={**TERMS, "measures": ["责令改正", "责令退回"], "fine_yuan": None})
    assert procedure.penalties(handling.penalty) == []
    told = procedure.notice({}, handling, TODAY)
    assert told["notice"]["served_on"] == TODAY.isoformat()
    assert procedure.decide_problems(told, replace(handling, status="陈述申辩")) == []
    agreement = replace(CTX, penalty={**TERMS, "measures": ["责令改正", "解除服务协议"], "fine_yuan": None,
                                      "agreement_measures": ["解除服务协议"]})
    assert procedure.penalties(agreement.penalty) == []
    heard = procedure.agreement_statement(procedure.agreement_notice({}, agreement, TODAY), agreement, "无异议", False)
    assert procedure.decide_problems(procedure.notice(heard, agreement, TODAY), agreement) == []



def test_the_screen_says_what_waits_for_filing():
    from staff_app.procedure_vm import procedure_lines

    waiting = procedure.filing_problem({}, TERMS, procedure.NOTIFY)
    assert procedure_lines({"record": {}, "notice_blockers": [waiting]}) == [(True, f"告知前：{waiting}")]


def hearing_case(served: date = TODAY) -> tuple[dict, Context]:
    ctx = replace(CTX, status="陈述申辩", penalty={**HEAVY, "agreement_measures": []})
    return procedure.notice(filed(), ctx, served), ctx


def test_a_hearing_request_within_five_days_only_where_offered():
    proc, ctx = hearing_case(TODAY - timedelta(days=8))  # served on Monday 23 November: 5 working days
    message = refused("hearing_request_late", procedure.request_hearing, proc, ctx, TODAY)
    assert "第六十四条第一项" in message and "2026-11-30" in message
    in_time = procedure.request_hearing(proc, ctx, TODAY - timedelta(days=1))  # the fifth day still counts
    assert in_time["hearing"] == {"requested_on": "2026-11-30"}
    refused("already_requested", procedure.request_hearing, in_time, ctx, TODAY - timedelta(days=1))
    light = replace(CTX, status="陈述申辩")
    no_right = procedure.notice(filed(), light, TODAY)
    assert "第六十三条" in refused("no_hearing_right", procedure.request_hearing, no_right, light, TODAY)
    refused("not_notified", procedure.request_hearing, {}, light, TODAY)


def test_the_hearing_notice_seven_days_ahead_and_an_officer_who_did_not_investigate():
    proc, ctx = hearing_case()
    asked = procedure.request_hearing(proc, ctx, TODAY)
    args = {"notified_on": TODAY, "held_at": "9:30", "place": "市医保局听证室", "officer": "tingzheng",
            "officer_name": "赵听证", "officer_inspected": False}
    # 7 working days after Tuesday 1 December: Thursday 10 December
    refused("hearing_too_soon", procedure.hearing_notice, asked, ctx, held_on=TODAY + timedelta(days=8), **args)
    assert "参加了本次现场检查" in refused("officer_inspected", procedure.hearing_notice, asked, ctx,
                                           held_on=TODAY + timedelta(days=9), **{**args, "officer_inspected": True})
    refused("officer_investigated", procedure.hearing_notice, asked, ctx, held_on=TODAY + timedelta(days=9),
            **{**args, "officer": "shenhe"})  # drafted the proposal
    for wrong in ("", "9点半", "24:00", "09:60", "9:5", "0930"):
        assert "held_at" in refused("bad_time", procedure.hearing_notice, asked, ctx,
                                    held_on=TODAY + timedelta(days=9), **{**args, "held_at": wrong})
    noticed = procedure.hearing_notice(asked, ctx, held_on=TODAY + timedelta(days=9), **args)
    assert noticed["hearing"]["held_on"] == "2026-12-10" and procedure.stage(noticed, "陈述申辩") == "待听证"
    assert noticed["hearing"]["held_at"] == "09:30"  # kept as HH:MM
    assert any("听证笔录" in p for p in procedure.decide_problems(noticed, replace(ctx, actor="x")))
    refused("hearing_not_held", procedure.hearing_record, noticed, ctx, text="x", attendees="y", party_signed=True)
    later = replace(ctx, today=TODAY + timedelta(days=9))
    held = procedure.hearing_record(noticed, later, text="当事人称已整改", attendees="赵听证、张丽", party_signed=True)
    assert held["hearing"]["record"]["text"] == "当事人称已整改"
    reviewed = procedure.legal_review(held, replace(later, actor="fazhi"), "同意", True)
    assert procedure.decide_problems(reviewed, later) == []
    refused("no_hearing_request", procedure.hearing_notice, proc, ctx, held_on=TODAY + timedelta(days=8), **args)


def test_no_heavier_decision_without_a_new_notice():
    told = procedure.notice(filed(), replace(CTX, status="陈述申辩"), TODAY)
    assert procedure.heavier(TERMS, TERMS) == []
    assert procedure.heavier(TERMS, {**TERMS, "fine_yuan": "7000.00"}) == []  # lighter after the defence
    more = procedure.heavier(TERMS, {**TERMS, "fine_yuan": "9000.00"})
    assert more == ["罚款由8000.00 元增至 9000.00 元"]
    assert procedure.heavier(TERMS, {**TERMS, "suspension_months": 6}) == ["暂停期限由无增至 6 个月"]
    assert procedure.heavier(TERMS, {**TERMS, "measures": [*TERMS["measures"], "约谈"]}) == \
        ["增加了告知书未载明的措施：约谈"]
    heavier_now = replace(CTX, status="陈述申辩", penalty={**TERMS, "fine_yuan": "9000.00"})
    [problem] = procedure.decide_problems(told, heavier_now)
    assert "第四十五条第二款" in problem and "重新告知" in problem
    renoticed = procedure.notice(told, heavier_now, TODAY)
    assert renoticed["notice"]["count"] == 2 and procedure.decide_problems(renoticed, heavier_now) == []


def test_the_agreement_track_has_its_own_notice_and_statement():
    ctx = replace(CTX, status="陈述申辩", penalty={**HEAVY, "hearing_right": False}, actor="fazhi")
    proc = procedure.legal_review(procedure.notice(filed(), ctx, TODAY), ctx, "同意", True)
    assert any("经办机构另行告知" in p for p in procedure.decide_problems(proc, ctx))
    told = procedure.agreement_notice(proc, ctx, TODAY)
    assert told["agreement"]["deadline"] == "2026-12-08" and told["agreement"]["measures"] == ["解除服务协议"]
    assert any("协议处理的申辩期限" in p for p in procedure.decide_problems(told, ctx))
    refused("statement_empty", procedure.agreement_statement, told, ctx, "", False)
    heard = procedure.agreement_statement(told, ctx, "对解除协议有异议", False)
    assert procedure.decide_problems(heard, ctx) == []
    assert procedure.decide_problems(told, replace(ctx, today=TODAY + timedelta(days=8))) == []  # deadline passed
    refused("no_agreement_measure", procedure.agreement_notice, proc, replace(ctx, penalty=TERMS), TODAY)


def test_the_surcharge_is_three_percent_a_day_never_more_than_the_fine():
    due = date(2026, 12, 16)
    fine = Decimal("8000.00")
    assert procedure.late_surcharge(fine, due, due) == Decimal("0.00")
    assert procedure.late_surcharge(fine, due, due + timedelta(days=1)) == Decimal("240.00")
    assert procedure.late_surcharge(fine, due, due + timedelta(days=10)) == Decimal("2400.00")
    assert procedure.late_surcharge(fine, due, due + timedelta(days=34)) == Decimal("8000.00")  # 102 % capped
    assert procedure.late_surcharge(Decimal("333.33"), due, due + timedelta(days=1)) == Decimal("10.00")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=2),
       st.integers(min_value=0, max_value=1000))
def test_the_surcharge_never_exceeds_the_fine(fine, days):
    due = date(2026, 1, 1)
    charged = procedure.late_surcharge(fine, due, due + timedelta(days=days))
    assert Decimal("0") <= charged <= fine
    assert charged == min((fine * 3 * days / 100).quantize(Decimal("0.01")), fine)


def decided_ctx(days_after: int = 0) -> Context:
    return replace(CTX, status="已决定", decided_on=TODAY, today=TODAY + timedelta(days=days_after))


def test_service_payments_closing_and_archiving():
    ctx = decided_ctx(2)
    refused("bad_method", procedure.serve, {}, ctx, served_on=TODAY, method="口头送达", receiver="张丽")
    refused("bad_date", procedure.serve, {}, ctx, served_on=TODAY - timedelta(days=1), method="直接送达",
            receiver="张丽")
    refused("wrong_status", procedure.serve, {}, replace(ctx, status="陈述申辩"), served_on=TODAY,
            method="直接送达", receiver="张丽")
    served = procedure.serve({}, ctx, served_on=TODAY + timedelta(days=1), method="邮寄送达", receiver="张丽")
    assert served["service"]["method"] == "邮寄送达" and procedure.payment_due(served) == date(2026, 12, 17)
    refused("unpaid", procedure.close_case, served, ctx, [])
    refund = procedure.check_payment(served, ctx, [], kind="退回", amount_yuan="4000.00", paid_on=TODAY + timedelta(days=2))
    assert refund["payee"] == "医疗保障基金账户"
    refused("overpaid", procedure.check_payment, served, ctx, [refund], kind="退回", amount_yuan="0.01",
            paid_on=TODAY + timedelta(days=2))
    late = decided_ctx(20)  # the fine paid three days after its term (12-17): 3 × 3 % of 8000
    fine = procedure.check_payment(served, late, [refund], kind="罚款", amount_yuan="8000.00",
                                   paid_on=date(2026, 12, 20))
    assert fine["payee"] == "国库"
    dues = procedure.dues(served, TERMS, [refund, fine], late.today)
    assert dues == [
        {"kind": "退回", "payee": "医疗保障基金账户", "owed_yuan": "4000.00", "paid_yuan": "4000.00",
         "outstanding_yuan": "0.00"},
        {"kind": "罚款", "payee": "国库", "owed_yuan": "8000.00", "paid_yuan": "8000.00", "outstanding_yuan": "0.00"},
        {"kind": "加处罚款", "payee": "国库", "owed_yuan": "720.00", "paid_yuan": "0.00", "outstanding_yuan": "720.00"}]
    refused("unpaid", procedure.close_case, served, late, [refund, fine])
    surcharge = procedure.check_payment(served, late, [refund, fine], kind="加处罚款", amount_yuan="720.00",
                                        paid_on=late.today)
    closed = procedure.close_case(served, late, [refund, fine, surcharge])
    assert procedure.stage(closed, "已决定") == "已结案"
    refused("not_closed", procedure.archive, served, late)
    archived = procedure.archive(closed, late)
    assert procedure.stage(archived, "已公开") == "已归档"
    refused("archived", procedure.archive, archived, late)


def test_enforcement_after_the_term_lets_an_unpaid_case_close():
    served = procedure.serve({}, decided_ctx(), served_on=TODAY, method="直接送达", receiver="张丽")
    refused("not_due", procedure.enforce, served, decided_ctx(15), [], "鼓楼区人民法院")
    applied = procedure.enforce(served, decided_ctx(16), [], "鼓楼区人民法院")
    assert applied["enforcement"]["court"] == "鼓楼区人民法院"
    assert procedure.close_case(applied, decided_ctx(16), [])["closed_on"] == "2026-12-17"


def test_the_buttons_follow_the_procedure():
    assert procedure.available({}, replace(CTX, status="审核中"), "reviewer") == ["request_filing"]
    asked = procedure.request_filing({}, replace(CTX, status="审核中"), "x")
    assert procedure.available(asked, replace(CTX, status="审核中"), "reviewer") == []  # not one's own request
    assert procedure.available(asked, replace(CTX, status="审核中", actor="kezhang"), "supervisor") == \
        ["approve_filing"]
    proc, ctx = hearing_case()
    assert procedure.available(proc, ctx, "reviewer") == ["mark_major", "renotify", "request_hearing"]
    assert procedure.available(proc, ctx, "supervisor") == ["collective", "extend"]
    assert procedure.available(proc, replace(ctx, actor_inspected=True), "reviewer") == []
    assert "legal_review" in procedure.available(proc, replace(ctx, actor="fazhi"), "reviewer")


def test_the_screen_checks_the_form_of_each_steps_inputs():
    from staff_app.procedure_vm import clock_text, step_body

    assert step_body("extend", {"days": "三十", "reason": "x"}) == (None, "延长天数应为正整数")
    assert step_body("hearing_notice", {"notified_on": "明天"})[1] == "听证通知日期应写作 2026-12-08 这样的日期"
    typed = {"notified_on": "2026-12-01", "held_on": "2026-12-18", "place": "听证室", "officer": "tingzheng"}
    for wrong in ("", "上午九点", "9.30", "25:00", "14:7"):
        assert step_body("hearing_notice", {**typed, "held_at": wrong})[1] == \
            "听证开始时间应写作 09:30 这样的时:分（24 小时制）"
    assert step_body("hearing_notice", {**typed, "held_at": " 9:30 "})[0] == {**typed, "held_at": "09:30"}
    assert "金额" in step_body("payment", {"kind": "罚款", "amount_yuan": "12.345", "paid_on": "2026-12-01"})[1]
    body, _ = step_body("serve", {"served_on": "2026-12-01", "receiver": " 张丽 "})
    assert body == {"served_on": "2026-12-01", "method": "直接送达", "receiver": "张丽"}  # the dropdown's first
    assert step_body("collective", {"participants": "局长、副局长，科长", "opinion": "同意"})[0] == {
        "participants": ["局长", "副局长", "科长"], "opinion": "同意"}
    assert clock_text({"filed_on": None}) == ""
    assert clock_text({"filed_on": "2026-09-01", "decision_due": "2026-11-30", "days_left": -2, "overdue": True}) == \
        "立案 2026-09-01 · 决定期限 2026-11-30 · 超期 2 天"


def test_the_screen_offers_the_procedures_lists():
    from staff_app.procedure_vm import CHOICES

    assert CHOICES["method"] == list(procedure.rules().service_methods)
    assert CHOICES["kind"] == list(procedure.rules().payees)


def test_the_five_and_seven_day_limits_are_working_days():
    """行政处罚法 第八十五条: its 五日 and 七日 are working days — a notice served on a Friday leaves until the next
    Friday to ask for a hearing, and a hearing notified on a Monday is held no earlier than the Wednesday after next."""
    r = procedure.rules()
    friday = date(2026, 12, 4)
    assert r.after("hearing", friday, r.hearing_request_days) == date(2026, 12, 11)
    assert r.after("statement", friday, r.statement_days) == date(2026, 12, 11)
    assert r.after("hearing", date(2026, 12, 7), r.hearing_notice_days) == date(2026, 12, 16)
    assert r.after("payment", friday, r.payment_days) == date(2026, 12, 19)  # 十五日: not in Art. 85's list


def test_every_notice_served_and_its_hearing_stay_on_file():
    """A 重新告知 (and a corrected record) replaces the notice in force, not the record of the earlier one: each 告知书
    served, and the hearing documents that followed it, stay in the 案卷 (`bureau.proceedings.documents_on_file`)."""
    from bureau.proceedings import documents_on_file

    first, ctx = hearing_case()
    asked = procedure.request_hearing(first, ctx, TODAY)
    held = {**asked, "hearing": {**asked["hearing"], "notified_on": TODAY.isoformat(), "held_on": TODAY.isoformat(),
                                 "record": {"text": "当事人申辩", "by": "tingzheng"}}}
    assert documents_on_file(held) == [("notice", 1), ("hearing-notice", 1), ("hearing-record", 1)]
    second = procedure.notice(held, ctx, TODAY)
    assert second["notice"]["count"] == 2 and "hearing" not in second
    [earlier] = second["notices"]
    assert earlier["count"] == 1 and earlier["hearing"] == held["hearing"] and earlier["terms"] == held["notice"]["terms"]
    assert [n["count"] for n in procedure.notices_on_file(second)] == [1, 2]
    assert documents_on_file(second) == [("notice", 1), ("hearing-notice", 1), ("hearing-record", 1), ("notice", 2)]
    corrected = procedure.after_new_version(second, 1)  # a corrected record: nothing notified holds, all stays on file
    assert "notice" not in corrected and [n["count"] for n in corrected["notices"]] == [1, 2]
    third = procedure.notice(corrected, ctx, TODAY)
    assert third["notice"]["count"] == 3 and [n["count"] for n in procedure.notices_on_file(third)] == [1, 2, 3]
    assert procedure.notices_on_file(filed()) == [] and "notices" not in procedure.after_new_version(filed(), 1)
    # a notice stored before notices named their record version is kept as about the version reviewed until then
    legacy = {"notice": {k: v for k, v in held["notice"].items() if k != "version"}}
    assert procedure.after_new_version(legacy, 4)["notices"][0]["version"] == 4
    assert procedure.after_new_version({"notice": {**held["notice"], "version": 2}}, 4)["notices"][0]["version"] == 2


def test_the_hearing_notice_and_record_print_the_hour_or_the_day_alone():
    """听证通知书 and 听证笔录 (行政处罚法 第六十四条第二项: 通知当事人举行听证的时间、地点): "定于2026年12月18日 上午9时30分";
    a hearing noticed before its hour was kept prints its day alone."""
    from bureau.procedure_pdf import hearing_when

    day = {"held_on": "2026-12-18"}
    assert hearing_when({**day, "held_at": "09:30"}) == "2026年12月18日 上午9时30分"
    assert hearing_when({**day, "held_at": "14:00"}) == "2026年12月18日 下午2时"
    assert hearing_when({**day, "held_at": "12:15"}) == "2026年12月18日 中午12时15分"
    assert hearing_when({**day, "held_at": "19:05"}) == "2026年12月18日 晚上7时5分"
    assert hearing_when({**day, "held_at": "00:00"}) == "2026年12月18日 凌晨0时"
    assert hearing_when(day) == "2026年12月18日"


FRAUD = replace(CTX, articles=(40,), actor="kezhang")  # 条例 第四十条: 涉嫌骗取; the 负责人 records the approval
SUSPEND = {"facts": "拒不提供2026年10月的进销存台账，拒绝调查人员进入库房", "approver": "王局长",
           "approved_on": TODAY}


def test_interim_suspension_only_for_a_filed_fraud_case_of_an_institution_under_investigation():
    """条例 第三十条第一款: 调查期间, a 定点医药机构 涉嫌骗取 (Art. 40) that refuses to cooperate; 主要负责人 approval;
    one in force at a time."""
    proc = filed()
    assert "interim_suspension" in procedure.available(proc, FRAUD, "supervisor")
    assert "interim_suspension" not in procedure.available(proc, FRAUD, "reviewer")
    refused("not_filed", procedure.interim_suspension, {}, FRAUD, **SUSPEND)
    for decided in ("已决定", "已公开", "已撤销"):
        assert "第三十条第一款" in refused("not_investigating", procedure.interim_suspension, proc,
                                           replace(FRAUD, status=decided), **SUSPEND)
    no_fraud = refused("not_suspected_fraud", procedure.interim_suspension, proc, replace(FRAUD, articles=(38,)),
                       **SUSPEND)
    assert no_fraud.startswith("仅对涉嫌骗取医疗保障基金支出（条例第40条）的定点医药机构") and "第三十条第一款" in no_fraud
    assert "interim_suspension" not in procedure.available(proc, replace(FRAUD, articles=(38,)), "supervisor")
    person = refused("not_suspected_fraud", procedure.interim_suspension, proc, replace(FRAUD, party_kind="insured"),
                     **SUSPEND)
    assert "定点医药机构" in person and "第三十条第一款" in person
    refused("own_inspection", procedure.interim_suspension, proc, replace(FRAUD, actor_inspected=True), **SUSPEND)
    refused("future_date", procedure.interim_suspension, proc, FRAUD, **{**SUSPEND, "approved_on": TODAY + timedelta(days=1)})
    assert "立案日期" in refused("bad_date", procedure.interim_suspension, proc, FRAUD,
                                 **{**SUSPEND, "approved_on": TODAY - timedelta(days=1)})
    refused("reason_required", procedure.interim_suspension, proc, FRAUD, **{**SUSPEND, "facts": " "})
    refused("reason_required", procedure.interim_suspension, proc, FRAUD, **{**SUSPEND, "approver": ""})
    notified = {**proc, "notice": {"count": 1, "served_on": "2026-12-01"}}  # the 告知书 ends the investigation
    assert "在调查期间" in refused("investigation_ended", procedure.interim_suspension, notified, FRAUD, **SUSPEND)
    assert "interim_suspension" not in procedure.available(notified, FRAUD, "supervisor")

    held = procedure.interim_suspension(proc, FRAUD, **SUSPEND)
    assert held["interim_suspensions"] == [{"count": 1, "on": "2026-12-01", "by": "kezhang", "facts": SUSPEND["facts"],
                                            "approver": "王局长", "approved_on": "2026-12-01"}]
    assert procedure.suspension_in_force(held, "拟处理")["count"] == 1
    assert "2026-12-01" in refused("already_suspended", procedure.interim_suspension, held, FRAUD, **SUSPEND)
    assert procedure.available(held, FRAUD, "supervisor")[-1] == "lift_interim_suspension"
    assert "interim_suspension" not in procedure.available(held, FRAUD, "supervisor")

    # 解除 before the decision, with a reason; then a new one may be taken
    refused("reason_required", procedure.lift_interim_suspension, held, FRAUD, "")
    lifted = procedure.lift_interim_suspension(held, FRAUD, "该机构已提供全部台账，配合调查")
    assert lifted["interim_suspensions"][0]["lifted"] == {"on": "2026-12-01", "by": "kezhang",
                                                          "reason": "该机构已提供全部台账，配合调查"}
    assert procedure.suspension_in_force(lifted, "拟处理") is None
    refused("not_suspended", procedure.lift_interim_suspension, lifted, FRAUD, "x")
    again = procedure.interim_suspension(lifted, FRAUD, **SUSPEND)
    assert [s["count"] for s in again["interim_suspensions"]] == [1, 2]
    refused("not_investigating", procedure.lift_interim_suspension, again, replace(FRAUD, status="已决定"), "x")


def test_the_decision_ends_the_suspension_with_the_outcome_of_article_30():
    """条例 第三十条第一款: decided under Art. 40 → handled as 骗取; otherwise settlement resumes, the suspended period
    is settled as the rules provide. Before the decision: in force, no outcome."""
    held = procedure.interim_suspension(filed(), FRAUD, **SUSPEND)
    assert procedure.suspension_outcome("陈述申辩", (40,)) is None
    [before] = procedure.suspensions_shown(held, "陈述申辩", (40,))
    assert before["in_force"] and before["outcome"] is None
    fraud = "经调查属于骗取医疗保障基金支出，依照条例第四十条处理"
    cleared = "经调查不属于骗取医疗保障基金支出，恢复结算，暂停期间的费用按照规定结算"
    assert procedure.suspension_outcome("已决定", (38, 40)) == fraud
    assert procedure.suspension_outcome("已公开", (38,)) == cleared and procedure.suspension_outcome("已决定", ()) == cleared
    # withdrawn on 复议: neither outcome holds any longer, and the screen says so
    assert procedure.suspension_outcome("已撤销", (40,)).startswith("处理决定已经复议撤销")
    [void] = procedure.suspensions_shown(held, "已撤销", (40,))
    assert not void["in_force"] and "待重新作出处理" in void["outcome"]
    [after] = procedure.suspensions_shown(held, "已决定", (38,))
    assert not after["in_force"] and after["outcome"] == cleared
    assert procedure.suspension_in_force(held, "已决定") is None

    from bureau.decision_pdf import suspension_lines
    from staff_app.procedure_vm import suspension_line

    [line] = suspension_lines(procedure.suspensions_shown(held, "已决定", (40,)))
    assert "王局长于2026年12月1日批准" in line and "自2026年12月1日起" in line and f"{fraud}（" in line
    assert suspension_line(before) == (True, "调查期间暂停结算（条例第三十条）自2026年12月1日（主要负责人 王局长 2026-12-01 "
                                             f"批准）：{SUSPEND['facts']}")
    assert suspension_line(after) == (False, suspension_line(before)[1] + f"；{cleared}")

    from staff_app.procedure_vm import available_documents

    assert available_documents({"record": held}) == ["interim-suspension"]
    lifted = procedure.lift_interim_suspension(held, FRAUD, "该机构已提供全部台账")
    assert available_documents({"record": lifted}) == ["interim-suspension", "interim-suspension-lifted"]


def test_the_rules_file_names_the_suspension_and_its_outcomes():
    r = procedure.rules()
    assert r.suspension_articles == (40,) and r.suspension_parties == ("institution",)
    assert "第三十条" in r.basis["interim_suspension"] and "拒不配合调查" in r.basis["interim_suspension"]
    text = procedure.RULES_PATH.read_text(encoding="utf-8")
    with pytest.raises(ValueError) as bad:
        procedure.parse_rules(text.replace("articles = [40]", "articles = []").replace("cleared_outcome", "x"), "p.toml")
    assert "interim_suspension.articles" in str(bad.value) and "interim_suspension.cleared_outcome" in str(bad.value)
