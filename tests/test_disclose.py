"""一公开: `yibao disclose --period P --out DIR` on SQLite and PostgreSQL — the draws verify with `yibao draw verify`,
every outcome is in the signed log, a later export proves the log still holds the earlier one, published cases
become 已公开, and nothing about patients, insured persons or staff leaves the bureau. Plus the pure parts."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bureau import disclosure
from checklists.findings import derive_findings
from sync import merkle
from sync.envelope import log_leaf_hash
from tests.support import run_cli
from tests.test_record_schema import BASE, TEMPLATE, answers
from tests.test_review_flow import CLINIC, PHARMACY, pharmacy_findings
from tests.test_review_support import (
    PHARMACIST,
    Staff,
    add_review_staff,
    file_case,
    inspect,
    pin_tablet,
)

YEAR = str(date.today().year)
AGENCY = "福州市医疗保障局"
PERSONAL = (PHARMACIST, "张丽", "王五", "林建华", "陈晓燕", "0591-87654321", "11010519491231002X", "收银台发现代刷记录", "处方药未凭处方销售")


# ------------------------------------------------------------ pure


@pytest.mark.parametrize("text, start, end", [
    ("2026", date(2026, 1, 1), date(2027, 1, 1)),
    ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
    ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
    ("2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ("2026-12", date(2026, 12, 1), date(2027, 1, 1)),
])
def test_periods(text, start, end):
    period = disclosure.parse_period(text)
    assert (period.start, period.end, period.label) == (start, end, text)
    assert period.contains(start) and not period.contains(end) and period.contains(end - timedelta(days=1))


@pytest.mark.parametrize("text", ["26", "2026-Q5", "2026-13", "2026-00", "2026-1", "2026/11", "", "1999"])
def test_bad_periods(text):
    with pytest.raises(ValueError, match="期间"):
        disclosure.parse_period(text)


RECORD = {"inspection_kind": "followup", "findings": [
    {"item_id": "R-FEE-02", "category": "38.4", "description": "患者张三的代刷记录", "staff_codes": [PHARMACIST],
     "amount_yuan": "100.00"},
    {"item_id": "R-INV-01", "category": "38.4", "description": "李四", "staff_codes": [], "amount_yuan": "1.00"}],
    "checkin": {"representative": {"name": "张丽"}}}
DECISION = {"outcome": "handled", "version": 2, "record_hash": "ab" * 32, "institution_code": PHARMACY,
            "decision_no": "医保行处〔2026〕3号", "doc_kind": "行政处理", "measures": ["责令改正", "罚款"],
            "recover_yuan": "101.00", "fine_yuan": "150.00", "suspension_months": None, "terminate_agreement": False,
            "person_points": [{"staff_code": PHARMACIST, "points": 6}]}


def test_an_outcome_carries_structured_facts_only():
    row = disclosure.outcome({"record_id": "r1", "log_index": 4, "decided_on": "2026-11-23",
                              "inspected_on": "2026-11-20"}, DECISION, RECORD,
                             {"name": "东街口大药房", "kind": "pharmacy", "region": "350102"}, [b"\x01" * 32])
    assert row["violations"] == [{"category": "38.4", "title": "串换药品、医用耗材、诊疗项目和服务设施", "count": 2}]
    assert row["inspection_kind"] == "回头看" and row["result"] == "发现问题 2 项" and row["kind_label"] == "定点零售药店"
    assert row["inclusion_proof"] == ["01" * 32] and row["fined_yuan"] == "150.00"
    flat = json.dumps(row, ensure_ascii=False)
    for secret in (PHARMACIST, "张三", "李四", "张丽"):
        assert secret not in flat
    clean = disclosure.outcome({"record_id": "r2", "log_index": 5, "decided_on": "2026-11-23", "inspected_on": None},
                               {**DECISION, "outcome": "no_violation", "fine_yuan": None, "measures": []},
                               {"findings": []}, {}, [])
    assert clean["result"] == "未发现违法违规问题" and clean["measures"] == [] and clean["recovered_yuan"] == "0.00"


def test_an_outcome_counts_the_categories_of_the_answers_not_the_tablets():
    answered = answers(**{"R-FEE-02": ("代刷 12 笔", "3860.50"), "R-RX-01": ("无处方", "420.00")})
    told = [{**f, "category": "40.3", "staff_codes": []} for f in derive_findings(TEMPLATE, answered)][:1]
    row = disclosure.outcome({"record_id": "r1", "log_index": 0, "decided_on": "2026-11-23", "inspected_on": None},
                             DECISION, {**BASE, "answers": answered, "findings": told}, {"kind": "pharmacy"}, [])
    assert [(v["category"], v["count"]) for v in row["violations"]] == [("38.4", 1), ("38.6", 1)]
    assert row["result"] == "发现问题 2 项"


def test_html_escapes_and_csv_opens_in_excel():
    period = disclosure.parse_period("2026-11")
    row = disclosure.outcome({"record_id": "r1", "log_index": 0, "decided_on": "2026-11-23", "inspected_on": None},
                             DECISION, RECORD, {"name": "<script>alert(1)</script>药房", "kind": "pharmacy"}, [])
    head = {"size": 1, "root": "00" * 32, "timestamp": 1, "signature": "c2ln"}
    data = disclosure.content(period, [], [row], head, "a2V5", [], "2026-11-30T00:00:00Z", agency="<b>局</b>")
    page = disclosure.render_html(data)
    assert "<script>" not in page and "&lt;script&gt;" in page and "本期无。" in page
    assert "<b>" not in page and "&lt;b&gt;局&lt;/b&gt;" in page
    table = disclosure.table_csv([row], disclosure.OUTCOME_COLUMNS)
    assert table.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(table.decode("utf-8-sig"))))
    assert rows[0][0] == "机构编码" and rows[1][0] == PHARMACY and "责令改正、罚款" in rows[1]


# ------------------------------------------------------------ the export, end to end


def draw(bureau, tmp_path: Path, plan_id: str) -> Path:
    """A committed draw of one pharmacy; I0003 is recused from it, so the team is the tablet's two inspectors."""
    conflicts = tmp_path / "conflicts.csv"
    conflicts.write_text(f"人员编号,机构编码,原因\nI0003,{PHARMACY},亲属在该药店任职\n", encoding="utf-8")
    bureau.cli("registry", "import", "conflicts", str(conflicts))
    plan = {"plan_id": plan_id, "strata": [{"kind": "pharmacy", "count": 1}], "team_size": 2,
            "max_assignments_per_inspector": 4, "risk_weighted": False, "include_followups": True}
    plan_file = tmp_path / f"{plan_id}.json"
    plan_file.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    bureau.cli("draw", "commit", str(plan_file))
    plan_file.write_text(json.dumps({**plan, "public_random": ["福彩3D 2026 3 9 4"]}, ensure_ascii=False),
                         encoding="utf-8")
    bureau.cli("draw", "run", str(plan_file), "--out", str(tmp_path / f"{plan_id}-transcript.json"))
    return plan_file


