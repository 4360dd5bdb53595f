"""The documents of a decided case as PDFs, from the building blocks in `documents.pdf`: no network, same input →
same bytes.

Each measure is on one track (the engine's `measures_detail`) and printed only in its own document:

- the 行政处罚决定书 (行政处理决定书 when it neither fines nor suspends) of the 医疗保障行政部门, with the elements of
  行政处罚法 第五十九条: the party (name, address, 统一社会信用代码, 法定代表人), the facts and the evidence found (each
  finding with its photos by hash), the provision violated apart from the penalty basis, the penalty with the manner
  and time limit of performance (payee accounts: 条例 第四十五条), 加处罚款 and court enforcement (第七十二条), the named
  复议机关 and court, the authority, its seal and the date;
- the 协议处理通知书 of the 医疗保障经办机构 for the agreement track (解除服务协议 … and the points), citing the
  agreement and the 2号令/3号令 article, with its own 陈述申辩 notice;
- a 案件移送书 for each referral the engine proposes (公安, 卫健, 纪委监委);
- and, for any of them, the 送达回证 (`render_service_receipt`, plain data).

Input: `bureau.decisions.decision_for_pdf` — ``{"decision", "record", "record_hash", "institution", "inspected_on",
"statement", "authority", "log_index", "settings"}``; the legal texts cited are in case_documents.toml.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from fpdf.enums import Align, XPos, YPos

from bureau import case_settings, procedure
from bureau.decisions import document_kind
from bureau.review import local_date
from checklists import KINDS, penalty, points
from checklists.money import parse_money
from checklists.vocabulary import vocabulary
from documents.pdf import (
    FONT_FAMILY,
    OFFICIAL_BODY_PT,
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

RULES_FILE = Path(__file__).with_name("case_documents.toml")
INSPECTION_KINDS = {"random": "双随机抽查", "followup": "回头看"}
BLANK = "＿＿＿＿＿＿＿＿"  # a line to fill in by hand
SUSPICION_VERDICTS = {"confirmed": "属实", "excluded": "排除"}
AGREEMENT_ORDERS = ("国家医保局令", "国家医疗保障局令")
MANAGEMENT_BAN = "禁止法定代表人（主要负责人）从事定点医药机构管理活动"  # 条例 Art. 43 (penalties.toml)


@cache
def document_rules() -> dict[str, Any]:
    return tomllib.loads(RULES_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class CaseDocument:
    key: str  # "decision", "agreement", "referral-1" …
    title: str
    number: str

    @property
    def file_name(self) -> str:
        return f"{self.title}-{self.number or self.key}.pdf"


# ============================================================ which document holds what


def split_tracks(decision: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(administrative, agreement) measures of the decision, as the engine placed them; a decision stored before
    the engine named tracks falls back to the rules' tracks."""
    placed = {d["measure"]: d["track"] for d in (decision.get("proposal") or {}).get("measures_detail") or []}
    tracks = penalty.penalty_rules().tracks
    administrative: list[str] = []
    agreement: list[str] = []
    for measure in decision["measures"]:
        track = placed.get(measure) or (tracks[measure].name if measure in tracks else "administrative")
        (agreement if track == "agreement" else administrative).append(measure)
    return administrative, agreement


def _has_points(decision: Mapping[str, Any]) -> bool:
    return bool(sum(p["points"] for p in decision["institution_points"]) or decision["person_points"])


def _numbered(number: str, prefix: str, suffix: str = "") -> str:
    """A document number derived from the decision's: ``医保行处〔2026〕3号`` → ``医保协通〔2026〕3号``."""
    if not number:
        return ""
    return re.sub(r"^[^〔]*", prefix, number)[:-1] + suffix + "号"


def case_documents(data: Mapping[str, Any]) -> list[CaseDocument]:
    """Every document the decision issues, the principal one first."""
    decision = data["decision"]
    administrative, agreement = split_tracks(decision)
    number = decision["decision_no"] or ""
    out = []
    if administrative or not (agreement or _has_points(decision)):
        kind = document_kind(administrative, [{"measure": m, "track": "administrative"} for m in administrative])
        out.append(CaseDocument("decision", f"医疗保障{kind}决定书", number))
    if agreement or _has_points(decision):
        out.append(CaseDocument("agreement", "医疗保障协议处理通知书",
                                _numbered(number, "医保协通") if out else number))
    for n, _referral in enumerate(_referrals(decision), 1):
        out.append(CaseDocument(f"referral-{n}", "案件移送书", _numbered(number, "医保移", f"-{n}")))
    return out


