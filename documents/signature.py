"""Handwritten signatures captured as strokes: the data model, its canonical (hashable) form, validation and a PNG
rendering for the screen and the 笔录 PDF.

A point is ``(x, y, t_ms)``: integer pixel coordinates on the signing pad (origin top-left, ``0 <= x <= width``,
``0 <= y <= height``) and integer milliseconds since the first touch of the signature. Integers only, because the
canonical JSON that gets hashed refuses floats; ``point_from_touch`` rounds what the touch events report.
A stroke is the points from one touch-down to its touch-up.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageDraw

from sync.canonical import canonical_bytes, content_hash

Point = tuple[int, int, int]
Stroke = tuple[Point, ...]

SIGNATURE_FORMAT = "yibao-signature-v1"
ROLE_LABELS = {
    "inspector_1": "检查人员",
    "inspector_2": "检查人员",
    "representative": "被检查单位负责人或在场人员",
    "witness": "见证人",
}
MIN_POINTS = 10  # fewer than this is a tap or a dot, not a signature
MAX_POINTS = 20_000  # bounds the record size; a long Chinese name written slowly stays far below
MAX_CANVAS_EDGE = 4096
SUPERSAMPLE = 4  # lines are drawn at 4x and downsampled: Pillow's own lines are not anti-aliased


INSPECTOR_ROLES = ("inspector_1", "inspector_2")  # the first and second officer at check-in, in that order


def unbound_inspectors(officers: Any, signed_roles: Iterable[Any], key_signers: Iterable[str]) -> list[str]:
    """The inspectors who signed by hand but whose own key did not sign the record (a team member whose key was not
    on the tablet): their handwriting is there, but nothing proves it was them. `officers` is the check-in's list
    (inspector_1 is the first officer, inspector_2 the second); anything malformed counts as nobody."""
    keyed = set(key_signers)
    codes = [o.get("inspector_code") if isinstance(o, dict) else None
             for o in (officers if isinstance(officers, list) else [])]
    out = []
    for number, role in enumerate(INSPECTOR_ROLES):
        code = codes[number] if number < len(codes) else None
        if role in set(signed_roles) and isinstance(code, str) and code not in keyed:
            out.append(code)
    return out


def unbound_in_record(record: Any, key_signers: Iterable[str]) -> list[str]:
    """`unbound_inspectors` for a locked record as it travels (its check-in and its handwritten signatures)."""
    if not isinstance(record, dict):
        return []
    checkin = record.get("checkin")
    signatures = record.get("signatures")
    roles = [s.get("role") for s in signatures if isinstance(s, dict)] if isinstance(signatures, list) else []
    return unbound_inspectors(checkin.get("officers") if isinstance(checkin, dict) else None, roles, key_signers)


def unbound_text(code: str) -> str:
    """The same words on the tablet, in the 笔录 and at the bureau."""
    return f"{code} 未以本人密钥签名"


class SignatureError(ValueError):
    """A signature that cannot be accepted: a stable English reason code and a Chinese message for the signer."""

    def __init__(self, reason_code: str, message_zh: str):
        super().__init__(f"{reason_code}: {message_zh}")
        self.reason_code = reason_code
        self.message_zh = message_zh


@dataclass(frozen=True)
class Signature:
    """One person's signature on one record. Times are ISO 8601 with a UTC offset (``2024-05-01T15:20:03+08:00``)."""

    role: str  # a key of ROLE_LABELS
    signer_name: str
    canvas_width: int
    canvas_height: int
    strokes: tuple[Stroke, ...]
    started_at: str
    finished_at: str

    def to_dict(self) -> dict[str, Any]:
        """The canonical content: what is hashed, signed and stored."""
        return {
            "format": SIGNATURE_FORMAT,
            "role": self.role,
            "signer_name": self.signer_name,
            "canvas": {"width": self.canvas_width, "height": self.canvas_height},
            "strokes": [[list(point) for point in stroke] for stroke in self.strokes],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Signature:
        """The inverse of ``to_dict``, validated; raises SignatureError."""
        try:
            if data["format"] != SIGNATURE_FORMAT:
                raise SignatureError("bad_format", "签名数据格式不正确")
            signature = cls(
                role=data["role"],
                signer_name=data["signer_name"],
                canvas_width=data["canvas"]["width"],
                canvas_height=data["canvas"]["height"],
                strokes=tuple(tuple(_point(point) for point in stroke) for stroke in data["strokes"]),
                started_at=data["started_at"],
                finished_at=data["finished_at"],
            )
        except SignatureError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError("bad_format", "签名数据格式不正确") from exc
        validate_signature(signature)
        return signature


def point_from_touch(x: float, y: float, t_ms: float) -> Point:
    """A point from touch-event values (floats), rounded to the integers the canonical form allows."""
    return round(x), round(y), round(t_ms)


def canonical_signature_bytes(signature: Signature) -> bytes:
    return canonical_bytes(signature.to_dict())


def signature_hash(signature: Signature) -> str:
    """SHA-256 hex of the canonical form."""
    return content_hash(signature.to_dict())


def validate_signature(signature: Signature) -> None:
    """Raises SignatureError with a message the signer can act on."""
    if signature.role not in ROLE_LABELS:
        raise SignatureError("bad_role", f"未知的签名人身份：{signature.role!r}")
    if not isinstance(signature.signer_name, str) or not signature.signer_name.strip():
        raise SignatureError("no_name", "请填写签名人姓名")
    for stamp in (signature.started_at, signature.finished_at):
        if not _is_aware_iso_time(stamp):
            raise SignatureError("bad_time", "签名时间格式不正确")
    if datetime.fromisoformat(signature.finished_at) < datetime.fromisoformat(signature.started_at):
        raise SignatureError("bad_time", "签名结束时间早于开始时间")
    width, height = signature.canvas_width, signature.canvas_height
    if not (type(width) is int and type(height) is int and 0 < width <= MAX_CANVAS_EDGE
            and 0 < height <= MAX_CANVAS_EDGE):
        raise SignatureError("bad_canvas", "签名框尺寸不正确")
    validate_strokes(signature.strokes, width, height)


def validate_strokes(strokes: tuple[Stroke, ...] | list, width: int, height: int) -> None:
    """The checks on the drawing itself; raises SignatureError."""
    if not strokes or all(len(stroke) == 0 for stroke in strokes):
        raise SignatureError("empty", "签名为空，请在签名框内签名")
    if any(len(stroke) == 0 for stroke in strokes):
        raise SignatureError("bad_stroke", "签名数据有误（存在空笔画），请清除后重新签名")
    total = sum(len(stroke) for stroke in strokes)
    if total < MIN_POINTS:
        raise SignatureError("too_short", "签名过于简短，请完整书写姓名")
    if total > MAX_POINTS:
        raise SignatureError("too_long", "签名笔迹过多，请清除后重新签名")
    previous_t = -1
    for stroke in strokes:
        for point in stroke:
            if len(point) != 3 or not all(type(value) is int for value in point):
                raise SignatureError("bad_point", "签名数据有误（坐标须为整数），请清除后重新签名")
            x, y, t_ms = point
            if not (0 <= x <= width and 0 <= y <= height):
                raise SignatureError("out_of_bounds", "签名超出签名框，请在框内书写")
            if t_ms < previous_t:
                raise SignatureError("bad_timing", "签名数据有误（时间顺序错乱），请清除后重新签名")
            previous_t = t_ms


def render_signature_png(strokes: tuple[Stroke, ...] | list, width: int, height: int, *, line_width: int = 4,
                         transparent: bool = False, ink: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """PNG of the strokes on a ``width`` x ``height`` canvas: anti-aliased round-capped lines in ``ink`` on white, or
    on a transparent background. Deterministic: the same strokes give the same bytes."""
    big = SUPERSAMPLE
    mask = Image.new("L", (width * big, height * big), 0)
    draw = ImageDraw.Draw(mask)
    radius = line_width * big / 2
    for stroke in strokes:
        scaled = [(x * big, y * big) for x, y, _t in stroke]
        if len(scaled) > 1:
            draw.line(scaled, fill=255, width=line_width * big, joint="curve")
        for x, y in (scaled[0], scaled[-1]) if scaled else ():
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    alpha = mask.resize((width, height), Image.Resampling.BOX)
    if transparent:
        image = Image.new("RGBA", (width, height), (*ink, 0))
        image.putalpha(alpha)
    else:
        image = Image.new("RGB", (width, height), (255, 255, 255))
        image.paste(Image.new("RGB", (width, height), ink), mask=alpha)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _point(value: Any) -> Point:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError("a point is [x, y, t_ms]")
    return value[0], value[1], value[2]


def _is_aware_iso_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).utcoffset() is not None
    except ValueError:
        return False