def decide(reviewer: Staff, record_id: str, **period: str) -> str:
    """Through review with the lowest fine the law allows (a 从轻 factor cited); returns it. `period`: the conduct's
    dates, when another decision already fined the same conduct (一事不再罚)."""
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    fine = reviewer.get(f"{base}/proposal")["penalty"]["fine_yuan"]["min"]
    reviewer.post(f"{base}/proposal", {"fine_yuan": fine, "fine_reason": "从轻", "reason": "事实清楚",
                                       "factors": ["cooperated_truthfully"], **period,
                                       "rectification_due": (date.today() + timedelta(days=30)).isoformat()})
    file_case(reviewer, Staff(reviewer.url, "zhuren"), base)
    reviewer.post(f"{base}/notify", {"deadline": (date.today() + timedelta(days=5)).isoformat()})
    reviewer.post(f"{base}/statement", {"waived": True})
    reviewer.post(f"{base}/decide")
    return fine


def verify_export(out: Path) -> dict:
    data = json.loads((out / "disclosure.json").read_text(encoding="utf-8"))
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(data["log"]["bureau_signing_key"]))
    size, root = merkle.verify_tree_head(data["log"]["tree_head"], public)
    for row in data["outcomes"]:
        merkle.verify_inclusion(log_leaf_hash(row["record_id"], row["record_hash"]), row["log_index"], size,
                                [bytes.fromhex(p) for p in row["inclusion_proof"]], root)
    for step in data["log"]["consistency"]:
        merkle.verify_consistency(step["from_size"], size, bytes.fromhex(step["from_root"]), root,
                                  [bytes.fromhex(p) for p in step["proof"]])
    for draw_row in data["draws"]:
        verified = run_cli("draw", "verify", str(out / draw_row["file"]))
        assert json.loads(verified.stdout)["valid"] is True
    return data


def decision_text(reviewer: Staff, record_id: str) -> str:
    pdf = reviewer.get(f"/v1/review/records/{record_id}/decision.pdf")
    return "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                   .stdout.decode("utf-8").split())


