"""The 现场检查笔录 PDF: content, layout sanity (rasterised with pdftoppm), refusal to sign, and input checks."""

from __future__ import annotations

import copy
import hashlib
import io
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from documents.signature import point_from_touch, render_signature_png
from inspector_app.photos import photo_caption, process_photo
from inspector_app.record_pdf import RecordPdfError, render_record_pdf

CONTENT_HASH = hashlib.sha256(b"canonical record bytes").hexdigest()


def sample_record(**overrides) -> dict:
    record = {
        "record_id": "R-2024-000123",
        "inspection_kind": "双随机抽查",
        "institution": {"name": "杭州市西湖区康宁大药房有限公司", "code": "P33010600012", "kind": "pharmacy",
                        "address": "浙江省杭州市西湖区文三路 100 号"},
        "started_at": "2024-05-01T14:00:00+08:00",
        "ended_at": "2024-05-01T15:30:00+08:00",
        "place": "该店一楼营业厅及二楼仓库",
        "gps": {"lat": "30.2741500", "lon": "120.1583667"},
        "officers": [{"name": "李明", "badge_no": "33010020240001"}, {"name": "赵丽华", "badge_no": "33010020240002"}],
        "id_shown": True,
        "representative": {"name": "张卫国", "role": "店长（主要负责人）", "phone": "13800001234",
                           "id_number": "11010519491231002X"},
        "items": {
            "total": 28, "passed": 23, "failed": 3, "not_applicable": 2,
            "failed_items": [
                {"item_id": "R-BL-03", "title": "串换药品：将保健品、日用品按药品名义进行医保结算", "amount": "12800.50",
                 "note": "抽查 2024 年 3 月销售记录，发现 37 笔以“复方丹参片”名义结算的实为蛋白粉等保健品，"
                         "经营业员指认并与进货单核对一致。"},
                {"item_id": "R-DS-02", "title": "处方药未凭处方销售，执业药师未审核签字", "amount": None, "note": ""},
                {"item_id": "R-DC-01", "title": "未公示医保政策宣传栏、投诉电话", "amount": None,
                 "note": "店内未见宣传栏。"},
            ],
        },
        "findings": [
            {"description": "串换药品进行医保结算 37 笔，涉及医保基金支出", "evidence": "照片 1、2",
             "amount": "12800.50"},
            {"description": "处方药销售未留存处方", "evidence": "", "amount": "350"},
        ],
        "recorder": {"name": "赵丽华", "badge_no": "33010020240002"},
        "legal_representative": {"title": "法定代表人", "name": "王建设", "id_number": "330106198503150016"},
        "notices": [
            {"title": "检查依据", "basis": "《医疗保障基金使用监督管理条例》第二十七条", "text": "依法进行现场检查。",
             "question": "", "given": True, "answer": "", "detail": ""},
            {"title": "申请回避的权利", "basis": "《中华人民共和国行政处罚法》第四十三条", "text": "有权申请回避。",
             "question": "你（单位）是否申请检查人员回避？", "given": True, "answer": "不申请回避", "detail": ""},
        ],
        "inquiries": [{"question": "三月的保健品是谁结算的？", "answer": "是营业员小周按店长要求结算的。"}],
        "documents_taken": [{"name": "2024年3月销售小票", "quantity": "2本/186页", "form": "原件"}],
        "preservation": {"approved_by": "局长 孙伟（电话批准）", "registered_at": "2024-05-01T15:20:00+08:00",
                         "items": [{"name": "蛋白粉", "quantity": "12罐", "place": "该店二楼仓库，已贴封条"}],
                         "deadline": "依据《中华人民共和国行政处罚法》第五十六条，应当在 7 日内作出处理决定，"
                                     "即最迟于 2024年05月10日"},
        "notes": "被检查单位对串换药品事实无异议，已封存 2024 年 3 月销售小票两本。",
        "content_hash": CONTENT_HASH,
    }
    record.update(overrides)
    return record


def sample_photos(count: int) -> list[tuple[str, bytes]]:
    photos = []
    for index in range(count):
        image = Image.new("RGB", (1200, 900), (40 + index * 30, 120, 200 - index * 20))
        out = io.BytesIO()
        image.save(out, "JPEG")
        caption = photo_caption("2024-05-01 14:1%d" % index, "康宁大药房", f"现场照片 {index + 1}：货架与结算单据")
        processed = process_photo(out.getvalue(), caption=caption)
        photos.append((processed.caption, processed.thumbnail_jpeg))
    return photos


