"""What a render may need besides the source: font files, as bytes, and the decoded watermark.

The origin reads them (fonts from its allowlist; the watermark through the same path checks as any
source, decoded by :func:`transforms.mark.load_mark` and kept between renders) and hands them in;
``transforms`` never opens a file itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from .options import FontStyle, FontWeight


@dataclass(frozen=True, slots=True)
class FontFace:
    """One font file: a family name from the allowlist, its weight and style, and its bytes."""

    family: str
    weight: FontWeight
    style: FontStyle
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class FontBook:
    """The allowlisted fonts. ``face`` picks the closest face of a family (exact, then the same
    weight in any style, then the family's regular face)."""

    faces: tuple[FontFace, ...] = ()

    @property
    def families(self) -> frozenset[str]:
        return frozenset(face.family for face in self.faces)

    def face(self, family: str, weight: FontWeight, style: FontStyle) -> FontFace:
        candidates = [face for face in self.faces if face.family == family]
        if not candidates:
            raise KeyError(family)

        def distance(face: FontFace) -> tuple[int, int]:
            return (face.weight is not weight, face.style is not style)

        return min(candidates, key=distance)


@dataclass(frozen=True, slots=True)
class Assets:
    fonts: FontBook = field(default_factory=FontBook)
    watermark: Image.Image | None = field(default=None, repr=False)  # RGBA, from load_mark; never modified
