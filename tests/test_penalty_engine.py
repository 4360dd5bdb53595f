"""The penalty engine: 条例 Art. 38–41 and 2号令 Art. 43, as data plus one pure function."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists import InputError
from checklists.penalty import decide

MEASURE_ORDER = ["责令改正", "约谈", "责令退回", "罚款", "暂停医药服务", "暂停联网结算", "解除服务协议"]
CONTRACT_KEYS = {"articles", "measures", "optional_measures", "recover_yuan", "fine_yuan", "suspension_months",
                 "terminate_agreement"}


def institution(*findings, **flags):
    return {"party": {"kind": "institution", "code": "H33010600001"}, "findings": list(findings), **flags}


def insured(*findings, **flags):
    return {"party": {"kind": "insured", "code": "330106199001011234"}, "findings": list(findings), **flags}


def finding(category, amount=None, intent=None):
    out = {"category": category}
    if amount is not None:
        out["amount_yuan"] = amount
    if intent is not None:
        out["intent_to_defraud"] = intent
    return out


def contract(decision):
    return {key: decision[key] for key in CONTRACT_KEYS}


# ---------------------------------------------------------------- the examples

def test_example_38_3():
    decision = decide(institution(finding("38.3", "12000.00", False)))
    assert contract(decision) == {
        "articles": [38], "measures": ["责令改正", "责令退回", "罚款"], "optional_measures": ["约谈"],
        "recover_yuan": "12000.00", "fine_yuan": {"min": "12000.00", "max": "24000.00"},
        "suspension_months": None, "terminate_agreement": False,
    }
    assert decision["party"] == {"kind": "institution", "code": "H33010600001"}
    assert any("第三十八条" in b for b in decision["basis"])


def test_example_40_3():
    decision = decide(institution(finding("40.3", "50000.00")))
    assert contract(decision) == {
        "articles": [40], "measures": ["责令退回", "罚款", "暂停医药服务", "解除服务协议"], "optional_measures": [],
        "recover_yuan": "50000.00", "fine_yuan": {"min": "100000.00", "max": "250000.00"},
        "suspension_months": {"min": 6, "max": 12}, "terminate_agreement": True,
    }
    assert any("第2号第四十三条" in b for b in decision["basis"])


# ---------------------------------------------------------------- Art. 38

def test_38_without_loss_is_correction_only():
    decision = decide(institution(finding("38.2")))
    assert decision["measures"] == ["责令改正"] and decision["optional_measures"] == ["约谈"]
    assert decision["recover_yuan"] == "0.00" and decision["fine_yuan"] is None
    assert decision["suspension_months"] is None and decision["terminate_agreement"] is False


@pytest.mark.parametrize("flag", ["refused_to_correct", "serious_consequences"])
def test_38_refused_or_serious_suspends_6_to_12_months(flag):
    decision = decide(institution(finding("38.1", "3000.00"), **{flag: True}))
    assert decision["measures"] == ["责令改正", "责令退回", "罚款", "暂停医药服务"]
    assert decision["suspension_months"] == {"min": 6, "max": 12}
    assert decision["fine_yuan"] == {"min": "3000.00", "max": "6000.00"}
    assert decision["terminate_agreement"] is False


def test_38_refused_without_loss_still_suspends():
    decision = decide(institution(finding("38.7"), refused_to_correct=True))
    assert decision["measures"] == ["责令改正", "暂停医药服务"] and decision["fine_yuan"] is None


def test_38_with_intent_is_handled_as_40():
    decision = decide(institution(finding("38.4", "8000.00", True)))
    assert decision["articles"] == [40]
    assert decision["measures"] == ["责令退回", "罚款", "暂停医药服务", "解除服务协议"]
    assert decision["fine_yuan"] == {"min": "16000.00", "max": "40000.00"}
    assert decision["terminate_agreement"] is True
    assert decision["findings"][0]["category"] == "38.4" and decision["findings"][0]["article"] == 40
    assert any("第四十条第二款" in b for b in decision["basis"])


def test_38_with_intent_but_no_loss_stays_under_38():
    """Art. 40 ¶2 redirects Art. 38 acts done to defraud *that caused a loss*."""
    decision = decide(institution(finding("38.4", "0", True)))
    assert decision["articles"] == [38] and decision["terminate_agreement"] is False


# ---------------------------------------------------------------- Art. 39

def test_39_is_correction_with_optional_interview():
    decision = decide(institution(finding("39.5", "500.00")))
    assert contract(decision) == {
        "articles": [39], "measures": ["责令改正"], "optional_measures": ["约谈"], "recover_yuan": "0.00",
        "fine_yuan": None, "suspension_months": None, "terminate_agreement": False,
    }


def test_39_refused_to_correct_fines_10000_to_50000():
    decision = decide(institution(finding("39.7"), refused_to_correct=True))
    assert decision["measures"] == ["责令改正", "罚款"]
    assert decision["fine_yuan"] == {"min": "10000.00", "max": "50000.00"}
    assert decide(institution(finding("39.1"), serious_consequences=True))["fine_yuan"] is None


def test_39_intent_flag_does_not_redirect():
    assert decide(institution(finding("39.2", "100.00", True)))["articles"] == [39]


# ---------------------------------------------------------------- Art. 40

@pytest.mark.parametrize("category", ["40.1", "40.2", "40.3", "40.4"])
def test_every_40_terminates_and_suspends(category):
    decision = decide(institution(finding(category, "1000.00")))
    assert decision["terminate_agreement"] is True and "责令改正" not in decision["measures"]
    assert decision["suspension_months"] == {"min": 6, "max": 12}
    assert decision["fine_yuan"] == {"min": "2000.00", "max": "5000.00"}


def test_40_without_amount_has_nothing_to_recover_or_multiply():
    decision = decide(institution(finding("40.2")))
    assert decision["measures"] == ["暂停医药服务", "解除服务协议"]
    assert decision["recover_yuan"] == "0.00" and decision["fine_yuan"] is None


# ---------------------------------------------------------------- Art. 41

def test_41_insured_without_loss():
    decision = decide(insured(finding("41.2")))
    assert contract(decision) == {
        "articles": [41], "measures": ["责令改正", "暂停联网结算"], "optional_measures": [], "recover_yuan": "0.00",
        "fine_yuan": None, "suspension_months": {"min": 3, "max": 12}, "terminate_agreement": False,
    }


def test_41_with_loss_recovers():
    decision = decide(insured(finding("41.1", "2300.50")))
    assert decision["measures"] == ["责令改正", "责令退回", "暂停联网结算"]
    assert decision["recover_yuan"] == "2300.50" and decision["fine_yuan"] is None


def test_41_with_intent_and_loss_fines_2_to_5_times():
    decision = decide(insured(finding("41.3", "2300.50", True)))
    assert decision["measures"] == ["责令改正", "责令退回", "罚款", "暂停联网结算"]
    assert decision["fine_yuan"] == {"min": "4601.00", "max": "11502.50"}
    assert decide(insured(finding("41.3", None, True)))["fine_yuan"] is None  # intent without loss


# ---------------------------------------------------------------- several findings

def test_mix_of_38_and_40_is_the_union_in_fixed_order():
    decision = decide(institution(finding("38.3", "12000.00"), finding("40.3", "50000.00")))
    assert decision["articles"] == [38, 40]
    assert decision["measures"] == ["责令改正", "责令退回", "罚款", "暂停医药服务", "解除服务协议"]
    assert decision["optional_measures"] == ["约谈"]
    assert decision["recover_yuan"] == "62000.00"
    assert decision["fine_yuan"] == {"min": "112000.00", "max": "274000.00"}
    assert decision["suspension_months"] == {"min": 6, "max": 12}
    assert decision["terminate_agreement"] is True
    assert [f["category"] for f in decision["findings"]] == ["38.3", "40.3"]


def test_fixed_and_multiple_fines_add_up():
    decision = decide(institution(finding("39.3"), finding("39.4"), finding("38.6", "100.10"), refused_to_correct=True))
    assert decision["fine_yuan"] == {"min": "20100.10", "max": "100200.20"}
    assert decision["articles"] == [38, 39]


def test_mandatory_measure_is_not_also_optional():
    decision = decide(institution(finding("38.1", "1.00"), finding("40.1", "1.00")))
    assert decision["optional_measures"] == ["约谈"]
    assert set(decision["optional_measures"]).isdisjoint(decision["measures"])


def test_missing_flags_are_false_and_amount_defaults_to_zero():
    assert decide(institution(finding("38.1"))) == decide(institution(
        finding("38.1", "0.00", False), refused_to_correct=False, serious_consequences=False))


def test_rules_are_data(tmp_path):
    """A bureau correcting a multiple in the TOML changes the decision without touching code."""
    from checklists.penalty import PENALTIES_FILE, load_penalty_rules

    edited = tmp_path / "penalties.toml"
    edited.write_text(PENALTIES_FILE.read_text(encoding="utf-8")
                      .replace('fine_multiple = { min = "1", max = "2" }', 'fine_multiple = { min = "1.5", max = "3" }'),
                      encoding="utf-8")
    decision = decide(institution(finding("38.3", "1000.01")), rules=load_penalty_rules(edited))
    assert decision["fine_yuan"] == {"min": "1500.02", "max": "3000.03"}  # 1500.015 rounds half up


# ---------------------------------------------------------------- bad input

def problems(case):
    with pytest.raises(InputError) as caught:
        decide(case)
    return caught.value.problems


@pytest.mark.parametrize("bad_finding, key, fragment", [
    (finding("38.8", "1.00"), "findings[第1个].category", "未知的违规类别 \"38.8\""),
    (finding("42", "1.00"), "findings[第1个].category", "未知的违规类别"),
    ({"amount_yuan": "1.00"}, "findings[第1个].category", "未知的违规类别 缺失"),
    (finding("38.3", "12000.001"), "findings[第1个].amount_yuan", "最多两位小数"),
    (finding("38.3", "-12000.00"), "findings[第1个].amount_yuan", "不能为负数"),
    (finding("38.3", 12000.0), "findings[第1个].amount_yuan", "字符串"),
    (finding("38.3", 12000), "findings[第1个].amount_yuan", "字符串"),
    (finding("38.3", "1.00", "yes"), "findings[第1个].intent_to_defraud", "true 或 false"),
    (finding("38.3", "1.00", 1), "findings[第1个].intent_to_defraud", "true 或 false"),
    ({"category": "38.3", "amount": "1.00"}, "findings[第1个].amount", "未知的键"),
])
def test_bad_finding(bad_finding, key, fragment):
    [problem] = problems(institution(bad_finding))
    assert f"键 {key}：" in problem and fragment in problem


def test_41_for_an_institution_is_rejected():
    [problem] = problems(institution(finding("41.1", "100.00")))
    assert "41.1" in problem and "参保人员" in problem and "institution" in problem


@pytest.mark.parametrize("category", ["38.1", "39.1", "40.1"])
def test_38_to_40_for_an_insured_person_is_rejected(category):
    [problem] = problems(insured(finding(category, "100.00")))
    assert category in problem and "定点医药机构" in problem


@pytest.mark.parametrize("case, key, fragment", [
    ({"findings": [finding("38.1")]}, "party", "缺少当事人"),
    ({"party": {"kind": "hospital"}, "findings": [finding("38.1")]}, "party.kind", "当事人类别应为"),
    ({"party": {"kind": "institution", "code": 5}, "findings": [finding("38.1")]}, "party.code", "字符串"),
    (institution(), "findings", "非空数组"),
    ({"party": {"kind": "institution"}, "findings": "38.1"}, "findings", "非空数组"),
    (institution(finding("38.1"), refused_to_correct="no"), "refused_to_correct", "true 或 false"),
    (institution(finding("38.1"), serious_consequences=0), "serious_consequences", "true 或 false"),
    (institution(finding("38.1"), serious=True), "serious", "未知的键"),
    (institution("38.1"), "findings[第1个]", "应为对象"),
])
def test_bad_case(case, key, fragment):
    found = problems(case)
    assert any(f"键 {key}：" in p and fragment in p for p in found), found


def test_case_must_be_an_object():
    with pytest.raises(InputError, match="JSON 对象"):
        decide([])


def test_every_problem_at_once():
    found = problems(insured(finding("38.3", "1.001"), finding("99.9"), finding("41.1", "-1")))
    assert len(found) == 4


# ---------------------------------------------------------------- properties: exact money, additive

amounts = st.integers(min_value=0, max_value=10**13).map(lambda c: f"{c // 100}.{c % 100:02d}")
institution_categories = st.sampled_from([f"38.{n}" for n in range(1, 8)] + [f"39.{n}" for n in range(1, 8)]
                                         + [f"40.{n}" for n in range(1, 5)])


@given(st.lists(st.tuples(institution_categories, amounts, st.booleans()), min_size=1, max_size=8),
       st.booleans(), st.booleans())
def test_combined_decision_adds_up_the_single_ones(findings, refused, serious):
    flags = {"refused_to_correct": refused, "serious_consequences": serious}
    combined = decide(institution(*(finding(c, a, i) for c, a, i in findings), **flags))
    singles = [decide(institution(finding(c, a, i), **flags)) for c, a, i in findings]

    assert Decimal(combined["recover_yuan"]) == sum(Decimal(s["recover_yuan"]) for s in singles)
    fines = [s["fine_yuan"] for s in singles if s["fine_yuan"]]
    if fines:
        assert Decimal(combined["fine_yuan"]["min"]) == sum(Decimal(f["min"]) for f in fines)
        assert Decimal(combined["fine_yuan"]["max"]) == sum(Decimal(f["max"]) for f in fines)
        assert Decimal(combined["fine_yuan"]["min"]) <= Decimal(combined["fine_yuan"]["max"])
    else:
        assert combined["fine_yuan"] is None
    union = set().union(*(s["measures"] for s in singles))
    assert combined["measures"] == [m for m in MEASURE_ORDER if m in union]
    assert combined["articles"] == sorted(set().union(*(s["articles"] for s in singles)))
    assert combined["terminate_agreement"] == any(s["terminate_agreement"] for s in singles)
    for money in [combined["recover_yuan"]] + ([combined["fine_yuan"]["min"], combined["fine_yuan"]["max"]]
                                              if combined["fine_yuan"] else []):
        assert isinstance(money, str) and len(money.split(".")[1]) == 2


@given(amounts)
def test_fines_are_exact_multiples(amount):
    decision = decide(institution(finding("40.1", amount)))
    if Decimal(amount) > 0:
        assert Decimal(decision["fine_yuan"]["min"]) == Decimal(amount) * 2
        assert Decimal(decision["fine_yuan"]["max"]) == Decimal(amount) * 5
        assert decision["recover_yuan"] == f"{Decimal(amount):.2f}"


# ================================================================ issue #15: the contract's new outputs

def individual(*findings, **flags):
    """A person who is not insured (条例第四十一条: "个人"), e.g. one who used another's card."""
    return {"party": {"kind": "individual", "code": "X"}, "findings": list(findings), **flags}


