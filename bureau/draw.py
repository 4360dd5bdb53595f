"""The 双随机 draw as a pure function: plan + registry snapshot + public random values → transcript.

Nobody can steer it: the plan and the registry snapshot are committed (hashed and published) before the public random
values exist, and everything after that is derived from the RFC 3797 key string alone, so anyone holding the transcript
can re-run it (`verify_transcript`) and must get the same result.

The procedure, precisely enough to re-implement:

1. **Key string** (RFC 3797 §4). Each entry of `public_random` is one source. Its numbers are the decimal numbers in it
   (full-width digits folded by NFKC; everything that is not a digit or a decimal point between digits separates
   numbers), sorted ascending by value, each written without leading zeros and followed by "." — or, for a number with
   a fractional part, as whole "." fraction without trailing zeros. A source ends with "/". Sources are concatenated in
   the order the plan lists them. Example: `[[7, 8, 11], "8285182"]` → `7.8.11./8285182./`.
2. **Selection i** (i = 0, 1, 2, … counted over the whole draw): `h = SHA-256(c ‖ key ‖ c)` where `c` is i big-endian in
   two bytes (more bytes only when i ≥ 65536), `h` read as a big-endian unsigned integer.
3. **Pick**: the pool is kept in registry-code order with removed entries skipped; `index = h mod modulus`, where the
   modulus is the number of remaining entries (uniform) or the sum of their weights (risk weighted: weight 1 + 风险分,
   unscored counts as 50; with `"risk_source": "screening"`, weight 100 × (1 + the screening run's 风险分), an
   institution absent from the run scoring 0 — see the transcript's `screening.weight`). The pick is the entry whose
   cumulative-weight interval `[before, before + weight)` contains `index` — with unit weights simply the index-th
   remaining entry, exactly RFC 3797. It leaves the pool.
4. **Order**: 回头看 follow-ups first (code order, outside the quota, not in the random pools); then each stratum in plan
   order draws `ceil(ratio × active institutions of that kind)` or `count`; then, for every selected institution in the
   order of `selected`, `team_size` inspectors from the active inspectors without a registered conflict with it and
   below the per-inspector cap. The selection counter i runs on across all of these.

A rule that cannot be met (too few institutions, too few eligible inspectors) fails the draw with the reason; no rule
is ever relaxed.

A plan weighted by a screening run (`"risk_source": "screening"`) is committed to that run (its id, time, digests and
the hash of its risk list: the commitment's `screening`), and the transcript carries the run's risk list, so the run
that weights the draw is fixed before the public random values exist and a later run changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from checklists.vocabulary import vocabulary
from sync.canonical import canonical_bytes, canonical_object, content_hash

FORMAT = "yibao-draw-transcript/1"
UNSCORED_RISK = 50
TEAM_SIZE_DEFAULT = 2
MIN_TEAM_SIZE = 2  # 《医疗保障基金使用监督管理条例》第二十九条：检查人员不得少于 2 人
REGISTRY_PARTS = ("institutions", "inspectors", "conflicts", "followups")
REGISTRY_COLUMNS = {
    "institutions": ["code", "kind", "region", "risk"],
    "inspectors": ["code", "region"],
    "conflicts": ["inspector", "institution", "reason"],
    "followups": ["institution"],
}
PLAN_FIELDS = ("plan_id", "title", "description", "strata", "team_size", "max_assignments_per_inspector",
               "risk_weighted", "risk_source", "include_followups", "random_sources", "public_random")
RISK_SOURCES = {"registry": "名录风险分", "screening": "最近一次智能监控筛查"}
SCREENING_PIN = ("run_id", "ran_at", "result_digest", "input_digest", "risk_hash")
SCREENING_WEIGHT = "风险加权时权重为 100 × (1 + 该次筛查的风险分)，风险分取两位小数；未出现在该次筛查结果中的机构风险分按 0 计"
NO_SCREENING_RUN = ("risk_source: 数据库中没有智能监控筛查记录，无法按筛查风险分加权；请先运行 yibao screen run，"
                    "或改用名录风险分（去掉 risk_source 或设为 \"registry\"）")
METHOD = {
    "standard": "RFC 3797 (Publicly Verifiable Nominations Committee Random Selection), SHA-256 in place of MD5",
    "key_string": "每个公开随机来源中的数字按数值升序排列，整数写作“数字.”，小数写作“整数.小数”（去前导零与小数末尾零），"
                  "每个来源以“/”结束，来源按计划中的先后顺序连接",
    "selection": "第 i 次抽取（i 自 0 起，全程连续计数）：h = SHA-256(c‖key‖c)，c 为 i 的两字节大端表示（i ≥ 65536 时取最少字节），"
                 "index = h mod modulus；候选按名录编码升序排列、已抽中者跳过；不加权时 modulus 为剩余数量、取第 index 个，"
                 "风险加权时权重为 1 + 风险分（未评分按 50 计）、modulus 为剩余权重之和、取累计权重区间包含 index 者",
    "order": "先列回头看机构（编码升序，不占随机名额，不进入随机候选），再按计划顺序逐层抽取机构"
             "（ceil(ratio × 该类在册机构数) 或 count），最后按 selected 顺序为每家机构抽取检查组："
             "候选为在册检查人员，剔除与该机构登记利益冲突者及已达每人上限者",
    "columns": REGISTRY_COLUMNS,
}
NOT_COMMITTED_WARNING = "该计划未经事先承诺（draw commit）：无法证明抽取前计划与名录库未被调整"
CENT = Decimal("0.01")

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_RATIO = re.compile(r"^(?:0(?:\.[0-9]+)?|1(?:\.0+)?)$")
_SCORE = re.compile(r"(?:[0-9]|[1-9][0-9])\.[0-9]{2}|100\.00")  # a screening 风险分 as the transcript writes it
RATIO_MESSAGE = '应为 0 到 1 之间的小数，如 "0.10"'


class PlanError(ValueError):
    """The plan is invalid; `errors` are `{"field", "message"}` rows naming each bad field."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("；".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class DrawError(Exception):
    """The draw cannot be carried out as planned; the message says which rule cannot be met."""


