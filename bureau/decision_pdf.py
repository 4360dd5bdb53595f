"""The 决定书 (行政处理 / 协议处理) as a PDF, from the building blocks in `documents.pdf`: no network, same input →
same bytes.

It states the party, the facts found (the record's findings), the hearing (陈述申辩), the legal basis, each measure
with amounts in figures and in Chinese capitals (壹万贰仟元整), the payment terms, the 复议/诉讼 notice
(行政复议法 第二十条, 行政诉讼法 第四十六条), and the inspection record's hash and log index, printed in full and as a QR
code, so the paper can be matched to the signed record in the bureau's log.

Input: `bureau.decisions.decision_for_pdf` — ``{"decision", "record", "record_hash", "institution", "inspected_on",
"statement", "authority", "log_index"}``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from fpdf.enums import Align, XPos, YPos

from bureau.review import local_date
from checklists import KINDS
from checklists.money import parse_money, yuan_in_capitals
from documents.pdf import FONT_FAMILY, DocumentPdf, Layout, hash_block, headed_table, label_table, paragraph, section

_MARGIN = 20  # mm
_BODY_PT = 11
_LAYOUT = Layout(body_pt=_BODY_PT, line_mm=6.5, heading_pt=13, heading_room_mm=22, label_widths=(40, 130),
                 table_line_mm=5.6)
INSPECTION_KINDS = {"random": "双随机抽查", "followup": "回头看"}
REVIEW_NOTICE = ("如不服本决定，可以自收到本决定书之日起六十日内依法向本级人民政府申请行政复议，或者自收到本决定书之日起"
                 "六个月内依法向人民法院提起行政诉讼。行政复议和行政诉讼期间，本决定不停止执行，法律另有规定的除外。")
PAYMENT_NOTICE = ("上述责令退回的医疗保障基金和罚款，应当自收到本决定书之日起十五日内缴入指定账户。到期不缴纳罚款的，"
                  "每日按罚款数额的百分之三加处罚款（《中华人民共和国行政处罚法》第七十二条）。")


def yuan(value: str) -> str:
    """``"12000.00"`` → ``12,000.00 元（人民币壹万贰仟元整）``."""
    amount = parse_money(value)
    return f"{amount:,} 元（人民币{yuan_in_capitals(amount)}）"


def measure_lines(decision: Mapping[str, Any]) -> list[str]:
    """Each measure of the decision as the 决定书 words it, in the regulation's order, then the points."""
    lines = []
    for measure in decision["measures"]:
        if measure == "责令改正":
            lines.append(f"责令改正，于 {_cn_date(date.fromisoformat(decision['rectification_due']))}前整改到位，"
                         "本机关将进行回头看检查；")
        elif measure == "约谈":
            lines.append("约谈你单位有关负责人；")
        elif measure == "责令退回":
            lines.append(f"责令退回医疗保障基金 {yuan(decision['recover_yuan'])}；")
        elif measure == "罚款":
            lines.append(f"处罚款 {yuan(decision['fine_yuan'])}；")
        elif measure == "暂停医药服务":
            lines.append(f"责令暂停相关责任部门 {decision['suspension_months']} 个月涉及医疗保障基金使用的医药服务；")
        elif measure == "暂停联网结算":
            lines.append(f"暂停医疗费用联网结算 {decision['suspension_months']} 个月；")
        elif measure == "解除服务协议":
            lines.append("解除医疗保障服务协议（由医疗保障经办机构依协议办理）；")
        else:
            lines.append(f"{measure}；")
    total = sum(p["points"] for p in decision["institution_points"])
    if total:
        lines.append(f"依协议管理记分规定，记 {total} 分；")
    for person in decision["person_points"]:
        lines.append(f"对相关人员（医保人员代码 {person['staff_code']}）“{person['behaviour']}”记医保支付资格 "
                     f"{person['points']} 分；")
    if lines:
        lines[-1] = lines[-1].rstrip("；") + "。"
    return lines


