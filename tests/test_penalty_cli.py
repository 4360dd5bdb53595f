"""`yibao penalty decide CASE.json`, driven through the typer app; and the rules file's own validation."""

import json

import pytest
from typer.testing import CliRunner

from checklists import InputError
from checklists.penalty import PENALTIES_FILE, load_penalty_rules, penalty_rules
from yibao.commands import penalty_cmd

runner = CliRunner()


def run_case(tmp_path, case, raw=None):
    path = tmp_path / "case.json"
    path.write_text(raw if raw is not None else json.dumps(case, ensure_ascii=False, indent=2), encoding="utf-8")
    return path, runner.invoke(penalty_cmd.app, ["decide", str(path)])


def test_decide_38_3(tmp_path):
    _, result = run_case(tmp_path, {
        "party": {"kind": "institution", "code": "H33010600001"},
        "findings": [{"category": "38.3", "amount_yuan": "12000.00", "intent_to_defraud": False}],
        "refused_to_correct": False, "serious_consequences": False})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["articles"] == [38]
    assert out["measures"] == ["责令改正", "责令退回", "罚款"] and out["optional_measures"] == ["约谈"]
    assert out["recover_yuan"] == "12000.00" and out["fine_yuan"] == {"min": "12000.00", "max": "24000.00"}
    assert out["suspension_months"] is None and out["terminate_agreement"] is False


def test_decide_40_3(tmp_path):
    _, result = run_case(tmp_path, {"party": {"kind": "institution", "code": "P33010600002"},
                                    "findings": [{"category": "40.3", "amount_yuan": "50000.00"}]})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["measures"] == ["责令退回", "罚款", "暂停医药服务", "解除服务协议"]
    assert out["fine_yuan"] == {"min": "100000.00", "max": "250000.00"}
    assert out["suspension_months"] == {"min": 6, "max": 12} and out["terminate_agreement"] is True


def test_decide_40_3_new_outputs(tmp_path):
    """Issue #15's fields for 条例第四十条 (fraud): agreement-track 解除, a hearing, and two referrals."""
    _, result = run_case(tmp_path, {"party": {"kind": "institution", "code": "P33010600002"},
                                    "findings": [{"category": "40.3", "amount_yuan": "50000.00"}]})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["no_penalty"] is None and out["hearing_right"] is True
    assert [(d["measure"], d["track"], d["imposed_by"]) for d in out["measures_detail"]] == [
        ("责令退回", "administrative", "医疗保障行政部门"), ("罚款", "administrative", "医疗保障行政部门"),
        ("暂停医药服务", "administrative", "医疗保障行政部门"), ("解除服务协议", "agreement", "医疗保障经办机构")]
    assert [r["to"] for r in out["referrals"]] == ["公安机关", "卫生健康主管部门"]


def test_decide_must_not_penalise(tmp_path):
    """行政处罚法第三十三条第一款: minor, promptly corrected, no harm → no 罚款, 责令改正 and 责令退回 stay."""
    _, result = run_case(tmp_path, {"party": {"kind": "institution", "code": "H33010600001"},
                                    "findings": [{"category": "38.3", "amount_yuan": "12000.00"}],
                                    "circumstances": {"minor": True, "corrected_promptly": True, "no_harm": True,
                                                      "first_offence": False}})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["no_penalty"] == "must" and out["fine_yuan"] is None and out["suspension_months"] is None
    assert out["measures"] == ["责令改正", "责令退回"] and out["recover_yuan"] == "12000.00"
    assert out["hearing_right"] is False and out["referrals"] == []


def test_decide_individual_41_4(tmp_path):
    """条例第四十一条第二款: 冒名就医 fined 2–5× without intent; 第一款: no 暂停联网结算 for a non-insured person."""
    _, result = run_case(tmp_path, {"party": {"kind": "individual", "code": "X"},
                                    "findings": [{"category": "41.4", "amount_yuan": "800.00"}]})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["fine_yuan"] == {"min": "1600.00", "max": "4000.00"} and out["suspension_months"] is None
    assert out["measures"] == ["责令改正", "责令退回", "罚款"] and out["hearing_right"] is False