def circumstances(*names):
    return {"circumstances": {name: True for name in names}}


# ---------------------------------------------------------------- 行政处罚法第三十三条: no_penalty

@pytest.mark.parametrize("stated, expected, article", [
    ((), None, "no circumstance: 处罚"),
    (("minor", "corrected_promptly", "no_harm"), "must", "行政处罚法第三十三条第一款前句"),
    (("minor", "corrected_promptly"), None, "第三十三条第一款前句 needs 没有造成危害后果 too"),
    (("minor", "no_harm"), None, "第三十三条第一款前句 needs 及时改正 too"),
    (("first_offence", "harm_minor", "corrected_promptly"), "may", "行政处罚法第三十三条第一款后句"),
    (("first_offence", "harm_minor"), None, "第三十三条第一款后句 needs 及时改正 too"),
    (("harm_minor", "corrected_promptly"), None, "第三十三条第一款后句 needs 初次违法 too"),
    (("no_fault",), "must", "行政处罚法第三十三条第二款"),
    (("no_fault", "first_offence", "harm_minor", "corrected_promptly"), "must", "不予处罚 before 可以不予处罚"),
    (("minor", "first_offence", "corrected_promptly", "no_harm"), "must", "第三十三条第一款前句 before 后句"),
])
def test_no_penalty_follows_article_33(stated, expected, article):
    decision = decide(institution(finding("38.3", "12000.00"), **circumstances(*stated)))
    assert decision["no_penalty"] == expected, article
    assert decision["circumstances"] == {c: c in stated for c in
                                         ("minor", "corrected_promptly", "no_harm", "harm_minor", "first_offence",
                                          "no_fault")}
    if expected is None:
        assert decision["no_penalty_basis"] is None
    else:
        assert "行政处罚法》第三十三条" in decision["no_penalty_basis"]