def sample_signature_png(seed: int) -> bytes:
    strokes = [tuple(point_from_touch(40 + k * 110 + 35 * math.sin((i + seed) / 4), 60 + 35 * math.cos(i / 3),
                                      i * 16) for i in range(50)) for k in range(3)]
    return render_signature_png(strokes, 400, 140)


def sample_signatures(refused: bool = False) -> list:
    entries = [
        ("inspector_1", "李明", sample_signature_png(1), None),
        ("inspector_2", "赵丽华", sample_signature_png(2), None),
    ]
    if refused:
        entries.append(("representative", "张卫国", None, {
            "reason": "认为串换金额计算有误，拒绝在笔录上签字",
            "witness_name": "陈静（社区网格员）",
            "witness_signature_png": sample_signature_png(3),
            "witness_id_number": "350102198001010038",
            "recorded_at": "2024-05-01T15:35:00+08:00",
            "media_note": "已全程执法记录仪录像",
        }))
    else:
        entries.append(("representative", "张卫国", sample_signature_png(4), None))
    return entries


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-raw", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def rasterise(pdf: bytes, tmp_path: Path) -> list[Image.Image]:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(path), str(tmp_path / "page")], check=True)
    return [Image.open(page).convert("L") for page in sorted(tmp_path.glob("page-*.png"))]


needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
    reason="poppler-utils (pdftoppm, pdftotext) not installed: cannot rasterise or extract the PDF",
)


def test_is_a_pdf_and_deterministic():
    first = render_record_pdf(sample_record(), sample_photos(2), sample_signatures())
    second = render_record_pdf(sample_record(), sample_photos(2), sample_signatures())
    assert first.startswith(b"%PDF-")
    assert first == second


@needs_poppler
def test_text_carries_the_record(tmp_path):
    text = pdftotext(render_record_pdf(sample_record(), sample_photos(3), sample_signatures()), tmp_path)
    compact = "".join(text.split())
    for expected in ("医疗保障基金现场检查笔录", "杭州市西湖区康宁大药房有限公司", "P33010600012", "定点零售药店",
                     "李明", "33010020240001", "赵丽华", "已向被检查单位出示执法证件", "张卫国", "13800001234",
                     "身份证号码11010519491231002X",  # in full: the 笔录 is a legal document
                     "本次共检查28项：符合23项，不符合3项，不适用2项", "12,800.50",
                     "13,150.50", "纬度30.2741500，经度120.1583667", "2024年05月01日14:00至2024年05月01日15:30",
                     CONTENT_HASH, "第1页共", "现场照片", "现场查见情况", "照片1、2"):
        assert expected in compact, expected
    for label in ("条例第四十条", "欺诈骗保", "违规类别", "40.1"):  # a 笔录 records facts; classification comes later
        assert label not in compact, label


def pages_text(pdf: bytes, tmp_path: Path) -> list[str]:
    """Each page's text, whitespace removed (pdftotext ends every page with a form feed)."""
    return ["".join(page.split()) for page in pdftotext(pdf, tmp_path).split("\f") if page.strip()]


@needs_poppler
def test_every_legal_element_is_printed(tmp_path):
    text = "".join(pages_text(render_record_pdf(sample_record(), [], sample_signatures()), tmp_path))
    for expected in ("记录人：赵丽华（执法证号33010020240002）", "法定代表人王建设", "身份证号码330106198503150016",
                     "告知事项", "检查依据（《医疗保障基金使用监督管理条例》第二十七条）：依法进行现场检查。", "已告知。",
                     "申请回避的权利（《中华人民共和国行政处罚法》第四十三条）",
                     "问：你（单位）是否申请检查人员回避？答：不申请回避",
                     "询问记录", "问：三月的保健品是谁结算的？答：是营业员小周按店长要求结算的。",
                     "调取资料及先行登记保存", "2024年3月销售小票", "2本/186页", "原件",
                     "经局长孙伟（电话批准）批准，于2024年05月01日15:20对下列物品先行登记保存",
                     "蛋白粉", "12罐", "该店二楼仓库，已贴封条", "即最迟于2024年05月10日"):
        assert expected in text, expected