# ---- the plan --------------------------------------------------------------------------------------------------


def kind_names() -> dict[str, str]:
    return dict(vocabulary().kinds)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_plan(plan: Any, *, require_public_random: bool = True) -> list[dict[str, str]]:
    """Every problem with the plan as `{"field", "message"}`; empty when the plan is valid.

    At commit time the public random values do not exist yet: pass `require_public_random=False` and they are ignored.
    """
    if not isinstance(plan, dict):
        return [{"field": "plan", "message": "计划应为 JSON 对象"}]
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    for key in plan:
        if key not in PLAN_FIELDS:
            bad(str(key), f"未知字段（可用字段：{'、'.join(PLAN_FIELDS)}）")
    plan_id = plan.get("plan_id")
    if not isinstance(plan_id, str) or not plan_id.strip() or len(plan_id) > 100:
        bad("plan_id", "必填，应为 1 到 100 个字符的字符串")
    for key in ("title", "description"):
        if key in plan and not isinstance(plan[key], str):
            bad(key, "应为字符串")
    _validate_strata(plan.get("strata"), bad)
    team_size = plan.get("team_size", TEAM_SIZE_DEFAULT)
    if not _is_int(team_size) or team_size < MIN_TEAM_SIZE:
        bad("team_size", "应为不小于 2 的整数（《医疗保障基金使用监督管理条例》第二十九条：检查人员不得少于 2 人）")
    cap = plan.get("max_assignments_per_inspector")
    if cap is not None and (not _is_int(cap) or cap < 1):
        bad("max_assignments_per_inspector", "应为正整数（每名检查人员最多承担的检查任务数）")
    for key in ("risk_weighted", "include_followups"):
        if key in plan and not isinstance(plan[key], bool):
            bad(key, "应为 true 或 false")
    if "risk_source" in plan and plan["risk_source"] not in RISK_SOURCES:
        bad("risk_source", "应为 \"registry\"（名录风险分，默认）或 \"screening\"（最近一次智能监控筛查的风险分）")
    elif uses_screening(plan) and plan.get("risk_weighted") is not True:
        bad("risk_source", "取 \"screening\" 时须同时设 risk_weighted 为 true（不加权的抽取不使用风险分）")
    sources = plan.get("random_sources")
    if sources is not None and not (isinstance(sources, list) and all(isinstance(s, str) and s.strip() for s in sources)):
        bad("random_sources", "应为字符串数组，逐项说明公开随机数的来源（如“2025-07-01 福利彩票双色球开奖号码”）")
    if require_public_random:
        _validate_public_random(plan.get("public_random"), sources if isinstance(sources, list) else None, bad)
    return errors


