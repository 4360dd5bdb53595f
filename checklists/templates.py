"""Checklist templates: one TOML file per institution kind, validated on load, pinned by content hash.

Template hash: SHA-256 (hex) of the template's canonical JSON — the parsed TOML document serialised with
sorted keys, no whitespace (separators "," and ":") and UTF-8 without escaping (ensure_ascii=False).
So the hash follows the content only: editing comments or layout keeps it, changing any value changes it.
It is computed with the project's one canonical JSON form, `sync.canonical`, which refuses floats.

Template history: every released version stays in `templates/history/<id>-<version>.toml`, the released file unchanged,
so a record pinned to an earlier version (a tablet in the field, the bureau's stored records) is still scored and its
findings derived with the template it was filled in with. `load_templates` lists only the current ones; new inspections
use those; `resolve_template("id@hash")` finds the current or a historical version by hash.

Same conduct, same law: items of different kinds that check one conduct share a `conduct` key, and the loader refuses
current templates in which such items differ in category or severity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml
from checklists.errors import InputError
from checklists.vocabulary import Vocabulary, vocabulary
from sync.canonical import content_hash

TEMPLATES_DIR = PACKAGE_DIR / "templates"
HISTORY_DIR = TEMPLATES_DIR / "history"

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_TOP_KEYS = ("id", "kind", "version", "title", "sections", "items")
_SECTION_KEYS = ("id", "title")
_ITEM_TEXT_KEYS = ("id", "section", "text", "evidence", "severity", "category", "basis")
_ITEM_FLAG_KEYS = ("photo_required_on_fail", "asks_amount")
_ITEM_KEYS = _ITEM_TEXT_KEYS + ("weight",) + _ITEM_FLAG_KEYS + ("limits", "conduct")
_LIMIT_KEYS = ("key", "label", "unit", "source", "min", "max", "uncertain")


@dataclass(frozen=True)
class Limit:
    """A numeric limit an item checks (e.g. 急性病每次配药 ≤ 7 日), with its source.

    `uncertain` marks values the reference flags [?]: kept as data so a bureau can correct them.
    """

    key: str
    label: str
    unit: str
    source: str
    min: int | None = None
    max: int | None = None
    uncertain: bool = False


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    text: str
    evidence: str
    severity: str
    category: str
    basis: str
    weight: int
    photo_required_on_fail: bool
    asks_amount: bool
    limits: tuple[Limit, ...] = ()
    conduct: str = ""  # the conduct checked, shared by the items of other kinds that check the same one


@dataclass(frozen=True)
class Template:
    id: str
    kind: str
    version: str
    title: str
    hash: str
    sections: tuple[Section, ...]
    items: tuple[Item, ...]
    source: str = ""

    @property
    def pin(self) -> str:
        """`id@hash`, what an inspection records and an answers file may name."""
        return f"{self.id}@{self.hash}"

    @cached_property
    def _by_id(self) -> Mapping[str, Item]:
        return {item.id: item for item in self.items}

    def item(self, item_id: str) -> Item:
        return self._by_id[item_id]

    def has_item(self, item_id: str) -> bool:
        return item_id in self._by_id

    def section_title(self, section_id: str) -> str:
        return next(s.title for s in self.sections if s.id == section_id)

    def items_by_section(self) -> list[tuple[Section, tuple[Item, ...]]]:
        """Sections in template order, each with its items in file order."""
        return [(s, tuple(i for i in self.items if i.section == s.id)) for s in self.sections]


def template_hash(doc: dict[str, Any]) -> str:
    """SHA-256 hex of the parsed template's canonical JSON (`sync.canonical`, the one canonical form of the project)."""
    return content_hash(doc)


def _text(raw: dict, key: str, path: tuple, problems: Problems, what: str) -> str | None:
    value = raw.get(key)
    if value is None:
        problems.add(path + (key,), f"缺少{what}（{key}）")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(path + (key,), f"{what}应为非空字符串，实际为 {value!r}")
        return None
    return value


def _unknown_keys(raw: dict, allowed: tuple[str, ...], path: tuple, problems: Problems) -> None:
    for key in raw:
        if key not in allowed:
            problems.add(path + (key,), f"未知的键（允许的键：{'、'.join(allowed)}）")


