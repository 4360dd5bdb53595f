"""`yibao penalty …` — the measures the regulation prescribes for a case."""

from __future__ import annotations

from pathlib import Path

import typer

from yibao.commands.checklist_cmd import fail_located, read_json_file
from yibao.errors import print_json

app = typer.Typer(no_args_is_help=True)


@app.command("decide")
def decide(case_file: Path = typer.Argument(
        ..., help="案件 JSON：{\"party\": …, \"findings\": […], \"circumstances\": {…}, \"factors\": […], "
                  "\"province\": …}")) -> None:
    """The measures the regulation prescribes for a case, with 不予处罚, the hearing right, each measure's track,
    the referrals and the fine's band under the cited 裁量情节 (JSON out)."""
    from checklists import InputError
    from checklists.penalty import decide as decide_case

    case, _, problems = read_json_file(case_file)
    try:
        decision = decide_case(case)
    except InputError as exc:
        fail_located(exc, problems)
    print_json(decision)


@app.callback()
def _group() -> None:
    """Penalty engine."""