MUST = ("minor", "corrected_promptly", "no_harm")


@pytest.mark.parametrize("case, measures, recover, terminate, article", [
    (institution(finding("38.3", "12000.00"), **circumstances(*MUST)), ["责令改正", "责令退回"], "12000.00", False,
     "条例第三十八条: 责令改正、责令退回 stay, the 1–2× 罚款 goes (行政处罚法第二十八条、第三十三条)"),
    (institution(finding("38.1", "3000.00"), serious_consequences=True, **circumstances("no_fault")),
     ["责令改正", "责令退回"], "3000.00", False, "条例第三十八条: no 暂停医药服务 either (行政处罚法第三十三条第二款)"),
    (institution(finding("39.7"), **circumstances(*MUST)), ["责令改正"], "0.00", False,
     "条例第三十九条: 责令改正 stays"),
    (insured(finding("41.2", "800.00"), **circumstances(*MUST)), ["责令改正", "责令退回"], "800.00", False,
     "条例第四十一条第一款: no 暂停联网结算"),
    (institution(finding("40.3", "50000.00"), **circumstances(*MUST)), ["责令退回", "解除服务协议"], "50000.00", True,
     "2号令第四十三条: 解除 is the agency's act under the agreement, not a 行政处罚"),
])
def test_must_not_penalise_drops_fines_and_suspensions_only(case, measures, recover, terminate, article):
    decision = decide(case)
    assert decision["no_penalty"] == "must", article
    assert decision["measures"] == measures, article
    assert decision["fine_yuan"] is None and decision["suspension_months"] is None
    assert all(f["fine_yuan"] is None and f["suspension_months"] is None for f in decision["findings"])
    assert decision["recover_yuan"] == recover and decision["terminate_agreement"] is terminate
    assert "行政处罚法》第三十三条" in decision["basis"][-1]
    # a clause that only prescribes penalties is no longer a basis
    assert not any(b.startswith(("条例第三十八条：拒不改正", "条例第四十一条第一款：属于参保人员")) for b in decision["basis"])


