"""A decided case on a real bureau (SQLite and PostgreSQL) with both tracks and two referrals: its documents over
HTTP (each measure only in its track's document, the payee accounts and 复议机关 set by `yibao bureau
set-payment-accounts`), the 送达回证, and the 案卷: exported by the route and by `yibao case export`, verified
offline by `yibao case verify`, and every kind of tampering named by the file it touches."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import date, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bureau import case_file, keystore
from sync.keys import public_key_to_b64
from tests.browser import ARTIFACTS
from tests.support import PASSPHRASE, add_staff, run_cli
from tests.test_procedure_flow import days_pass
from tests.test_review_flow import PHARMACY, pharmacy_findings
from tests.test_review_support import PHARMACIST, Staff, add_review_staff, file_case, inspect, pin_tablet

ACCOUNTS = ["--fund-name", "福州市医疗保障基金财政专户", "--fund-bank", "中国工商银行福州鼓楼支行",
            "--fund-account", "1402020109000012345", "--treasury-name", "福州市财政局非税收入汇缴结算户",
            "--treasury-bank", "中国建设银行福州分行营业部", "--treasury-account", "35001610007052500999",
            "--review-organ", "福州市人民政府", "--court", "福州市鼓楼区人民法院",
            "--handling-agency", "福州市医疗保障基金中心"]


def text_of(pdf: bytes) -> str:
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return "".join(out.split())


def decide_with_intent(bureau, tablet) -> tuple[str, Staff]:
    """串换 done 以骗取为目的 (Art. 40: 退回, 2–5×, 暂停, 解除) beside a plain Art. 38 finding: filed, 陈述申辩 and the
    经办机构's 申辩 waived, 法制审核 passed, the hearing not asked for."""
    first, second, failed = pharmacy_findings()
    record_id = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    reviewer = Staff(bureau.url, "shenhe")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    proposed = reviewer.get(f"{base}/proposal", params={"intent": first})["penalty"]
    assert "解除服务协议" in proposed["measures"] and [r["to"] for r in proposed["referrals"]] == ["公安机关",
                                                                                                  "卫生健康主管部门"]
    band = proposed.get("band") or {"low_yuan": proposed["fine_yuan"]["min"]}
    reviewer.post(f"{base}/proposal", {
        "intent_items": [first], "fine_yuan": band["low_yuan"], "fine_reason": "主动退回，从轻", "suspension_months": 6,
        "rectification_due": (date.today() + timedelta(days=30)).isoformat(), "reason": "事实清楚",
        "person_points": [{"staff_code": PHARMACIST, "behaviour_id": "substitution"}]})
    file_case(reviewer, Staff(bureau.url, "zhuren"), base, "涉嫌欺诈骗保（条例第四十条）")
    reviewer.post(f"{base}/notify", {"deadline": (date.today() + timedelta(days=7)).isoformat()})
    reviewer.post(f"{base}/statement", {"waived": True})
    Staff(bureau.url, "fazhi").post(f"{base}/procedure/legal_review", {"opinion": "同意", "passed": True})  # Art. 58
    reviewer.post(f"{base}/procedure/agreement_notice", {"served_on": date.today().isoformat()})  # the 经办机构's
    reviewer.post(f"{base}/procedure/agreement_statement", {"waived": True})
    days_pass(bureau, record_id, 8)  # no hearing asked for within five working days
    assert reviewer.post(f"{base}/decide")["decision"]["doc_kind"] == "行政处罚"
    return record_id, reviewer


