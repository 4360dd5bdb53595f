"""Checklist templates: the packaged four, and the loader's validation with file, line and key."""

import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import checklists
from checklists import (
    InputError,
    load_template,
    load_templates,
    resolve_template,
    template_for_kind,
)
from checklists.templates import TEMPLATES_DIR, template_hash

KIND_NAMES = {"hospital": "二级及以上医院", "primary": "基层医疗机构", "private": "社会办医疗机构",
              "pharmacy": "定点零售药店"}
SECTION_TITLES = {"身份核验", "收费与结算", "公示与告知", "内部管理"}

VALID = '''\
id = "tiny"
kind = "pharmacy"
version = "1"
title = "测试模板"

[[sections]]
id = "identity"
title = "身份核验"

[[items]]
id = "T-01"
section = "identity"
text = "核验身份"
evidence = "拍摄核对记录"
severity = "B"
category = "38.7"
basis = "条例第三十八条第（七）项"
weight = 5
photo_required_on_fail = true
asks_amount = true

[[items]]
id = "T-02"
section = "identity"
text = "无空刷"
evidence = "调取结算流水"
severity = "A"
category = "40.1"
basis = "条例第四十条"
weight = 10
photo_required_on_fail = true
asks_amount = true

[[items.limits]]
key = "days"
label = "天数"
max = 7
unit = "日"
source = "S002"
'''