def test_must_not_penalise_keeps_the_optional_interview():
    """条例第三十八条 "可以约谈有关负责人" is not a 行政处罚 (行政处罚法第九条)."""
    assert decide(institution(finding("38.3", "1.00"), **circumstances(*MUST)))["optional_measures"] == ["约谈"]


def test_may_not_penalise_still_gives_the_ranges():
    """行政处罚法第三十三条第一款后句: the bureau may still penalise, within the 条例's ranges."""
    plain = decide(institution(finding("38.1", "3000.00")))
    may = decide(institution(finding("38.1", "3000.00"), **circumstances("first_offence", "harm_minor",
                                                                           "corrected_promptly")))
    assert may["no_penalty"] == "may"
    for key in ("measures", "optional_measures", "fine_yuan", "suspension_months", "recover_yuan", "basis"):
        assert may[key] == plain[key], key


# ---------------------------------------------------------------- 行政处罚法第六十三条: hearing_right

@pytest.mark.parametrize("case, expected, article", [
    (institution(finding("38.3", "50000.00")), True, "第六十三条第一款（一）: max 100000.00 reaches the organisation's"),
    (institution(finding("38.3", "49999.99")), False, "max 99999.98 is under the organisation's 100000.00"),
    (institution(finding("39.7"), refused_to_correct=True), False, "条例第三十九条 1–5 万 stays under 10 万"),
    (institution(finding("38.2")), False, "no fine, no 暂停: nothing to hear"),
    (institution(finding("38.1", "1.00"), serious_consequences=True), True, "（四）: 暂停医药服务, whatever the fine"),
    (institution(finding("40.2")), True, "暂停医药服务 and 解除服务协议"),
    (insured(finding("41.2")), True, "暂停联网结算"),
    (individual(finding("41.4", "1000.00")), True, "2–5×: max 5000.00 reaches an individual's 5000.00"),
    (individual(finding("41.4", "999.99")), False, "max 4999.95 is under an individual's 5000.00"),
    (institution(finding("38.3", "50000.00"), **circumstances(*MUST)), False, "行政处罚法第三十三条: no fine proposed"),
])
def test_hearing_right(case, expected, article):
    assert decide(case)["hearing_right"] is expected, article