@needs_poppler
def test_every_page_ends_with_the_statement_and_the_signatures(tmp_path):
    pdf = render_record_pdf(sample_record(), sample_photos(7), sample_signatures())
    pages = pages_text(pdf, tmp_path)
    assert len(pages) >= 3
    for number, page in enumerate(pages, 1):
        tail = page[page.rindex("以上笔录我已看过，与事实相符。"):]
        for signer in ("被检查单位负责人或在场人员：张卫国", "检查人员：李明", "检查人员：赵丽华", f"第{number}页"):
            assert signer in tail, (number, signer)
    images = subprocess.run(["pdfimages", "-list", str(tmp_path / "record.pdf")], check=True, capture_output=True,
                            text=True).stdout.splitlines()[2:]
    on_page = {int(line.split()[0]) for line in images}
    assert on_page == set(range(1, len(pages) + 1))  # the signature images are on every page


@needs_poppler
def test_a_refusal_is_stated_on_every_page_with_the_witness(tmp_path):
    pages = pages_text(render_record_pdf(sample_record(), sample_photos(7), sample_signatures(refused=True)),
                       tmp_path)
    for page in pages:
        assert "以上笔录我已看过" not in page
        assert "被检查单位在场人员拒绝签名（见签名部分），由见证人签名证明。见证人：陈静（社区网格员）" in page


@needs_poppler
def test_a_record_checked_in_before_the_legal_elements_prints_without_them(tmp_path):
    record = sample_record()
    for key in ("recorder", "legal_representative", "notices", "inquiries", "documents_taken", "preservation"):
        record.pop(key)
    text = "".join(pages_text(render_record_pdf(record, [], sample_signatures()), tmp_path))
    assert "张卫国" in text and "记录人" not in text and "告知事项" not in text and "询问记录" not in text
    assert "一、基本情况" in text and "四、发现的问题" in text and "六、签名" in text  # numbered as they were


@needs_poppler
def test_nothing_asked_or_taken_is_stated(tmp_path):
    record = sample_record(inquiries=[], documents_taken=[])
    record.pop("preservation")
    text = "".join(pages_text(render_record_pdf(record, [], sample_signatures()), tmp_path))
    assert "本次检查未进行询问。" in text and "本次检查未调取资料。" in text and "本次检查未先行登记保存证据。" in text


@needs_poppler
def test_pages_render_and_are_not_blank(tmp_path):
    pdf = render_record_pdf(sample_record(), sample_photos(7), sample_signatures(refused=True))
    pages = rasterise(pdf, tmp_path)
    assert len(pages) >= 2
    text = "".join(pdftotext(pdf, tmp_path).split())
    assert f"共{len(pages)}页" in text
    for page in pages:
        assert page.size[0] > 400  # A4 at 60 dpi is 496 x 702
        extrema = page.getextrema()
        assert extrema[0] < 80, "page has no dark ink"
        assert ImageStat.Stat(page).stddev[0] > 10, "page is blank"


@needs_poppler
def test_refusal_to_sign_is_recorded_with_witness(tmp_path):
    text = "".join(pdftotext(render_record_pdf(sample_record(), [], sample_signatures(refused=True)),
                             tmp_path).split())
    assert "拒绝签名" in text
    assert "认为串换金额计算有误" in text
    assert "见证人：陈静（社区网格员）" in text
    assert "已全程执法记录仪录像" in text
    assert "见证人身份证号码：350102198001010038" in text


@needs_poppler
def test_a_record_signed_before_id_numbers_prints_without_them(tmp_path):
    record = sample_record()
    record["representative"] = {"name": "张卫国", "role": "店长（主要负责人）", "phone": "13800001234"}
    record.pop("legal_representative")  # issue #15 came later still
    signatures = sample_signatures(refused=True)
    role, name, png, refusal = signatures[2]
    signatures[2] = (role, name, png, {k: v for k, v in refusal.items() if k != "witness_id_number"})
    text = "".join(pdftotext(render_record_pdf(record, [], signatures), tmp_path).split())
    assert "张卫国" in text and "见证人：陈静（社区网格员）" in text and "身份证号码" not in text


@needs_poppler
def test_missing_location_and_no_findings_are_stated(tmp_path):
    record = sample_record(gps=None, findings=[])
    record["items"] = {"total": 10, "passed": 10, "failed": 0, "not_applicable": 0, "failed_items": []}
    text = "".join(pdftotext(render_record_pdf(record, [], sample_signatures()), tmp_path).split())
    assert "未获取定位" in text
    assert "未发现不符合项" in text
    assert "本次检查未发现违法违规问题" in text


