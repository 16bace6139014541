"""Encoding: formats, quality, subsampling, transparency, and no metadata."""

from __future__ import annotations

import pytest
from PIL import Image, JpegImagePlugin

from tests.imaging import assert_images_close, decode, fixture_bytes, fixture_image, inset, region_mean
from transforms.encode import encode, resolve_encoding
from transforms.options import Encoding, OutputSpec, Subsampling

SPEC = OutputSpec()


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return fixture_image("photo.jpg").resize((300, 200), Image.Resampling.LANCZOS)


def half_transparent() -> Image.Image:
    """Left half fully transparent, right half opaque red."""
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (20, 0, 40, 20))
    return image


@pytest.mark.parametrize(
    ("encoding", "pillow", "media_type", "extension", "tolerance"),
    [
        (Encoding.JPEG, "JPEG", "image/jpeg", "jpg", 6),
        (Encoding.PNG, "PNG", "image/png", "png", 0),
        (Encoding.WEBP, "WEBP", "image/webp", "webp", 6),
        (Encoding.AVIF, "AVIF", "image/avif", "avif", 8),
        (Encoding.GIF, "GIF", "image/gif", "gif", 12),
    ],
)
def test_each_encoding_gives_its_format(
    photo: Image.Image, encoding: Encoding, pillow: str, media_type: str, extension: str, tolerance: float
) -> None:
    body, got_media_type, got_extension = encode(photo, encoding, SPEC, "JPEG")
    assert (got_media_type, got_extension) == (media_type, extension)
    reopened = decode(body)
    assert reopened.format == pillow
    assert_images_close(reopened, photo, max_mean_diff=tolerance)


@pytest.mark.parametrize(
    ("source_format", "image", "expected"),
    [
        ("JPEG", Image.new("RGB", (4, 4)), Encoding.JPEG),
        ("MPO", Image.new("RGB", (4, 4)), Encoding.JPEG),
        ("PNG", Image.new("RGB", (4, 4)), Encoding.PNG),
        ("GIF", Image.new("RGB", (4, 4)), Encoding.GIF),
        ("WEBP", Image.new("RGBA", (4, 4)), Encoding.WEBP),
        ("AVIF", Image.new("RGB", (4, 4)), Encoding.AVIF),
        ("TIFF", Image.new("RGB", (4, 4)), Encoding.JPEG),  # not encoded here: CLASSIC
        ("TIFF", Image.new("RGBA", (4, 4)), Encoding.PNG),
    ],
)
def test_source_encoding_is_the_sources_format(source_format: str, image: Image.Image, expected: Encoding) -> None:
    assert resolve_encoding(image, Encoding.SOURCE, source_format) is expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGB", (4, 4)), Encoding.JPEG),
        (Image.new("L", (4, 4)), Encoding.JPEG),
        (Image.new("RGBA", (4, 4), (1, 2, 3, 255)), Encoding.JPEG),  # alpha, but fully opaque
        (Image.new("RGBA", (4, 4), (1, 2, 3, 254)), Encoding.PNG),
        (half_transparent(), Encoding.PNG),
        (Image.new("LA", (4, 4), (9, 0)), Encoding.PNG),
    ],
)
def test_classic_is_jpeg_when_opaque_and_png_when_transparent(image: Image.Image, expected: Encoding) -> None:
    assert resolve_encoding(image, Encoding.CLASSIC, "WEBP") is expected
    assert decode(encode(image, Encoding.CLASSIC, SPEC, "WEBP").body).format == expected.name


@pytest.mark.parametrize("encoding", [Encoding.JPEG, Encoding.WEBP, Encoding.AVIF])
def test_quality_changes_the_size(photo: Image.Image, encoding: Encoding) -> None:
    low = encode(photo, encoding, OutputSpec(quality=20), "JPEG").body
    high = encode(photo, encoding, OutputSpec(quality=90), "JPEG").body
    assert len(low) < len(high) * 0.7


@pytest.mark.parametrize(
    ("subsampling", "sampling"),
    [(None, 2), (Subsampling.S420, 2), (Subsampling.S422, 1), (Subsampling.S444, 0)],
)
def test_jpeg_subsampling(photo: Image.Image, subsampling: Subsampling | None, sampling: int) -> None:
    body = encode(photo, Encoding.JPEG, OutputSpec(subsampling=subsampling), "JPEG").body
    assert JpegImagePlugin.get_sampling(decode(body)) == sampling


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_progressive(photo: Image.Image, progressive: bool) -> None:
    reopened = decode(encode(photo, Encoding.JPEG, OutputSpec(progressive=progressive), "JPEG").body)
    assert bool(reopened.info.get("progressive")) is progressive


