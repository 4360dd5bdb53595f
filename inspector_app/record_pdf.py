"""The 医疗保障基金现场检查笔录 as a PDF, made on the tablet without a network (the blocks of `documents.pdf`).

``render_record_pdf(record, photos, signatures) -> bytes``. The PDF is a rendering of a record whose canonical JSON
the caller has already hashed: it prints that hash in full on every page and as a QR code, so a paper copy can be
matched to the signed record. Same inputs, same bytes (no clock, no random IDs).

Input shapes (plain dicts, JSON-like; money is a decimal string such as ``"12000.50"``, never a float; times are
ISO 8601 with a UTC offset, printed as the local wall time they carry):

``record`` — ``RecordForPdf``::

    {
      "record_id": "R-2024-000123",
      "inspection_kind": "双随机抽查",                        # optional
      "institution": {"name", "code", "kind", "address"},     # kind: hospital | primary | private | pharmacy
      "started_at": "2024-05-01T14:00:00+08:00", "ended_at": "2024-05-01T15:30:00+08:00",
      "place": "杭州市西湖区文三路 100 号 一楼营业厅",
      "gps": {"lat": "30.2741500", "lon": "120.1583667"} | None,   # None prints 未获取定位
      "officers": [{"name": "李明", "badge_no": "33010020240001"}, ...],   # at least 2 (条例第二十九条)
      "id_shown": True,                                        # officers showed 执法证件
      "representative": {"name", "role", "phone", "id_number"},   # id_number optional (records before issue #12)
      "recorder": {"name", "badge_no"},                        # optional (the five below: records before issue #15)
      "legal_representative": {"title": "法定代表人" | "主要负责人", "name", "id_number"},
      "notices": [{"title", "basis", "text", "question", "given", "answer", "detail"}],   # read aloud at check-in
      "inquiries": [{"question", "answer"}],                   # 询问 (may be empty)
      "documents_taken": [{"name", "quantity", "form": "原件" | "复印件"}],   # 调取资料 (may be empty)
      "preservation": {"approved_by", "registered_at", "items": [{"name", "quantity", "place"}],
                       "deadline": "依据……最迟于 2024年05月10日……"},   # optional: 先行登记保存
      "items": {
        "total": 30, "passed": 26, "failed": 2, "not_applicable": 2,
        "failed_items": [{"item_id", "title", "amount": "1200.00" | None, "note"}],
      },
      "findings": [{"description", "evidence": "照片 1、2" | "", "amount": "1200.00" | None}],
      "suspicion_checks": [{"rule", "settlement_id": str | None, "verdict": "属实" | "排除", "amount", "note"}],
                                                               # optional: 疑点核查
      "notes": "其他需要说明的情况",                           # optional
      "content_hash": "<64 hex digits: SHA-256 of the record's canonical JSON>",
    }

``photos`` — ``[(caption, jpeg_bytes), ...]``: usually ``ProcessedPhoto.caption`` with ``thumbnail_jpeg`` or
``photos.captioned_jpeg``; images are re-encoded at most ``PHOTO_EMBED_EDGE`` px so the PDF stays small.

A 笔录 records facts: what was checked, what was seen and its evidence; the legal classification (category, severity,
article) comes later, at the bureau, and is not printed here.

``signatures`` — ``[(role, name, png_bytes | None, refusal | None), ...]`` with role ``inspector_1``,
``inspector_2`` or ``representative``. Every page ends with the party's statement (rules/onsite_record.toml:
以上笔录我已看过，与事实相符) and the signers' signatures, small, so no page can be swapped unnoticed. A person who refused to sign has ``png_bytes`` None and a ``Refusal``::

    {"reason": "认为检查结果不实", "witness_name": "王五", "witness_signature_png": bytes | None,
     "witness_id_number": "11010519491231002X",                # optional (refusals before issue #12)
     "recorded_at": "2024-05-01T15:35:00+08:00",               # optional
     "media_note": "已全程录像，文件 VID_0012.mp4"}              # optional (录音录像)
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from decimal import Decimal
from typing import NotRequired, Sequence, TypedDict

from fpdf.enums import Align, WrapMode, XPos, YPos
from PIL import Image, UnidentifiedImageError

from checklists import KINDS
from checklists.errors import InputError
from checklists.money import parse_money
from checklists.onsite_record import record_rules
from documents.pdf import (
    FONT_FAMILY,
    GREY,
    DocumentPdf,
    Layout,
    hash_block,
    headed_table,
    label_table,
    paragraph,
    section,
    with_line_breaks,
)
from documents.signature import ROLE_LABELS

TITLE = "医疗保障基金现场检查笔录"
PHOTO_EMBED_EDGE = 640  # about 280 dpi in a 57 mm wide cell
SIGNATURE_ROLES = ("inspector_1", "inspector_2", "representative")

_MARGIN = 15  # mm
_FOOT = 32  # mm kept at the foot of every page for the statement and the signatures
_NUMERALS = "一二三四五六七八九十"
_BODY_PT = 10.5
_LAYOUT = Layout(body_pt=_BODY_PT, line_mm=6, heading_pt=12, heading_room_mm=20, label_widths=(30, 150),
                 table_line_mm=5.2)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Institution(TypedDict):
    name: str
    code: str
    kind: str
    address: str


class Officer(TypedDict):
    name: str
    badge_no: str  # 执法证号


class Representative(TypedDict):
    name: str
    role: str  # 职务
    phone: str
    id_number: NotRequired[str]  # 身份证号码, printed in full: the 笔录 is a legal document


class FailedItem(TypedDict):
    item_id: str
    title: str
    amount: str | None
    note: str  # what was seen


class ItemsSummary(TypedDict):
    total: int
    passed: int
    failed: int
    not_applicable: int
    failed_items: list[FailedItem]


class Finding(TypedDict):
    description: str
    evidence: str  # "照片 1、2", or empty
    amount: str | None


class LegalRepresentative(TypedDict):
    title: str  # 法定代表人 | 主要负责人
    name: str
    id_number: str


class NoticeGiven(TypedDict):
    title: str
    basis: str
    text: str
    question: str  # empty: nothing is asked
    given: bool
    answer: str
    detail: str


class Inquiry(TypedDict):
    question: str
    answer: str


class DocumentTaken(TypedDict):
    name: str
    quantity: str  # 份数/页数
    form: str  # 原件 | 复印件


class PreservedItem(TypedDict):
    name: str
    quantity: str
    place: str


class Preservation(TypedDict):
    approved_by: str
    registered_at: str
    items: list[PreservedItem]
    deadline: str  # the decision's deadline and its legal basis, in a sentence


class Gps(TypedDict):
    lat: str
    lon: str


class SuspicionCheck(TypedDict):
    """One 疑点 checked on site, as the 疑点核查 section prints it."""

    rule: str  # the screening rule's id and name
    settlement_id: str | None  # None: a person-month rule
    verdict: str  # 属实 | 排除
    amount: str  # confirmed amount; "0.00" when excluded
    note: str  # what the medical record, prescription or receipts showed


class RecordForPdf(TypedDict):
    record_id: str
    inspection_kind: NotRequired[str]
    institution: Institution
    started_at: str
    ended_at: str
    place: str
    gps: Gps | None
    officers: list[Officer]
    id_shown: bool
    representative: Representative
    recorder: NotRequired[Officer]
    legal_representative: NotRequired[LegalRepresentative]
    notices: NotRequired[list[NoticeGiven]]
    inquiries: NotRequired[list[Inquiry]]
    documents_taken: NotRequired[list[DocumentTaken]]
    preservation: NotRequired[Preservation]
    items: ItemsSummary
    findings: list[Finding]
    suspicion_checks: NotRequired[list[SuspicionCheck]]  # the assignment's 疑点 checked on site (issue #16)
    notes: NotRequired[str]
    content_hash: str


class Refusal(TypedDict):
    reason: str
    witness_name: str
    witness_signature_png: bytes | None
    witness_id_number: NotRequired[str]
    recorded_at: NotRequired[str]
    media_note: NotRequired[str]


SignatureEntry = tuple[str, str, "bytes | None", "Refusal | None"]

_REQUIRED = (
    "record_id", "institution.name", "institution.code", "institution.kind", "institution.address", "started_at",
    "ended_at", "place", "gps", "officers", "id_shown", "representative.name", "representative.role",
    "representative.phone", "items.total", "items.passed", "items.failed", "items.not_applicable",
    "items.failed_items", "findings", "content_hash",
)


class RecordPdfError(ValueError):
    """Input the 笔录 cannot be printed from (a caller's bug, not the inspector's): says which field."""


def render_record_pdf(record: RecordForPdf, photos: Sequence[tuple[str, bytes]],
                      signatures: Sequence[SignatureEntry]) -> bytes:
    """The 现场检查笔录 PDF. Raises RecordPdfError naming the missing or malformed field."""
    _check_record(record, signatures)
    pdf = _RecordPdf(record, signatures)
    pdf.add_page()
    _title(pdf, record)
    _basic_facts(pdf, record)
    _people(pdf, record)
    if "notices" in record:
        _notices(pdf, record["notices"])
    _items(pdf, record["items"])
    _findings(pdf, record["findings"])
    _suspicion_checks(pdf, record.get("suspicion_checks", []))
    if "inquiries" in record:
        _inquiries(pdf, record["inquiries"])
    if "documents_taken" in record:
        _documents_taken(pdf, record["documents_taken"], record.get("preservation"))
    if record.get("notes"):
        _section(pdf, "其他需要说明的情况")
        paragraph(pdf, record["notes"])
    if photos:
        _photos(pdf, photos)
    _signatures(pdf, record, signatures)
    hash_block(pdf, "笔录内容哈希（SHA-256）", record["content_hash"],
               "扫描二维码或比对上列哈希，可核验本笔录与签名封存的电子记录一致。", room_mm=6, inset_mm=3)
    return bytes(pdf.output())


class _RecordPdf(DocumentPdf):
    def __init__(self, record: RecordForPdf, signatures: Sequence[SignatureEntry]):
        super().__init__(_LAYOUT, f"{TITLE} {record['record_id']}", _parse_time(record["ended_at"], "ended_at"))
        self.record = record
        self.signatures = {entry[0]: entry for entry in signatures}
        self.sections = 0  # numbered as they are printed
        self.set_margins(_MARGIN, _MARGIN + 4, _MARGIN)
        self.set_auto_page_break(True, margin=_MARGIN + 8 + _FOOT)
        self.set_subject(record["institution"]["name"])

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT_FAMILY, size=8)
        self.set_text_color(*GREY)
        self.set_xy(_MARGIN, 8)
        self.cell(0, 5, f"{TITLE}（续） · {self.record['institution']['name']} · 编号 {self.record['record_id']}",
                  align=Align.L)
        self.set_text_color(0)
        self.set_xy(_MARGIN, _MARGIN + 4)
        self.set_font(FONT_FAMILY, size=_BODY_PT)

    def footer(self) -> None:
        self._page_signatures(self.h - _MARGIN - 6 - _FOOT)
        self.footer_line(-_MARGIN - 3, f"内容哈希（SHA-256）：{self.record['content_hash']}")

    def _page_signatures(self, top: float) -> None:
        """The party's statement and, small, the signatures of the party (or the witness of a refusal) and of both
        inspectors: on every page."""
        representative = self.signatures.get("representative")
        refusal = representative[3] if representative else None
        self.set_draw_color(160)
        self.line(_MARGIN, top, _MARGIN + self.epw, top)
        self.set_xy(_MARGIN, top + 1)
        self.set_font(FONT_FAMILY, "B", 9)
        self.cell(0, 5, "被检查单位在场人员拒绝签名（见签名部分），由见证人签名证明。" if refusal
                  else record_rules().statement, align=Align.L)
        width, height = (self.epw - 8) / 3, _FOOT - 9
        boxes = [("witness", refusal["witness_name"], refusal.get("witness_signature_png")) if refusal else
                 ("representative", representative[1] if representative else self.record["representative"]["name"],
                  representative[2] if representative else None)]
        boxes += [(role, entry[1] if (entry := self.signatures.get(role)) else "", entry[2] if entry else None)
                  for role in ("inspector_1", "inspector_2")]
        for column, (role, name, png) in enumerate(boxes):
            x = _MARGIN + column * (width + 4)
            self.set_draw_color(200)
            self.rect(x, top + 7, width, height)
            self.set_xy(x + 1, top + 7.5)
            self.set_font(FONT_FAMILY, size=7)
            self.cell(width - 2, 3.5, f"{ROLE_LABELS[role]}：{name}", align=Align.L)
            if png:
                _fit_png(self, png, x + 1, top + 11.5, width - 2, height - 5.5)
            else:
                self.set_text_color(*GREY)
                self.set_xy(x + 1, top + 7 + height / 2)
                self.cell(width - 2, 4, "（未签名）", align=Align.C)
                self.set_text_color(0)


def _check_record(record: RecordForPdf, signatures: Sequence[SignatureEntry]) -> None:
    for path in _REQUIRED:
        value: object = record
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                raise RecordPdfError(f"笔录数据缺少字段 {path}")
            value = value[key]
    if not _HEX64.match(str(record["content_hash"])):
        raise RecordPdfError("content_hash 应为 64 位小写十六进制 SHA-256")
    _parse_time(record["started_at"], "started_at")
    _parse_time(record["ended_at"], "ended_at")
    roles = [entry[0] for entry in signatures]
    unknown = [role for role in roles if role not in SIGNATURE_ROLES]
    if unknown or len(set(roles)) != len(roles):
        raise RecordPdfError(f"签名角色应为 {'、'.join(SIGNATURE_ROLES)} 且各出现一次，实际为 {roles}")
    for role, _name, png, refusal in signatures:
        if refusal is None:
            continue
        if role != "representative":
            raise RecordPdfError(f"{role}：只有被检查单位人员可以拒签")
        if png is not None or not refusal.get("reason") or not refusal.get("witness_name"):
            raise RecordPdfError(f"{role}：拒签须写明理由和见证人，且不能同时有签名")


# --- sections ------------------------------------------------------------------------------------------------


def _title(pdf: _RecordPdf, record: RecordForPdf) -> None:
    pdf.set_font(FONT_FAMILY, "B", 18)
    pdf.cell(0, 11, TITLE, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_text_color(*GREY)
    subtitle = f"笔录编号：{record['record_id']}"
    if record.get("inspection_kind"):
        subtitle += f"　　检查类型：{record['inspection_kind']}"
    pdf.cell(0, 6, subtitle, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(0)
    pdf.ln(2)


def _section(pdf: _RecordPdf, heading: str) -> None:
    """A heading numbered in the order printed (一、二、…): which sections a 笔录 has depends on the record."""
    pdf.sections += 1
    number = pdf.sections
    numeral = _NUMERALS[number - 1] if number <= 10 else f"十{_NUMERALS[number - 11]}"
    section(pdf, f"{numeral}、{heading}")


def _basic_facts(pdf: _RecordPdf, record: RecordForPdf) -> None:
    institution = record["institution"]
    gps = record["gps"]
    location = f"纬度 {gps['lat']}，经度 {gps['lon']}" if gps else "未获取定位"
    _section(pdf, "基本情况")
    label_table(pdf, [
        ("被检查单位", institution["name"]),
        ("机构编码", institution["code"]),
        ("机构类别", KINDS.get(institution["kind"], institution["kind"])),
        ("单位地址", institution["address"]),
        ("检查时间", f"{_wall_time(record['started_at'])} 至 {_wall_time(record['ended_at'])}"),
        ("检查地点", record["place"]),
        ("定位信息", location),
    ])


def _people(pdf: _RecordPdf, record: RecordForPdf) -> None:
    officers = record["officers"]
    _section(pdf, "检查人员及被检查单位在场人员")
    headed_table(pdf, ["序号", "检查人员姓名", "执法证号"], [30, 70, 80],
                 [[str(index), officer["name"], officer["badge_no"]] for index, officer in enumerate(officers, 1)])
    names = "、".join(officer["name"] for officer in officers)
    if record["id_shown"]:
        statement = f"检查人员 {names} 已向被检查单位出示执法证件，表明身份，告知检查依据和事由。"
    else:
        statement = f"检查人员 {names} 出示执法证件的情况未记录。"
    paragraph(pdf, statement)
    if "recorder" in record:
        paragraph(pdf, f"记录人：{record['recorder']['name']}（执法证号 {record['recorder']['badge_no']}）")
    representative = record["representative"]
    label_table(pdf, [
        ("在场人员", representative["name"]),
        ("职务", representative["role"]),
        ("联系电话", representative["phone"]),
        *([("身份证号码", representative["id_number"])] if representative.get("id_number") else []),
    ])
    if "legal_representative" in record:
        legal = record["legal_representative"]
        label_table(pdf, [(legal["title"], legal["name"]), ("身份证号码", legal["id_number"])])


def _notices(pdf: _RecordPdf, notices: list[NoticeGiven]) -> None:
    """The notices as read aloud at check-in, each with its basis, whether it was given and the answer."""
    _section(pdf, "告知事项")
    for notice in notices:
        paragraph(pdf, f"{notice['title']}（{notice['basis']}）：{notice['text']}")
        if notice["question"]:
            answer = notice["answer"] + (f"。{notice['detail']}" if notice["detail"] else "")
            paragraph(pdf, f"问：{notice['question']}\n答：{answer or '（未回答）'}")
        else:
            paragraph(pdf, "已告知。" if notice["given"] else "（未告知）")


def _inquiries(pdf: _RecordPdf, inquiries: list[Inquiry]) -> None:
    _section(pdf, "询问记录")
    if not inquiries:
        paragraph(pdf, "本次检查未进行询问。")
        return
    for pair in inquiries:
        paragraph(pdf, f"问：{pair['question']}\n答：{pair['answer']}")


def _documents_taken(pdf: _RecordPdf, documents: list[DocumentTaken], preservation: Preservation | None) -> None:
    """调取资料清单 and, if any, the 先行登记保存 with its approver and the deadline of the decision."""
    _section(pdf, "调取资料及先行登记保存")
    if documents:
        headed_table(pdf, ["序号", "资料名称", "份数（页数）", "原件/复印件"], [12, 98, 40, 30],
                     [[str(n), d["name"], d["quantity"], d["form"]] for n, d in enumerate(documents, 1)])
    else:
        paragraph(pdf, "本次检查未调取资料。")
    if preservation is None:
        paragraph(pdf, "本次检查未先行登记保存证据。")
        return
    paragraph(pdf, f"经 {preservation['approved_by']} 批准，于 "
                   f"{_wall_time(preservation['registered_at'], 'preservation.registered_at')} 对下列物品先行登记保存：")
    headed_table(pdf, ["序号", "物品名称", "数量", "存放地点"], [12, 78, 40, 50],
                 [[str(n), i["name"], i["quantity"], i["place"]] for n, i in enumerate(preservation["items"], 1)])
    paragraph(pdf, preservation["deadline"])


def _items(pdf: _RecordPdf, items: ItemsSummary) -> None:
    _section(pdf, "检查项目情况")
    paragraph(pdf, f"本次共检查 {items['total']} 项：符合 {items['passed']} 项，不符合 {items['failed']} 项，"
                   f"不适用 {items['not_applicable']} 项。")
    failed = items["failed_items"]
    if not failed:
        paragraph(pdf, "未发现不符合项。")
        return
    rows = [[str(index), f"{item['title']}（{item['item_id']}）", item.get("note") or "—",
             _money(item.get("amount"), f"failed_items[{index - 1}]")] for index, item in enumerate(failed, 1)]
    headed_table(pdf, ["序号", "不符合项目", "现场查见情况", "金额（元）"], [12, 70, 74, 24], rows)


def _findings(pdf: _RecordPdf, findings: list[Finding]) -> None:
    _section(pdf, "发现的问题")
    if not findings:
        paragraph(pdf, "本次检查未发现违法违规问题。")
        return
    rows = []
    total = Decimal("0.00")
    for index, finding in enumerate(findings, 1):
        amount = finding.get("amount")
        if amount:
            total += _decimal(amount, f"findings[{index - 1}].amount")
        rows.append([str(index), finding["description"], finding.get("evidence") or "—",
                     _money(amount, f"findings[{index - 1}]")])
    rows.append(["", "合计", "", f"{total:,}"])
    headed_table(pdf, ["序号", "问题描述", "证据", "金额（元）"], [12, 114, 30, 24], rows)


def _suspicion_checks(pdf: _RecordPdf, checks: list[SuspicionCheck]) -> None:
    """疑点核查: each 疑点 of the assignment the inspectors checked against the records on site (none: no section)."""
    if not checks:
        return
    _section(pdf, "疑点核查")
    confirmed = sum(1 for check in checks if check["verdict"] == "属实")
    paragraph(pdf, f"对检查任务所附疑点现场核查 {len(checks)} 条：属实 {confirmed} 条，排除 {len(checks) - confirmed} 条。")
    rows = [[str(index), check["rule"], check["settlement_id"] or "—", check["verdict"],
             _money(check["amount"], f"suspicion_checks[{index - 1}].amount"), check["note"]]
            for index, check in enumerate(checks, 1)]
    headed_table(pdf, ["序号", "筛查规则", "结算ID", "结论", "金额（元）", "核查所见"], [12, 38, 38, 14, 22, 56], rows)


def _photos(pdf: _RecordPdf, photos: Sequence[tuple[str, bytes]]) -> None:
    _section(pdf, "现场照片")
    columns, gutter, caption_line = 3, 5, 4
    cell_width = (pdf.epw - gutter * (columns - 1)) / columns
    image_height = cell_width * 0.75
    for start in range(0, len(photos), columns):
        row = list(enumerate(photos[start:start + columns], start + 1))
        pdf.set_font(FONT_FAMILY, size=8)
        captions = {number: with_line_breaks(pdf, f"照片 {number}：{caption}", cell_width - 2 * pdf.c_margin)
                    for number, (caption, _jpeg) in row}
        wrapped = [pdf.multi_cell(cell_width, caption_line, text, wrapmode=WrapMode.CHAR, dry_run=True,
                                  output="LINES") for text in captions.values()]
        # fpdf2 types multi_cell's result as a union over every `output`; output="LINES" returns list[str]
        caption_lines = max(len(lines) for lines in wrapped)  # type: ignore[arg-type]
        row_height = image_height + 1 + caption_lines * caption_line
        if pdf.get_y() + row_height > pdf.page_break_trigger:
            pdf.add_page()
            pdf.set_font(FONT_FAMILY, size=8)
        top = pdf.get_y()
        for column, (number, (_caption, jpeg)) in enumerate(row):
            x = _MARGIN + column * (cell_width + gutter)
            _photo_cell(pdf, x, top, cell_width, image_height, jpeg)
            pdf.set_xy(x, top + image_height + 1)
            pdf.multi_cell(cell_width, caption_line, captions[number], align=Align.L, wrapmode=WrapMode.CHAR)
        pdf.set_font(FONT_FAMILY, size=_BODY_PT)
        pdf.set_xy(_MARGIN, top + row_height + 4)


def _photo_cell(pdf: _RecordPdf, x: float, y: float, width: float, height: float, jpeg: bytes) -> None:
    """The photo fitted and centred in the box; a visible notice instead of a photo that will not decode."""
    pdf.set_draw_color(200)
    pdf.rect(x, y, width, height)
    try:
        image: Image.Image = Image.open(io.BytesIO(jpeg))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        pdf.set_xy(x, y + height / 2 - 3)
        pdf.cell(width, 6, "（照片无法显示）", align=Align.C)
        return
    image = image.convert("RGB")
    image.thumbnail((PHOTO_EMBED_EDGE, PHOTO_EMBED_EDGE))
    scale = min(width / image.width, height / image.height)
    shown_w, shown_h = image.width * scale, image.height * scale
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    pdf.image(out, x=x + (width - shown_w) / 2, y=y + (height - shown_h) / 2, w=shown_w, h=shown_h)


def _signatures(pdf: _RecordPdf, record: RecordForPdf, signatures: Sequence[SignatureEntry]) -> None:
    by_role = {entry[0]: entry for entry in signatures}
    representative = by_role.get("representative")
    refusal = representative[3] if representative else None
    box_height = 34
    refusal_width = pdf.epw * 0.58
    representative_height = max(box_height, 9 + _refusal_text_height(pdf, refusal, refusal_width)) if refusal \
        else box_height
    needed = 10 + 8 + box_height + 4 + representative_height
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    _section(pdf, "签名")
    if refusal is not None:
        paragraph(pdf, "以上笔录已向被检查单位在场人员宣读（或交其阅看），其拒绝签名，情况记录如下。")
    else:
        paragraph(pdf, "以上笔录已经被检查单位在场人员核对（或向其宣读），确认与事实相符。")
    half = (pdf.epw - 6) / 2
    top = pdf.get_y()
    for column, role in enumerate(("inspector_1", "inspector_2")):
        _signature_box(pdf, _MARGIN + column * (half + 6), top, half, box_height, role, by_role.get(role))
    representative_top = top + box_height + 4
    _signature_box(pdf, _MARGIN, representative_top, pdf.epw, representative_height, "representative",
                   representative, default_name=record["representative"]["name"])
    if refusal is not None:
        _refusal(pdf, _MARGIN, representative_top, pdf.epw, representative_height, refusal_width, refusal)
    pdf.set_xy(_MARGIN, representative_top + representative_height + 4)


def _signature_box(pdf: _RecordPdf, x: float, y: float, width: float, height: float, role: str,
                   entry: SignatureEntry | None, default_name: str = "") -> None:
    """Frame, role and name, and the signature image, or a visible 未签名. A refusal is drawn by ``_refusal``."""
    pdf.set_draw_color(160)
    pdf.rect(x, y, width, height)
    name = entry[1] if entry else default_name
    pdf.set_xy(x + 2, y + 1.5)
    pdf.set_font(FONT_FAMILY, "B", 9)
    pdf.cell(width - 4, 5, f"{ROLE_LABELS[role]}：{name}", align=Align.L)
    pdf.set_font(FONT_FAMILY, size=9)
    png, refusal = (entry[2], entry[3]) if entry else (None, None)
    if png:
        _fit_png(pdf, png, x + 2, y + 7, width - 4, height - 9)
    elif refusal is None:
        pdf.set_text_color(*GREY)
        pdf.set_xy(x + 2, y + height / 2)
        pdf.cell(width - 4, 6, "（未签名）", align=Align.C)
        pdf.set_text_color(0)
    pdf.set_font(FONT_FAMILY, size=_BODY_PT)


def _refusal_lines(refusal: Refusal) -> str:
    lines = [f"拒绝签名。理由：{refusal['reason']}"]
    if refusal.get("witness_id_number"):
        lines.append(f"见证人身份证号码：{refusal['witness_id_number']}")
    if refusal.get("recorded_at"):
        lines.append(f"记录时间：{_wall_time(refusal['recorded_at'], 'refusal.recorded_at')}")
    if refusal.get("media_note"):
        lines.append(f"录音录像：{refusal['media_note']}")
    return "\n".join(lines)


def _refusal_text_height(pdf: _RecordPdf, refusal: Refusal, text_width: float) -> float:
    pdf.set_font(FONT_FAMILY, size=9)
    text = with_line_breaks(pdf, _refusal_lines(refusal), text_width - 4 - 2 * pdf.c_margin)
    lines = pdf.multi_cell(text_width - 4, 4.5, text, wrapmode=WrapMode.CHAR, dry_run=True, output="LINES")
    pdf.set_font(FONT_FAMILY, size=_BODY_PT)
    return len(lines) * 4.5 + 2  # type: ignore[arg-type]  # fpdf2: output="LINES" returns list[str]


def _refusal(pdf: _RecordPdf, x: float, y: float, width: float, height: float, text_width: float,
             refusal: Refusal) -> None:
    """Inside the representative's box: the refusal on the left, the witness and their signature on the right."""
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_xy(x + 2, y + 7)
    text = with_line_breaks(pdf, _refusal_lines(refusal), text_width - 4 - 2 * pdf.c_margin)
    pdf.multi_cell(text_width - 4, 4.5, text, align=Align.L, wrapmode=WrapMode.CHAR)
    witness_x, witness_width = x + text_width, width - text_width
    pdf.set_draw_color(200)
    pdf.line(witness_x, y + 7, witness_x, y + height - 2)
    pdf.set_xy(witness_x + 2, y + 7)
    pdf.set_font(FONT_FAMILY, "B", 9)
    pdf.cell(witness_width - 4, 5, f"{ROLE_LABELS['witness']}：{refusal['witness_name']}", align=Align.L)
    pdf.set_font(FONT_FAMILY, size=9)
    witness_png = refusal.get("witness_signature_png")
    if witness_png:
        _fit_png(pdf, witness_png, witness_x + 2, y + 13, witness_width - 4,
                 min(height, 34) - 15)
    else:
        pdf.set_text_color(*GREY)
        pdf.set_xy(witness_x + 2, y + 16)
        pdf.cell(witness_width - 4, 6, "（见证人未签名）", align=Align.C)
        pdf.set_text_color(0)
    pdf.set_font(FONT_FAMILY, size=_BODY_PT)


