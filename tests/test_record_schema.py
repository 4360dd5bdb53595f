"""The record schema and the findings derivation, pure: what is refused with which reason and field, and how the
tablet's findings are compared with the ones derived from the answers."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import checklists
from bureau import review
from checklists.findings import derive_findings, differences
from sync import record_schema
from sync.envelope import build_record
from sync.errors import RecordInvalid
from tests.sync_support import record_fields

BASE = build_record(record_fields("A-1", "P35010200001", "pharmacy", ["I0001", "I0002"], "tablet-1", "I0001",
                                  "rec-1"), [])
TEMPLATE = checklists.template_for_kind("pharmacy")


def refused(change) -> RecordInvalid:
    record = copy.deepcopy(BASE)
    change(record)
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record(record)
    return caught.value


def test_a_complete_record_fits_and_reads_as_version_1():
    checked = record_schema.check_record(copy.deepcopy(BASE))
    assert record_schema.VERSIONS[checked.format][0] == 1 == record_schema.SCHEMA_VERSION
    assert checked.model_dump(exclude_unset=True) == BASE  # the schema describes the record exactly


@pytest.mark.parametrize("change, reason, field", [
    (lambda r: r.update(version=True), "record_wrong_type", "version 应为整数，实际为布尔值"),
    (lambda r: r.update(findings=7), "record_wrong_type", "findings 应为列表，实际为整数"),
    (lambda r: r.update(team=[5]), "record_wrong_type", "team[0] 应为字符串"),
    (lambda r: r["answers"].update({"坏 条目": {"result": "pass"}}), "record_bad_value", "answers.坏 条目（键）"),
    (lambda r: r.update(created_at="昨天"), "record_bad_value", "created_at 应为 ISO 8601 时间"),
    (lambda r: r.update(version=2), "record_bad_value", "previous_hash 与 correction_reason"),
    (lambda r: r.update(format="yibao-inspection-v9"), "record_format_unknown", "yibao-inspection-v9"),
    (lambda r: r["score"].update(extra=1), "record_unknown_field", "score.extra 不应出现"),
    (lambda r: r.update(review_hash="A" * 64), "record_bad_value", "review_hash 应为 SHA-256 摘要（64 位小写十六进制"),
    (lambda r: r.update(institution_code="福州-1"), "record_bad_value", "institution_code 应为编码（字母、数字"),
    (lambda r: r["answers"][next(iter(r["answers"]))].update(result="ok"), "record_bad_value",
     "result 应为 pass、fail、na 之一"),
])
def test_refusals_name_the_field_and_what_was_expected(change, reason, field):
    problem = refused(change)
    assert problem.reason_code == reason and field in problem.message_zh


def _patterns(schema):
    if isinstance(schema, dict):
        for key, value in schema.items():
            yield from [value] if key == "pattern" else _patterns(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _patterns(value)


def test_every_pattern_is_refused_in_words_never_as_the_pattern():
    patterns = set(_patterns(record_schema.RecordV1.model_json_schema()))
    assert patterns and patterns <= set(record_schema.PATTERN_WORDS)
    for change in (lambda r: r.update(record_id="-x"), lambda r: r["institution"].update(kind="药 店"),
                   lambda r: r.update(blobs=[{"sha256": "0" * 64, "size": 1, "media_type": "JPEG"}])):
        message = refused(change).message_zh
        assert message.endswith(tuple(record_schema.PATTERN_WORDS.values()))
        assert not any(mark in message for mark in ("^", "$", "{", "\\"))


def test_every_problem_is_counted_and_a_non_object_is_refused():
    assert "另有 1 处不符" in refused(lambda r: r.update(team=5, findings=7)).message_zh
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record([BASE])
    assert caught.value.reason_code == "record_wrong_type"


def test_control_characters_are_found_at_any_depth_and_shown_escaped():
    deep: list = ["ok"]
    for _ in range(100_000):  # deeper than any recursion could go
        deep = [deep]
    assert record_schema.control_character_path({"a": deep, "b": {"c\x00d": "x"}}) == "b.c\\x00d"
    assert record_schema.control_character_path({"a": ["第一行\n\t第二行\r\n"]}) is None


TEXT = st.text(st.sampled_from("ab\\\"/u01f\t\n\r\x00\x01\x08\x0b\x0c\x1f\x7f 第"), max_size=8)
JSON = st.recursive(st.none() | st.integers() | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_the_quick_look_at_the_json_text_agrees_with_the_walk(value):
    """A value has a control character exactly when some string or key of it does (escaped backslashes, `\\b`,
    `\\u001f` written out as text and the like included)."""
    walked = next((path for path, text in record_schema._strings(value, "")
                   if record_schema.CONTROL_CHARACTERS.search(text)), None)
    assert (record_schema.control_character_path(value) is None) == (walked is None)


def answers(**failed: tuple[str, str | None]) -> dict:
    return {item.id: ({"result": "fail", "note": failed[item.id][0], "amount_yuan": failed[item.id][1]}
                      if item.id in failed else {"result": "pass"}) for item in TEMPLATE.items}


def test_findings_derived_from_the_answers_and_their_differences():
    given = answers(**{"R-FEE-02": ("代刷 12 笔", "3860.5"), "R-RX-01": ("无处方", None)})
    derived = derive_findings(TEMPLATE, given)
    assert [(f["item_id"], f["category"], f["amount_yuan"], f["description"]) for f in derived] == [
        ("R-FEE-02", "38.4", "3860.50", "代刷 12 笔"), ("R-RX-01", "38.6", None, "无处方")]
    assert differences(list(reversed(derived)), derived) == []  # order does not matter
    told = copy.deepcopy(derived)
    told[0]["severity"] = "A"
    told.append(dict(told[0], item_id="R-FAKE-01"))
    found = differences([*told[:1], *told[2:], told[0]], derived)
    assert found == [
        "平板重复报告了检查项 R-FEE-02",
        f"检查项 R-FEE-02 的严重程度：平板报“A”，按答案与模板应为“{derived[0]['severity']}”",
        f"答案中不符合的检查项 R-RX-01（{derived[1]['title']}）平板未报告为问题",
        "平板报告的问题 R-FAKE-01 在答案中并非不符合项",
    ]
    assert differences(7, derived) == ["平板所报问题不是问题列表（应有 2 项）"]
    assert differences([1, {}], derived)[0] == "平板所报问题不是问题列表（应有 2 项）"


@pytest.mark.parametrize("findings", [7, [1], [{}], [{"item_id": ["x"], "staff_codes": 5}]])
def test_a_malformed_record_stored_before_is_still_read(findings):
    stored = dict(copy.deepcopy(BASE), findings=findings, answers=answers(**{"R-RX-01": ("无处方", None)}))
    check = review.findings_check(stored)
    assert [(f["item_id"], f["staff_codes"]) for f in check.findings] == [("R-RX-01", [])]
    assert check.differences and check.problem is None
    unknown = review.findings_check(dict(stored, template_hash="0" * 64))
    assert unknown.findings == [] and "无法按答案与模板重算问题" in (unknown.problem or "")


# ------------------------------------------------------------ 身份证号码 (issue #12)

@pytest.mark.parametrize("number, problem", [
    ("11010519491231002X", None),  # the GB 11643 example, check character X
    ("350102198001010011", None),
    ("350102198001010038", None),
    ("110105194912310021", "身份证号码校验位不符，请核对"),
    ("350102198001010012", "身份证号码校验位不符，请核对"),
    ("", "请填写身份证号码"),
    ("1101051949123100", "身份证号码应为 18 位（现为 16 位）"),
    ("11010519491231002X1", "身份证号码应为 18 位（现为 19 位）"),
    ("11010519491231002x", "身份证号码前 17 位应为数字，最后一位为数字或 X"),  # callers upper-case first
    ("1101051949X231002X", "身份证号码前 17 位应为数字，最后一位为数字或 X"),
    ("110105194913310025", "身份证号码中的出生日期不正确"),
    ("110105194902300024", "身份证号码中的出生日期不正确"),
])
def test_id_number_check(number, problem):
    assert record_schema.id_number_problem(number) == problem


CHECKIN = {
    "officers": [{"inspector_code": "I0001", "name": "林建华", "badge_no": "闽榕医保执 0001", "id_shown": True}],
    "representative": {"name": "张丽", "role": "店长", "phone": "0591-87654321"},
    "place": "福州市鼓楼区东街 88 号", "gps": None, "gps_note": "定位权限被拒绝",
    "checked_in_at": "2026-05-01T09:30:00+08:00",
}
REFUSAL = {"reason": "认为检查结果不实", "witness_name": "王五", "recorded_at": "2026-05-01T10:30:00+08:00",
           "media_note": "", "witness_signature": None, "photos": []}


def with_people(representative_id: str | None, witness_id: str | None) -> dict:
    record = copy.deepcopy(BASE)
    record["checkin"] = copy.deepcopy(CHECKIN)
    record["refusal"] = dict(REFUSAL)
    if representative_id is not None:
        record["checkin"]["representative"]["id_number"] = representative_id
    if witness_id is not None:
        record["refusal"]["witness_id_number"] = witness_id
    return record


def test_records_signed_without_id_numbers_still_fit_and_new_ones_carry_them():
    old = with_people(None, None)
    assert record_schema.check_record(old).model_dump(exclude_unset=True) == old
    new = with_people("11010519491231002X", "350102198001010038")
    checked = record_schema.check_record(new)
    assert checked.checkin is not None and checked.checkin.representative.id_number == "11010519491231002X"
    assert checked.refusal is not None and checked.refusal.witness_id_number == "350102198001010038"
    assert checked.model_dump(exclude_unset=True) == new


@pytest.mark.parametrize("representative_id, witness_id, field, expected", [
    ("110105194912310021", None, "checkin.representative.id_number", "身份证号码校验位不符"),
    (None, "350102198001010012", "refusal.witness_id_number", "身份证号码校验位不符"),
    ("11010519491231002x", None, "checkin.representative.id_number", "应为 18 位公民身份号码"),
    (None, "110105194913310025", "refusal.witness_id_number", "出生日期不正确"),
])
def test_a_bad_id_number_is_refused_in_words(representative_id, witness_id, field, expected):
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record(with_people(representative_id, witness_id))
    assert caught.value.reason_code == "record_bad_value"
    assert field in caught.value.message_zh and expected in caught.value.message_zh


# --- the 笔录's legal elements (issue #15) --------------------------------------------------------------------

NOTICE = {"id": "recusal", "title": "申请回避的权利", "basis": "《中华人民共和国行政处罚法》第四十三条",
          "text": "当事人……有权申请回避。", "question": "你（单位）是否申请检查人员回避？", "given": True,
          "answer": "不申请回避", "detail": ""}
ELEMENTS = {
    "inquiries": [{"question": "三月的保健品由谁结算？", "answer": "营业员周某按店长要求结算。"}],
    "documents_taken": [{"name": "2024年3月销售小票", "quantity": "2本/186页", "form": "原件"}],
    "preservation": {"approved_by": "局长 孙伟", "registered_at": "2026-05-01T10:20:00+08:00",
                     "decision_by": "2026-05-12", "items": [{"name": "蛋白粉", "quantity": "12罐", "place": "二楼仓库"}]},
}


def with_elements() -> dict:
    record = with_people("11010519491231002X", None)
    record["refusal"] = None
    record["checkin"].update(recorder="I0001", notices=[dict(NOTICE)],
                             legal_representative={"title": "法定代表人", "name": "郑国强",
                                                   "id_number": "330106198503150016"})
    record.update(copy.deepcopy(ELEMENTS))
    return record


def test_records_checked_in_before_the_legal_elements_still_fit_and_new_ones_carry_them():
    old = with_people("11010519491231002X", None)
    assert record_schema.check_record(old).model_dump(exclude_unset=True) == old
    new = with_elements()
    checked = record_schema.check_record(new)
    assert checked.checkin is not None and checked.checkin.legal_representative is not None
    assert checked.preservation is not None and checked.preservation.decision_by == "2026-05-12"
    assert checked.model_dump(exclude_unset=True) == new


@pytest.mark.parametrize("change, reason, field", [
    (lambda r: r["checkin"].update(recorder="I0009"), "record_bad_value", "checkin 记录人（recorder）应为到场登记的检查人员之一"),
    (lambda r: r["checkin"]["legal_representative"].update(id_number="330106198503150014"), "record_bad_value",
     "checkin.legal_representative.id_number 身份证号码校验位不符"),
    (lambda r: r["checkin"]["legal_representative"].update(title="老板"), "record_bad_value",
     "legal_representative.title 应为 法定代表人、主要负责人 之一"),
    (lambda r: r["checkin"]["legal_representative"].update(name=""), "record_bad_value",
     "legal_representative.name 不能为空"),
    (lambda r: r["checkin"]["notices"][0].update(given="yes"), "record_wrong_type", "notices[0].given 应为布尔值"),
    (lambda r: r["checkin"]["notices"][0].update(script="<b>"), "record_unknown_field", "notices[0].script 不应出现"),
    (lambda r: r["checkin"].update(notices=[dict(NOTICE)] * 11), "record_too_long", "checkin.notices 项数过多（最多 10 项）"),
    (lambda r: r.update(inquiries=[]), "record_bad_value", "inquiries 项数不足（至少 1 项）"),
    (lambda r: r["inquiries"][0].update(answer=""), "record_bad_value", "inquiries[0].answer 不能为空"),
    (lambda r: r["inquiries"][0].update(question="问" * 2001), "record_too_long", "inquiries[0].question 过长（最多 2000"),
    (lambda r: r.update(inquiries=[{"question": "q", "answer": "a"}] * 201), "record_too_long", "inquiries 项数过多"),
    (lambda r: r["documents_taken"][0].update(form="扫描件"), "record_bad_value", "form 应为 原件、复印件 之一"),
    (lambda r: r["documents_taken"][0].update(quantity=2), "record_wrong_type", "quantity 应为字符串，实际为整数"),
    (lambda r: r["preservation"].update(decision_by="2026-05-12T00:00:00"), "record_bad_value",
     "preservation.decision_by 应为日期（如 2026-05-08）"),
    (lambda r: r["preservation"].update(decision_by="2026-02-30"), "record_bad_value", "preservation.decision_by 应为 ISO"),
    (lambda r: r["preservation"].update(items=[]), "record_bad_value", "preservation.items 项数不足"),
    (lambda r: r["preservation"]["items"][0].pop("place"), "record_missing_field", "items[0].place 缺失"),
    (lambda r: r["preservation"].update(approved_by="孙" * 201), "record_too_long", "approved_by 过长（最多 200"),
])
def test_hostile_legal_elements_are_refused_naming_the_field(change, reason, field):
    record = with_elements()
    change(record)
    with pytest.raises(RecordInvalid) as caught:
        record_schema.check_record(record)
    assert caught.value.reason_code == reason and field in caught.value.message_zh, caught.value.message_zh
