"""The 行政处罚裁量基准 (行政处罚法 Art. 34): the factors a fine's amount may rest on, the band they leave within (or,
for 减轻, below) the statutory range, and the 时效 of Art. 36. Pure over plain data.

One TOML file per province in discretion/ (`default.toml` ships: the law's framework, with the project's own shares
marked as such); each factor has its kind (从轻, 减轻, 从重, 不予处罚) and legal basis. 不予处罚 factors stand for
Art. 33's circumstances and act through the penalty engine's `no_penalty`; the others move the band.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from checklists._toml import PACKAGE_DIR, Problems, display_name, read_toml, table_at, text_at
from checklists.errors import InputError, KeyPath
from checklists.money import CENT, format_money

# The facts of 行政处罚法 Art. 33 a case may state (`yibao penalty decide`'s "circumstances"); the engine reads them
# from here, and a 不予处罚 factor names the ones it states.
CIRCUMSTANCES = ("minor", "corrected_promptly", "no_harm", "harm_minor", "first_offence", "no_fault")

DISCRETION_DIR = PACKAGE_DIR / "discretion"
DEFAULT_PROVINCE = "default"
LIGHTER, MITIGATED, HEAVIER, NO_PENALTY = "从轻", "减轻", "从重", "不予处罚"
FACTOR_KINDS = (LIGHTER, MITIGATED, HEAVIER, NO_PENALTY)
_PROVINCE = re.compile(r"^[a-z0-9_-]{1,40}$")
_SHARE = re.compile(r"^0(\.[0-9]+)?$|^1(\.0+)?$")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Factor:
    id: str
    label: str
    kind: str  # one of FACTOR_KINDS
    basis: str
    circumstances: tuple[str, ...] = ()  # 不予处罚 only: the penalty engine's Art. 33 circumstances it states

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "label": self.label, "kind": self.kind, "basis": self.basis}


@dataclass(frozen=True)
class Limitation:
    basis: str
    years: int
    extended_years: int  # 涉及公民生命健康安全、金融安全且有危害后果


@dataclass(frozen=True)
class Benchmark:
    province: str
    name: str
    source: str
    basis: str
    lighter_share: Decimal
    heavier_share: Decimal
    mitigated_floor_share: Decimal
    factors: Mapping[str, Factor]
    limitation: Limitation

    def as_json(self) -> dict[str, str]:
        return {"province": self.province, "name": self.name, "source": self.source}


# ------------------------------------------------------------------------------------------ the file

def _share(raw: Mapping[str, Any], key: str, path: KeyPath, problems: Problems) -> Decimal:
    value = raw.get(key)
    if not isinstance(value, str) or not _SHARE.match(value):
        problems.add(path + (key,), f"应为 0～1 之间的十进制字符串（如 \"0.3\"），实际为 {value!r}")
        return Decimal(0)
    return Decimal(value)


def _years(raw: Mapping[str, Any], key: str, path: KeyPath, problems: Problems) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        problems.add(path + (key,), f"年数应为正整数，实际为 {value!r}")
        return 1
    return value


def parse_benchmark(doc: Mapping[str, Any], problems: Problems, circumstances: Sequence[str]) -> Benchmark:
    """A 裁量基准 file's content; `circumstances`: the penalty engine's Art. 33 facts a 不予处罚 factor may state."""
    for extra in sorted(set(doc) - {"province", "name", "source", "band", "limitation", "factors"}):
        problems.add((extra,), "未知的键（允许的键：province、name、source、band、limitation、factors）")
    band = table_at(doc, "band", problems)
    lighter, heavier = _share(band, "lighter_share", ("band",), problems), \
        _share(band, "heavier_share", ("band",), problems)
    if lighter + heavier > 1:
        problems.add(("band",), "lighter_share 与 heavier_share 之和不能超过 1")
    raw_limit = table_at(doc, "limitation", problems)
    limitation = Limitation(text_at(raw_limit, "basis", ("limitation",), problems),
                            _years(raw_limit, "years", ("limitation",), problems),
                            _years(raw_limit, "extended_years", ("limitation",), problems))
    if limitation.extended_years < limitation.years:
        problems.add(("limitation", "extended_years"), "延长的时效不能短于一般时效")
    factors: dict[str, Factor] = {}
    raw_factors = doc.get("factors")
    if not isinstance(raw_factors, list) or not all(isinstance(f, dict) for f in raw_factors):
        problems.add(("factors",), "缺少裁量情节（[[factors]]）")
        raw_factors = []
    for index, rf in enumerate(raw_factors):
        at: KeyPath = ("factors", index)
        for extra in sorted(set(rf) - {"id", "label", "kind", "basis", "circumstances"}):
            problems.add(at + (extra,), "未知的键（允许的键：id、label、kind、basis、circumstances）")
        factor_id = rf.get("id")
        if not isinstance(factor_id, str) or not _ID.match(factor_id):
            problems.add(at + ("id",), f"应为小写英文标识（如 \"repeat_offence\"），实际为 {factor_id!r}")
            continue
        if factor_id in factors:
            problems.add(at + ("id",), f"情节 \"{factor_id}\" 重复")
        kind = rf.get("kind")
        if kind not in FACTOR_KINDS:
            problems.add(at + ("kind",), f"应为 {'、'.join(FACTOR_KINDS)} 之一，实际为 {kind!r}")
        stated = rf.get("circumstances", [])
        if not isinstance(stated, list) or not all(c in circumstances for c in stated):
            problems.add(at + ("circumstances",), f"应为情节名称的数组（{'、'.join(circumstances)}）")
            stated = []
        if (kind == NO_PENALTY) != bool(stated):
            problems.add(at + ("circumstances",), "不予处罚的情节须列出其对应的第三十三条情节，其他情节不列")
        factors[factor_id] = Factor(factor_id, text_at(rf, "label", at, problems), str(kind),
                                    text_at(rf, "basis", at, problems), tuple(stated))
    return Benchmark(str(doc.get("province", "")), text_at(doc, "name", (), problems),
                     text_at(doc, "source", (), problems), text_at(band, "basis", ("band",), problems), lighter, heavier,
                     _share(band, "mitigated_floor_share", ("band",), problems), factors, limitation)


def load_benchmark(path: Path, circumstances: Sequence[str]) -> Benchmark:
    doc, text = read_toml(path)
    problems = Problems(display_name(path), text)
    benchmark = parse_benchmark(doc, problems, circumstances)
    if benchmark.province != path.stem:
        problems.add(("province",), f"应与文件名一致（\"{path.stem}\"），实际为 {benchmark.province!r}")
    problems.raise_if_any()
    return benchmark


def provinces() -> list[str]:
    return sorted(p.stem for p in DISCRETION_DIR.glob("*.toml"))


@cache
def benchmark_for(province: str = DEFAULT_PROVINCE) -> Benchmark:
    """The packaged 裁量基准 of a province (read once); InputError naming the province when there is none."""
    if not _PROVINCE.match(province) or province not in provinces():
        raise InputError(f"没有省份 \"{province}\" 的裁量基准（已有：{'、'.join(provinces())}）", [(
            ("province",), f"没有省份 \"{province}\" 的裁量基准（已有：{'、'.join(provinces())}）")])
    return load_benchmark(DISCRETION_DIR / f"{province}.toml", CIRCUMSTANCES)


def factors_of(ids: Any, benchmark: Benchmark, problems: Problems) -> tuple[Factor, ...]:
    """The cited factors, in the benchmark's order; every unknown or repeated id is a problem at ("factors", i)."""
    if not isinstance(ids, list):
        problems.add(("factors",), f"应为裁量情节编号的数组，实际为 {ids!r}")
        return ()
    for index, factor_id in enumerate(ids):
        if not isinstance(factor_id, str) or factor_id not in benchmark.factors:
            shown = f"\"{factor_id}\"" if isinstance(factor_id, str) else repr(factor_id)
            problems.add(("factors", index), f"未知的裁量情节 {shown}（{benchmark.name}中有："
                                             f"{'、'.join(benchmark.factors)}）")
        elif factor_id in ids[:index]:
            problems.add(("factors", index), f"裁量情节 \"{factor_id}\" 重复")
    return tuple(f for f in benchmark.factors.values() if f.id in ids)


