"""规则核实情况 on the supervisor's 智能监控 screen (issue #16): the view-model reads the bureau's per-rule figures
(`GET /v1/screening/confirmations`) from a real bureau, on SQLite and PostgreSQL, before any 疑点 went on site and
after a record came back with one confirmed and one excluded; and each rule's line as the screen shows it."""

from __future__ import annotations

from sqlmodel import Session

from bureau.assignments import assignments_for
from bureau.db import make_engine
from staff_app.supervisor_vm import LoginViewModel, ScreeningViewModel, confirmation_line
from tests.support import STAFF_PASSWORD
from tests.test_suspicions import PHARMACY, PLANTED, plant_and_issue, signed_by_hand


def test_a_rules_line_names_every_figure_and_the_rate_as_a_percentage():
    figures = {"rule": "R-GENDER", "rule_name": "限性别项目与参保人性别不符", "carried": 3, "checked": 2, "confirmed": 1,
               "excluded": 1, "confirmed_amount_yuan": "1234.5", "confirmation_rate": "0.5000"}
    assert confirmation_line(figures) == \
        "带到现场 3 · 已核 2 · 属实 1 · 排除 1 · 属实金额 ¥1,234.50 · 属实率 50.0%"
    unchecked = {**figures, "checked": 0, "confirmed": 0, "excluded": 0, "confirmed_amount_yuan": "0.00",
                 "confirmation_rate": None}
    assert confirmation_line(unchecked).endswith("属实金额 ¥0.00 · 属实率 —（尚未核查）")


def test_the_screen_reads_the_per_rule_figures_when_shown(running_bureau, tmp_path):
    s = signed_by_hand(running_bureau, tmp_path / "tablet")  # adds the staff accounts, zhuren among them
    client = LoginViewModel(running_bureau.url).login("zhuren", STAFF_PASSWORD)
    assert client is not None
    vm = ScreeningViewModel(client)
    vm.show()
    assert vm.loaded and vm.confirmations_message == ""
    assert vm.confirmations_summary == {"assignments": 0, "records": 0}
    assert all(f["carried"] == 0 for f in vm.confirmations) and len(vm.confirmations) >= 8

    issued = plant_and_issue(running_bureau.settings, PLANTED, [PHARMACY])
    engine = make_engine(running_bureau.settings.database_url)
    with Session(engine) as session:
        [gender, days, _visits] = next(a["suspicions"] for a in assignments_for(session, "I0001")
                                       if a["id"] == issued[PHARMACY])
    engine.dispose()
    record = s.variant("confirmations-vm")
    record["assignment_id"] = issued[PHARMACY]
    record["suspicion_checks"] = [
        {"hit_id": gender["hit_id"], "rule": "R-GENDER", "verdict": "confirmed", "note": "病历记载患者为女性",
         "amount_yuan": "150.00", "photos": []},
        {"hit_id": days["hit_id"], "rule": "R-DAYS", "verdict": "excluded", "note": "慢病长期处方，已备案",
         "amount_yuan": "0.00", "photos": []}]
    assert s.send(record, "confirmations-vm")[:2] == (200, "accepted")

    vm.show()  # the screen opened again
    assert vm.confirmations_summary == {"assignments": 1, "records": 1}
    carried = {f["rule"]: confirmation_line(f) for f in vm.confirmations if f["carried"]}
    assert carried == {
        "R-GENDER": "带到现场 1 · 已核 1 · 属实 1 · 排除 0 · 属实金额 ¥150.00 · 属实率 100.0%",
        "R-DAYS": "带到现场 1 · 已核 1 · 属实 0 · 排除 1 · 属实金额 ¥0.00 · 属实率 0.0%",
        "R-VISITS": "带到现场 1 · 已核 0 · 属实 0 · 排除 0 · 属实金额 ¥0.00 · 属实率 —（尚未核查）"}

    client.token = "not-a-session"
    vm.load_confirmations()
    assert vm.confirmations_message and vm.confirmations_summary == {"assignments": 1, "records": 1}
