"""`yibao bureau add-staff` — bureau staff accounts (科室负责人, 审核人员, 管理员)."""

from __future__ import annotations

import os

import typer

from bureau.settings import resolve_settings
from yibao.errors import fail

PASSWORD_ENV = "YIBAO_STAFF_PASSWORD"


def add_staff(
    username: str = typer.Argument(..., help="登录账号"),
    name: str = typer.Option(..., "--name", help="姓名"),
    role: str = typer.Option(..., "--role", help="supervisor | reviewer | admin"),
    inspector: str = typer.Option(None, "--inspector", help="本人同时为检查人员时的人员编号"),
    db: str = typer.Option(None, "--db"),
    data: str = typer.Option(None, "--data"),
) -> None:
    """Create a staff account; the password comes from YIBAO_STAFF_PASSWORD or is asked for."""
    from sqlmodel import Session

    from bureau import staff
    from bureau.service import BureauStartError, open_bureau

    password = os.environ.get(PASSWORD_ENV) or typer.prompt("密码", hide_input=True, confirmation_prompt=True)
    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        try:
            staff.add_account(session, username, name, role, password, inspector)
        except staff.StaffError as exc:
            fail(exc.message)
        session.commit()
    typer.echo(f"已创建账号 {username}（{staff.ROLES[role]}）", err=True)
