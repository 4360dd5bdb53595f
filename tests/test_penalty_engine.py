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
