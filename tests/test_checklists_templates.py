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
from checklists.templates import HISTORY_DIR, TEMPLATES_DIR, conduct_conflicts, template_hash, template_history

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
            # the severity scale follows the article: B fund loss 38, C management duty 39, D the service agreement
            # (条例 Art. 13, handled by the 经办机构 under the agreement)
            article = {"A": 40, "B": 38, "C": 39, "D": 13}[item.severity]
            assert categories[item.category].article == article, (item.id, item.severity, item.category)


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
    expected = ["13.1"] + [f"38.{n}" for n in range(1, 8)] + [f"39.{n}" for n in range(1, 8)] + \
               [f"40.{n}" for n in range(1, 5)] + [f"41.{n}" for n in range(1, 6)]  # 41.4–41.5: Art. 41 ¶2
    assert list(checklists.CATEGORIES) == expected
    assert checklists.CATEGORIES["38.3"].text == "重复收费、超标准收费、分解项目收费"
    assert checklists.CATEGORIES["40.3"].article == 40 and checklists.CATEGORIES["40.3"].item == 3
    assert "第三十九条" in checklists.CATEGORIES["39.7"].basis
    assert checklists.vocabulary().articles[41].party == "insured"
    assert checklists.vocabulary().articles[13].track == "agreement"  # 违反服务协议: the 经办机构's
    assert checklists.vocabulary().articles[38].track == "administrative"
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


def test_a_pin_of_an_earlier_release_resolves_to_that_release():
    """Records pinned to 2025.2 (tablets in the field, the bureau's stored records) keep their template."""
    released = {}
    for path in sorted(HISTORY_DIR.glob("*.toml")):
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
        released[doc["id"]] = (doc["version"], template_hash(doc))
    assert {k: v[0] for k, v in released.items()} == dict.fromkeys(KIND_NAMES, "2025.2")
    for template_id, (version, digest) in released.items():
        current = load_templates()[template_id]
        assert current.hash != digest and current.version != version
        earlier = resolve_template(f"{template_id}@{digest}")
        assert (earlier.id, earlier.version, earlier.hash) == (template_id, version, digest)
        assert earlier.pin == f"{template_id}@{digest}"
    # the released pharmacy 2025.2 as it was: R-RX-01 a C item of 38.6, no 药品追溯码 item yet
    pharmacy = resolve_template(f"pharmacy@{released['pharmacy'][1]}")
    assert pharmacy.item("R-RX-01").severity == "C" and not pharmacy.has_item("R-INV-04")
    assert template_for_kind("pharmacy").item("R-RX-01").severity == "B"
    with pytest.raises(InputError, match="哈希不符") as caught:
        resolve_template("pharmacy@" + "ab" * 32)
    assert "pharmacy@" + "ab" * 32 in str(caught.value) and "历史版本" in str(caught.value)
    # only the current templates are listed and drawn for new inspections
    assert [t.version for t in load_templates().values()] == ["2026.1"] * 4


def test_the_history_keeps_the_released_files_unchanged():
    """The 2025.2 hashes are those the bureau's stored fixture records pin (tests/data/bureau-c619c35)."""
    assert {key: t.version for key, t in template_history().items()} == {
        ("hospital", "c790b0236e870d5cf456f34bcbba7857109f5371c865c25b411efefd8fcae2f5"): "2025.2",
        ("pharmacy", "a960e204fecc1f8d241623e709c9912d566ee1ff6ea56d0f2d2af1a0b232e893"): "2025.2",
        ("primary", "4907c3fdf3b5e98c73e7dcb3ffcb7d833bf1e93a398c7ebde73cb974354c82fa"): "2025.2",
        ("private", "8130e6c9c7e6e038ae9ae89bd7d9dd07dd8478853488dd00a8c0a8b9332d0ac5"): "2025.2",
    }


