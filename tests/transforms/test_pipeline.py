"""render: the whole pipeline, its order, its sizes and its errors."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps

from fixtures.make_fixtures import CMYK_PATCHES, ROTATED_RED_BLOCK, photographic
from tests.imaging import (
    assert_images_close,
    decode,
    encode,
    fixture_bytes,
    fixture_image,
    inset,
    mean_diff,
    region_mean,
    srgb_reference,
)
from transforms import (
    STEPS,
    Assets,
    CanvasSpec,
    ColourSpec,
    CorruptImageError,
    CropSpec,
    EffectsSpec,
    Encoding,
    FrameSpec,
    FrameStyle,
    ImageTooLargeError,
    Length,
    OrientSpec,
    OutputSpec,
    OutputTooLargeError,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    ScaleMode,
    TransformError,
    TrimSpec,
    UnsupportedImageError,
    WatermarkSpec,
    load_mark,
    plan_trimmed,
    planned_size,
    render,
    trim,
)

LIMITS = RenderLimits()


def options(
    w: int | None = None,
    h: int | None = None,
    mode: ScaleMode = ScaleMode.FIT,
    crop: CropSpec | None = None,
    orient: OrientSpec | None = None,
) -> RenderOptions:
    return RenderOptions(
        resize=ResizeSpec(width=None if w is None else Length(w), height=None if h is None else Length(h), mode=mode),
        crop=crop or CropSpec(),
        orient=orient or OrientSpec(),
    )


def rendered_image(name: str, opts: RenderOptions, encoding: Encoding = Encoding.PNG) -> Image.Image:
    return decode(render(fixture_bytes(name), opts, encoding, LIMITS).body)


def test_the_steps_are_declared_in_order() -> None:
    assert [step.__name__ for step in STEPS] == [
        "_trim",
        "_scale",
        "_crop",
        "_to_srgb",
        "_canvas",
        "_orient",
        "_colour",
        "_effects",
        "_frame",
        "_watermark",
        "_text",
    ]


def test_scale_comes_before_crop() -> None:
    crop = CropSpec(width=Length(300), height=Length(200), x=Length(0), y=Length(0))
    result = rendered_image("photo.jpg", options(w=600, crop=crop))
    photo = fixture_image("photo.jpg")
    scale_then_crop = photo.resize((600, 400), Image.Resampling.LANCZOS).crop((0, 0, 300, 200))
    crop_then_scale = photo.crop((0, 0, 300, 200)).resize((300, 200), Image.Resampling.LANCZOS)
    assert_images_close(result, scale_then_crop, max_mean_diff=2)
    assert mean_diff(result, crop_then_scale) > 10


def test_rotation_comes_after_crop() -> None:
    crop = CropSpec(width=Length(100), height=Length(50), x=Length(0), y=Length(0))
    result = rendered_image("photo.jpg", options(crop=crop, orient=OrientSpec(rotate=90)))
    assert result.size == (50, 100)
    expected = fixture_image("photo.jpg").crop((0, 0, 100, 50)).transpose(Image.Transpose.ROTATE_270)  # 90° clockwise
    assert_images_close(result, expected, max_mean_diff=1)


@pytest.mark.parametrize(
    ("orient", "size", "red_box"),
    [
        (OrientSpec(), (400, 600), (320, 0, 400, 120)),  # EXIF orientation 6: stored top-left at top-right
        (OrientSpec(flop=True), (400, 600), (0, 0, 80, 120)),
        (OrientSpec(flip=True), (400, 600), (320, 480, 400, 600)),
        (OrientSpec(rotate=90), (600, 400), (480, 320, 600, 400)),  # a clockwise quarter turn swaps the sides
        (OrientSpec(rotate=-90), (600, 400), (0, 0, 120, 80)),
    ],
)
def test_orientation_moves_the_marker(
    orient: OrientSpec, size: tuple[int, int], red_box: tuple[int, int, int, int]
) -> None:
    assert ROTATED_RED_BLOCK == (0, 0, 120, 80)
    result = rendered_image("rotated.jpg", options(orient=orient))
    assert result.size == size
    red = region_mean(result, inset(red_box, 10))
    assert red[0] > 200 and red[1] < 60 and red[2] < 60


SIZE_GRID = [
    options(),
    options(w=300),
    options(h=150),
    options(w=250, h=250),
    options(w=250, h=250, mode=ScaleMode.FILL),
    options(w=90, h=400, mode=ScaleMode.FILL),
    options(w=250, h=80, mode=ScaleMode.IGNORE),
    options(w=120, mode=ScaleMode.IGNORE),
    options(w=5000, h=300, mode=ScaleMode.NOUP),
    options(w=5000, mode=ScaleMode.NOUP),
    options(w=1100),
    RenderOptions(resize=ResizeSpec(longest=Length(33, percent=True))),
    options(w=333, crop=CropSpec(width=Length(50, percent=True), height=Length(101))),
    options(w=301, h=301, mode=ScaleMode.FILL, crop=CropSpec(aspect_ratio=(16, 9))),
    options(w=200, crop=CropSpec(aspect_ratio=(1, 3), x=Length(500), y=Length(7))),
    options(w=211, orient=OrientSpec(rotate=90)),
    options(h=97, orient=OrientSpec(rotate=-33.3, flip=True)),
    options(w=150, mode=ScaleMode.FILL, h=40, orient=OrientSpec(rotate=180, flop=True)),
    RenderOptions(resize=ResizeSpec(width=Length(301)), canvas=CanvasSpec(aspect_ratio=(16, 9))),
    RenderOptions(canvas=CanvasSpec(width=Length(130, percent=True), border_height=3), orient=OrientSpec(rotate=33)),
    RenderOptions(
        resize=ResizeSpec(height=Length(77)), orient=OrientSpec(rotate=-90), frame=FrameSpec(width=5, rim_width=1)
    ),
    RenderOptions(
        resize=ResizeSpec(width=Length(120)),
        canvas=CanvasSpec(aspect_ratio=(1, 1), color=(0, 0, 0, 0)),
        colour=ColourSpec(grayscale=True),
        effects=EffectsSpec(blur=20, opacity=50),
        frame=FrameSpec(style=FrameStyle.MIRROR, width=9),
    ),
    RenderOptions(trim=TrimSpec(enabled=True), resize=ResizeSpec(width=Length(100))),
]


@pytest.mark.parametrize("name", ["photo.jpg", "rotated.jpg", "alpha.png", "animated.gif", "photo.webp"])
@pytest.mark.parametrize("opts", SIZE_GRID)
def test_the_output_has_exactly_the_planned_size(name: str, opts: RenderOptions) -> None:
    data = fixture_bytes(name)
    with Image.open(BytesIO(data)) as probe:
        width, height = probe.size
        if probe.getexif().get(0x0112) in (5, 6, 7, 8):
            width, height = height, width
    if opts.trim.is_identity:
        expected = planned_size(width, height, opts, LIMITS)
    else:  # planned again from the trimmed source
        trimmed = trim(ImageOps.exif_transpose(fixture_image(name)).convert("RGBA"), opts.trim)
        expected = plan_trimmed(*trimmed.size, opts, LIMITS).output
    result = render(data, opts, Encoding.PNG, LIMITS)
    assert (result.width, result.height) == expected
    assert decode(result.body).size == expected


def test_fill_covers_and_cuts() -> None:
    result = rendered_image("photo.jpg", options(w=200, h=200, mode=ScaleMode.FILL))
    expected = fixture_image("photo.jpg").crop((200, 0, 1000, 800)).resize((200, 200), Image.Resampling.LANCZOS)
    assert_images_close(result, expected, max_mean_diff=3)


@pytest.mark.parametrize(
    "opts",
    [
        options(w=200),
        options(w=150, h=150, mode=ScaleMode.FILL),
        options(w=100, h=300, mode=ScaleMode.IGNORE),
        options(h=300, orient=OrientSpec(rotate=90)),
    ],
)
def test_draft_decoding_looks_like_a_full_decode(opts: RenderOptions) -> None:
    big = encode(fixture_image("photo.jpg").resize((2400, 1600), Image.Resampling.LANCZOS), "JPEG", quality=90)
    with_draft = render(big, opts, Encoding.PNG, LIMITS)
    without = render(big, opts, Encoding.PNG, LIMITS, draft=False)
    assert (with_draft.width, with_draft.height) == (without.width, without.height)
    assert_images_close(decode(with_draft.body), decode(without.body), max_mean_diff=2)


def test_source_encoding_keeps_the_format() -> None:
    for name, media_type in [
        ("photo.jpg", "image/jpeg"),
        ("alpha.png", "image/png"),
        ("photo.webp", "image/webp"),
        ("photo.avif", "image/avif"),
        ("animated.gif", "image/gif"),
    ]:
        assert render(fixture_bytes(name), options(w=100), Encoding.SOURCE, LIMITS).media_type == media_type


def test_a_gif_source_stays_an_animated_gif_with_transparency() -> None:
    result = render(fixture_bytes("animated.gif"), options(), Encoding.SOURCE, LIMITS)
    image = decode(result.body)  # its first frame
    assert (result.extension, getattr(image, "n_frames", 1)) == ("gif", 8)
    rgba = image.convert("RGBA")
    assert rgba.getpixel((5, 5))[3] == 0  # type: ignore[index]
    assert region_mean(rgba, (90, 10, 150, 50))[:3] == pytest.approx((220, 40, 40), abs=6)


def test_classic_encoding_follows_transparency() -> None:
    assert render(fixture_bytes("alpha.png"), options(w=64), Encoding.CLASSIC, LIMITS).extension == "png"
    crop = CropSpec(width=Length(100), x=Length(400))  # only the opaque right half
    assert render(fixture_bytes("alpha.png"), options(crop=crop), Encoding.CLASSIC, LIMITS).extension == "jpg"
    assert render(fixture_bytes("photo.jpg"), options(w=64), Encoding.CLASSIC, LIMITS).extension == "jpg"


def test_transparency_over_jpeg_is_white() -> None:
    result = rendered_image("alpha.png", options(w=320), Encoding.JPEG)
    assert min(region_mean(result, (0, 0, 150, 240))) > 250
    assert region_mean(result, inset((160, 0, 320, 120), 10))[2] > 200  # the blue quarter is kept


def test_an_icc_tagged_source_comes_out_in_srgb() -> None:
    source = fixture_image("icc.jpg")
    reference = srgb_reference(source, source.info["icc_profile"])
    result = rendered_image("icc.jpg", options())
    assert "icc_profile" not in result.info
    assert_images_close(result, reference, max_mean_diff=1)
    assert mean_diff(result, source) > 2  # the naive pixels are measurably different


def test_an_icc_tagged_source_is_converted_after_scaling() -> None:
    source = fixture_image("icc.jpg")
    reference = srgb_reference(source, source.info["icc_profile"])
    result = rendered_image("icc.jpg", options(w=100))
    # scaled in the source space (and decoded at 1/4 by the JPEG draft), then converted: close, not equal
    assert_images_close(result, reference.resize((100, 75), Image.Resampling.LANCZOS), max_mean_diff=3)
    assert mean_diff(result, source.resize((100, 75), Image.Resampling.LANCZOS)) > 2


@pytest.mark.parametrize("name", ["cmyk.jpg", "cmyk_icc.jpg"])
def test_cmyk_sources_come_out_as_rgb_with_their_colours(name: str) -> None:
    result = rendered_image(name, options(w=200, orient=OrientSpec(rotate=10)), Encoding.JPEG)
    assert result.mode == "RGB"
    assert min(result.getpixel((0, 0))) > 240  # type: ignore[arg-type]  # the rotated corner is white
    straight = rendered_image(name, options(w=200), Encoding.PNG)
    cyan = region_mean(straight, inset(tuple(v // 2 for v in CMYK_PATCHES["cyan"][0]), 8))  # type: ignore[arg-type]
    assert cyan[0] < 60 and cyan[1] > 150 and cyan[2] > 200


def test_metadata_is_stripped() -> None:
    body = render(fixture_bytes("photo.jpg"), options(w=300), Encoding.JPEG, LIMITS).body
    reopened = decode(body)
    assert not dict(reopened.getexif())
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(reopened.info)
    assert b"Fixture" not in body


def test_rendered_reports_what_it_made() -> None:
    result = render(fixture_bytes("photo.jpg"), options(w=300), Encoding.WEBP, LIMITS)
    assert (result.media_type, result.extension, result.width, result.height) == ("image/webp", "webp", 300, 200)
    assert min(result.decode_seconds, result.transform_seconds, result.encode_seconds) >= 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.width = 1  # type: ignore[misc]


def test_quality_reaches_the_encoder() -> None:
    low = render(fixture_bytes("photo.jpg"), RenderOptions(output=OutputSpec(quality=10)), Encoding.JPEG, LIMITS)
    high = render(fixture_bytes("photo.jpg"), RenderOptions(output=OutputSpec(quality=95)), Encoding.JPEG, LIMITS)
    assert len(low.body) < len(high.body) / 2


def test_render_is_thread_safe() -> None:
    data, opts = fixture_bytes("icc.jpg"), options(w=150, orient=OrientSpec(rotate=15))
    expected = decode(render(data, opts, Encoding.PNG, LIMITS).body)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: render(data, opts, Encoding.PNG, LIMITS), range(16)))
    for result in results:
        assert_images_close(decode(result.body), expected, max_mean_diff=0)


def test_an_oversized_output_is_refused_before_decoding() -> None:
    data = fixture_bytes("photo.jpg")
    truncated = data[: len(data) // 2]  # decoding it would fail
    with pytest.raises(OutputTooLargeError):
        render(truncated, options(w=9000), Encoding.JPEG, LIMITS)
    with pytest.raises(CorruptImageError):
        render(truncated, options(w=900), Encoding.JPEG, LIMITS)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"%PDF-1.7\n", UnsupportedImageError),
        (encode(Image.new("RGB", (4, 4)), "TIFF"), UnsupportedImageError),
        (fixture_bytes("photo.jpg")[:3000], CorruptImageError),
    ],
)
def test_bad_sources_raise_transform_errors(data: bytes, error: type[TransformError]) -> None:
    with pytest.raises(error):
        render(data, options(w=100), Encoding.JPEG, LIMITS)


def test_the_pixel_limit_applies() -> None:
    with pytest.raises(ImageTooLargeError):
        render(fixture_bytes("photo.jpg"), options(w=100), Encoding.JPEG, RenderLimits(max_source_pixels=100_000))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(
        ["gallery/deep/three.jpg", "alpha.png", "animated.gif", "photo.webp", "photo.avif", "gray.png"]
    ),
    flips=st.lists(st.tuples(st.floats(0.3, 0.999), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.floats(0.3, 1.0),
)
def test_damaged_image_data_never_escapes_as_anything_but_a_transform_error(
    name: str, flips: list[tuple[float, int]], cut: float
) -> None:
    data = bytearray(fixture_bytes(name))
    for where, mask in flips:  # past the headers and metadata: damage the image data
        data[int(where * len(data))] ^= mask
    try:
        result = render(bytes(data[: int(cut * len(data))]), options(w=50), Encoding.PNG, LIMITS)
    except TransformError:
        return
    assert decode(result.body).size == (result.width, result.height)


def test_render_stops_at_its_deadline() -> None:
    import time

    from transforms import RenderTimeoutError

    with pytest.raises(RenderTimeoutError):
        render(fixture_bytes("photo.jpg"), options(w=100), Encoding.JPEG, RenderLimits(), deadline=time.monotonic() - 1)
    assert (
        render(
            fixture_bytes("photo.jpg"), options(w=100), Encoding.JPEG, RenderLimits(), deadline=time.monotonic() + 60
        ).width
        == 100
    )


def test_render_decodes_jpeg_at_a_reduced_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    import transforms.pipeline as pipeline

    decoded: list[tuple[int, int]] = []
    real_load = pipeline.load

    def spy(*args: object, **kwargs: object) -> Image.Image:
        image = real_load(*args, **kwargs)  # type: ignore[arg-type]
        decoded.append(image.size)
        return image

    monkeypatch.setattr(pipeline, "load", spy)
    render(fixture_bytes("photo.jpg"), options(w=100), Encoding.JPEG, RenderLimits())
    assert decoded and decoded[0][0] <= 1200 // 4  # 1200 px wide source, 100 px target: DCT scale 1/4 or less


def test_an_oversized_canvas_is_refused_before_decoding() -> None:
    data = fixture_bytes("photo.jpg")
    truncated = data[: len(data) // 2]  # decoding it would fail
    for opts in (
        RenderOptions(canvas=CanvasSpec(width=Length(1000, percent=True))),
        RenderOptions(resize=ResizeSpec(width=Length(8000)), frame=FrameSpec(width=100)),
        RenderOptions(resize=ResizeSpec(width=Length(8000)), canvas=CanvasSpec(aspect_ratio=(1, 2))),
    ):
        with pytest.raises(OutputTooLargeError):
            render(truncated, opts, Encoding.JPEG, LIMITS)


# ---- trim ----------------------------------------------------------------------------------------

CONTENT_BOX = (60, 50, 300, 210)


def bordered() -> bytes:
    """A 400x300 PNG: a photographic 240x160 picture at ``CONTENT_BOX`` on white."""
    image = Image.new("RGB", (400, 300), (255, 255, 255))
    image.paste(photographic((240, 160), seed=1), CONTENT_BOX[:2])
    return encode(image, "PNG")


def test_trim_cuts_the_border_before_scaling() -> None:
    source = decode(bordered())
    result = decode(render(bordered(), RenderOptions(trim=TrimSpec(enabled=True)), Encoding.PNG, LIMITS).body)
    assert_images_close(result, source.crop(CONTENT_BOX), max_mean_diff=0)
    # w= sizes from the trimmed image: 240x160 at w=120 is 120x80 (the whole source would give 120x90)
    scaled = render(bordered(), _trimmed(w=120), Encoding.PNG, LIMITS)
    assert (scaled.width, scaled.height) == (120, 80)
    expected = source.crop(CONTENT_BOX).resize((120, 80), Image.Resampling.LANCZOS)
    assert_images_close(decode(scaled.body), expected, max_mean_diff=1)
    percent = RenderOptions(trim=TrimSpec(enabled=True), resize=ResizeSpec(width=Length(50, percent=True)))
    assert render(bordered(), percent, Encoding.PNG, LIMITS).width == 120  # of the trimmed width


def _trimmed(w: int, pad: Length | None = None) -> RenderOptions:
    return RenderOptions(trim=TrimSpec(enabled=True, pad_x=pad, pad_y=pad), resize=ResizeSpec(width=Length(w)))


def test_trim_padding_keeps_some_border() -> None:
    result = render(bordered(), RenderOptions(trim=TrimSpec(enabled=True, pad_x=Length(10))), Encoding.PNG, LIMITS)
    assert (result.width, result.height) == (260, 160)
    image = decode(result.body).convert("RGB")
    assert min(region_mean(image, (0, 0, 10, 160))) > 254 and min(region_mean(image, (250, 0, 260, 160))) > 254


def test_trim_is_checked_against_the_limit_from_the_trimmed_size() -> None:
    image = Image.new("RGB", (2000, 100), (255, 255, 255))
    image.paste((200, 30, 30), (900, 0, 1100, 100))
    data = encode(image, "PNG")
    result = render(data, _tall(800), Encoding.PNG, LIMITS)  # untrimmed it would be 16000 px wide
    assert (result.width, result.height) == (1600, 800)
    with pytest.raises(OutputTooLargeError):  # trimmed to 200x100, 5000 px high is 10000 px wide
        render(data, _tall(5000), Encoding.PNG, LIMITS)


def _tall(height: int) -> RenderOptions:
    return RenderOptions(trim=TrimSpec(enabled=True), resize=ResizeSpec(height=Length(height)))


def test_every_frame_of_an_animation_is_trimmed_by_the_first_frames_box() -> None:
    # animated.webp: each frame's only content is a white square, 16 px further right each time
    result = render(fixture_bytes("animated.webp"), RenderOptions(trim=TrimSpec(enabled=True)), Encoding.WEBP, LIMITS)
    with Image.open(BytesIO(result.body)) as image:
        assert (image.size, getattr(image, "n_frames", 1)) == ((20, 20), 6)
        image.seek(1)  # the square has moved 16 px right: only its left edge is left in the box
        second = image.convert("RGB")
        assert min(region_mean(second, (17, 5, 20, 15))) > 235
        red, _, blue = region_mean(second, (0, 5, 12, 15))
        assert red > 200 and blue < 70  # the second frame's orange


def test_overlays_scale_with_the_trimmed_source() -> None:
    """A watermark 120 source pixels wide on a 240 px trimmed image shown at 120 px is 60 px wide."""
    assets = Assets(watermark=load_mark(fixture_bytes("watermark.png"), LIMITS, max_side=2048))
    plain = _trimmed(w=120)
    marked = dataclasses.replace(plain, watermark=WatermarkSpec(path="/w.png", width=Length(120)))
    a = decode(render(bordered(), plain, Encoding.PNG, LIMITS).body).convert("RGB")
    b = decode(render(bordered(), marked, Encoding.PNG, LIMITS, assets=assets).body).convert("RGB")
    left, _, right, _ = ImageChops.difference(a, b).point(lambda v: 255 if v > 8 else 0).getbbox() or (0, 0, 0, 0)
    assert 56 <= right - left <= 60


# ---- the order of operations ------------------------------------------------------------------------


def test_colour_comes_after_the_canvas() -> None:
    opts = RenderOptions(
        resize=ResizeSpec(width=Length(200)),
        canvas=CanvasSpec(aspect_ratio=(1, 1), color=(255, 0, 0, 255)),
        colour=ColourSpec(grayscale=True),
    )
    image = decode(render(fixture_bytes("photo.jpg"), opts, Encoding.PNG, LIMITS).body).convert("RGB")
    red, green, blue = region_mean(image, (0, 0, 200, 20))  # the canvas band above the picture
    assert abs(red - green) < 1 and abs(green - blue) < 1 and 40 < red < 120  # red, made grey


def test_the_canvas_is_rotated_with_the_image() -> None:
    opts = RenderOptions(canvas=CanvasSpec(aspect_ratio=(16, 9)), orient=OrientSpec(rotate=90))
    result = render(fixture_bytes("gallery/one.jpg"), opts, Encoding.PNG, LIMITS)
    assert (result.width, result.height) == (240, 427)  # 320x240 on a 427x240 canvas, turned


def test_the_frame_comes_after_effects() -> None:
    opts = RenderOptions(
        resize=ResizeSpec(width=Length(200)),
        effects=EffectsSpec(blur=100, opacity=40),
        frame=FrameSpec(color=(0, 0, 255, 255), width=10),
    )
    image = decode(render(fixture_bytes("photo.jpg"), opts, Encoding.PNG, LIMITS).body)
    assert image.size == (220, 153)
    assert image.convert("RGBA").getpixel((5, 70)) == (0, 0, 255, 255)  # neither blurred nor faded
    assert image.convert("RGBA").getpixel((110, 76))[3] == 102  # type: ignore[index]  # the picture is


def test_an_icc_source_meets_the_canvas_in_srgb() -> None:
    opts = RenderOptions(canvas=CanvasSpec(width=Length(120, percent=True), color=(200, 100, 50, 255)))
    image = decode(render(fixture_bytes("icc.jpg"), opts, Encoding.PNG, LIMITS).body).convert("RGB")
    assert image.getpixel((5, 150)) == (200, 100, 50)  # the canvas colour is not converted as if wide-gamut
