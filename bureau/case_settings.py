"""What the case documents name besides the issuing agency: the payee accounts (条例 第四十五条: 退回的基金 into the
fund's account, 罚款 into the treasury), the 复议机关 and the court named in the 救济 notice (行政处罚法 第五十九条), and
the 医疗保障经办机构 that issues the 协议处理通知书.

Rows of `BureauSetting` (key ``case.<field>``), so every node prints the same; set by `yibao bureau
set-payment-accounts`. A field not set prints its placeholder, and the document warns that it is one.

A document served to a party must not change when a setting changes later: the step that issues it (告知, 听证通知,
作出决定) stores a `snapshot` with the case's procedure record, and the document prints `as_issued`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Mapping

from sqlmodel import Session

from bureau.agency import agency_name
from bureau.models import BureauSetting

PREFIX = "case."
MAX_LENGTH = 80


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # as the command and the warnings name it
    placeholder: str  # printed while unset


FIELDS = (
    Field("fund_account_name", "医保基金收款账户户名", "（未设置基金收款账户户名）"),
    Field("fund_bank", "医保基金收款账户开户行", "（未设置开户行）"),
    Field("fund_account_no", "医保基金收款账号", "（未设置账号）"),
    Field("treasury_account_name", "罚没款缴库账户户名", "（未设置国库账户户名）"),
    Field("treasury_bank", "罚没款缴库账户开户行", "（未设置开户行）"),
    Field("treasury_account_no", "罚没款缴库账号", "（未设置账号）"),
    Field("review_organ", "行政复议机关", "（未设置行政复议机关）"),
    Field("court", "管辖人民法院", "（未设置人民法院）"),
    Field("handling_agency", "医疗保障经办机构", "医疗保障经办机构"),
)
BY_NAME = {f.name: f for f in FIELDS}
AGENCY = "agency_name"  # the issuing agency (bureau.agency) in a snapshot
ACCOUNT_FIELDS = ("fund_account_name", "fund_bank", "fund_account_no", "treasury_account_name", "treasury_bank",
                  "treasury_account_no")


def check_value(field: str, text: str) -> str:
    """The value as stored (trimmed); ValueError naming the field, in Chinese."""
    label = BY_NAME[field].label
    value = text.strip()
    if not value:
        raise ValueError(f"{label}不能为空")
    if len(value) > MAX_LENGTH:
        raise ValueError(f"{label}过长（{len(value)} 字，最多 {MAX_LENGTH} 字）")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError(f"{label}不能含换行或控制字符")
    return value


def case_settings(session: Session) -> dict[str, str | None]:
    """Every field, None where the bureau has not set it."""
    out: dict[str, str | None] = {}
    for field in FIELDS:
        row = session.get(BureauSetting, PREFIX + field.name)
        out[field.name] = row.value if row else None
    return out


def set_case_settings(session: Session, values: dict[str, str]) -> dict[str, str | None]:
    """Store the given fields (each checked by `check_value`); the caller commits. Returns every field."""
    checked = {name: check_value(name, text) for name, text in values.items()}
    for name, value in checked.items():
        row = session.get(BureauSetting, PREFIX + name) or BureauSetting(key=PREFIX + name, value=value)
        row.value = value
        session.add(row)
    session.flush()
    return case_settings(session)


def printed(settings: dict[str, str | None]) -> tuple[dict[str, str], list[str]]:
    """What the documents print for each field, and the labels of those still placeholders (the warning)."""
    shown = {f.name: settings.get(f.name) or f.placeholder for f in FIELDS}
    unset = [f.label for f in FIELDS if not settings.get(f.name)]
    return shown, unset


def snapshot(session: Session) -> dict[str, str | None]:
    """Every setting a document prints, as it is now: the agency's name (`AGENCY`) and every field."""
    return {AGENCY: agency_name(session), **case_settings(session)}


def as_issued(stored: Mapping[str, str | None] | None, current: Mapping[str, str | None]) -> dict[str, str | None]:
    """What a document prints: the `snapshot` stored when it was issued; the current value where the snapshot has
    none (a field unset then printed a placeholder, and such a document was not to be served) or where the document
    was issued before documents kept one."""
    kept = stored or {}
    return {name: kept.get(name) or value for name, value in current.items()}
