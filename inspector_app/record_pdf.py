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
      "items": {
        "total": 30, "passed": 26, "failed": 2, "not_applicable": 2,
        "failed_items": [{"item_id", "title", "severity", "category", "legal_basis", "amount": "1200.00" | None,
                          "note"}],                            # severity A-D, category "38.4"
      },
      "findings": [{"description", "category", "legal_basis", "amount": "1200.00" | None}],
      "notes": "其他需要说明的情况",                           # optional
      "content_hash": "<64 hex digits: SHA-256 of the record's canonical JSON>",
    }

``photos`` — ``[(caption, jpeg_bytes), ...]``: usually ``ProcessedPhoto.caption`` with ``thumbnail_jpeg`` or
``photos.captioned_jpeg``; images are re-encoded at most ``PHOTO_EMBED_EDGE`` px so the PDF stays small.

``signatures`` — ``[(role, name, png_bytes | None, refusal | None), ...]`` with role ``inspector_1``,
``inspector_2`` or ``representative``. A person who refused to sign has ``png_bytes`` None and a ``Refusal``::

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

from checklists import KINDS, SEVERITIES
from checklists.errors import InputError
from checklists.money import parse_money
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
    severity: str  # A B C D
    category: str  # "38.4"
    legal_basis: str
    amount: str | None
    note: str


class ItemsSummary(TypedDict):
    total: int
    passed: int
    failed: int
    not_applicable: int
    failed_items: list[FailedItem]


class Finding(TypedDict):
    description: str
    category: str
    legal_basis: str
    amount: str | None


class Gps(TypedDict):
    lat: str
    lon: str


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
    items: ItemsSummary
    findings: list[Finding]
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
    pdf = _RecordPdf(record)
    pdf.add_page()
    _title(pdf, record)
    _basic_facts(pdf, record)
    _people(pdf, record)
    _items(pdf, record["items"])
    _findings(pdf, record["findings"])
    if record.get("notes"):
        section(pdf, "其他需要说明的情况")
        paragraph(pdf, record["notes"])
    if photos:
        _photos(pdf, photos)
    _signatures(pdf, record, signatures)
    hash_block(pdf, "笔录内容哈希（SHA-256）", record["content_hash"],
               "扫描二维码或比对上列哈希，可核验本笔录与签名封存的电子记录一致。", room_mm=6, inset_mm=3)
    return bytes(pdf.output())


class _RecordPdf(DocumentPdf):
    def __init__(self, record: RecordForPdf):
        super().__init__(_LAYOUT, f"{TITLE} {record['record_id']}", _parse_time(record["ended_at"], "ended_at"))
        self.record = record
        self.set_margins(_MARGIN, _MARGIN + 4, _MARGIN)
        self.set_auto_page_break(True, margin=_MARGIN + 8)
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
        self.footer_line(-_MARGIN - 3, f"内容哈希（SHA-256）：{self.record['content_hash']}")


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


def _basic_facts(pdf: _RecordPdf, record: RecordForPdf) -> None:
    institution = record["institution"]
    gps = record["gps"]
    location = f"纬度 {gps['lat']}，经度 {gps['lon']}" if gps else "未获取定位"
    section(pdf, "一、基本情况")
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
    section(pdf, "二、检查人员及被检查单位在场人员")
    headed_table(pdf, ["序号", "检查人员姓名", "执法证号"], [30, 70, 80],
                 [[str(index), officer["name"], officer["badge_no"]] for index, officer in enumerate(officers, 1)])
    names = "、".join(officer["name"] for officer in officers)
    if record["id_shown"]:
        statement = f"检查人员 {names} 已向被检查单位出示执法证件，表明身份，告知检查依据和事由。"
    else:
        statement = f"检查人员 {names} 出示执法证件的情况未记录。"
    paragraph(pdf, statement)
    representative = record["representative"]
    label_table(pdf, [
        ("在场人员", representative["name"]),
        ("职务", representative["role"]),
        ("联系电话", representative["phone"]),
        *([("身份证号码", representative["id_number"])] if representative.get("id_number") else []),
    ])


def _items(pdf: _RecordPdf, items: ItemsSummary) -> None:
    section(pdf, "三、检查项目情况")
    paragraph(pdf, f"本次共检查 {items['total']} 项：符合 {items['passed']} 项，不符合 {items['failed']} 项，"
                   f"不适用 {items['not_applicable']} 项。")
    failed = items["failed_items"]
    if not failed:
        paragraph(pdf, "未发现不符合项。")
        return
    rows = []
    for index, item in enumerate(failed, 1):
        description = f"{item['title']}（{item['item_id']}）"
        if item.get("note"):
            description += f"\n说明：{item['note']}"
        severity = item["severity"]
        rows.append([
            str(index), description, f"{severity} {SEVERITIES.get(severity, '')}".strip(),
            f"{item['category']}\n{item['legal_basis']}", _money(item.get("amount"), f"failed_items[{index - 1}]"),
        ])
    headed_table(pdf, ["序号", "不符合项目及说明", "性质", "违规类别及依据", "金额（元）"], [12, 70, 30, 44, 24], rows)


def _findings(pdf: _RecordPdf, findings: list[Finding]) -> None:
    section(pdf, "四、发现的问题")
    if not findings:
        paragraph(pdf, "本次检查未发现违法违规问题。")
        return
    rows = []
    total = Decimal("0.00")
    for index, finding in enumerate(findings, 1):
        amount = finding.get("amount")
        if amount:
            total += _decimal(amount, f"findings[{index - 1}].amount")
        rows.append([str(index), finding["description"], f"{finding['category']}\n{finding['legal_basis']}",
                     _money(amount, f"findings[{index - 1}]")])
    rows.append(["", "合计", "", f"{total:,}"])
    headed_table(pdf, ["序号", "问题描述", "违规类别及依据", "金额（元）"], [12, 96, 48, 24], rows)


def _photos(pdf: _RecordPdf, photos: Sequence[tuple[str, bytes]]) -> None:
    section(pdf, "五、现场照片")
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
    section(pdf, "六、签名")
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