# Conducts the issue named as graded differently across kinds, and others checked in several kinds: one category
# and one severity each, wherever they are checked (by item id, so a renamed conduct key cannot hide a regression).
SAME_CONDUCT = {
    "为非定点机构结算": (("R-FEE-05", "P-FEE-02", "S-FEE-04"), "40.1", "A"),
    "诱导住院": (("H-DX-10", "S-FEE-01"), "40.1", "A"),
    "冒用医保医师代码": (("H-ID-04", "S-ID-03"), "40.4", "A"),
    "低标准入院": (("H-DX-09", "P-DX-05"), "38.2", "B"),
    "虚构服务（含血透康复虚记、检验外送未做）": (("H-DX-06", "P-FEE-03", "S-DX-02", "S-DX-09", "S-DX-10"), "40.3", "A"),
    "伪造医学文书（含伪造外配处方）": (("H-DX-07", "S-DX-03", "R-RX-05"), "40.2", "A"),
    "重复、超标准收费（含医保与现金不同价、一般诊疗费重复收取）": (
        ("H-FEE-01", "H-FEE-02", "H-FEE-03", "P-FEE-04", "P-FEE-06", "S-FEE-03", "R-FEE-03"), "38.3", "B"),
    "串换（含医美、口腔串换）": (("H-FEE-04", "P-FEE-01", "R-FEE-02", "S-FEE-05", "S-INV-01"), "38.4", "B"),
    "超量开药、配药": (("H-DX-02", "P-DX-01", "R-RX-06"), "38.2", "B"),
    "代开、代购药品": (("P-DX-06", "R-ID-03"), "38.7", "B"),
    "价格公示（协议义务）": (("H-PUB-01", "P-PUB-02", "S-PUB-02"), "13.1", "D"),
    "医保政策培训（协议义务）": (("H-MGT-02", "P-MGT-02", "R-MGT-02"), "13.1", "D"),
    "内部管理制度与专人（条例第三十九条第（一）项）": (("H-MGT-01", "P-MGT-01", "S-MGT-03", "R-MGT-01"), "39.1", "C"),
    "拒绝检查、提供虚假情况": (("H-MGT-05", "P-MGT-05", "S-MGT-06", "R-INV-03"), "39.7", "C"),
}


def test_the_same_conduct_has_the_same_category_and_severity_in_every_kind():
    items = {item.id: item for t in load_templates().values() for item in t.items}
    for conduct, (ids, category, severity) in SAME_CONDUCT.items():
        assert {(items[i].category, items[i].severity) for i in ids} == {(category, severity)}, conduct
        assert len({items[i].conduct for i in ids}) == 1, conduct  # and the data says they are one conduct
    # every current item names its conduct, and no two kinds disagree on one
    assert all(item.conduct for item in items.values())
    assert conduct_conflicts(load_templates().values()) == []


def test_the_loader_refuses_one_conduct_graded_two_ways(tmp_path):
    tagged = 'asks_amount = true\nconduct = "swipe"\n\n[[items]]'
    write(tmp_path, VALID.replace('asks_amount = true\n\n[[items]]', tagged), "a.toml")
    other = (VALID.replace('id = "tiny"', 'id = "other"').replace('kind = "pharmacy"', 'kind = "primary"')
             .replace('id = "T-01"', 'id = "O-01"')
             .replace('severity = "B"\ncategory = "38.7"', 'severity = "D"\ncategory = "13.1"')
             .replace('asks_amount = true\n\n[[items]]', tagged))
    write(tmp_path, other, "b.toml")
    with pytest.raises(InputError) as caught:
        load_templates(tmp_path)
    [problem] = caught.value.problems
    assert "O-01" in problem and "T-01" in problem and "swipe" in problem and "38.7/B" in problem and "13.1/D" in problem
    write(tmp_path, other.replace('severity = "D"\ncategory = "13.1"', 'severity = "B"\ncategory = "38.7"'), "b.toml")
    assert set(load_templates(tmp_path)) == {"tiny", "other"}


def test_agreement_only_duties_cite_the_agreement_not_a_penalty_article():
    """公示、培训、标识、备案报告: duties of the service agreement (13.1), handled by the 经办机构, never fined."""
    from checklists import penalty
    agreement_items = [i for t in load_templates().values() for i in t.items if i.category == "13.1"]
    assert len(agreement_items) >= 15
    for item in agreement_items:
        assert item.severity == "D" and "服务协议" in item.basis, item.id
        assert not re.search(r"条例第三十[八九]条|条例第四十", item.basis), item.id
    decided = penalty.decide({"party": {"kind": "institution", "code": "H35010200001"},
                              "findings": [{"category": "13.1"}], "refused_to_correct": True})
    assert decided["measures"] == ["按服务协议处理"] and decided["fine_yuan"] is None
    assert decided["measures_detail"] == [{"measure": "按服务协议处理", "track": "agreement",
                                           "imposed_by": "医疗保障经办机构"}]
    assert decided["articles"] == [13] and not decided["hearing_right"]


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
