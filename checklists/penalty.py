"""The protocol-penalty engine: what the regulation prescribes for a case's findings. Pure over plain dicts.

Rules — which measures, multiples, fixed fines and suspensions each article prescribes, and under which
conditions; who imposes each measure (the two tracks); when 行政处罚法 Art. 33 bars a penalty; the hearing
thresholds; the referrals to other bodies — are data in rules/penalties.toml, each value with its legal basis.
Combining findings: measures are the union in the fixed order, recovery and fine bounds add up, suspension is
the widest range. The fine's band under the 裁量情节 a case cites is `checklists.discretion`'s (the province's 裁量基准).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Callable, Mapping

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml
from checklists.discretion import CIRCUMSTANCES, DEFAULT_PROVINCE, Benchmark, Factor, band, benchmark_for, factors_of
from checklists.errors import InputError, KeyPath
from checklists.money import CENT, ZERO, format_money, money_problem, parse_money
from checklists.vocabulary import Vocabulary, vocabulary

PENALTIES_FILE = PACKAGE_DIR / "rules" / "penalties.toml"

CONDITIONS = ("loss", "intent", "refused_to_correct", "serious_consequences", "major_loss", "insured")
# The facts the reviewer establishes for the case; each only for the parties of the articles whose rules use it
# (major_loss, 条例 Art. 43: 造成医疗保障基金重大损失或者其他严重不良社会影响, is the 定点医药机构's).
CASE_FLAGS = ("refused_to_correct", "serious_consequences", "major_loss")
# 行政处罚法 Art. 33's facts, as the case states them (all default false).
# Circumstances a case cannot state together with the other fact (a circumstance or a case flag).
_CONTRADICTIONS = (("corrected_promptly", "refused_to_correct"), ("no_harm", "serious_consequences"),
                   ("harm_minor", "serious_consequences"), ("no_harm", "harm_minor"),
                   ("no_harm", "major_loss"), ("harm_minor", "major_loss"))
TRACKS = ("administrative", "agreement")
NO_PENALTY = ("must", "may")  # 不予行政处罚 / 可以不予行政处罚; "must" wins
_CASE_KEYS = ("party", "findings") + CASE_FLAGS + ("circumstances", "factors", "province", "note")
_PARTY_KEYS = ("kind", "code", "name", "public_official")
_FINDING_KEYS = ("category", "amount_yuan", "intent_to_defraud", "item_id", "note")
_CLAUSE_KEYS = ("basis", "when", "when_any", "categories", "measures", "optional_measures", "recover",
                "fine_multiple", "fine_yuan", "suspension_months", "term_years", "terminate_agreement", "fraud")
_MULTIPLE = re.compile(r"^[0-9]+(\.[0-9]+)?$")


@dataclass(frozen=True)
class Clause:
    basis: str
    when: tuple[str, ...] = ()
    when_any: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # when given, the clause is for findings of these categories only
    measures: tuple[str, ...] = ()
    optional_measures: tuple[str, ...] = ()
    recover: bool = False
    fine_multiple: tuple[Decimal, Decimal] | None = None
    fine_yuan: tuple[Decimal, Decimal] | None = None
    suspension_months: tuple[int, int] | None = None
    term_years: int | None = None  # the fixed term of the clause's measures (条例 Art. 43: 5年内)
    terminate_agreement: bool = False
    fraud: bool = False  # punishes 骗取: the finding's amount counts towards the police referral

    def applies(self, facts: frozenset[str], category: str) -> bool:
        return (all(c in facts for c in self.when) and (not self.when_any or any(c in facts for c in self.when_any))
                and (not self.categories or category in self.categories))


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
class Track:
    name: str  # one of TRACKS
    imposed_by: str


@dataclass(frozen=True)
class NoPenaltyRule:
    basis: str
    when: tuple[str, ...]  # circumstances, all of them
    outcome: str  # one of NO_PENALTY


@dataclass(frozen=True)
class NoPenalty:
    suppresses: tuple[str, ...]  # the measures that are 行政处罚, dropped when a penalty must not be imposed
    rules: tuple[NoPenaltyRule, ...]


@dataclass(frozen=True)
class Hearing:
    fine_threshold: Mapping[str, Decimal]  # party kind → 较大数额
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Referral:
    """Proposed when every criterion it names holds."""

    to: str
    reason: str
    basis: str
    articles: tuple[int, ...] = ()
    fraud_yuan_at_least: Decimal | None = None
    public_official: bool = False
    measures: tuple[str, ...] = ()  # each proposed for the case (so the referral goes where they go, Art. 33 too)


@dataclass(frozen=True)
class PenaltyRules:
    measure_order: tuple[str, ...]
    articles: Mapping[int, ArticleRules]
    tracks: Mapping[str, Track]  # measure → its track
    no_penalty: NoPenalty
    hearing: Hearing
    referrals: tuple[Referral, ...]


# ------------------------------------------------------------------------------------------ rules file

def _names(raw: dict, key: str, allowed: tuple, noun: str, path: tuple, problems: Problems,
           where: str = "") -> tuple[str, ...]:
    """A list of names from `allowed` (conditions, measures, circumstances, categories)."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(path + (key,), f"应为{noun}名称的数组")
        return ()
    for name in value:
        if name not in allowed:
            problems.add(path + (key,), f"未知的{noun} \"{name}\"（应为 {where}{'、'.join(allowed)}）")
    return tuple(value)


