"""`yibao checklist …` — list the checklist templates; score a set of answers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from yibao.errors import EXIT_USAGE, fail, print_json

if TYPE_CHECKING:
    from checklists import InputError
    from checklists._toml import Problems

app = typer.Typer(no_args_is_help=True)


def read_json_file(path: Path) -> tuple[Any, str, Problems]:
    """The document, the name to show, and a Problems that can name its lines. Unreadable file → exit 2."""
    from checklists import InputError
    from checklists._json import parse_json
    from checklists._toml import Problems

    name = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        fail(f"{name}：无法读取文件（{exc.strerror or exc}）", EXIT_USAGE)
    except UnicodeDecodeError:
        fail(f"{name}：文件不是 UTF-8 编码")
    try:
        data, lines = parse_json(text, name)
    except InputError as exc:
        fail(str(exc))
    return data, name, Problems(name, lines=lines)


def fail_located(exc: InputError, problems: Problems, prefix: tuple = ()) -> None:
    """Exit 1 naming file, line and key of every problem in `exc`."""
    for path, message in exc.entries:
        problems.add(prefix + tuple(path), message)
    fail("\n".join(problems.messages))


@app.command("list")
def list_templates(as_json: bool = typer.Option(False, "--json", help="以 JSON 输出（含条目）")) -> None:
    """List checklist templates: id, kind, version, hash, item count."""
    import checklists
    from checklists import InputError, load_templates

    try:
        templates = load_templates()
        kinds = checklists.KINDS
    except InputError as exc:
        fail(str(exc))
    if as_json:
        print_json([
            {"id": t.id, "kind": t.kind, "version": t.version, "hash": t.hash,
             "items": [{"id": i.id, "section": i.section, "severity": i.severity, "category": i.category,
                        "weight": i.weight} for i in t.items]}
            for t in templates.values()
        ])
        return
    for t in templates.values():
        typer.echo(f"{t.id}\t{t.kind}（{kinds.get(t.kind, t.kind)}）\t{t.version}\t{t.hash}\t{len(t.items)} 项")


@app.command("score")
def score(answers_file: Path = typer.Argument(..., help="答卷 JSON：{\"template\": \"id 或 id@hash\", \"answers\": {…}}")) -> None:
    """Score a set of answers (JSON out)."""
    from checklists import InputError, resolve_template
    from checklists.scoring import score as score_answers

    data, name, problems = read_json_file(answers_file)
    if not isinstance(data, dict):
        fail(f"{name}：答卷应为 JSON 对象，含 template 与 answers")
    for key in ("template", "answers"):
        if key not in data:
            problems.add((), f"缺少键 {key}")
    for key in data:
        if key not in ("template", "answers"):
            problems.add((key,), "未知的键（允许的键：template、answers）")
    if problems.entries:
        fail("\n".join(problems.messages))
    try:
        template = resolve_template(data["template"])
    except InputError as exc:
        fail_located(exc, problems, ("template",))
    try:
        result = score_answers(template, data["answers"])
    except InputError as exc:
        fail_located(exc, problems)
    print_json(result.to_json(template))
