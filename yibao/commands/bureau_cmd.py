"""`yibao bureau …` — database and keys, enrollment tokens, statistics, the merkle log's check."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bureau.settings import DEFAULT_SHARES, DEFAULT_THRESHOLD, resolve_settings
from yibao.errors import EXIT_USAGE, fail, print_json

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bureau import keystore

app = typer.Typer(no_args_is_help=True)

DbOption = typer.Option(None, "--db", help="数据库地址，默认 sqlite:///<data>/bureau.db")
DataOption = typer.Option(None, "--data", help="数据目录")


def _passphrase() -> bytes:
    from bureau import keystore

    try:
        return keystore.passphrase_from_env()
    except keystore.KeystoreError:
        return typer.prompt("机构密钥口令", hide_input=True, confirmation_prompt=True).encode()


SharesOption = typer.Option(DEFAULT_SHARES, "--shares", help="恢复分片份数 N（交给 N 位保管人）")
ThresholdOption = typer.Option(DEFAULT_THRESHOLD, "--threshold", help="恢复所需份数 M")


def _print_recovery_kit(kit: keystore.RecoveryKit) -> None:
    """The shares go to stdout once, never to disk: each custodian keeps the two lines under their heading."""
    for number, lines in enumerate(kit.shares, start=1):
        typer.echo(f"# 保管人 {number}/{len(kit.shares)}（任意 {kit.threshold} 位保管人的分片可恢复机构密钥）")
        for line in lines:
            typer.echo(line)
    typer.echo(f"以上 {len(kit.shares)} 组恢复分片只显示这一次：请分别交给 {len(kit.shares)} 位保管人离线保存；"
               f"忘记口令时，任意 {kit.threshold} 组可用 yibao bureau recover-keys 恢复密钥。", err=True)


def _check_split(shares: int, threshold: int) -> None:
    if not 2 <= threshold <= shares <= 255:
        fail(f"恢复分片参数不正确：需要 2 ≤ --threshold ≤ --shares ≤ 255（现为 {threshold}/{shares}）", EXIT_USAGE)


AgencyNameOption = typer.Option(None, "--agency-name", help="发文机关全称（印在决定书和一公开页面上），如 福州市医疗保障局")


def _store_agency_name(engine: Engine, name: str) -> tuple[str, str]:
    """(before, after) the name is stored."""
    from sqlmodel import Session

    from bureau import agency

    with Session(engine) as session:
        before = agency.agency_name(session)
        after = agency.set_agency_name(session, name)
        session.commit()
    return before, after


@app.command("init")
def init(db: str = DbOption, data: str = DataOption, shares: int = SharesOption,
         threshold: int = ThresholdOption, agency_name: str = AgencyNameOption) -> None:
    """Create the bureau database and keys (keys are never overwritten); print the M-of-N recovery shares once.
    `--agency-name` names the issuing agency (it can be changed later with `set-agency-name`)."""
    from bureau import agency, keystore
    from bureau.service import BureauStartError, open_bureau
    from sync.keys import key_id

    _check_split(shares, threshold)
    if agency_name is not None:
        try:
            agency.check_name(agency_name)
        except ValueError as exc:
            fail(f"--agency-name：{exc}", EXIT_USAGE)
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    if agency_name is not None:
        typer.echo(f"发文机关：{_store_agency_name(bureau.engine, agency_name)[1]}", err=True)
    if keystore.keys_exist(settings):
        typer.echo(f"数据库已就绪；密钥已存在，未改动：{keystore.keys_dir(settings)}", err=True)
        return
    try:
        kit = keystore.create_keys(settings, _passphrase(), shares=shares, threshold=threshold)
    except keystore.KeystoreError as exc:
        fail(str(exc))
    typer.echo(f"已创建数据库与机构密钥（签名密钥 {key_id(kit.public.signing)}，封装密钥 "
               f"{key_id(kit.public.sealing)}）：{settings.data_dir}", err=True)
    _print_recovery_kit(kit)


@app.command("upgrade")
def upgrade(db: str = DbOption, data: str = DataOption) -> None:
    """Bring the bureau database's schema to this installation's revision (Alembic); a database made before the
    schema had revisions is recognised by its tables. Back the database up first."""
    from bureau.service import BureauStartError, upgrade_bureau

    try:
        before, after = upgrade_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    if before.revision == after.revision:
        typer.echo(f"数据库结构已是最新版本 {after.revision}，未改动", err=True)
        return
    was = {"empty": "空数据库", "pre-alembic": "未记录版本的旧结构"}.get(before.status, f"版本 {before.revision}")
    typer.echo(f"数据库结构已升级到版本 {after.revision}（原为{was}）", err=True)


@app.command("set-agency-name")
def set_agency_name(name: str = typer.Argument(..., help="发文机关全称，如 福州市医疗保障局"), db: str = DbOption,
                    data: str = DataOption) -> None:
    """Change the issuing agency's name printed on the 决定书 and the 一公开 page."""
    from bureau import agency
    from bureau.service import BureauStartError, open_bureau

    try:
        agency.check_name(name)
    except ValueError as exc:
        fail(f"NAME：{exc}", EXIT_USAGE)
    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    before, after = _store_agency_name(bureau.engine, name)
    typer.echo(f"发文机关已由“{before}”改为“{after}”：此后生成的决定书和一公开页面使用新名称", err=True)