def _conditions(raw: dict, key: str, path: tuple, problems: Problems) -> tuple[str, ...]:
    return _names(raw, key, CONDITIONS, "条件", path, problems)


def _measures(raw: dict, key: str, order: tuple[str, ...], path: tuple, problems: Problems) -> tuple[str, ...]:
    return _names(raw, key, order, "措施", path, problems, "measure_order 中的 ")


def _text(raw: dict, key: str, path: tuple, problems: Problems) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.add(path + (key,), "缺少法律依据（basis）" if key == "basis" else "缺少或为空（应为非空字符串）")
        return ""
    return value


def _flag(raw: dict, key: str, path: tuple, problems: Problems) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        problems.add(path + (key,), f"应为 true 或 false，实际为 {value!r}")
    return value is True


def _table(doc: dict, key: str, problems: Problems, path: KeyPath = ()) -> dict:
    raw = doc.get(key)
    if not isinstance(raw, dict):
        problems.add(path + (key,), f"缺少表 [{'.'.join(str(p) for p in path + (key,))}]")
        return {}
    return raw


def _unknown_keys(raw: dict, allowed: tuple[str, ...], path: tuple, problems: Problems) -> None:
    for extra in sorted(set(raw) - set(allowed)):
        problems.add(path + (extra,), f"未知的键（允许的键：{'、'.join(allowed)}）")


def _range(raw: dict, key: str, path: tuple, problems: Problems, parse: Callable) -> tuple | None:
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


def _yuan(problems: Problems) -> Callable[[Any, KeyPath], Decimal | None]:
    def parse(value: Any, path: KeyPath) -> Decimal | None:
        problem = money_problem(value)
        if problem:
            problems.add(path, problem)
            return None
        return parse_money(value)
    return parse