def write(tmp_path: Path, text: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_template(write(tmp_path, text))
    return caught.value.problems


def line_number(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


# ---------------------------------------------------------------- the packaged templates

def test_all_four_kinds_load_with_at_least_18_items():
    templates = load_templates()
    assert sorted(t.kind for t in templates.values()) == sorted(KIND_NAMES)
    for template in templates.values():
        assert len(template.items) >= 18, template.id
        assert template_for_kind(template.kind) is template
        assert SECTION_TITLES <= {s.title for s in template.sections}
        assert len(template.hash) == 64 and int(template.hash, 16) >= 0
        assert template.version


def test_every_item_is_complete_and_consistent():
    categories = checklists.CATEGORIES
    for template in load_templates().values():
        ids = [i.id for i in template.items]
        assert len(ids) == len(set(ids))
        for item in template.items:
            assert item.text and item.evidence and item.basis
            assert item.severity in "ABCD"
            assert item.category in categories and not item.category.startswith("41.")
            assert item.weight > 0
            assert item.section in {s.id for s in template.sections}
            if item.severity == "A":  # fraud items sit under Art. 40 and are photographed
                assert item.category.startswith("40.") and item.photo_required_on_fail


def test_numeric_limits_are_data_with_their_source():
    hospital, primary, pharmacy = (template_for_kind(k) for k in ("hospital", "primary", "pharmacy"))
    limits = {lim.key: lim for item in primary.items for lim in item.limits}
    assert (limits["acute_days"].max, limits["chronic_days"].max, limits["specified_disease_days"].max) == (7, 15, 30)
    assert limits["drugs_per_prescription"].max == 5
    assert limits["long_prescription_weeks"].max == 12 and limits["long_prescription_weeks"].unit == "周"
    records = {lim.key: lim for lim in next(i for i in hospital.items if i.id == "H-MGT-03").limits}
    assert records["outpatient_prescription_years"].min == 2 and records["inpatient_record_years"].min == 15
    assert all(lim.source for t in (hospital, primary, pharmacy) for i in t.items for lim in i.limits)
    staff = next(lim for i in pharmacy.items for lim in i.limits if lim.key == "insurance_staff")
    assert staff.min == 2 and staff.uncertain


def test_kinds_and_categories_vocabulary():
    assert dict(checklists.KINDS) == KIND_NAMES
    expected = [f"38.{n}" for n in range(1, 8)] + [f"39.{n}" for n in range(1, 8)] + \
               [f"40.{n}" for n in range(1, 5)] + [f"41.{n}" for n in range(1, 6)]  # 41.4–41.5: Art. 41 ¶2
    assert list(checklists.CATEGORIES) == expected
    assert checklists.CATEGORIES["38.3"].text == "重复收费、超标准收费、分解项目收费"
    assert checklists.CATEGORIES["40.3"].article == 40 and checklists.CATEGORIES["40.3"].item == 3
    assert "第三十九条" in checklists.CATEGORIES["39.7"].basis
    assert checklists.vocabulary().articles[41].party == "insured"
    assert checklists.vocabulary().articles[41].applies_to("individual")  # 条例第四十一条：“个人”
    with pytest.raises(AttributeError):
        checklists.NO_SUCH_NAME  # noqa: B018


def test_hash_is_sha256_of_canonical_json_of_the_content():
    path = TEMPLATES_DIR / "hospital.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    expected = hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
                              .encode("utf-8")).hexdigest()
    assert template_for_kind("hospital").hash == expected == template_hash(doc)


def test_hash_agrees_with_the_project_canonical_json():
    """Every hash in the system uses one canonical form (sync.canonical); template hashes must agree."""
    from sync import canonical
    for template in load_templates().values():
        doc = tomllib.loads((TEMPLATES_DIR / f"{template.id}.toml").read_text(encoding="utf-8"))
        assert canonical.content_hash(doc) == template.hash


def test_hash_ignores_comments_and_layout_but_not_values(tmp_path):
    base = load_template(write(tmp_path, VALID)).hash
    reformatted = "# 注释\n" + VALID.replace('weight = 5', 'weight    =   5   # 权重')
    assert load_template(write(tmp_path, reformatted)).hash == base
    assert load_template(write(tmp_path, VALID.replace("weight = 5", "weight = 6"))).hash != base


def test_resolve_template_by_id_and_pin():
    hospital = template_for_kind("hospital")
    assert resolve_template("hospital") is hospital
    assert resolve_template(hospital.pin) is hospital
    assert resolve_template(f"hospital@{hospital.hash.upper()}") is hospital
    with pytest.raises(InputError, match="哈希不符"):
        resolve_template("hospital@" + "0" * 64)
    with pytest.raises(InputError, match="未知的模板"):
        resolve_template("clinic")
    with pytest.raises(InputError):
        resolve_template(None)


def test_template_for_unknown_or_missing_kind(tmp_path):
    with pytest.raises(InputError, match="未知的机构类别"):
        template_for_kind("school")
    only_pharmacy = load_templates(write(tmp_path, VALID).parent)
    with pytest.raises(InputError, match="没有机构类别"):
        template_for_kind("hospital", only_pharmacy)


INTERNAL_LABEL = re.compile(r"S00[0-4]|参考资料\s*§")


def string_values(value: object, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from string_values(inner, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from string_values(inner, f"{path}[{index}]")


def test_texts_cite_documents_not_internal_labels():
    """Users read basis and source: they cite a regulation or a document by name, never "S002" or "参考资料 §6"."""
    files = sorted(TEMPLATES_DIR.glob("*.toml")) + sorted((TEMPLATES_DIR.parent / "rules").glob("*.toml"))
    assert len(files) >= 7
    found = [f"{path.name}: {where} = {text!r}"
             for path in files
             for where, text in string_values(tomllib.loads(path.read_text(encoding="utf-8")))
             if INTERNAL_LABEL.search(text)]
    assert not found, "\n".join(found)
    assert INTERNAL_LABEL.search("条例第四十条；S002：空刷") and INTERNAL_LABEL.search("参考资料 §6：急诊")


def test_items_by_section_keeps_order():
    template = template_for_kind("primary")
    grouped = template.items_by_section()
    assert [s.id for s, _ in grouped] == [s.id for s in template.sections]
    assert [i.id for _, items in grouped for i in items] == [i.id for i in template.items]


# ---------------------------------------------------------------- the loader reports every problem, where it is

def test_valid_minimal_template_loads(tmp_path):
    template = load_template(write(tmp_path, VALID))
    assert (template.id, template.kind, len(template.items)) == ("tiny", "pharmacy", 2)
    assert template.item("T-02").limits[0].max == 7
    assert template.source.endswith("tiny.toml")


def test_unknown_category_names_file_line_and_key(tmp_path):
    text = VALID.replace('category = "40.1"', 'category = "40.9"')
    [problem] = problems_of(tmp_path, text)
    assert "tiny.toml" in problem
    assert f"第 {line_number(text, '40.9')} 行" in problem
    assert "items[第2个].category" in problem and "未知的违规类别 \"40.9\"" in problem


def test_insured_category_is_not_for_institution_templates(tmp_path):
    [problem] = problems_of(tmp_path, VALID.replace('"38.7"', '"41.1"'))
    assert "41.1" in problem and "参保人员" in problem


def test_duplicate_id(tmp_path):
    text = VALID.replace('id = "T-02"', 'id = "T-01"')
    [problem] = problems_of(tmp_path, text)
    second = line_number(text, 'id = "T-01"', 2)
    assert f"第 {second} 行" in problem
    assert "items[第2个].id" in problem and "重复" in problem


@pytest.mark.parametrize("weight, fragment", [("0", "必须大于 0"), ("-3", "必须大于 0"), ("2.5", "正整数"),
                                              ('"5"', "正整数"), ("true", "正整数")])
def test_bad_weight(tmp_path, weight, fragment):
    text = VALID.replace("weight = 10", f"weight = {weight}")
    [problem] = problems_of(tmp_path, text)
    assert f"第 {line_number(text, f'weight = {weight}')} 行" in problem
    assert "items[第2个].weight" in problem and fragment in problem


def test_missing_basis_points_at_the_item(tmp_path):
    text = VALID.replace('basis = "条例第四十条"\n', "")
    [problem] = problems_of(tmp_path, text)
    assert "缺少法律依据" in problem and "items[第2个].basis" in problem
    assert f"第 {line_number(text, '[[items]]', 2)} 行" in problem  # the item's own table


def test_every_problem_is_reported_at_once(tmp_path):
    text = (VALID.replace('category = "40.1"', 'category = "99.1"')
            .replace("weight = 5", "weight = 0")
            .replace('section = "identity"\ntext = "无空刷"', 'section = "nowhere"\ntext = "无空刷"')
            .replace('severity = "B"', 'severity = "E"')
            .replace('asks_amount = true\n\n[[items.limits]]', 'asks_amount = "yes"\n\n[[items.limits]]')
            .replace("max = 7\n", "")
            .replace('kind = "pharmacy"', 'kind = "school"')
            .replace('version = "1"\n', 'version = "1"\nauthor = "x"\n'))
    problems = problems_of(tmp_path, text)
    joined = "\n".join(problems)
    for fragment in ("99.1", "权重必须大于 0", "\"nowhere\" 未在 [[sections]] 中定义", "严重程度应为",
                     "asks_amount", "min（不少于）或 max（不超过）", "未知的机构类别 \"school\"", "author"):
        assert fragment in joined
    assert len(problems) == 8
    assert all(p.startswith(str(tmp_path / "tiny.toml")) for p in problems)


def test_toml_syntax_error_reports_tomllib_line_and_column(tmp_path):
    text = VALID.replace("weight = 5", "weight = = 5")
    [problem] = problems_of(tmp_path, text)
    assert f"第 {line_number(text, 'weight = = 5')} 行第 10 列" in problem and "TOML 语法错误" in problem


def test_missing_sections_and_items(tmp_path):
    problems = problems_of(tmp_path, 'id = "x"\nkind = "hospital"\nversion = "1"\ntitle = "t"\n')
    assert any("[[sections]]" in p for p in problems) and any("[[items]]" in p for p in problems)


def test_empty_section_and_duplicate_section(tmp_path):
    text = VALID.replace('[[items]]\nid = "T-01"',
                         '[[sections]]\nid = "identity"\ntitle = "重复"\n\n[[sections]]\nid = "spare"\ntitle = "空"\n\n'
                         '[[items]]\nid = "T-01"', 1)
    problems = "\n".join(problems_of(tmp_path, text))
    assert "分组编号 \"identity\" 重复" in problems and "分组 \"spare\" 下没有任何条目" in problems


def test_directory_with_duplicate_kind_or_id(tmp_path):
    write(tmp_path, VALID, "a.toml")
    write(tmp_path, VALID.replace('id = "tiny"', 'id = "other"'), "b.toml")
    with pytest.raises(InputError, match="每类只能有一个模板"):
        load_templates(tmp_path)
    write(tmp_path, VALID.replace('kind = "pharmacy"', 'kind = "hospital"'), "b.toml")
    with pytest.raises(InputError, match="模板编号 \"tiny\" 与 .* 重复"):
        load_templates(tmp_path)


def test_problems_in_several_files_are_all_reported(tmp_path):
    write(tmp_path, VALID.replace("weight = 5", "weight = 0"), "a.toml")
    write(tmp_path, VALID.replace('id = "tiny"', 'id = "b"').replace('"40.1"', '"40.8"'), "b.toml")
    with pytest.raises(InputError) as caught:
        load_templates(tmp_path)
    assert len(caught.value.problems) == 2
    assert "a.toml" in caught.value.problems[0] and "b.toml" in caught.value.problems[1]


def test_empty_directory(tmp_path):
    with pytest.raises(InputError, match="没有检查表模板"):
        load_templates(tmp_path)


def test_load_templates_returns_a_fresh_dict():
    first = load_templates()
    first.pop("hospital")
    assert "hospital" in load_templates()
