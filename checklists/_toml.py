"""Reading the package's TOML data and saying where a problem is: file, line and key.

tomllib gives line numbers only for syntax errors. For everything else we scan the raw text once,
tracking table headers (`[a.b]`, `[[a.b]]` with their running index) and `key =` lines, and map each
key path to the line it is written on. That covers the layout our data files use; inline tables and
multi-line values map to the line of the key that opens them.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

from checklists.errors import InputError, KeyPath

PACKAGE_DIR = Path(__file__).resolve().parent

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)(?:\s*\.\s*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+))*)\s*=""")
_PART = re.compile(r""""((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_\-]+)""")
_SYNTAX_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def display_name(path: Path) -> str:
    """Shown in messages: package files relative to the package's parent, others as given."""
    try:
        return path.resolve().relative_to(PACKAGE_DIR.parent).as_posix()
    except ValueError:
        return str(path)


def read_toml(path: Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; syntax errors become InputError with tomllib's own line and column."""
    name = display_name(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(f"{name}：无法读取文件（{exc.strerror or exc}）") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}：文件不是 UTF-8 编码（第 {exc.start} 字节）") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _SYNTAX_AT.search(message)
        if at:
            message = message[: at.start()]
            raise InputError(f"{name} 第 {at.group(1)} 行第 {at.group(2)} 列：TOML 语法错误：{message}") from exc
        raise InputError(f"{name}：TOML 语法错误：{message}") from exc


def _split_key(dotted: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3)
            for m in _PART.finditer(dotted)]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path (array-of-tables entries as 0-based ints) to its 1-based line."""
    lines: dict[KeyPath, int] = {}
    last_index: dict[KeyPath, int] = {}

    def resolve(parts: list[str]) -> KeyPath:
        concrete: list[str | int] = []
        for part in parts:
            concrete.append(part)
            if tuple(concrete) in last_index:
                concrete.append(last_index[tuple(concrete)])
        return tuple(concrete)

    current: KeyPath = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            parts = _split_key(header.group(2))
            if not parts:
                continue
            if header.group(1) == "[[":
                array = resolve(parts[:-1]) + (parts[-1],)
                last_index[array] = last_index.get(array, -1) + 1
                current = array + (last_index[array],)
            else:
                current = resolve(parts)
            lines.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            path = current
            for part in _split_key(key.group(1)):
                path = path + (part,)
                lines.setdefault(path, number)
    return lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, or of its nearest written ancestor."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def format_path(path: KeyPath) -> str:
    """`items[第4个].weight`: array entries counted from 1, as a person counts them in the file."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[第{part + 1}个]"
        else:
            out += ("." if out else "") + part
    return out


class Problems:
    """Collects every problem of one input, each naming file, line (when known) and key. The text's lines are
    mapped when a problem is first formatted: an input without problems is never scanned."""

    def __init__(self, source: str | None = None, text: str | None = None,
                 lines: dict[KeyPath, int] | None = None) -> None:
        self.source = source
        self._text = text
        self._mapped = lines
        self.entries: list[tuple[KeyPath, str]] = []

    @property
    def _lines(self) -> dict[KeyPath, int]:
        if self._mapped is None:
            self._mapped = key_lines(self._text) if self._text is not None else {}
        return self._mapped

    def add(self, path: KeyPath, message: str) -> None:
        self.entries.append((tuple(path), message))

    def format(self, path: KeyPath, message: str) -> str:
        where = []
        if self.source:
            where.append(self.source)
        line = line_of(self._lines, path)
        if line is not None:
            where.append(f"第 {line} 行")
        if path:
            where.append(f"键 {format_path(path)}")
        return ("，".join(where) + "：" if where else "") + message

    @property
    def messages(self) -> list[str]:
        return [self.format(path, message) for path, message in self.entries]

    def raise_if_any(self) -> None:
        if self.entries:
            raise InputError(self.messages, self.entries)


def text_at(raw: Mapping[str, Any], key: str, path: KeyPath, problems: Problems, *, required: bool = True) -> str:
    """The string `raw[key]` (non-empty when `required`; absent reads as "" when not), or "" with the problem noted
    at `path` + `key`."""
    value = raw.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        problems.add(tuple(path) + (key,), "缺少或为空（应为非空字符串）")
        return ""
    return value


def table_at(doc: Mapping[str, Any], key: str, problems: Problems, path: KeyPath = ()) -> dict[str, Any]:
    """The table `doc[key]`, or an empty one with the problem noted at `path` + `key`."""
    raw = doc.get(key)
    if not isinstance(raw, dict):
        problems.add(tuple(path) + (key,), f"缺少表 [{format_path(tuple(path) + (key,))}]")
        return {}
    return raw
