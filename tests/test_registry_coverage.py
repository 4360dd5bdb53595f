"""Coverage of the 3-year goal: who counts as inspected, who is overdue, and the CLI report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from bureau.coverage import coverage_report, shift_years
from tests.support import repo_root, run_cli


def institution(code: str, kind: str, last: date | str | None) -> dict:
    return {"code": code, "name": f"机构{code}", "kind": kind, "last_inspected": last}


def test_three_years_to_the_day_counts_and_one_more_day_is_overdue():
    as_of = date(2026, 6, 1)
    report = coverage_report([
        institution("H35010200001", "hospital", date(2023, 6, 1)),   # exactly three years ago: covered
        institution("H35010200002", "hospital", date(2023, 5, 31)),  # one day too old
        institution("P35010200001", "pharmacy", None),               # never inspected
        institution("P35010200002", "pharmacy", "2025-12-01"),       # ISO text works too
    ], as_of)
    assert (report["total"], report["covered"], report["overdue"]) == (4, 2, 2)
    assert report["progress_percent"] == "50.00"
    assert report["counts_inspections_since"] == "2023-06-01"
    overdue = report["overdue_institutions"]
    assert [o["code"] for o in overdue] == ["P35010200001", "H35010200002"]  # never inspected first
    assert overdue[0]["last_inspected"] is None and overdue[0]["days_overdue"] is None
    assert overdue[1] == {"code": "H35010200002", "name": "机构H35010200002", "kind": "hospital",
                          "last_inspected": "2023-05-31", "due_date": "2026-05-31", "days_overdue": 1}
    by_kind = {k["kind"]: k for k in report["by_kind"]}
    assert by_kind["hospital"]["covered"] == 1 and by_kind["hospital"]["progress_percent"] == "50.00"
    assert by_kind["primary"]["total"] == 0 and by_kind["primary"]["progress_percent"] == "0.00"


def test_overdue_list_is_ordered_by_how_long_ago_the_due_date_passed():
    report = coverage_report([institution(f"P3501020000{n}", "pharmacy", date(2020 + n % 3, 1, 1 + n))
                              for n in range(6)], date(2026, 1, 1))
    dues = [o["due_date"] for o in report["overdue_institutions"]]
    assert dues == sorted(dues) and len(dues) == 6


def test_leap_day_shifts_to_the_28th():
    assert shift_years(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert shift_years(date(2027, 2, 28), -3) == date(2024, 2, 28)


def test_cli_coverage_reports_the_imported_registry(tmp_path: Path):
    data = ["--data", str(tmp_path / "bureau"), "--db", f"sqlite:///{tmp_path / 'bureau.db'}"]
    run_cli("registry", "import", "institutions", str(repo_root() / "bureau" / "demo" / "institutions.csv"), *data)
    result = run_cli("registry", "coverage", "--as-of", "2026-11-23", *data)
    report = json.loads(result.stdout)
    assert (report["total"], report["covered"], report["overdue"]) == (40, 29, 11)
    assert report["overdue_institutions"][0]["last_inspected"] is None
    assert "三年全覆盖进度：29/40" in result.stderr
    assert run_cli("registry", "coverage", "--as-of", "明天", *data, check=False).returncode == 2