def _validate_strata(strata: Any, bad: Callable[[str, str], None]) -> None:
    if not isinstance(strata, list) or not strata:
        bad("strata", "必填，应为非空数组，如 [{\"kind\": \"pharmacy\", \"ratio\": \"0.10\"}]")
        return
    names = kind_names()
    seen: dict[str, int] = {}
    for n, stratum in enumerate(strata):
        where = f"strata[{n}]"
        if not isinstance(stratum, dict):
            bad(where, "应为对象，如 {\"kind\": \"pharmacy\", \"ratio\": \"0.10\"}")
            continue
        for key in stratum:
            if key not in ("kind", "ratio", "count"):
                bad(f"{where}.{key}", "未知字段（可用字段：kind、ratio、count）")
        kind = stratum.get("kind")
        if kind not in names:
            bad(f"{where}.kind", f"应为 {'、'.join(f'{k}（{v}）' for k, v in names.items())} 之一")
        elif kind in seen:
            bad(f"{where}.kind", f"与 strata[{seen[kind]}] 重复：每类机构只能有一个分层")
        else:
            seen[kind] = n
        has_ratio, has_count = "ratio" in stratum, "count" in stratum
        if has_ratio == has_count:
            bad(where, "应给出 ratio（抽查比例）或 count（抽查家数）之一，且只能给出一个")
        elif has_ratio:
            ratio = stratum["ratio"]
            if not isinstance(ratio, str) or not _RATIO.match(ratio) or Decimal(ratio) <= 0:
                bad(f"{where}.ratio", RATIO_MESSAGE)
        elif not _is_int(stratum["count"]) or stratum["count"] < 1:
            bad(f"{where}.count", "应为正整数（抽查家数）")


def _validate_public_random(values: Any, sources: list | None, bad: Callable[[str, str], None]) -> None:
    if not isinstance(values, list) or not values:
        bad("public_random", "必填：应为非空数组，每项为一个事先公布来源的公开随机数（如开奖号码 \"03 07 12 19 25 33 09\"）")
        return
    if sources is not None and len(sources) != len(values):
        bad("public_random", f"应与 random_sources 一一对应：公布了 {len(sources)} 个来源，给出了 {len(values)} 项")
    for n, value in enumerate(values):
        try:
            source_numbers(value)
        except ValueError as exc:
            bad(f"public_random[{n}]", str(exc))


def plan_hash(plan: dict[str, Any]) -> str:
    """What a commitment publishes about the plan: its content hash without the public random values."""
    return content_hash({k: v for k, v in plan.items() if k != "public_random"})


def uses_screening(plan: dict[str, Any]) -> bool:
    return plan.get("risk_source") == "screening"


# ---- the screening run a plan may take its risk from -----------------------------------------------------------


def screening_basis(run_id: str, ran_at: str, result_digest: str, input_digest: str,
                    risk: list[dict[str, Any]]) -> dict[str, Any]:
    """What the transcript carries of a screening run (`ScreeningRun`): the pin the commitment publishes
    (`SCREENING_PIN`), how the weights follow from it, and its risk list as `[code, 风险分 "12.34"]` by code."""
    rows = sorted([row["code"], str(Decimal(str(row["risk_score"])).quantize(CENT))] for row in risk)
    return {"run_id": run_id, "ran_at": ran_at, "result_digest": result_digest, "input_digest": input_digest,
            "risk_hash": content_hash(rows), "weight": SCREENING_WEIGHT, "risk": rows}


def screening_pin(basis: dict[str, Any]) -> dict[str, str]:
    return {key: basis[key] for key in SCREENING_PIN}


