"""Photo evidence pipeline: one decode, two outputs, and a captioned copy made where one is shown.

From the camera's bytes ``process_photo`` makes

* the **stored** image: EXIF orientation applied, long edge at most ``max_edge``, JPEG, no metadata, no caption.
  Its SHA-256 is the evidence hash that the record signs; nothing is ever drawn on it;
* a **thumbnail** (long edge ``thumb_edge``) for lists.

``captioned_jpeg`` makes the **rendered** copy: the stored image with a caption strip (time · institution · item)
added *below* it, so the caption never covers evidence. For display and the 笔录 PDF only; it is not evidence and is
never hashed. It is made from the stored image when it is shown, because one photo may be evidence for two items,
each with its own caption.

Capture time and GPS position come from the EXIF block as metadata (GPS as decimal-degree strings, never floats). The
original bytes are the caller's to keep unaltered (行政处罚法 Art. 47: originals kept).

Untrusted input is refused with a ``PhotoError`` (English reason code, Chinese message): empty or oversized files,
formats other than JPEG/PNG/WebP, decompression bombs (declared pixel count over ``max_pixels``, checked before any
pixel is decoded; Pillow's own ``DecompressionBombError`` is mapped to the same error), and truncated or corrupt data.

Speed: a large JPEG is decoded at a reduced DCT scale (``Image.draft``) when the scale still leaves at least
``max_edge`` pixels, so a 48 MP photo is never decoded at full size; the thumbnail is derived from the already
downscaled image.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

FONT_PATH = Path(__file__).resolve().parent.parent / "assets" / "fonts" / "NotoSansSC-Subset.otf"

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")  # JPEG includes MPO, the multi-picture JPEG some phone cameras write
MAX_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 64_000_000  # declared size; above Pillow's 89 MP warning threshold nothing is ever decoded
MAX_EDGE = 2048
THUMB_EDGE = 320
STORED_QUALITY = 85
THUMB_QUALITY = 80
GPS_DECIMAL_PLACES = 7  # 1e-7 degree is about 1 cm: finer than any phone fix, coarse enough to be stable

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112
_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4

_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXIF_DATETIME = re.compile(r"^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$")
_EXIF_OFFSET = re.compile(r"^[+-]\d{2}:\d{2}$")


class PhotoError(ValueError):
    """A photo that cannot be used as evidence: a stable English reason code and a Chinese message for the inspector."""

    def __init__(self, reason_code: str, message_zh: str):
        super().__init__(f"{reason_code}: {message_zh}")
        self.reason_code = reason_code
        self.message_zh = message_zh


@dataclass(frozen=True)
class PhotoMetadata:
    """What the camera recorded. ``captured_at`` is ISO 8601 local time from EXIF DateTimeOriginal, with the UTC offset
    when the camera wrote OffsetTimeOriginal (``"2024-05-01T14:03:22+08:00"``); GPS values are signed decimal-degree
    strings (``"30.2741500"``, south and west negative). Each is None when absent or malformed."""

    source_format: str
    source_width: int  # as displayed, i.e. after orientation
    source_height: int
    orientation: int  # the EXIF orientation that was applied (1 = none)
    captured_at: str | None
    gps_lat: str | None
    gps_lon: str | None


@dataclass(frozen=True)
class ProcessedPhoto:
    stored_jpeg: bytes  # the evidence image
    sha256: str  # hex SHA-256 of stored_jpeg: the evidence hash
    width: int  # of stored_jpeg
    height: int
    thumbnail_jpeg: bytes
    caption: str  # what `captioned_jpeg` draws under it where it is shown
    metadata: PhotoMetadata


def photo_caption(taken_at: str, institution: str, item: str) -> str:
    """The caption drawn under a photo: ``"2024-05-01 14:03 · 某某大药房 · 串换药品"``, blank parts left out."""
    return " · ".join(part.strip() for part in (taken_at, institution, item) if part and part.strip())


def process_photo(
    data: bytes,
    *,
    caption: str,
    max_edge: int = MAX_EDGE,
    thumb_edge: int = THUMB_EDGE,
    quality: int = STORED_QUALITY,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
) -> ProcessedPhoto:
    """Validate, orient, downscale and encode one photo; raises PhotoError for anything unusable."""
    image = _open_checked(data, max_bytes=max_bytes, max_pixels=max_pixels)
    source_size = image.size
    source_format = image.format or ""
    target = _fit(source_size, max_edge)  # from the declared size: draft() rounds its reduced size up
    if image.format in ("JPEG", "MPO"):
        # DCT scaling: libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the requested size.
        image.draft("RGB", target)
    try:
        image.load()
        exif = image.getexif()
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("corrupt", "照片文件已损坏或不完整（可能未完整传输），请重新拍摄") from exc
    orientation = exif.get(_ORIENTATION, 1)
    orientation = orientation if orientation in _TRANSPOSE_FOR_ORIENTATION else 1

    stored = _to_rgb(image)
    if stored.size != target:
        # reducing_gap: a cheap box reduce() first when shrinking 3x or more, then bicubic for the rest
        stored = stored.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
    if orientation != 1:
        stored = stored.transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
    stored_jpeg = _jpeg(stored, quality)

    thumbnail = stored.resize(_fit(stored.size, thumb_edge), Image.Resampling.BICUBIC, reducing_gap=2.0)

    displayed = source_size if orientation < 5 else (source_size[1], source_size[0])
    captured_at, gps_lat, gps_lon = _exif_time_and_position(exif)
    return ProcessedPhoto(
        stored_jpeg=stored_jpeg,
        sha256=hashlib.sha256(stored_jpeg).hexdigest(),
        width=stored.width,
        height=stored.height,
        thumbnail_jpeg=_jpeg(thumbnail, THUMB_QUALITY),
        caption=caption,
        metadata=PhotoMetadata(
            source_format=source_format, source_width=displayed[0], source_height=displayed[1],
            orientation=orientation, captured_at=captured_at, gps_lat=gps_lat, gps_lon=gps_lon,
        ),
    )


def captioned_jpeg(stored_jpeg: bytes, caption: str, quality: int = STORED_QUALITY) -> bytes:
    """The rendered copy of a stored image: its caption strip below it (display and PDF; never hashed)."""
    with Image.open(io.BytesIO(stored_jpeg)) as image:
        return _jpeg(render_caption_strip(image.convert("RGB"), caption), quality)


def render_caption_strip(image: Image.Image, caption: str) -> Image.Image:
    """A new image: ``image`` with a dark strip below it carrying ``caption`` in white (wrapped, at most 3 lines)."""
    font_size = max(14, image.width // 42)
    font = _font(font_size)
    margin = font_size // 2
    lines = _wrap(caption, font, image.width - 2 * margin, max_lines=3) or [""]
    line_height = round(font_size * 1.4)
    strip_height = len(lines) * line_height + 2 * margin
    canvas = Image.new("RGB", (image.width, image.height + strip_height), (32, 32, 32))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for index, line in enumerate(lines):
        draw.text((margin, image.height + margin + index * line_height), line, font=font, fill=(255, 255, 255))
    return canvas


def _open_checked(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    if not data:
        raise PhotoError("empty", "照片文件为空")
    if len(data) > max_bytes:
        raise PhotoError("too_large", f"照片文件过大（{len(data) / 1048576:.1f} MB），上限为 {max_bytes / 1048576:.0f} MB")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:  # declared size beyond twice Pillow's own limit
        raise PhotoError("too_many_pixels", f"图片像素过多，上限为 {max_pixels / 10000:.0f} 万像素") from None
    except UnidentifiedImageError:
        raise PhotoError("not_an_image", "不是可用的照片文件（仅支持 JPEG、PNG、WebP 格式）") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError("corrupt", "照片文件已损坏或不完整（可能未完整传输），请重新拍摄") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise PhotoError("corrupt", "照片文件已损坏或不完整（可能未完整传输），请重新拍摄")
    pillow_limit = Image.MAX_IMAGE_PIXELS  # None when Pillow's own check is switched off
    if width * height > (max_pixels if pillow_limit is None else min(max_pixels, pillow_limit)):
        raise _too_many_pixels(image.size, max_pixels)
    return image


def _too_many_pixels(size: tuple[int, int], max_pixels: int) -> PhotoError:
    return PhotoError(
        "too_many_pixels",
        f"图片像素过多（{size[0]}×{size[1]}），上限为 {max_pixels / 10000:.0f} 万像素；请用相机的标准分辨率拍摄",
    )


def _fit(size: tuple[int, int], max_edge: int) -> tuple[int, int]:
    """The size with the long edge at most ``max_edge``, aspect ratio kept (never upscaled)."""
    width, height = size
    long_edge = max(width, height)
    if long_edge <= max_edge:
        return size
    return max(1, round(width * max_edge / long_edge)), max(1, round(height * max_edge / long_edge))


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for JPEG; transparency is flattened onto white (how the photo looks on screen)."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, *, max_lines: int) -> list[str]:
    """Greedy wrap by character (Chinese has no spaces); the last line is cut with an ellipsis if text remains."""
    lines: list[str] = []
    current = ""
    for char in " ".join(text.split()):
        if font.getlength(current + char) <= width:
            current += char
            continue
        lines.append(current)
        current = char.lstrip()
        if len(lines) == max_lines:
            break
    else:
        if current:
            lines.append(current)
        return lines
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1]
    lines[-1] = last + "…"
    return lines


def _exif_time_and_position(exif: Image.Exif) -> tuple[str | None, str | None, str | None]:
    try:
        exif_ifd = exif.get_ifd(_EXIF_IFD)
        gps_ifd = exif.get_ifd(_GPS_IFD)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        return None, None, None
    captured_at = _exif_datetime(exif_ifd.get(_DATETIME_ORIGINAL), exif_ifd.get(_OFFSET_TIME_ORIGINAL))
    latitude = _gps_degrees(gps_ifd.get(_GPS_LAT), gps_ifd.get(_GPS_LAT_REF), "N", "S", 90)
    longitude = _gps_degrees(gps_ifd.get(_GPS_LON), gps_ifd.get(_GPS_LON_REF), "E", "W", 180)
    if latitude is None or longitude is None:
        return captured_at, None, None
    return captured_at, latitude, longitude


def _exif_datetime(value: object, offset: object) -> str | None:
    if not isinstance(value, str):
        return None
    match = _EXIF_DATETIME.match(value.strip("\x00 "))
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if isinstance(offset, str) and _EXIF_OFFSET.match(offset.strip("\x00 ")):
        text += offset.strip("\x00 ")
    return text


def _gps_degrees(value: object, ref: object, positive: str, negative: str, limit: int) -> str | None:
    """EXIF degrees/minutes/seconds rationals to a signed decimal string, computed exactly (no float)."""
    if not isinstance(value, tuple) or len(value) != 3 or not isinstance(ref, str):
        return None
    ref = ref.strip("\x00 ").upper()
    if ref not in (positive, negative):
        return None
    try:
        degrees, minutes, seconds = (_exact(part) for part in value)
    except (ValueError, ZeroDivisionError, TypeError):
        return None
    total = degrees + minutes / 60 + seconds / 3600
    if not (0 <= minutes < 60 and 0 <= seconds < 60 and 0 <= total <= limit):
        return None
    quantum = Decimal(1).scaleb(-GPS_DECIMAL_PLACES)
    decimal = (Decimal(total.numerator) / Decimal(total.denominator)).quantize(quantum)
    return format(-decimal if ref == negative and decimal else decimal, "f")


def _exact(value: object) -> Fraction:
    """An EXIF rational as an exact Fraction (Pillow's IFDRational keeps numerator and denominator)."""
    numerator = getattr(value, "numerator", None)
    denominator = getattr(value, "denominator", None)
    if isinstance(numerator, int) and isinstance(denominator, int):
        return Fraction(numerator, denominator)
    if isinstance(value, int):
        return Fraction(value)
    raise ValueError("not a rational")