def entries(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def repacked(content: bytes, change) -> bytes:
    """The 案卷 with its files changed by `change` and a fresh manifest signed by another key (a forger's)."""
    files = {k: v for k, v in entries(content).items() if k != case_file.MANIFEST}
    manifest = json.loads(entries(content)[case_file.MANIFEST])
    change(files)
    return case_file.pack(manifest["record_id"], files, Ed25519PrivateKey.generate(), datetime.now(timezone.utc))


@pytest.fixture
def world(running_bureau, tmp_path):
    add_review_staff(running_bureau.settings)
    add_staff(running_bureau.settings, "fazhi", "reviewer")  # 法制审核
    return running_bureau, pin_tablet(running_bureau, tmp_path / "tablet")


@pytest.mark.slow
def test_a_two_track_case_its_documents_and_its_case_file(world, tmp_path):
    bureau, tablet = world
    record_id, reviewer = decide_with_intent(bureau, tablet)
    base = f"/v1/review/records/{record_id}"
    supervisor = Staff(bureau.url, "zhuren")

    # before the bureau sets its accounts, the documents say what is missing
    assert "行政复议机关" in reviewer.get(f"{base}/documents")["unset_settings"]
    assert "设置前不得送达" in text_of(reviewer.get(f"{base}/documents/decision.pdf"))
    stored = json.loads(bureau.cli("bureau", "set-payment-accounts", *ACCOUNTS).stdout)
    assert stored["court"] == "福州市鼓楼区人民法院" and stored["fund_account_no"] == "1402020109000012345"
    refused = bureau.cli("bureau", "set-payment-accounts", "--court", " ", check=False)
    assert refused.returncode == 2 and "--court：管辖人民法院不能为空" in refused.stderr

    listed = reviewer.get(f"{base}/documents")
    assert listed["unset_settings"] == []
    assert [(d["key"], d["title"]) for d in listed["documents"]] == [
        ("decision", "医疗保障行政处罚决定书"), ("agreement", "医疗保障协议处理通知书"),
        ("referral-1", "案件移送书"), ("referral-2", "案件移送书")]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for document in listed["documents"]:  # rendered to PNG to be looked at
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-", str(ARTIFACTS / f"case-{document['key']}")],
                       input=reviewer.get(f"{base}/documents/{document['key']}.pdf"), check=True)
    decision = text_of(reviewer.get(f"{base}/documents/decision.pdf"))
    assert reviewer.get(f"{base}/decision.pdf") == supervisor.get(f"{base}/documents/decision.pdf")
    notice = text_of(reviewer.get(f"{base}/documents/agreement.pdf"))
    police = text_of(reviewer.get(f"{base}/documents/referral-1.pdf"))
    reviewer.get(f"{base}/documents/referral-3.pdf", expect=404)
    assert "处罚款" in decision and "责令暂停相关责任部门6个月" in decision and "记医保支付资格" not in decision
    assert "解除与你单位签订的医疗保障服务协议" not in decision and "由福州市医疗保障基金中心依医保服务协议另行处理" in decision
    assert "国家医保局令" not in decision and "国家医疗保障局令第3号" in notice  # the order grounds the agreement track
    assert "解除与你单位签订的医疗保障服务协议" in notice and "记医保支付资格" in notice
    assert "处罚款" not in notice and "责令暂停" not in notice and notice.startswith("福州市医疗保障基金中心")
    assert "账号1402020109000012345" in decision and "向福州市人民政府申请行政复议" in decision
    assert "郑国强（法定代表人）" in decision and "张丽" not in decision  # the 法定代表人, not the person on site
    assert police.startswith("医疗保障局案件移送书") and "公安机关：" in police and "涉嫌诈骗犯罪" in police

    # the 送达回证 of the notice; a method the law does not know is refused by name
    receipt = text_of(reviewer.call("POST", f"{base}/documents/agreement/service-receipt.pdf", json={
        "method": "留置送达", "place": "福州市鼓楼区东街 88 号", "servers": ["林建华", "陈晓燕"]}))
    assert receipt.startswith("福州市医疗保障基金中心送达回证") and "留置送达" in receipt and "1.林建华" in receipt
    bad = reviewer.call("POST", f"{base}/documents/decision/service-receipt.pdf", expect=422, json={"method": "微信"})
    assert bad["detail"]["reason"] == "bad_method" and "method" in bad["detail"]["message"]

    # the 案卷 by the route: verifies offline; a supervisor may not take it
    supervisor.get(f"{base}/case-file.zip", expect=403)
    content = reviewer.get(f"{base}/case-file.zip")
    assert case_file.verify_case_file(content) == []
    assert not list(bureau.settings.data_dir.glob(".case-file-*"))  # written to a scratch file, sent, deleted
    names = set(entries(content))
    documents = {f"documents/{d['file_name']}" for d in listed["documents"]}
    assert documents <= names and {"record/v1.json", "receipts/v1.json", "audit/events.json"} <= names
    photos = {n for n in names if n.startswith("evidence/")}
    assert photos and len(photos) == len(json.loads(entries(content)["record/v1.json"])["record"]["photos"])
    other_key = Ed25519PrivateKey.generate().public_key()
    assert any("与指定的公钥不同" in p for p in case_file.verify_case_file(content, other_key))

    # the 案卷 by the command line, verified by the command line
    out = tmp_path / "case.zip"
    exported = json.loads(bureau.cli("case", "export", record_id, "--out", str(out)).stdout)
    assert exported["record_id"] == record_id  # the decision's documents and the 告知书 the notice made
    assert exported["documents"] == sorted([d["file_name"] for d in listed["documents"]]
                                           + [f"行政处罚事先告知书-{record_id}-1.pdf"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".case-file-")] == []  # written, then renamed
    verified = run_cli("case", "verify", str(out))
    assert verified.returncode == 0 and "以案卷自带的医保局公钥核验" in verified.stderr
    published = public_key_to_b64(keystore.open_signing_key(bureau.settings, PASSPHRASE.encode()).public_key())
    pinned = run_cli("case", "verify", str(out), "--bureau-key", published, "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["ok"] and "案卷核验通过" in pinned.stderr
    stranger = run_cli("case", "verify", str(out), "--bureau-key", public_key_to_b64(other_key), check=False)
    assert stranger.returncode == 1 and "manifest.json：案卷所载医保局公钥与指定的公钥不同" in stranger.stderr
    missing = bureau.cli("case", "export", "no-such-record", "--out", str(tmp_path / "x.zip"), check=False)
    assert missing.returncode == 1 and "没有检查记录 no-such-record" in missing.stderr

    # tampering, each named by its file
    pdf_name = sorted(documents)[0]
    files = entries(out.read_bytes())
    tampered = tmp_path / "tampered.zip"
    tampered.write_bytes(rezip({**files, pdf_name: files[pdf_name].replace(b"%PDF", b"%PDX", 1)}))
    failed = run_cli("case", "verify", str(tampered), check=False)
    assert failed.returncode == 1 and f"{pdf_name}：内容与清单所载 SHA-256 不符" in failed.stderr
    photo = sorted(photos)[0]
    problems = case_file.verify_case_file(rezip({**{k: v for k, v in files.items() if k != photo},
                                                 "documents/补充.pdf": b"%PDF-1.4"}))
    assert f"{photo}：清单中有，案卷中缺失" in problems and "documents/补充.pdf：不在清单中（案卷被加入了文件）" in problems
    assert f"{photo}：record/v1.json 所载照片不在案卷中" in problems

    # a forger who re-signs the manifest: the manifest is not the bureau's, and what was changed still shows
    manifest = json.loads(files[case_file.MANIFEST])
    forged = dict(manifest, files={**manifest["files"], pdf_name: "0" * 64})
    assert any(p.startswith("manifest.json：清单的医保局签名无效") for p in
               case_file.verify_case_file(rezip({**files, case_file.MANIFEST: json.dumps(forged).encode()})))

    def edit_event(changed: dict[str, bytes]) -> None:
        audit = json.loads(changed["audit/events.json"])
        audit["events"][2]["reason"] = "改写的理由"
        changed["audit/events.json"] = json.dumps(audit, ensure_ascii=False).encode()

    def edit_record(changed: dict[str, bytes]) -> None:
        entry = json.loads(changed["record/v1.json"])
        entry["record"]["notes"] = "事后补记"
        changed["record/v1.json"] = json.dumps(entry, ensure_ascii=False).encode()

    def swap_hash(changed: dict[str, bytes]) -> None:
        entry = json.loads(changed["record/v1.json"])
        entry["record_hash"] = "f" * 64
        changed["record/v1.json"] = json.dumps(entry, ensure_ascii=False).encode()

    assert any(p.startswith("audit/events.json：第 3 条记录") and "与审计链不符" in p
               for p in case_file.verify_case_file(repacked(content, edit_event)))
    assert "record/v1.json：检查记录内容与其哈希不符" in case_file.verify_case_file(repacked(content, edit_record))
    swapped = case_file.verify_case_file(repacked(content, swap_hash))
    assert "receipts/v1.json：回执对应的不是这份检查记录" in swapped
    assert any(p.startswith("record/v1.json：检查人员") for p in swapped)
    assert case_file.verify_case_file(b"not a zip") == ["案卷不是有效的 ZIP 文件"]


def test_a_document_keeps_the_settings_it_was_issued_with_and_the_case_file_every_notice(world, tmp_path):
    """A document served does not change when the bureau changes a setting later (agency name, accounts, 复议机关,
    court); one issued after the change shows the new values. A 重新告知 leaves the first 告知书 in the 案卷 beside
    the second, both verified."""
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷 12 笔", "3860.50")})
    reviewer, supervisor = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren")
    base, today = f"/v1/review/records/{record_id}", date.today().isoformat()
    bureau.cli("bureau", "set-agency-name", "福州市医疗保障局")
    bureau.cli("bureau", "set-payment-accounts", *ACCOUNTS)
    reviewer.post(f"{base}/start")
    file_case(reviewer, supervisor, base)
    choice = {"fine_yuan": "5100.00", "fine_reason": "一般情节", "reason": "事实清楚",
              "rectification_due": (date.today() + timedelta(days=30)).isoformat()}
    reviewer.post(f"{base}/proposal", choice)
    reviewer.post(f"{base}/notify", {"served_on": today})
    first = reviewer.get(f"{base}/procedure/notice.pdf")
    assert text_of(first).startswith(f"福州市医疗保障局行政处罚事先告知书编号{record_id}-1")

    # renamed, an account changed: the 告知书 served stays the same document; the new one shows the new name
    bureau.cli("bureau", "set-agency-name", "福州市鼓楼区医疗保障局")
    bureau.cli("bureau", "set-payment-accounts", "--fund-account", "6222000000000000001")
    assert reviewer.get(f"{base}/procedure/notice.pdf") == first
    reviewer.post(f"{base}/statement", {"text": "已整改"})
    reviewer.post(f"{base}/proposal", {**choice, "fine_yuan": "6000.00", "reason": "发现新的违规事实"})
    again = reviewer.post(f"{base}/procedure/renotify", {"served_on": today, "reason": "发现新的违规事实，拟加重处罚"})
    assert [n["count"] for n in again["procedure"]["record"]["notices"]] == [1]
    second = reviewer.get(f"{base}/procedure/notice.pdf")
    assert text_of(second).startswith(f"福州市鼓楼区医疗保障局行政处罚事先告知书编号{record_id}-2")
    assert "处罚款6,000.00元" in text_of(second) and "处罚款5,100.00元" in text_of(first)
    assert reviewer.get(f"{base}/procedure/notice.pdf", params={"count": 1}) == first
    reviewer.get(f"{base}/procedure/notice.pdf", params={"count": 3}, expect=404)

    # the 决定书 issued after the change shows the new values, and keeps them through later changes
    reviewer.post(f"{base}/statement", {"waived": True})
    reviewer.post(f"{base}/decide")
    decision = reviewer.get(f"{base}/documents/decision.pdf")
    receipt = reviewer.call("POST", f"{base}/documents/decision/service-receipt.pdf", json={})
    words = text_of(decision)
    assert words.startswith("福州市鼓楼区医疗保障局") and "账号6222000000000000001" in words
    assert "向福州市人民政府申请行政复议" in words and "向福州市鼓楼区人民法院提起行政诉讼" in words
    bureau.cli("bureau", "set-agency-name", "福州市晋安区医疗保障局")
    bureau.cli("bureau", "set-payment-accounts", "--fund-account", "6222000000000000002", "--review-organ",
               "福建省医疗保障局", "--court", "福州市中级人民法院")
    assert reviewer.get(f"{base}/documents/decision.pdf") == decision and text_of(decision) == words
    assert reviewer.call("POST", f"{base}/documents/decision/service-receipt.pdf", json={}) == receipt
    assert reviewer.get(f"{base}/procedure/notice.pdf") == second and reviewer.get(f"{base}/documents")[
        "unset_settings"] == []

    # the 案卷 holds both 告知书, as served; it verifies, and a swapped or missing one is named
    content = reviewer.get(f"{base}/case-file.zip")
    assert case_file.verify_case_file(content) == []
    files = entries(content)
    notices = [f"documents/行政处罚事先告知书-{record_id}-{n}.pdf" for n in (1, 2)]
    assert (files[notices[0]], files[notices[1]]) == (first, second)
    out = tmp_path / "renotified.zip"
    exported = json.loads(bureau.cli("case", "export", record_id, "--out", str(out)).stdout)
    assert {n.removeprefix("documents/") for n in notices} <= set(exported["documents"])
    assert run_cli("case", "verify", str(out)).returncode == 0
    swapped = case_file.verify_case_file(rezip({**files, notices[0]: files[notices[1]]}))
    assert swapped == [f"{notices[0]}：内容与清单所载 SHA-256 不符（文件被改动）"]
    dropped = case_file.verify_case_file(rezip({k: v for k, v in files.items() if k != notices[0]}))
    assert dropped == [f"{notices[0]}：清单中有，案卷中缺失"]