def test_hearing_threshold_is_data(tmp_path):
    """A province's 较大数额 is set in the rules file, not in code."""
    from checklists.penalty import PENALTIES_FILE, load_penalty_rules

    edited = tmp_path / "penalties.toml"
    edited.write_text(PENALTIES_FILE.read_text(encoding="utf-8").replace('institution = "100000.00"',
                                                                         'institution = "50000.00"'), encoding="utf-8")
    case = institution(finding("39.7"), refused_to_correct=True)
    assert decide(case)["hearing_right"] is False
    assert decide(case, rules=load_penalty_rules(edited))["hearing_right"] is True


# ---------------------------------------------------------------- two tracks: measures_detail

ADMINISTRATIVE = {"track": "administrative", "imposed_by": "医疗保障行政部门"}
AGREEMENT = {"track": "agreement", "imposed_by": "医疗保障经办机构"}


@pytest.mark.parametrize("case, expected, article", [
    (institution(finding("38.3", "100.00")),
     [("责令改正", ADMINISTRATIVE), ("责令退回", ADMINISTRATIVE), ("罚款", ADMINISTRATIVE), ("约谈", ADMINISTRATIVE)],
     "条例第三十八条: 由医疗保障行政部门责令改正，并可以约谈有关负责人……"),
    (institution(finding("40.3", "100.00")),
     [("责令退回", ADMINISTRATIVE), ("罚款", ADMINISTRATIVE), ("暂停医药服务", ADMINISTRATIVE),
      ("解除服务协议", AGREEMENT)],
     "条例第四十条: 直至由医疗保障经办机构解除服务协议; 2号令第四十三条"),
    (insured(finding("41.1")), [("责令改正", ADMINISTRATIVE), ("暂停联网结算", ADMINISTRATIVE)],
     "条例第四十一条第一款: 由医疗保障行政部门……暂停其医疗费用联网结算"),
])
def test_measures_detail_names_track_and_who_imposes(case, expected, article):
    decision = decide(case)
    assert decision["measures_detail"] == [{"measure": m} | who for m, who in expected], article
    assert "解除服务协议" not in decision["measures"] or decision["terminate_agreement"] is True


