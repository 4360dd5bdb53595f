"""Hits as the result file has them, and each institution's risk score from its hits (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
# A 明确违规 hit weighs twice a 可疑 one in the score.
RESULT_WEIGHTS = {"可疑": 1, "明确违规": 2}


def yuan(value: Decimal | float | int | None) -> str:
    return str(Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def hit_record(rule_id: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """A rule's result row (HIT_COLUMNS) → a hit of the result file: a line or settlement rule names its date, a
    person-month rule its month and no settlement."""
    settlement, institution, person, day, month, amount, evidence = row
    hit: dict[str, Any] = {"rule": rule_id, "settlement_id": settlement, "institution": institution, "person": person}
    if month:
        hit["month"] = month
    else:
        hit["date"] = day.isoformat() if isinstance(day, date) else day
    hit.update(amount_yuan=yuan(amount), evidence=evidence)
    return hit


def rank_institutions(hits: Iterable[dict[str, Any]], results: dict[str, str],
                      institutions: Iterable[str]) -> list[dict[str, Any]]:
    """Each institution's hits, amount and risk score (0–100), highest first. An institution with no hit scores 0;
    one with hits scores 1 + 99 × (half its share of the highest weighted hit count, half its share of the highest
    amount), so any institution with hits ranks above every institution without. `results` maps rule → result type."""
    weight: dict[str, int] = {}
    count: dict[str, int] = {}
    amount: dict[str, Decimal] = {}
    for hit in hits:
        code = hit["institution"]
        weight[code] = weight.get(code, 0) + RESULT_WEIGHTS[results[hit["rule"]]]
        count[code] = count.get(code, 0) + 1
        amount[code] = amount.get(code, Decimal(0)) + Decimal(hit["amount_yuan"])
    top_weight = max(weight.values(), default=0)
    top_amount = max(amount.values(), default=Decimal(0))
    ranked: list[dict[str, Any]] = []
    for code in set(institutions) | set(weight):
        if code in weight:
            share = Decimal(weight[code]) / top_weight / 2 + (amount[code] / top_amount / 2 if top_amount else 0)
            score = (1 + 99 * share).quantize(CENT, rounding=ROUND_HALF_UP)
        else:
            score = Decimal(0)
        ranked.append({"code": code, "risk_score": float(score), "hits": count.get(code, 0),
                       "amount_yuan": yuan(amount.get(code))})
    ranked.sort(key=lambda r: (-r["risk_score"], -r["hits"], r["code"]))
    return ranked


def top_by_amount(ranked: Iterable[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The `n` institutions with hits whose hits involve the most money, most first."""
    flagged = [r for r in ranked if r["hits"]]
    return sorted(flagged, key=lambda r: (-Decimal(r["amount_yuan"]), r["code"]))[:n]


def digest(data: Any) -> str:
    """SHA-256 of a JSON value written canonically (sorted keys, no spaces)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