def _parse_limits(raw: Any, path: tuple, problems: Problems) -> tuple[Limit, ...]:
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        problems.add(path, "limits 应为表数组（[[items.limits]]）")
        return ()
    limits, seen = [], set()
    for index, entry in enumerate(raw):
        at = path + (index,)
        _unknown_keys(entry, _LIMIT_KEYS, at, problems)
        key = _text(entry, "key", at, problems, "限值键名")
        label = _text(entry, "label", at, problems, "限值说明")
        unit = _text(entry, "unit", at, problems, "单位")
        source = _text(entry, "source", at, problems, "限值出处")
        if key is not None:
            if key in seen:
                problems.add(at + ("key",), f"限值键名 \"{key}\" 重复")
            seen.add(key)
        bounds = {}
        for bound in ("min", "max"):
            if bound in entry:
                value = entry[bound]
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    problems.add(at + (bound,), f"限值应为正整数，实际为 {value!r}")
                else:
                    bounds[bound] = value
        if "min" not in entry and "max" not in entry:
            problems.add(at, "限值须给出 min（不少于）或 max（不超过）")
        uncertain = entry.get("uncertain", False)
        if not isinstance(uncertain, bool):
            problems.add(at + ("uncertain",), f"应为 true 或 false，实际为 {uncertain!r}")
        if key is not None and label is not None and unit is not None and source is not None \
                and bounds and isinstance(uncertain, bool):
            limits.append(Limit(key, label, unit, source, bounds.get("min"), bounds.get("max"), uncertain))
    return tuple(limits)


def _parse_item(raw: dict, index: int, section_ids: set[str], vocab: Vocabulary, problems: Problems) -> Item | None:
    path = ("items", index)
    _unknown_keys(raw, _ITEM_KEYS, path, problems)
    names = {"id": "条目编号", "section": "所属分组", "text": "检查内容", "evidence": "证据要求",
             "severity": "严重程度", "category": "违规类别", "basis": "法律依据"}
    values = {key: _text(raw, key, path, problems, names[key]) for key in _ITEM_TEXT_KEYS}
    ok = all(v is not None for v in values.values())

    if values["id"] is not None and not _ID.match(values["id"]):
        problems.add(path + ("id",), f"条目编号只能含字母、数字、点、下划线和连字符，实际为 \"{values['id']}\"")
        ok = False
    if values["section"] is not None and values["section"] not in section_ids:
        problems.add(path + ("section",), f"分组 \"{values['section']}\" 未在 [[sections]] 中定义")
        ok = False
    if values["severity"] is not None and values["severity"] not in vocab.severities:
        problems.add(path + ("severity",), f"严重程度应为 {'、'.join(vocab.severities)} 之一，实际为 \"{values['severity']}\"")
        ok = False
    category = values["category"]
    if category is not None:
        if category not in vocab.categories:
            problems.add(path + ("category",), f"未知的违规类别 \"{category}\"（应为 {vocab.category_ranges()}）")
            ok = False
        else:
            party = vocab.articles[vocab.categories[category].article].party
            if party != "institution":
                problems.add(path + ("category",), f"违规类别 {category} 适用于{vocab.parties[party]}，不能用于机构检查表")
                ok = False

    weight = raw.get("weight")
    if weight is None:
        problems.add(path + ("weight",), "缺少权重（weight）")
        ok = False
    elif isinstance(weight, bool) or not isinstance(weight, int):
        problems.add(path + ("weight",), f"权重应为正整数，实际为 {weight!r}")
        ok = False
    elif weight <= 0:
        problems.add(path + ("weight",), f"权重必须大于 0，实际为 {weight}")
        ok = False

    flags: dict[str, bool] = {}
    for key in _ITEM_FLAG_KEYS:
        value = raw.get(key)
        if not isinstance(value, bool):
            problems.add(path + (key,), f"应为 true 或 false，实际为 {'缺失' if value is None else repr(value)}")
            ok = False
        else:
            flags[key] = value

    limits = _parse_limits(raw["limits"], path + ("limits",), problems) if "limits" in raw else ()
    conduct = raw.get("conduct", "")
    if not isinstance(conduct, str) or (conduct and not _ID.match(conduct)):
        problems.add(path + ("conduct",), f"行为编号只能含字母、数字、点、下划线和连字符，实际为 {conduct!r}")
        ok = False
    # Every missing text and every weight that is not a positive int has been reported and cleared `ok`.
    texts = {key: value for key, value in values.items() if value is not None}
    if not ok or not isinstance(weight, int):
        return None
    return Item(texts["id"], texts["section"], texts["text"], texts["evidence"], texts["severity"], texts["category"],
                texts["basis"], weight, flags["photo_required_on_fail"], flags["asks_amount"], limits, str(conduct))


