"""The 裁量基准 as data (行政处罚法 Art. 32–34), the band the cited factors leave, 时效 (Art. 36) and 一事不再罚
(Art. 29), pure: the engine's `band`, `yibao penalty decide` with factors, and the reviewer's choice checked
against the band."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bureau import decisions, review
from checklists import InputError
from checklists.discretion import (
    DISCRETION_DIR,
    FACTOR_KINDS,
    band,
    benchmark_for,
    limitation,
    load_benchmark,
    years_after,
)
from checklists.penalty import CIRCUMSTANCES, decide, no_penalty, penalty_rules
from staff_app.review_vm import DecisionViewModel
from tests.test_record_schema import BASE, answers
from yibao.commands import penalty_cmd

D = Decimal
BENCHMARK = benchmark_for()
FACTORS = BENCHMARK.factors
RANGE = (D("10000.00"), D("20000.00"))


def cited(*ids):
    return [FACTORS[i] for i in ids]


def institution_case(**more):
    return {"party": {"kind": "institution", "code": "H33010600001"},
            "findings": [{"category": "38.3", "amount_yuan": "12000.00"}], **more}


# ---------------------------------------------------------------- the band


@pytest.mark.parametrize("factors, expected", [
    ((), ("13000.00", "17000.00")),  # no factor: the middle part
    (("cooperated_truthfully",), ("10000.00", "13000.00")),  # 从轻: the lower part
    (("repeat_offence",), ("17000.00", "20000.00")),  # 从重: the upper part
    (("cooperated_truthfully", "repeat_offence"), ("10000.00", "20000.00")),  # both: the whole range
    (("eliminated_harm",), ("5000.00", "13000.00")),  # 减轻 (Art. 32): below the minimum
    (("eliminated_harm", "repeat_offence"), ("5000.00", "20000.00")),
    (("no_fault",), ("13000.00", "17000.00")),  # 不予处罚 acts through Art. 33, not the band
])
def test_the_band_the_factors_leave(factors, expected):
    low, high, reasons = band(RANGE, cited(*factors), BENCHMARK)
    assert (str(low), str(high)) == expected
    assert all(any(FACTORS[f].label in r for r in reasons) for f in factors)
    assert any("中段" in r for r in reasons) == (not {FACTORS[f].kind for f in factors} - {"不予处罚"})


@given(st.decimals(min_value=0, max_value=10 ** 6, places=2), st.decimals(min_value=0, max_value=10 ** 6, places=2),
       st.sets(st.sampled_from(sorted(FACTORS))))
def test_the_band_stays_in_the_range_and_only_mitigation_goes_below(a, b, ids):
    low, high = sorted((a, b))
    factors = cited(*ids)
    band_low, band_high, _ = band((low, high), factors, BENCHMARK)
    assert band_low <= band_high <= high
    mitigated = any(f.kind == "减轻" for f in factors)
    assert band_low >= (low * BENCHMARK.mitigated_floor_share).quantize(D("0.01")) if mitigated else band_low >= low


def test_the_default_benchmark_cites_the_law_or_says_it_is_a_default():
    text = (DISCRETION_DIR / "default.toml").read_text(encoding="utf-8")
    assert "第三十四条" in BENCHMARK.basis and "本项目默认值" in BENCHMARK.source and "本项目默认值" in text
    kinds = {f.kind for f in FACTORS.values()}
    assert kinds == set(FACTOR_KINDS)
    for factor in FACTORS.values():
        assert factor.basis.startswith("《中华人民共和国行政处罚法》") or "本项目默认" in factor.basis, factor.id
        if factor.kind == "减轻":
            assert "第三十二条" in factor.basis  # 减轻 only on Art. 32's grounds
    for factor in (f for f in FACTORS.values() if f.kind == "不予处罚"):
        assert "第三十三条" in factor.basis
        assert no_penalty(frozenset(factor.circumstances), penalty_rules().no_penalty) is not None, factor.id


def test_a_bad_benchmark_file_is_refused_naming_file_line_and_key(tmp_path):
    path = tmp_path / "zhejiang.toml"
    path.write_text("\n".join([
        'province = "zhejiang"', 'name = "浙江"', 'source = "浙医保发〔2099〕1号"',
        "[band]", 'basis = "x"', 'lighter_share = "0.7"', 'heavier_share = "0.6"', 'mitigated_floor_share = "2"',
        "[limitation]", 'basis = "第三十六条"', "years = 2", "extended_years = 1",
        "[[factors]]", 'id = "late"', 'label = "迟报"', 'kind = "加重"', 'basis = "x"',
        "[[factors]]", 'id = "minor"', 'label = "轻微"', 'kind = "不予处罚"', 'basis = "x"',
    ]), encoding="utf-8")
    with pytest.raises(InputError) as refused:
        load_benchmark(path, CIRCUMSTANCES)
    text = str(refused.value)
    for fragment in ("zhejiang.toml，第 4 行，键 band：lighter_share 与 heavier_share 之和不能超过 1",
                     "第 8 行，键 band.mitigated_floor_share", "第 12 行，键 limitation.extended_years",
                     "第 16 行，键 factors[第1个].kind：应为 从轻、减轻、从重、不予处罚 之一", "factors[第2个].circumstances"):
        assert fragment in text, text


# ---------------------------------------------------------------- the engine and the command line


def test_decide_gives_the_band_with_the_cited_factors():
    out = decide(institution_case(factors=["repeat_offence"]))
    assert out["fine_yuan"] == {"min": "12000.00", "max": "24000.00"}
    assert out["band"]["low_yuan"] == "20400.00" and out["band"]["high_yuan"] == "24000.00"
    assert out["band"]["factors"] == [{"id": "repeat_offence", "label": FACTORS["repeat_offence"].label,
                                       "kind": "从重", "basis": FACTORS["repeat_offence"].basis}]
    assert out["band"]["benchmark"]["province"] == "default"
    plain = decide(institution_case())
    assert plain["band"]["factors"] == [] and (plain["band"]["low_yuan"], plain["band"]["high_yuan"]) == (
        "15600.00", "20400.00")
    assert set(plain) == set(out)  # every field, with or without factors


def test_a_no_penalty_factor_states_article_33s_circumstances():
    must = decide(institution_case(factors=["minor_corrected_no_harm"]))
    assert must["no_penalty"] == "must" and must["fine_yuan"] is None and must["band"] is None
    assert must["circumstances"]["minor"] and must["circumstances"]["no_harm"]
    may = decide(institution_case(factors=["first_offence_minor_harm"]))
    assert may["no_penalty"] == "may" and [f["kind"] for f in may["band"]["factors"]] == ["不予处罚"]


@pytest.mark.parametrize("more, fragment", [
    ({"factors": ["repeat_offence", "后悔"]}, "键 factors[第2个]：未知的裁量情节 \"后悔\""),
    ({"factors": ["repeat_offence", "repeat_offence"]}, "键 factors[第2个]：裁量情节 \"repeat_offence\" 重复"),
    ({"factors": "repeat_offence"}, "键 factors：应为裁量情节编号的数组"),
    ({"province": "mars"}, "键 province：没有省份 \"mars\" 的裁量基准（已有：default）"),
])
def test_the_command_refuses_an_unknown_factor_or_province(tmp_path, more, fragment):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(institution_case(**more), ensure_ascii=False, indent=2), encoding="utf-8")
    result = CliRunner().invoke(penalty_cmd.app, ["decide", str(path)])
    assert result.exit_code == 1 and fragment in result.stderr, result.stderr


def test_the_command_prints_the_band(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(institution_case(factors=["eliminated_harm"], province="default")), encoding="utf-8")
    result = CliRunner().invoke(penalty_cmd.app, ["decide", str(path)])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["band"]["low_yuan"], out["band"]["high_yuan"]) == ("6000.00", "15600.00")
    assert out["band"]["factors"][0]["basis"] == "《中华人民共和国行政处罚法》第三十二条第（一）项"


# ---------------------------------------------------------------- 时效 (Art. 36)


def test_two_years_from_the_conducts_end_five_where_life_health_or_finance_is_harmed():
    rule = BENCHMARK.limitation
    assert (rule.years, rule.extended_years) == (2, 5) and "第三十六条" in rule.basis
    end = date(2024, 3, 1)
    assert not limitation(end, date(2026, 3, 1), False, rule)["expired"]  # discovered on the last day: in time
    late = limitation(end, date(2026, 3, 2), False, rule)
    assert late["expired"] and "不再给予行政处罚" in late["message"] and "2024-03-01" in late["message"]
    assert not limitation(end, date(2029, 3, 1), True, rule)["expired"]
    assert limitation(end, date(2029, 3, 2), True, rule)["expired"]
    assert years_after(date(2024, 2, 29), 2) == date(2026, 2, 28)


# ---------------------------------------------------------------- the reviewer's choice

RECORD = {**BASE, "answers": answers(**{"R-FEE-02": ("代刷", "5000.00")})}  # 38.4: fine 5,000–10,000
TODAY = date(2026, 11, 23)
DUE = TODAY + timedelta(days=30)


def choose(flags=decisions.Flags(), **choice):
    return decisions.check_choice(decisions.proposal(RECORD, flags), {"rectification_due": DUE, **choice}, TODAY)


def refusal(flags=decisions.Flags(), **choice) -> str:
    with pytest.raises(review.ReviewError) as refused:
        choose(flags, **choice)
    return refused.value.message


def test_a_fine_outside_the_middle_needs_a_factor():
    assert choose(fine_yuan="7000", fine_reason="一般情节")["fine_yuan"] == "7000.00"
    message = refusal(fine_yuan="5500", fine_reason="配合调查")
    assert "罚款 5500.00 元不在裁量幅度 6500.00～8500.00 元内（未引用从轻、减轻或从重情节" in message
    lighter = decisions.Flags(factors=("cooperated_truthfully",))
    chosen = choose(lighter, fine_yuan="5500", fine_reason="配合调查")
    assert chosen["case_flags"]["factors"] == ["cooperated_truthfully"]
    assert [f["id"] for f in chosen["proposal"]["band"]["factors"]] == ["cooperated_truthfully"]
    assert "从轻：积极配合调查" in refusal(lighter, fine_yuan="7000", fine_reason="x")  # 从轻 cited: not the middle


def test_mitigation_may_go_below_the_minimum_only_on_article_32s_grounds():
    below = refusal(fine_yuan="3000", fine_reason="x")
    assert "超出法定幅度 5000.00～10000.00 元" in below and "第三十二条" in below
    mitigated = decisions.Flags(factors=("eliminated_harm",))
    assert choose(mitigated, fine_yuan="3000", fine_reason="主动消除危害后果")["fine_yuan"] == "3000.00"
    assert "不在裁量幅度 2500.00～6500.00 元内" in refusal(mitigated, fine_yuan="2000", fine_reason="x")
    assert "第三十二条" not in refusal(mitigated, fine_yuan="2000", fine_reason="x")
    assert "未知的裁量情节" in refusal(decisions.Flags(factors=("后悔",)), fine_yuan="7000", fine_reason="x")


def test_the_time_bar_warns_and_lets_the_reviewer_decide_not_to_penalise():
    inspected = review.inspected_on(RECORD)
    in_time = decisions.proposal(RECORD)["limitation"]
    assert in_time["conduct_end"] == inspected.isoformat() and not in_time["expired"]
    barred = decisions.Flags(conduct_to=years_after(inspected, -2) - timedelta(days=1))
    proposed = decisions.proposal(RECORD, barred)
    assert proposed["limitation"]["expired"] and "第三十六条" in proposed["limitation"]["message"]
    assert proposed["flags"]["conduct_from"] == proposed["flags"]["conduct_to"]
    waived = decisions.check_choice(proposed, {"waive_penalty": True, "rectification_due": DUE}, TODAY)
    assert waived["fine_yuan"] is None and waived["measures"] == ["责令改正", "责令退回"]
    assert waived["case_flags"]["limitation"]["expired"]
    fined = decisions.check_choice(proposed, {"fine_yuan": "7000", "fine_reason": "x", "rectification_due": DUE},
                                   TODAY)  # accepted with the warning; `issue` refuses it
    assert fined["fine_yuan"] == "7000.00"
    longer = decisions.proposal(RECORD, decisions.Flags(conduct_to=barred.conduct_to, limitation_extended=True))
    assert not longer["limitation"]["expired"] and longer["limitation"]["years"] == 5
    assert "不属于可以不予行政处罚的情形" in refusal(waive_penalty=True)
    start_after_end = decisions.Flags(conduct_from=inspected, conduct_to=inspected - timedelta(days=1))
    with pytest.raises(decisions.DecisionError, match="起始日期 .* 晚于终了日期"):
        decisions.proposal(RECORD, start_after_end)


def test_flags_read_back_from_a_stored_decision():
    chosen = choose(decisions.Flags(factors=("repeat_offence",), conduct_from=date(2025, 1, 1),
                                    conduct_to=date(2025, 6, 30), limitation_extended=True),
                    fine_yuan="9000", fine_reason="再次违法")
    stored = json.loads(json.dumps(chosen["case_flags"]))
    assert decisions.flags_of(stored) == decisions.Flags(factors=("repeat_offence",), conduct_from=date(2025, 1, 1),
                                                         conduct_to=date(2025, 6, 30), limitation_extended=True)


# ---------------------------------------------------------------- 一事不再罚 (Art. 29)

EARLIER = [{"decision_no": "医保行处〔2026〕1号", "categories": ["38.4", "38.6"],
            "period": (date(2026, 1, 1), date(2026, 3, 31))}]


@pytest.mark.parametrize("categories, period, same", [
    ({"38.4"}, (date(2026, 3, 31), date(2026, 5, 1)), True),  # overlaps on one day
    ({"38.6", "39.1"}, (date(2025, 6, 1), date(2026, 1, 1)), True),
    ({"38.4"}, (date(2026, 4, 1), date(2026, 5, 1)), False),  # the next period: another act
    ({"38.1"}, (date(2026, 1, 1), date(2026, 3, 31)), False),  # another category
])
def test_a_second_fine_for_the_same_conduct(categories, period, same):
    found = decisions.earlier_fine(categories, period, EARLIER)
    assert (found is not None) == same and (found is None or found["decision_no"] == "医保行处〔2026〕1号")


# ---------------------------------------------------------------- the decision screen's view-model


class _Client:
    """Answers the screen's proposal request with the real engine and the limitation it is given."""

    def __init__(self, limitation: dict | None) -> None:
        self.limitation, self.asked = limitation, 0
        self.params: dict = {}

    def proposal(self, _record_id: str, params: dict) -> dict:
        self.params, self.asked = params, self.asked + 1
        return {"findings": [], "institution_points_total": 0, "limitation": self.limitation,
                "penalty": decide(institution_case(factors=params["factor"])),
                "discretion": {"benchmark": BENCHMARK.as_json(), "factors": [f.as_json() for f in FACTORS.values()]}}


