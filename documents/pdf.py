"""The fpdf2 building blocks of the 笔录 and the bureau's documents (决定书, 告知书 …): A4 with the bundled Noto Sans SC
subset (no network), section headings, paragraphs, tables, the page footer and the hash block with its QR code, and
what every bureau document shares (`OfficialPdf`: its page, title block, party block, seal block, dates and sums as
documents write them). Same input → same bytes.

Text is broken into lines here (`break_lines`), not by fpdf2, which breaks Chinese anywhere: a line never starts with
closing punctuation (。，、 …, 行首禁则) nor ends with opening punctuation (（「 …, 行尾禁则), and a run of ASCII (a
code, a number, a hash, an ID number) stays on one line unless it alone is longer than a line."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Sequence

import qrcode
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout, WrapMode, XPos, YPos
from fpdf.fonts import FontFace, TTFFont

from checklists.money import parse_money, yuan_in_capitals

FONT_DIR = Path(__file__).resolve().parent.parent / "assets" / "fonts"
FONT_FAMILY = "NotoSansSC"
FALLBACK_FAMILY = "NotoSansSCExt"
GREY = (110, 110, 110)
HEADING_FILL = (235, 239, 245)
QR_MM = 26
_CELL_PADDING = 1.2  # mm, in the label and headed tables
NO_LINE_START = frozenset("。，、；：？！）」』〕】》〉”’%‰!),.:;?]}")
NO_LINE_END = frozenset("（「『〔【《〈“‘([{")
INSEPARABLE = frozenset("—…")  # ——, …… are never split
_UNITS = re.compile(r"[!-~]+| +|.", re.S)  # an ASCII run, spaces, or one other character
_SLACK_MM = 0.3  # our lines are this much narrower than fpdf2's, so it never breaks one of them again


def _glued(left: str, right: str) -> bool:
    """No line break allowed between these two units."""
    if left.startswith(" ") or right.startswith(" "):
        return False
    return (right[0] in NO_LINE_START or left[-1] in NO_LINE_END
            or (left[-1] == right[0] and right[0] in INSEPARABLE))


def _segments(text: str) -> list[str]:
    """`text` cut where a line may break: each piece is spaces or must stay on one line."""
    pieces: list[str] = []
    for unit in _UNITS.findall(text):
        if pieces and _glued(pieces[-1], unit):
            pieces[-1] += unit
        else:
            pieces.append(unit)
    return pieces


def break_lines(text: str, width_of: Callable[[str], float], max_width: float) -> list[str]:
    """`text` as lines no wider than `max_width` (as `width_of` measures), following the Chinese rules above; its own
    line breaks are kept, spaces at a line's ends are dropped. A piece that cannot be split by the rules but is wider
    than a line is split by characters."""
    lines: list[str] = []
    for paragraph_text in text.split("\n"):
        line, width = "", 0.0
        for piece in _segments(paragraph_text):
            piece_width = width_of(piece)
            if piece.startswith(" "):
                if line:
                    line, width = line + piece, width + piece_width
                continue
            if width + piece_width <= max_width:
                line, width = line + piece, width + piece_width
                continue
            if line.rstrip():
                lines.append(line.rstrip())
            line, width = "", 0.0
            if piece_width <= max_width:
                line, width = piece, piece_width
                continue
            for char in piece:  # longer than a line: the only case where a piece is split
                char_width = width_of(char)
                if line and width + char_width > max_width:
                    lines.append(line)
                    line, width = "", 0.0
                line, width = line + char, width + char_width
        lines.append(line.rstrip())
    return lines


def with_line_breaks(pdf: FPDF, text: str, width: float) -> str:
    """`text` with its line breaks set by `break_lines` for `width` mm of the pdf's current font, ready for
    multi_cell."""
    return "\n".join(break_lines(text, pdf.get_string_width, width - _SLACK_MM))


@dataclass(frozen=True)
class Layout:
    """What differs between the documents' blocks."""

    body_pt: float
    line_mm: float  # paragraphs and label tables
    heading_pt: float
    heading_room_mm: float  # a heading with less room than this below it starts a new page
    label_widths: tuple[float, float]
    table_line_mm: float