@pytest.mark.parametrize("case, key, fragment", [
    ({"party": {"kind": "insured"}, "findings": [{"category": "41.1"}], "circumstances": {"remorse": True}},
     "circumstances.remorse", "未知的情节"),
    ({"party": {"kind": "insured"}, "findings": [{"category": "41.1"}], "circumstances": {"minor": 1}},
     "circumstances.minor", "true 或 false"),
    ({"party": {"kind": "insured"}, "findings": [{"category": "41.1"}], "refused_to_correct": True,
      "circumstances": {"corrected_promptly": True}}, "circumstances.corrected_promptly", "refused_to_correct"),
    ({"party": {"kind": "insured"}, "findings": [{"category": "41.7"}]}, "findings[第1个].category",
     "未知的违规类别 \"41.7\""),
    ({"party": {"kind": "person"}, "findings": [{"category": "41.4"}]}, "party.kind", "individual"),
])
def test_bad_circumstances_and_categories_exit_1_naming_the_field(tmp_path, case, key, fragment):
    path, result = run_case(tmp_path, case)
    assert result.exit_code == 1 and result.stdout == ""
    leaf = key.split(".")[-1].split("[")[0]
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if f'"{leaf}"' in text)
    assert f"第 {line} 行" in result.stderr and f"键 {key}：" in result.stderr and fragment in result.stderr


def test_decide_insured(tmp_path):
    _, result = run_case(tmp_path, {"party": {"kind": "insured", "code": "X"},
                                    "findings": [{"category": "41.1", "amount_yuan": "800", "intent_to_defraud": True}]})
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["suspension_months"] == {"min": 3, "max": 12} and out["fine_yuan"] == {"min": "1600.00", "max": "4000.00"}


@pytest.mark.parametrize("finding, party, fragment", [
    ({"category": "38.9", "amount_yuan": "1.00"}, "institution", "未知的违规类别"),
    ({"category": "38.3", "amount_yuan": "1.005"}, "institution", "最多两位小数"),
    ({"category": "38.3", "amount_yuan": "-1.00"}, "institution", "不能为负数"),
    ({"category": "38.3", "amount_yuan": 1.5}, "institution", "字符串"),
    ({"category": "41.2", "amount_yuan": "1.00"}, "institution", "参保人员"),
    ({"category": "40.1", "amount_yuan": "1.00"}, "insured", "定点医药机构"),
])
def test_bad_input_exits_1_with_file_line_and_key(tmp_path, finding, party, fragment):
    path, result = run_case(tmp_path, {"party": {"kind": party, "code": "X"}, "findings": [finding]})
    assert result.exit_code == 1 and result.stdout == ""
    key = "category" if "类别" in fragment or "机构" in fragment or "人员" in fragment else "amount_yuan"
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if f'"{key}"' in text)
    assert str(path) in result.stderr and f"第 {line} 行" in result.stderr
    assert f"findings[第1个].{key}" in result.stderr and fragment in result.stderr


def test_second_finding_is_located_on_its_own_line(tmp_path):
    raw = ('{"party": {"kind": "institution", "code": "X"},\n'
           ' "findings": [\n'
           '  {"category": "38.1", "amount_yuan": "1.00"},\n'
           '  {"category": "38.1", "amount_yuan": "1.001"}\n'
           ' ]}\n')
    _, result = run_case(tmp_path, None, raw)
    assert result.exit_code == 1 and "第 4 行" in result.stderr and "findings[第2个].amount_yuan" in result.stderr


def test_float_amount_in_json_is_rejected_even_when_integral(tmp_path):
    _, result = run_case(tmp_path, None, '{"party": {"kind": "institution"}, '
                                         '"findings": [{"category": "38.1", "amount_yuan": 12000.00}]}')
    assert result.exit_code == 1 and "字符串" in result.stderr


def test_malformed_json_exits_1(tmp_path):
    _, result = run_case(tmp_path, None, '{"party": ')
    assert result.exit_code == 1 and "JSON 格式错误" in result.stderr


def test_missing_file_and_missing_argument_exit_2(tmp_path):
    assert runner.invoke(penalty_cmd.app, ["decide", str(tmp_path / "none.json")]).exit_code == 2
    assert runner.invoke(penalty_cmd.app, ["decide"]).exit_code == 2


# ---------------------------------------------------------------- rules file validation

def test_packaged_rules_load():
    rules = penalty_rules()
    assert rules.measure_order[0] == "责令改正" and rules.measure_order[-1] == "解除服务协议"
    assert set(rules.articles) == {13, 38, 39, 40, 41}  # 13: breaches of the service agreement
    assert all(clause.basis for article in rules.articles.values() for clause in article.clauses)
    assert set(rules.tracks) == set(rules.measure_order)
    assert rules.tracks["解除服务协议"].imposed_by == "医疗保障经办机构"
    assert all(rule.basis for rule in rules.no_penalty.rules) and all(r.basis for r in rules.referrals)
    assert set(rules.hearing.fine_threshold) == {"institution", "insured", "individual"}


