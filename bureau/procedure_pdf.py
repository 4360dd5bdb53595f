"""The procedure's documents as PDFs, from the building blocks in `documents.pdf` (no network; same input → same
bytes: the creation date is the document's own day):

- 行政处罚事先告知书 (行政处罚法 Art. 44/45/63/64): the party, the facts, the reasons and basis, the proposed penalty,
  the rights to 陈述申辩 and (where it applies) 听证, each with its deadline;
- 听证通知书 (Art. 64 (2)(4)(5)(6)): the time and place, the presiding officer, the party's rights;
- 听证笔录 (Art. 64 (8)): who attended, what was said, the party's check and signature;
- 暂停医疗保障基金结算通知书 (条例 Art. 30 ¶1), to the 医疗保障经办机构 with a copy to the institution: the suspected
  facts, the refusal to cooperate, the 主要负责人's approval, and what follows the investigation; and, once lifted
  before the decision, the 解除暂停医疗保障基金结算通知书 (the written notice the first one announces).

Input: `bureau.proceedings.document_data`.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any, Mapping

from bureau.decision_pdf import document_rules
from checklists.money import parse_money
from documents.pdf import (
    OfficialPdf,
    cn_date,
    hash_block,
    headed_table,
    label_table,
    paragraph,
    party_block,
    seal_block,
    section,
    title_block,
    yuan,
)


def hearing_when(hearing: Mapping[str, Any]) -> str:
    """The hearing's day and hour as a notice words them: ``2026年12月18日 上午9时30分``; the day alone for a hearing
    noticed before its hour was kept."""
    day = cn_date(hearing["held_on"])
    if not hearing.get("held_at"):
        return day
    hour, minute = (int(part) for part in hearing["held_at"].split(":"))
    period, shown = ("凌晨", hour) if hour < 6 else ("上午", hour) if hour < 12 else ("中午", hour) if hour == 12 \
        else ("下午", hour - 12) if hour < 18 else ("晚上", hour - 12)
    return f"{day} {period}{shown}时" + (f"{minute}分" if minute else "")


def proposed_lines(terms: Mapping[str, Any]) -> list[str]:
    """The notified terms as the 告知书 words them."""
    lines = []
    for measure in terms["measures"]:
        if measure == "责令退回" and parse_money(terms["recover_yuan"]) > 0:
            lines.append(f"责令退回医疗保障基金 {yuan(terms['recover_yuan'])}")
        elif measure == "罚款" and terms.get("fine_yuan"):
            lines.append(f"处罚款 {yuan(terms['fine_yuan'])}")
        elif measure == "暂停医药服务" and terms.get("suspension_months"):
            lines.append(f"责令暂停相关责任部门 {terms['suspension_months']} 个月涉及医疗保障基金使用的医药服务")
        elif measure == "暂停联网结算" and terms.get("suspension_months"):
            lines.append(f"暂停医疗费用联网结算 {terms['suspension_months']} 个月")
        elif measure in terms.get("term_years", {}):  # 条例 Art. 43: 5年内
            lines.append(f"{measure}（{terms['term_years'][measure]} 年内）")
        elif measure in terms.get("agreement_measures", []):
            lines.append(f"{measure}（由医疗保障经办机构依服务协议另行告知、办理）")
        else:
            lines.append(measure)
    return lines


def _lines(pdf: OfficialPdf, text: str) -> None:
    """Text typed into a form, each non-blank line a paragraph."""
    for line in text.splitlines():
        if line.strip():
            paragraph(pdf, line.strip())


def document_number(document: str, record_id: str, count: int) -> str:
    """A procedure document's number: the record and the count of its notice (`<record>-2`) or suspension
    (`<record>-暂停1`, its lifting `<record>-解除暂停1`)."""
    prefix = {"interim-suspension": "暂停", "interim-suspension-lifted": "解除暂停"}.get(document, "")
    return f"{record_id}-{prefix}{count}"


def _findings(pdf: OfficialPdf, findings: list[Mapping[str, Any]]) -> None:
    rows = [[str(n), f"{f['title']}\n{f.get('description') or ''}".strip(), f"{f['category']} {f['category_title']}",
             f"{parse_money(f['amount_yuan']):,}" if f.get("amount_yuan") else "—"]
            for n, f in enumerate(findings, 1)]
    headed_table(pdf, ["序号", "问题", "违规类别", "金额（元）"], [12, 86, 46, 26], rows)


class _ProcedurePdf(OfficialPdf):
    def __init__(self, title: str, number: str, record_hash: str, day: date):
        created = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        super().__init__(f"{title} {number}", created, f"{number} · 检查记录哈希 {record_hash[:16]}…")
        self.number = number


def _party(pdf: _ProcedurePdf, institution: Mapping[str, Any]) -> None:
    person = institution.get("representative") or {}
    party_block(pdf, [("名称", institution["name"]), ("机构编码", institution["code"]),
                      ("统一社会信用代码", institution["credit_code"]), ("地址", institution["address"]),
                      ("现场负责人", f"{person.get('name', '')} {person.get('role', '')}".strip() or "—")])


def _notice(pdf: _ProcedurePdf, data: Mapping[str, Any]) -> None:
    told, rules = data["procedure"]["notice"], data["rules"]
    terms = told["terms"]
    title_block(pdf, data["authority"], data["title"], pdf.number)
    _party(pdf, data["institution"])
    section(pdf, "一、违法事实")
    when = cn_date(data["inspected_on"]) if data["inspected_on"] else "检查当日"
    paragraph(pdf, f"本机关于{when}对你单位进行了现场检查（检查记录编号 {data['record_id']}）。经调查，你单位存在以下"
                   "违法事实：")
    _findings(pdf, data["findings"])
    paragraph(pdf, "以上事实有现场检查笔录、现场照片及相关资料为证。")
    section(pdf, "二、理由和依据")
    for line in data["basis"]:
        paragraph(pdf, f"· {line}")
    if terms.get("fine_yuan") and data.get("fine_reason"):
        paragraph(pdf, f"罚款数额的裁量理由：{data['fine_reason']}")
    section(pdf, "三、拟作出的行政处罚")
    paragraph(pdf, "根据上述事实和依据，本机关拟对你单位作出如下处理：")
    for n, line in enumerate(proposed_lines(terms), 1):
        paragraph(pdf, f"{n}. {line}；" if n < len(terms["measures"]) else f"{n}. {line}。")
    section(pdf, "四、你单位享有的权利")
    paragraph(pdf, f"依据《中华人民共和国行政处罚法》第四十四条、第四十五条，你单位有权进行陈述和申辩。请于"
                   f"{cn_date(told['statement_deadline'])}前（本告知书送达之日起 {rules['statement_days']} {rules['statement_unit']}内）向本机关"
                   "提出陈述、申辩；逾期未提出的，视为放弃此权利。本机关不因你单位陈述、申辩而给予更重的处罚。")
    if told["hearing_right"]:
        paragraph(pdf, f"依据《中华人民共和国行政处罚法》第六十三条、第六十四条，你单位有权要求举行听证。如要求听证，"
                       f"应当于{cn_date(told['hearing_deadline'])}前（本机关告知后 {rules['hearing_request_days']} {rules['hearing_unit']}内）"
                       "向本机关提出；逾期未提出的，视为放弃听证权利。")
    else:
        paragraph(pdf, "本案拟作出的行政处罚不属于《中华人民共和国行政处罚法》第六十三条规定的应当告知听证权利的情形。")
    label_table(pdf, [("告知书送达日期", cn_date(told["served_on"])), ("陈述申辩期限", cn_date(told["statement_deadline"])),
                      ("听证申请期限", cn_date(told["hearing_deadline"]) if told["hearing_right"] else "不适用")])
    seal_block(pdf, data["authority"], told["served_on"])
    paragraph(pdf, "当事人签收：____________________　　签收日期：______年____月____日")


def _hearing_notice(pdf: _ProcedurePdf, data: Mapping[str, Any]) -> None:
    hearing, rules = data["procedure"]["hearing"], data["rules"]
    title_block(pdf, data["authority"], data["title"], pdf.number)
    _party(pdf, data["institution"])
    section(pdf, "听证事项")
    paragraph(pdf, f"你单位于{cn_date(hearing['requested_on'])}对本机关拟作出的行政处罚（检查记录编号 {data['record_id']}）"
                   f"提出听证要求。依据《中华人民共和国行政处罚法》第六十四条，本机关定于{hearing_when(hearing)}"
                   f"在{hearing['place']}举行听证，现将有关事项通知如下：")
    label_table(pdf, [("听证时间", hearing_when(hearing)), ("听证地点", hearing["place"]),
                      ("听证主持人", hearing["officer_name"]), ("听证方式", "公开举行（涉及国家秘密、商业秘密或者个人隐私依法"
                                                                    "予以保密的除外）"),
                      ("通知日期", cn_date(hearing["notified_on"]))])
    section(pdf, "你单位的权利和义务")
    for line in (f"本通知于听证举行 {rules['hearing_notice_days']} {rules['hearing_unit']}前送达（{rules['basis']['hearing.notice_basis']}）。",
                 "听证由本机关指定的非本案调查人员主持；你单位认为主持人与本案有直接利害关系的，有权申请回避。",
                 "你单位可以亲自参加听证，也可以委托一至二人代理；委托代理人的，应当提交授权委托书。",
                 "举行听证时，调查人员提出当事人违法的事实、证据和行政处罚建议，你单位可以进行申辩和质证。",
                 "你单位无正当理由拒不出席听证或者未经许可中途退出听证的，视为放弃听证权利，本机关终止听证。"):
        paragraph(pdf, f"· {line}")
    seal_block(pdf, data["authority"], hearing["notified_on"])
    paragraph(pdf, "当事人签收：____________________　　签收日期：______年____月____日")


def _hearing_record(pdf: _ProcedurePdf, data: Mapping[str, Any]) -> None:
    hearing = data["procedure"]["hearing"]
    record = hearing["record"]
    title_block(pdf, data["authority"], data["title"], pdf.number)
    label_table(pdf, [("案由", f"{data['institution']['name']}违反医疗保障基金使用监督管理规定一案"
                               f"（检查记录编号 {data['record_id']}）"),
                      ("听证时间", hearing_when(hearing)), ("听证地点", hearing["place"]),
                      ("听证主持人", hearing["officer_name"]), ("记录人", data.get("recorder") or record["by"]),
                      ("出席人员", record["attendees"])])
    section(pdf, "听证经过")
    paragraph(pdf, "主持人宣布听证纪律，核对当事人及其代理人身份，告知当事人有申请回避、申辩和质证的权利；"
                   "调查人员提出当事人违法的事实、证据和行政处罚建议；当事人进行申辩和质证。")
    _lines(pdf, record["text"])
    section(pdf, "当事人核对")
    paragraph(pdf, "以上笔录已交当事人核对。" + ("当事人核对无误后签字（盖章）。" if record["party_signed"]
                                            else "当事人拒绝签字（盖章），已在笔录中注明。"))
    paragraph(pdf, "当事人（代理人）签名：____________________　　日期：______年____月____日")
    paragraph(pdf, "听证主持人签名：____________________　　记录人签名：____________________")
    paragraph(pdf, f"依据：{data['rules']['basis']['hearing.record_basis']}。")


def _interim_suspension(pdf: _ProcedurePdf, data: Mapping[str, Any]) -> None:
    texts, held, institution = document_rules()["interim_suspension"], data["suspension"], data["institution"]
    title_block(pdf, data["authority"], data["title"], pdf.number)
    paragraph(pdf, f"{data['handling_agency']}：")
    label_table(pdf, [("定点医药机构", institution["name"]), ("机构编码", institution["code"]),
                      ("统一社会信用代码", institution["credit_code"]), ("地址", institution["address"]),
                      ("立案日期", cn_date(data["filed_on"]) if data.get("filed_on") else "—")])
    section(pdf, "一、涉嫌的违法事实")
    when = cn_date(data["inspected_on"]) if data["inspected_on"] else "检查当日"
    paragraph(pdf, f"本机关于{when}对该机构进行了现场检查（检查记录编号 {data['record_id']}）。{texts['suspected']}")
    _findings(pdf, data["findings"])
    paragraph(pdf, texts["classified"])  # the table's categories are the site's; 骗取 is suspected, not yet found
    section(pdf, "二、拒不配合调查的事实")
    _lines(pdf, held["facts"])
    section(pdf, "三、批准和依据")
    paragraph(pdf, f"该机构拒不配合调查，经本机关主要负责人{held['approver']}于{cn_date(held['approved_on'])}批准，依据"
                   f"{texts['basis']}的规定，本机关要求你机构暂停该机构的医疗保障基金结算。")
    section(pdf, "四、暂停结算及其后的处理")
    paragraph(pdf, texts["request"])
    paragraph(pdf, texts["outcome"])
    seal_block(pdf, data["authority"], held["on"])
    paragraph(pdf, texts["copy_line"].format(name=institution["name"]))


def _suspension_lifted(pdf: _ProcedurePdf, data: Mapping[str, Any]) -> None:
    texts, held, institution = document_rules()["interim_suspension"], data["suspension"], data["institution"]
    lifted = held["lifted"]
    title_block(pdf, data["authority"], data["title"], pdf.number)
    paragraph(pdf, f"{data['handling_agency']}：")
    first = document_number("interim-suspension", data["record_id"], held["count"])
    paragraph(pdf, f"本机关于{cn_date(held['on'])}以《暂停医疗保障基金结算通知书》（编号 {first}）"
                   f"要求你机构暂停{institution['name']}（机构编码 {institution['code']}）的医疗保障基金结算。")
    section(pdf, "解除的理由")
    _lines(pdf, lifted["reason"])
    section(pdf, "解除暂停结算及其后的处理")
    paragraph(pdf, f"本机关决定自{cn_date(lifted['on'])}起解除上述暂停。{texts['lifted_request']}")
    paragraph(pdf, texts["outcome"])
    seal_block(pdf, data["authority"], lifted["on"])
    paragraph(pdf, texts["lifted_copy_line"].format(name=institution["name"]))


RENDER = {"notice": _notice, "hearing-notice": _hearing_notice, "hearing-record": _hearing_record,
          "interim-suspension": _interim_suspension, "interim-suspension-lifted": _suspension_lifted}


def document_day(data: Mapping[str, Any]) -> date:
    if data["document"] == "interim-suspension":
        return date.fromisoformat(data["suspension"]["on"])
    if data["document"] == "interim-suspension-lifted":
        return date.fromisoformat(data["suspension"]["lifted"]["on"])
    proc = data["procedure"]
    hearing = proc.get("hearing") or {}
    day = {"notice": (proc.get("notice") or {}).get("served_on"), "hearing-notice": hearing.get("notified_on"),
           "hearing-record": (hearing.get("record") or {}).get("on")}[data["document"]]
    return date.fromisoformat(str(day))


def render_procedure_pdf(data: Mapping[str, Any]) -> bytes:
    number = f"编号 {document_number(data['document'], data['record_id'], data['count'])}"
    pdf = _ProcedurePdf(data["title"], number, data["record_hash"], document_day(data))
    RENDER[data["document"]](pdf, data)
    hash_block(pdf, "检查记录内容哈希（SHA-256）", data["record_hash"],
               "比对哈希可核验本文书所依据的检查记录与签名封存的电子记录一致。", room_mm=8, inset_mm=2)
    return bytes(pdf.output())