class DocumentPdf(FPDF):
    """A4 in millimetres with the fonts registered, the document's metadata set and the body font selected."""

    def __init__(self, layout: Layout, title: str, created: datetime):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.layout = layout
        self._main_cmap = self._add_bundled_font(FONT_FAMILY, "", "NotoSansSC-Subset.otf").cmap
        self._add_bundled_font(FONT_FAMILY, "B", "NotoSansSC-Subset-Bold.otf")
        self.alias_nb_pages("{nb}")
        self.set_title(title)
        self.set_creator("医保基金现场检查")
        self.set_producer("yibao-inspect")
        self.set_creation_date(created)
        self.set_font(FONT_FAMILY, size=layout.body_pt)

    def _add_bundled_font(self, family: str, style: str, file_name: str) -> TTFFont:
        self.add_font(family, style, str(FONT_DIR / file_name))
        font = self.fonts[f"{family.lower()}{style}"]
        assert isinstance(font, TTFFont)
        # The embedded subset keeps its source font's bounding box, a true bound if not the tightest: tightening it
        # runs the outline of every glyph kept, twice, which took a third of the time of a one-page document.
        font.ttfont.recalcBBoxes = False
        return font

    def normalize_text(self, text: str) -> str:
        """fpdf2 passes every text through here before it measures or writes it. A character the main font lacks
        (the rarer ones outside GB2312, as some names have) brings in the Ext font, as the fallback in every style. A
        document without one neither loads nor embeds it: it is larger than the other two together (4.3 MB, 14,208
        glyphs against 8,386 each)."""
        if FALLBACK_FAMILY.lower() not in self.fonts and not text.isascii() and any(
                ord(char) not in self._main_cmap for char in text if not char.isascii()):
            self._add_bundled_font(FALLBACK_FAMILY, "", "NotoSansSC-Subset-Ext.otf")
            self.set_fallback_fonts([FALLBACK_FAMILY], exact_match=False)
        return super().normalize_text(text)

    def footer_line(self, y: float, text: str) -> None:
        """At `y`: `text` small and grey on the left, the page number on the right."""
        self.set_y(y)
        self.set_font(FONT_FAMILY, size=7)
        self.set_text_color(*GREY)
        self.cell(0, 4, text, align=Align.L)
        self.set_x(self.l_margin)
        self.set_font(FONT_FAMILY, size=9)
        self.cell(0, 4, f"第 {self.page_no()} 页 共 {{nb}} 页", align=Align.R)
        self.set_text_color(0)


def section(pdf: DocumentPdf, heading: str) -> None:
    if pdf.get_y() + pdf.layout.heading_room_mm > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "B", pdf.layout.heading_pt)
    pdf.cell(0, 8, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=pdf.layout.body_pt)


def paragraph(pdf: DocumentPdf, text: str) -> None:
    pdf.multi_cell(0, pdf.layout.line_mm, with_line_breaks(pdf, text, pdf.epw - 2 * pdf.c_margin), align=Align.L,
                   wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _cell_widths(pdf: FPDF, weights: Sequence[float]) -> list[float]:
    """The text width of each column of a full-width table with these column weights."""
    return [pdf.epw * weight / sum(weights) - 2 * _CELL_PADDING - pdf.line_width for weight in weights]


def _bold_with_line_breaks(pdf: FPDF, text: str, width: float) -> str:
    style = pdf.font_style
    pdf.set_font(style="B")
    try:
        return with_line_breaks(pdf, text, width)
    finally:
        pdf.set_font(style=style)


def label_table(pdf: DocumentPdf, rows: list[tuple[str, str]]) -> None:
    """Two columns, the labels bold on a tinted ground; an empty value shows as —."""
    label_width, value_width = _cell_widths(pdf, pdf.layout.label_widths)
    with pdf.table(col_widths=pdf.layout.label_widths, first_row_as_headings=False, line_height=pdf.layout.line_mm,
                   padding=_CELL_PADDING, text_align=(Align.C, Align.L), wrapmode=WrapMode.CHAR,
                   v_align="M") as table:
        for label, value in rows:
            row = table.row()
            row.cell(_bold_with_line_breaks(pdf, label, label_width), style=FontFace(emphasis="B", fill_color=HEADING_FILL))
            row.cell(with_line_breaks(pdf, value or "—", value_width))
    pdf.ln(2)


def headed_table(pdf: DocumentPdf, headings: list[str], widths: list[float], rows: list[list[str]]) -> None:
    """A ruled table under a row of bold, tinted headings."""
    text_widths = _cell_widths(pdf, widths)
    with pdf.table(col_widths=widths, line_height=pdf.layout.table_line_mm, padding=_CELL_PADDING,
                   wrapmode=WrapMode.CHAR, v_align="M", text_align="LEFT", borders_layout=TableBordersLayout.ALL,
                   headings_style=FontFace(emphasis="B", fill_color=HEADING_FILL)) as table:
        heading_row = table.row()
        for heading, width in zip(headings, text_widths):
            heading_row.cell(_bold_with_line_breaks(pdf, heading, width), align=Align.C)
        for cells in rows:
            row = table.row()
            for cell, width in zip(cells, text_widths):
                row.cell(with_line_breaks(pdf, cell, width))
    pdf.ln(2)


def qr_png(text: str) -> io.BytesIO:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out)
    out.seek(0)
    return out