def _fit_png(pdf: _RecordPdf, png: bytes, x: float, y: float, width: float, height: float) -> None:
    with Image.open(io.BytesIO(png)) as image:
        pixel_w, pixel_h = image.size
    scale = min(width / pixel_w, height / pixel_h)
    shown_w, shown_h = pixel_w * scale, pixel_h * scale
    pdf.image(io.BytesIO(png), x=x + (width - shown_w) / 2, y=y + (height - shown_h) / 2, w=shown_w, h=shown_h)


# --- values --------------------------------------------------------------------------------------------------


def _money(value: str | None, field: str) -> str:
    """``"12000.5"`` → ``"12,000.50"``; no amount → ``—``."""
    if value is None or value == "":
        return "—"
    return f"{_decimal(value, field):,}"


def _decimal(value: object, field: str) -> Decimal:
    """Exact money from a decimal string; RecordPdfError (naming the field) for anything else, floats included."""
    try:
        return parse_money(value, field)
    except InputError as exc:
        raise RecordPdfError(str(exc)) from None


def _parse_time(value: object, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise RecordPdfError(f"{field} 应为带时区的 ISO 8601 时间（如 2024-05-01T14:00:00+08:00），实际为 {value!r}")
    return parsed


def _wall_time(value: str, field: str = "time") -> str:
    moment = _parse_time(value, field)
    return f"{moment.year}年{moment.month:02d}月{moment.day:02d}日 {moment.hour:02d}:{moment.minute:02d}"
