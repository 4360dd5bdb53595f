"""Chinese line breaking for the 笔录 and the 决定书 (`documents.pdf.break_lines`): no closing punctuation at a line's
start (行首禁则), no opening punctuation at its end (行尾禁则), identifiers and numbers never split unless longer than a
line; then the same rules read back with pdftotext from a rendered 决定书 and 笔录."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bureau.decision_pdf import case_documents, render_case_document
from documents.pdf import NO_LINE_END, NO_LINE_START, break_lines
from inspector_app.record_pdf import render_record_pdf
from tests.test_record_pdf import sample_photos, sample_record, sample_signatures


def width(text: str) -> float:
    """A CJK character is two units, an ASCII character one."""
    return sum(1 if ord(ch) < 128 else 2 for ch in text)


def test_a_full_stop_never_starts_a_line():
    # 10 characters fit exactly; the 。 would be the 11th: the last character moves down with it
    assert break_lines("一二三四五六七八九十。十一", width, 20) == ["一二三四五六七八九", "十。十一"]
    assert break_lines("甲乙丙丁戊己庚辛壬癸，“子”", width, 20) == ["甲乙丙丁戊己庚辛壬", "癸，“子”"]


def test_an_opening_bracket_never_ends_a_line():
    assert break_lines("一二三四五六七八九（四）项", width, 20) == ["一二三四五六七八九", "（四）项"]


def test_identifiers_stay_whole():
    text = "检查记录编号 3f2a9c1e-77b0-4d0e-9c55-0a1b2c3d4e5f，第 2 版"
    assert break_lines(text, width, 44) == ["检查记录编号", "3f2a9c1e-77b0-4d0e-9c55-0a1b2c3d4e5f，第 2", "版"]
    assert break_lines("金额 12,800.50 元", width, 11) == ["金额", "12,800.50", "元"]


def test_an_identifier_longer_than_a_line_is_split_by_characters():
    digest = "9d5ed678fe57bcca610140957afab571a9d5ed678fe57bcca610140957afab57"
    lines = break_lines(f"哈希 {digest}", width, 20)
    assert lines[0] == "哈希" and "".join(lines[1:]) == digest and all(len(line) == 20 for line in lines[1:-1])


def test_dashes_and_ellipses_stay_in_pairs_and_own_breaks_are_kept():
    assert break_lines("一二三四五六七八九——十", width, 20) == ["一二三四五六七八九", "——十"]
    assert break_lines("甲\n\n乙  ", width, 20) == ["甲", "", "乙"]
    assert break_lines("", width, 20) == [""]


cjk = st.sampled_from("医保基金现场检查笔录决定书责令退回罚款王堃")
tokens = st.one_of(
    cjk, st.tuples(cjk, st.sampled_from(sorted(NO_LINE_START))).map("".join),
    st.tuples(st.sampled_from(sorted(NO_LINE_END)), cjk).map("".join),
    # an ASCII run after a CJK character: two runs side by side would make one longer than a line, which is split by
    # characters (test_an_identifier_longer_than_a_line_is_split_by_characters)
    st.tuples(cjk, st.text(alphabet="0123456789ABCDEFabcdef-.,", min_size=1, max_size=8)).map("".join),
    st.just(" "))


@given(st.lists(tokens, max_size=60).map("".join), st.integers(min_value=16, max_value=60))
def test_every_line_fits_and_follows_the_rules(text, max_width):
    lines = break_lines(text, width, max_width)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(width(line) <= max_width for line in lines)
    assert not any(line[:1] in NO_LINE_START for line in lines[1:]), lines
    assert not any(line[-1:] in NO_LINE_END for line in lines[:-1]), lines
    assert re.findall(r"[!-~]+", "\n".join(lines)) == re.findall(r"[!-~]+", text)  # no ASCII run split


# ------------------------------------------------------------ read back from the PDFs

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                     reason="poppler-utils (pdftotext) not installed: cannot read the PDF back")

DIGEST = "9d5ed678fe57bcca610140957afab571a9d5ed678fe57bcca610140957afab57"
RECORD_ID = "3f2a9c1e-77b0-4d0e-9c55-0a1b2c3d4e5f"
DECISION = {
    "decision": {
        "record_id": RECORD_ID, "version": 2, "doc_kind": "行政处理", "decision_no": "医保行处〔2026〕12号",
        "decided_at": "2026-03-05T06:30:00Z", "measures": ["责令改正", "责令退回", "罚款"],
        "rectification_due": "2026-04-05", "recover_yuan": "12800.50", "fine_yuan": "25601.00",
        "fine_reason": "违法行为轻微，首次违法，主动退回，依法从轻处罚。", "suspension_months": None,
        "institution_points": [{"points": 3}, {"points": 2}],
        "person_points": [{"staff_code": "D350102198001011234", "points": 6,
                           "behaviour": "串换药品、医用耗材、诊疗项目和服务设施"}],
        "proposal": {"basis": [
            "《医疗保障基金使用监督管理条例》第三十八条第（四）项：串换药品、医用耗材、诊疗项目和服务设施的，由医疗保障行政"
            "部门责令改正，并可以约谈有关负责人；造成医疗保障基金损失的，责令退回，处造成损失金额1倍以上2倍以下的罚款。",
            "《医疗保障基金使用监督管理条例》第三十九条第（二）项：未按照规定保管财务账目、会计凭证、处方、病历、治疗检查"
            "记录、费用明细、药品和医用耗材出入库记录等资料的。"]}},
    "record": {"inspection_kind": "random", "findings": [
        {"title": "串换药品：将保健品、日用品按药品名义进行医保结算", "category": "38.4",
         "description": "抽查2026年1月销售记录，发现37笔以“复方丹参片”名义结算的实为蛋白粉等保健品，经营业员指认并与进货单核对一致。",
         "category_title": "串换药品、医用耗材、诊疗项目和服务设施", "amount_yuan": "12800.50"},
        {"title": "处方药未凭处方销售", "description": "", "category": "39.2", "category_title": "未按照规定保管资料",
         "amount_yuan": None}]},
    "record_hash": DIGEST, "log_index": 1234, "inspected_on": "2026-02-10", "authority": "福州市医疗保障局",
    "institution": {"code": "P35010200012", "name": "福州市鼓楼区康宁大药房有限公司", "kind": "pharmacy",
                    "address": "福建省福州市鼓楼区五四路 100 号", "credit_code": "91350102MA2YABCD1X"},
    "statement": {"deadline": "2026-02-28", "waived": False,
                  "text": "我单位对串换事实无异议，但金额计算应扣除已退款的3笔，共计1,280.00元，请予核减。"},
}


def layout_chunks(pdf: bytes) -> list[str]:
    """Every line of every text block on the pages (pdftotext -layout; table columns are 2+ spaces apart)."""
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout
    return [chunk for line in text.decode("utf-8").splitlines() for chunk in re.split(r"\s{2,}", line.strip())
            if chunk]


def assert_broken_well(chunks: list[str], identifiers: list[str]) -> None:
    starts = [chunk for chunk in chunks if chunk[0] in NO_LINE_START]
    assert not starts, f"lines start with closing punctuation: {starts}"
    ends = [chunk for chunk in chunks if chunk[-1] in NO_LINE_END]
    assert not ends, f"lines end with opening punctuation: {ends}"
    for identifier in identifiers:
        assert any(identifier in chunk for chunk in chunks), f"{identifier} is broken across lines"


@needs_pdftotext
def test_the_decision_breaks_lines_by_the_rules():
    # the staff's points are the 经办机构's: they are in the 协议处理通知书 beside the 决定书
    chunks = [chunk for document in case_documents(DECISION)
              for chunk in layout_chunks(render_case_document(DECISION, document.key))]
    assert_broken_well(chunks, [RECORD_ID, DIGEST, "P35010200012", "91350102MA2YABCD1X", "D350102198001011234",
                                "12,800.50", "25,601.00", "1,280.00", "医保行处〔2026〕12号"])
    assert any(chunk.endswith("核减。”本机关对你单位提出的事实、理由和证据进行了复核。") or "核减。”本机关" in chunk
               for chunk in chunks)  # a quoted sentence keeps its own full stop, and gets no second one


@needs_pdftotext
def test_the_record_breaks_lines_by_the_rules():
    record = sample_record()
    record["notes"] = ("被检查单位在场人员对串换药品事实无异议，已封存 2024 年 3 月销售小票两本；身份证号 350102198001011234 的"
                       "店员王堃当场确认。涉及结算流水号 JS20240301000123、JS20240302000456，金额 12,800.50 元。")
    chunks = layout_chunks(render_record_pdf(record, sample_photos(3), sample_signatures(refused=True)))
    assert_broken_well(chunks, ["R-2024-000123", "P33010600012", "350102198001011234", "JS20240301000123",
                                "JS20240302000456", "12,800.50", record["content_hash"]])