def _parse_articles(doc: dict[str, Any], order: tuple[str, ...], problems: Problems,
                    vocab: Vocabulary) -> dict[int, ArticleRules]:
    def multiple(value: Any, path: tuple) -> Decimal | None:
        if not isinstance(value, str) or not _MULTIPLE.match(value):
            problems.add(path, f"倍数应写成十进制字符串（如 \"2\"），实际为 {value!r}")
            return None
        return Decimal(value)

    def months(value: Any, path: tuple) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.add(path, f"月数应为正整数，实际为 {value!r}")
            return None
        return value

    def years(rc: dict, at: KeyPath) -> int | None:
        value = rc.get("term_years")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or not rc.get("measures"):
            problems.add(at + ("term_years",), f"年数应为正整数，且条款须有 measures，实际为 {value!r}")
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
        _unknown_keys(raw, ("clauses", "redirect"), path, problems)
        own_categories = tuple(c.id for c in vocab.categories.values() if c.article == int(key))
        clauses = []
        for index, rc in enumerate(raw_clauses):
            at: KeyPath = path + ("clauses", index)
            _unknown_keys(rc, _CLAUSE_KEYS, at, problems)
            clauses.append(Clause(
                basis=_text(rc, "basis", at, problems),
                when=_conditions(rc, "when", at, problems),
                when_any=_conditions(rc, "when_any", at, problems),
                categories=_names(rc, "categories", own_categories, "违规类别", at, problems, f"第 {key} 条的 "),
                measures=_measures(rc, "measures", order, at, problems),
                optional_measures=_measures(rc, "optional_measures", order, at, problems),
                recover=_flag(rc, "recover", at, problems),
                fine_multiple=_range(rc, "fine_multiple", at, problems, multiple),
                fine_yuan=_range(rc, "fine_yuan", at, problems, _yuan(problems)),
                suspension_months=_range(rc, "suspension_months", at, problems, months),
                term_years=years(rc, at),
                terminate_agreement=_flag(rc, "terminate_agreement", at, problems),
                fraud=_flag(rc, "fraud", at, problems),
            ))
        redirect = None
        if isinstance(raw.get("redirect"), dict):
            rr, at = raw["redirect"], path + ("redirect",)
            target = rr.get("handled_as")
            basis = _text(rr, "basis", at, problems)
            if not isinstance(target, str) or not target.isdigit() or target not in raw_articles or target == key:
                problems.add(at + ("handled_as",), f"应为另一条已定义规则的条款号（如 \"40\"），实际为 {target!r}")
            else:
                redirect = Redirect(basis, _conditions(rr, "when", at, problems), int(target))
        elif "redirect" in raw:
            problems.add(path + ("redirect",), "应为表（[articles.<条>.redirect]）")
        articles[int(key)] = ArticleRules(tuple(clauses), redirect)

    for number in {c.article for c in vocab.categories.values()} - set(articles):
        problems.add(("articles", str(number)), f"第 {number} 条有违规类别，但没有处罚规则")
    return dict(sorted(articles.items()))


def _parse_tracks(doc: dict[str, Any], order: tuple[str, ...], problems: Problems) -> dict[str, Track]:
    """measure → the track it is on; every measure on exactly one."""
    raw_tracks = _table(doc, "tracks", problems)
    _unknown_keys(raw_tracks, TRACKS, ("tracks",), problems)
    by_measure: dict[str, Track] = {}
    for name in TRACKS:
        raw = _table(raw_tracks, name, problems, ("tracks",)) if raw_tracks else {}
        path = ("tracks", name)
        _unknown_keys(raw, ("imposed_by", "basis", "measures"), path, problems)
        _text(raw, "basis", path, problems)
        track = Track(name, _text(raw, "imposed_by", path, problems))
        for measure in _measures(raw, "measures", order, path, problems):
            if measure in by_measure:
                problems.add(path + ("measures",), f"措施 \"{measure}\" 已在 tracks.{by_measure[measure].name} 中")
            by_measure[measure] = track
    for measure in order:
        if raw_tracks and measure not in by_measure:
            problems.add(("tracks",), f"措施 \"{measure}\" 不属于任何轨道（{'、'.join(TRACKS)}）")
    return by_measure


def _parse_no_penalty(doc: dict[str, Any], order: tuple[str, ...], problems: Problems) -> NoPenalty:
    raw = _table(doc, "no_penalty", problems)
    path: KeyPath = ("no_penalty",)
    _unknown_keys(raw, ("basis", "suppresses", "rules"), path, problems)
    _text(raw, "basis", path, problems)
    rules = []
    raw_rules = raw.get("rules")
    if not isinstance(raw_rules, list) or not all(isinstance(r, dict) for r in raw_rules):
        problems.add(path + ("rules",), "缺少不予处罚规则（[[no_penalty.rules]]）")
        raw_rules = []
    for index, rr in enumerate(raw_rules):
        at = path + ("rules", index)
        _unknown_keys(rr, ("basis", "when", "outcome"), at, problems)
        when = _names(rr, "when", CIRCUMSTANCES, "情节", at, problems)
        if not when:
            problems.add(at + ("when",), "应至少列出一项情节")
        outcome = rr.get("outcome")
        if outcome not in NO_PENALTY:
            problems.add(at + ("outcome",), f"应为 {'、'.join(NO_PENALTY)} 之一，实际为 {outcome!r}")
        rules.append(NoPenaltyRule(_text(rr, "basis", at, problems), when, str(outcome)))
    return NoPenalty(_measures(raw, "suppresses", order, path, problems), tuple(rules))


