"""The bundled fonts: files, licence, allowlist, and that each face loads and renders."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image, ImageDraw, ImageFont

from origin.fonts import DEFAULT_FAMILY, FAMILIES, FONT_DIR, load_font_book
from transforms.options import FontStyle, FontWeight, TextSpec
from transforms.text import choose_face

FACES = [
    pytest.param(family, weight, style, filename, id=f"{family}-{weight}-{style}")
    for family, files in FAMILIES.items()
    for (weight, style), filename in files.items()
]


def test_the_allowlist() -> None:
    assert list(FAMILIES) == ["sans", "serif", "mono"]
    assert DEFAULT_FAMILY == "sans"
    for files in FAMILIES.values():
        assert (FontWeight.NORMAL, FontStyle.NORMAL) in files  # every family has a regular face


def test_the_folder_holds_the_listed_fonts_and_their_licence() -> None:
    listed = {filename for files in FAMILIES.values() for filename in files.values()}
    assert {path.name for path in FONT_DIR.iterdir()} == listed | {"LICENSE"}
    assert sum(path.stat().st_size for path in FONT_DIR.iterdir()) < 4_000_000
    licence = (FONT_DIR / "LICENSE").read_text(encoding="utf-8")
    assert "Bitstream Vera" in licence and "DejaVu" in licence and "Permission is hereby granted" in licence


@pytest.mark.parametrize(("family", "weight", "style", "filename"), FACES)
def test_every_face_loads_and_renders_a_glyph(family: str, weight: FontWeight, style: FontStyle, filename: str) -> None:
    face = load_font_book().face(family, weight, style)
    assert (face.family, face.weight, face.style) == (family, weight, style)
    assert face.data == (FONT_DIR / filename).read_bytes()
    font = ImageFont.truetype(BytesIO(face.data), 32, layout_engine=ImageFont.Layout.RAQM)
    name, subfamily = font.getname()
    assert name is not None and name.startswith("DejaVu") and subfamily is not None
    assert ("Bold" in subfamily) == (weight is FontWeight.BOLD)
    assert ("Oblique" in subfamily or "Italic" in subfamily) == (style is FontStyle.ITALIC)
    canvas = Image.new("L", (100, 60))
    ImageDraw.Draw(canvas).text((10, 10), "Ag", font=font, fill=255)
    assert canvas.getbbox() is not None


def test_the_book_is_read_once_with_sans_first() -> None:
    book = load_font_book()
    assert load_font_book() is book
    assert book.families == frozenset(FAMILIES)
    assert book.faces[0].family == DEFAULT_FAMILY
    assert len(book.faces) == sum(len(files) for files in FAMILIES.values())


@pytest.mark.parametrize("text", ["Hello", "Привет", "Γειά", "مرحبا", "שלום"])
def test_sans_covers_the_scripts_we_promise(text: str) -> None:
    spec = TextSpec(text, family="sans")
    assert choose_face(load_font_book(), spec) is load_font_book().face("sans", FontWeight.NORMAL, FontStyle.NORMAL)
