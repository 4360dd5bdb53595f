"""`yibao case …` — the 案卷 of a case: export it as one ZIP, verify a ZIP offline."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer

from bureau.settings import resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json

app = typer.Typer(no_args_is_help=True)

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db")
DataOption = typer.Option(None, "--data", help="数据目录")


@app.command("export")
def export(record_id: str = typer.Argument(..., help="检查记录编号"),
           out: Path = typer.Option(..., "--out", help="案卷 ZIP 文件"), db: str = DbOption,
           data: str = DataOption) -> None:
    """Every document of the case as PDF, the signed record versions, their log receipts, the photos, the audit log
    and a manifest signed by the bureau, in one ZIP (the bureau's key passphrase is needed to sign it)."""
    from sqlmodel import Session

    from bureau import case_file, keystore
    from bureau.review import ReviewError
    from bureau.service import BureauStartError, open_bureau
    from bureau.transparency import LogInconsistent, TransparencyLog

    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
        signing_key = keystore.open_signing_key(settings)
    except (BureauStartError, keystore.KeystoreError) as exc:
        fail(str(exc))
    try:
        with Session(bureau.engine) as session:
            case_file.export_case(session, settings, record_id, TransparencyLog(bureau.engine, signing_key),
                                  signing_key, datetime.now(timezone.utc), out)
    except ReviewError as exc:
        fail(f"RECORD_ID：{exc.message}")
    except (LogInconsistent, OSError) as exc:
        fail(f"无法导出案卷：{exc}")
    print_json(case_file.summary(out) | {"file": str(out)})


@app.command("verify")
def verify(file: Path = typer.Argument(..., help="案卷 ZIP 文件"),
           bureau_key: str = typer.Option(None, "--bureau-key",
                                          help="医保局公布的签名公钥（base64）；不给则用案卷自带的公钥"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Check a 案卷 offline: the manifest's signature, every file's SHA-256, each record's signatures, its inclusion
    proof against the signed tree head and the bureau's key, and the audit log's hash chain. Exit 0 only when all
    hold; else 1, naming each file that fails."""
    from bureau import case_file
    from sync.keys import signing_public_from_b64

    pinned = None
    if bureau_key is not None:
        try:
            pinned = signing_public_from_b64(bureau_key)
        except (ValueError, TypeError):
            fail("--bureau-key：不是有效的 Ed25519 公钥（base64）", EXIT_USAGE)
    try:
        problems = case_file.verify_case_file(file, pinned)
    except OSError as exc:
        fail(f"{file}：无法读取（{exc.strerror or exc}）")
    if as_json:
        print_json({"ok": not problems, "problems": problems,
                    "summary": case_file.summary(file) if not problems else None})
    if problems:
        fail(f"{file}：案卷核验未通过（{len(problems)} 处）：\n" + "\n".join(problems))
    note = "" if pinned else "（未指定 --bureau-key：以案卷自带的医保局公钥核验）"
    typer.echo(f"{file}：案卷核验通过{note}", err=True)