def test_disclose_a_period_then_prove_nothing_was_removed(running_bureau, tmp_path):
    bureau = running_bureau
    add_review_staff(bureau.settings)
    bureau.cli("bureau", "set-agency-name", AGENCY)  # the running server reads it from the database
    draw(bureau, tmp_path, "2026-冬季-药店")
    tablet = pin_tablet(bureau, tmp_path / "tablet")
    _first, second, failed = pharmacy_findings()
    handled = inspect(tablet, PHARMACY, failed, staff={second: PHARMACIST})
    clean = inspect(tablet, CLINIC, refuse=True)
    reviewer = Staff(bureau.url, "shenhe")
    fine = decide(reviewer, handled)
    reviewer.post(f"/v1/review/records/{clean}/start")
    reviewer.post(f"/v1/review/records/{clean}/close", {"reason": "未发现问题"})

    out = tmp_path / "公示-1"
    result = bureau.cli("disclose", "--period", YEAR, "--out", str(out))
    summary = json.loads(result.stdout)
    assert summary["draws"] == 1 and summary["outcomes"] == 2 and summary["newly_published"] == 2
    assert sorted(p.name for p in out.iterdir()) == ["disclosure.json", "draws", "draws.csv", "index.html",
                                                     "outcomes.csv"]
    data = verify_export(out)
    results = {o["record_id"]: o for o in data["outcomes"]}
    assert results[handled]["measures"] == ["责令改正", "责令退回", "罚款"]
    assert results[handled]["fined_yuan"] == fine and results[handled]["decision_no"].startswith("医保行处")
    assert results[clean]["result"] == "未发现违法违规问题"
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "双随机、一公开" in page and data["log"]["tree_head"]["root"] in page and "2026-冬季-药店" in page
    assert data["agency"] == AGENCY and f'<p class="agency">{AGENCY}</p>' in page
    issued = decision_text(reviewer, handled)  # the issuer, above the title and above the seal
    assert issued.startswith(f"{AGENCY}医疗保障行政处罚决定书") and issued.count(AGENCY) == 2
    for name in ("disclosure.json", "index.html", "outcomes.csv", "draws.csv", data["draws"][0]["file"]):
        text = (out / name).read_bytes().decode("utf-8-sig")
        for secret in PERSONAL:
            assert secret not in text, (name, secret)
    statuses = {i["record_id"]: i["status"] for i in reviewer.get("/v1/review/queue")["items"]}
    assert statuses == {handled: "已公开", clean: "已公开"}
    assert reviewer.get(f"/v1/review/records/{handled}")["audit"][-1]["action"] == "publish"

    # Later: another inspection is decided; the new export proves the log it published first is still there.
    again = inspect(tablet, PHARMACY, {"R-FEE-02": ("又发现串换", "100.00")})
    renamed = "福州市长乐区医疗保障局"
    changed = bureau.cli("bureau", "set-agency-name", renamed)
    assert f"“{AGENCY}”改为“{renamed}”" in changed.stderr
    decide(reviewer, again, conduct_from=(date.today() - timedelta(days=200)).isoformat(),
           conduct_to=(date.today() - timedelta(days=100)).isoformat())
    assert renamed in decision_text(reviewer, again)
    assert renamed not in decision_text(reviewer, handled)  # a decision already issued keeps its issuer
    out2 = tmp_path / "公示-2"
    summary2 = json.loads(bureau.cli("disclose", "--period", YEAR, "--out", str(out2)).stdout)
    assert summary2["outcomes"] == 3 and summary2["newly_published"] == 1
    data2 = verify_export(out2)
    assert data2["agency"] == renamed and renamed in (out2 / "index.html").read_text(encoding="utf-8")
    assert data2["log"]["tree_head"]["size"] > data["log"]["tree_head"]["size"]
    assert data2["log"]["consistency"][0]["from_root"] == data["log"]["tree_head"]["root"]

    # A withdrawn decision is no longer published; nothing else changes.
    reviewer.post(f"/v1/review/records/{again}/withdraw", {"reason": "复议撤销"})
    out3 = tmp_path / "公示-3"
    assert json.loads(bureau.cli("disclose", "--period", YEAR, "--out", str(out3)).stdout)["outcomes"] == 2
    verify_export(out3)


def test_disclose_usage_and_empty_periods(running_bureau, tmp_path):
    bad = running_bureau.cli("disclose", "--period", "2026-13", "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode == 2 and "期间" in bad.stderr and not (tmp_path / "x").exists()
    empty = json.loads(running_bureau.cli("disclose", "--period", "2001-Q1", "--out", str(tmp_path / "e")).stdout)
    assert empty["draws"] == 0 and empty["outcomes"] == 0
    assert "本期无。" in (tmp_path / "e" / "index.html").read_text(encoding="utf-8")
