"""Scoring: earned / applicable weight × 100, one decimal; na leaves both sides; failed A → critical."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checklists import InputError, template_for_kind
from checklists.penalty import decide
from checklists.scoring import score, score_partial

HOSPITAL = template_for_kind("hospital")


def all_pass(template=HOSPITAL):
    return {item.id: {"result": "pass", "note": ""} for item in template.items}


def weight_of(*ids):
    return sum(HOSPITAL.item(i).weight for i in ids)


def test_all_pass_scores_100_and_is_not_critical():
    result = score(HOSPITAL, all_pass())
    total = sum(i.weight for i in HOSPITAL.items)
    assert (result.score, result.applicable_weight, result.earned_weight) == (Decimal("100.0"), total, total)
    assert not result.critical and result.failed == () and result.categories() == {}


def test_failures_and_na_follow_the_formula_rounded_to_one_decimal():
    answers = all_pass()
    answers["H-FEE-01"] = {"result": "fail", "amount_yuan": "1200.00", "note": "拆分计费"}
    answers["H-PUB-01"] = {"result": "fail"}
    answers["H-DX-03"] = {"result": "na", "na_reason": "无住院部"}
    result = score(HOSPITAL, answers)
    applicable = sum(i.weight for i in HOSPITAL.items) - weight_of("H-DX-03")
    earned = applicable - weight_of("H-FEE-01", "H-PUB-01")
    assert result.applicable_weight == applicable and result.earned_weight == earned
    expected = (Decimal(earned * 100) / Decimal(applicable)).quantize(Decimal("0.1"), "ROUND_HALF_UP")
    assert result.score == expected
    assert result.score.as_tuple().exponent == -1
    assert not result.critical


def test_one_decimal_rounded_half_up():
    answers = {i.id: {"result": "na", "note": "测试"} for i in HOSPITAL.items}
    answers["H-FEE-01"] = {"result": "pass"}  # weight 6
    answers["H-FEE-02"] = {"result": "pass"}  # weight 6
    answers["H-PUB-03"] = {"result": "fail"}  # weight 3: 12 / 15
    assert score(HOSPITAL, answers).score == Decimal("80.0")
    answers["H-MGT-01"] = {"result": "fail"}  # 12 / 18 = 66.666…
    assert score(HOSPITAL, answers).score == Decimal("66.7")

    item = HOSPITAL.items[0]
    tiny = replace(HOSPITAL, items=(replace(item, id="a", weight=1), replace(item, id="b", weight=399)))
    assert score(tiny, {"a": {"result": "pass"}, "b": {"result": "fail"}}).score == Decimal("0.3")  # 0.25 → 0.3


def test_any_failed_severity_a_is_critical_whatever_the_score():
    answers = all_pass()
    answers["H-DX-06"] = {"result": "fail", "amount_yuan": "50000.00"}
    result = score(HOSPITAL, answers)
    assert result.critical
    assert result.score > Decimal("90")
    json_out = result.to_json(HOSPITAL)
    assert json_out["critical"] is True


def test_failed_items_listed_by_section_and_categories_found():
    answers = all_pass()
    answers["H-MGT-04"] = {"result": "fail"}
    answers["H-FEE-03"] = {"result": "fail", "amount_yuan": "100.50"}
    answers["H-FEE-01"] = {"result": "fail", "amount_yuan": "200.25"}
    answers["H-ID-02"] = {"result": "fail", "note": "3 张空床"}
    result = score(HOSPITAL, answers)
    assert [f.item.id for f in result.failed] == ["H-ID-02", "H-FEE-01", "H-FEE-03", "H-MGT-04"]
    assert {s: [f.item.id for f in fs] for s, fs in result.failed_by_section().items()} == {
        "identity": ["H-ID-02"], "billing": ["H-FEE-01", "H-FEE-03"], "management": ["H-MGT-04"]}
    categories = result.categories()
    assert list(categories) == ["38.1", "38.3", "39.3"]
    assert categories["38.3"]["items"] == ["H-FEE-01", "H-FEE-03"]
    assert categories["38.3"]["amount_yuan"] == "300.75"
    assert categories["38.1"]["amount_yuan"] == "0.00"


def test_json_shape():
    answers = all_pass()
    answers["H-FEE-01"] = {"result": "fail", "amount_yuan": "1200", "note": "拆分"}
    out = score(HOSPITAL, answers).to_json(HOSPITAL)
    assert {"template", "template_hash", "score", "applicable_weight", "critical", "failed", "categories"} <= set(out)
    assert out["template"] == "hospital" and out["template_hash"] == HOSPITAL.hash
    assert isinstance(out["score"], float) and out["score"] == float(score(HOSPITAL, answers).score)
    [failed] = out["failed"]
    assert failed["id"] == "H-FEE-01" and failed["section"] == "billing" and failed["section_title"] == "收费与结算"
    assert failed["amount_yuan"] == "1200.00" and failed["category"] == "38.3" and failed["note"] == "拆分"
    assert out["failed_by_section"] == {"billing": ["H-FEE-01"]}


def test_all_na_has_no_score():
    answers = {i.id: {"result": "na", "na_reason": "停业"} for i in HOSPITAL.items}
    result = score(HOSPITAL, answers)
    assert result.score is None and result.applicable_weight == 0
    assert result.to_json(HOSPITAL)["score"] is None


def test_penalty_findings_feed_the_engine():
    answers = all_pass()
    answers["H-FEE-01"] = {"result": "fail", "amount_yuan": "12000.00"}
    findings = score(HOSPITAL, answers).penalty_findings()
    assert findings == [{"category": "38.3", "amount_yuan": "12000.00", "intent_to_defraud": False, "item_id": "H-FEE-01"}]
    decision = decide({"party": {"kind": "institution", "code": "H33010000001"}, "findings": findings})
    assert decision["fine_yuan"] == {"min": "12000.00", "max": "24000.00"}


# ---------------------------------------------------------------- bad answers

def problems(answers):
    with pytest.raises(InputError) as caught:
        score(HOSPITAL, answers)
    return caught.value.problems


def test_unknown_missing_and_bad_results_are_each_named():
    answers = all_pass()
    del answers["H-ID-01"], answers["H-MGT-05"]
    answers["H-NOPE"] = {"result": "pass"}
    answers["H-FEE-01"] = {"result": "ok"}
    answers["H-FEE-02"] = {}
    answers["H-FEE-03"] = "pass"
    found = "\n".join(problems(answers))
    assert "answers.H-NOPE：未知的条目编号" in found
    assert "answers.H-ID-01：缺少此条目的答案" in found and "answers.H-MGT-05：缺少此条目的答案" in found
    assert "answers.H-FEE-01.result：结果应为 pass、fail 或 na，实际为 \"ok\"" in found
    assert "answers.H-FEE-02.result" in found
    assert "answers.H-FEE-03：应为对象" in found


@pytest.mark.parametrize("amount, fragment", [("12.345", "最多两位小数"), ("-1", "不能为负数"),
                                              (12.5, "字符串"), ("abc", "不是有效的金额")])
def test_bad_amounts(amount, fragment):
    answers = all_pass()
    answers["H-FEE-01"] = {"result": "fail", "amount_yuan": amount}
    [problem] = problems(answers)
    assert "answers.H-FEE-01.amount_yuan" in problem and fragment in problem


def test_na_needs_a_reason():
    answers = all_pass()
    answers["H-DX-03"] = {"result": "na"}
    [problem] = problems(answers)
    assert "H-DX-03" in problem and "须说明理由" in problem
    answers["H-DX-03"] = {"result": "na", "note": "无住院部"}
    assert score(HOSPITAL, answers).applicable_weight < sum(i.weight for i in HOSPITAL.items)


def test_answers_must_be_an_object():
    with pytest.raises(InputError, match="以条目编号为键的对象"):
        score(HOSPITAL, ["pass"])


def test_non_string_note():
    answers = all_pass()
    answers["H-FEE-01"] = {"result": "pass", "note": 5}
    [problem] = problems(answers)
    assert "answers.H-FEE-01.note" in problem


# ---------------------------------------------------------------- live score while answering

def test_partial_progress():
    progress = score_partial(HOSPITAL, {})
    assert (progress.answered, progress.total, progress.score, progress.critical) == (0, len(HOSPITAL.items), None, False)
    progress = score_partial(HOSPITAL, {"H-FEE-01": {"result": "pass"}, "H-PUB-03": {"result": "fail"},
                                        "H-ID-01": {"result": None}, "H-ID-02": {"result": ""}})
    assert (progress.answered, progress.earned_weight, progress.applicable_weight) == (2, 6, 9)
    assert progress.score == Decimal("66.7")
    assert score_partial(HOSPITAL, {"H-DX-07": {"result": "fail"}}).critical


def test_partial_still_rejects_unknown_ids_and_bad_results():
    with pytest.raises(InputError, match="未知的条目编号"):
        score_partial(HOSPITAL, {"X": {"result": "pass"}})
    with pytest.raises(InputError, match="结果应为"):
        score_partial(HOSPITAL, {"H-FEE-01": {"result": "FAIL"}})


@given(st.dictionaries(st.sampled_from([i.id for i in HOSPITAL.items]),
                       st.sampled_from(["pass", "fail", "na"])))
def test_partial_score_bounds_and_agreement_with_full_score(results):
    answers = {k: {"result": v, "na_reason": "测试"} for k, v in results.items()}
    progress = score_partial(HOSPITAL, answers)
    assert progress.answered == len(answers)
    assert 0 <= progress.earned_weight <= progress.applicable_weight
    if progress.score is not None:
        assert Decimal(0) <= progress.score <= Decimal(100)
    if len(answers) == len(HOSPITAL.items):
        full = score(HOSPITAL, answers)
        assert (full.score, full.critical) == (progress.score, progress.critical)
