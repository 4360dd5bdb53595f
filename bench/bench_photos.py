"""Photo pipeline vs. a floor measured in the same run.

Input: a synthetic 12-megapixel camera JPEG (4000×3000, gradients plus sensor-like noise, EXIF orientation 6,
DateTimeOriginal and GPS). Pipeline: ``process_photo`` (validate, orient, downscale to 2048, stored JPEG + SHA-256,
thumbnail; the captioned copy is drawn later, where the photo is shown). Floor: bare Pillow on the same bytes — ``Image.open().load()``, resize to the same output
size, save JPEG at the same quality. Target: ratio ≤ 1.5. Prints medians and the ratio; asserts nothing.

Run: .venv/bin/python bench/bench_photos.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from PIL import Image
from PIL.TiffImagePlugin import IFDRational

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inspector_app.photos import MAX_EDGE, STORED_QUALITY, photo_caption, process_photo  # noqa: E402

TARGET_RATIO = 1.5


def camera_jpeg(width: int = 4000, height: int = 3000) -> bytes:
    """A camera-like JPEG: smooth gradients (scene) blended with Gaussian noise (sensor), EXIF as a phone writes it."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = Image.effect_noise((width, height), 64)
    scene = Image.merge("RGB", (red, green, blue))
    sensor_noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(scene, sensor_noise, 0.35)

    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: how a phone held upright stores the frame
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 14:03:22"
    exif.get_ifd(0x8769)[0x9011] = "+08:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (IFDRational(30), IFDRational(16), IFDRational(2694, 100))
    gps[3], gps[4] = "E", (IFDRational(120), IFDRational(9), IFDRational(3012, 100))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def floor(data: bytes, size: tuple[int, int]) -> bytes:
    image = Image.open(io.BytesIO(data))
    image.load()
    out = io.BytesIO()
    image.resize(size).save(out, "JPEG", quality=STORED_QUALITY)
    return out.getvalue()


def interleaved_medians(first, second, runs: int) -> tuple[float, float]:
    """Median seconds of each; runs alternate so that load from other processes hits both alike."""
    first(), second()  # warm-up: font loading, codec initialisation
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for run, bucket in ((first, times[0]), (second, times[1])):
            start = time.perf_counter()
            run()
            bucket.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    data = camera_jpeg()
    caption = photo_caption("2024-05-01 14:03", "杭州市某某大药房", "串换药品、医用耗材")
    result = process_photo(data, caption=caption)
    floor_size = (max(result.width, result.height), min(result.width, result.height))  # before the 90° turn

    pipeline_s, floor_s = interleaved_medians(
        lambda: process_photo(data, caption=caption), lambda: floor(data, floor_size), args.runs)
    ratio = pipeline_s / floor_s
    print(f"input: 4000x3000 JPEG, {len(data) / 1e6:.1f} MB; output {result.width}x{result.height} "
          f"(max edge {MAX_EDGE}), quality {STORED_QUALITY}; median of {args.runs} runs")
    print(f"pipeline (stored + sha256 + thumbnail):                  {pipeline_s * 1000:.1f} ms")
    print(f"floor (open + load + resize + save):                     {floor_s * 1000:.1f} ms")
    print(f"ratio: {ratio:.2f} (target <= {TARGET_RATIO}) {'OK' if ratio <= TARGET_RATIO else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
