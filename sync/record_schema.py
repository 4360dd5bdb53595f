"""The inspection record's one typed schema, shared by the tablet (which builds records with it) and the bureau
(which validates every record against it at ingest, before anything is stored).

A record names its schema version by its ``format``: ``yibao-inspection-v1`` is version 1, the shape tablets have
written from the start (so every record already signed, stored or queued reads as version 1, and its hash does not
change). A new version is a new format string and a new model beside `RecordV1`, listed in `VERSIONS`.

Version 1 is strict: every field the tablet writes is required (``previous_hash`` and ``correction_reason`` exactly
on a correction), no other field is allowed anywhere, each value has its type (an integer is not a boolean, a number
is not a string) and every string, list and number its bound. What the schema cannot know (an item id in the pinned
template, whether an amount makes sense, who may sign) is checked by the bureau after it.

`check_record` raises `RecordInvalid` with a stable reason code, the path of the first offending field
(``findings[0].amount_yuan``) and a Chinese sentence saying what was expected there. Control characters (C0 but tab
and line breaks) are found by `control_character_path`: the bureau refuses them with their own reason first.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Iterator, Literal, Mapping

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from sync.errors import RecordInvalid

FORMAT_V1 = "yibao-inspection-v1"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # C0 control characters but tab, LF, CR

MAX_ITEMS = 500  # answers and findings of one record: the largest template has 27 items
MAX_PHOTOS = 1000
MAX_POINTS = 20_000  # documents.signature.MAX_POINTS
MAX_CANVAS_EDGE = 4096  # documents.signature.MAX_CANVAS_EDGE
MAX_BLOB_SIZE = 1024 * 1024 * 1024  # sync.envelope.MAX_BLOB_SIZE
MAX_SUSPICION_CHECKS = 500  # sync.assignments.MAX_SUSPICIONS: one check at most per 疑点 carried


def _iso_time(text: str) -> str:
    """ISO 8601 in ASCII: datetime.fromisoformat also reads other scripts' digits (٣, 𝟙), which no tablet writes."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("iso_time") from None
    if not text.isascii():
        raise ValueError("iso_time")
    return text


ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
CODE = r"^[A-Za-z0-9_.:-]{1,64}$"
SHA256 = r"^[0-9a-f]{64}$"
MONEY = r"^[0-9]{1,18}(\.[0-9]{1,2})?$"
COORDINATE = r"^-?[0-9]{1,3}(\.[0-9]{1,12})?$"
MEDIA_TYPE = r"^[a-z]+/[A-Za-z0-9.+-]{1,64}$"
CATEGORY = r"^[0-9]{1,3}\.[0-9]{1,3}$"
STAFF_CODE = r"^[A-Z]{1,2}[0-9]{6,16}$"
METRES = r"^[0-9]{1,9}$"
SEVERITY = r"^[A-Z]$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
ID_NUMBER = r"^[0-9]{17}[0-9X]$"  # 公民身份号码 (GB 11643): 17 digits and a check character; see `id_number_problem`
# what each pattern means, in the words a refusal shows (never the pattern itself)
PATTERN_WORDS = {
    ID: "应为编号（字母或数字开头，由字母、数字与 . _ : - 组成，最长 128 位）",
    CODE: "应为编码（字母、数字与 _ . : -，最长 64 位）",
    SHA256: "应为 SHA-256 摘要（64 位小写十六进制数字）",
    MONEY: "应为金额（元，数字，最多两位小数，如 1200.50）",
    COORDINATE: "应为经纬度（十进制度数，如 26.074508）",
    MEDIA_TYPE: "应为文件类型（如 image/jpeg）",
    CATEGORY: "应为违规类别编号（条例条款号，如 38.4）",
    STAFF_CODE: "应为人员代码（一至两个大写字母加 6～16 位数字）",
    METRES: "应为米数（整数，最多 9 位）",
    SEVERITY: "应为严重程度（一个大写字母，如 A）",
    DATE: "应为日期（如 2026-05-08）",
    ID_NUMBER: "应为 18 位公民身份号码（17 位数字加一位校验码，校验码可为 X）",
}

