"""The documents of a decided case, rendered and read back with pdftotext: each measure only in its track's document
(行政处罚决定书 / 行政处理决定书 of the 行政部门, 协议处理通知书 of the 经办机构), a 移送书 per referral, the 决定书's
行政处罚法 Art. 59 elements (party with 法定代表人, facts with their evidence by hash, the provision violated apart
from the penalty basis, payee accounts, 加处罚款, the named 复议机关 and court), and the 送达回证."""

from __future__ import annotations

import copy
import shutil
import subprocess

import pytest

from bureau import decision_pdf
from tests.test_line_breaks import DECISION

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")

PHOTOS = ["a1" * 32, "b2" * 32]
SETTINGS = {"fund_account_name": "福州市医疗保障基金财政专户", "fund_bank": "中国工商银行福州鼓楼支行",
            "fund_account_no": "1402020109000012345", "treasury_account_name": "福州市财政局非税收入汇缴结算户",
            "treasury_bank": "中国建设银行福州分行营业部", "treasury_account_no": "35001610007052500999",
            "review_organ": "福州市人民政府", "court": "福州市鼓楼区人民法院", "handling_agency": "福州市医疗保障基金中心"}
ADMINISTRATIVE = ["责令改正", "责令退回", "罚款", "暂停医药服务"]


def both_tracks(settings: dict | None = None) -> dict:
    """An Art. 40 case: the 行政部门's measures, 解除服务协议 and the points for the 经办机构, two referrals."""
    data = copy.deepcopy(DECISION)
    decision = data["decision"]
    decision["measures"] = [*ADMINISTRATIVE, "解除服务协议"]
    decision["suspension_months"] = 6
    decision["proposal"]["measures_detail"] = [
        {"measure": m, "track": "agreement" if m == "解除服务协议" else "administrative"} for m in decision["measures"]]
    decision["proposal"]["referrals"] = [
        {"to": "公安机关", "reason": "涉嫌诈骗犯罪，应移送公安机关（骗取金额合计 12,800.50 元）",
         "basis": "《中华人民共和国行政处罚法》第二十七条"},
        {"to": "卫生健康主管部门", "reason": "有执业资格的，由有关主管部门依法吊销执业资格",
         "basis": "条例第四十条第一款"}]
    decision["proposal"]["basis"].append(
        "条例第四十条：责令定点医药机构暂停相关责任部门6个月以上1年以下涉及医疗保障基金使用的医药服务，直至由医疗保障经办"
        "机构解除服务协议；国家医保局令第2号第四十三条：经查实存在欺诈骗保行为的，经办机构应当解除医保协议")
    data["record"]["findings"][0]["photos"] = PHOTOS
    data["institution"]["legal_representative"] = "陈立新（法定代表人）"
    data["settings"] = SETTINGS if settings is None else settings
    return data


