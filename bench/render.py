"""Render time of the core path, run by hand: ``.venv/bin/python bench/render.py``.

Prints medians side by side in one run (never a pass/fail): a 3000×2000 photographic JPEG rendered
to 300 px by ``transforms.render`` (draft decoding) against a naive Pillow loop (full decode, one
resize), and the cache-hit rate and latency of a repeated request through the app.
"""

from __future__ import annotations

import io
import random
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from origin import Settings, create_app
from origin.signing import sign_url
from transforms import Encoding, Length, RenderLimits, RenderOptions, ResizeSpec, render


def photographic_jpeg(width: int = 3000, height: int = 2000) -> bytes:
    rng = random.Random(7)
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        r = rng.randrange(20, 300)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    image = image.filter(ImageFilter.GaussianBlur(3))
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    image = Image.blend(image, noise, 0.25)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def median_ms(func: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def naive(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data))
    image = image.resize((300, 200), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def overlays() -> None:
    """Cost of a text overlay and of a tiled watermark on a 1200 px render, against the same render."""
    from origin.fonts import load_font_book
    from transforms import Assets, Gravity, TextSpec, WatermarkSpec, load_mark

    data = photographic_jpeg(1200, 800)
    mark_bytes = (Path(__file__).resolve().parent.parent / "fixtures" / "images" / "watermark.png").read_bytes()
    assets = Assets(fonts=load_font_book(), watermark=load_mark(mark_bytes, RenderLimits(), max_side=2048))
    base = RenderOptions(resize=ResizeSpec(width=Length(1200)))
    cases = {
        "plain": base,
        "text overlay": replace(base, text=TextSpec(text="© Studio — preview", size=60, outline_width=2)),
        "tiled watermark": replace(base, watermark=WatermarkSpec(path="/w.png", tile=True, opacity=50)),
        "centred watermark": replace(base, watermark=WatermarkSpec(path="/w.png", gravity=Gravity.CENTER)),
    }
    timings = {
        name: median_ms(lambda o=o: render(data, o, Encoding.JPEG, RenderLimits(), assets=assets), 25)
        for name, o in cases.items()
    }
    print("1200x800 JPEG rendered at 1200 px, JPEG out:")
    for name, ms in timings.items():
        print(f"  {name:18} median {ms:6.1f} ms   {ms / timings['plain']:5.2f}x plain")


def main() -> None:
    overlays()
    data = photographic_jpeg()
    print(f"source: 3000x2000 JPEG, {len(data) / 1e6:.2f} MB")
    options = RenderOptions(resize=ResizeSpec(width=Length(300)))
    ours = median_ms(lambda: render(data, options, Encoding.JPEG, RenderLimits()), 15)
    floor = median_ms(lambda: naive(data), 15)
    print(f"transforms.render → 300 px JPEG   median {ours:7.1f} ms")
    print(f"naive Pillow (no draft)           median {floor:7.1f} ms")
    print(f"ratio naive / ours                {floor / ours:7.2f}x")

    from starlette.testclient import TestClient

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "big.jpg").write_bytes(data)
        key = b"bench-secret-0123456789-0123456789"
        client = TestClient(create_app(Settings(root=Path(folder), keys={"k": key})))
        url = sign_url("/big.jpg", key=key, query="w=300")
        latencies = {"MISS": [], "HIT": []}  # type: dict[str, list[float]]
        for _ in range(200):
            start = time.perf_counter()
            response = client.get(url)
            latencies[response.headers["x-cache"]].append((time.perf_counter() - start) * 1000)
        cache = client.app.state.origin.cache  # type: ignore[attr-defined]
        rate = cache.hits / (cache.hits + cache.misses)
        print(f"200 requests of one URL: {cache.hits} hits, {cache.misses} miss, hit rate {rate:.1%}")
        print(
            f"miss latency {statistics.median(latencies['MISS']):.1f} ms, "
            f"hit latency median {statistics.median(latencies['HIT']):.2f} ms (TestClient, in process)"
        )


if __name__ == "__main__":
    main()