def test_the_screen_sends_the_factors_and_the_period_and_shows_band_and_time_bar():
    expired = limitation(date(2020, 1, 1), date(2026, 11, 23), False, BENCHMARK.limitation)
    client = _Client(expired)
    vm = DecisionViewModel(client, "r1")
    vm.factors, vm.conduct_to, vm.waive_penalty = {"repeat_offence"}, "2020-01-01", True
    vm.refresh()
    assert client.params["factor"] == ["repeat_offence"] and client.params["conduct_to"] == "2020-01-01"
    assert "conduct_from" not in client.params and client.params["limitation_extended"] == "false"
    lines = vm.range_text()
    assert "裁量幅度：¥20,400.00（贰万零肆佰元整） 至 ¥24,000.00（贰万肆仟元整）（从重：两年内因同类违法行为受过行政处罚；" \
           "默认裁量基准（依行政处罚法框架））" in lines
    assert any(line.startswith("已过行政处罚时效：违法行为终了于 2020-01-01") for line in lines)
    assert vm.time_barred and vm.waive_penalty  # the time bar lets the reviewer decide not to penalise
    assert {f["kind"] for f in vm.band_factors} == {"从轻", "减轻", "从重"}
    vm.reason = "已过时效"
    body = vm.choice()
    assert body is not None and body["factors"] == ["repeat_offence"] and body["fine_yuan"] is None
    assert (body["conduct_from"], body["conduct_to"]) == (None, "2020-01-01")

    client.limitation = None
    vm.refresh()
    assert not vm.time_barred and not vm.waive_penalty  # nothing to waive any more
    vm.conduct_from = "去年"
    asked = client.asked
    vm.refresh()
    assert client.asked == asked and vm.message == "违法行为起始日期应写作 2025-06-30 这样的日期"
    assert vm.choice() is None and "违法行为起始日期应写作 2025-06-30 这样的日期" in vm.problems
