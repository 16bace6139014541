"""Regenerate the watermark golden images, for review: ``python -m tests.golden.make_watermark_goldens``.

Run it from the repository root after an intended change to ``transforms/watermark.py``, look at
every PNG it rewrites under ``tests/golden/watermark/``, and keep them only if they look right.
``tests/transforms/test_watermark.py`` renders the same :data:`CASES` and compares the pixels with
a tolerance (never the bytes), so a new Pillow version does not need new goldens.

The bases are synthetic and flat (they compress to a few KB): an opaque RGB image, as a JPEG
decodes, and an RGBA image whose left half is transparent, as ``fixtures/images/alpha.png``.
The mark is ``fixtures/images/watermark.png``; ``scale`` is 1/3, as for a 1200 px source shown
at ``w=400``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from tests.imaging import fixture_bytes
from transforms.mark import load_mark
from transforms.options import Gravity, Layer, Length, RenderLimits, WatermarkSpec
from transforms.watermark import apply_watermark

GOLDEN = Path(__file__).resolve().parent / "watermark"
SCALE = 400 / 1200
MARK = "/watermark.png"

CASES: dict[str, tuple[str, WatermarkSpec]] = {
    "southeast": ("rgb", WatermarkSpec(MARK, gravity=Gravity.SOUTHEAST, x=Length(30), y=Length(30))),
    "center": ("rgb", WatermarkSpec(MARK)),
    "tile": ("rgb", WatermarkSpec(MARK, tile=True)),
    "opacity50": ("rgb", WatermarkSpec(MARK, width=Length(60, percent=True), opacity=50)),
    "rotated": ("rgb", WatermarkSpec(MARK, width=Length(60, percent=True), rotate=-30)),
    "alpha_over_rgb": ("rgb", WatermarkSpec(MARK, width=Length(90, percent=True), gravity=Gravity.NORTH)),
    "alpha_over_rgba": ("rgba", WatermarkSpec(MARK, width=Length(90, percent=True))),
    "back_over_rgba": ("rgba", WatermarkSpec(MARK, tile=True, layer=Layer.BACK)),
}
"""Golden name -> (base, spec)."""


def rgb_base() -> Image.Image:
    """400x267 opaque RGB: four flat quadrants (dark, light, saturated), as a decoded JPEG."""
    image = Image.new("RGB", (400, 267), (30, 60, 110))
    image.paste((235, 235, 225), (200, 0, 400, 133))
    image.paste((40, 140, 60), (0, 133, 200, 267))
    image.paste((220, 110, 40), (200, 133, 400, 267))
    return image


def rgba_base() -> Image.Image:
    """400x300 RGBA: the left half fully transparent, the right half two opaque colours."""
    image = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    image.paste((30, 120, 220, 255), (200, 0, 400, 150))
    image.paste((240, 90, 40, 255), (200, 150, 400, 300))
    return image


def base(name: str) -> Image.Image:
    return rgb_base() if name == "rgb" else rgba_base()


def mark() -> Image.Image:
    return load_mark(fixture_bytes("watermark.png"), RenderLimits())


def render(name: str) -> Image.Image:
    """The golden image ``name`` as the current code renders it."""
    base_name, spec = CASES[name]
    return apply_watermark(base(base_name), mark(), spec, SCALE)


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        path = GOLDEN / f"{name}.png"
        render(name).save(path, format="PNG", optimize=True)
        print(f"{path.stat().st_size:>8}  {path}")


if __name__ == "__main__":
    main()
