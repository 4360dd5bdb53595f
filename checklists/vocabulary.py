"""The regulation's vocabulary as data (rules/vocabulary.toml): institution kinds, severities, parties, articles, categories."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml

VOCABULARY_FILE = PACKAGE_DIR / "rules" / "vocabulary.toml"

_CATEGORY_ID = re.compile(r"^([0-9]+)\.([0-9]+)$")
# who acts on a breach: the 医疗保障行政部门 (条例 Art. 38–41), or the 经办机构 under the service agreement (Art. 13)
TRACKS = ("administrative", "agreement")


@dataclass(frozen=True)
class Article:
    number: int
    party: str
    title: str
    text: str
    other_parties: tuple[str, ...] = ()  # Art. 41 is about 个人: insured persons and others alike
    track: str = "administrative"  # one of TRACKS: "agreement" for Art. 13, breaches of the service agreement

    def applies_to(self, party: str) -> bool:
        return party == self.party or party in self.other_parties

    def party_names(self, parties: Mapping[str, str]) -> str:
        return "、".join(parties[p] for p in (self.party,) + self.other_parties)


@dataclass(frozen=True)
class Category:
    """A violation category: `38.3` is item (三) of Art. 38."""

    id: str
    article: int
    item: int
    title: str
    text: str
    basis: str


@dataclass(frozen=True)
class Vocabulary:
    kinds: Mapping[str, str]
    severities: Mapping[str, str]
    parties: Mapping[str, str]
    articles: Mapping[int, Article]
    categories: Mapping[str, Category]

    def category_ranges(self) -> str:
        """`38.1–38.7、39.1–39.7…`, for messages that say what was expected."""
        by_article: dict[int, list[str]] = {}
        for category in self.categories.values():
            by_article.setdefault(category.article, []).append(category.id)
        return "、".join(f"{ids[0]}–{ids[-1]}" if len(ids) > 1 else ids[0] for ids in by_article.values())


def _names(doc: dict[str, Any], table: str, problems: Problems) -> Mapping[str, str]:
    raw = doc.get(table)
    if not isinstance(raw, dict) or not raw:
        problems.add((table,), "缺少此表或表为空")
        return MappingProxyType({})
    out = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            problems.add((table, key), "应为非空的中文名称")
        else:
            out[key] = value
    return MappingProxyType(out)


def _text_fields(raw: Any, path: tuple, fields: tuple[str, ...], problems: Problems) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        problems.add(path, "应为表")
        return None
    ok = True
    for field in fields:
        value = raw.get(field)
        if not isinstance(value, str) or not value.strip():
            problems.add(path + (field,), "缺少或为空（应为非空字符串）")
            ok = False
    for extra in sorted(set(raw) - set(fields)):
        problems.add(path + (extra,), f"未知的键（允许的键：{'、'.join(fields)}）")
        ok = False
    return raw if ok else None


def parse_vocabulary(doc: dict[str, Any], problems: Problems) -> Vocabulary:
    kinds = _names(doc, "kinds", problems)
    severities = _names(doc, "severities", problems)
    parties = _names(doc, "parties", problems)

    articles: dict[int, Article] = {}
    for key, raw in (doc.get("articles") or {}).items():
        path = ("articles", key)
        others = raw.get("other_parties", []) if isinstance(raw, dict) else []
        track = raw.get("track", "administrative") if isinstance(raw, dict) else "administrative"
        if isinstance(raw, dict):
            raw = {k: v for k, v in raw.items() if k not in ("other_parties", "track")}
        if track not in TRACKS:
            problems.add(path + ("track",), f"应为 {'、'.join(TRACKS)} 之一，实际为 {track!r}")
            track = "administrative"
        fields = _text_fields(raw, path, ("party", "title", "text"), problems)
        if not isinstance(others, list) or not all(isinstance(o, str) and o in parties for o in others):
            problems.add(path + ("other_parties",), f"应为当事人类别的数组（{'、'.join(parties)}）")
            others = []
        if not key.isdigit():
            problems.add(path, "条款号应为数字，如 38")
        elif fields is not None:
            if fields["party"] not in parties:
                problems.add(path + ("party",), f"未知的当事人类别 \"{fields['party']}\"（应为 {'、'.join(parties)}）")
            else:
                articles[int(key)] = Article(int(key), fields["party"], fields["title"], fields["text"], tuple(others),
                                             track)

    categories: dict[str, Category] = {}
    for key, raw in (doc.get("categories") or {}).items():
        path = ("categories", key)
        fields = _text_fields(raw, path, ("title", "text", "basis"), problems)
        match = _CATEGORY_ID.match(key)
        if not match:
            problems.add(path, "类别编号应为 条.项，如 38.3")
        elif int(match.group(1)) not in articles:
            problems.add(path, f"条款 {match.group(1)} 未在 articles 中定义")
        elif fields is not None:
            categories[key] = Category(key, int(match.group(1)), int(match.group(2)),
                                       fields["title"], fields["text"], fields["basis"])
    if not categories:
        problems.add(("categories",), "缺少违规类别")

    ordered = dict(sorted(categories.items(), key=lambda kv: (kv[1].article, kv[1].item)))
    return Vocabulary(kinds, severities, parties, MappingProxyType(dict(sorted(articles.items()))),
                      MappingProxyType(ordered))


def load_vocabulary(path: Path = VOCABULARY_FILE) -> Vocabulary:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    vocabulary = parse_vocabulary(doc, problems)
    problems.raise_if_any()
    return vocabulary


@cache
def vocabulary() -> Vocabulary:
    """The packaged vocabulary, read once."""
    return load_vocabulary()
