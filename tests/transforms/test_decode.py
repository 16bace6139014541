"""Identifying, bounding and decoding sources."""

from __future__ import annotations

import os
import struct
import tracemalloc
import zlib

import pytest
from PIL import ExifTags, Image, ImageDraw, ImageOps

from tests.imaging import assert_images_close, decode, encode, fixture_bytes, fixture_image, inset, region_mean
from transforms.decode import exif_orientation, load, open_image
from transforms.errors import CorruptImageError, ImageTooLargeError, TransformError, UnsupportedImageError
from transforms.options import RenderLimits

LIMITS = RenderLimits()


def png_header(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming ``width`` x ``height`` (8-bit RGB), then IEND: no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"8BPS\x00\x01" + bytes(100), id="psd"),
        pytest.param(encode(Image.new("RGB", (8, 8)), "TIFF"), id="tiff"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", id="eps"),
        pytest.param(b"\xc5\xd0\xd3\xc6" + bytes(60), id="eps-binary"),
        pytest.param(b"%PDF-1.7\n" + bytes(100), id="pdf"),
        pytest.param(encode(Image.new("RGB", (8, 8)), "BMP"), id="bmp"),
        pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", id="svg"),
        pytest.param(os.urandom(2048), id="random"),
        pytest.param(b"", id="empty"),
    ],
)
def test_open_image_refuses_formats_outside_the_allowlist(data: bytes) -> None:
    with pytest.raises(UnsupportedImageError) as excinfo:
        open_image(data, LIMITS)
    assert excinfo.value.__cause__ is not None


def test_open_image_only_tries_the_configured_formats() -> None:
    with pytest.raises(UnsupportedImageError):
        open_image(fixture_bytes("photo.jpg"), RenderLimits(source_formats=frozenset({"PNG"})))


@pytest.mark.parametrize(
    ("name", "fmt", "size"),
    [
        ("photo.jpg", "JPEG", (1200, 800)),
        ("rotated.jpg", "JPEG", (400, 600)),
        ("alpha.png", "PNG", (640, 480)),
        ("animated.gif", "GIF", (160, 120)),
        ("photo.webp", "WEBP", (600, 400)),
        ("photo.avif", "AVIF", (600, 400)),
    ],
)
def test_open_image_identifies_the_format_from_the_bytes(name: str, fmt: str, size: tuple[int, int]) -> None:
    source = open_image(fixture_bytes(name), LIMITS)
    assert (source.format, source.size) == (fmt, size)


@pytest.mark.parametrize("name", ["photo.jpg", "alpha.png", "animated.gif"])
def test_open_image_decodes_no_pixels(name: str) -> None:
    assert open_image(fixture_bytes(name), LIMITS).image.tile, "the decoder has not run yet"


