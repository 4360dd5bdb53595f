"""The 现场检查笔录's legal elements as data (rules/onsite_record.toml): the notices read aloud at check-in (检查依据,
配合义务, 回避), the words the party confirms on every page, and the deadline of a 先行登记保存."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml, table_at, text_at

RECORD_RULES_FILE = PACKAGE_DIR / "rules" / "onsite_record.toml"


@dataclass(frozen=True)
class Notice:
    id: str
    title: str
    basis: str
    text: str
    question: str = ""  # a notice with a question is answered with one of `choices`
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preservation:
    days: int  # working days (`counting_basis`)
    basis: str
    counting_basis: str
    text: str


@dataclass(frozen=True)
class RecordRules:
    statement: str
    statement_basis: str
    notices: tuple[Notice, ...]
    preservation: Preservation

    def notice(self, notice_id: str) -> Notice:
        return next(n for n in self.notices if n.id == notice_id)


def parse_record_rules(doc: dict[str, Any], problems: Problems) -> RecordRules:
    statement = table_at(doc, "statement", problems)
    notices = []
    raw_notices = doc.get("notices")
    if not isinstance(raw_notices, list) or not raw_notices:
        problems.add(("notices",), "缺少告知事项（[[notices]]）")
        raw_notices = []
    for index, raw in enumerate(raw_notices):
        path = ("notices", index)
        choices = raw.get("choices", [])
        if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
            problems.add(path + ("choices",), "应为非空字符串的数组")
            choices = []
        question = text_at(raw, "question", path, problems, required=False)
        if bool(question) != bool(choices):
            problems.add(path + ("choices",), "有 question 的告知事项须列出回答选项 choices，反之亦然")
        notices.append(Notice(text_at(raw, "id", path, problems), text_at(raw, "title", path, problems),
                              text_at(raw, "basis", path, problems), text_at(raw, "text", path, problems),
                              question, tuple(choices)))
    ids = [n.id for n in notices]
    if len(set(ids)) != len(ids):
        problems.add(("notices",), "告知事项的 id 重复")
    preservation = table_at(doc, "preservation", problems)
    days = preservation.get("days")
    if type(days) is not int or not 1 <= days <= 60:
        problems.add(("preservation", "days"), "应为 1～60 之间的整数（工作日）")
        days = 0
    return RecordRules(
        text_at(statement, "text", ("statement",), problems), text_at(statement, "basis", ("statement",), problems),
        tuple(notices), Preservation(days, text_at(preservation, "basis", ("preservation",), problems),
                                     text_at(preservation, "counting_basis", ("preservation",), problems),
                                     text_at(preservation, "text", ("preservation",), problems)))


def load_record_rules(path: Path = RECORD_RULES_FILE) -> RecordRules:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    rules = parse_record_rules(doc, problems)
    problems.raise_if_any()
    return rules


@cache
def record_rules() -> RecordRules:
    """The packaged rules, read once."""
    return load_record_rules()


def working_days_after(start: date, days: int) -> date:
    """The day `days` working days after `start`, counting Monday to Friday. Public holidays and the weekend days
    worked in their place (调休) are set each year by the State Council and are not known offline: the 笔录 says so
    beside the date."""
    day = start
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day