def _checked_screening(basis: Any) -> dict[str, Any]:
    """A transcript's `screening` member, which may come from elsewhere; DrawError names the first problem."""
    if not isinstance(basis, dict):
        raise DrawError("screening: 计划按筛查风险分加权（risk_source: screening），记录中应有所用筛查运行的对象")
    for key in SCREENING_PIN:
        if not isinstance(basis.get(key), str):
            raise DrawError(f"screening.{key}: 缺失或不是字符串")
    rows = basis.get("risk")
    if not isinstance(rows, list):
        raise DrawError("screening.risk: 缺失或不是数组")
    for n, row in enumerate(rows):
        if not (isinstance(row, list) and len(row) == 2 and isinstance(row[0], str) and isinstance(row[1], str)
                and _SCORE.fullmatch(row[1])):
            raise DrawError(f"screening.risk[{n}]: 应为 [机构编码, 风险分 0.00–100.00 的字符串]")
    if any(a[0] >= b[0] for a, b in zip(rows, rows[1:])):
        raise DrawError("screening.risk: 应按机构编码严格升序排列且不重复")
    if basis["risk_hash"] != content_hash(rows):
        raise DrawError("screening.risk_hash: 与风险分列表不符（风险分被改动）")
    return basis


# ---- the registry snapshot -------------------------------------------------------------------------------------


def registry_hashes(snapshot: dict[str, Any]) -> dict[str, Any]:
    """`{"hash", "parts": {part: hash}}`; the registry hash covers the four part hashes, so differences can be located."""
    parts = {part: content_hash(snapshot[part]) for part in REGISTRY_PARTS}
    return {"hash": content_hash(parts), "parts": parts}


def _checked_snapshot(snapshot: Any) -> dict[str, list]:
    """The snapshot's shape, which a transcript from elsewhere may not respect; DrawError names the first problem."""
    if not isinstance(snapshot, dict):
        raise DrawError("registry: 名录库快照应为对象")
    names = kind_names()
    out = {}
    for part in REGISTRY_PARTS:
        rows = snapshot.get(part)
        if not isinstance(rows, list):
            raise DrawError(f"registry.{part}: 缺失或不是数组")
        out[part] = rows
    for n, row in enumerate(out["institutions"]):
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str) and isinstance(row[1], str)
                and row[1] in names
                and isinstance(row[2], str) and (row[3] is None or (_is_int(row[3]) and 0 <= row[3] <= 100))):
            raise DrawError(f"registry.institutions[{n}]: 应为 [机构编码, 机构类别, 区划代码, 风险分 0–100 或 null]")
    for n, row in enumerate(out["inspectors"]):
        if not (isinstance(row, list) and len(row) == 2 and all(isinstance(v, str) for v in row)):
            raise DrawError(f"registry.inspectors[{n}]: 应为 [人员编号, 区划代码]")
    for n, row in enumerate(out["conflicts"]):
        if not (isinstance(row, list) and len(row) == 3 and all(isinstance(v, str) for v in row)):
            raise DrawError(f"registry.conflicts[{n}]: 应为 [人员编号, 机构编码, 原因]")
    if not all(isinstance(code, str) for code in out["followups"]):
        raise DrawError("registry.followups: 应为机构编码数组")
    keys = {
        "institutions": [row[0] for row in out["institutions"]],
        "inspectors": [row[0] for row in out["inspectors"]],
        "conflicts": [(row[0], row[1]) for row in out["conflicts"]],
        "followups": out["followups"],
    }
    for part, part_keys in keys.items():
        if not all(map(operator.lt, part_keys, part_keys[1:])):
            raise DrawError(f"registry.{part}: 应按编码严格升序排列且不重复")
    return out


# ---- RFC 3797 machinery ----------------------------------------------------------------------------------------


def source_numbers(value: Any) -> list[str]:
    """The canonical numbers of one public random source, sorted ascending by value (RFC 3797 §4)."""
    items = value if isinstance(value, list) else [value]
    numbers: list[str] = []
    for item in items:
        if _is_int(item) and item >= 0:
            numbers.append(str(item))
        elif isinstance(item, str):
            numbers.extend(_NUMBER.findall(unicodedata.normalize("NFKC", item)))
        else:
            raise ValueError("应为非负整数、含数字的字符串，或它们组成的数组（不接受浮点数，小数请写成字符串）")
    if not numbers:
        raise ValueError("未找到数字：公开随机数应含数字（如开奖号码 \"03 07 12 19 25 33 09\"）")
    return sorted((_canonical_number(n) for n in numbers), key=lambda text: Decimal(text.rstrip(".")))


def _canonical_number(text: str) -> str:
    whole, _, fraction = text.partition(".")
    whole = whole.lstrip("0") or "0"
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else f"{whole}."


def key_string(public_random: Sequence[Any]) -> str:
    return "".join("".join(source_numbers(source)) + "/" for source in public_random)


