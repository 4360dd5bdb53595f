"""`yibao checklist list|score`, driven through the typer app."""

import json

import pytest
from typer.testing import CliRunner

from checklists import load_templates, template_for_kind
from yibao.commands import checklist_cmd

runner = CliRunner()
PHARMACY = template_for_kind("pharmacy")


def invoke(*args):
    return runner.invoke(checklist_cmd.app, list(args))


def write_answers(tmp_path, template_ref, answers, name="answers.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"template": template_ref, "answers": answers}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path


def all_pass(template=PHARMACY):
    return {i.id: {"result": "pass", "amount_yuan": None, "note": ""} for i in template.items}


def test_list_text():
    result = invoke("list")
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    for line, template in zip(lines, load_templates().values()):
        assert line.split("\t")[0] == template.id
        assert template.hash in line and f"{len(template.items)} 项" in line and template.version in line
    # the released versions kept for pinned records (templates/history) are not listed
    assert "2025.2" not in result.stdout and all(t.version == "2026.1" for t in load_templates().values())


def test_list_json():
    result = invoke("list", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [t["kind"] for t in listed] == ["hospital", "primary", "private", "pharmacy"]
    for entry in listed:
        template = load_templates()[entry["id"]]
        assert set(entry) == {"id", "kind", "version", "hash", "items"}
        assert entry["hash"] == template.hash and entry["version"] == template.version
        assert entry["items"] == [{"id": i.id, "section": i.section, "severity": i.severity, "category": i.category,
                                   "weight": i.weight} for i in template.items]


def test_score_all_pass(tmp_path):
    result = invoke("score", str(write_answers(tmp_path, "pharmacy", all_pass())))
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["template"] == "pharmacy" and out["template_hash"] == PHARMACY.hash
    assert out["score"] == 100.0 and out["critical"] is False and out["failed"] == [] and out["categories"] == {}
    assert out["applicable_weight"] == sum(i.weight for i in PHARMACY.items)


def test_score_with_failures_pinned_by_hash(tmp_path):
    answers = all_pass()
    answers["R-ID-01"] = {"result": "fail", "amount_yuan": "860.00", "note": "空刷 12 笔"}
    answers["R-PUB-01"] = {"result": "na", "amount_yuan": None, "note": "新开业，标牌在制作"}
    result = invoke("score", str(write_answers(tmp_path, PHARMACY.pin, answers)))
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    applicable = sum(i.weight for i in PHARMACY.items) - PHARMACY.item("R-PUB-01").weight
    assert out["applicable_weight"] == applicable
    assert out["score"] == round((applicable - 10) * 100 / applicable, 1)
    assert out["critical"] is True
    assert [f["id"] for f in out["failed"]] == ["R-ID-01"]
    assert out["categories"]["40.1"]["amount_yuan"] == "860.00"


def test_hash_mismatch_exits_1(tmp_path):
    result = invoke("score", str(write_answers(tmp_path, "pharmacy@" + "ab" * 32, all_pass())))
    assert result.exit_code == 1
    assert "哈希不符" in result.stderr and "answers.json" in result.stderr and "键 template" in result.stderr
    assert result.stdout == ""


def test_unknown_template_exits_1(tmp_path):
    result = invoke("score", str(write_answers(tmp_path, "clinic", all_pass())))
    assert result.exit_code == 1 and "未知的模板 \"clinic\"" in result.stderr


def test_bad_answers_exit_1_naming_each_with_line(tmp_path):
    answers = all_pass()
    del answers["R-MGT-03"]
    answers["R-ZZ-99"] = {"result": "pass"}
    answers["R-ID-02"] = {"result": "passed"}
    answers["R-FEE-01"] = {"result": "fail", "amount_yuan": "1.001"}
    path = write_answers(tmp_path, "pharmacy", answers)
    text_lines = path.read_text(encoding="utf-8").splitlines()
    result = invoke("score", str(path))
    assert result.exit_code == 1
    messages = result.stderr.strip().splitlines()
    assert len(messages) == 4
    expect = {("R-ZZ-99", None): "未知的条目编号", ("R-ID-02", "result"): "结果应为",
              ("R-FEE-01", "amount_yuan"): "最多两位小数"}
    for (item_id, field), fragment in expect.items():
        [message] = [m for m in messages if f"answers.{item_id}" in m]
        line = next(n for n, text in enumerate(text_lines, 1) if f'"{item_id}"' in text)
        if field:  # the field's own line, within the item's object
            line = next(n for n, text in enumerate(text_lines, 1) if n >= line and f'"{field}"' in text)
        assert fragment in message and f"第 {line} 行" in message and str(path) in message
    assert any("answers.R-MGT-03：缺少此条目的答案" in m for m in messages)


@pytest.mark.parametrize("content, fragment", [
    ("{not json", "JSON 格式错误"),
    ('{"template": "pharmacy", "template": "hospital", "answers": {}}', "重复出现"),
    ("[]", "答卷应为 JSON 对象"),
    ('{"answers": {}}', "缺少键 template"),
    ('{"template": "pharmacy", "answers": {}, "extra": 1}', "未知的键"),
])
def test_malformed_answers_file_exits_1(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = invoke("score", str(path))
    assert result.exit_code == 1 and fragment in result.stderr


def test_json_syntax_error_names_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"template": "pharmacy",\n "answers": {,}}', encoding="utf-8")
    result = invoke("score", str(path))
    assert result.exit_code == 1 and "第 2 行第 14 列" in result.stderr
    assert "键名应使用英文双引号" in result.stderr and "Expecting" not in result.stderr  # Chinese, not the parser's


def test_missing_file_is_a_usage_error(tmp_path):
    result = invoke("score", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and "无法读取文件" in result.stderr


def test_usage_errors_exit_2():
    assert invoke("score").exit_code == 2
    assert invoke("list", "--bogus").exit_code == 2