Id = Annotated[str, StringConstraints(pattern=ID)]
Code = Annotated[str, StringConstraints(pattern=CODE)]
Sha256 = Annotated[str, StringConstraints(pattern=SHA256)]
Money = Annotated[str, StringConstraints(pattern=MONEY)]
Coordinate = Annotated[str, StringConstraints(pattern=COORDINATE)]
MediaType = Annotated[str, StringConstraints(pattern=MEDIA_TYPE)]
Category = Annotated[str, StringConstraints(pattern=CATEGORY)]
StaffCode = Annotated[str, StringConstraints(pattern=STAFF_CODE)]
Time = Annotated[str, StringConstraints(max_length=40), AfterValidator(_iso_time)]
Name = Annotated[str, StringConstraints(max_length=200)]
Line = Annotated[str, StringConstraints(max_length=1000)]
Note = Annotated[str, StringConstraints(max_length=10_000)]
Short = Annotated[str, StringConstraints(max_length=32)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"  # ISO 7064 MOD 11-2: the check character for each remainder of the weighted sum mod 11


def id_number_problem(text: str) -> str | None:
    """What is wrong with a 公民身份号码 (GB 11643: 18 characters, 17 digits, the birth date at 7–14 and an ISO 7064
    MOD 11-2 check character, which may be X), in a sentence for the person typing it; None when it is valid.
    A lower-case x is not accepted here: callers normalise with ``.strip().upper()`` first."""
    if not text:
        return "请填写身份证号码"
    if len(text) != 18:
        return f"身份证号码应为 18 位（现为 {len(text)} 位）"
    if not re.fullmatch(ID_NUMBER, text):
        return "身份证号码前 17 位应为数字，最后一位为数字或 X"
    try:
        born = datetime.strptime(text[6:14], "%Y%m%d")
    except ValueError:
        return "身份证号码中的出生日期不正确"
    if born.year < 1900:
        return "身份证号码中的出生日期不正确"
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != text[17]:
        return "身份证号码校验位不符，请核对"
    return None


def _id_number(text: str) -> str:
    if id_number_problem(text) is not None:
        raise ValueError("id_number")
    return text


IdNumber = Annotated[str, StringConstraints(pattern=ID_NUMBER), AfterValidator(_id_number)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Institution(_Strict):
    code: Code
    name: Name
    kind: Code
    address: Line


class Gps(_Strict):
    lat: Coordinate
    lon: Coordinate
    accuracy_m: Annotated[str, StringConstraints(pattern=METRES)] | None = None


class Officer(_Strict):
    inspector_code: Code
    name: Name
    badge_no: Name
    id_shown: bool


class Representative(_Strict):
    name: Name
    role: Name
    phone: Name
    id_number: IdNumber | None = None  # records signed before issue #12 have none; the tablet now always writes it


Filled = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class LegalRepresentative(_Strict):
    """The institution's 法定代表人 or 主要负责人, who may not be the person on site."""

    title: Literal["法定代表人", "主要负责人"]
    name: Filled
    id_number: IdNumber


class NoticeGiven(_Strict):
    """A notice read aloud at check-in as the tablet's rules worded it (`checklists.onsite_record`), whether it was
    given, and the answer to its question (one of the rules' choices, with what the person added)."""

    id: Code
    title: Name
    basis: Line
    text: Note
    question: Line
    given: bool
    answer: Name
    detail: Line


class CheckIn(_Strict):
    officers: list[Officer] = Field(max_length=20)
    representative: Representative
    place: Line
    gps: Gps | None
    gps_note: Line
    checked_in_at: Time
    # the three below are absent in check-ins saved before issue #15; the tablet now always writes them
    recorder: Code | None = None  # the 记录人: the inspector_code of one of `officers`
    legal_representative: LegalRepresentative | None = None
    notices: list[NoticeGiven] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _recorder(self) -> CheckIn:
        if self.recorder is not None and self.recorder not in {o.inspector_code for o in self.officers}:
            raise ValueError("recorder")
        return self


class Answer(_Strict):
    """As `checklists.scoring.parse_answers` reads it (the bureau rescores it), plus the photos of the item."""

    result: Literal["pass", "fail", "na"]
    note: Note = ""
    na_reason: Note = ""
    amount_yuan: Money | None = None
    photos: list[Sha256] = Field(default_factory=list, max_length=100)


class PhotoGps(_Strict):
    lat: Coordinate
    lon: Coordinate


class Photo(_Strict):
    """One entry of the photo manifest. A photo handed in without the evidence store's metadata (a headless
    tablet) has only the first four fields."""

    sha256: Sha256
    item_id: Code
    size: Annotated[int, Field(ge=0, le=MAX_BLOB_SIZE)]
    media_type: MediaType
    caption: Line = ""
    captured_at: Time | None = None
    gps: PhotoGps | None = None
    source: Code | None = None
    added_at: Time | None = None
    width: Count | None = None
    height: Count | None = None
    source_format: Short = ""


class Finding(_Strict):
    """A failed item as the tablet built it; the bureau derives its own from the answers (`checklists.findings`)."""

    item_id: Code
    title: Line
    category: Category
    category_title: Name
    severity: Annotated[str, StringConstraints(pattern=SEVERITY)]
    legal_basis: Line
    amount_yuan: Money | None
    description: Note
    staff_codes: list[StaffCode] = Field(max_length=50)
    photos: list[Sha256] = Field(max_length=100)


class SuspicionCheck(_Strict):
    """The inspectors' verdict on one 疑点 the assignment carried (属实 confirmed / 排除 excluded): what the medical
    record, 处方 or 票据 showed, the amount confirmed (at most the hit's; "0.00" when excluded) and the photos of it.
    That the hit is the assignment's, and the amount within it, only the bureau can check (`bureau.ingest`)."""

    hit_id: Id
    rule: Code
    verdict: Literal["confirmed", "excluded"]
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    amount_yuan: Money
    photos: list[Sha256] = Field(max_length=100)


class Score(_Strict):
    value: Short | None  # what the tablet showed; the bureau recomputes it
    critical: bool


class Canvas(_Strict):
    width: Annotated[int, Field(ge=1, le=MAX_CANVAS_EDGE)]
    height: Annotated[int, Field(ge=1, le=MAX_CANVAS_EDGE)]


Point = Annotated[list[Annotated[int, Field(ge=0, le=2**31 - 1)]], Field(min_length=3, max_length=3)]


class HandSignature(_Strict):
    """`documents.signature.Signature.to_dict()`: the strokes of a handwritten signature."""

    format: Literal["yibao-signature-v1"]  # documents.signature.SIGNATURE_FORMAT (sync imports no other package)
    role: Literal["inspector_1", "inspector_2", "representative", "witness"]
    signer_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    canvas: Canvas
    strokes: list[Annotated[list[Point], Field(max_length=MAX_POINTS)]] = Field(max_length=MAX_POINTS)
    started_at: Time
    finished_at: Time


class Refusal(_Strict):
    reason: Note
    witness_name: Name
    witness_id_number: IdNumber | None = None  # as Representative.id_number
    recorded_at: Time
    media_note: Note
    witness_signature: HandSignature | None
    photos: list[Photo] = Field(max_length=100)


class Inquiry(_Strict):
    """One question of the 询问 and the answer, as the inspector wrote them down."""

    question: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    answer: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class DocumentTaken(_Strict):
    """A document taken away (调取): its name, how many copies or pages, original or copy."""

    name: Filled
    quantity: Filled
    form: Literal["原件", "复印件"]


class PreservedItem(_Strict):
    name: Filled
    quantity: Filled
    place: Filled  # where it is kept (存放地点)


class Preservation(_Strict):
    """先行登记保存 (行政处罚法 第五十六条): who approved it, when it was registered, the items, and the last day of the
    decision on them (`decision_by`, an ISO date)."""

    approved_by: Filled
    registered_at: Time
    decision_by: Annotated[str, StringConstraints(pattern=DATE), AfterValidator(_iso_time)]
    items: list[PreservedItem] = Field(min_length=1, max_length=200)


class Blob(_Strict):
    sha256: Sha256
    size: Annotated[int, Field(ge=0, le=MAX_BLOB_SIZE)]
    media_type: MediaType


class RecordV1(_Strict):
    """The locked inspection record, version 1 (``format`` ``yibao-inspection-v1``)."""

    format: Literal["yibao-inspection-v1"]
    record_id: Id
    version: Annotated[int, Field(ge=1, le=10_000)]
    device_id: Id
    assignment_id: Id
    institution_code: Code
    institution: Institution
    inspection_kind: Code
    team: list[Code] = Field(min_length=1, max_length=20)
    inspector_code: Code
    template_id: Code
    template_hash: Sha256
    checkin: CheckIn | None  # None: a headless tablet (demo, load runs) records no check-in
    answers: dict[Code, Answer] = Field(max_length=MAX_ITEMS)
    photos: list[Photo] = Field(max_length=MAX_PHOTOS)
    findings: list[Finding] = Field(max_length=MAX_ITEMS)
    # absent in records signed before issue #16 and when the assignment carried no 疑点; unchecked ones are left out
    suspicion_checks: list[SuspicionCheck] | None = Field(default=None, max_length=MAX_SUSPICION_CHECKS)
    score: Score
    created_at: Time
    previous_hash: Sha256 | None = None
    correction_reason: Note | None = None
    review_hash: Sha256
    signatures: list[HandSignature] = Field(max_length=4)
    refusal: Refusal | None
    locked_at: Time
    # the 询问, the documents taken and a 先行登记保存 (issue #15): present only when there are any
    inquiries: list[Inquiry] | None = Field(default=None, min_length=1, max_length=200)
    documents_taken: list[DocumentTaken] | None = Field(default=None, min_length=1, max_length=500)
    preservation: Preservation | None = None
    blobs: list[Blob] = Field(max_length=MAX_PHOTOS)

    @model_validator(mode="after")
    def _correction(self) -> RecordV1:
        if (self.version > 1) != (self.previous_hash is not None) or \
                (self.version > 1) != (self.correction_reason is not None):
            raise ValueError("correction")
        return self


VERSIONS: dict[str, tuple[int, type[RecordV1]]] = {FORMAT_V1: (1, RecordV1)}  # format -> (schema version, model)
SCHEMA_VERSION = 1  # what tablets write now


# --- refusals -------------------------------------------------------------------------------------------------

_TYPE_NAMES = {bool: "布尔值", int: "整数", str: "字符串", list: "列表", dict: "对象", type(None): "空值（null）"}


def _type_name(value: Any) -> str:
    return next((name for kind, name in _TYPE_NAMES.items() if type(value) is kind), type(value).__name__)


def _path(location: tuple[int | str, ...]) -> str:
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += "（键）"
        else:
            out += f".{part}" if out else part
    return out


_EXPECTED = {  # pydantic error type -> (reason, what was expected)
    "extra_forbidden": ("record_unknown_field", "不应出现：第 {version} 版检查记录没有这个字段"),
    "missing": ("record_missing_field", "缺失：第 {version} 版检查记录必须有这个字段"),
    "string_type": ("record_wrong_type", "应为字符串"),
    "int_type": ("record_wrong_type", "应为整数"),
    "bool_type": ("record_wrong_type", "应为布尔值（true 或 false）"),
    "list_type": ("record_wrong_type", "应为列表"),
    "dict_type": ("record_wrong_type", "应为对象"),
    "model_type": ("record_wrong_type", "应为对象"),
    "none_required": ("record_wrong_type", "应为空值（null）"),
    "string_too_long": ("record_too_long", "过长（最多 {max_length} 个字符）"),
    "too_long": ("record_too_long", "项数过多（最多 {max_length} 项）"),
    "string_too_short": ("record_bad_value", "不能为空"),
    "too_short": ("record_bad_value", "项数不足（至少 {min_length} 项）"),
    "string_pattern_mismatch": ("record_bad_value", "格式不正确"),  # PATTERN_WORDS says what was expected
    "literal_error": ("record_bad_value", "应为 {expected}"),
    "greater_than_equal": ("record_bad_value", "应不小于 {ge}"),
    "less_than_equal": ("record_bad_value", "应不大于 {le}"),
}


def _sentence(error: Mapping[str, Any], value: Any) -> tuple[str, str]:
    kind = error["type"]
    context = {"version": SCHEMA_VERSION, **(error.get("ctx") or {})}
    if kind == "value_error" and "iso_time" in str(error.get("msg")):
        return "record_bad_value", "应为 ISO 8601 时间（如 2026-05-01T09:30:00+08:00）"
    if kind == "value_error" and "id_number" in str(error.get("msg")):
        return "record_bad_value", (id_number_problem(value) if isinstance(value, str) else None) or "应为身份证号码"
    if kind == "value_error" and "recorder" in str(error.get("msg")):
        return "record_bad_value", "记录人（recorder）应为到场登记的检查人员之一"
    if kind == "value_error" and "correction" in str(error.get("msg")):
        return "record_bad_value", "更正版本（version > 1）须有 previous_hash 与 correction_reason，首个版本不能有"
    if kind == "string_pattern_mismatch" and context.get("pattern") in PATTERN_WORDS:
        return "record_bad_value", PATTERN_WORDS[context["pattern"]]
    if kind == "literal_error":  # pydantic's "'pass', 'fail' or 'na'" as 「pass、fail、na 之一」
        allowed = re.findall(r"'([^']*)'", str(context.get("expected")))
        context["expected"] = allowed[0] if len(allowed) == 1 else "、".join(allowed) + " 之一"
    reason, expected = _EXPECTED.get(kind, ("record_bad_value", f"不符合第 {SCHEMA_VERSION} 版检查记录的要求"))
    try:
        text = expected.format(**context)
    except (KeyError, IndexError):
        text = expected
    if reason == "record_wrong_type":
        text += f"，实际为{_type_name(value)}"
    return reason, text


def _refusal(exc: ValidationError) -> RecordInvalid:
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = _path(first["loc"]) or "（整条记录）"
    reason, expected = _sentence(first, first.get("input"))
    more = f"（另有 {len(errors) - 1} 处不符）" if len(errors) > 1 else ""
    shown = CONTROL_CHARACTERS.sub("?", path)[:200]
    return RecordInvalid(reason, f"检查记录的字段 {shown} {expected}{more}", shown)


def check_record(record: Any) -> RecordV1:
    """The record as its schema version's model; raises RecordInvalid (reason, path, what was expected)."""
    if not isinstance(record, dict):
        raise RecordInvalid("record_wrong_type", f"检查记录应为对象，实际为{_type_name(record)}", "")
    known = VERSIONS.get(str(record.get("format")))
    if known is None:
        shown = str(record.get("format"))[:40]
        raise RecordInvalid("record_format_unknown", f"检查记录的格式 {CONTROL_CHARACTERS.sub('?', shown)} 无法识别"
                            f"（可识别：{'、'.join(VERSIONS)}）", "format")
    try:
        model = known[1].model_validate(record)
    except ValidationError as exc:
        raise _refusal(exc) from None
    refusal = suspicion_checks_refusal(model)
    if refusal is not None:
        raise refusal
    return model


def suspicion_checks_refusal(record: RecordV1) -> RecordInvalid | None:
    """What the record itself can tell of its 疑点 checks: one check per hit, a note that says something, a
    confirmed amount above zero and an excluded one of "0.00", and only photos of the record's manifest."""
    manifest = {photo.sha256 for photo in record.photos}
    seen: set[str] = set()
    for index, check in enumerate(record.suspicion_checks or []):
        where = f"suspicion_checks[{index}]"
        if check.hit_id in seen:
            return RecordInvalid("record_duplicate_check", f"检查记录的字段 {where}.hit_id 重复：疑点 {check.hit_id} "
                                 "只能有一条核查结论", f"{where}.hit_id")
        seen.add(check.hit_id)
        if not check.note.strip():
            return RecordInvalid("record_bad_value", f"检查记录的字段 {where}.note 不能为空：请写明病历、处方或票据所见",
                                 f"{where}.note")
        if check.verdict == "confirmed" and Decimal(check.amount_yuan) <= 0:
            return RecordInvalid("record_bad_value", f"检查记录的字段 {where}.amount_yuan 应大于 0（疑点属实须写明"
                                 "核实的金额）", f"{where}.amount_yuan")
        if check.verdict == "excluded" and check.amount_yuan != "0.00":
            return RecordInvalid("record_bad_value", f"检查记录的字段 {where}.amount_yuan 应为 0.00（疑点已排除）",
                                 f"{where}.amount_yuan")
        for number, photo in enumerate(check.photos):
            if photo not in manifest:
                return RecordInvalid("record_photo_unknown", f"检查记录的字段 {where}.photos[{number}] 所指照片不在"
                                     "检查记录的照片清单（photos）中", f"{where}.photos[{number}]")
    return None


# --- control characters -------------------------------------------------------------------------------------

def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a JSON value, keys included, with its path (`score.value`, `findings[0].note`); iterative,
    so no nesting depth exhausts the stack."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in reversed(list(item.items())):
                inner = f"{where}.{key}" if where else key
                stack.append((inner, child))
                stack.append((inner, key))
        elif isinstance(item, list):
            stack.extend((f"{where}[{number}]", child) for number, child in reversed(list(enumerate(item))))


# How JSON writes those characters (`\u0000`…`\u001f`, `\b`, `\f`; tab and line breaks are `\t`, `\n`, `\r`), or an
# escaped backslash followed by `b`, `f` or `u001…` (which only sends the check on to the walk below).
_ESCAPED_CONTROL = re.compile(r"\\(?:u00[01]|[bf])")
_JSON = json.JSONEncoder(ensure_ascii=False, check_circular=False)


def control_character_path(record: Any) -> str | None:
    """The path of the first string (or key) holding a C0 control character other than tab and line breaks, shown
    with the characters escaped; None when there is none. A record's JSON text without any of their escapes has
    none (one pass in C); only a record with one is walked to name the field."""
    try:
        if not _ESCAPED_CONTROL.search(_JSON.encode(record)):
            return None
    except (TypeError, ValueError, RecursionError):  # not JSON, or too deep for the encoder: the walk decides
        pass
    path = next((path for path, text in _strings(record, "") if CONTROL_CHARACTERS.search(text)), None)
    return None if path is None else CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", path)[:200]
