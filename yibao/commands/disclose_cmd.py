"""`yibao disclose --period P --out DIR` — the 一公开 export (static HTML, CSV, JSON; see bureau/disclosure.py)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

import typer

from bureau.settings import resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json


def disclose(period: str = typer.Option(..., "--period", help="公示期间：2026、2026-Q4 或 2026-11"),
             out: Path = typer.Option(..., "--out", help="输出目录（index.html、disclosure.json、CSV、抽取记录）"),
             db: str = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db"),
             data: str = typer.Option(None, "--data", help="数据目录")) -> None:
    """Export the period's draws and outcomes with the log's signed tree head; the published cases become 已公开."""
    from cryptography.hazmat.primitives import serialization
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from bureau import disclosure
    from bureau.service import BureauStartError, open_bureau, open_signing_key

    try:
        chosen = disclosure.parse_period(period)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
        public = open_signing_key(settings).public_key()  # readers check the tree head's signature with it
    except BureauStartError as exc:
        fail(str(exc))
    key_b64 = base64.b64encode(public.public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)).decode()
    with Session(bureau.engine) as session:
        try:
            summary = disclosure.export(session, chosen, out.resolve(), key_b64, datetime.now(timezone.utc))
            session.commit()
        except OSError as exc:
            fail(f"{out}：无法写入公示文件，未改变任何案件状态（{exc.strerror or exc}）")
        except SQLAlchemyError as exc:
            fail(f"数据库错误，公示文件已写出但案件状态未改变，请重试：{str(getattr(exc, 'orig', exc)).splitlines()[0]}")
    print_json(summary)
    typer.echo(f"已生成 {chosen.label} 公示：抽取 {summary['draws']} 次，检查结果 {summary['outcomes']} 家次"
               f"（新公开 {summary['newly_published']}），见 {out / 'index.html'}", err=True)
