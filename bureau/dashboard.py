"""The year at a glance (科室负责人): inspections done against planned, coverage toward every institution within three
years, violations by category and institution kind, money recovered and fined by month, institutions by grade.

Every part is a table ``{"name", "title", "columns", "rows"}`` of plain strings and integers, so the screen draws
its charts from the same rows it lets the user export. `tables` is pure; `load` reads what it needs.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

import checklists
from bureau import decisions, ledger, procedure, registry
from bureau.coverage import coverage_report
from bureau.models import Assignment, Institution, ReceivedRecord, ReviewCase
from bureau.review import DECIDED, PUBLISHED, WITHDRAWN, counted_findings, local_date


def _table(name: str, title: str, columns: Sequence[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"name": name, "title": title, "columns": list(columns), "rows": rows}


def progress_table(year: int, issued: Iterable[date], done: Iterable[date]) -> dict[str, Any]:
    """Assignments issued (planned) and inspections received (done) per month of `year`."""
    planned = Counter(d.month for d in issued if d.year == year)
    finished = Counter(d.month for d in done if d.year == year)
    rows = [[f"{year}-{m:02d}", planned[m], finished[m]] for m in range(1, 13)]
    rows.append(["合计", sum(planned.values()), sum(finished.values())])
    return _table("progress", "检查完成情况（计划：下达的检查任务；完成：局端收到的检查记录）", ["月份", "计划", "完成"], rows)


def coverage_table(report: Mapping[str, Any]) -> dict[str, Any]:
    rows = [[k["name"], k["total"], k["covered"], k["progress_percent"]] for k in report["by_kind"]]
    rows.append(["合计", report["total"], report["covered"], report["progress_percent"]])
    return _table("coverage", f"三年全覆盖进度（截至 {report['as_of']}）", ["机构类别", "在册", "三年内已检查", "进度（%）"],
                  rows)


def violations_table(findings: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`findings`: (institution kind, category) of each finding."""
    kinds = dict(checklists.KINDS)
    counted = Counter(findings)
    categories = sorted({c for _k, c in counted}, key=lambda c: tuple(int(p) for p in c.split(".")))
    titles = checklists.CATEGORIES
    rows = [[c, titles[c].title if c in titles else "", *(counted[(k, c)] for k in kinds),
             sum(counted[(k, c)] for k in kinds)] for c in categories]
    rows.append(["合计", "", *(sum(counted[(k, c)] for c in categories) for k in kinds), sum(counted.values())])
    return _table("violations", "发现问题（按违规类别与机构类别）", ["类别", "名称", *kinds.values(), "合计"], rows)


def money_table(year: int, entries: Sequence[ledger.Entry]) -> dict[str, Any]:
    months = ledger.money_by_month(entries, year)
    total = ledger.summary(entries, year)
    rows = [[m["month"], m["recovered_yuan"], m["fined_yuan"]] for m in months]
    rows.append(["合计", total["recovered_yuan"], total["fined_yuan"]])
    return _table("money", "追回金额与罚款（按月，元；复议撤销在撤销当月冲减）", ["月份", "追回（元）", "罚款（元）"], rows)


def grades_table(year: int, codes: Iterable[str], entries: Sequence[ledger.Entry]) -> dict[str, Any]:
    counts = ledger.grade_counts(codes, entries, year)
    return _table("grades", f"{year} 年度机构考核等次（按协议记分）", ["等次", "机构数"],
                  [[grade, n] for grade, n in counts.items()])


def deadlines_table(cases: Iterable[tuple[str, str, Mapping[str, Any]]], as_of: date) -> dict[str, Any]:
    """Filed cases not yet decided, nearest the 90-day limit first (行政处罚法 Art. 60, with the extensions):
    `cases` are (record id, institution name, procedure record)."""
    clocks = [(record_id, name, procedure.clock(proc, as_of, decided=False)) for record_id, name, proc in cases]
    rows = [[record_id, name, c["filed_on"], c["decision_due"], c["days_left"], "超期" if c["overdue"] else ""]
            for record_id, name, c in sorted(clocks, key=lambda x: (x[2]["days_left"], x[0])) if c["filed_on"]]
    overdue = sum(1 for r in rows if r[5])
    return _table("deadlines", f"办案期限（立案之日起九十日内作出决定，含批准延长；截至 {as_of}）：超期 {overdue} 件",
                  ["检查记录", "机构", "立案日期", "决定期限", "剩余天数", "超期"], rows)


def tables(year: int, *, issued: Iterable[date], done: Iterable[date], coverage: Mapping[str, Any],
           findings: Iterable[tuple[str, str]], entries: Sequence[ledger.Entry],
           institution_codes: Iterable[str]) -> dict[str, Any]:
    parts = [progress_table(year, issued, done), coverage_table(coverage), violations_table(findings),
             money_table(year, entries), grades_table(year, institution_codes, entries)]
    return {"year": year, "tables": parts}


def load(session: Session, year: int, as_of: date) -> dict[str, Any]:
    issued = [local_date(at) for at in session.exec(
        select(Assignment.issued_at).where(Assignment.revoked == False))]  # noqa: E712
    done = [local_date(first) for first in session.exec(
        select(func.min(ReceivedRecord.received_at)).group_by(ReceivedRecord.assignment_id))]
    findings = []
    for record, kind, day in session.exec(
            select(ReceivedRecord.record, Institution.kind, col(ReviewCase.inspected_on))
            .join(ReviewCase, (col(ReviewCase.record_id) == ReceivedRecord.record_id)
                  & (col(ReviewCase.version) == ReceivedRecord.version))
            .join(Institution, col(Institution.code) == ReceivedRecord.institution_code)):
        if day is not None and day.year == year:
            findings += [(kind, f["category"]) for f in counted_findings(record)]
    codes = list(session.exec(select(Institution.code).where(Institution.active == True)))  # noqa: E712
    pending = session.exec(select(ReviewCase.record_id, Institution.name, ReviewCase.procedure)
                           .join(Institution, col(Institution.code) == ReviewCase.institution_code, isouter=True)
                           .where(col(ReviewCase.filed_on).is_not(None),
                                  col(ReviewCase.status).not_in((DECIDED, PUBLISHED, WITHDRAWN))))
    board = tables(year, issued=issued, done=done, coverage=coverage_report(registry.inspection_status(session), as_of),
                  findings=findings, entries=ledger.entries(decisions.load_decisions(session)), institution_codes=codes)
    board["tables"].append(deadlines_table([(r, n or "", p or {}) for r, n, p in pending], as_of))
    return board
