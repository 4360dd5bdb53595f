"""The reviewer's discretion on a real bureau (SQLite and PostgreSQL): the band the cited 裁量情节 leave (行政处罚法
Art. 32/34), stored with the proposal and printed in the 决定书; 一事不再罚 (Art. 29) against an issued, not
withdrawn fine; the 时效 (Art. 36) refusing a penalty at the decision."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

import pytest

from tests.test_disclose import draw
from tests.test_review_flow import PHARMACY
from tests.test_review_support import Staff, add_review_staff, file_case, inspect, pin_tablet

FAILED = {"R-FEE-02": ("收银台代刷记录，无对应购药", "5000.00")}  # 38.4: fine 5,000–10,000, middle 6,500–8,500
DUE = (date.today() + timedelta(days=30)).isoformat()


@pytest.fixture
def world(running_bureau, tmp_path):
    add_review_staff(running_bureau.settings)
    draw(running_bureau, tmp_path, "2026-裁量-药店")  # the pharmacy drawn again: a second assignment to inspect
    return pin_tablet(running_bureau, tmp_path / "tablet"), Staff(running_bureau.url, "shenhe")


def to_decision(reviewer: Staff, record_id: str, **choice) -> str:
    """Proposed with `choice`, filed, notified, the statement waived: the case under review waits for the decision."""
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/proposal", {"reason": "事实清楚", "rectification_due": DUE, **choice})
    file_case(reviewer, Staff(reviewer.url, "zhuren"), base)
    reviewer.post(f"{base}/notify", {"deadline": (date.today() + timedelta(days=5)).isoformat()})
    reviewer.post(f"{base}/statement", {"waived": True})
    return base


def test_the_fine_within_the_band_of_the_cited_factors_and_no_second_fine(world):
    tablet, reviewer = world
    first = inspect(tablet, PHARMACY, FAILED)
    base = f"/v1/review/records/{first}"
    reviewer.post(f"{base}/start")

    proposal = reviewer.get(f"{base}/proposal")
    band = proposal["penalty"]["band"]
    assert (band["low_yuan"], band["high_yuan"], band["factors"]) == ("6500.00", "8500.00", [])
    assert {"cooperated_truthfully", "repeat_offence", "eliminated_harm"} <= {
        f["id"] for f in proposal["discretion"]["factors"]}
    assert proposal["limitation"]["expired"] is False and proposal["limitation"]["years"] == 2
    lighter = reviewer.get(f"{base}/proposal", params={"factor": ["cooperated_truthfully"]})["penalty"]["band"]
    assert (lighter["low_yuan"], lighter["high_yuan"]) == ("5000.00", "6500.00")
    assert reviewer.get(f"{base}/proposal", expect=422, params={"factor": ["后悔"]})["detail"]["problems"]

    choice = {"fine_yuan": "5500", "fine_reason": "积极配合调查", "reason": "事实清楚", "rectification_due": DUE}
    refused = reviewer.post(f"{base}/proposal", choice, expect=422)["detail"]["problems"]
    assert any("罚款 5500.00 元不在裁量幅度 6500.00～8500.00 元内" in p for p in refused), refused
    proposed = reviewer.post(f"{base}/proposal", {**choice, "factors": ["cooperated_truthfully"]})["decision"]
    assert proposed["case_flags"]["factors"] == ["cooperated_truthfully"]
    assert [f["id"] for f in proposed["proposal"]["band"]["factors"]] == ["cooperated_truthfully"]
    file_case(reviewer, Staff(reviewer.url, "zhuren"), base)
    reviewer.post(f"{base}/notify", {"deadline": (date.today() + timedelta(days=5)).isoformat()})
    reviewer.post(f"{base}/statement", {"waived": True})
    issued = reviewer.post(f"{base}/decide")["decision"]
    assert issued["status"] == "issued" and issued["fine_yuan"] == "5500.00"
    pdf = reviewer.get(f"{base}/decision.pdf")
    text = "".join(subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
                   .stdout.decode().split())
    assert "裁量情节：从轻：积极配合调查" in text

    # 一事不再罚: the same institution, category and period are refused at the decision, naming the first.
    second = inspect(tablet, PHARMACY, FAILED)
    reviewer.post(f"/v1/review/records/{second}/start")
    again = to_decision(reviewer, second, fine_yuan="7000", fine_reason="一般情节")
    barred = reviewer.post(f"{again}/decide", expect=409)["detail"]
    assert barred["reason"] == "already_fined" and issued["decision_no"] in barred["message"]
    assert "一事不再罚" in barred["message"] and "38.4" in barred["message"]
    reviewer.post(f"{base}/withdraw", {"reason": "复议决定撤销"})  # a withdrawn decision no longer bars
    assert reviewer.post(f"{again}/decide")["decision"]["status"] == "issued"


def test_beyond_the_time_limit_no_penalty_is_decided(world):
    tablet, reviewer = world
    record_id = inspect(tablet, PHARMACY, FAILED)
    long_ago = {"conduct_from": "2020-01-01", "conduct_to": (date.today() - timedelta(days=3 * 365)).isoformat()}
    base = f"/v1/review/records/{record_id}"
    reviewer.post(f"{base}/start")
    warned = reviewer.get(f"{base}/proposal", params=long_ago)["limitation"]
    assert warned["expired"] and "不再给予行政处罚" in warned["message"]
    extended = reviewer.get(f"{base}/proposal", params={**long_ago, "limitation_extended": "true"})["limitation"]
    assert not extended["expired"] and extended["years"] == 5

    to_decision(reviewer, record_id, fine_yuan="7000", fine_reason="一般情节", **long_ago)  # proposed, warned
    refused = reviewer.post(f"{base}/decide", expect=409)["detail"]
    assert refused["reason"] == "limitation_expired" and "第三十六条" in refused["message"]
    assert "罚款" in refused["message"]
    revised = reviewer.post(f"{base}/proposal", {"waive_penalty": True, "reason": "已过时效，不予行政处罚",
                                                 "rectification_due": DUE, **long_ago})["decision"]
    assert revised["fine_yuan"] is None and "罚款" not in revised["measures"]
    decided = reviewer.post(f"{base}/decide")["decision"]
    assert decided["status"] == "issued" and decided["measures"] == ["责令改正", "责令退回"]