def test_a_header_claiming_four_billion_pixels_is_refused_without_allocating() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError):
            open_image(png_header(65535, 65535), LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_header_over_the_configured_limit_is_refused() -> None:
    with pytest.raises(ImageTooLargeError):
        open_image(png_header(8000, 8000), LIMITS)  # 64 MP > 50 MP, under Pillow's own guard
    with pytest.raises(ImageTooLargeError):
        open_image(fixture_bytes("photo.jpg"), RenderLimits(max_source_pixels=1200 * 800 - 1))
    assert open_image(fixture_bytes("photo.jpg"), RenderLimits(max_source_pixels=1200 * 800)).size == (1200, 800)


@pytest.mark.parametrize("name", ["photo.jpg", "alpha.png", "animated.gif", "photo.webp", "photo.avif", "gray.png"])
@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_truncated_sources_fail_cleanly(name: str, keep: float) -> None:
    data = fixture_bytes(name)
    try:
        image = load(open_image(data[: int(len(data) * keep)], LIMITS))
    except TransformError as exc:
        assert isinstance(exc, (UnsupportedImageError, CorruptImageError))
        assert exc.__cause__ is not None
    else:
        assert name == "animated.gif" and keep > 0.3  # the first frame was complete
        assert image.size == (160, 120)


def test_a_truncated_jpeg_is_corrupt() -> None:
    data = fixture_bytes("photo.jpg")
    source = open_image(data[: len(data) // 2], LIMITS)  # the header is intact
    with pytest.raises(CorruptImageError) as excinfo:
        load(source)
    assert isinstance(excinfo.value.__cause__, OSError)


def test_exif_orientation_6_displays_the_stored_top_left_at_the_top_right() -> None:
    source = open_image(fixture_bytes("rotated.jpg"), LIMITS)
    assert (source.orientation, source.size) == (6, (400, 600))
    image = load(source)
    assert image.size == (400, 600)
    red = region_mean(image, inset((320, 0, 400, 120), 8))  # stored (0, 0, 120, 80), turned clockwise
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    elsewhere = region_mean(image, inset((0, 0, 80, 120), 8))  # where it would be if ignored
    assert elsewhere[0] < 200 or elsewhere[1] > 60


def marker_image() -> Image.Image:
    image = Image.new("RGB", (60, 40), (40, 40, 40))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 14, 9), fill=(255, 0, 0))
    draw.rectangle((45, 30, 59, 39), fill=(0, 0, 255))
    draw.rectangle((0, 30, 14, 39), fill=(0, 255, 0))
    return image


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_exif_transpose(orientation: int) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    data = encode(marker_image(), "PNG", exif=exif)
    source = open_image(data, LIMITS)
    expected = ImageOps.exif_transpose(decode(data))
    assert source.size == expected.size
    assert_images_close(load(source), expected, max_mean_diff=0)


def test_a_png_orientation_is_read_without_decoding() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    source = open_image(encode(marker_image(), "PNG", exif=exif), LIMITS)
    assert (source.orientation, source.size) == (8, (40, 60))
    assert source.image.tile


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_an_invalid_orientation_means_as_stored(value: int) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = value
    source = open_image(encode(marker_image(), "JPEG", exif=exif), LIMITS)
    assert (source.orientation, source.size) == (1, (60, 40))


def test_corrupt_exif_is_ignored_quietly() -> None:
    # damaged EXIF is ignored (orientation 1), as browsers do: no warning, no error
    data = encode(marker_image(), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    source = open_image(data, LIMITS)
    assert source.orientation == 1
    assert load(source).size == marker_image().size


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"Exif\x00\x00",
        b"Exif\x00\x00II*\x00",
        b"Exif\x00\x00II*\x00\xff\xff\xff\x7f",  # IFD offset past the end
        b"Exif\x00\x00MM\x00+\x00\x00\x00\x08",  # not 42
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff",  # 65535 entries claimed, none there
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x09\x00",  # 9
    ],
)
def test_damaged_exif_blocks_give_orientation_1(raw: bytes) -> None:
    assert exif_orientation(raw) == 1


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("value", range(1, 9))
def test_exif_orientation_agrees_with_pillow(order: str, value: int) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "x"
    exif[ExifTags.Base.Orientation] = value
    exif.endian = order
    assert exif_orientation(exif.tobytes()) == value


def grey16() -> Image.Image:
    return Image.new("I;16", (4, 4), 40000)


@pytest.mark.parametrize(
    ("image", "fmt", "mode"),
    [
        (Image.new("1", (4, 4), 1), "PNG", "L"),
        (Image.new("L", (4, 4), 7), "PNG", "L"),
        (Image.new("LA", (4, 4), (7, 100)), "PNG", "LA"),
        (Image.new("RGB", (4, 4), (1, 2, 3)), "PNG", "RGB"),
        (Image.new("RGBA", (4, 4), (1, 2, 3, 4)), "PNG", "RGBA"),
        (Image.new("P", (4, 4), 0), "PNG", "RGB"),
        (Image.new("P", (4, 4), 0), "GIF", "RGB"),
        (grey16(), "PNG", "L"),
        (Image.new("CMYK", (4, 4), (255, 0, 0, 0)), "JPEG", "CMYK"),  # converted after scaling
        (Image.new("L", (4, 4), 7), "JPEG", "L"),
    ],
)
def test_load_normalises_the_mode(image: Image.Image, fmt: str, mode: str) -> None:
    assert load(open_image(encode(image, fmt), LIMITS)).mode == mode