def parse_template(doc: dict[str, Any], problems: Problems, source: str = "", vocab: Vocabulary | None = None) -> Template | None:
    """Validate a parsed template, adding every problem to `problems`; the Template if there were none."""
    vocab = vocab or vocabulary()
    before = len(problems.entries)
    _unknown_keys(doc, _TOP_KEYS, (), problems)
    header = {key: _text(doc, key, (), problems, what)
              for key, what in (("id", "模板编号"), ("kind", "机构类别"), ("version", "版本"), ("title", "标题"))}
    if header["id"] is not None and not _ID.match(header["id"]):
        problems.add(("id",), f"模板编号只能含字母、数字、点、下划线和连字符，实际为 \"{header['id']}\"")
    if header["kind"] is not None and header["kind"] not in vocab.kinds:
        problems.add(("kind",), f"未知的机构类别 \"{header['kind']}\"（应为 {'、'.join(vocab.kinds)} 之一）")

    sections: list[Section] = []
    raw_sections = doc.get("sections")
    if not isinstance(raw_sections, list) or not raw_sections or not all(isinstance(s, dict) for s in raw_sections):
        problems.add(("sections",), "缺少分组（[[sections]]，每个分组含 id 和 title）")
        raw_sections = []
    for index, raw in enumerate(raw_sections):
        _unknown_keys(raw, _SECTION_KEYS, ("sections", index), problems)
        section_id = _text(raw, "id", ("sections", index), problems, "分组编号")
        title = _text(raw, "title", ("sections", index), problems, "分组标题")
        if section_id is not None and any(s.id == section_id for s in sections):
            problems.add(("sections", index, "id"), f"分组编号 \"{section_id}\" 重复")
        elif section_id is not None and title is not None:
            sections.append(Section(section_id, title))
    section_ids = {s.id for s in sections}

    items: list[Item] = []
    raw_items = doc.get("items")
    if not isinstance(raw_items, list) or not raw_items or not all(isinstance(i, dict) for i in raw_items):
        problems.add(("items",), "缺少检查条目（[[items]]）")
        raw_items = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_items):
        item_id = raw.get("id")
        if isinstance(item_id, str) and item_id in seen:
            problems.add(("items", index, "id"), f"条目编号 \"{item_id}\" 重复（第 {seen[item_id] + 1} 个条目已使用）")
        elif isinstance(item_id, str):
            seen[item_id] = index
        item = _parse_item(raw, index, section_ids, vocab, problems)
        if item is not None:
            items.append(item)
    used_sections = {raw.get("section") for raw in raw_items}
    for index, raw in enumerate(raw_sections):
        if raw_items and raw.get("id") in section_ids and raw.get("id") not in used_sections:
            problems.add(("sections", index, "id"), f"分组 \"{raw['id']}\" 下没有任何条目")

    # Every missing header text has been reported, so with no new problem all four are present.
    present = {key: value for key, value in header.items() if value is not None}
    if len(problems.entries) > before:
        return None
    try:
        digest = template_hash(doc)
    except TypeError as exc:  # a float or a date somewhere: canonical JSON has no exact form for it
        problems.add((), f"模板含有无法规范化的值（数值请用整数或字符串）：{exc}")
        return None
    return Template(present["id"], present["kind"], present["version"], present["title"], digest,
                    tuple(sections), tuple(items), source)


def load_template(path: Path, vocab: Vocabulary | None = None) -> Template:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    template = parse_template(doc, problems, display_name(path), vocab)
    problems.raise_if_any()
    assert template is not None
    return template


def load_templates(directory: Path | None = None) -> dict[str, Template]:
    """Every `*.toml` template in `directory` (default: the packaged ones) by template id.

    Raises InputError listing every problem in every file, and duplicate template ids or kinds.
    """
    if directory is None:
        return dict(_packaged_templates())
    return _load_directory(Path(directory))


