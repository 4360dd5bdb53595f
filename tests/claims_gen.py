"""Synthetic settlement line items (结算明细) for the screening tests and bench/bench_screening.py: clean background
claims that no rule may flag, and, on request, planted violations of every rule (with clean near-misses beside them),
returned as the hits a screening must find."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO

from bureau.screening.claims import HEADERS

YEAR = 2025
CLEAN_ITEMS = [("XM-BLOOD", "血常规", "15.00"), ("XM-URINE", "尿常规", "10.00"), ("XM-LIVER", "肝功能", "45.00"),
               ("XM-GLU", "葡萄糖测定", "8.00"), ("XM-XRAY", "X线摄影", "60.00"), ("XM-INJ", "肌肉注射", "5.00")]
DIAGNOSES = ["J18.9", "I10", "E11.9", "K29.7", "M54.5", "J06.9"]


@dataclass(frozen=True)
class Expected:
    rule: str
    settlement_id: str | None
    institution: str
    person: str
    when: str  # date YYYY-MM-DD, or month YYYY-MM for person-month rules
    amount_yuan: str | None  # None: not fixed by the generator (R-COST depends on every month's totals)


def institution_code(n: int) -> str:
    return f"H{35010000000 + n:011d}"


class _Writer:
    def __init__(self, out: IO[str]):
        self.writer = csv.writer(out)
        self.writer.writerow(HEADERS)
        self.rows = 0

    def line(self, settlement: str, institution: str, person: str, sex: str, birth: date, kind: str, fee: date,
             dx: str, item: tuple[str, str, str], quantity: str = "1", days: str = "",
             stay: tuple[date, date] | None = None, fund_share: float = 0.7) -> str:
        """Write one line item; its amount."""
        code, name, price = item
        amount = f"{float(price) * float(quantity):.2f}"
        self.writer.writerow([settlement, institution, person, sex, birth.isoformat(), kind,
                              stay[0].isoformat() if stay else "", stay[1].isoformat() if stay else "",
                              fee.isoformat(), dx, code, name, quantity, price, amount,
                              f"{float(amount) * fund_share:.2f}", days])
        self.rows += 1
        return amount


def _clean_person(w: _Writer, rng: random.Random, p: int, institutions: int) -> None:
    person, sex = f"C{p:07d}", rng.choice("男女")
    birth = date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
    sexed = ("KB-PSA", "前列腺特异性抗原测定(PSA)", "40.00") if sex == "男" else \
        ("KB-TCT", "宫颈细胞学检查(液基薄层细胞学)", "40.00")
    for month in range(1, 13):
        for j, day in enumerate(sorted(rng.sample(range(1, 29), rng.randint(1, 3)))):
            settlement, fee = f"S{p:07d}{month:02d}{j}", date(YEAR, month, day)
            institution = institution_code(rng.randrange(institutions))
            kind = rng.choice(("门诊", "门诊", "购药"))
            dx = rng.choice(DIAGNOSES)
            if kind == "购药":
                drug = rng.choice([(("KB-AMOX", "阿莫西林胶囊", "12.00"), 7), (("KB-NIFE", "硝苯地平控释片", "30.00"), 84)])
                w.line(settlement, institution, person, sex, birth, kind, fee, "", drug[0], "2",
                       str(rng.randint(3, drug[1])))
                continue
            w.line(settlement, institution, person, sex, birth, kind, fee, dx, ("KB-VISIT", "普通门诊诊查费", "10.00"))
            for item in rng.sample([*CLEAN_ITEMS, sexed], rng.randint(1, 3)):
                w.line(settlement, institution, person, sex, birth, kind, fee, dx, item)
    if p % 10 == 0:  # one short stay a year
        admit = date(YEAR, rng.randint(1, 12), rng.randint(1, 25))
        settlement, institution = f"S{p:07d}H", institution_code(rng.randrange(institutions))
        dx = rng.choice(DIAGNOSES)
        for d in range(2):
            fee = admit + timedelta(days=d)
            w.line(settlement, institution, person, sex, birth, "住院", fee, dx, ("KB-BED", "普通病房床位费", "30.00"),
                   stay=(admit, admit + timedelta(days=1)))
            w.line(settlement, institution, person, sex, birth, "住院", fee, dx, ("KB-NURSE-2", "Ⅱ级护理", "10.00"),
                   stay=(admit, admit + timedelta(days=1)))


def _planted(w: _Writer) -> Iterator[Expected]:
    """Each rule's violations, and near-misses that must stay clean."""
    h1, h2 = institution_code(1), institution_code(2)
    man, woman = date(1970, 3, 1), date(1980, 5, 5)
    day = date(YEAR, 4, 10)
    # R-GENDER: a man billed a women's item, a woman a men's item.
    amount = w.line("PG1", h1, "PGM", "男", man, "门诊", day, "N87.9", ("KB-TCT", "宫颈细胞学检查(液基薄层细胞学)", "40.00"))
    yield Expected("R-GENDER", "PG1", h1, "PGM", day.isoformat(), amount)
    amount = w.line("PG2", h2, "PGW", "女", woman, "门诊", day, "N40", ("KB-PSA", "前列腺特异性抗原测定(PSA)", "40.00"))
    yield Expected("R-GENDER", "PG2", h2, "PGW", day.isoformat(), amount)
    # R-CHILD: 小儿推拿 (to 14) on the day before the 15th birthday is clean, on the birthday it is not.
    child = date(2010, 6, 15)
    w.line("PC1", h1, "PCH", "女", child, "门诊", date(YEAR, 6, 14), "M54.5", ("KB-CHILD-TUINA", "小儿推拿治疗", "50.00"))
    amount = w.line("PC2", h1, "PCH", "女", child, "门诊", date(YEAR, 6, 15), "M54.5",
                    ("KB-CHILD-TUINA", "小儿推拿治疗", "50.00"))
    yield Expected("R-CHILD", "PC2", h1, "PCH", f"{YEAR}-06-15", amount)
    # a newborn's hearing screen is clean; at one year old it is not
    w.line("PC3", h2, "PNB", "男", date(YEAR, 1, 2), "门诊", date(YEAR, 1, 3), "Z00.1", ("KB-NB-HEAR", "新生儿听力筛查", "60.00"))
    amount = w.line("PC4", h2, "PNB", "男", date(YEAR, 1, 2), "门诊", date(YEAR + 1, 1, 2), "Z00.1",
                    ("KB-NB-HEAR", "新生儿听力筛查", "60.00"))
    yield Expected("R-CHILD", "PC4", h2, "PNB", f"{YEAR + 1}-01-02", amount)
    # R-MUTEX: 特级护理 names Ⅰ级护理; both on one day → a hit on the Ⅰ级护理 line; on other days, or with Ⅱ级, clean.
    stay = (date(YEAR, 7, 1), date(YEAR, 7, 4))
    for d in range(3):
        fee = stay[0] + timedelta(days=d)
        w.line("PM1", h1, "PMX", "男", man, "住院", fee, "S72.0", ("KB-NURSE-SP", "特级护理", "80.00"), stay=stay)
        second = ("KB-NURSE-1", "Ⅰ级护理", "20.00") if d == 1 else ("KB-NURSE-2", "Ⅱ级护理", "10.00")
        amount = w.line("PM1", h1, "PMX", "男", man, "住院", fee, "S72.0", second, stay=stay)
        if d == 1:
            yield Expected("R-MUTEX", "PM1", h1, "PMX", fee.isoformat(), amount)
    w.line("PM1", h1, "PMX", "男", man, "住院", stay[1], "S72.0", ("KB-NURSE-1", "Ⅰ级护理", "20.00"), stay=stay)  # alone
    # R-DAILY-MAX: two 诊查费 the same day at one institution (excess 1 × 10); at two institutions, clean; a bed day × 3.
    w.line("PD1", h1, "PDX", "女", woman, "门诊", day, "J06.9", ("KB-VISIT", "普通门诊诊查费", "10.00"))
    w.line("PD2", h1, "PDX", "女", woman, "门诊", day, "J06.9", ("KB-VISIT", "普通门诊诊查费", "10.00"))
    yield Expected("R-DAILY-MAX", "PD1", h1, "PDX", day.isoformat(), "10.00")
    w.line("PD3", h1, "PDY", "女", woman, "门诊", day, "J06.9", ("KB-VISIT", "普通门诊诊查费", "10.00"))
    w.line("PD4", h2, "PDY", "女", woman, "门诊", day, "J06.9", ("KB-VISIT", "普通门诊诊查费", "10.00"))
    w.line("PD5", h2, "PDZ", "男", man, "住院", day, "I10", ("KB-BED", "普通病房床位费", "30.00"), "3", stay=(day, day))
    yield Expected("R-DAILY-MAX", "PD5", h2, "PDZ", day.isoformat(), "60.00")
    # R-DAYS: 阿莫西林 for 10 days is a hit, for 7 days clean.
    amount = w.line("PY1", h2, "PDS", "男", man, "购药", day, "", ("KB-AMOX", "阿莫西林胶囊", "12.00"), "3", "10")
    yield Expected("R-DAYS", "PY1", h2, "PDS", day.isoformat(), amount)
    w.line("PY2", h2, "PDS", "男", man, "购药", day + timedelta(days=7), "", ("KB-AMOX", "阿莫西林胶囊", "12.00"), "2", "7")
    # R-READMIT: readmitted 15 days after discharge, same institution and J18 → hit; 16 days, or another diagnosis
    # group, or another institution → clean.
    def stay_lines(settlement: str, institution: str, person: str, admit: date, discharge: date, dx: str) -> str:
        total = 0.0
        fee = admit
        while fee <= discharge:
            total += float(w.line(settlement, institution, person, "男", man, "住院", fee, dx,
                                  ("KB-BED", "普通病房床位费", "30.00"), stay=(admit, discharge)))
            fee += timedelta(days=1)
        return f"{total:.2f}"

    stay_lines("PR1", h1, "PRA", date(YEAR, 3, 1), date(YEAR, 3, 4), "J18.9")
    amount = stay_lines("PR2", h1, "PRA", date(YEAR, 3, 19), date(YEAR, 3, 21), "J18.0")
    yield Expected("R-READMIT", "PR2", h1, "PRA", f"{YEAR}-03-19", amount)
    stay_lines("PR3", h1, "PRB", date(YEAR, 3, 1), date(YEAR, 3, 4), "J18.9")
    stay_lines("PR4", h1, "PRB", date(YEAR, 3, 20), date(YEAR, 3, 21), "J18.9")  # 16 days
    stay_lines("PR5", h1, "PRB", date(YEAR, 3, 22), date(YEAR, 3, 23), "I10")  # 1 day after, another group
    stay_lines("PR6", h2, "PRB", date(YEAR, 3, 25), date(YEAR, 3, 26), "I10")  # 2 days after, another institution
    # R-VISITS: 11 outpatient settlements in May at two institutions → one hit per institution; 10 in June → clean.
    fund = {h1: 0.0, h2: 0.0}
    for n in range(11):
        institution = h1 if n < 7 else h2
        amount = w.line(f"PV{n:02d}", institution, "PVS", "女", woman, "门诊", date(YEAR, 5, n + 1), "J06.9",
                        CLEAN_ITEMS[0], fund_share=1.0)
        fund[institution] += float(amount)
    for institution, paid in fund.items():
        yield Expected("R-VISITS", None, institution, "PVS", f"{YEAR}-05", f"{paid:.2f}")
    for n in range(10):
        w.line(f"PW{n:02d}", h1, "PVS", "女", woman, "门诊", date(YEAR, 6, n + 1), "J06.9", CLEAN_ITEMS[0])
    # R-COST: one month far above every other, attributed to the institution that was paid most.
    w.line("PK1", h1, "PKC", "男", man, "门诊", date(YEAR, 8, 3), "C34.9", ("XM-CHEMO", "化疗药物配置", "900.00"), "50")
    w.line("PK2", h2, "PKC", "男", man, "门诊", date(YEAR, 8, 9), "C34.9", ("XM-CHEMO", "化疗药物配置", "900.00"), "10")
    yield Expected("R-COST", None, h1, "PKC", f"{YEAR}-08", None)


def generate(out: IO[str], persons: int, institutions: int, *, planted: bool = True, seed: int = 16) -> tuple[int, list[Expected]]:
    """Write a claims CSV to `out`: `persons` clean persons over `institutions` institutions and one year, then
    (when `planted`) the planted violations; the number of rows and the hits a screening must find."""
    rng = random.Random(seed)
    w = _Writer(out)
    for p in range(persons):
        _clean_person(w, rng, p, max(institutions, 3))
    expected = list(_planted(w)) if planted else []
    return w.rows, expected
