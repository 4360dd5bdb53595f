"""The protocol-penalty engine: what the regulation prescribes for a case's findings. Pure over plain dicts.

Rules — which measures, multiples, fixed fines and suspensions each article prescribes, and under which
conditions — are data in rules/penalties.toml, each clause with its legal basis. Combining findings:
measures are the union in the fixed order, recovery and fine bounds add up, suspension is the widest range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Mapping

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml
from checklists.errors import KeyPath
from checklists.money import CENT, ZERO, format_money, money_problem, parse_money
from checklists.vocabulary import Vocabulary, vocabulary

PENALTIES_FILE = PACKAGE_DIR / "rules" / "penalties.toml"

CONDITIONS = ("loss", "intent", "refused_to_correct", "serious_consequences")
CASE_FLAGS = ("refused_to_correct", "serious_consequences")
_CASE_KEYS = ("party", "findings") + CASE_FLAGS + ("note",)
_PARTY_KEYS = ("kind", "code", "name")
_FINDING_KEYS = ("category", "amount_yuan", "intent_to_defraud", "item_id", "note")
_CLAUSE_KEYS = ("basis", "when", "when_any", "measures", "optional_measures", "recover", "fine_multiple",
                "fine_yuan", "suspension_months", "terminate_agreement")
_MULTIPLE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Clause:
    basis: str
    when: tuple[str, ...] = ()
    when_any: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    optional_measures: tuple[str, ...] = ()
    recover: bool = False
    fine_multiple: tuple[Decimal, Decimal] | None = None
    fine_yuan: tuple[Decimal, Decimal] | None = None
    suspension_months: tuple[int, int] | None = None
    terminate_agreement: bool = False

    def applies(self, facts: frozenset[str]) -> bool:
        return all(c in facts for c in self.when) and (not self.when_any or any(c in facts for c in self.when_any))


@dataclass(frozen=True)
class Redirect:
    basis: str
    when: tuple[str, ...]
    handled_as: int


@dataclass(frozen=True)
class ArticleRules:
    clauses: tuple[Clause, ...]
    redirect: Redirect | None = None


@dataclass(frozen=True)
class PenaltyRules:
    measure_order: tuple[str, ...]
    articles: Mapping[int, ArticleRules]


# ------------------------------------------------------------------------------------------ rules file

def _conditions(raw: dict, key: str, path: tuple, problems: Problems) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(path + (key,), "应为条件名称的数组")
        return ()
    for condition in value:
        if condition not in CONDITIONS:
            problems.add(path + (key,), f"未知的条件 \"{condition}\"（应为 {'、'.join(CONDITIONS)}）")
    return tuple(value)


def _measures(raw: dict, key: str, order: tuple[str, ...], path: tuple, problems: Problems) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(path + (key,), "应为措施名称的数组")
        return ()
    for measure in value:
        if measure not in order:
            problems.add(path + (key,), f"未知的措施 \"{measure}\"（应为 measure_order 中的 {'、'.join(order)}）")
    return tuple(value)


def _range(raw: dict, key: str, path: tuple, problems: Problems, parse) -> tuple | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"min", "max"}:
        problems.add(path + (key,), "应为 { min = …, max = … }")
        return None
    low, high = parse(value["min"], path + (key, "min")), parse(value["max"], path + (key, "max"))
    if low is None or high is None:
        return None
    if low > high:
        problems.add(path + (key,), f"下限 {value['min']} 大于上限 {value['max']}")
        return None
    return (low, high)


def parse_penalty_rules(doc: dict[str, Any], problems: Problems, vocab: Vocabulary) -> PenaltyRules:
    order = doc.get("measure_order")
    if not isinstance(order, list) or not order or not all(isinstance(m, str) and m for m in order) \
            or len(set(order)) != len(order):
        problems.add(("measure_order",), "应为不重复的措施名称数组")
        order = []
    order = tuple(order)

    def multiple(value: Any, path: tuple) -> Decimal | None:
        if not isinstance(value, str) or not _MULTIPLE.match(value):
            problems.add(path, f"倍数应写成十进制字符串（如 \"2\"），实际为 {value!r}")
            return None
        return Decimal(value)

    def yuan(value: Any, path: tuple) -> Decimal | None:
        problem = money_problem(value)
        if problem:
            problems.add(path, problem)
            return None
        return parse_money(value)

    def months(value: Any, path: tuple) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.add(path, f"月数应为正整数，实际为 {value!r}")
            return None
        return value

    articles: dict[int, ArticleRules] = {}
    raw_articles = doc.get("articles")
    if not isinstance(raw_articles, dict):
        problems.add(("articles",), "缺少 [articles.<条>] 规则")
        raw_articles = {}
    for key, raw in raw_articles.items():
        path = ("articles", key)
        if not key.isdigit() or int(key) not in vocab.articles:
            problems.add(path, f"条款 {key} 未在词汇表（rules/vocabulary.toml）中定义")
            continue
        raw_clauses = raw.get("clauses") if isinstance(raw, dict) else None
        if not isinstance(raw_clauses, list) or not raw_clauses or not all(isinstance(c, dict) for c in raw_clauses):
            problems.add(path, "缺少条款规则（[[articles.<条>.clauses]]）")
            continue
        for extra in set(raw) - {"clauses", "redirect"}:
            problems.add(path + (extra,), "未知的键（允许的键：clauses、redirect）")
        clauses = []
        for index, rc in enumerate(raw_clauses):
            at: KeyPath = path + ("clauses", index)
            for extra in set(rc) - set(_CLAUSE_KEYS):
                problems.add(at + (extra,), f"未知的键（允许的键：{'、'.join(_CLAUSE_KEYS)}）")
            basis = rc.get("basis")
            if not isinstance(basis, str) or not basis.strip():
                problems.add(at + ("basis",), "缺少法律依据（basis）")
            flags = {}
            for flag in ("recover", "terminate_agreement"):
                flags[flag] = rc.get(flag, False)
                if not isinstance(flags[flag], bool):
                    problems.add(at + (flag,), f"应为 true 或 false，实际为 {flags[flag]!r}")
            clauses.append(Clause(
                basis=basis if isinstance(basis, str) else "",
                when=_conditions(rc, "when", at, problems),
                when_any=_conditions(rc, "when_any", at, problems),
                measures=_measures(rc, "measures", order, at, problems),
                optional_measures=_measures(rc, "optional_measures", order, at, problems),
                recover=flags["recover"] is True,
                fine_multiple=_range(rc, "fine_multiple", at, problems, multiple),
                fine_yuan=_range(rc, "fine_yuan", at, problems, yuan),
                suspension_months=_range(rc, "suspension_months", at, problems, months),
                terminate_agreement=flags["terminate_agreement"] is True,
            ))
        redirect = None
        if isinstance(raw.get("redirect"), dict):
            rr, at = raw["redirect"], path + ("redirect",)
            target = rr.get("handled_as")
            basis = rr.get("basis")
            if not isinstance(basis, str) or not basis.strip():
                problems.add(at + ("basis",), "缺少法律依据（basis）")
            if not isinstance(target, str) or not target.isdigit() or target not in raw_articles or target == key:
                problems.add(at + ("handled_as",), f"应为另一条已定义规则的条款号（如 \"40\"），实际为 {target!r}")
            else:
                redirect = Redirect(basis if isinstance(basis, str) else "", _conditions(rr, "when", at, problems),
                                    int(target))
        elif "redirect" in raw:
            problems.add(path + ("redirect",), "应为表（[articles.<条>.redirect]）")
        articles[int(key)] = ArticleRules(tuple(clauses), redirect)

    for number in {c.article for c in vocab.categories.values()} - set(articles):
        problems.add(("articles", str(number)), f"第 {number} 条有违规类别，但没有处罚规则")
    return PenaltyRules(order, dict(sorted(articles.items())))


def load_penalty_rules(path: Path = PENALTIES_FILE, vocab: Vocabulary | None = None) -> PenaltyRules:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    rules = parse_penalty_rules(doc, problems, vocab or vocabulary())
    problems.raise_if_any()
    return rules


@cache
def penalty_rules() -> PenaltyRules:
    """The packaged rules, read once."""
    return load_penalty_rules()


# ------------------------------------------------------------------------------------------ the case

@dataclass(frozen=True)
class Finding:
    category: str
    amount: Decimal
    intent: bool


def parse_case(case: Any, vocab: Vocabulary) -> tuple[dict[str, Any], list[Finding], frozenset[str]]:
    """Validate a case; raise InputError naming every bad field. Returns party, findings, case-level facts."""
    problems = Problems()
    if not isinstance(case, dict):
        problems.add((), f"案件应为 JSON 对象，实际为 {type(case).__name__}")
        problems.raise_if_any()
    for key in case:
        if key not in _CASE_KEYS:
            problems.add((key,), f"未知的键（允许的键：{'、'.join(_CASE_KEYS)}）")

    party = case.get("party")
    party_kind = None
    if not isinstance(party, dict):
        problems.add(("party",), "缺少当事人（party，含 kind 与 code）")
        party = {}
    else:
        for key in party:
            if key not in _PARTY_KEYS:
                problems.add(("party", key), f"未知的键（允许的键：{'、'.join(_PARTY_KEYS)}）")
        if party.get("kind") in vocab.parties:
            party_kind = party["kind"]
        else:
            problems.add(("party", "kind"), f"当事人类别应为 {'、'.join(vocab.parties)} 之一，实际为 {_shown(party.get('kind'))}")
        for key in ("code", "name"):
            if party.get(key) is not None and not isinstance(party[key], str):
                problems.add(("party", key), f"应为字符串，实际为 {party[key]!r}")

    facts = set()
    for flag in CASE_FLAGS:
        value = case.get(flag)
        if value is not None and not isinstance(value, bool):
            problems.add((flag,), f"应为 true 或 false，实际为 {value!r}")
        elif value:
            facts.add(flag)

    findings: list[Finding] = []
    raw_findings = case.get("findings")
    if not isinstance(raw_findings, list) or not raw_findings:
        problems.add(("findings",), "应为非空数组，每项含 category 与 amount_yuan")
        raw_findings = []
    for index, raw in enumerate(raw_findings):
        path = ("findings", index)
        if not isinstance(raw, dict):
            problems.add(path, f"应为对象，实际为 {type(raw).__name__}")
            continue
        for key in raw:
            if key not in _FINDING_KEYS:
                problems.add(path + (key,), f"未知的键（允许的键：{'、'.join(_FINDING_KEYS)}）")
        ok = True
        category = raw.get("category")
        if not isinstance(category, str) or category not in vocab.categories:
            problems.add(path + ("category",), f"未知的违规类别 {_shown(category)}（应为 {vocab.category_ranges()}）")
            ok = False
        elif party_kind is not None:
            article = vocab.articles[vocab.categories[category].article]
            if article.party != party_kind:
                problems.add(path + ("category",),
                             f"违规类别 {category}（条例第 {article.number} 条）适用于{vocab.parties[article.party]}，"
                             f"不适用于当事人类别 {party_kind}（{vocab.parties[party_kind]}）")
                ok = False
        amount = raw.get("amount_yuan")
        if amount is None:
            amount = ZERO
        else:
            problem = money_problem(amount)
            if problem:
                problems.add(path + ("amount_yuan",), problem)
                ok = False
            else:
                amount = parse_money(amount)
        intent = raw.get("intent_to_defraud")
        if intent is not None and not isinstance(intent, bool):
            problems.add(path + ("intent_to_defraud",), f"应为 true 或 false，实际为 {intent!r}")
            ok = False
        if ok and isinstance(category, str):  # a category that is not a known string has already cleared ok
            findings.append(Finding(category, amount, intent is True))
    problems.raise_if_any()
    return party, findings, frozenset(facts)


def _shown(value: Any) -> str:
    return f"\"{value}\"" if isinstance(value, str) else "缺失" if value is None else repr(value)


def _money_range(low: Decimal, high: Decimal) -> dict[str, str]:
    return {"min": format_money(low), "max": format_money(high)}


def _ordered(measures: set[str], order: tuple[str, ...]) -> list[str]:
    return [m for m in order if m in measures]


def _apply(finding: Finding, case_facts: frozenset[str], rules: PenaltyRules, vocab: Vocabulary) -> dict[str, Any]:
    """One finding's consequences (with Decimal money); `decide` adds them up."""
    found = set(case_facts)
    if finding.amount > 0:
        found.add("loss")
    if finding.intent:
        found.add("intent")
    facts = frozenset(found)

    article = vocab.categories[finding.category].article
    basis: list[str] = []
    redirect = rules.articles[article].redirect
    if redirect is not None and all(c in facts for c in redirect.when):
        article = redirect.handled_as
        basis.append(redirect.basis)

    measures: set[str] = set()
    optional: set[str] = set()
    recover = ZERO
    fine: tuple[Decimal, Decimal] | None = None
    suspension: tuple[int, int] | None = None
    terminate = False
    for clause in rules.articles[article].clauses:
        if not clause.applies(facts):
            continue
        basis.append(clause.basis)
        measures.update(clause.measures)
        optional.update(clause.optional_measures)
        if clause.recover:
            recover += finding.amount
        if clause.fine_yuan:
            fine = _add(fine, clause.fine_yuan)
        if clause.fine_multiple:
            low, high = ((finding.amount * m).quantize(CENT, ROUND_HALF_UP) for m in clause.fine_multiple)
            fine = _add(fine, (low, high))
        if clause.suspension_months:
            suspension = _widest(suspension, clause.suspension_months)
        terminate = terminate or clause.terminate_agreement
    return {
        "category": finding.category,
        "title": vocab.categories[finding.category].title,
        "article": article,
        "amount_yuan": format_money(finding.amount),
        "intent_to_defraud": finding.intent,
        "measures": _ordered(measures, rules.measure_order),
        "optional_measures": _ordered(optional - measures, rules.measure_order),
        "recover": recover,
        "fine": fine,
        "suspension": suspension,
        "terminate_agreement": terminate,
        "basis": basis,
    }