def _parse_hearing(doc: dict[str, Any], order: tuple[str, ...], problems: Problems, vocab: Vocabulary) -> Hearing:
    raw = _table(doc, "hearing", problems)
    path: KeyPath = ("hearing",)
    _unknown_keys(raw, ("basis", "measures", "fine_threshold_yuan"), path, problems)
    _text(raw, "basis", path, problems)
    raw_thresholds = _table(raw, "fine_threshold_yuan", problems, path) if raw else {}
    _unknown_keys(raw_thresholds, tuple(vocab.parties), path + ("fine_threshold_yuan",), problems)
    thresholds = {}
    for party in vocab.parties if raw_thresholds else ():
        at = path + ("fine_threshold_yuan", party)
        if party not in raw_thresholds:
            problems.add(at, f"缺少{vocab.parties[party]}的较大数额罚款标准")
        elif (amount := _yuan(problems)(raw_thresholds[party], at)) is not None:
            thresholds[party] = amount
    return Hearing(thresholds, _measures(raw, "measures", order, path, problems))


def _parse_referrals(doc: dict[str, Any], articles: Mapping[int, ArticleRules], order: tuple[str, ...],
                     problems: Problems) -> tuple[Referral, ...]:
    raw_referrals = doc.get("referrals", [])
    if not isinstance(raw_referrals, list) or not all(isinstance(r, dict) for r in raw_referrals):
        problems.add(("referrals",), "应为移送规则的数组（[[referrals]]）")
        return ()
    out = []
    for index, rr in enumerate(raw_referrals):
        at: KeyPath = ("referrals", index)
        allowed = ("to", "reason", "basis", "articles", "fraud_yuan_at_least", "public_official", "measures")
        _unknown_keys(rr, allowed, at, problems)
        numbers = rr.get("articles", [])
        if not isinstance(numbers, list) or not all(isinstance(n, int) and n in articles for n in numbers):
            problems.add(at + ("articles",), f"应为已定义规则的条款号数组（{'、'.join(map(str, articles))}）")
            numbers = []
        threshold = None
        if "fraud_yuan_at_least" in rr:
            threshold = _yuan(problems)(rr["fraud_yuan_at_least"], at + ("fraud_yuan_at_least",))
        public_official = _flag(rr, "public_official", at, problems)
        with_measures = _measures(rr, "measures", order, at, problems)
        if not (numbers or "fraud_yuan_at_least" in rr or public_official or with_measures):
            problems.add(at, "应至少有一项条件：articles、fraud_yuan_at_least、measures 或 public_official = true")
        out.append(Referral(_text(rr, "to", at, problems), _text(rr, "reason", at, problems),
                            _text(rr, "basis", at, problems), tuple(numbers), threshold, public_official,
                            with_measures))
    return tuple(out)


def parse_penalty_rules(doc: dict[str, Any], problems: Problems, vocab: Vocabulary) -> PenaltyRules:
    order = doc.get("measure_order")
    if not isinstance(order, list) or not order or not all(isinstance(m, str) and m for m in order) \
            or len(set(order)) != len(order):
        problems.add(("measure_order",), "应为不重复的措施名称数组")
        order = []
    order = tuple(order)
    articles = _parse_articles(doc, order, problems, vocab)
    return PenaltyRules(order, articles, _parse_tracks(doc, order, problems),
                        _parse_no_penalty(doc, order, problems), _parse_hearing(doc, order, problems, vocab),
                        _parse_referrals(doc, articles, order, problems))


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


@dataclass(frozen=True)
class Case:
    party: dict[str, Any]
    findings: tuple[Finding, ...]
    facts: frozenset[str]  # case-level conditions: the flags, and `insured` for an insured party
    circumstances: frozenset[str]  # those of CIRCUMSTANCES the case states true


