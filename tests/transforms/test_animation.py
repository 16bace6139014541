"""Animated GIF and WebP sources: kept as animations in GIF and WebP, the first frame otherwise."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest
from PIL import GifImagePlugin, Image, ImageDraw

import transforms.pipeline as pipeline
from fixtures.make_fixtures import GIF_FRAME_COLOURS, WEBP_FRAME_COLOURS, WEBP_FRAME_DURATIONS
from tests.imaging import encode, fixture_bytes, inset, region_mean
from tests.security import hostile_images as hostile
from transforms.animation import Frame, encode_animation, play_count, read_frames, resolve_animation
from transforms.assets import Assets
from transforms.decode import load_frame, open_image
from transforms.errors import CorruptImageError, ImageTooLargeError, RenderTimeoutError, TooManyFramesError
from transforms.options import (
    CropSpec,
    Encoding,
    Gravity,
    Length,
    OrientSpec,
    OutputSpec,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    WatermarkSpec,
)
from transforms.pipeline import render

LIMITS = RenderLimits()
COLOURS = [(220, 40, 40), (40, 160, 60), (40, 70, 210), (230, 200, 30), (150, 50, 190), (30, 190, 200)]
DURATIONS = [40, 80, 120, 40, 80, 120]


@dataclass(frozen=True)
class Decoded:
    """An encoded animation read back: each frame in RGBA as shown, its duration, the loop count."""

    format: str
    frames: list[Image.Image]
    durations: list[int]
    loop: int | None


def read_back(body: bytes) -> Decoded:
    with Image.open(BytesIO(body)) as image:
        loop = image.info.get("loop")
        frames, durations = [], []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            image.load()
            frames.append(image.convert("RGBA"))
            durations.append(image.info.get("duration", 0))
        return Decoded(image.format or "", frames, durations, loop)


def animation(
    fmt: str,
    colours: Sequence[tuple[int, int, int]] = COLOURS,
    durations: Sequence[int] = DURATIONS,
    *,
    loop: int | None = 0,
    right: Sequence[tuple[int, int, int]] | None = None,
    size: tuple[int, int] = (120, 80),
) -> bytes:
    """An animation of one colour a frame (or ``colours`` on the left half, ``right`` on the right)."""
    frames = []
    for index, colour in enumerate(colours):
        frame = Image.new("RGB", size, colour)
        if right is not None:
            frame.paste(right[index], (size[0] // 2, 0, *size))
        frames.append(frame)
    params: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": list(durations)}
    if loop is not None:
        params["loop"] = loop
    if fmt == "WEBP":
        params["lossless"] = True
    return encode(frames[0], fmt, **params)


def width(value: int) -> RenderOptions:
    return RenderOptions(resize=ResizeSpec(width=Length(value)))


def close(colour: Sequence[float], expected: Sequence[int], tolerance: float = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, expected, strict=False))


# -- kept, in every direction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "encoding", "expected"),
    [
        ("GIF", Encoding.SOURCE, "GIF"),
        ("GIF", Encoding.GIF, "GIF"),
        ("WEBP", Encoding.SOURCE, "WEBP"),
        ("WEBP", Encoding.WEBP, "WEBP"),
        ("GIF", Encoding.WEBP, "WEBP"),
        ("WEBP", Encoding.GIF, "GIF"),
    ],
)
def test_frames_and_durations_are_kept(source: str, encoding: Encoding, expected: str) -> None:
    result = render(animation(source), RenderOptions(), encoding, LIMITS)
    out = read_back(result.body)
    assert (out.format, result.media_type) == (expected, f"image/{expected.lower()}")
    assert out.durations == DURATIONS
    for frame, colour in zip(out.frames, COLOURS, strict=True):
        assert frame.size == (120, 80)
        assert close(region_mean(frame, (0, 0, 120, 80)), colour)


@pytest.mark.parametrize(
    ("source", "loop", "encoding", "expected"),
    [
        ("GIF", 0, Encoding.GIF, 0),
        ("GIF", 3, Encoding.GIF, 3),
        ("GIF", None, Encoding.GIF, None),  # no loop block: plays once
        ("WEBP", 0, Encoding.WEBP, 0),
        ("WEBP", 3, Encoding.WEBP, 3),
        ("GIF", 0, Encoding.WEBP, 0),
        ("GIF", 3, Encoding.WEBP, 4),  # GIF: 3 more plays; WebP: 4 plays
        ("GIF", None, Encoding.WEBP, 1),
        ("WEBP", 1, Encoding.GIF, None),
        ("WEBP", 4, Encoding.GIF, 3),
    ],
)
def test_the_loop_count_is_kept(source: str, loop: int | None, encoding: Encoding, expected: int | None) -> None:
    assert read_back(render(animation(source, loop=loop), RenderOptions(), encoding, LIMITS).body).loop == expected


@pytest.mark.parametrize("encoding", [Encoding.SOURCE, Encoding.WEBP])
def test_a_resize_applies_to_every_frame(encoding: Encoding) -> None:
    result = render(fixture_bytes("animated.gif"), width(60), encoding, LIMITS)  # 160x120 source
    out = read_back(result.body)
    assert len(out.frames) == 8
    assert {frame.size for frame in out.frames} == {(60, 45)} == {(result.width, result.height)}
    for frame, colour in zip(out.frames, GIF_FRAME_COLOURS, strict=True):
        assert close(region_mean(frame, (36, 5, 56, 18)), colour)
        assert frame.getpixel((2, 2))[3] == 0  # type: ignore[index]  # the transparent corner, every frame


def test_the_webp_fixture_keeps_its_durations_as_a_gif() -> None:
    out = read_back(render(fixture_bytes("animated.webp"), width(60), Encoding.GIF, LIMITS).body)
    assert out.durations == WEBP_FRAME_DURATIONS
    assert (len(out.frames), out.frames[0].size, out.loop) == (6, (60, 40), 0)
    for frame, colour in zip(out.frames, WEBP_FRAME_COLOURS, strict=True):
        assert close(region_mean(frame, (0, 0, 60, 10)), colour)


RIGHT = [(255, 255, 255), (0, 0, 0), (128, 128, 128), (255, 128, 0), (0, 128, 255), (255, 0, 255)]


@pytest.mark.parametrize("encoding", [Encoding.GIF, Encoding.WEBP])
def test_a_crop_applies_to_every_frame(encoding: Encoding) -> None:
    options = RenderOptions(crop=CropSpec(width=Length(50, percent=True), x=Length(0)))
    out = read_back(render(animation("GIF", right=RIGHT), options, encoding, LIMITS).body)
    assert len(out.frames) == 6
    for frame, colour in zip(out.frames, COLOURS, strict=True):
        assert frame.size == (60, 80)
        assert close(region_mean(frame, (0, 0, 60, 80)), colour)


@pytest.mark.parametrize("encoding", [Encoding.GIF, Encoding.WEBP])
def test_a_rotation_applies_to_every_frame(encoding: Encoding) -> None:
    options = RenderOptions(orient=OrientSpec(rotate=90))  # clockwise: the left half goes on top
    out = read_back(render(animation("WEBP", right=RIGHT), options, encoding, LIMITS).body)
    assert len(out.frames) == 6
    for frame, top, bottom in zip(out.frames, COLOURS, RIGHT, strict=True):
        assert frame.size == (80, 120)
        assert close(region_mean(frame, inset((0, 0, 80, 60), 4)), top)
        assert close(region_mean(frame, inset((0, 60, 80, 120), 4)), bottom)


def test_an_overlay_lands_on_every_frame() -> None:
    mark = Image.new("RGBA", (20, 20), (255, 255, 255, 255))
    options = RenderOptions(watermark=WatermarkSpec(path="/mark.png", gravity=Gravity.CENTER))
    out = read_back(render(animation("GIF"), options, Encoding.WEBP, LIMITS, assets=Assets(watermark=mark)).body)
    assert len(out.frames) == 6
    for frame, colour in zip(out.frames, COLOURS, strict=True):
        assert close(region_mean(frame, (55, 35, 65, 45)), (255, 255, 255))
        assert close(region_mean(frame, (0, 0, 20, 20)), colour)


# -- compositing -------------------------------------------------------------------------------


def partial_gif() -> bytes:
    """Frame 0 red; frame 1 adds a blue square, frame 2 a green one: Pillow writes frames 1 and 2
    as the rectangles that changed, kept over the frame before."""
    first = Image.new("RGB", (120, 80), (220, 40, 40))
    second = first.copy()
    ImageDraw.Draw(second).rectangle((10, 10, 49, 49), fill=(40, 70, 210))
    third = second.copy()
    ImageDraw.Draw(third).rectangle((70, 30, 109, 69), fill=(40, 160, 60))
    return encode(first, "GIF", save_all=True, append_images=[second, third], duration=[100, 100, 100], loop=0)


def test_partial_gif_frames_are_composited_before_the_steps() -> None:
    data = partial_gif()
    with Image.open(BytesIO(data)) as probe:  # the premise: later frames are partial rectangles
        probe.seek(2)
        assert probe.tile[0].extents == (70, 30, 110, 70)
    out = read_back(render(data, width(60), Encoding.WEBP, LIMITS).body)
    last = out.frames[2]
    assert close(region_mean(last, (7, 7, 22, 22)), (40, 70, 210))  # frame 1's square is still there
    assert close(region_mean(last, (37, 17, 52, 32)), (40, 160, 60))
    assert close(region_mean(last, (25, 0, 35, 8)), (220, 40, 40))
    assert close(region_mean(out.frames[0], (7, 7, 22, 22)), (220, 40, 40))


def test_read_frames_gives_whole_frames_with_their_durations_lazily() -> None:
    source = open_image(animation("GIF"), LIMITS)
    frames = read_frames(source, LIMITS)
    first = next(frames)
    assert source.image.tell() == 0  # nothing past the first frame was decoded
    rest = list(frames)
    assert [frame.duration for frame in [first, *rest]] == DURATIONS
    assert first.image.getpixel((5, 5))[:3] == COLOURS[0]  # type: ignore[index]  # untouched by the later frames


def test_a_frame_that_enlarges_the_canvas_is_cut_back_to_it() -> None:
    frame = hostile.gif_frame(0, 0, 16, 16, hostile.lzw_uniform(16 * 16, 1))
    wider = hostile.gif_frame(0, 0, 24, 20, hostile.lzw_uniform(24 * 20, 2))
    data = hostile.gif_header(16, 16) + hostile.gif_loop() + frame + wider + b";"
    source = open_image(data, LIMITS)
    assert [load_frame(source, index, LIMITS).size for index in (0, 1)] == [(16, 16), (16, 16)]


def test_a_frame_claiming_too_many_pixels_is_refused_only_when_the_animation_is_kept() -> None:
    data = hostile.gif_late_giant_frame(64, 48, giant=60000)
    with pytest.raises(ImageTooLargeError):
        render(data, RenderOptions(), Encoding.GIF, LIMITS)
    assert render(data, RenderOptions(), Encoding.JPEG, LIMITS).width == 64


def test_a_damaged_later_frame_is_a_corrupt_image() -> None:
    data = animation("GIF")
    with pytest.raises(CorruptImageError):
        render(data[: len(data) * 3 // 4], RenderOptions(), Encoding.GIF, LIMITS)


# -- the first frame only ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "fmt"),
    [(Encoding.JPEG, "JPEG"), (Encoding.PNG, "PNG"), (Encoding.CLASSIC, "JPEG"), (Encoding.AVIF, "AVIF")],
)
@pytest.mark.parametrize("source", ["GIF", "WEBP"])
def test_a_format_that_cannot_animate_gets_the_first_frame(source: str, encoding: Encoding, fmt: str) -> None:
    out = read_back(render(animation(source), width(60), encoding, LIMITS).body)
    assert (out.format, len(out.frames), out.frames[0].size) == (fmt, 1, (60, 40))
    assert close(region_mean(out.frames[0], (0, 0, 60, 40)), COLOURS[0])


def test_a_still_gif_is_not_an_animation() -> None:
    source = open_image(encode(Image.new("RGB", (8, 8), "red"), "GIF"), LIMITS)
    assert resolve_animation(source, Encoding.GIF, LIMITS) is None


# -- limits ------------------------------------------------------------------------------------


def many_frames(count: int) -> bytes:
    frames = [Image.new("RGB", (4, 4), COLOURS[index % 2]) for index in range(count)]  # no two alike in a row
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)


def test_more_frames_than_allowed_is_refused_before_any_frame_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_decoding(*args: object) -> Iterator[Frame]:
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(pipeline, "read_frames", no_decoding)
    limits = RenderLimits(max_animation_frames=5)
    with pytest.raises(TooManyFramesError):
        render(animation("GIF"), width(60), Encoding.SOURCE, limits)
    with pytest.raises(TooManyFramesError):
        render(animation("WEBP"), width(60), Encoding.GIF, limits)


def test_exactly_the_limit_is_allowed() -> None:
    out = read_back(render(animation("GIF"), width(60), Encoding.GIF, RenderLimits(max_animation_frames=6)).body)
    assert len(out.frames) == 6


def test_the_first_frame_of_a_long_animation_is_served_whatever_its_length() -> None:
    data = many_frames(1000)
    with pytest.raises(TooManyFramesError):
        render(data, RenderOptions(), Encoding.SOURCE, LIMITS)
    for encoding in (Encoding.JPEG, Encoding.PNG, Encoding.CLASSIC):
        assert len(read_back(render(data, width(2), encoding, LIMITS).body).frames) == 1


def test_a_deadline_passing_mid_animation_stops_the_render(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []

    def slow_after_two(*args: Any) -> Iterator[Frame]:
        for index, frame in enumerate(read_frames(*args)):
            decoded.append(index)
            if index == 2:
                time.sleep(0.4)
            yield frame

    monkeypatch.setattr(pipeline, "read_frames", slow_after_two)
    with pytest.raises(RenderTimeoutError):
        render(animation("GIF"), width(60), Encoding.GIF, LIMITS, deadline=time.monotonic() + 0.3)
    assert decoded == [0, 1, 2]


# -- encoding a sequence -----------------------------------------------------------------------


def test_a_transparent_gif_animation_disposes_every_frame() -> None:
    clear = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    dot = clear.copy()
    dot.paste((200, 0, 0, 255), (5, 5, 15, 15))
    frames = [Frame(dot, 50), Frame(clear, 50), Frame(dot.rotate(90), 50)]
    body = encode_animation(frames, 0, Encoding.GIF, OutputSpec()).body
    out = read_back(body)
    assert [frame.getpixel((10, 10))[3] for frame in out.frames] == [255, 0, 255]  # type: ignore[index]
    with Image.open(BytesIO(body)) as image:
        assert isinstance(image, GifImagePlugin.GifImageFile)
        image.seek(1)
        assert image.disposal_method == 2


def test_no_metadata_reaches_the_animation() -> None:
    frames = [Frame(image, 100) for image in read_back(animation("GIF")).frames]
    frames[0].image.info.update(comment=b"secret", exif=b"Exif\x00\x00secret", icc_profile=b"secret")
    for encoding in (Encoding.GIF, Encoding.WEBP):
        body = encode_animation(frames, 0, encoding, OutputSpec()).body
        assert b"secret" not in body
    assert frames[0].image.info["comment"] == b"secret"  # the input is left alone


@pytest.mark.parametrize(
    "frames",
    [
        [],
        [Frame(Image.new("RGB", (4, 4)), 10), Frame(Image.new("RGB", (5, 4)), 10)],
    ],
)
def test_an_animation_needs_frames_of_one_size(frames: list[Frame]) -> None:
    with pytest.raises(ValueError, match="one size"):
        encode_animation(frames, 0, Encoding.GIF, OutputSpec())


@pytest.mark.parametrize("encoding", [Encoding.JPEG, Encoding.PNG, Encoding.AVIF, Encoding.SOURCE])
def test_only_gif_and_webp_hold_an_animation(encoding: Encoding) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        encode_animation([Frame(Image.new("RGB", (4, 4)), 10)] * 2, 0, encoding, OutputSpec())


def test_play_count_of_the_fixtures() -> None:
    assert play_count(open_image(fixture_bytes("animated.gif"), LIMITS)) == 0
    assert play_count(open_image(fixture_bytes("animated.webp"), LIMITS)) == 0
