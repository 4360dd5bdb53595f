"""`yibao bureau …` — database and keys, enrollment tokens, statistics."""

from __future__ import annotations

from datetime import datetime, timezone

import typer
from sqlmodel import Session

from bureau import enrollment, keystore
from bureau.service import BureauStartError, open_bureau
from bureau.settings import resolve_settings
from yibao.errors import fail, not_yet

app = typer.Typer(no_args_is_help=True)

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db")
DataOption = typer.Option(None, "--data", help="数据目录")


def _passphrase() -> bytes:
    try:
        return keystore.passphrase_from_env()
    except keystore.KeystoreError:
        return typer.prompt("机构密钥口令", hide_input=True, confirmation_prompt=True).encode()


@app.command("init")
def init(db: str = DbOption, data: str = DataOption) -> None:
    """Create the bureau database and keys (keys are never overwritten)."""
    settings = resolve_settings(db, data)
    try:
        open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    if keystore.keys_exist(settings):
        typer.echo(f"数据库已就绪；密钥已存在，未改动：{keystore.keys_dir(settings)}", err=True)
        return
    try:
        keystore.create_keys(settings, _passphrase())
    except keystore.KeystoreError as exc:
        fail(str(exc))
    typer.echo(f"已创建数据库与机构密钥：{settings.data_dir}", err=True)


@app.command("enroll-token")
def enroll_token(inspector: str = typer.Option(..., "--inspector", help="人员编号"), db: str = DbOption,
                 data: str = DataOption) -> None:
    """Print a one-time enrollment token for an inspector's tablet (alone on the last line)."""
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        try:
            token = enrollment.issue_token(session, inspector, datetime.now(timezone.utc))
        except enrollment.EnrollmentError as exc:
            fail(exc.message)
        session.commit()
    typer.echo(f"注册码（72 小时内有效，仅可使用一次），人员 {inspector}：", err=True)
    typer.echo(token)


@app.command("stats")
def stats(as_json: bool = typer.Option(False, "--json"), db: str = DbOption, data: str = DataOption) -> None:
    """Counts of records, blobs, rejections and the log size."""
    not_yet("bureau stats")