def _bool_fields(raw: dict, keys: tuple[str, ...], path: KeyPath, problems: Problems) -> set[str]:
    """The keys among `keys` that are true; anything but true, false or absent is a problem."""
    found = set()
    for key in keys:
        value = raw.get(key)
        if value is not None and not isinstance(value, bool):
            problems.add(path + (key,), f"应为 true 或 false，实际为 {value!r}")
        elif value:
            found.add(key)
    return found


def _parse_circumstances(case: dict, flags: set[str], problems: Problems) -> frozenset[str]:
    raw = case.get("circumstances")
    if raw is None:
        return frozenset()
    if not isinstance(raw, dict):
        problems.add(("circumstances",), f"应为对象（键：{'、'.join(CIRCUMSTANCES)}），实际为 {raw!r}")
        return frozenset()
    for key in raw:
        if key not in CIRCUMSTANCES:
            problems.add(("circumstances", key), f"未知的情节（允许的键：{'、'.join(CIRCUMSTANCES)}）")
    stated = _bool_fields(raw, CIRCUMSTANCES, ("circumstances",), problems)
    for key, other in _CONTRADICTIONS:
        if key in stated and other in stated | flags:
            where = f"circumstances.{other}" if other in CIRCUMSTANCES else other
            problems.add(("circumstances", key), f"与 {where} 同为 true，相互矛盾")
    return frozenset(stated)


def _flag_problems(facts: set[str], party_kind: str, rules: PenaltyRules, vocab: Vocabulary,
                   problems: Problems) -> None:
    """A case flag stated true that only rules of articles for other parties use (条例 Art. 43's major_loss for a
    person): it cannot apply to this party."""
    for flag in CASE_FLAGS:
        used = [n for n, a in rules.articles.items() if any(flag in c.when + c.when_any for c in a.clauses)]
        if flag in facts and used and not any(vocab.articles[n].applies_to(party_kind) for n in used):
            parties = "、".join(dict.fromkeys(vocab.articles[n].party_names(vocab.parties) for n in used))
            problems.add((flag,), f"这项事实只用于条例第 {'、'.join(map(str, used))} 条（适用于{parties}），"
                                  f"不适用于当事人类别 {party_kind}（{vocab.parties[party_kind]}）")