def broken(tmp_path, old, new):
    text = PENALTIES_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "penalties.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_penalty_rules(path)
    return text.replace(old, new, 1), caught.value.problems


@pytest.mark.parametrize("old, new, fragment", [
    ('fine_multiple = { min = "1", max = "2" }', 'fine_multiple = { min = "3", max = "2" }', "下限 3 大于上限 2"),
    ('fine_multiple = { min = "1", max = "2" }', 'fine_multiple = { min = 1.0, max = "2" }', "十进制字符串"),
    ('fine_yuan = { min = "10000.00", max = "50000.00" }', 'fine_yuan = { min = "10000.001", max = "50000.00" }',
     "最多两位小数"),
    ('suspension_months = { min = 3, max = 12 }', 'suspension_months = { min = 0, max = 12 }', "正整数"),
    ('when = ["loss"]', 'when = ["lost"]', "未知的条件 \"lost\""),
    ('measures = ["责令改正"]', 'measures = ["警告"]', "未知的措施 \"警告\""),
    ('handled_as = "40"', 'handled_as = "50"', "handled_as"),
    ('[articles.39]', '[articles.49]', "未在词汇表"),
])
def test_rules_problems_name_file_line_and_key(tmp_path, old, new, fragment):
    text, problems = broken(tmp_path, old, new)
    [problem] = [p for p in problems if fragment in p]
    assert "penalties.toml" in problem and "键 articles." in problem
    if "49" not in new:
        line = next(n for n, t in enumerate(text.splitlines(), 1) if new.splitlines()[0] in t)
        assert f"第 {line} 行" in problem


@pytest.mark.parametrize("old, new, key, fragment", [
    ('measures = ["按服务协议处理", "解除服务协议"]', 'measures = ["按服务协议处理"]', "tracks",
     "\"解除服务协议\" 不属于任何轨道"),
    ('measures = ["按服务协议处理", "解除服务协议"]', 'measures = ["按服务协议处理", "解除服务协议", "罚款"]',
     "tracks.agreement.measures",
     "已在 tracks.administrative 中"),
    ('[tracks.agreement]', '[tracks.contract]', "tracks.contract", "未知的键"),
    ('outcome = "may"', 'outcome = "perhaps"', "no_penalty.rules[第3个].outcome", "must、may"),
    ('when = ["no_fault"]', 'when = ["remorse"]', "no_penalty.rules[第2个].when", "未知的情节 \"remorse\""),
    ('individual = "5000.00"\n', '', "hearing.fine_threshold_yuan.individual", "缺少个人（非参保人员）的较大数额罚款标准"),
    ('institution = "100000.00"', 'institution = "10万"', "hearing.fine_threshold_yuan.institution", "不是有效的金额"),
    ('articles = [40]', 'articles = [42]', "referrals[第2个].articles", "已定义规则的条款号"),
    ('fraud_yuan_at_least = "3000.00"', 'fraud_yuan_at_least = 3000', "referrals[第1个].fraud_yuan_at_least",
     "字符串"),
    ('政务处分法》"\nmeasures = ["禁止', '政务处分法》"\nmeasures = ["处分", "禁止', "referrals[第4个].measures",
     "未知的措施 \"处分\""),
    ('政务处分法》"\nmeasures = ["禁止法定代表人（主要负责人）从事定点医药机构管理活动"]', '政务处分法》"', "referrals[第4个]",
     "应至少有一项条件"),
    ('categories = ["41.4"]', 'categories = ["38.1"]', "articles.41.clauses[第5个].categories",
     "未知的违规类别 \"38.1\"（应为 第 41 条的"),
    ('fraud = true\n', 'fraud = "yes"\n', "articles.40.clauses[第1个].fraud", "true 或 false"),
])
def test_new_rules_sections_are_checked(tmp_path, old, new, key, fragment):
    _, problems = broken(tmp_path, old, new)
    assert any("penalties.toml" in p and f"键 {key}：" in p and fragment in p for p in problems), problems


def test_rules_missing_basis(tmp_path):
    old = 'basis = "条例第三十九条：拒不改正的，处1万元以上5万元以下的罚款"\n'
    _, problems = broken(tmp_path, old, "")
    assert any("缺少法律依据" in p and "articles.39.clauses[第2个].basis" in p for p in problems)
