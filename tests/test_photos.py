"""Photo pipeline: the hashed image is oriented, downscaled, caption-free and reproducible; metadata is exact;
anything unusable is refused with a typed error."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps, ImageStat
from PIL.TiffImagePlugin import IFDRational

from inspector_app.photos import (
    PhotoError,
    captioned_jpeg,
    photo_caption,
    process_photo,
)

QUADRANTS = {"top_left": (220, 30, 30), "top_right": (30, 200, 30), "bottom_left": (30, 30, 220),
             "bottom_right": (230, 230, 40)}


def quadrant_image(width: int = 400, height: int = 300) -> Image.Image:
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    image.paste(QUADRANTS["top_left"], (0, 0, half_w, half_h))
    image.paste(QUADRANTS["top_right"], (half_w, 0, width, half_h))
    image.paste(QUADRANTS["bottom_left"], (0, half_h, half_w, height))
    image.paste(QUADRANTS["bottom_right"], (half_w, half_h, width, height))
    return image


def camera_jpeg(image: Image.Image | None = None, *, orientation: int | None = None, taken: str | None = None,
                offset: str | None = None, gps: tuple | None = None, quality: int = 92) -> bytes:
    image = image or quadrant_image()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
    if offset is not None:
        exif.get_ifd(0x8769)[0x9011] = offset
    if gps is not None:
        lat_ref, lat, lon_ref, lon = gps
        exif.get_ifd(0x8825).update({1: lat_ref, 2: lat, 3: lon_ref, 4: lon})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def colour_at(image: Image.Image, fx: float, fy: float) -> tuple[int, int, int]:
    return image.convert("RGB").getpixel((int(image.width * fx), int(image.height * fy)))


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b))


DMS_30_27415 = (IFDRational(30), IFDRational(16), IFDRational(2694, 100))  # 30°16'26.94" = 30.27415 exactly
DMS_120_158 = (IFDRational(120), IFDRational(9), IFDRational(3012, 100))  # 120°9'30.12" = 120.158366…


# --- the stored (hashed) image -------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_applied_like_exif_transpose(orientation):
    data = camera_jpeg(orientation=orientation)
    expected = ImageOps.exif_transpose(decode(data))
    result = process_photo(data, caption="x", max_edge=200)
    stored = decode(result.stored_jpeg)
    assert (stored.width > stored.height) == (expected.width > expected.height)
    for fx, fy in ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)):
        assert close(colour_at(stored, fx, fy), colour_at(expected, fx, fy)), (orientation, fx, fy)
    assert result.metadata.orientation == orientation
    assert (result.metadata.source_width, result.metadata.source_height) == expected.size


def test_downscaled_to_max_edge_keeping_aspect():
    result = process_photo(camera_jpeg(quadrant_image(4000, 3000)), caption="x")
    assert (result.width, result.height) == (2048, 1536)
    assert decode(result.stored_jpeg).size == (2048, 1536)
    assert max(decode(result.thumbnail_jpeg).size) == 320


def test_large_jpeg_decoded_at_reduced_scale_still_reaches_max_edge():
    result = process_photo(camera_jpeg(quadrant_image(8000, 6000), quality=60), caption="x", max_edge=1000)
    assert (result.width, result.height) == (1000, 750)
    assert close(colour_at(decode(result.stored_jpeg), 0.75, 0.75), QUADRANTS["bottom_right"])


def test_small_photo_is_not_upscaled():
    result = process_photo(camera_jpeg(quadrant_image(640, 480)), caption="x")
    assert (result.width, result.height) == (640, 480)


def test_evidence_hash_is_of_the_stored_bytes_and_reproducible():
    data = camera_jpeg(orientation=6, taken="2024:05:01 14:03:22")
    first = process_photo(data, caption="2024-05-01 14:03 · 康宁大药房 · 串换药品")
    second = process_photo(data, caption="2024-05-01 14:03 · 康宁大药房 · 串换药品")
    assert first.sha256 == hashlib.sha256(first.stored_jpeg).hexdigest()
    assert first.stored_jpeg == second.stored_jpeg


def test_caption_never_touches_the_hashed_image():
    data = camera_jpeg()
    one = process_photo(data, caption="甲 · 乙 · 丙")
    other = process_photo(data, caption="完全不同的说明文字，很长很长很长很长很长很长很长很长很长很长很长很长")
    assert one.sha256 == other.sha256 and one.stored_jpeg == other.stored_jpeg
    assert captioned_jpeg(one.stored_jpeg, one.caption) != captioned_jpeg(other.stored_jpeg, other.caption)


def test_stored_image_carries_no_exif():
    data = camera_jpeg(orientation=6, taken="2024:05:01 14:03:22", gps=("N", DMS_30_27415, "E", DMS_120_158))
    stored = decode(process_photo(data, caption="x").stored_jpeg)
    assert len(stored.getexif()) == 0


def test_rendered_copy_adds_a_strip_below_without_covering_the_photo():
    result = process_photo(camera_jpeg(quadrant_image(800, 600)), caption=photo_caption("2024-05-01 14:03", "康宁大药房",
                                                                                   "串换药品"))
    stored, rendered = decode(result.stored_jpeg), decode(captioned_jpeg(result.stored_jpeg, result.caption))
    assert rendered.width == stored.width and rendered.height > stored.height
    top = rendered.crop((0, 0, stored.width, stored.height))
    difference = ImageStat.Stat(ImageChops.difference(top, stored).convert("L")).mean[0]
    assert difference < 3  # only JPEG re-encoding noise
    strip = rendered.crop((0, stored.height, rendered.width, rendered.height)).convert("L")
    low, high = strip.getextrema()
    assert low < 60 and high > 180  # dark strip with light text on it


def test_transparency_is_flattened_onto_white():
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 150, 200))
    out = io.BytesIO()
    image.save(out, "PNG")
    stored = decode(process_photo(out.getvalue(), caption="x").stored_jpeg)
    assert stored.mode == "RGB"
    assert close(colour_at(stored, 0.75, 0.5), (255, 255, 255), 8)
    assert close(colour_at(stored, 0.25, 0.5), (200, 0, 0), 30)


def test_cmyk_jpeg_is_accepted():
    out = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 255, 255, 0)).save(out, "JPEG")
    stored = decode(process_photo(out.getvalue(), caption="x").stored_jpeg)
    assert stored.mode == "RGB"


@settings(max_examples=25, deadline=None)
@given(width=st.integers(1, 900), height=st.integers(1, 900), orientation=st.integers(1, 8),
       max_edge=st.integers(16, 400))
def test_size_properties(width, height, orientation, max_edge):
    result = process_photo(camera_jpeg(Image.new("RGB", (width, height), (90, 90, 90)), orientation=orientation),
                           caption="x", max_edge=max_edge)
    upright = (width, height) if orientation < 5 else (height, width)
    assert max(result.width, result.height) == min(max(upright), max_edge)
    if max(upright) > max_edge:  # aspect ratio kept: each side scaled by the same factor, then rounded
        scale = max_edge / max(upright)
        for side, original in zip((result.width, result.height), upright):
            assert abs(side - original * scale) <= 0.5 or side == 1
    else:
        assert (result.width, result.height) == upright
    assert (result.width, result.height) == decode(result.stored_jpeg).size


# --- metadata ------------------------------------------------------------------------------------------------


def test_capture_time_and_gps_kept_as_exact_strings():
    data = camera_jpeg(taken="2024:05:01 14:03:22", offset="+08:00", gps=("N", DMS_30_27415, "E", DMS_120_158))
    metadata = process_photo(data, caption="x").metadata
    assert metadata.captured_at == "2024-05-01T14:03:22+08:00"
    assert metadata.gps_lat == "30.2741500"
    assert metadata.gps_lon == "120.1583667"
    assert metadata.source_format == "JPEG"


def test_south_and_west_are_negative():
    data = camera_jpeg(gps=("S", DMS_30_27415, "W", DMS_120_158))
    metadata = process_photo(data, caption="x").metadata
    assert (metadata.gps_lat, metadata.gps_lon) == ("-30.2741500", "-120.1583667")


def test_missing_or_malformed_metadata_is_none():
    plain = process_photo(camera_jpeg(), caption="x").metadata
    assert (plain.captured_at, plain.gps_lat, plain.gps_lon, plain.orientation) == (None, None, None, 1)
    bad = camera_jpeg(taken="0000:00:00 00:00:00",
                      gps=("N", (IFDRational(30), IFDRational(1, 0), IFDRational(0)), "E", DMS_120_158))
    metadata = process_photo(bad, caption="x").metadata
    assert (metadata.captured_at, metadata.gps_lat, metadata.gps_lon) == (None, None, None)
    out_of_range = camera_jpeg(gps=("N", (IFDRational(95), IFDRational(0), IFDRational(0)), "E", DMS_120_158))
    assert process_photo(out_of_range, caption="x").metadata.gps_lat is None


def test_time_without_offset_is_local_time():
    metadata = process_photo(camera_jpeg(taken="2024:05:01 14:03:22"), caption="x").metadata
    assert metadata.captured_at == "2024-05-01T14:03:22"


def test_photo_caption_joins_the_non_blank_parts():
    assert photo_caption("2024-05-01 14:03", "康宁大药房", "串换药品") == "2024-05-01 14:03 · 康宁大药房 · 串换药品"
    assert photo_caption("2024-05-01 14:03", " ", "串换药品") == "2024-05-01 14:03 · 串换药品"


# --- refusals ------------------------------------------------------------------------------------------------


def png_with_declared_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width × height: a decompression bomb as far as the header goes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def reason(data: bytes, **options) -> PhotoError:
    with pytest.raises(PhotoError) as caught:
        process_photo(data, caption="x", **options)
    assert caught.value.message_zh  # a Chinese message for the inspector
    return caught.value


def test_empty_file():
    assert reason(b"").reason_code == "empty"


def test_not_an_image():
    error = reason("这不是照片".encode() * 100)
    assert error.reason_code == "not_an_image"
    assert "JPEG" in error.message_zh


def test_unsupported_formats_are_not_images():
    for fmt in ("GIF", "BMP", "TIFF"):
        out = io.BytesIO()
        Image.new("RGB", (50, 50)).save(out, fmt)
        assert reason(out.getvalue()).reason_code == "not_an_image", fmt


@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_jpeg(keep):
    data = camera_jpeg(quadrant_image(800, 600))
    error = reason(data[: int(len(data) * keep)])
    assert error.reason_code == "corrupt"
    assert "损坏" in error.message_zh


def test_file_over_byte_limit():
    data = camera_jpeg()
    error = reason(data, max_bytes=len(data) - 1)
    assert error.reason_code == "too_large"
    assert "MB" in error.message_zh


def test_pixel_limit_checked_before_decoding():
    assert reason(png_with_declared_size(9000, 8000)).reason_code == "too_many_pixels"
    assert reason(camera_jpeg(quadrant_image(1000, 1000)), max_pixels=999_999).reason_code == "too_many_pixels"


def test_pillow_decompression_bomb_is_a_photo_error():
    # Beyond twice Pillow's own limit Image.open raises DecompressionBombError itself.
    error = reason(png_with_declared_size(30000, 30000), max_pixels=2_000_000_000)
    assert error.reason_code == "too_many_pixels"


def test_corrupt_png_data():
    assert reason(png_with_declared_size(100, 100)).reason_code == "corrupt"
