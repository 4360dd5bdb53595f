"""Root of the `yibao` command line. Each command group lives in `yibao/commands/<group>.py`.

Start-up stays light: a command module imports at its top only what its options and help need, and the heavy
libraries (SQLAlchemy, FastAPI, uvicorn, Flet, fpdf2, requests, Pillow) inside the commands that use them
(tests/test_cli_start.py holds it to that); typer's parameters are coerced without pydantic (`yibao.typer_params`).
"""

from __future__ import annotations

import typer

from yibao import typer_params
from yibao.commands import (
    app_cmd,
    bureau_cmd,
    case_cmd,
    checklist_cmd,
    demo_cmd,
    device_cmd,
    disclose_cmd,
    draw_cmd,
    penalty_cmd,
    registry_cmd,
    screen_cmd,
    serve_cmd,
    staff_cmd,
)

typer_params.install()

app = typer.Typer(
    help="医保基金现场检查 — bureau server, inspector app and the tools around them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs more than the rest of the start-up together
)

app.command("demo", help="Seeded bureau + app in web mode on loopback; runs until Ctrl-C.")(demo_cmd.demo)
app.command("serve", help="Run the bureau server.")(serve_cmd.serve)
app.command("app", help="Run the Flet app in web mode on loopback.")(app_cmd.run_app)
app.command("disclose", help="一公开 export of a period's draws and outcomes.")(disclose_cmd.disclose)
bureau_cmd.app.command("add-staff", help="Create a bureau staff account.")(staff_cmd.add_staff)
app.add_typer(bureau_cmd.app, name="bureau", help="Bureau database, keys, enrollment tokens, statistics.")
app.add_typer(registry_cmd.app, name="registry", help="Import the 名录库 registries (CSV or XLSX).")
app.add_typer(draw_cmd.app, name="draw", help="The 双随机 draw: commit, run, verify.")
app.add_typer(checklist_cmd.app, name="checklist", help="Checklist templates and scoring.")
app.add_typer(penalty_cmd.app, name="penalty", help="Measures the regulation prescribes for a case.")
app.add_typer(case_cmd.app, name="case", help="案卷：导出一个案件的全部文书与证据（ZIP），离线核验。")
app.add_typer(device_cmd.app, name="device", help="Headless device: enroll, fill demo inspections, sync, status.")
app.add_typer(screen_cmd.claims_app, name="claims", help="智能监控：导入结算明细（CSV 或 Parquet）。")
app.add_typer(screen_cmd.screen_app, name="screen", help="智能监控：知识库与筛查运行。")


def main() -> None:
    app()
