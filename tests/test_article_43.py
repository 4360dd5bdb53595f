"""条例 第四十三条: a 定点医药机构 that causes the fund a major loss (or other serious harm to society) has its 法定代表人
or 主要负责人 barred 5 years from managing a 定点医药机构. The engine (a case flag, an institution's only, a 行政处罚 with a
hearing right that 行政处罚法 第三十三条 suppresses), `yibao penalty decide`, the reviewer's view-model, and a case
proposed and decided through the bureau's API on SQLite and PostgreSQL, read back from the 决定书."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bureau import procedure
from bureau.decision_pdf import measure_lines
from checklists import InputError
from checklists.penalty import PENALTIES_FILE, decide, load_penalty_rules
from staff_app.review_vm import DecisionViewModel
from tests.test_procedure_flow import day, days_pass, pdf_text, step, world  # noqa: F401 (the fixture)
from tests.test_review_support import Staff, file_case, inspect
from yibao.commands import penalty_cmd

BAN = "禁止法定代表人（主要负责人）从事定点医药机构管理活动"
PHARMACY = "P35010200001"


def institution(category: str, amount: str = "0.00", **facts) -> dict:
    return {"party": {"kind": "institution", "code": "H33010600001"},
            "findings": [{"category": category, "amount_yuan": amount}], **facts}


# ---------------------------------------------------------------- the engine

@pytest.mark.parametrize("category, amount", [("38.1", "30000.00"), ("38.2", "0.00"), ("39.7", "0.00"),
                                              ("40.3", "50000.00")])
def test_a_major_loss_bars_the_legal_representative_for_five_years(category, amount):
    decided = decide(institution(category, amount, major_loss=True))
    assert BAN in decided["measures"]
    [detail] = [d for d in decided["measures_detail"] if d["measure"] == BAN]
    assert detail == {"measure": BAN, "track": "administrative", "imposed_by": "医疗保障行政部门", "term_years": 5}
    assert decided["hearing_right"] is True  # 限制从业: 行政处罚法 第六十三条, whatever the fine
    assert any(b.startswith("条例第四十三条") and "5年内禁止从事定点医药机构管理活动" in b for b in decided["basis"])
    assert all("term_years" not in d for d in decided["measures_detail"] if d["measure"] != BAN)
    # …and 由有关部门依法给予处分: the second half of the article is a referral, proposed with the ban
    [discipline] = [r for r in decided["referrals"] if "第四十三条" in r["basis"]]
    assert "依法给予处分" in discipline["reason"] and "任免机关" in discipline["to"]


def test_without_the_flag_nothing_changes():
    plain = decide(institution("38.2"))
    assert BAN not in plain["measures"] + plain["optional_measures"] and plain["hearing_right"] is False
    assert not any("第四十三条" in b for b in plain["basis"])
    assert not any("第四十三条" in r["basis"] for r in plain["referrals"])


@pytest.mark.parametrize("kind, category", [("individual", "41.4"), ("insured", "41.1")])
def test_a_person_cannot_be_barred_under_article_43(kind, category):
    case = {"party": {"kind": kind, "code": "X"}, "findings": [{"category": category, "amount_yuan": "800.00"}],
            "major_loss": True}
    with pytest.raises(InputError) as caught:
        decide(case)
    message = str(caught.value)
    assert "major_loss" in message and "定点医药机构" in message and kind in message


def test_no_penalty_under_article_33_drops_the_ban_with_the_fine():
    """行政处罚法 第三十三条第二款 (no fault: must not penalise): the ban is a 行政处罚 (限制从业, 第九条), so it goes with
    the fine; 责令改正 and 责令退回 stay, and no hearing is due."""
    spared = decide(institution("38.1", "30000.00", major_loss=True, circumstances={"no_fault": True}))
    assert spared["no_penalty"] == "must" and spared["measures"] == ["责令改正", "责令退回"]
    assert spared["hearing_right"] is False and not any("第四十三条" in b for b in spared["basis"])
    assert not any("第四十三条" in r["basis"] for r in spared["referrals"])  # no 处分 either: it goes with the ban


@pytest.mark.parametrize("circumstance", ["no_harm", "harm_minor"])
def test_a_major_loss_contradicts_a_harmless_case(circumstance):
    with pytest.raises(InputError) as caught:
        decide(institution("38.1", "100.00", major_loss=True, circumstances={circumstance: True}))
    assert f"circumstances.{circumstance}" in str(caught.value) and "major_loss" in str(caught.value)


def test_the_ban_is_a_penalty_that_waits_for_filing():
    """行政处罚法 第五十四条: a 行政处罚 is notified and decided only after an approved 立案."""
    assert procedure.penalties({"measures": ["责令改正", BAN], "agreement_measures": []}) == [BAN]


@pytest.mark.parametrize("bad, fragment", [("term_years = 0", "正整数"), ('term_years = "5"', "正整数")])
def test_a_bad_term_in_the_rules_file_is_named(tmp_path, bad, fragment):
    path = tmp_path / "penalties.toml"
    path.write_text(PENALTIES_FILE.read_text(encoding="utf-8").replace("term_years = 5", bad, 1), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_penalty_rules(path)
    assert "term_years" in str(caught.value) and fragment in str(caught.value)


# ---------------------------------------------------------------- the command line

def test_penalty_decide_takes_major_loss(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(institution("38.3", "12000.00", major_loss=True), ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(penalty_cmd.app, ["decide", str(path)])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["measures"] == ["责令改正", "责令退回", "罚款", BAN] and out["hearing_right"] is True
    assert out["fine_yuan"] == {"min": "12000.00", "max": "24000.00"} and out["recover_yuan"] == "12000.00"
    assert {"measure": BAN, "track": "administrative", "imposed_by": "医疗保障行政部门", "term_years": 5} \
        in out["measures_detail"]


def test_penalty_decide_names_a_misspelt_flag(tmp_path):
    path = tmp_path / "case.json"
    path.write_text(json.dumps(institution("38.3", "12000.00", major_losses=True), ensure_ascii=False, indent=2),
                    encoding="utf-8")
    result = CliRunner().invoke(penalty_cmd.app, ["decide", str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "键 major_losses：" in result.stderr and "major_loss" in result.stderr.split("允许的键")[1]


# ---------------------------------------------------------------- the reviewer's screen and the 决定书's words

class _Client:
    def __init__(self) -> None:
        self.params: dict = {}

    def proposal(self, _record_id: str, params: dict) -> dict:
        self.params = params
        case = institution("38.4", "60000.00", major_loss=params["major_loss"] == "true")
        return {"findings": [], "institution_points_total": 0, "penalty": decide(case)}


def test_the_decision_screen_carries_the_flag():
    client = _Client()
    vm = DecisionViewModel(client, "r1")  # type: ignore[arg-type]
    vm.refresh()
    assert client.params["major_loss"] == "false" and not any(BAN in line for line in vm.range_text())
    vm.major_loss = True
    vm.refresh()
    assert client.params["major_loss"] == "true"
    assert any(f"{BAN}（5 年内，由医疗保障行政部门作出）" in line for line in vm.range_text())
    vm.reason, vm.fine_yuan, vm.fine_reason = "造成基金重大损失", "70000.00", "情节严重"
    assert vm.choice()["major_loss"] is True


def test_the_decision_names_the_legal_representative_when_known():
    decision = {"proposal": decide(institution("38.2", major_loss=True)), "rectification_due": "2027-01-15"}
    named = measure_lines(decision, [BAN], {"title": "主要负责人", "name": "陈立新"})
    assert named == ["你单位主要负责人陈立新 5 年内禁止从事定点医药机构管理活动。"]
    assert measure_lines(decision, [BAN]) == ["你单位法定代表人（主要负责人） 5 年内禁止从事定点医药机构管理活动。"]


# ---------------------------------------------------------------- through the bureau, on SQLite and PostgreSQL

def test_a_decision_under_article_43_through_the_api(world):  # noqa: F811
    bureau, tablet = world
    record_id = inspect(tablet, PHARMACY, {"R-FEE-02": ("代刷医保卡购买日用品，无对应购药", "3860.50")})
    reviewer, supervisor, legal = Staff(bureau.url, "shenhe"), Staff(bureau.url, "zhuren"), Staff(bureau.url, "fazhi")
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    assert BAN not in reviewer.get(f"{base}/proposal")["penalty"]["measures"]
    proposal = reviewer.get(f"{base}/proposal", params={"major_loss": "true"})
    assert proposal["flags"]["major_loss"] is True and proposal["penalty"]["hearing_right"] is True
    assert BAN in proposal["penalty"]["measures"]

    choice = {"major_loss": True, "fine_yuan": "5100.00", "fine_reason": "一般情节", "rectification_due": day(30),
              "reason": "造成医疗保障基金重大损失"}
    proposed = reviewer.post(f"{base}/proposal", choice)["decision"]
    assert BAN in proposed["measures"] and proposed["case_flags"]["major_loss"] is True
    refused = reviewer.post(f"{base}/notify", {"served_on": day(0)}, expect=409)["detail"]
    assert refused["reason"] == "not_filed" and BAN in refused["message"]  # a 行政处罚: 立案 first
    file_case(reviewer, supervisor, base)
    told = reviewer.post(f"{base}/notify", {"served_on": day(0)})["procedure"]["record"]["notice"]
    assert told["hearing_right"] is True
    notice = pdf_text(reviewer.get(f"{base}/procedure/notice.pdf"), "article-43-notice.pdf")
    assert f"{BAN}（5年内）" in notice and "要求举行听证" in notice
    reviewer.post(f"{base}/statement", {"waived": True})
    step(legal, base, "legal_review", {"opinion": "事实清楚，适用条例第四十三条正确", "passed": True})
    days_pass(bureau, record_id, 8)  # no hearing asked for within five working days
    decided = reviewer.post(f"{base}/decide")
    assert decided["status"] == "已决定" and decided["decision"]["doc_kind"] == "行政处罚"
    assert decided["decision"]["case_flags"]["major_loss"] is True

    text = pdf_text(reviewer.get(f"{base}/decision.pdf"), "article-43-decision.pdf")
    assert "医疗保障行政处罚决定书" in text
    assert "你单位法定代表人郑国强5年内禁止从事定点医药机构管理活动" in text
    assert "条例第四十三条" in text and "处罚款5,100.00元" in text