@app.command("set-payment-accounts")
def set_payment_accounts(
        fund_name: str = typer.Option(None, "--fund-name", help="医保基金收款账户户名（责令退回的基金缴入此账户）"),
        fund_bank: str = typer.Option(None, "--fund-bank", help="医保基金收款账户开户行"),
        fund_account: str = typer.Option(None, "--fund-account", help="医保基金收款账号"),
        treasury_name: str = typer.Option(None, "--treasury-name", help="罚没款缴库账户户名（罚款上缴国库）"),
        treasury_bank: str = typer.Option(None, "--treasury-bank", help="罚没款缴库账户开户行"),
        treasury_account: str = typer.Option(None, "--treasury-account", help="罚没款缴库账号"),
        review_organ: str = typer.Option(None, "--review-organ", help="行政复议机关全称，如 福州市人民政府"),
        court: str = typer.Option(None, "--court", help="管辖人民法院全称，如 福州市鼓楼区人民法院"),
        handling_agency: str = typer.Option(None, "--handling-agency",
                                            help="医疗保障经办机构全称（协议处理通知书的发文机构）"),
        db: str = DbOption, data: str = DataOption) -> None:
    """Set what the case documents name: the payee accounts (条例 第四十五条), the 复议机关 and court, and the
    经办机构. Only the options given change; prints every field as JSON, null where still unset."""
    from sqlmodel import Session

    from bureau import case_settings
    from bureau.service import BureauStartError, open_bureau

    given = [("--fund-name", "fund_account_name", fund_name), ("--fund-bank", "fund_bank", fund_bank),
             ("--fund-account", "fund_account_no", fund_account),
             ("--treasury-name", "treasury_account_name", treasury_name),
             ("--treasury-bank", "treasury_bank", treasury_bank),
             ("--treasury-account", "treasury_account_no", treasury_account),
             ("--review-organ", "review_organ", review_organ), ("--court", "court", court),
             ("--handling-agency", "handling_agency", handling_agency)]
    values = {}
    for option, name, text in given:
        if text is None:
            continue
        try:
            values[name] = case_settings.check_value(name, text)
        except ValueError as exc:
            fail(f"{option}：{exc}", EXIT_USAGE)
    try:
        bureau = open_bureau(resolve_settings(db, data))
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        stored = case_settings.set_case_settings(session, values)
        session.commit()
    print_json(stored)
    unset = case_settings.printed(stored)[1]
    if unset:
        typer.echo(f"尚未设置：{'、'.join(unset)}。未设置前，文书中为占位文字，不得送达", err=True)


@app.command("rotate-keys")
def rotate_keys(db: str = DbOption, data: str = DataOption, shares: int = SharesOption,
                threshold: int = ThresholdOption) -> None:
    """Replace the bureau keys; devices adopt the new ones through a statement signed by the old signing key.
    Old keys are kept (records sealed to them still open). Restart `yibao serve` afterwards."""
    from bureau import keystore
    from sync.keys import key_id

    _check_split(shares, threshold)
    settings = resolve_settings(db, data)
    try:
        kit = keystore.rotate_keys(settings, _passphrase(), shares=shares, threshold=threshold)
    except keystore.KeystoreError as exc:
        fail(str(exc))
    typer.echo(f"已轮换机构密钥（新签名密钥 {key_id(kit.public.signing)}），请重启局端服务", err=True)
    _print_recovery_kit(kit)


