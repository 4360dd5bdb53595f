"""People's 医保支付资格 in the bureau (医保发〔2024〕23号): a 终止 or 暂停 reached in one year is still shown, with the
day it ends, in the ledger of the next years, and a decision's 协议处理通知书 states where its points leave each person.
On SQLite and PostgreSQL."""

import subprocess
from datetime import UTC, date, datetime

from sqlmodel import Session

from bureau import decision_pdf, decisions
from bureau.api.routes_ledger import ledgers
from bureau.models import Decision

FORGER, PADDER, SPLITTER, CLEARED = "D350100000000000001", "D350100000000000002", "D350100000000000003", \
    "D350100000000000004"


def _decision(record_id: str, day: date, people: list[tuple[str, int]], status: str = "issued",
              term: int | None = None) -> Decision:
    decided = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, the same day
    return Decision(record_id=record_id, version=1, record_hash="0" * 64, institution_code="H35010000001",
                    status=status, doc_kind="协议处理", decision_no=f"医保协处〔{day.year}〕{record_id}号",
                    person_points=[{"staff_code": code, "behaviour_id": "x", "behaviour": "记分行为", "points": n,
                                    **({"suspension_months": term} if term else {})} for code, n in people],
                    drafted_at=decided, decided_at=decided,
                    withdrawn_at=decided if status == "withdrawn" else None, withdrawn_reason="复议撤销")


def _seed(session: Session) -> None:
    session.add_all([
        _decision("1", date(2024, 3, 13), [(FORGER, 12)]),  # 12 at once: barred 3 years
        _decision("2", date(2025, 6, 1), [(PADDER, 6)]),
        _decision("3", date(2025, 12, 20), [(PADDER, 6)]),  # 12 accumulated in December: barred 1 year
        _decision("4", date(2025, 11, 20), [(SPLITTER, 9)]),  # 9: suspended 1–6 months, into the next year
        _decision("5", date(2025, 12, 1), [(CLEARED, 12)], status="withdrawn"),  # withdrawn on 复议: nothing stands
    ])
    session.commit()


def _people(session: Session, **query) -> dict[str, dict]:
    answer = ledgers(session, None, **{"year": None, "as_of": None, **query})  # type: ignore[arg-type]
    return {row["staff_code"]: row for row in answer["people"]}


def test_ledger_carries_a_termination_and_a_suspension_into_the_next_year(bureau_engine):
    with Session(bureau_engine) as session:
        _seed(session)
        year_end = _people(session, year=2025)  # an earlier year: read on its last day
        assert (year_end[PADDER]["points"], year_end[PADDER]["action"], year_end[PADDER]["carried"]) == (12, "终止", False)
        assert (year_end[SPLITTER]["points"], year_end[SPLITTER]["action"]) == (9, "暂停")
        assert year_end[FORGER]["points"] == 0 and year_end[FORGER]["carried"]
        assert CLEARED not in year_end

        new_year = _people(session, as_of=date(2026, 1, 5))
        assert set(new_year) == {FORGER, PADDER, SPLITTER}
        assert new_year[PADDER] == {
            "staff_code": PADDER, "year": 2026, "points": 0, "action": "终止", "suspension_months": None,
            "bar_years": 1, "since": "2025-12-20", "until": "2026-12-20", "register_from": "2026-12-21",
            "at_once": False, "carried": True,
            "text": "终止医保支付资格，2026年12月21日前不得再次登记备案（2025年度累计记满12分，1年，自终止之日2025年12月20日起算）"}
        assert new_year[FORGER]["text"] == ("终止医保支付资格，2027年3月14日前不得再次登记备案"
                                            "（2024年度一次性记满12分，3年，自终止之日2024年3月13日起算）")
        assert (new_year[SPLITTER]["action"], new_year[SPLITTER]["until"], new_year[SPLITTER]["suspension_months"]) \
            == ("暂停", "2026-05-20", [1, 6])

        assert set(_people(session, as_of=date(2026, 5, 21))) == {FORGER, PADDER}  # the suspension has run out
        assert set(_people(session, as_of=date(2026, 12, 21))) == {FORGER}  # the 1-year bar has ended
        assert _people(session, as_of=date(2027, 3, 13))[FORGER]["action"] == "终止"  # its last day
        assert _people(session, as_of=date(2027, 3, 14)) == {}


def test_a_decision_states_where_its_points_leave_each_person(bureau_engine):
    with Session(bureau_engine) as session:
        _seed(session)
        draft = _decision("6", date(2026, 2, 1), [(SPLITTER, 3)])
        [entry] = decisions.person_points_as_issued(session, draft, date(2026, 2, 1))
    status = entry["status"]
    assert (status["year"], status["points"], status["action"], status["carried"], status["until"]) == (
        2026, 3, "暂停", True, "2026-05-20")
    [line] = decision_pdf.agreement_lines({"institution_points": [], "person_points": [entry]}, [])
    assert line == (f"对相关人员（医保人员代码 {SPLITTER}）“记分行为”记医保支付资格 3 分，2026 年度累计 3 分，"
                    "暂停医保支付资格1～6个月，自2025年11月20日起，最长至2026年5月20日（2025年度累计记满9分）。")
    # a decision issued before its statuses were kept prints the points alone
    [old] = decision_pdf.agreement_lines({"institution_points": [], "person_points": [{**entry, "status": None}]}, [])
    assert old == f"对相关人员（医保人员代码 {SPLITTER}）“记分行为”记医保支付资格 3 分。"


def test_a_term_fixed_with_the_points_is_the_suspensions_term(bureau_engine):
    """A decision that fixes the 暂停's term (2 months) ends the 暂停 then, in the ledger and in its notice's words."""
    with Session(bureau_engine) as session:
        _seed(session)
        session.add(_decision("7", date(2026, 3, 31), [(CLEARED, 9)], term=2))
        session.commit()
        row = _people(session, as_of=date(2026, 4, 1))[CLEARED]
        assert (row["action"], row["suspension_months"], row["until"]) == ("暂停", [2, 2], "2026-05-31")
        assert row["text"] == "暂停医保支付资格2个月，自2026年3月31日起至2026年5月31日止（2026年度累计记满9分）"


def test_the_agreement_notice_prints_the_status_a_persons_points_reach():
    """协议处理通知书: the points, the year's total, and the 终止 with the day re-registration opens."""
    from tests.browser import ARTIFACTS
    from tests.test_case_documents import both_tracks, text_of

    data = both_tracks()
    [person] = data["decision"]["person_points"] = [
        {"staff_code": FORGER, "behaviour_id": "fictitious_services", "behaviour": "虚构医药服务项目", "points": 12,
         "status": {"year": 2026, "points": 12, "action": "终止", "text": "终止医保支付资格，2029-12-03 前不得再次登记"
                    "备案（2026年度一次性记满12分，3年，自终止之日2026年12月2日起算）"}}]
    pdf = decision_pdf.render_case_document(data, "agreement")
    assert (f"对相关人员（医保人员代码{FORGER}）“虚构医药服务项目”记医保支付资格12分，2026年度累计12分，"
            + person["status"]["text"].replace(" ", "")) in text_of(pdf)
    assert "暂停、终止期限的计算：《中华人民共和国民法典》第二百零一条、第二百零二条" in text_of(pdf)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-", str(ARTIFACTS / "agreement-notice-person-status")],
                   input=pdf, check=True)