# ---------------------------------------------------------------- 条例第四十一条第二款 stands alone

@pytest.mark.parametrize("case, measures, fine, article", [
    (insured(finding("41.4", "1000.00")), ["责令改正", "责令退回", "罚款", "暂停联网结算"],
     {"min": "2000.00", "max": "5000.00"}, "第四十一条第二款 冒名就医: fined without an intent finding"),
    (insured(finding("41.5", "1000.00")), ["责令改正", "责令退回", "罚款", "暂停联网结算"],
     {"min": "2000.00", "max": "5000.00"}, "第四十一条第二款 伪造……骗取: fined without an intent finding"),
    (individual(finding("41.4", "1000.00")), ["责令改正", "责令退回", "罚款"],
     {"min": "2000.00", "max": "5000.00"}, "第四十一条第一款: 暂停联网结算 only \"属于参保人员的\""),
    (individual(finding("41.5", "1000.00", True)), ["责令改正", "责令退回", "罚款"],
     {"min": "2000.00", "max": "5000.00"}, "one 2–5× fine, not two, when intent is also found"),
    (insured(finding("41.1", "1000.00")), ["责令改正", "责令退回", "暂停联网结算"], None,
     "第四十一条第一款 acts are fined only 以骗取为目的"),
    (individual(finding("41.4")), ["责令改正"], None, "nothing 骗取: no 骗取金额 to multiply"),
])
def test_41_paragraph_2_triggers(case, measures, fine, article):
    decision = decide(case)
    assert decision["measures"] == measures, article
    assert decision["fine_yuan"] == fine, article
    suspended = "暂停联网结算" in measures
    assert decision["suspension_months"] == ({"min": 3, "max": 12} if suspended else None)


def test_41_paragraph_2_basis_names_its_trigger():
    assert any("使用他人医疗保障凭证冒名就医" in b for b in decide(individual(finding("41.4", "1.00")))["basis"])
    assert any("虚构医药服务项目" in b for b in decide(individual(finding("41.5", "1.00")))["basis"])


# ---------------------------------------------------------------- referrals (移送)