@app.command("recover-keys")
def recover_keys(shares_file: Path = typer.Argument(..., help="恢复分片文件：至少 M 位保管人的分片，每行一个"),
                 db: str = DbOption, data: str = DataOption) -> None:
    """Rebuild the keys from M recovery shares and store them under a new passphrase (the one given now)."""
    from bureau import keystore

    settings = resolve_settings(db, data)
    try:
        text = shares_file.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"无法读取恢复分片文件 {shares_file}：{exc.strerror or exc}")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    try:
        recovered, remaining = keystore.recover_keys(settings, lines, _passphrase())
    except keystore.KeystoreError as exc:
        fail(str(exc))
    typer.echo(f"已用新口令重新保存密钥：{'、'.join(recovered)}", err=True)
    if remaining:
        typer.echo(f"以下密钥文件仍使用旧口令，需要各自的恢复分片：{'、'.join(remaining)}", err=True)


@app.command("enroll-token")
def enroll_token(inspector: str = typer.Option(..., "--inspector", help="人员编号"), db: str = DbOption,
                 data: str = DataOption) -> None:
    """Print a one-time enrollment token for an inspector's tablet (alone on the last line)."""
    from sqlmodel import Session

    from bureau import enrollment
    from bureau.service import BureauStartError, open_bureau

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
    from sqlmodel import Session

    from bureau import ingest
    from bureau.service import BureauStartError, open_bureau

    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        numbers = ingest.stats(session)
    if as_json:
        print_json(numbers)
        return
    typer.echo(f"检查记录 {numbers['records']} 份；附件 {numbers['blobs']} 个（{numbers['blob_bytes']} 字节）；"
               f"拒收 {numbers['rejected']} 次；忽略重复 {numbers['duplicates_ignored']} 次；日志 {numbers['log_size']} 条")


@app.command("verify-log")
def verify_log(as_json: bool = typer.Option(False, "--json"), db: str = DbOption, data: str = DataOption) -> None:
    """Recompute the merkle log from the stored leaves and check every signed tree head (its root, and its signature
    by the bureau's current or an earlier signing key) and every record's leaf and receipt. Exit 0 only when all
    match; else 1, naming the first mismatch."""
    from bureau.service import BureauStartError, log_report, open_bureau

    settings = resolve_settings(db, data)
    try:
        report = log_report(open_bureau(settings))
    except BureauStartError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_json())
    if not report.ok:
        fail(report.summary())
    typer.echo(report.summary(), err=True)


@app.command("revoke-device")
def revoke_device(device: str = typer.Option(None, "--device", help="设备编号：吊销该设备上的全部密钥"),
                  key: str = typer.Option(None, "--key", help="密钥标识：只吊销这一把"),
                  reason: str = typer.Option(..., "--reason", help="吊销原因（设备会看到）"),
                  db: str = DbOption, data: str = DataOption) -> None:
    """Revoke a tablet (or one inspector's key on it): every later request and record signed by it is refused."""
    from sqlmodel import Session, select

    from bureau import enrollment
    from bureau.models import DeviceKey
    from bureau.service import BureauStartError, open_bureau

    if (device is None) == (key is None):
        fail("请指定 --device 或 --key 之一", EXIT_USAGE)
    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        key_ids = [key] if key else list(session.exec(select(DeviceKey.key_id).where(DeviceKey.device_id == device)))
        if not key_ids:
            fail(f"没有设备 {device} 的密钥")
        try:
            for key_id_ in key_ids:
                enrollment.revoke(session, key_id_, reason, datetime.now(timezone.utc))
        except enrollment.EnrollmentError as exc:
            fail(exc.message)
        session.commit()
    typer.echo(f"已吊销 {len(key_ids)} 把设备密钥", err=True)


@app.command("revoke-assignment")
def revoke_assignment(assignment_id: str = typer.Argument(..., help="检查任务编号"),
                      reason: str = typer.Option(..., "--reason", help="撤回理由（如检查组成员申请回避）"),
                      db: str = DbOption, data: str = DataOption) -> None:
    """Withdraw an issued assignment: the team's tablets drop it on their next pull; records for it are refused."""
    from sqlmodel import Session

    from bureau import assignments
    from bureau.service import BureauStartError, open_bureau, open_signing_key

    settings = resolve_settings(db, data)
    try:
        bureau = open_bureau(settings)
        signing_key = open_signing_key(settings)
    except BureauStartError as exc:
        fail(str(exc))
    with Session(bureau.engine) as session:
        try:
            revoked = assignments.revoke_assignment(session, signing_key, assignment_id, reason, "cli",
                                                    datetime.now(timezone.utc))
        except assignments.AssignmentError as exc:
            fail(exc.message)
        session.commit()
        print_json({**assignments.signed_content(revoked), "status": revoked.status, "seq": revoked.seq})
    typer.echo(f"已撤回检查任务 {assignment_id}：检查组的平板下次同步时收到", err=True)
