"""The 笔录's legal elements on the tablet (issue #15): the 记录人, the 法定代表人 apart from the person on site, the
notices read aloud and answered, the 询问, the documents taken and a 先行登记保存 with its deadline — kept sealed,
carried by the record, copied by a correction, printed on the 笔录."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timezone

import pytest

from checklists.errors import InputError
from checklists.onsite_record import (
    RECORD_RULES_FILE,
    load_record_rules,
    record_rules,
    working_days_after,
)
from inspector_app import device, onsite
from inspector_app.evidence_store import EvidenceStore
from sync import record_schema
from tests.test_onsite import CHECKIN, fill_checklist, sign_all
from tests.test_onsite_support import ASSIGNMENT_ID, make_tablet

TEAM = ["I0001", "I0002"]


def test_the_notices_are_data_with_their_legal_basis():
    rules = record_rules()
    assert [n.id for n in rules.notices] == ["basis", "cooperation", "recusal"]
    assert rules.notice("basis").basis.endswith("第二十七条") and rules.notice("cooperation").basis.endswith("第二十九条")
    assert "行政处罚法》第四十三条" in rules.notice("recusal").basis
    assert rules.notice("recusal").choices == ("不申请回避", "申请回避")
    assert rules.statement == "以上笔录我已看过，与事实相符。"
    assert rules.preservation.days == 7 and rules.preservation.basis.endswith("第五十六条")


def test_a_broken_rules_file_names_file_line_and_key(tmp_path):
    broken = tmp_path / "onsite_record.toml"
    text = RECORD_RULES_FILE.read_text(encoding="utf-8").replace("days = 7", "days = \"七\"")
    broken.write_text(text.replace('choices = ["不申请回避", "申请回避"]', ""), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_record_rules(broken)
    message = str(caught.value)
    assert "onsite_record.toml" in message and "preservation.days" in message and "notices[第3个].choices" in message
    line = text.splitlines().index('days = "七"') + 1
    assert f"第 {line} 行，键 preservation.days" in message


@pytest.mark.parametrize("start, end", [(date(2024, 5, 1), date(2024, 5, 10)),  # a Wednesday
                                        (date(2024, 5, 3), date(2024, 5, 14)),  # a Friday: two weekends
                                        (date(2024, 5, 4), date(2024, 5, 14))])  # a Saturday
def test_seven_working_days(start, end):
    assert working_days_after(start, 7) == end


def test_checkin_needs_the_legal_representative_the_notices_and_a_recorder_of_the_team():
    assert onsite.checkin_problems(CHECKIN, TEAM) == []
    assert onsite.recorder_of(CHECKIN) == "I0002"  # by default the second officer: the first asks
    assert onsite.checkin_problems({**CHECKIN, "recorder": "I0009"}, TEAM) == ["请从检查人员中选择记录人"]
    bare = {k: v for k, v in CHECKIN.items() if k not in ("legal_representative", "notices")}
    assert onsite.checkin_problems(bare, TEAM) == [
        "请填写被检查单位法定代表人（主要负责人）的姓名",
        "请告知检查依据（《医疗保障基金使用监督管理条例》第二十七条）并勾选已告知",
        "请告知配合检查义务（《医疗保障基金使用监督管理条例》第二十九条）并勾选已告知",
        "请告知申请回避的权利（《中华人民共和国行政处罚法》第四十三条）并记录回答：你（单位）是否申请检查人员回避？"]


@pytest.mark.parametrize("id_number, problem", [
    ("330106198503150014", "主要负责人身份证号码校验位不符，请核对"),
    ("33010619850315", "主要负责人身份证号码应为 18 位（现为 14 位）"),
    ("330106198502300016", "主要负责人身份证号码中的出生日期不正确"),
    ("", "主要负责人请填写身份证号码"),
])
def test_a_bad_id_number_of_the_legal_representative_is_refused_in_words(id_number, problem):
    legal = {"title": "主要负责人", "name": "郑国强", "id_number": id_number}
    assert onsite.checkin_problems({**CHECKIN, "legal_representative": legal}, TEAM) == [problem]


def test_a_request_for_recusal_is_recorded_with_whom_and_why():
    asked = [*CHECKIN["notices"][:2], {"id": "recusal", "answer": "申请回避"}]
    assert onsite.checkin_problems({**CHECKIN, "notices": asked}, TEAM) == ["在场人员申请回避，请记录其说明（对象及理由）"]
    asked[2] = {"id": "recusal", "answer": "申请回避", "detail": "检查人员陈晓燕系本店股东亲属"}
    assert onsite.checkin_problems({**CHECKIN, "notices": asked}, TEAM) == []
    unknown = [*CHECKIN["notices"][:2], {"id": "recusal", "answer": "再说吧"}]
    assert onsite.checkin_problems({**CHECKIN, "notices": unknown}, TEAM)[0].startswith("请告知申请回避的权利")


@pytest.fixture
def tablet(tmp_path):
    return make_tablet(tmp_path / "tablet")


def test_checkin_keeps_the_words_read_aloud_and_the_answers(tablet):
    t = tablet
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    legal = {"title": "法定代表人", "name": " 郑国强 ", "id_number": " 330106198503150016 "}
    onsite.save_checkin(t.engine, t.first.data_key, inspection.id, {**CHECKIN, "legal_representative": legal})
    kept = onsite.facts(t.engine, t.first.data_key, inspection.id).checkin
    assert kept["recorder"] == "I0002"
    assert kept["legal_representative"] == {"title": "法定代表人", "name": "郑国强", "id_number": "330106198503150016"}
    recusal = kept["notices"][2]
    assert recusal["text"] == record_rules().notice("recusal").text and recusal["given"] is True
    assert (recusal["question"], recusal["answer"], recusal["detail"]) == ("你（单位）是否申请检查人员回避？", "不申请回避", "")
    assert [n["given"] for n in kept["notices"]] == [True, True, True]


def test_inquiries_documents_and_preservation_are_checked_as_typed():
    assert onsite.inquiries_value([{"question": " 谁结算的？ ", "answer": " 店长 "}, {"question": "", "answer": ""}]) \
        == [{"question": "谁结算的？", "answer": "店长"}]  # an empty pair is dropped
    with pytest.raises(device.DeviceError, match="询问第 1 项的问题最多 2000 字"):
        onsite.inquiries_value([{"question": "问" * 2001, "answer": "答"}])
    assert onsite.documents_value([{"name": "销售小票", "quantity": "2本"}]) == [
        {"name": "销售小票", "quantity": "2本", "form": "复印件"}]
    with pytest.raises(device.DeviceError, match="调取资料第 1 项应为复印件或原件"):
        onsite.documents_value([{"name": "销售小票", "quantity": "2本", "form": "扫描件"}])
    now = datetime(2024, 5, 1, 15, 20, tzinfo=timezone.utc)
    kept = onsite.preservation_value("孙伟", [{"name": "蛋白粉", "quantity": "12罐", "place": "二楼仓库"}], None, now)
    assert kept["registered_at"] == now.isoformat() and kept["decision_by"] == "2024-05-10"
    again = onsite.preservation_value("孙伟", kept["items"] * 2, kept["registered_at"], now.replace(day=3))
    assert again["registered_at"] == kept["registered_at"]  # registered when the first item was
    assert onsite.parts_problems({"inquiries": [{"question": "谁？", "answer": ""}],
                                  "documents_taken": [{"name": "", "quantity": "1份", "form": "原件"}],
                                  "preservation": {**kept, "approved_by": "",
                                                   "items": [{"name": "蛋白粉", "quantity": "", "place": "仓库"}]}}) \
        == ["询问第 1 问：请填写问题和回答", "调取资料第 1 项：请填写名称和份数（页数）",
            "先行登记保存第 1 项：请填写名称、数量和存放地点", "先行登记保存须经行政机关负责人批准，请填写批准人"]


def test_the_parts_are_sealed_carried_by_the_record_copied_by_a_correction_and_printed(tablet, tmp_path):
    t = tablet
    key, store = t.first.data_key, EvidenceStore(t.home)
    inspection = onsite.start_inspection(t.engine, ASSIGNMENT_ID, "I0001")
    onsite.save_checkin(t.engine, key, inspection.id, CHECKIN)
    fill_checklist(t, inspection.id)
    assert "inquiries" not in onsite.review(t.engine, key, inspection.id).content  # none: the record has no key
    onsite.save_inquiries(t.engine, key, inspection.id, [{"question": "三月的保健品由谁结算？", "answer": ""}])
    assert "询问第 1 问：请填写问题和回答" in onsite.review(t.engine, key, inspection.id).problems
    onsite.save_inquiries(t.engine, key, inspection.id,
                          [{"question": "三月的保健品由谁结算？", "answer": "营业员周某按店长要求结算。"}])
    onsite.save_documents_taken(t.engine, key, inspection.id,
                                [{"name": "2024年3月销售小票", "quantity": "2本/186页", "form": "原件"}])
    onsite.save_preservation(t.engine, key, inspection.id, "局长 孙伟（电话批准）",
                             [{"name": "蛋白粉", "quantity": "12罐", "place": "该店二楼仓库，已贴封条"}])
    database = (t.home / "device.db").read_bytes() + (t.home / "device.db-wal").read_bytes()
    for secret in ("营业员周某", "蛋白粉", "销售小票", "郑国强"):
        assert secret.encode() not in database  # sealed, like the answers
    sign_all(t, inspection.id)
    onsite.lock(t.engine, store, key, inspection.id, [t.first, t.second])
    record, _hash = onsite.locked_record(t.engine, store, key, inspection.id)
    record_schema.check_record(record)
    assert record["inquiries"] == [{"question": "三月的保健品由谁结算？", "answer": "营业员周某按店长要求结算。"}]
    assert record["documents_taken"][0]["form"] == "原件"
    preservation = record["preservation"]
    assert preservation["items"][0]["place"] == "该店二楼仓库，已贴封条"
    registered = datetime.fromisoformat(preservation["registered_at"]).date()
    assert preservation["decision_by"] == working_days_after(registered, 7).isoformat()
    assert record["checkin"]["recorder"] == "I0002" and record["checkin"]["legal_representative"]["name"] == "郑国强"

    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(onsite.record_pdf_bytes(t.engine, store, key, inspection.id))
    pages = ["".join(page.split()) for page in subprocess.run(
        ["pdftotext", "-raw", str(pdf), "-"], check=True, capture_output=True, text=True).stdout.split("\f")
        if page.strip()]
    text = "".join(pages)
    deadline = datetime.fromisoformat(preservation["decision_by"])
    for expected in ("记录人：陈晓燕（执法证号闽榕医保执0002）", "法定代表人郑国强", "问：你（单位）是否申请检查人员回避？答：不申请回避",
                     "问：三月的保健品由谁结算？答：营业员周某按店长要求结算。", "2024年3月销售小票", "该店二楼仓库，已贴封条",
                     f"最迟于{deadline.year}年{deadline.month:02d}月{deadline.day:02d}日",
                     "《中华人民共和国行政处罚法》第五十六条", "现场查见情况"):
        assert expected in text, expected
    assert "条例第三十八条" not in text and "违规类别" not in text
    for page in pages:
        assert "以上笔录我已看过，与事实相符。被检查单位负责人或在场人员：张丽检查人员：林建华检查人员：陈晓燕" in page

    correction = onsite.start_correction(t.engine, key, inspection.id, "补记询问")
    copied = onsite.facts(t.engine, key, correction.id).parts
    assert copied["inquiries"] == record["inquiries"] and copied["preservation"] == preservation