def selection_value(i: int, key: bytes, digest: Callable = hashlib.sha256) -> bytes:
    """The digest of selection i: `digest(c ‖ key ‖ c)` with c = i big-endian, two bytes (more only past 65535)."""
    counter = i.to_bytes(max(2, (i.bit_length() + 7) // 8), "big")
    return digest(counter + key + counter).digest()


class WeightTree:
    """The pool in code order as a Fenwick tree of weights: O(log n) to find the index-th unit of weight or remove one.

    With unit weights, `find(index)` is the index-th remaining entry — exactly RFC 3797's walk over the pool
    skipping the entries already selected — without its O(n) cost per pick.
    """

    def __init__(self, weights: Sequence[int]):
        self.size = len(weights)
        self.weights = list(weights)
        tree = [0, *weights]
        for i in range(1, self.size + 1):
            parent = i + (i & -i)
            if parent <= self.size:
                tree[parent] += tree[i]
        self._tree = tree
        self.total = sum(weights)
        self.count = sum(1 for w in weights if w > 0)
        self._top = 1 << max(self.size.bit_length() - 1, 0)

    def set_weight(self, position: int, weight: int) -> None:
        delta = weight - self.weights[position]
        if delta == 0:
            return
        self.count += (weight > 0) - (self.weights[position] > 0)
        self.weights[position] = weight
        self.total += delta
        i = position + 1
        while i <= self.size:
            self._tree[i] += delta
            i += i & -i

    def find(self, index: int) -> int:
        """The position whose interval [weight before it, + its weight) contains `index` (0 ≤ index < total)."""
        position, step = 0, self._top
        while step:
            nxt = position + step
            if nxt <= self.size and self._tree[nxt] <= index:
                position = nxt
                index -= self._tree[nxt]
            step >>= 1
        return position


class Selector:
    """Runs the selection counter over one key string and records every step."""

    def __init__(self, key: str, digest: Callable = hashlib.sha256):
        self._key = key.encode("utf-8")
        self._digest = digest
        self.counter = 0
        self.steps: list[dict[str, Any]] = []

    def pick(self, tree: WeightTree, codes: Sequence[str], purpose: str, subject: str) -> int:
        """Select one entry of `tree` (then removed from it) and return its position in `codes`."""
        digest = selection_value(self.counter, self._key, self._digest)
        index = int.from_bytes(digest, "big") % tree.total
        position = tree.find(index)
        self.steps.append({
            "i": self.counter, "purpose": purpose, "subject": subject, "hash": digest.hex(),
            "pool": tree.count, "modulus": tree.total, "index": index, "picked": codes[position],
        })
        tree.set_weight(position, 0)
        self.counter += 1
        return position


# ---- the draw --------------------------------------------------------------------------------------------------


def make_commitment(plan: dict[str, Any], snapshot: dict[str, Any],
                    screening: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `draw commit` publishes: anyone holding the plan and the snapshot can recompute every field.

    A plan with `"risk_source": "screening"` needs `screening` (`screening_basis` of the latest run), whose pin the
    commitment then carries as `screening`; other plans ignore it and commit exactly as before."""
    errors = validate_plan(plan, require_public_random=False)
    if errors:
        raise PlanError(errors)
    registry = registry_hashes(_checked_snapshot(snapshot))
    body: dict[str, Any] = {"plan_id": plan["plan_id"], "plan_hash": plan_hash(plan), "registry_hash": registry["hash"]}
    if uses_screening(plan):
        if screening is None:
            raise DrawError(NO_SCREENING_RUN)
        body["screening"] = screening_pin(_checked_screening(screening))
    return {**body, "commitment_hash": content_hash(body)}


def commitment_problems(commitment: Any, plan: dict[str, Any], registry_hash: str,
                        screening: dict[str, Any] | None = None) -> list[str]:
    """Why this plan, registry and screening run are not the ones committed to (empty when they are)."""
    fields = ("plan_id", "plan_hash", "registry_hash", "commitment_hash")
    if not isinstance(commitment, dict) or not all(isinstance(commitment.get(k), str) for k in fields):
        return ["commitment: 应为含 plan_id、plan_hash、registry_hash、commitment_hash 的对象"]
    problems = []
    if commitment.get("plan_id") != plan["plan_id"]:
        problems.append(f"commitment.plan_id: 承诺的是计划 {commitment.get('plan_id')!r}，不是 {plan['plan_id']!r}")
    if commitment.get("plan_hash") != plan_hash(plan):
        problems.append("commitment.plan_hash: 计划自承诺后已被修改（除 public_random 外的内容与承诺时不同）")
    if commitment.get("registry_hash") != registry_hash:
        problems.append("commitment.registry_hash: 名录库自承诺后已变更（机构、检查人员、利益冲突或回头看名单与承诺时不同）")
    pinned = commitment.get("screening")
    if uses_screening(plan) and screening is not None and pinned != screening_pin(screening):
        run = pinned.get("run_id") if isinstance(pinned, dict) else None
        problems.append(f"commitment.screening: 抽取所用的筛查运行 {screening['run_id']} 与承诺时固定的筛查运行 {run!r} "
                        "不同或已被改动")
    elif not uses_screening(plan) and "screening" in commitment:
        problems.append("commitment.screening: 计划不按筛查风险分加权，承诺中不应有筛查运行")
    keys = ("plan_id", "plan_hash", "registry_hash", *(("screening",) if "screening" in commitment else ()))
    body = {k: commitment.get(k) for k in keys}
    if commitment.get("commitment_hash") != content_hash(body):
        problems.append("commitment.commitment_hash: 与承诺内容不符")
    return problems


def run_draw(plan: dict[str, Any], snapshot: dict[str, Any], commitment: dict[str, Any] | None = None,
             screening: dict[str, Any] | None = None) -> dict[str, Any]:
    """The transcript of the draw (without `drawn_at`, which the caller adds).

    `commitment` is the stored commitment for this plan, or None when it was never committed (the transcript then
    says so). `screening` (`screening_basis`) is the run a plan with `"risk_source": "screening"` is weighted by: the
    one its commitment pins. Raises PlanError for an invalid plan and DrawError when a rule cannot be met.
    """
    errors = validate_plan(plan)
    if errors:
        raise PlanError(errors)
    snapshot = _checked_snapshot(snapshot)
    registry = registry_hashes(snapshot)
    if uses_screening(plan):
        if screening is None:
            raise DrawError(NO_SCREENING_RUN)
        screening = _checked_screening(screening)
    else:
        screening = None
    if commitment is not None:
        problems = commitment_problems(commitment, plan, registry["hash"], screening)
        if problems:
            raise DrawError("拒绝抽取：" + "；".join(problems))
    return _transcript(plan, snapshot, registry, commitment, screening)


def _transcript(plan: dict[str, Any], snapshot: dict[str, list], registry: dict[str, Any],
                commitment: dict[str, Any] | None, screening: dict[str, Any] | None = None) -> dict[str, Any]:
    key = key_string(plan["public_random"])
    selector = Selector(key)
    strata, selected = _draw_institutions(plan, snapshot, selector, screening)
    recusals = _draw_teams(plan, snapshot, selector, selected)
    return {
        "format": FORMAT,
        "plan_id": plan["plan_id"],
        "plan": copy.deepcopy(plan),
        "plan_hash": plan_hash(plan),
        "committed": commitment is not None,
        "commitment": commitment,
        "warnings": [] if commitment is not None else [NOT_COMMITTED_WARNING],
        "registry": {**registry, **snapshot},
        "method": copy.deepcopy(METHOD),
        "key_string": key,
        "strata": strata,
        "steps": selector.steps,
        "selected": selected,
        "recusals": recusals,
        **({"screening": copy.deepcopy(screening)} if screening is not None else {}),
    }


def _draw_institutions(plan: dict[str, Any], snapshot: dict[str, list], selector: Selector,
                       screening: dict[str, Any] | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    kind_of = {row[0]: row[1] for row in snapshot["institutions"]}
    unknown = [code for code in snapshot["followups"] if code not in kind_of]
    if unknown:
        raise DrawError(f"registry.followups: 回头看机构不在在册机构名录中：{'、'.join(unknown[:5])}")
    followups = snapshot["followups"] if plan.get("include_followups", True) else []
    followup_set = set(followups)
    selected = [{"institution": code, "stratum": kind_of[code], "team": [], "reason": "followup"} for code in followups]
    names = kind_names()
    weighted = plan.get("risk_weighted", False)
    cents = {code: int(Decimal(score) * 100) for code, score in screening["risk"]} if screening is not None else None
    by_kind: dict[str, list[list]] = {kind: [] for kind in names}
    for row in snapshot["institutions"]:
        by_kind[row[1]].append(row)
    strata = []
    for stratum in plan["strata"]:
        kind = stratum["kind"]
        members = by_kind[kind]
        pool = [row for row in members if row[0] not in followup_set]
        if "ratio" in stratum:
            quota = math.ceil(Decimal(stratum["ratio"]) * len(members))
        else:
            quota = stratum["count"]
        strata.append({
            "kind": kind, **({"ratio": stratum["ratio"]} if "ratio" in stratum else {"count": stratum["count"]}),
            "active": len(members), "followups": len(members) - len(pool), "pool": len(pool), "quota": quota,
        })
        if quota > len(pool):
            extra = f"（另有 {len(members) - len(pool)} 家回头看机构已列入、不占名额）" if len(members) > len(pool) else ""
            raise DrawError(f"分层 {kind}（{names[kind]}）需抽取 {quota} 家，可抽机构仅 {len(pool)} 家{extra}")
        codes = [row[0] for row in pool]
        if not weighted:
            weights = [1] * len(pool)
        elif cents is not None:
            weights = [100 + cents.get(code, 0) for code in codes]
        else:
            weights = [1 + (UNSCORED_RISK if row[3] is None else row[3]) for row in pool]
        tree = WeightTree(weights)
        for _ in range(quota):
            position = selector.pick(tree, codes, "stratum", kind)
            selected.append({"institution": codes[position], "stratum": kind, "team": [], "reason": "random"})
    return strata, selected


def _draw_teams(plan: dict[str, Any], snapshot: dict[str, list], selector: Selector,
                selected: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Fill each selected institution's team in place; return the recusals."""
    team_size = plan.get("team_size", TEAM_SIZE_DEFAULT)
    cap = plan.get("max_assignments_per_inspector")
    codes = [row[0] for row in snapshot["inspectors"]]
    position_of = {code: n for n, code in enumerate(codes)}
    if selected and len(codes) < team_size:
        raise DrawError(f"在册检查人员仅 {len(codes)} 人，不足以组成 {team_size} 人检查组")
    if cap is not None and len(selected) * team_size > len(codes) * cap:
        raise DrawError(f"检查人员总承担能力不足：{len(selected)} 家机构 × 每组 {team_size} 人 = {len(selected) * team_size} 人次，"
                        f"而 {len(codes)} 名检查人员每人最多 {cap} 次，共 {len(codes) * cap} 人次")
    conflicts: dict[str, list[tuple[int, str]]] = {}
    for inspector, institution, reason in snapshot["conflicts"]:
        if inspector in position_of:
            conflicts.setdefault(institution, []).append((position_of[inspector], reason))
    load = [0] * len(codes)
    tree = WeightTree([1] * len(codes))
    recusals = []
    for item in selected:
        institution = item["institution"]
        recused = conflicts.get(institution, [])
        for position, reason in recused:
            recusals.append({"inspector": codes[position], "institution": institution, "reason": reason or "登记的利益冲突"})
            tree.set_weight(position, 0)
        if tree.count < team_size:
            recused_positions = {position for position, _ in recused}
            capped = 0 if cap is None else sum(
                1 for position, n in enumerate(load) if n >= cap and position not in recused_positions)
            capped_text = f"、已达每人 {cap} 次上限 {capped} 人" if cap is not None else ""
            raise DrawError(
                f"无法为机构 {institution} 组成 {team_size} 人检查组：在册检查人员 {len(codes)} 人，"
                f"其中回避 {len(recused)} 人{capped_text}，可选仅 {tree.count} 人；抽取未完成，规则不会放宽")
        team = [selector.pick(tree, codes, "team", institution) for _ in range(team_size)]
        item["team"] = [codes[position] for position in team]
        for position in team:
            load[position] += 1
        for position in [*team, *(p for p, _ in recused)]:
            if cap is None or load[position] < cap:
                tree.set_weight(position, 1)
    return recusals


# ---- verification ----------------------------------------------------------------------------------------------


def transcript_hash(transcript: dict[str, Any]) -> str:
    """The hash published for a transcript: the content hash of everything but the wall-clock time it was drawn at."""
    return encode_transcript(transcript)[1]


def encode_transcript(transcript: dict[str, Any]) -> tuple[bytes, str]:
    """A transcript's canonical bytes, `drawn_at` included (what `draw run --out` writes), and its `transcript_hash`:
    one encoding for both. Assembled from the members' bytes two levels down (`canonical_object`), so that the decimal
    strings of the plan and the method do not send the registry, the steps and the selection through the slower
    check."""
    members = {key: _member_bytes(item, 1) for key, item in transcript.items()}
    body = canonical_object({key: data for key, data in members.items() if key != "drawn_at"})
    return canonical_object(members), hashlib.sha256(body).hexdigest()


def _member_bytes(value: Any, depth: int) -> bytes:
    if depth and type(value) is dict:
        return canonical_object({key: _member_bytes(item, depth - 1) for key, item in value.items()})
    return canonical_bytes(value)


def verify_transcript(transcript: Any, *, limit: int = 20) -> list[str]:
    """Re-run the draw from the transcript alone; every difference as `path: 说明`. Empty means it reproduces."""
    if not isinstance(transcript, dict) or transcript.get("format") != FORMAT:
        return [f"format: 不是抽取记录（应为 {FORMAT}）"]
    plan = transcript.get("plan")
    errors = validate_plan(plan)
    if errors:
        return [f"plan.{e['field']}: {e['message']}" for e in errors]
    assert isinstance(plan, dict)  # validate_plan reports anything but an object
    recorded_registry = transcript.get("registry")
    try:
        snapshot = _checked_snapshot(recorded_registry)
    except DrawError as exc:
        return [str(exc)]
    assert isinstance(recorded_registry, dict)  # _checked_snapshot refuses anything but an object
    registry = registry_hashes(snapshot)
    differences = []
    if transcript.get("plan_hash") != plan_hash(plan):
        differences.append("plan_hash: 计划内容与记录的哈希不符（计划被改动）")
    if recorded_registry.get("hash") != registry["hash"]:
        differences.append("registry.hash: 名录库快照与记录的哈希不符")
    parts = recorded_registry.get("parts")
    recorded_parts = parts if isinstance(parts, dict) else {}
    for part in REGISTRY_PARTS:
        if recorded_parts.get(part) != registry["parts"][part]:
            differences.append(f"registry.{part}: 数据与记录的哈希不符（名录数据被改动）")
    screening = None
    if uses_screening(plan):
        try:
            screening = _checked_screening(transcript.get("screening"))
        except DrawError as exc:
            return [*differences, str(exc)]
    commitment = transcript.get("commitment")
    if commitment is not None:
        differences.extend(commitment_problems(commitment, plan, registry["hash"], screening))
    try:
        expected = _transcript(plan, snapshot, registry, commitment, screening)
    except DrawError as exc:
        return [*differences, f"重新抽取失败：{exc}"]
    recorded = {k: v for k, v in transcript.items() if k != "drawn_at"}
    skip = {("plan_hash",), ("registry", "hash"), ("registry", "parts")}
    differences.extend(_differences(recorded, expected, (), skip))
    if len(differences) > limit:
        return [*differences[:limit], f"……另有 {len(differences) - limit} 处不同"]
    return differences


def _differences(recorded: Any, expected: Any, path: tuple, skip: set[tuple]) -> list[str]:
    if path in skip or recorded == expected:
        return []
    if isinstance(recorded, dict) and isinstance(expected, dict):
        out = []
        for key in [*expected, *(k for k in recorded if k not in expected)]:
            if key not in recorded:
                out.append(f"{_path(path + (key,))}: 记录中缺失，重算为 {_short(expected[key])}")
            elif key not in expected:
                out.append(f"{_path(path + (key,))}: 记录中多出此项（{_short(recorded[key])}）")
            else:
                out.extend(_differences(recorded[key], expected[key], path + (key,), skip))
        return out
    if isinstance(recorded, list) and isinstance(expected, list):
        out = []
        for n, (a, b) in enumerate(zip(recorded, expected)):
            out.extend(_differences(a, b, path + (n,), skip))
        if len(recorded) != len(expected):
            out.append(f"{_path(path)}: 记录 {len(recorded)} 项，重算 {len(expected)} 项")
        return out
    return [f"{_path(path)}: 记录为 {_short(recorded)}，重算为 {_short(expected)}"]


def _path(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "transcript"


def _short(value: Any, width: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"
