"""Findings as the answers and the pinned template make them — pure functions over a Template and plain dicts.

A finding is a failed item: what the template says of it (title, category, severity, legal basis) and what the
answer says (amount, description, photos). The tablet builds its findings with `finding_of`; the bureau derives
them again from the raw answers with `derive_findings` and compares (`differences`): the measures it proposes rest
on what it derived, never on what the tablet reported. Who is responsible (``staff_codes``) is not derivable: the
inspectors name them, and they travel in the tablet's findings only.

A 疑点 the inspectors confirmed on site (属实, a record's ``suspicion_checks``) is a finding too, under its screening
rule's finding category (`suspicion_findings`); the tablet does not report those among its findings, the bureau
adds them to the ones it derives.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from checklists.errors import InputError
from checklists.money import format_money, parse_money
from checklists.scoring import parse_answers
from checklists.templates import Item, Template
from checklists.vocabulary import vocabulary

# the fields derived from the template and the answer, each with the words a reviewer reads
COMPARED = {"title": "检查项", "category": "违规类别", "severity": "严重程度", "legal_basis": "法律依据",
            "amount_yuan": "涉及金额", "description": "情况说明", "photos": "照片"}


def finding_of(item: Item, amount_yuan: str | None, description: str, photos: Sequence[str]) -> dict[str, Any]:
    """One failed item as a finding (without ``staff_codes``): the template's words and the answer's facts."""
    return {"item_id": item.id, "title": item.text, "category": item.category,
            "category_title": vocabulary().categories[item.category].title, "severity": item.severity,
            "legal_basis": item.basis, "amount_yuan": amount_yuan, "description": description,
            "photos": list(photos)}


def derive_findings(template: Template, answers: Any) -> list[dict[str, Any]]:
    """Every failed item of a complete set of answers as a finding, in template order. Raises InputError as
    `checklists.scoring.score` does."""
    parsed = parse_answers(template, answers, complete=True)
    out = []
    for item in template.items:
        answer = parsed[item.id]
        if answer.result != "fail":
            continue
        photos = answers[item.id].get("photos")
        out.append(finding_of(item, None if answer.amount_yuan is None else format_money(answer.amount_yuan),
                              answer.note, [str(p) for p in photos] if isinstance(photos, list) else []))
    return out


def suspicion_findings(checks: Sequence[Mapping[str, Any]] | None,
                       rules: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """Every confirmed 疑点 check as a finding, in the record's order: the amount confirmed and what the inspectors
    saw, under the rule's finding category, severity and legal basis (`rules`: rule id → {"name", "category",
    "severity", "basis"}, as the bureau's screening rules file has them). The hit id stands as the item id. A check
    of a rule `rules` does not hold is an InputError."""
    out = []
    for check in checks or []:
        if check["verdict"] != "confirmed":
            continue
        rule = rules.get(check["rule"])
        if rule is None:
            raise InputError(f"疑点 {check['hit_id']} 的筛查规则 {check['rule']} 不在规则文件中，无法认定违规类别")
        out.append({"item_id": check["hit_id"], "title": f"疑点核实属实：{rule['name']}", "rule": check["rule"],
                    "category": rule["category"], "category_title": vocabulary().categories[rule["category"]].title,
                    "severity": rule["severity"], "legal_basis": rule["basis"],
                    "amount_yuan": format_money(parse_money(check["amount_yuan"])), "description": check["note"],
                    "photos": list(check["photos"])})
    return out


def _shown(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "（无）"
    text = "、".join(str(v)[:12] for v in value) if isinstance(value, list) else str(value)
    return text if len(text) <= 60 else text[:60] + "…"


def differences(reported: Any, derived: Sequence[Mapping[str, Any]]) -> list[str]:
    """How the tablet's findings differ from the derived ones, in Chinese (empty: they agree). Order does not
    matter; the category's title is the bureau's current wording and is not compared. `reported` may be anything
    (a record stored before findings were validated)."""
    if not isinstance(reported, list) or not all(isinstance(f, dict) for f in reported):
        return [f"平板所报问题不是问题列表（应有 {len(derived)} 项）"]
    out: list[str] = []
    by_item: dict[str, Mapping[str, Any]] = {}
    for finding in reported:
        item_id = finding.get("item_id")
        item_id = item_id if isinstance(item_id, str) else _shown(item_id)
        if item_id in by_item:
            out.append(f"平板重复报告了检查项 {_shown(item_id)}")
        by_item[item_id] = finding
    expected = {f["item_id"]: f for f in derived}
    for item_id, finding in expected.items():
        told = by_item.get(item_id)
        if told is None:
            out.append(f"答案中不符合的检查项 {item_id}（{finding['title']}）平板未报告为问题")
            continue
        for key, label in COMPARED.items():
            if told.get(key) != finding[key]:
                out.append(f"检查项 {item_id} 的{label}：平板报“{_shown(told.get(key))}”，按答案与模板应为"
                           f"“{_shown(finding[key])}”")
    for item_id in by_item:
        if item_id not in expected:
            out.append(f"平板报告的问题 {_shown(item_id)} 在答案中并非不符合项")
    return out
