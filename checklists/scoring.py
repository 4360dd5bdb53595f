"""Scoring a checklist's answers — pure functions over a Template and plain dicts.

score = earned weight / applicable weight × 100, rounded half up to one decimal; `na` items leave both
sides. Any failed severity-A item makes the inspection critical (referral for fraud investigation),
whatever the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

from checklists._toml import Problems
from checklists.money import ZERO, format_money, money_problem, parse_money
from checklists.templates import Item, Template
from checklists.vocabulary import vocabulary

RESULTS = ("pass", "fail", "na")
CRITICAL_SEVERITY = "A"
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Answer:
    result: str
    amount_yuan: Decimal | None = None
    note: str = ""
    na_reason: str = ""


@dataclass(frozen=True)
class FailedItem:
    item: Item
    amount_yuan: Decimal | None
    note: str


@dataclass(frozen=True)
class Progress:
    """The live score while answering: answered n of N, score so far (None until something applies)."""

    answered: int
    total: int
    earned_weight: int
    applicable_weight: int
    score: Decimal | None
    critical: bool


@dataclass(frozen=True)
class ScoreResult:
    template_id: str
    template_hash: str
    score: Decimal | None
    earned_weight: int
    applicable_weight: int
    critical: bool
    failed: tuple[FailedItem, ...]

    def failed_by_section(self) -> dict[str, list[FailedItem]]:
        out: dict[str, list[FailedItem]] = {}
        for failed in self.failed:
            out.setdefault(failed.item.section, []).append(failed)
        return out

    def categories(self) -> dict[str, dict[str, Any]]:
        """Violation categories found, in regulation order, with their items and the amounts stated."""
        found: dict[str, dict[str, Any]] = {}
        for category in vocabulary().categories.values():
            hits = [f for f in self.failed if f.item.category == category.id]
            if hits:
                found[category.id] = {
                    "title": category.title,
                    "basis": category.basis,
                    "items": [f.item.id for f in hits],
                    "amount_yuan": format_money(sum((f.amount_yuan or ZERO for f in hits), ZERO)),
                }
        return found

    def penalty_findings(self) -> list[dict[str, Any]]:
        """The failed items as findings for `checklists.penalty.decide` (intent is the reviewer's call)."""
        return [{"category": f.item.category, "amount_yuan": format_money(f.amount_yuan or ZERO),
                 "intent_to_defraud": False, "item_id": f.item.id} for f in self.failed]

    def to_json(self, template: Template) -> dict[str, Any]:
        """The `yibao checklist score` output."""
        return {
            "template": self.template_id,
            "template_hash": self.template_hash,
            "score": None if self.score is None else float(self.score),
            "applicable_weight": self.applicable_weight,
            "earned_weight": self.earned_weight,
            "critical": self.critical,
            "failed": [
                {"id": f.item.id, "section": f.item.section, "section_title": template.section_title(f.item.section),
                 "text": f.item.text, "severity": f.item.severity, "category": f.item.category,
                 "weight": f.item.weight,
                 "amount_yuan": None if f.amount_yuan is None else format_money(f.amount_yuan), "note": f.note}
                for f in self.failed
            ],
            "failed_by_section": {section: [f.item.id for f in items]
                                  for section, items in self.failed_by_section().items()},
            "categories": self.categories(),
        }


def parse_answers(template: Template, raw: Any, *, complete: bool) -> dict[str, Answer]:
    """Validate raw answers; with `complete`, every item must be answered. Raises InputError naming each problem.

    An answer without a result (None or "") counts as unanswered. `na` needs a reason: `na_reason`, or the note.
    Keys other than result, amount_yuan, note and na_reason (e.g. photo references) are left to their owners.
    """
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add(("answers",), f"应为以条目编号为键的对象，实际为 {type(raw).__name__}")
        problems.raise_if_any()
    answers: dict[str, Answer] = {}
    for item_id, entry in raw.items():
        path = ("answers", item_id)
        if not template.has_item(item_id):
            problems.add(path, f"未知的条目编号（模板 {template.id} 中没有此条目）")
            continue
        if not isinstance(entry, dict):
            problems.add(path, f"应为对象（含 result 等），实际为 {type(entry).__name__}")
            continue
        result = entry.get("result")
        if result in (None, "") and not complete:
            continue
        if result not in RESULTS:
            shown = f"\"{result}\"" if isinstance(result, str) else repr(result)
            problems.add(path + ("result",), f"结果应为 pass、fail 或 na，实际为 {shown}")
            continue
        amount = entry.get("amount_yuan")
        if amount in (None, ""):
            amount = None
        else:
            problem = money_problem(amount)
            if problem:
                problems.add(path + ("amount_yuan",), problem)
                continue
            amount = parse_money(amount)
        texts = {}
        for key in ("note", "na_reason"):
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                problems.add(path + (key,), f"应为字符串，实际为 {value!r}")
            texts[key] = value.strip() if isinstance(value, str) else ""
        if result == "na" and not (texts["na_reason"] or texts["note"]):
            problems.add(path + ("na_reason",), "结果为 na（不适用）时须说明理由（na_reason 或 note）")
            continue
        answers[item_id] = Answer(result, amount, texts["note"], texts["na_reason"])
    if complete:
        for item in template.items:
            if item.id not in raw:
                problems.add(("answers", item.id), "缺少此条目的答案")
    problems.raise_if_any()
    return answers


def _tally(template: Template, answers: Mapping[str, Answer]) -> tuple[int, int, Decimal | None, bool]:
    earned = applicable = 0
    critical = False
    for item in template.items:
        answer = answers.get(item.id)
        if answer is None or answer.result == "na":
            continue
        applicable += item.weight
        if answer.result == "pass":
            earned += item.weight
        elif item.severity == CRITICAL_SEVERITY:
            critical = True
    score = None if applicable == 0 else (Decimal(earned * 100) / Decimal(applicable)).quantize(_TENTH, ROUND_HALF_UP)
    return earned, applicable, score, critical


def score(template: Template, answers: Any) -> ScoreResult:
    """Score a complete set of answers (see `parse_answers` for the shape). All-`na` gives score None."""
    parsed = parse_answers(template, answers, complete=True)
    earned, applicable, value, critical = _tally(template, parsed)
    failed = tuple(FailedItem(item, parsed[item.id].amount_yuan, parsed[item.id].note)
                   for _, items in template.items_by_section() for item in items
                   if parsed[item.id].result == "fail")
    return ScoreResult(template.id, template.hash, value, earned, applicable, critical, failed)


def score_partial(template: Template, answers: Any) -> Progress:
    """The live score of answers given so far; unanswered items count on neither side."""
    parsed = parse_answers(template, answers, complete=False)
    earned, applicable, value, critical = _tally(template, parsed)
    return Progress(len(parsed), len(template.items), earned, applicable, value, critical)