@needs_poppler
def test_unsigned_slot_is_visible_not_silent(tmp_path):
    signatures = [entry for entry in sample_signatures() if entry[0] != "inspector_2"]
    text = "".join(pdftotext(render_record_pdf(sample_record(), [], signatures), tmp_path).split())
    assert "（未签名）" in text


@needs_poppler
def test_undecodable_photo_is_marked(tmp_path):
    text = "".join(pdftotext(render_record_pdf(sample_record(), [("坏照片", b"not a jpeg")], sample_signatures()),
                             tmp_path).split())
    assert "（照片无法显示）" in text and "坏照片" in text


def test_photos_are_downscaled_for_embedding():
    big = Image.new("RGB", (4000, 3000), (90, 140, 60))
    out = io.BytesIO()
    big.save(out, "JPEG", quality=95)
    with_big = render_record_pdf(sample_record(), [("大图", out.getvalue())], sample_signatures())
    assert len(with_big) < len(out.getvalue()) + 400_000


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r["institution"].pop("name"), "institution.name"),
    (lambda r: r.pop("officers"), "officers"),
    (lambda r: r.update(content_hash="abc"), "content_hash"),
    (lambda r: r.update(started_at="2024-05-01 14:00"), "started_at"),
    (lambda r: r["findings"][0].update(amount=12.5), "findings[0].amount"),
    (lambda r: r["items"]["failed_items"][0].update(amount="12,800"), "failed_items[0]"),
])
def test_bad_record_names_the_field(mutate, field):
    record = copy.deepcopy(sample_record())
    mutate(record)
    with pytest.raises(RecordPdfError, match=field.replace("[", r"\[").replace("]", r"\]")):
        render_record_pdf(record, [], sample_signatures())


def test_refusal_needs_reason_and_witness():
    signatures = sample_signatures(refused=True)
    role, name, _png, refusal = signatures[2]
    signatures[2] = (role, name, None, {**refusal, "witness_name": ""})
    with pytest.raises(RecordPdfError, match="见证人"):
        render_record_pdf(sample_record(), [], signatures)


def test_only_the_representative_can_refuse():
    signatures = sample_signatures(refused=True)
    refusal = signatures[2][3]
    signatures[0] = ("inspector_1", "李明", None, refusal)
    with pytest.raises(RecordPdfError, match="只有被检查单位人员可以拒签"):
        render_record_pdf(sample_record(), [], signatures)


def test_signature_roles_are_checked():
    signatures = sample_signatures() + [("inspector_1", "李明", sample_signature_png(5), None)]
    with pytest.raises(RecordPdfError, match="签名角色"):
        render_record_pdf(sample_record(), [], signatures)


@needs_poppler
def test_long_refusal_reason_is_printed_in_full(tmp_path):
    signatures = sample_signatures(refused=True)
    role, name, _png, refusal = signatures[2]
    reason = "认为检查人员未出示完整的检查通知书且串换金额计算依据不足，" * 6 + "故拒绝签字。"
    signatures[2] = (role, name, None, {**refusal, "reason": reason})
    pdf = render_record_pdf(sample_record(), [], signatures)
    text = "".join(pdftotext(pdf, tmp_path).split())
    assert reason in text
    assert "见证人：陈静（社区网格员）" in text


@needs_poppler
@pytest.mark.parametrize("name", ["王堃", "牛\u7287"])
def test_rare_name_characters_are_printed(tmp_path, name):
    """堃 is in the main subset of Noto Sans SC; U+7287 (outside GB2312, written escaped: every character in the
    repository is in the main subset) only in the Ext subset, which a record embeds only when a character needs it."""
    record = sample_record(representative={"name": name, "role": "店长", "phone": "13800001234"})
    signatures = sample_signatures()
    signatures[2] = ("representative", name, signatures[2][2], None)
    pdf = render_record_pdf(record, [], signatures)
    text = "".join(pdftotext(pdf, tmp_path).split())
    assert f"在场人员{name}" in text
    assert f"被检查单位负责人或在场人员：{name}" in text  # in the bold label too
    # fpdf2 embeds every font registered, used or not (pdffonts lists only the ones a page uses); its font
    # dictionaries are not compressed
    assert b"/BaseFont /MPDFAA+NotoSansSCSubsetBold" in pdf
    assert (b"/BaseFont /MPDFAA+NotoSansSCSubsetExt" in pdf) == (name == "牛\u7287")
