"""The issuing agency (发文机关): its name, printed on the 决定书 and the 一公开 page.

A row of `BureauSetting`, so every node of one bureau prints the same name; set by `yibao bureau init
--agency-name` or `yibao bureau set-agency-name`. A bureau that has not named itself prints `DEFAULT_NAME`.
"""

from __future__ import annotations

import unicodedata

from sqlmodel import Session

from bureau.models import BureauSetting

KEY = "agency_name"
DEFAULT_NAME = "医疗保障局"
MAX_LENGTH = 40


def check_name(text: str) -> str:
    """The name as stored (trimmed); ValueError saying what is wrong, in Chinese."""
    name = text.strip()
    if not name:
        raise ValueError("发文机关名称不能为空（应为全称，如 福州市医疗保障局）")
    if len(name) > MAX_LENGTH:
        raise ValueError(f"发文机关名称过长（{len(name)} 字，最多 {MAX_LENGTH} 字）")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError("发文机关名称不能含换行或控制字符")
    return name


def agency_name(session: Session) -> str:
    row = session.get(BureauSetting, KEY)
    return row.value if row else DEFAULT_NAME


def set_agency_name(session: Session, text: str) -> str:
    """Store the name (checked by `check_name`) and return it; the caller commits."""
    name = check_name(text)
    row = session.get(BureauSetting, KEY) or BureauSetting(key=KEY, value=name)
    row.value = name
    session.add(row)
    return name