def _referrals(decision: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list((decision.get("proposal") or {}).get("referrals") or [])


def render_case_document(data: Mapping[str, Any], key: str) -> bytes:
    """The document `key` of `case_documents(data)`; KeyError if the case has no such document."""
    documents = {d.key: d for d in case_documents(data)}
    document = documents[key]
    if key == "decision":
        return _render_decision(data, document, documents.get("agreement"), [d for d in documents.values()
                                                                              if d.key.startswith("referral-")])
    if key == "agreement":
        return _render_agreement(data, document, documents.get("decision"))
    return _render_referral(data, document, _referrals(data["decision"])[int(key.split("-")[1]) - 1])


def render_decision_pdf(data: Mapping[str, Any]) -> bytes:
    """The principal document (the 决定书, or the 协议处理通知书 of an agreement-only case)."""
    return render_case_document(data, case_documents(data)[0].key)


def decision_pdf_name(data: Mapping[str, Any]) -> str:
    return case_documents(data)[0].file_name


# ============================================================ the words of each measure


def measure_lines(decision: Mapping[str, Any], measures: Sequence[str],
                  representative: Mapping[str, str] | None = None) -> list[str]:
    """Each administrative measure as the 决定书 words it, in the regulation's order; the 条例 Art. 43 ban names
    the 法定代表人 or 主要负责人 (`representative`, as the 现场检查笔录 recorded him) and its term in years."""
    terms = {d["measure"]: d["term_years"] for d in (decision.get("proposal") or {}).get("measures_detail") or []
             if d.get("term_years")}
    lines = []
    for measure in measures:
        if measure == "责令改正":
            lines.append(f"责令改正，于 {cn_date(decision['rectification_due'])}前整改到位，"
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
        elif measure == MANAGEMENT_BAN and measure in terms:
            who = f"{representative['title']}{representative['name']}" if representative else "法定代表人（主要负责人）"
            lines.append(f"你单位{who} {terms[measure]} 年内禁止从事定点医药机构管理活动；")
        else:
            lines.append(f"{measure}；")
    return _closed(lines)


def agreement_lines(decision: Mapping[str, Any], measures: Sequence[str]) -> list[str]:
    """Each agreement measure as the 通知书 words it, then the points."""
    wording = document_rules()["agreement"]["measures"]
    lines = [f"{wording[m]['wording'] if m in wording else m}；" for m in measures]
    total = sum(p["points"] for p in decision["institution_points"])
    if total:
        lines.append(f"依医保协议管理记分规定，对你单位记 {total} 分；")
    for person in decision["person_points"]:
        status = person.get("status") or {}  # as issued (`decisions.person_points_as_issued`); absent before
        standing = f"，{status['year']} 年度累计 {status['points']} 分" if status else ""
        standing += f"，{status['text']}" if status.get("text") else ""
        lines.append(f"对相关人员（医保人员代码 {person['staff_code']}）“{person['behaviour']}”记医保支付资格 "
                     f"{person['points']} 分{standing}；")
    return _closed(lines)


def suspension_lines(suspensions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The 决定书's words on each interim suspension (条例 第三十条): when and on whose approval settlement was
    suspended, its lifting, and what the decision makes of it (`procedure.suspension_outcome`)."""
    lines = []
    for held in suspensions:
        lifted = held.get("lifted")
        line = (f"本案调查期间，因你单位拒不配合调查，经本机关主要负责人{held['approver']}于{cn_date(held['approved_on'])}批准，"
                f"本机关自{cn_date(held['on'])}起要求医疗保障经办机构暂停你单位医疗保障基金结算（《医疗保障基金使用监督"
                f"管理条例》第三十条第一款）" + (f"，并于{cn_date(lifted['on'])}解除" if lifted else "") + "。")
        if held.get("outcome"):
            line += f"{held['outcome']}（《医疗保障基金使用监督管理条例》第三十条第一款）。"
        lines.append(line)
    return lines


def _closed(lines: list[str]) -> list[str]:
    if lines:
        lines[-1] = lines[-1].rstrip("；") + "。"
    return lines


# ============================================================ the parts the documents share


class _CasePdf(OfficialPdf):
    def __init__(self, title: str, number: str, record_hash: str, created: datetime):
        parts = [number, f"检查记录哈希 {record_hash}" if record_hash else ""]
        super().__init__(f"{title} {number}".strip(), created, " · ".join(p for p in parts if p))


def _start(data: Mapping[str, Any], document: CaseDocument, issuer: str) -> _CasePdf:
    decided = datetime.fromisoformat(data["decision"]["decided_at"])
    pdf = _CasePdf(document.title, document.number, data["record_hash"], decided)
    title_block(pdf, issuer, document.title, document.number)
    return pdf


def _warn_unset(pdf: _CasePdf, labels: Sequence[str]) -> None:
    """A bold notice that some fields print placeholders: such a document must not be served."""
    if labels:
        pdf.set_font(FONT_FAMILY, "B", OFFICIAL_BODY_PT)
        paragraph(pdf, f"【注意：{'、'.join(labels)}尚未设置，文书中为占位文字，设置前不得送达。"
                       "请以 yibao bureau set-payment-accounts 设置后重新生成。】")
        pdf.set_font(FONT_FAMILY, size=OFFICIAL_BODY_PT)


def _settings(data: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    return case_settings.printed(data.get("settings") or {})


def _party(pdf: _CasePdf, institution: Mapping[str, Any]) -> None:
    party_block(pdf, [("名称", institution["name"]), ("统一社会信用代码", institution["credit_code"]),
                      ("法定代表人（主要负责人）", institution.get("legal_representative") or BLANK),
                      ("地址", institution["address"]), ("机构编码", institution["code"]),
                      ("机构类别", KINDS.get(institution["kind"], institution["kind"]))])


def _facts(pdf: _CasePdf, data: Mapping[str, Any], heading: str, who: str) -> None:
    """The findings as found, then the evidence each rests on (the signed record and the photos, by hash)."""
    decision, record = data["decision"], data["record"]
    section(pdf, heading)
    kind = INSPECTION_KINDS.get(record.get("inspection_kind", ""), record.get("inspection_kind", "现场检查"))
    when = cn_date(data["inspected_on"]) if data["inspected_on"] else "检查当日"
    version = f"第 {decision['version']} 版，" if decision["version"] > 1 else ""
    paragraph(pdf, f"{who}于{when}对你单位进行了现场检查（{kind}，检查记录编号 {decision['record_id']}，{version}"
                   f"笔录经检查人员签名封存）。经审核，查明你单位存在以下问题：")
    findings = record.get("findings") or []
    rows = [[str(n), f"{f['title']}\n{f.get('description') or ''}".strip(), f"{f['category']} {f['category_title']}",
             f"{parse_money(f['amount_yuan']):,}" if f.get("amount_yuan") else "—"] for n, f in enumerate(findings, 1)]
    headed_table(pdf, ["序号", "问题", "违规类别", "金额（元）"], [12, 86, 46, 26], rows)
    paragraph(pdf, "认定上述事实的证据如下（电子证据以内容哈希 SHA-256 标识，随案卷归档，可逐一核对）：")
    evidence = [["1", f"现场检查笔录（电子记录，{version}检查人员签名封存）", data["record_hash"]]]
    for n, finding in enumerate(findings, 1):
        for k, photo in enumerate(finding.get("photos") or [], 1):
            evidence.append([str(len(evidence) + 1), f"问题 {n} 现场照片 {k}", photo])
    for check in record.get("suspicion_checks") or []:
        verdict = SUSPICION_VERDICTS.get(check["verdict"], check["verdict"])
        evidence.append([str(len(evidence) + 1), f"疑点现场核实（规则 {check['rule']}，{verdict}）：{check['note']}", "—"])
        for k, photo in enumerate(check.get("photos") or [], 1):
            evidence.append([str(len(evidence) + 1), f"疑点 {check['rule']} 核实照片 {k}", photo])
    headed_table(pdf, ["序号", "证据", "内容哈希（SHA-256）"], [12, 70, 88], evidence)


def _provisions(data: Mapping[str, Any]) -> list[str]:
    """The provision each finding violates (not the penalty basis): the category's item of the 条例. Breaches of the
    service agreement (条例 Art. 13, the agreement track) are the 协议处理通知书's, not the 决定书's."""
    vocab = vocabulary()
    categories = vocab.categories
    intent = set((data["decision"].get("case_flags") or {}).get("intent_items") or ())
    lines: list[str] = []
    for finding in data["record"].get("findings") or []:
        category = categories.get(finding["category"])
        if category is not None and vocab.articles[category.article].track == "agreement":
            continue
        if category is None:
            line = f"{finding.get('legal_basis') or finding['category']}：{finding['category_title']}"
        else:
            line = f"《医疗保障基金使用监督管理条例》{category.basis.removeprefix('条例')}：{category.text}"
        if finding.get("item_id") in intent:
            line += "（以骗取医疗保障基金为目的，依条例第四十条第二款按第四十条处理）"
        if line not in lines:
            lines.append(line)
    return lines


def administrative_basis(lines: Sequence[str]) -> list[str]:
    """The engine's basis lines as the 决定书 cites them: without the parts citing the agreement orders (国家医保局令
    第2号/第3号), which ground the 经办机构's measures in the 协议处理通知书, not the 行政部门's."""
    return ["；".join(part for part in line.split("；") if not part.startswith(AGREEMENT_ORDERS)) for line in lines]


def _hearing_text(statement: Mapping[str, Any]) -> str:
    told = "本机关已依法告知你单位拟作出处理决定的事实、理由、依据及你单位依法享有的陈述、申辩权利。"
    if statement.get("waived"):
        return told + "你单位明确表示放弃陈述、申辩。"
    if statement.get("text"):
        said = statement["text"].strip()
        stop = "" if said.endswith(("。", "！", "？")) else "。"  # a quoted sentence keeps its own full stop only
        return told + f"你单位在期限内提出陈述、申辩：“{said}”{stop}本机关对你单位提出的事实、理由和证据进行了复核。"
    deadline = statement.get("deadline")
    until = f"（{cn_date(deadline)}）" if deadline else ""
    return told + f"你单位在规定期限{until}内未提出陈述、申辩。"


def _finish(pdf: _CasePdf, data: Mapping[str, Any], issuer: str) -> bytes:
    seal_block(pdf, issuer, local_date(datetime.fromisoformat(data["decision"]["decided_at"])))
    where = f"该记录位于局端防篡改日志第 {data['log_index']} 条；" if data["log_index"] is not None else ""
    hash_block(pdf, "检查记录内容哈希（SHA-256）", data["record_hash"],
               f"{where}比对哈希可核验本文书所依据的检查记录与签名封存的电子记录一致。", room_mm=8, inset_mm=2)
    return bytes(pdf.output())


# ============================================================ the documents


def _render_decision(data: Mapping[str, Any], document: CaseDocument, agreement: CaseDocument | None,
                     referrals: Sequence[CaseDocument]) -> bytes:
    decision, rules = data["decision"], document_rules()["decision"]
    administrative, _agreement = split_tracks(decision)
    shown, unset = _settings(data)
    recover, fine = parse_money(decision["recover_yuan"]) > 0, bool(decision.get("fine_yuan"))
    needed = (["fund_account_name", "fund_bank", "fund_account_no"] if recover else []) \
        + (["treasury_account_name", "treasury_bank", "treasury_account_no"] if fine else []) + ["review_organ", "court"]
    pdf = _start(data, document, data["authority"])
    _warn_unset(pdf, [label for label in unset if label in {case_settings.BY_NAME[n].label for n in needed}])
    _party(pdf, data["institution"])
    _facts(pdf, data, "一、违法事实和证据", "本机关")

    section(pdf, "二、陈述申辩")
    paragraph(pdf, _hearing_text(data["statement"]))

    section(pdf, "三、违反的规定")
    paragraph(pdf, "你单位的上述行为违反了：")
    for line in _provisions(data):
        paragraph(pdf, f"· {line}")

    section(pdf, "四、处罚（处理）依据")
    for line in administrative_basis((decision.get("proposal") or {}).get("basis") or []):
        paragraph(pdf, f"· {line}")

    section(pdf, f"五、{'处罚' if document.title.endswith('处罚决定书') else '处理'}决定")
    paragraph(pdf, "根据上述事实和依据，本机关决定：")
    for n, line in enumerate(measure_lines(decision, administrative,
                                           data["institution"].get("legal_representative_person")), 1):
        paragraph(pdf, f"{n}. {line}")
    if decision.get("fine_yuan") and decision.get("fine_reason"):
        paragraph(pdf, f"罚款数额的裁量理由：{decision['fine_reason']}")
    band = (decision.get("proposal") or {}).get("band") or {}
    if decision.get("fine_yuan") and band.get("factors"):
        cited = "；".join(f"{f['kind']}：{f['label']}" for f in band["factors"])
        paragraph(pdf, f"裁量情节：{cited}（{band['benchmark']['name']}）。")
    if agreement is not None:
        paragraph(pdf, f"本案涉及的医保协议处理事项，由{shown['handling_agency']}依医保服务协议另行处理"
                       f"（{agreement.title} {agreement.number}）。")
    for referral, document_no in zip(_referrals(decision), referrals):
        paragraph(pdf, f"本机关依法将本案有关问题移送{referral['to']}（{document_no.title} {document_no.number}）。")
    for line in suspension_lines(data.get("interim_suspensions") or []):
        paragraph(pdf, line)

    if recover or fine:
        section(pdf, "六、履行方式和期限")
        days = rules["payment_days"]
        if recover:
            paragraph(pdf, f"责令退回的医疗保障基金 {yuan(decision['recover_yuan'])}，应当自收到本决定书之日起 {days} 日内"
                           f"退回医疗保障基金账户：户名 {shown['fund_account_name']}；开户行 {shown['fund_bank']}；"
                           f"账号 {shown['fund_account_no']}。")
        if fine:
            paragraph(pdf, f"罚款 {yuan(decision['fine_yuan'])}，应当自收到本决定书之日起 {days} 日内缴入国库：户名 "
                           f"{shown['treasury_account_name']}；开户行 {shown['treasury_bank']}；"
                           f"账号 {shown['treasury_account_no']}。")
            paragraph(pdf, rules["late_payment"])
        paragraph(pdf, f"依据：{rules['payment_basis']}。")

    section(pdf, f"{'七' if recover or fine else '六'}、救济途径")
    paragraph(pdf, f"如不服本决定，可以自收到本决定书之日起{rules['review_days']}内向{shown['review_organ']}申请行政复议"
                   f"（{rules['review_basis']}），或者自收到本决定书之日起{rules['lawsuit_period']}内向{shown['court']}"
                   f"提起行政诉讼（{rules['lawsuit_basis']}）。{rules['no_suspension']}")
    return _finish(pdf, data, data["authority"])


def _order_article(institution: Mapping[str, Any], measure: Mapping[str, Any]) -> str:
    pharmacy = institution["kind"] == "pharmacy"
    rules = document_rules()["agreement"]
    order = rules["pharmacy_order"] if pharmacy else rules["hospital_order"]
    return f"{order}{measure['pharmacy_article' if pharmacy else 'hospital_article']}"


def _render_agreement(data: Mapping[str, Any], document: CaseDocument, decision_doc: CaseDocument | None) -> bytes:
    decision, rules = data["decision"], document_rules()["agreement"]
    _administrative, measures = split_tracks(decision)
    shown, unset = _settings(data)
    agency = shown["handling_agency"]
    pdf = _start(data, document, agency)
    _warn_unset(pdf, [label for label in unset if label == case_settings.BY_NAME["handling_agency"].label])
    _party(pdf, data["institution"])
    found_by = f"{data['authority']}" + (f"（{decision_doc.title} {decision_doc.number}）" if decision_doc else "")
    _facts(pdf, data, "一、违约事实和证据", found_by)

    section(pdf, "二、协议依据和事由")
    paragraph(pdf, f"· {rules['basis']}。")
    for measure in measures:
        ground = rules["measures"].get(measure)
        if ground is not None:
            paragraph(pdf, f"· {measure}：事由为{ground['ground']}；依据{_order_article(data['institution'], ground)}"
                           f"及{ground['clause']}。")
        else:
            paragraph(pdf, f"· {measure}：依据医疗保障服务协议的约定。")
    if decision["person_points"]:
        paragraph(pdf, f"· 医保支付资格记分：{rules['people_basis']}。")
    if any((p.get("status") or {}).get("text") for p in decision["person_points"]):
        paragraph(pdf, f"· 暂停、终止期限的计算：{points.points_rules().people.period_basis}。")

    section(pdf, "三、处理决定")
    paragraph(pdf, "根据医疗保障服务协议和上述规定，本机构决定：")
    for n, line in enumerate(agreement_lines(decision, measures), 1):
        paragraph(pdf, f"{n}. {line}")

    section(pdf, "四、陈述申辩")
    paragraph(pdf, f"你单位对上述处理有异议的，可以自收到本通知书之日起 {procedure.rules().agreement_statement_days} 日内"
                   "向本机构提出书面陈述、"
                   "申辩；被记分的相关人员对记分有异议的，可以在同一期限内向本机构提出申辩。本机构将对提出的事实、理由和"
                   "证据进行复核；逾期未提出的，视为放弃陈述、申辩。")
    section(pdf, "五、救济途径")
    paragraph(pdf, rules["dispute"])
    return _finish(pdf, data, agency)


def _render_referral(data: Mapping[str, Any], document: CaseDocument, referral: Mapping[str, Any]) -> bytes:
    rules = document_rules()["referral"]
    institution = data["institution"]
    pdf = _start(data, document, data["authority"])
    paragraph(pdf, f"{referral['to']}：")
    paragraph(pdf, f"本机关在对{institution['name']}（统一社会信用代码 {institution['credit_code'] or BLANK}，"
                   f"机构编码 {institution['code']}）的医疗保障基金使用情况进行监督检查中，发现下列问题：")
    findings = data["record"].get("findings") or []
    headed_table(pdf, ["序号", "问题", "违规类别", "金额（元）"], [12, 86, 46, 26],
                 [[str(n), f["title"], f"{f['category']} {f['category_title']}",
                   f"{parse_money(f['amount_yuan']):,}" if f.get("amount_yuan") else "—"]
                  for n, f in enumerate(findings, 1)])
    section(pdf, "移送事由")
    paragraph(pdf, referral["reason"])
    section(pdf, "移送依据")
    paragraph(pdf, referral["basis"])
    section(pdf, "随附材料")
    for n, item in enumerate(rules["attachments"], 1):
        paragraph(pdf, f"{n}. {item}")
    paragraph(pdf, "现将本案移送你单位，请依法处理，并将处理结果书面告知本机关。")
    return _finish(pdf, data, data["authority"])


# ============================================================ 送达回证


def service_methods() -> list[str]:
    """The ways a document may be served: the procedure's (checklists/rules/procedure.toml)."""
    return list(procedure.rules().service_methods)


def render_service_receipt(receipt: Mapping[str, Any]) -> bytes:
    """The 送达回证 of one document served. `receipt`: ``{"authority", "document": {"title", "number"}, "party":
    {"name", "address"}, "method", "place", "served_on" (ISO date or None: filled in by hand), "recipient" (or
    None), "servers": [names], "note"}``; blank lines where a value is to be written on paper."""
    served_on = receipt.get("served_on")
    created = datetime.fromisoformat(f"{served_on}T00:00:00+00:00") if served_on else datetime(2000, 1, 1)
    pdf = _CasePdf("送达回证", receipt["document"]["number"], "", created)
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, "B", 16)
    pdf.cell(0, 9, receipt["authority"], align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, "B", 20)
    pdf.cell(0, 14, "送达回证", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_FAMILY, size=OFFICIAL_BODY_PT)
    servers = list(receipt.get("servers") or [])
    when = cn_date(served_on) if served_on else "    年    月    日    时    分"
    rows = [("送达文书名称及文号", f"{receipt['document']['title']} {receipt['document']['number']}".strip()),
            ("受送达人", receipt["party"]["name"]), ("受送达人地址", receipt["party"].get("address") or BLANK),
            ("送达方式", receipt.get("method") or BLANK), ("送达地点", receipt.get("place") or BLANK),
            ("送达时间", when),
            ("受送达人签名（盖章）", f"{receipt.get('recipient') or ''}\n\n签收日期：    年    月    日"),
            ("代收人及代收理由", "\n\n"),
            ("见证人（留置送达时）", "\n\n"),
            ("送达人（签名）", "\n".join(f"{n}. {name}      签名：{BLANK}" for n, name in enumerate(servers, 1))
             or f"1. {BLANK}\n2. {BLANK}"),
            ("备注", receipt.get("note") or "")]
    label_table(pdf, rows)
    paragraph(pdf, f"依据：{document_rules()['service']['basis']}。")
    return bytes(pdf.output())


def service_receipt_of(data: Mapping[str, Any], document: CaseDocument, served: Mapping[str, Any]) -> dict[str, Any]:
    """The `render_service_receipt` input for `document` of the case `data` (`decision_for_pdf`), served as
    `served` says (``method``, ``place``, ``served_on``, ``recipient``, ``servers``, ``note``; any may be absent)."""
    issuer = _settings(data)[0]["handling_agency"] if document.key == "agreement" else data["authority"]
    institution = data["institution"]
    return {"authority": issuer, "document": {"title": document.title, "number": document.number},
            "party": {"name": institution["name"], "address": institution["address"]},
            "method": served.get("method") or "", "place": served.get("place") or "",
            "served_on": served.get("served_on"), "recipient": served.get("recipient") or "",
            "servers": list(served.get("servers") or []), "note": served.get("note") or ""}