def test_sixteen_bit_grey_is_scaled_not_clipped() -> None:
    loaded = load(open_image(encode(grey16(), "PNG"), LIMITS))
    assert loaded.getpixel((0, 0)) == 156  # 40000 / 257, rounded


def test_a_transparent_colour_becomes_alpha() -> None:
    rgb = Image.new("RGB", (4, 4), (10, 20, 30))
    rgb.putpixel((0, 0), (1, 2, 3))
    loaded = load(open_image(encode(rgb, "PNG", transparency=(1, 2, 3)), LIMITS))
    assert loaded.mode == "RGBA"
    assert loaded.getpixel((0, 0)) == (1, 2, 3, 0)
    assert loaded.getpixel((1, 1)) == (10, 20, 30, 255)


@pytest.mark.parametrize(("name", "profiled"), [("cmyk.jpg", False), ("cmyk_icc.jpg", True)])
def test_a_cmyk_jpeg_stays_cmyk_for_the_colour_step(name: str, profiled: bool) -> None:
    source = open_image(fixture_bytes(name), LIMITS)
    assert (source.icc_profile is not None) is profiled
    image = load(source)
    assert image.mode == "CMYK"
    assert image.getpixel((60, 70)) == pytest.approx((255, 0, 0, 0), abs=3)  # cyan, not inverted


def test_a_multi_picture_jpeg_is_a_jpeg_decoded_at_its_first_picture() -> None:
    first, second = Image.new("RGB", (800, 600), (200, 0, 0)), Image.new("RGB", (800, 600), (0, 0, 200))
    source = open_image(encode(first, "MPO", save_all=True, append_images=[second]), LIMITS)
    assert source.format == "JPEG"
    image = load(source, (100, 75))
    assert image.size == (100, 75)  # drafted like any JPEG
    assert region_mean(image, (0, 0, 100, 75)) == pytest.approx((200, 0, 0), abs=3)


def test_an_animated_gif_gives_its_first_frame_with_transparency() -> None:
    image = load(open_image(fixture_bytes("animated.gif"), LIMITS))
    assert (image.mode, image.size) == ("RGBA", (160, 120))
    assert image.getchannel("A").getpixel((5, 5)) == 0  # the transparent corner
    assert image.getpixel((100, 20)) == (220, 40, 40, 255)  # frame 0's colour


@pytest.mark.parametrize(
    ("target", "decoded"),
    [
        ((100, 67), (300, 200)),  # 1/8
        ((600, 400), (600, 400)),  # 1/4: exactly the target
        ((601, 400), (1200, 800)),  # 1/2: 1/4 would be a pixel short
        ((1201, 800), (2400, 1600)),
        (None, (2400, 1600)),
    ],
)
def test_a_jpeg_is_decoded_at_the_smallest_sufficient_scale(
    target: tuple[int, int] | None, decoded: tuple[int, int]
) -> None:
    big = fixture_image("photo.jpg").resize((2400, 1600))
    image = load(open_image(encode(big, "JPEG", quality=90), LIMITS), target)
    assert image.size == decoded
    assert_images_close(image, big.resize(decoded, Image.Resampling.LANCZOS), max_mean_diff=3)


def test_draft_target_follows_the_exif_orientation() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    big = fixture_image("photo.jpg").resize((2400, 1600))
    source = open_image(encode(big, "JPEG", exif=exif), LIMITS)
    assert source.size == (1600, 2400)
    assert load(source, (200, 300)).size == (200, 300)  # stored 2400x1600 decoded at 1/8
    assert load(open_image(encode(big, "JPEG", exif=exif), LIMITS), (300, 200)).size == (400, 600)  # 1/4


def test_draft_is_not_used_for_other_formats() -> None:
    image = load(open_image(fixture_bytes("alpha.png"), LIMITS), (10, 10))
    assert image.size == (640, 480)
