"""The bundled fonts: a small allowlist of families, read once from ``origin/fonts/``.

``text.font.family`` must be a key of :data:`FAMILIES`. The files are DejaVu fonts (Bitstream Vera
licence plus public-domain changes, see ``origin/fonts/LICENSE``) shipped inside the package, so an
editable install serves them from the tree and a wheel needs ``[tool.setuptools.package-data]
origin = ["fonts/*"]``.

Coverage of the bundled faces (what ``transforms.text.choose_face`` falls back on when a face lacks
a glyph): ``sans`` regular and bold have Latin, Greek, Cyrillic, Hebrew and Arabic (shaped by Raqm);
``sans`` oblique faces have no Arabic; ``serif`` has neither Hebrew nor Arabic; ``mono`` has Arabic
but no Hebrew. ``serif`` has no italic and ``mono`` only its regular face: the closest face is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

from transforms.assets import FontBook, FontFace
from transforms.options import FontStyle, FontWeight

FONT_DIR = Path(__file__).resolve().parent / "fonts"
"""Where the font files and their ``LICENSE`` live (a plain folder inside the package)."""

DEFAULT_FAMILY = "sans"

_REGULAR, _BOLD = FontWeight.NORMAL, FontWeight.BOLD
_UPRIGHT, _ITALIC = FontStyle.NORMAL, FontStyle.ITALIC

FAMILIES: Mapping[str, Mapping[tuple[FontWeight, FontStyle], str]] = MappingProxyType(
    {
        "sans": MappingProxyType(
            {
                (_REGULAR, _UPRIGHT): "DejaVuSans.ttf",
                (_BOLD, _UPRIGHT): "DejaVuSans-Bold.ttf",
                (_REGULAR, _ITALIC): "DejaVuSans-Oblique.ttf",
                (_BOLD, _ITALIC): "DejaVuSans-BoldOblique.ttf",
            }
        ),
        "serif": MappingProxyType(
            {
                (_REGULAR, _UPRIGHT): "DejaVuSerif.ttf",
                (_BOLD, _UPRIGHT): "DejaVuSerif-Bold.ttf",
            }
        ),
        "mono": MappingProxyType({(_REGULAR, _UPRIGHT): "DejaVuSansMono.ttf"}),
    }
)
"""The allowlisted ``text.font.family`` names, each with its files by ``(weight, style)``.
The first family (``sans``) is the default and the book's first choice for missing glyphs."""


@cache
def load_font_book() -> FontBook:
    """Read every file of :data:`FAMILIES` (once per process; later calls return the same book).

    :returns: a :class:`~transforms.assets.FontBook` with one face per file, ``sans`` first.
    :raises OSError: a font file is missing or unreadable (a broken install: fail at start-up).
    """
    faces = tuple(
        FontFace(family=family, weight=weight, style=style, data=(FONT_DIR / filename).read_bytes())
        for family, files in FAMILIES.items()
        for (weight, style), filename in files.items()
    )
    return FontBook(faces=faces)