# ------------------------------------------------------------------------------------------ the band

def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def band(fine_range: tuple[Decimal, Decimal], factors: Sequence[Factor],
         benchmark: Benchmark) -> tuple[Decimal, Decimal, list[str]]:
    """The part of the statutory fine range [min, max] the cited factors leave, and why, in Chinese.

    None of 从轻/减轻/从重: the middle part. 从轻: the lower part; 从重: the upper part; both: the whole range, weighed
    by the reviewer. 减轻 (Art. 32, 应当从轻或者减轻): from a share of the minimum up to the lower part's top.
    不予处罚 factors do not move the band (the engine drops the fine when a penalty must not be imposed)."""
    low, high = fine_range
    width = high - low
    lighter_top = _cents(low + width * benchmark.lighter_share)
    heavier_bottom = _cents(high - width * benchmark.heavier_share)
    kinds = {f.kind for f in factors}
    shown = f"（{benchmark.name}，{benchmark.basis.split('：')[0]}）"
    reasons = [f"{f.kind}：{f.label}（{f.basis}）" for f in factors]
    if MITIGATED in kinds:
        band_low = _cents(low * benchmark.mitigated_floor_share)
        reasons.append(f"有应当从轻或者减轻处罚的情节：可在法定下限以下减轻处罚，不低于 {format_money(band_low)} 元{shown}")
    elif LIGHTER in kinds:
        band_low = low
    elif HEAVIER in kinds:
        band_low = heavier_bottom
    else:
        band_low = lighter_top
    if HEAVIER in kinds:
        band_high = high
    elif kinds & {LIGHTER, MITIGATED}:
        band_high = lighter_top
    else:
        band_high = heavier_bottom
    if not kinds & {LIGHTER, MITIGATED, HEAVIER}:
        reasons.append(f"无从轻、减轻或从重情节：在法定幅度中段裁量{shown}")
    elif HEAVIER in kinds and kinds & {LIGHTER, MITIGATED}:
        reasons.append(f"从重与从轻（减轻）情节并存：在上述幅度内综合裁量{shown}")
    return band_low, band_high, reasons


# ------------------------------------------------------------------------------------------ 时效

def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def limitation(conduct_end: date, discovered_on: date, extended: bool, rule: Limitation) -> dict[str, Any]:
    """行政处罚法 Art. 36: a penalty only if the conduct (continuous conduct: from its end) was discovered within the
    period. `extended`: the conduct 涉及公民生命健康安全、金融安全且有危害后果."""
    years = rule.extended_years if extended else rule.years
    last_day = years_after(conduct_end, years)
    expired = discovered_on > last_day
    message = (f"违法行为终了于 {conduct_end.isoformat()}，至 {discovered_on.isoformat()} 发现已超过 {years} 年，"
               f"不再给予行政处罚（行政处罚法第三十六条）" if expired else "")
    return {"conduct_end": conduct_end.isoformat(), "discovered_on": discovered_on.isoformat(), "years": years,
            "extended": extended, "last_day": last_day.isoformat(), "expired": expired, "message": message,
            "basis": rule.basis}
