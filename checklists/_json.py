"""Reading JSON input files (answers, cases) so that problems can name file, line and key.

Money in JSON must be a string; numbers are parsed as Decimal here only so that nothing becomes a float
on the way in (the validators then reject a number where money is expected). Duplicate keys are an error:
a second answer for the same item would otherwise silently replace the first.
"""

from __future__ import annotations

import bisect
import json
import re
from decimal import Decimal
from json.decoder import scanstring  # type: ignore[attr-defined]  # exists at runtime; typeshed omits it
from typing import Any

from checklists.errors import InputError, KeyPath

_WS = re.compile(r"[ \t\n\r]*")
_LITERAL = re.compile(r"[^,\]\}\s]+")


class _DuplicateKey(ValueError):
    pass


_SYNTAX_PROBLEMS = {  # the json module's messages, in the words users read
    "Expecting value": "此处应为一个值",
    "Expecting ',' delimiter": "缺少逗号（,）",
    "Expecting ':' delimiter": "缺少冒号（:）",
    "Expecting property name enclosed in double quotes": "键名应使用英文双引号",
    "Extra data": "JSON 结束后还有多余的内容",
    "Unterminated string starting at": "字符串缺少结尾的引号",
    "Invalid control character at": "字符串中含有控制字符",
    "Invalid \\escape": "无效的转义符（\\）",
    "Invalid \\uXXXX escape": "无效的 \\u 转义",
}


def json_syntax_problem(exc: json.JSONDecodeError) -> str:
    """What is wrong at the error's line and column, in Chinese (never the parser's English)."""
    return _SYNTAX_PROBLEMS.get(exc.msg, "JSON 格式不正确")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def parse_json(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """The document and a map from key path to line; syntax errors as InputError with line and column."""
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_float=Decimal)
    except _DuplicateKey as exc:
        raise InputError(f"{source}：键 \"{exc.args[0]}\" 重复出现") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} 第 {exc.lineno} 行第 {exc.colno} 列：JSON 格式错误：{json_syntax_problem(exc)}") from exc
    return data, json_lines(text)


def json_lines(text: str) -> dict[KeyPath, int]:
    """Line (1-based) of each value's key path in well-formed JSON `text`; array entries as 0-based ints."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[KeyPath, int] = {}

    def line(index: int) -> int:
        return bisect.bisect_right(starts, index)

    def skip(index: int) -> int:
        match = _WS.match(text, index)
        assert match is not None  # "[ \t\n\r]*" matches the empty string too
        return match.end()

    def value(index: int, path: KeyPath) -> int:
        index = skip(index)
        lines.setdefault(path, line(index))
        char = text[index]
        if char == "{":
            index = skip(index + 1)
            if text[index] == "}":
                return index + 1
            while True:
                key, index = scanstring(text, skip(index) + 1)
                lines[path + (key,)] = line(index)
                index = skip(index)  # at ':'
                index = skip(value(index + 1, path + (key,)))
                if text[index] == "}":
                    return index + 1
                index += 1  # ','
        if char == "[":
            index = skip(index + 1)
            if text[index] == "]":
                return index + 1
            position = 0
            while True:
                index = skip(value(index, path + (position,)))
                position += 1
                if text[index] == "]":
                    return index + 1
                index += 1
        if char == '"':
            return scanstring(text, index + 1)[1]
        literal = _LITERAL.match(text, index)
        assert literal is not None  # `text` is well-formed JSON: any other value is a non-empty literal
        return literal.end()

    value(0, ())
    return lines
