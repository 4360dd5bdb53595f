"""Signature strokes: validation, canonical form and hash, PNG rendering."""

from __future__ import annotations

import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from documents.signature import (
    MIN_POINTS,
    Signature,
    SignatureError,
    canonical_signature_bytes,
    point_from_touch,
    render_signature_png,
    signature_hash,
    validate_signature,
    validate_strokes,
)

WIDTH, HEIGHT = 600, 200


def scribble(strokes: int = 2, points: int = 30) -> tuple:
    return tuple(
        tuple(point_from_touch(80 + k * 200 + 60 * math.sin(i / 4), 100 + 50 * math.cos(i / 3), k * 800 + i * 16)
              for i in range(points))
        for k in range(strokes)
    )


def make(**overrides) -> Signature:
    fields = dict(role="representative", signer_name="张卫国", canvas_width=WIDTH, canvas_height=HEIGHT,
                  strokes=scribble(), started_at="2024-05-01T15:20:03+08:00", finished_at="2024-05-01T15:20:09+08:00")
    fields.update(overrides)
    return Signature(**fields)


def error_of(signature: Signature) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        validate_signature(signature)
    return caught.value


def test_a_real_signature_is_valid():
    validate_signature(make())


def test_empty_signature_is_refused_in_chinese():
    for strokes in ((), ((),)):
        error = error_of(make(strokes=strokes))
        assert error.reason_code == "empty"
        assert error.message_zh == "签名为空，请在签名框内签名"


def test_too_few_points():
    error = error_of(make(strokes=(((10, 10, 0), (12, 11, 16)),)))
    assert error.reason_code == "too_short"
    validate_strokes(scribble(strokes=1, points=MIN_POINTS), WIDTH, HEIGHT)


def test_out_of_bounds():
    strokes = scribble()
    bad = (strokes[0] + ((WIDTH + 1, 10, 5000),),)
    assert error_of(make(strokes=bad)).reason_code == "out_of_bounds"
    negative = (strokes[0] + ((-1, 10, 5000),),)
    assert error_of(make(strokes=negative)).reason_code == "out_of_bounds"


def test_float_coordinates_are_refused():
    strokes = scribble()
    bad = (strokes[0] + ((10.5, 10, 5000),),)
    assert error_of(make(strokes=bad)).reason_code == "bad_point"


def test_time_must_not_run_backwards():
    first, second = scribble()
    assert error_of(make(strokes=(second, first))).reason_code == "bad_timing"


def test_empty_stroke_among_others():
    first, second = scribble()
    assert error_of(make(strokes=(first, (), second))).reason_code == "bad_stroke"


@pytest.mark.parametrize("overrides, code", [
    ({"role": "boss"}, "bad_role"),
    ({"signer_name": "  "}, "no_name"),
    ({"started_at": "2024-05-01 15:20"}, "bad_time"),
    ({"finished_at": "2024-05-01T15:19:00+08:00"}, "bad_time"),
    ({"canvas_width": 0}, "bad_canvas"),
])
def test_other_fields_are_checked(overrides, code):
    assert error_of(make(**overrides)).reason_code == code


def test_canonical_form_and_hash():
    signature = make()
    data = canonical_signature_bytes(signature)
    assert data.startswith(b'{"canvas":{"height":200,"width":600},"finished_at":')
    assert "张卫国".encode() in data
    assert signature_hash(signature) == signature_hash(make())
    assert signature_hash(signature) != signature_hash(make(signer_name="张卫民"))
    moved = scribble()
    moved = ((moved[0][0][:2] + (moved[0][0][2] + 1,),) + moved[0][1:], moved[1])
    assert signature_hash(signature) != signature_hash(make(strokes=moved))


def test_round_trip_through_dict():
    signature = make()
    assert Signature.from_dict(signature.to_dict()) == signature


def test_from_dict_refuses_bad_data():
    data = make().to_dict()
    data["strokes"][0][0] = [1, 2]
    with pytest.raises(SignatureError):
        Signature.from_dict(data)
    with pytest.raises(SignatureError):
        Signature.from_dict({**make().to_dict(), "format": "other"})
    with pytest.raises(SignatureError):
        Signature.from_dict({**make().to_dict(), "strokes": []})


def test_point_from_touch_rounds():
    assert point_from_touch(10.4, 10.6, 33.5) == (10, 11, 34)


def test_render_draws_ink_on_white():
    png = render_signature_png(scribble(), WIDTH, HEIGHT)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) and image.mode == "RGB"
    grey = image.convert("L")
    assert grey.getpixel((5, 5)) == 255  # background
    histogram = grey.histogram()
    assert sum(histogram[:64]) > 200  # solid ink
    assert sum(histogram[64:250]) > 50  # anti-aliased edges
    assert grey.getpixel(scribble()[0][0][:2]) < 64  # ink where the pen was


def test_render_transparent():
    image = Image.open(io.BytesIO(render_signature_png(scribble(), WIDTH, HEIGHT, transparent=True)))
    assert image.mode == "RGBA"
    assert image.getpixel((5, 5))[3] == 0
    assert image.getpixel(scribble()[0][0][:2])[3] > 200


def test_single_point_stroke_leaves_a_dot():
    strokes = scribble() + (((300, 20, 9000),),)
    grey = Image.open(io.BytesIO(render_signature_png(strokes, WIDTH, HEIGHT))).convert("L")
    assert grey.getpixel((300, 20)) < 128


def test_render_is_deterministic():
    assert render_signature_png(scribble(), WIDTH, HEIGHT) == render_signature_png(scribble(), WIDTH, HEIGHT)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, WIDTH), st.integers(0, HEIGHT)), min_size=1, max_size=40),
                min_size=1, max_size=5))
def test_valid_strokes_render_and_hash(raw_strokes):
    t = 0
    strokes = []
    for raw in raw_strokes:
        stroke = []
        for x, y in raw:
            stroke.append((x, y, t))
            t += 16
        strokes.append(tuple(stroke))
    signature = make(strokes=tuple(strokes))
    if sum(len(s) for s in strokes) < MIN_POINTS:
        assert error_of(signature).reason_code == "too_short"
        return
    validate_signature(signature)
    assert Signature.from_dict(signature.to_dict()) == signature
    assert len(signature_hash(signature)) == 64
    image = Image.open(io.BytesIO(render_signature_png(signature.strokes, WIDTH, HEIGHT))).convert("L")
    assert image.getextrema()[0] < 128  # something was drawn