def hash_block(pdf: DocumentPdf, heading: str, digest: str, note: str, *, room_mm: float, inset_mm: float) -> None:
    """The digest as a QR code and, beside it, `heading`, the digest in full and a grey `note`, so a paper copy can
    be matched to the signed record. Starts a new page unless `room_mm` more than the code fits below."""
    if pdf.get_y() + QR_MM + room_mm > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(4)
    top = pdf.get_y()
    pdf.image(qr_png(digest), x=pdf.l_margin, y=top, w=QR_MM, h=QR_MM)
    left, width = pdf.l_margin + QR_MM + 4, pdf.epw - QR_MM - 4
    pdf.set_xy(left, top + inset_mm)
    pdf.set_font(FONT_FAMILY, "B", 9)
    pdf.cell(0, 5, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_xy(left, top + (inset_mm + 6))
    pdf.set_font(FONT_FAMILY, size=9)
    text_width = width - 2 * pdf.c_margin
    pdf.multi_cell(width, 5, with_line_breaks(pdf, digest, text_width), align=Align.L, wrapmode=WrapMode.CHAR)
    pdf.set_x(left)
    pdf.set_text_color(*GREY)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.multi_cell(width, 4.5, with_line_breaks(pdf, note, text_width), align=Align.L, wrapmode=WrapMode.CHAR)
    pdf.set_text_color(0)
    pdf.set_y(max(pdf.get_y(), top + QR_MM))


# ============================================================ the bureau's documents (文书)

OFFICIAL_MARGIN_MM = 20
OFFICIAL_BODY_PT = 11
OFFICIAL_LAYOUT = Layout(body_pt=OFFICIAL_BODY_PT, line_mm=6.5, heading_pt=13, heading_room_mm=22,
                         label_widths=(40, 130), table_line_mm=5.6)


class OfficialPdf(DocumentPdf):
    """A bureau document on A4 with 20 mm margins; its footer is `footer_text` and the page number."""

    def __init__(self, title: str, created: datetime, footer_text: str):
        super().__init__(OFFICIAL_LAYOUT, title, created)
        self.footer_text = footer_text
        self.set_margins(OFFICIAL_MARGIN_MM, OFFICIAL_MARGIN_MM, OFFICIAL_MARGIN_MM)
        self.set_auto_page_break(True, margin=OFFICIAL_MARGIN_MM + 6)

    def footer(self) -> None:
        self.footer_line(-OFFICIAL_MARGIN_MM, self.footer_text)


def cn_date(day: date | str) -> str:
    """A date as documents write it: ``2026年3月5日`` (from a date or its ISO text)."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.year}年{day.month}月{day.day}日"


def yuan(value: str) -> str:
    """``"12000.00"`` → ``12,000.00 元（人民币壹万贰仟元整）``."""
    amount = parse_money(value)
    return f"{amount:,} 元（人民币{yuan_in_capitals(amount)}）"


def title_block(pdf: DocumentPdf, issuer: str, title: str, number: str) -> None:
    """The first page's head: the issuing authority, the document's title and its number, centred."""
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.cell(0, 9, issuer, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 20)
    pdf.cell(0, 12, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=pdf.layout.body_pt)
    pdf.cell(0, 8, number, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def party_block(pdf: DocumentPdf, rows: list[tuple[str, str]]) -> None:
    """当事人: the party as the document names it, one row per element."""
    section(pdf, "当事人")
    label_table(pdf, rows)


def seal_block(pdf: DocumentPdf, issuer: str, day: date | str) -> None:
    """The sign-off at the right: the issuing authority, its seal, the date; kept together on one page."""
    if pdf.get_y() + 30 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(8)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 8, issuer, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=pdf.layout.body_pt)
    pdf.cell(0, 8, "（印章）", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 8, cn_date(day), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
