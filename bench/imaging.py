"""Cost of the imaging parameters, run by hand: ``.venv/bin/python bench/imaging.py [--runs N]``.

A 3000×2000 photographic JPEG (the image of ``bench/render.py``) rendered to 1200 px wide JPEG by
``transforms.render``: a plain resize, and the same resize with one representative setting of each
group of parameters. The cases take turns, round after round, so that they share the machine's
state; the table gives each one's median and its ratio to the plain resize (the target is no group
above 3x). Never a pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render import photographic_jpeg  # noqa: E402  (the same source as bench/render.py)

from transforms import (  # noqa: E402
    CanvasSpec,
    ColourSpec,
    EffectsSpec,
    Encoding,
    FrameSpec,
    FrameStyle,
    Length,
    RenderLimits,
    RenderOptions,
    ResizeSpec,
    TrimSpec,
    render,
)

PLAIN = RenderOptions(resize=ResizeSpec(width=Length(1200)))
LIGHT = ColourSpec(brightness=15, contrast=20, saturation=25)
CANVAS = CanvasSpec(aspect_ratio=(1, 1), color=(240, 240, 240, 255), border_width=20, border_height=20)
FRAME = FrameSpec(style=FrameStyle.MIRROR, width=40, rim_width=4)

CASES: dict[str, RenderOptions] = {
    "plain resize": PLAIN,
    "light (brightness+contrast+saturation)": replace(PLAIN, colour=LIGHT),
    "hue=30": replace(PLAIN, colour=ColourSpec(hue=30)),
    "colortone=sepia": replace(PLAIN, colour=ColourSpec(colortone="sepia")),
    "colorize=red, 40%": replace(PLAIN, colour=ColourSpec(colorize_color=(255, 0, 0, 255), colorize_opacity=40)),
    "blur=100": replace(PLAIN, effects=EffectsSpec(blur=100)),
    "sharpen=100": replace(PLAIN, effects=EffectsSpec(sharpen=100)),
    "vignette.value=60": replace(PLAIN, effects=EffectsSpec(vignette=60)),
    "canvas 1:1 + border 20": replace(PLAIN, canvas=CANVAS),
    "frame mirror 40 + rim 4": replace(PLAIN, frame=FRAME),
    "crop.type=trim": replace(PLAIN, trim=TrimSpec(enabled=True)),
    "all together": replace(
        PLAIN,
        trim=TrimSpec(enabled=True),
        canvas=CANVAS,
        colour=replace(LIGHT, hue=30, colortone="sepia", colortone_level=50),
        effects=EffectsSpec(blur=10, sharpen=50, vignette=60),
        frame=FRAME,
    ),
}


def measure(data: bytes, runs: int) -> dict[str, list[float]]:
    limits = RenderLimits()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for name, options in CASES.items():  # warm up: first calls load codecs and build tables
        render(data, options, Encoding.JPEG, limits)
    for _ in range(runs):
        for name, options in CASES.items():
            start = time.perf_counter()
            render(data, options, Encoding.JPEG, limits)
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds of every case (default 9)")
    runs = parser.parse_args().runs
    data = photographic_jpeg()
    print(f"source: 3000x2000 JPEG, {len(data) / 1e6:.2f} MB; rendered to 1200 px wide JPEG; {runs} rounds")
    times = measure(data, runs)
    plain = statistics.median(times["plain resize"])
    print(f"| {'case':40} | median ms | x plain |")
    print(f"|{'-' * 42}|-----------|---------|")
    for name, samples in times.items():
        ms = statistics.median(samples)
        print(f"| {name:40} | {ms:9.1f} | {ms / plain:6.2f}x |")


if __name__ == "__main__":
    main()