@cache
def _packaged_templates() -> Mapping[str, Template]:
    return _load_directory(TEMPLATES_DIR)


@cache
def template_history() -> Mapping[tuple[str, str], Template]:
    """Every earlier released version (templates/history/<id>-<version>.toml) by (template id, hash), read once."""
    history: dict[tuple[str, str], Template] = {}
    messages: list[str] = []
    for path in sorted(HISTORY_DIR.glob("*.toml")):
        try:
            template = load_template(path)
        except InputError as exc:
            messages.extend(exc.problems)
            continue
        if path.stem != f"{template.id}-{template.version}":
            messages.append(f"{template.source}：历史模板文件应命名为 {template.id}-{template.version}.toml")
        history[(template.id, template.hash)] = template
    if messages:
        raise InputError(messages)
    return MappingProxyType(history)


def conduct_conflicts(templates: Iterable[Template]) -> list[str]:
    """Items sharing a `conduct` key whose category or severity differ: one message per such item."""
    first: dict[str, tuple[Template, Item]] = {}
    out = []
    for template in templates:
        for item in template.items:
            if not item.conduct:
                continue
            seen_in, seen = first.setdefault(item.conduct, (template, item))
            if (item.category, item.severity) != (seen.category, seen.severity):
                out.append(f"{template.source}：条目 {item.id} 与 {seen_in.source} 的条目 {seen.id} 检查同一行为"
                           f"（conduct = \"{item.conduct}\"），违规类别与严重程度应相同（{seen.category}/{seen.severity}），"
                           f"实际为 {item.category}/{item.severity}")
    return out


def _load_directory(directory: Path) -> dict[str, Template]:
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise InputError(f"{display_name(directory)}：目录中没有检查表模板（*.toml）")
    messages: list[str] = []
    templates: list[Template] = []
    for path in paths:
        try:
            templates.append(load_template(path))
        except InputError as exc:
            messages.extend(exc.problems)
    by_id: dict[str, Template] = {}
    by_kind: dict[str, Template] = {}
    for template in templates:
        if template.id in by_id:
            messages.append(f"{template.source}：模板编号 \"{template.id}\" 与 {by_id[template.id].source} 重复")
            continue
        if template.kind in by_kind:
            messages.append(f"{template.source}：机构类别 \"{template.kind}\" 已由 {by_kind[template.kind].source} 定义，每类只能有一个模板")
            continue
        by_id[template.id] = by_kind[template.kind] = template
    messages.extend(conduct_conflicts(by_id.values()))
    if messages:
        raise InputError(messages)
    order = list(vocabulary().kinds)
    return dict(sorted(by_id.items(), key=lambda kv: (order.index(kv[1].kind), kv[0])))


def template_for_kind(kind: str, templates: Mapping[str, Template] | None = None) -> Template:
    templates = load_templates() if templates is None else templates
    for template in templates.values():
        if template.kind == kind:
            return template
    kinds = vocabulary().kinds
    if kind not in kinds:
        raise InputError(f"未知的机构类别 \"{kind}\"（应为 {'、'.join(kinds)} 之一）")
    raise InputError(f"没有机构类别 \"{kind}\"（{kinds[kind]}）的检查表模板")


def resolve_template(ref: object, templates: Mapping[str, Template] | None = None) -> Template:
    """`id` → the current template; `id@hash` → the version with that hash: the current one or, for the packaged
    templates, an earlier released one (templates/history). A hash that is neither is an error naming the pin."""
    if not isinstance(ref, str) or not ref.strip():
        raise InputError(f"模板应写作 \"模板编号\" 或 \"模板编号@哈希\"，实际为 {ref!r}")
    history = template_history() if templates is None else {}
    templates = load_templates() if templates is None else templates
    template_id, _, pinned = ref.partition("@")
    if template_id not in templates:
        raise InputError(f"未知的模板 \"{template_id}\"（现有：{'、'.join(templates)}）")
    template = templates[template_id]
    if "@" not in ref or pinned.lower() == template.hash:
        return template
    earlier = history.get((template_id, pinned.lower()))
    if earlier is None:
        raise InputError(f"模板 {template_id} 的哈希不符：答卷固定为 {ref}，既不是当前模板（{template.hash}，"
                         f"版本 {template.version}）也不是已发布的历史版本")
    return earlier