@pytest.mark.parametrize("case, expected, article", [
    (institution(finding("40.1", "3000.00")), ["公安机关", "卫生健康主管部门"],
     "行政处罚法第二十七条 (涉嫌犯罪, 3000.00 reaches the default threshold); 条例第四十条 (吊销执业资格)"),
    (institution(finding("40.1", "2999.99")), ["卫生健康主管部门"], "under the prosecution threshold"),
    (institution(finding("38.3", "100000.00")), [], "条例第三十八条 without intent is not 骗取"),
    (institution(finding("38.3", "5000.00", True)), ["公安机关", "卫生健康主管部门"],
     "条例第四十条第二款: handled as Art. 40"),
    (insured(finding("41.3", "2000.00", True), finding("41.4", "1500.00")), ["公安机关"],
     "条例第四十一条第二款: amounts 骗取 add up, 3500.00"),
    (insured(finding("41.3", "5000.00")), [], "条例第四十一条第一款 without intent is not 骗取"),
    ({"party": {"kind": "individual", "public_official": True}, "findings": [finding("41.4", "100.00")]},
     ["纪检监察机关"], "监察法: a public official's case goes to the 监察机关"),
    ({"party": {"kind": "insured", "public_official": False}, "findings": [finding("41.4", "100.00")]}, [],
     "not a public official"),
])
def test_referrals(case, expected, article):
    referrals = decide(case)["referrals"]
    assert [r["to"] for r in referrals] == expected, article
    assert all(r["reason"] and r["basis"] for r in referrals)


def test_police_referral_states_the_amount_and_the_threshold():
    [police, _] = decide(institution(finding("40.1", "2000.00"), finding("40.3", "1000.50")))["referrals"]
    assert "3000.50" in police["reason"] and "3000.00" in police["reason"]


# ---------------------------------------------------------------- bad circumstances

@pytest.mark.parametrize("case, key, fragment", [
    (institution(finding("38.1"), circumstances={"remorse": True}), "circumstances.remorse", "未知的情节"),
    (institution(finding("38.1"), circumstances={"minor": "yes"}), "circumstances.minor", "true 或 false"),
    (institution(finding("38.1"), circumstances=["minor"]), "circumstances", "应为对象"),
    (institution(finding("38.1"), refused_to_correct=True, **circumstances("corrected_promptly")),
     "circumstances.corrected_promptly", "refused_to_correct"),
    (institution(finding("38.1"), serious_consequences=True, **circumstances("no_harm")),
     "circumstances.no_harm", "serious_consequences"),
    (institution(finding("38.1"), **circumstances("no_harm", "harm_minor")), "circumstances.no_harm",
     "circumstances.harm_minor"),
    (institution(finding("38.1", "1.00", True), **circumstances("no_fault")), "circumstances.no_fault", "故意"),
    (institution(finding("40.3", "1.00"), **circumstances("no_fault")), "circumstances.no_fault", "40.3"),
    ({"party": {"kind": "individual", "public_official": "yes"}, "findings": [finding("41.4")]},
     "party.public_official", "true 或 false"),
    (individual(finding("41.6")), "findings[第1个].category", "未知的违规类别 \"41.6\""),
    (individual(finding("38.1")), "findings[第1个].category", "定点医药机构"),
    (institution(finding("41.4")), "findings[第1个].category", "个人（非参保人员）"),
])
def test_bad_circumstances_and_categories(case, key, fragment):
    found = problems(case)
    assert any(f"键 {key}：" in p and fragment in p for p in found), found


# ---------------------------------------------------------------- properties of the new outputs

flag_sets = st.fixed_dictionaries({"refused_to_correct": st.booleans(), "serious_consequences": st.booleans()})


@given(st.lists(st.tuples(institution_categories, amounts, st.booleans()), min_size=1, max_size=6), flag_sets)
def test_measures_detail_lists_every_measure_once(findings, flags):
    decision = decide(institution(*(finding(c, a, i) for c, a, i in findings), **flags))
    assert [d["measure"] for d in decision["measures_detail"]] == decision["measures"] + decision["optional_measures"]
    assert all((d["track"] == "agreement") == (d["measure"] == "解除服务协议") for d in decision["measures_detail"])


@given(st.lists(st.tuples(institution_categories, amounts), min_size=1, max_size=6))
def test_must_not_penalise_removes_exactly_the_penalties(findings):
    """行政处罚法第三十三条第一款: the same case, minor, promptly corrected and harmless, loses its 罚款 and 暂停 only."""
    plain = decide(institution(*(finding(c, a) for c, a in findings)))
    spared = decide(institution(*(finding(c, a) for c, a in findings), **circumstances(*MUST)))
    penalties = {"罚款", "暂停医药服务", "暂停联网结算"}
    assert spared["measures"] == [m for m in plain["measures"] if m not in penalties]
    assert spared["optional_measures"] == plain["optional_measures"]
    assert spared["recover_yuan"] == plain["recover_yuan"]
    assert spared["terminate_agreement"] == plain["terminate_agreement"]
    assert spared["fine_yuan"] is None and spared["suspension_months"] is None
    assert spared["referrals"] == plain["referrals"]