def text_of(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return "".join(out.split())


def documents(data: dict) -> dict[str, str]:
    return {d.key: text_of(decision_pdf.render_case_document(data, d.key)) for d in decision_pdf.case_documents(data)}


def test_each_measure_is_printed_only_in_its_tracks_document():
    data = both_tracks()
    listed = decision_pdf.case_documents(data)
    assert [(d.key, d.title, d.number) for d in listed] == [
        ("decision", "医疗保障行政处罚决定书", "医保行处〔2026〕12号"),
        ("agreement", "医疗保障协议处理通知书", "医保协通〔2026〕12号"),
        ("referral-1", "案件移送书", "医保移〔2026〕12-1号"), ("referral-2", "案件移送书", "医保移〔2026〕12-2号")]
    text = documents(data)
    decision, agreement = text["decision"], text["agreement"]
    administrative_words = ["责令改正，于", "责令退回医疗保障基金12,800.50", "处罚款25,601.00", "责令暂停相关责任部门6个月"]
    agreement_words = ["解除与你单位签订的医疗保障服务协议", "对你单位记5分", "记医保支付资格6分"]
    assert all(w in decision for w in administrative_words) and not any(w in decision for w in agreement_words)
    assert all(w in agreement for w in agreement_words) and not any(w in agreement for w in administrative_words)
    # each names the other and who issues it
    assert decision.startswith("福州市医疗保障局医疗保障行政处罚决定书医保行处〔2026〕12号")
    assert "由福州市医疗保障基金中心依医保服务协议另行处理（医疗保障协议处理通知书医保协通〔2026〕12号）" in decision
    assert agreement.startswith("福州市医疗保障基金中心医疗保障协议处理通知书医保协通〔2026〕12号")
    assert "福州市医疗保障基金中心（印章）" in agreement and "福州市医疗保障局（印章）" not in agreement
    # the agreement notice cites its ground, the order's article and the agreement, and gives its own 申辩
    assert "解除服务协议：事由为经查实存在欺诈骗保行为" in agreement
    assert "《零售药店医疗保障定点管理暂行办法》（国家医疗保障局令第3号）" in agreement
    assert "医疗保障服务协议中关于欺诈骗保解除协议的约定" in agreement
    assert "可以自收到本通知书之日起7日内向本机构提出书面陈述、申辩" in agreement
    assert "医保发〔2024〕23号" in agreement
    # the referrals, each with its reason and basis, named in the decision
    assert "本机关依法将本案有关问题移送公安机关（案件移送书医保移〔2026〕12-1号）" in decision
    assert text["referral-1"].startswith("福州市医疗保障局案件移送书医保移〔2026〕12-1号公安机关：")
    assert "涉嫌诈骗犯罪，应移送公安机关（骗取金额合计12,800.50元）" in text["referral-1"]
    assert "《中华人民共和国行政处罚法》第二十七条" in text["referral-1"]
    assert "卫生健康主管部门：" in text["referral-2"] and "条例第四十条第一款" in text["referral-2"]


def test_the_decision_has_the_elements_of_article_59():
    decision = documents(both_tracks())["decision"]
    # the party
    for expected in ("福州市鼓楼区康宁大药房有限公司", "91350102MA2YABCD1X", "陈立新（法定代表人）", "福建省福州市鼓楼区五四路100号"):
        assert expected in decision, expected
    # the facts with their evidence: the signed record and each photo by hash
    assert "认定上述事实的证据如下" in decision and "现场检查笔录（电子记录" in decision
    assert all(photo in decision for photo in PHOTOS) and "问题1现场照片2" in decision
    # the provision violated, apart from the penalty basis
    violated = decision.index("三、违反的规定")
    basis = decision.index("四、处罚（处理）依据")
    assert "《医疗保障基金使用监督管理条例》第三十八条第（四）项：串换药品、医用耗材、诊疗项目和服务设施" \
        in decision[violated:basis]
    assert "处造成损失金额1倍以上2倍以下的罚款" in decision[basis:] and "罚款" not in decision[violated:basis]
    # the agreement order grounds the 经办机构's 解除, not the 行政部门's decision
    assert "条例第四十条：责令定点医药机构暂停" in decision and "国家医保局令" not in decision
    # performance: the payee accounts, the time limit, 加处罚款 and court enforcement
    assert "应当自收到本决定书之日起15日内退回医疗保障基金账户：户名福州市医疗保障基金财政专户；开户行中国工商银行福州鼓楼支行；" \
           "账号1402020109000012345" in decision
    assert "缴入国库：户名福州市财政局非税收入汇缴结算户" in decision and "35001610007052500999" in decision
    assert "每日按罚款数额的百分之三加处罚款" in decision and "申请人民法院强制执行" in decision
    assert "第七十二条" in decision and "第四十五条" in decision
    # the named 复议机关 and court
    assert "六十日内向福州市人民政府申请行政复议" in decision and "六个月内向福州市鼓楼区人民法院提起行政诉讼" in decision
    assert "未设置" not in decision and "不得送达" not in decision
    assert "福州市医疗保障局（印章）2026年3月5日" in decision


def test_unset_settings_print_placeholders_with_a_warning():
    data = both_tracks(settings={})
    data["institution"]["legal_representative"] = None
    text = documents(data)
    decision, agreement = text["decision"], text["agreement"]
    assert "设置前不得送达" in decision and "yibaobureauset-payment-accounts" in decision
    assert "户名（未设置基金收款账户户名）" in decision and "向（未设置行政复议机关）申请行政复议" in decision
    assert decision_pdf.BLANK in decision and "陈立新" not in decision  # a line for the 法定代表人
    # the notice needs only its issuer; unset, it is the generic name, with the warning
    assert agreement.startswith("医疗保障经办机构医疗保障协议处理通知书") and "医疗保障经办机构尚未设置" in agreement


def test_correction_and_repayment_only_is_a_handling_decision():
    data = both_tracks()
    data["decision"].update(measures=["责令改正", "责令退回"], fine_yuan=None, suspension_months=None,
                            institution_points=[], person_points=[])
    data["decision"]["proposal"]["referrals"] = []
    listed = decision_pdf.case_documents(data)
    assert [(d.key, d.title) for d in listed] == [("decision", "医疗保障行政处理决定书")]
    decision = text_of(decision_pdf.render_decision_pdf(data))
    assert "医疗保障行政处理决定书" in decision and "五、处理决定" in decision
    assert "缴入国库" not in decision and "加处罚款" not in decision and "退回医疗保障基金账户" in decision
    assert "协议处理" not in decision


def test_an_agreement_only_case_issues_the_notice_under_the_decision_number():
    data = both_tracks()
    data["decision"].update(measures=["解除服务协议"], recover_yuan="0.00", fine_yuan=None, suspension_months=None)
    data["decision"]["decision_no"] = "医保协处〔2026〕4号"
    data["decision"]["proposal"]["referrals"] = []
    listed = decision_pdf.case_documents(data)
    assert [(d.key, d.number) for d in listed] == [("agreement", "医保协处〔2026〕4号")]
    assert decision_pdf.decision_pdf_name(data) == "医疗保障协议处理通知书-医保协处〔2026〕4号.pdf"
    assert text_of(decision_pdf.render_decision_pdf(data)).startswith("福州市医疗保障基金中心医疗保障协议处理通知书")


def test_the_service_receipt_names_the_document_party_method_and_servers():
    data = both_tracks()
    notice = decision_pdf.case_documents(data)[1]
    receipt = decision_pdf.service_receipt_of(data, notice, {
        "method": "直接送达", "place": "福建省福州市鼓楼区五四路 100 号", "served_on": "2026-03-06",
        "servers": ["林建华", "陈晓燕"]})
    text = text_of(decision_pdf.render_service_receipt(receipt))
    assert text.startswith("福州市医疗保障基金中心送达回证")
    for expected in ("医疗保障协议处理通知书医保协通〔2026〕12号", "福州市鼓楼区康宁大药房有限公司", "直接送达",
                     "2026年3月6日", "1.林建华签名：", "2.陈晓燕签名：", "受送达人签名（盖章）", "代收人及代收理由",
                     "《中华人民共和国行政处罚法》第六十一条"):
        assert expected in text, expected
    blank = text_of(decision_pdf.render_service_receipt({**receipt, "method": "", "servers": [], "served_on": None}))
    assert "年月日时分" in blank and "1.＿＿" in blank
    assert decision_pdf.render_service_receipt(receipt) == decision_pdf.render_service_receipt(receipt)


def test_a_breach_of_the_service_agreement_is_the_notices_not_the_decisions():
    """A 13.1 finding (公示, a duty of the service agreement) is not a provision the 决定书 says was violated; the
    经办机构's notice handles it under the agreement (条例 Art. 13)."""
    data = both_tracks()
    data["record"]["findings"].append(
        {"title": "公示医疗服务价格、收费标准和投诉电话", "description": "店堂内无价格公示", "category": "13.1",
         "category_title": "违反医疗保障服务协议约定（协议处理）", "amount_yuan": None})
    data["decision"]["measures"].append("按服务协议处理")
    data["decision"]["proposal"]["measures_detail"].append({"measure": "按服务协议处理", "track": "agreement"})
    text = documents(data)
    decision, agreement = text["decision"], text["agreement"]
    violated = decision[decision.index("三、违反的规定"):decision.index("四、处罚（处理）依据")]
    assert "第三十八条第（四）项" in violated and "第十三条" not in violated and "服务协议" not in violated
    assert "按服务协议处理" not in decision
    assert "按服务协议处理：事由为违反医疗保障服务协议约定的义务；依据《零售药店医疗保障定点管理暂行办法》（国家医疗保障局令第3号）" \
        in agreement
    assert "依医疗保障服务协议约定，督促你单位履行协议、限期整改" in agreement
