"""The screening rules and the knowledge base, as data: `rules.toml` (each rule's SQL, result type, window, legal
basis) and the 两库-shaped knowledge base (`kb_default.csv`, or a bureau's own through `yibao screen kb import`)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bureau.screening.claims import IDENTIFIER, SEXES, RowError
from checklists.vocabulary import vocabulary

RULES_FILE = Path(__file__).with_name("rules.toml")
DEFAULT_KB = Path(__file__).with_name("kb_default.csv")
RESULT_TYPES = ("可疑", "明确违规")
HIT_COLUMNS = ("settlement_id", "institution", "person", "date", "month", "amount", "evidence")

KB_HEADERS = ("项目编码", "项目名称", "限定性别", "限定最大年龄", "每日最大数量", "单次最大用药天数", "互斥项目编码", "依据")
KB_COLUMNS = ("item_code", "item_name", "sex", "max_age", "daily_max", "max_days", "mutex_code", "basis")
_INTEGER = re.compile(r"[0-9]{1,3}")
_NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,4})?")


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    version: int
    result: str  # 可疑 | 明确违规
    window: str
    basis: str
    logic: str  # what it finds, in words
    sql: str  # a query over `claims` and `kb` returning HIT_COLUMNS; `$name` parameters from `params`
    # a hit confirmed on site is a finding of this category (条例 article.item), severity and legal basis
    finding_category: str
    finding_severity: str
    finding_basis: str
    params: dict[str, Any] = field(default_factory=dict)


class RuleFileError(Exception):
    pass


def load_rules(path: Path = RULES_FILE) -> list[Rule]:
    """Every rule of a rules file, checked: each names its id, name, version, result type, window, basis and SQL."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RuleFileError(f"{path.name}：无法读取规则文件（{exc}）") from None
    rules: list[Rule] = []
    for number, entry in enumerate(data.get("rule", []), 1):
        where = f"{path.name} 第 {number} 条规则（{entry.get('id', '无 id')}）"
        missing = [k for k in ("id", "name", "version", "result", "window", "basis", "logic", "sql",
                               "finding_category", "finding_severity", "finding_basis") if not entry.get(k)]
        if missing:
            raise RuleFileError(f"{where}：缺少 {'、'.join(missing)}")
        if entry["result"] not in RESULT_TYPES:
            raise RuleFileError(f"{where}：result 应为 可疑 或 明确违规，而不是 {entry['result']!r}")
        known = vocabulary()
        if entry["finding_category"] not in known.categories:
            raise RuleFileError(f"{where}：finding_category 应为条例的违规类别（{known.category_ranges()}），"
                                f"而不是 {entry['finding_category']!r}")
        if entry["finding_severity"] not in known.severities:
            raise RuleFileError(f"{where}：finding_severity 应为 {'、'.join(known.severities)} 之一，"
                                f"而不是 {entry['finding_severity']!r}")
        rules.append(Rule(**{k: entry[k] for k in Rule.__dataclass_fields__ if k in entry}))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise RuleFileError(f"{path.name}：规则 id 重复")
    return rules


@cache
def finding_rules() -> dict[str, dict[str, str]]:
    """Rule id → what `checklists.findings.suspicion_findings` makes of a hit of it confirmed on site (the rules
    file, read once per process)."""
    return {r.id: {"name": r.name, "category": r.finding_category, "severity": r.finding_severity,
                   "basis": r.finding_basis} for r in load_rules()}


def select_rules(rules: list[Rule], wanted: str | None) -> list[Rule]:
    """The rules named in a comma-separated list (all when None); an unknown id is a RuleFileError."""
    if not wanted:
        return rules
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    by_id = {r.id: r for r in rules}
    unknown = [n for n in names if n not in by_id]
    if unknown:
        raise RuleFileError(f"未知的规则：{'、'.join(unknown)}（可用：{'、'.join(by_id)}）")
    return [by_id[n] for n in dict.fromkeys(names)]


def kb_header_problem(columns: list[str]) -> str | None:
    names = [c.replace("\ufeff", "").strip() for c in columns]
    names = [re.sub(r"\s*[（(][^（()）]*[)）]$", "", n) for n in names]
    if names == list(KB_HEADERS):
        return None
    return "知识库表头应为：" + "、".join(KB_HEADERS)


def check_kb_row(line: int, cells: list[str], errors: list[RowError]) -> tuple[str, ...] | None:
    """One knowledge-base entry → its values (KB_COLUMNS order, empty for none), or None with its problems added."""
    if len(cells) != len(KB_HEADERS):
        errors.append(RowError(line, "", "", f"应有 {len(KB_HEADERS)} 列，实际 {len(cells)} 列"))
        return None
    values = [c.strip() for c in cells]
    before = len(errors)
    checks = ((0, IDENTIFIER, "应为 1–64 位字母、数字或 _-.", True), (3, _INTEGER, "应为空或整数（岁）", False),
              (4, _NUMBER, "应为空或正数", False), (5, _INTEGER, "应为空或整数（天）", False),
              (6, IDENTIFIER, "应为空或项目编码", False))
    for index, pattern, message, required in checks:
        if values[index] and not pattern.fullmatch(values[index]):
            errors.append(RowError(line, KB_HEADERS[index], values[index], message))
        elif required and not values[index]:
            errors.append(RowError(line, KB_HEADERS[index], "", "不能为空"))
    if values[2] and values[2] not in SEXES:
        errors.append(RowError(line, KB_HEADERS[2], values[2], "应为 男、女 或空"))
    for index in (1, 7):
        if not values[index]:
            errors.append(RowError(line, KB_HEADERS[index], "", "不能为空" + ("（写明法规或文件名称）" if index == 7 else "")))
    return None if len(errors) > before else tuple(values)