def parse_case(case: Any, vocab: Vocabulary, rules: PenaltyRules | None = None) -> Case:
    """Validate a case; raise InputError naming every bad field."""
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
        _bool_fields(party, ("public_official",), ("party",), problems)

    facts = _bool_fields(case, CASE_FLAGS, (), problems)
    circumstances = _parse_circumstances(case, facts, problems)
    if party_kind is not None:
        _flag_problems(facts, party_kind, rules or penalty_rules(), vocab, problems)
    if party_kind == "insured":
        facts.add("insured")

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
            if not article.applies_to(party_kind):
                problems.add(path + ("category",),
                             f"违规类别 {category}（条例第 {article.number} 条）适用于{article.party_names(vocab.parties)}，"
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
    return Case(party, tuple(findings), frozenset(facts), circumstances)


def _shown(value: Any) -> str:
    return f"\"{value}\"" if isinstance(value, str) else "缺失" if value is None else repr(value)


def _money_range(low: Decimal, high: Decimal) -> dict[str, str]:
    return {"min": format_money(low), "max": format_money(high)}


def _ordered(measures: set[str], order: tuple[str, ...]) -> list[str]:
    return [m for m in order if m in measures]


def no_penalty(circumstances: frozenset[str], rules: NoPenalty) -> NoPenaltyRule | None:
    """The 行政处罚法 Art. 33 rule the circumstances meet, "must" before "may"; None when none does."""
    met = [r for r in rules.rules if all(c in circumstances for c in r.when)]
    return min(met, key=lambda r: NO_PENALTY.index(r.outcome), default=None)


def _apply(finding: Finding, case_facts: frozenset[str], suppressed: frozenset[str], rules: PenaltyRules,
           vocab: Vocabulary) -> dict[str, Any]:
    """One finding's consequences (with Decimal money); `decide` adds them up. When a penalty must not be imposed
    (行政处罚法 Art. 33), `suppressed` names the measures that are penalties: they, every fine and every suspension
    are left out, and 责令改正, 责令退回 and the agreement's measures stay."""
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
    terminate = fraud = False
    terms: dict[str, int] = {}
    for clause in rules.articles[article].clauses:
        if not clause.applies(facts, finding.category):
            continue
        fraud = fraud or clause.fraud
        kept = set(clause.measures) - suppressed
        if not (kept or clause.optional_measures or clause.recover or clause.terminate_agreement):
            continue  # everything it prescribes is a penalty that must not be imposed
        basis.append(clause.basis)
        measures.update(kept)
        optional.update(set(clause.optional_measures) - suppressed)
        if clause.recover:
            recover += finding.amount
        if clause.fine_yuan and not suppressed:
            fine = _add(fine, clause.fine_yuan)
        if clause.fine_multiple and not suppressed:
            low, high = ((finding.amount * m).quantize(CENT, ROUND_HALF_UP) for m in clause.fine_multiple)
            fine = _add(fine, (low, high))
        if clause.suspension_months and not suppressed:
            suspension = _widest(suspension, clause.suspension_months)
        terminate = terminate or clause.terminate_agreement
        if clause.term_years:
            terms.update({m: max(clause.term_years, terms.get(m, 0)) for m in kept})
    return {
        "category": finding.category,
        "title": vocab.categories[finding.category].title,
        "article": article,
        "amount": finding.amount,
        "amount_yuan": format_money(finding.amount),
        "intent_to_defraud": finding.intent,
        "fraud": fraud,
        "measures": _ordered(measures, rules.measure_order),
        "optional_measures": _ordered(optional - measures, rules.measure_order),
        "recover": recover,
        "fine": fine,
        "suspension": suspension,
        "terminate_agreement": terminate,
        "terms": terms,
        "basis": basis,
    }


def _add(total: tuple[Decimal, Decimal] | None, more: tuple[Decimal, Decimal]) -> tuple[Decimal, Decimal]:
    return more if total is None else (total[0] + more[0], total[1] + more[1])


def _widest(current: tuple[int, int] | None, new: tuple[int, int]) -> tuple[int, int]:
    return new if current is None else (min(current[0], new[0]), max(current[1], new[1]))


def _check_no_fault(applied: list[dict[str, Any]], circumstances: frozenset[str]) -> None:
    """骗取 and 以骗取为目的 are intentional: they contradict a proven absence of fault."""
    problems = Problems()
    if "no_fault" in circumstances:
        for index, a in enumerate(applied, 1):
            if a["fraud"] or a["intent_to_defraud"]:
                problems.add(("circumstances", "no_fault"),
                             f"与 findings[第{index}个]（{a['category']}，按条例第 {a['article']} 条）认定的骗取或"
                             "以骗取医疗保障基金为目的相矛盾：骗取须有故意")
    problems.raise_if_any()


def _referrals(applied: list[dict[str, Any]], public_official: bool, measures: set[str],
               rules: PenaltyRules) -> list[dict[str, str]]:
    fraud_total = sum((a["amount"] for a in applied if a["fraud"]), ZERO)
    articles = {a["article"] for a in applied}
    out = []
    for referral in rules.referrals:
        if referral.articles and not articles & set(referral.articles):
            continue
        if referral.fraud_yuan_at_least is not None and fraud_total < referral.fraud_yuan_at_least:
            continue
        if referral.public_official and not public_official:
            continue
        if not measures.issuperset(referral.measures):
            continue
        reason = referral.reason
        if referral.fraud_yuan_at_least is not None:
            reason += f"（骗取金额合计 {format_money(fraud_total)} 元，达到立案追诉标准 {format_money(referral.fraud_yuan_at_least)} 元）"
        out.append({"to": referral.to, "reason": reason, "basis": referral.basis})
    return out


def discretion_of(case: Any) -> tuple[Benchmark, tuple[Factor, ...]]:
    """The case's province's 裁量基准 (the default when it names none) and the factors it cites; InputError naming
    an unknown province or factor."""
    if not isinstance(case, dict):
        return benchmark_for(), ()
    province = case.get("province", DEFAULT_PROVINCE)
    if not isinstance(province, str):
        raise InputError(f"键 province：应为省份名称字符串，实际为 {province!r}", [(("province",), "应为省份名称字符串")])
    benchmark = benchmark_for(province)
    problems = Problems()
    factors = factors_of(case.get("factors", []), benchmark, problems)
    problems.raise_if_any()
    return benchmark, factors


def _with_stated(case: Any, factors: tuple[Factor, ...]) -> Any:
    """The case with the Art. 33 circumstances its 不予处罚 factors stand for stated true."""
    stated = {c: True for f in factors for c in f.circumstances}
    raw = case.get("circumstances") if isinstance(case, dict) else None
    if not stated or not (raw is None or isinstance(raw, dict)):
        return case
    return {**case, "circumstances": {**(raw or {}), **stated}}


def band_json(fine: tuple[Decimal, Decimal], factors: tuple[Factor, ...], benchmark: Benchmark) -> dict[str, Any]:
    low, high, reasons = band(fine, factors, benchmark)
    return {"low_yuan": format_money(low), "high_yuan": format_money(high),
            "factors": [f.as_json() for f in factors], "benchmark": benchmark.as_json(), "reasons": reasons}


def decide(case: Any, rules: PenaltyRules | None = None, vocab: Vocabulary | None = None) -> dict[str, Any]:
    """The `yibao penalty decide` output for a case (see the contract in the issue / DESIGN.md).

    Raises InputError naming every bad field: unknown category, circumstance, province or discretion factor, bad
    money, an article that does not fit the party, circumstances that contradict each other or the findings.
    """
    vocab = vocab or vocabulary()
    rules = rules or penalty_rules()
    benchmark, factors = discretion_of(case)
    parsed = parse_case(_with_stated(case, factors), vocab, rules)
    barred = no_penalty(parsed.circumstances, rules.no_penalty)
    suppressed = frozenset(rules.no_penalty.suppresses if barred and barred.outcome == "must" else ())
    applied = [_apply(f, parsed.facts, suppressed, rules, vocab) for f in parsed.findings]
    _check_no_fault(applied, parsed.circumstances)

    measures = set().union(*(a["measures"] for a in applied))
    optional = set().union(*(a["optional_measures"] for a in applied)) - measures
    fines = [a["fine"] for a in applied if a["fine"] is not None]
    fine = (sum((f[0] for f in fines), ZERO), sum((f[1] for f in fines), ZERO)) if fines else None
    suspension = None
    for a in applied:
        if a["suspension"] is not None:
            suspension = _widest(suspension, a["suspension"])
    basis: list[str] = []
    for a in sorted(applied, key=lambda a: a["article"]):
        basis.extend(b for b in a["basis"] if b not in basis)
    if barred and barred.outcome == "must":
        basis.append(barred.basis)
    terms: dict[str, int] = {}
    for a in applied:
        terms.update({m: max(years, terms.get(m, 0)) for m, years in a["terms"].items()})
    party = parsed.party
    listed = _ordered(measures, rules.measure_order) + _ordered(optional, rules.measure_order)
    hearing = (fine is not None and fine[1] >= rules.hearing.fine_threshold[party["kind"]]) \
        or any(m in rules.hearing.measures for m in listed)

    return {
        "party": {key: party[key] for key in _PARTY_KEYS if key in party},
        "articles": sorted({a["article"] for a in applied}),
        "measures": _ordered(measures, rules.measure_order),
        "optional_measures": _ordered(optional, rules.measure_order),
        "measures_detail": [{"measure": m, "track": rules.tracks[m].name, "imposed_by": rules.tracks[m].imposed_by}
                            | ({"term_years": terms[m]} if m in terms else {}) for m in listed],
        "recover_yuan": format_money(sum((a["recover"] for a in applied), ZERO)),
        "fine_yuan": _money_range(*fine) if fine else None,
        "band": band_json(fine, factors, benchmark) if fine else None,
        "suspension_months": {"min": suspension[0], "max": suspension[1]} if suspension else None,
        "terminate_agreement": any(a["terminate_agreement"] for a in applied),
        "circumstances": {c: c in parsed.circumstances for c in CIRCUMSTANCES},
        "no_penalty": barred.outcome if barred else None,
        "no_penalty_basis": barred.basis if barred else None,
        "hearing_right": hearing,
        "referrals": _referrals(applied, party.get("public_official") is True, measures, rules),
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