def render_decision_pdf(data: Mapping[str, Any]) -> bytes:
    decision, record, institution = data["decision"], data["record"], data["institution"]
    decided = datetime.fromisoformat(decision["decided_at"])
    pdf = _DecisionPdf(decision, data["record_hash"], decided)
    pdf.add_page()
    title = f"医疗保障{decision['doc_kind']}决定书"
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.cell(0, 9, data["authority"], align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 20)
    pdf.cell(0, 12, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=_BODY_PT)
    pdf.cell(0, 8, decision["decision_no"] or "", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)

    section(pdf, "当事人")
    label_table(pdf, [("名称", institution["name"]), ("机构编码", institution["code"]),
                      ("统一社会信用代码", institution["credit_code"]),
                      ("机构类别", KINDS.get(institution["kind"], institution["kind"])),
                      ("地址", institution["address"])])

    section(pdf, "一、违法违规事实")
    kind = INSPECTION_KINDS.get(record.get("inspection_kind", ""), record.get("inspection_kind", "现场检查"))
    when = _cn_date(date.fromisoformat(data["inspected_on"])) if data["inspected_on"] else "检查当日"
    version = f"第 {decision['version']} 版，" if decision["version"] > 1 else ""
    paragraph(pdf, f"本机关于{when}对你单位进行了现场检查（{kind}，检查记录编号 {decision['record_id']}，{version}"
                   f"笔录经检查人员签名封存）。经审核，查明你单位存在以下问题：")
    findings = record.get("findings") or []
    rows = [[str(n), f"{f['title']}\n{f.get('description') or ''}".strip(), f"{f['category']} {f['category_title']}",
             f"{parse_money(f['amount_yuan']):,}" if f.get("amount_yuan") else "—"] for n, f in enumerate(findings, 1)]
    headed_table(pdf, ["序号", "问题", "违规类别", "金额（元）"], [12, 86, 46, 26], rows)
    paragraph(pdf, "以上事实有现场检查笔录、现场照片及相关资料为证。")

    section(pdf, "二、陈述申辩")
    paragraph(pdf, _hearing_text(data["statement"]))

    section(pdf, "三、处理依据")
    for line in decision["proposal"]["basis"] if decision.get("proposal") else []:
        paragraph(pdf, f"· {line}")

    section(pdf, "四、处理决定")
    paragraph(pdf, "根据上述事实和依据，本机关决定：")
    for n, line in enumerate(measure_lines(decision), 1):
        paragraph(pdf, f"{n}. {line}")
    if decision.get("fine_yuan") and decision.get("fine_reason"):
        paragraph(pdf, f"罚款数额的裁量理由：{decision['fine_reason']}")
    if parse_money(decision["recover_yuan"]) > 0 or decision.get("fine_yuan"):
        paragraph(pdf, PAYMENT_NOTICE)

    section(pdf, "五、救济途径")
    paragraph(pdf, REVIEW_NOTICE)

    _signature_block(pdf, data["authority"], local_date(decided))
    where = f"该记录位于局端防篡改日志第 {data['log_index']} 条；" if data["log_index"] is not None else ""
    hash_block(pdf, "检查记录内容哈希（SHA-256）", data["record_hash"],
               f"{where}比对哈希可核验本决定所依据的检查记录与签名封存的电子记录一致。", room_mm=8, inset_mm=2)
    return bytes(pdf.output())


class _DecisionPdf(DocumentPdf):
    def __init__(self, decision: Mapping[str, Any], record_hash: str, decided: datetime):
        super().__init__(_LAYOUT, f"医疗保障{decision['doc_kind']}决定书 {decision['decision_no'] or ''}", decided)
        self.decision, self.record_hash = decision, record_hash
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=_MARGIN + 6)

    def footer(self) -> None:
        self.footer_line(-_MARGIN, f"{self.decision['decision_no'] or ''} · 检查记录哈希 {self.record_hash}")


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _hearing_text(statement: Mapping[str, Any]) -> str:
    told = "本机关已依法告知你单位拟作出处理决定的事实、理由、依据及你单位依法享有的陈述、申辩权利。"
    if statement.get("waived"):
        return told + "你单位明确表示放弃陈述、申辩。"
    if statement.get("text"):
        said = statement["text"].strip()
        stop = "" if said.endswith(("。", "！", "？")) else "。"  # a quoted sentence keeps its own full stop only
        return told + f"你单位在期限内提出陈述、申辩：“{said}”{stop}本机关对你单位提出的事实、理由和证据进行了复核。"
    deadline = statement.get("deadline")
    until = f"（{_cn_date(date.fromisoformat(deadline))}）" if deadline else ""
    return told + f"你单位在规定期限{until}内未提出陈述、申辩。"


def _signature_block(pdf: DocumentPdf, authority: str, day: date) -> None:
    if pdf.get_y() + 30 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(8)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 8, authority, align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=_BODY_PT)
    pdf.cell(0, 8, "（印章）", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 8, _cn_date(day), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def decision_pdf_name(decision: Mapping[str, Any]) -> str:
    return f"{decision['doc_kind']}决定书-{decision['decision_no'] or decision['record_id']}.pdf"