def test_transparency_over_jpeg_is_flattened_on_white() -> None:
    image = half_transparent()
    image.paste((0, 0, 255, 128), (20, 10, 40, 20))  # half-opaque blue over the bottom right
    reopened = decode(encode(image, Encoding.JPEG, SPEC, "PNG").body)
    assert reopened.mode == "RGB"
    assert min(region_mean(reopened, (0, 0, 16, 20))) > 250  # transparent -> white
    red = region_mean(reopened, inset((20, 0, 40, 10), 3))
    assert red[0] > 180 and red[1] < 30 and red[2] < 30
    blue = region_mean(reopened, inset((20, 10, 40, 20), 3))  # half blue over white: light blue
    assert blue[2] > 240 and 100 < blue[0] < 160 and 100 < blue[1] < 160


def test_grey_with_alpha_over_jpeg_stays_grey() -> None:
    reopened = decode(encode(Image.new("LA", (8, 8), (0, 128)), Encoding.JPEG, SPEC, "PNG").body)
    assert reopened.mode == "L"
    assert 120 < reopened.getpixel((4, 4)) < 136  # type: ignore[operator]


@pytest.mark.parametrize("encoding", [Encoding.PNG, Encoding.WEBP, Encoding.AVIF, Encoding.GIF])
def test_transparency_is_kept_where_the_format_has_it(encoding: Encoding) -> None:
    reopened = decode(encode(half_transparent(), encoding, SPEC, "PNG").body).convert("RGBA")
    assert region_mean(reopened, (0, 0, 16, 20))[3] < 5
    right = region_mean(reopened, inset((20, 0, 40, 20), 3))
    assert right[3] > 250 and right[0] > 170 and right[1] < 40


def test_a_fully_opaque_alpha_channel_is_dropped() -> None:
    assert decode(encode(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), Encoding.PNG, SPEC, "PNG").body).mode == "RGB"
    assert decode(encode(Image.new("LA", (8, 8), (1, 255)), Encoding.PNG, SPEC, "PNG").body).mode == "L"


def test_png_is_lossless_and_keeps_grey() -> None:
    grey = fixture_image("gray.png")
    reopened = decode(encode(grey, Encoding.PNG, SPEC, "PNG").body)
    assert reopened.mode == "L"
    assert_images_close(reopened, grey, max_mean_diff=0)


def test_a_gif_without_alpha_has_no_transparent_index(photo: Image.Image) -> None:
    assert "transparency" not in decode(encode(photo, Encoding.GIF, SPEC, "GIF").body).info


def test_classic_sees_the_transparency_of_a_palette_image() -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.info["transparency"] = 0
    assert encode(palette, Encoding.CLASSIC, SPEC, "GIF").extension == "png"


def test_a_cmyk_image_is_encoded_as_rgb() -> None:
    reopened = decode(encode(Image.new("CMYK", (8, 8), (255, 0, 0, 0)), Encoding.JPEG, SPEC, "JPEG").body)
    assert reopened.mode == "RGB"
    assert region_mean(reopened, (0, 0, 8, 8))[0] < 20


METADATA_KEYS = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile", "Raw profile type exif")
METADATA_BYTES = (
    b"Exif\x00",
    b"Fixture Camera",
    b"Fixture Photographer",
    b"Fixture comment",
    b"xpacket",
    b"ICC_PROFILE",
)


@pytest.mark.parametrize("encoding", [Encoding.JPEG, Encoding.PNG, Encoding.WEBP, Encoding.AVIF, Encoding.GIF])
@pytest.mark.parametrize("name", ["photo.jpg", "icc.jpg"])
def test_no_metadata_survives(name: str, encoding: Encoding) -> None:
    source = decode(fixture_bytes(name))
    assert any(key in source.info for key in METADATA_KEYS)  # the fixture does carry some
    body = encode(source, encoding, SPEC, "JPEG").body
    reopened = decode(body)
    assert not [key for key in METADATA_KEYS if key in reopened.info]
    assert not dict(reopened.getexif())
    assert not [marker for marker in METADATA_BYTES if marker in body]


def test_encode_does_not_modify_its_input() -> None:
    source = decode(fixture_bytes("photo.jpg"))
    info, pixels = dict(source.info), source.copy()
    encode(source, Encoding.JPEG, SPEC, "JPEG")
    assert source.info == info
    assert_images_close(source, pixels, max_mean_diff=0)


def test_transparency_over_jpeg_is_flattened_on_the_background_given() -> None:
    """SPEC §4: transparency over JPEG goes on white, or on ``canvas.color`` when the options give one."""
    clear = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    on_white = decode(encode(clear, Encoding.JPEG, OutputSpec(quality=95), "PNG").body)
    on_navy = decode(encode(clear, Encoding.JPEG, OutputSpec(quality=95), "PNG", (0, 0, 128)).body)
    assert all(abs(a - b) <= 3 for a, b in zip(on_white.getpixel((8, 8)), (255, 255, 255), strict=True))
    assert all(abs(a - b) <= 3 for a, b in zip(on_navy.getpixel((8, 8)), (0, 0, 128), strict=True))