def _add(total: tuple[Decimal, Decimal] | None, more: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
    return more if total is None else (total[0] + more[0], total[1] + more[1])


def _widest(current: tuple[int, int] | None, new: tuple[int, int]) -> tuple[int, int]:
    return new if current is None else (min(current[0], new[0]), max(current[1], new[1]))


def decide(case: Any, rules: PenaltyRules | None = None, vocab: Vocabulary | None = None) -> dict[str, Any]:
    """The `yibao penalty decide` output for a case (see the contract in the issue / DESIGN.md).

    Raises InputError naming every bad field: unknown category, bad money, an article that does not fit the party.
    """
    vocab = vocab or vocabulary()
    rules = rules or penalty_rules()
    party, findings, facts = parse_case(case, vocab)
    applied = [_apply(f, facts, rules, vocab) for f in findings]

    measures = set().union(*(a["measures"] for a in applied))
    optional = set().union(*(a["optional_measures"] for a in applied)) - measures
    fines = [a["fine"] for a in applied if a["fine"] is not None]
    suspension = None
    for a in applied:
        if a["suspension"] is not None:
            suspension = _widest(suspension, a["suspension"])
    basis: list[str] = []
    for a in sorted(applied, key=lambda a: a["article"]):
        basis.extend(b for b in a["basis"] if b not in basis)

    return {
        "party": {key: party[key] for key in _PARTY_KEYS if key in party},
        "articles": sorted({a["article"] for a in applied}),
        "measures": _ordered(measures, rules.measure_order),
        "optional_measures": _ordered(optional, rules.measure_order),
        "recover_yuan": format_money(sum((a["recover"] for a in applied), ZERO)),
        "fine_yuan": _money_range(sum((f[0] for f in fines), ZERO), sum((f[1] for f in fines), ZERO)) if fines else None,
        "suspension_months": {"min": suspension[0], "max": suspension[1]} if suspension else None,
        "terminate_agreement": any(a["terminate_agreement"] for a in applied),
        "findings": [
            {key: a[key] for key in ("category", "title", "article", "amount_yuan", "intent_to_defraud",
                                     "measures", "optional_measures", "terminate_agreement")}
            | {"recover_yuan": format_money(a["recover"]),
               "fine_yuan": _money_range(*a["fine"]) if a["fine"] else None,
               "suspension_months": {"min": a["suspension"][0], "max": a["suspension"][1]} if a["suspension"] else None}
            for a in applied
        ],
        "basis": basis,
    }
