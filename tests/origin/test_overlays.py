"""Overlays and profiles through HTTP: signed text and watermarks render, cannot be stripped or
pointed at protected images, and profiles layer as SPEC §4 says."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageChops
from starlette.testclient import TestClient

from origin import Rule, Settings, create_app
from origin.settings import with_overrides
from tests.conftest import FIXTURES, SECRET, Sign, decode, make_token

OTHER_KEY = b"other-key-0123456789-0123456789-xyz"


def changed_fraction(a: Image.Image, b: Image.Image, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> float:
    """Share of pixels (inside ``box``, given as fractions of the size) that differ noticeably."""
    assert a.size == b.size
    w, h = a.size
    region = (int(box[0] * w), int(box[1] * h), max(int(box[2] * w), 1), max(int(box[3] * h), 1))
    diff = ImageChops.difference(a.convert("RGB").crop(region), b.convert("RGB").crop(region)).convert("L")
    histogram = diff.histogram()
    total = sum(histogram)
    return sum(histogram[24:]) / total


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("photo.jpg", "watermark.png", "alpha.png"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    (tmp_path / "private").mkdir()
    (tmp_path / "public").mkdir()
    shutil.copy(FIXTURES / "watermark.png", tmp_path / "private" / "secret.png")
    shutil.copy(FIXTURES / "watermark.png", tmp_path / "public" / "logo.png")
    shutil.copy(FIXTURES / "photo.jpg", tmp_path / "public" / "photo.jpg")
    (tmp_path / "profiles").mkdir()
    return tmp_path


@pytest.fixture
def overlay_settings(root: Path) -> Settings:
    return Settings(
        root=root,
        keys={"main": SECRET, "other": OTHER_KEY},
        rules=(
            Rule(prefix="/"),
            Rule(prefix="/private/", keys=("other",)),
            Rule(prefix="/public/", protect=False),
        ),
        profiles_dir=root / "profiles",
    )


@pytest.fixture
def oc(overlay_settings: Settings) -> TestClient:
    return TestClient(create_app(overlay_settings))


def get_image(client: TestClient, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return decode(response.content)


# ---- text ---------------------------------------------------------------------------------------


def test_signed_text_is_drawn(oc: TestClient, sign: Sign) -> None:
    plain = get_image(oc, sign("/photo.jpg", query="w=600"))
    texted = get_image(oc, sign("/photo.jpg", args={"text": "© Studio — preview", "text.size": 60}, query="w=600"))
    assert texted.size == plain.size == (600, 400)
    assert changed_fraction(plain, texted, (0.2, 0.4, 0.8, 0.6)) > 0.05  # centred text
    assert changed_fraction(plain, texted, (0, 0, 0.15, 0.15)) < 0.01  # not elsewhere


@pytest.mark.parametrize("name", ["text", "text.color", "text.text64", "watermark", "watermark.opacity", "profile"])
def test_unsigned_overlay_parameters_are_a_400_on_protected_paths(oc: TestClient, sign: Sign, name: str) -> None:
    url = sign("/photo.jpg", args={"text": "mine"}, query=f"{name}=x")
    response = oc.get(url)
    assert response.status_code == 400
    assert response.json()["parameters"] == {name: "allowed only in signed args"}


def test_overlays_keep_their_relative_size_and_place_at_any_width(oc: TestClient, sign: Sign) -> None:
    args = {
        "text": "PREVIEW",
        "text.font.size": 120,
        "text.position": "northwest",
        "text.position.x": 60,
        "text.color": "FF0000",
    }

    def red_box(width: int) -> tuple[float, float, float, float]:
        image = get_image(oc, sign("/photo.jpg", args=args, query=f"w={width}&format=png")).convert("RGB")
        red = Image.eval(image.split()[0], lambda v: 255 if v > 200 else 0)
        others = Image.eval(image.convert("L"), lambda v: 255 if v < 140 else 0)
        mask = ImageChops.multiply(red, others)
        box = mask.getbbox()
        assert box is not None
        return tuple(v / width for v in box)  # type: ignore[return-value]

    small, large = red_box(300), red_box(1200)
    assert all(abs(a - b) < 0.02 for a, b in zip(small, large, strict=True)), (small, large)


# ---- watermark ---------------------------------------------------------------------------------


def test_signed_watermark_is_drawn(oc: TestClient, sign: Sign) -> None:
    plain = get_image(oc, sign("/photo.jpg", query="w=600"))
    marked = get_image(
        oc, sign("/photo.jpg", args={"watermark": "/watermark.png", "watermark.position": "southeast"}, query="w=600")
    )
    assert changed_fraction(plain, marked, (0.75, 0.8, 1, 1)) > 0.05
    assert changed_fraction(plain, marked, (0, 0, 0.5, 0.5)) < 0.01
    tiled = get_image(
        oc, sign("/photo.jpg", args={"watermark": "/watermark.png", "watermark.position": "tile"}, query="w=600")
    )
    for box in ((0, 0, 0.3, 0.3), (0.7, 0.7, 1, 1), (0.35, 0.35, 0.65, 0.65)):
        assert changed_fraction(plain, tiled, box) > 0.05, box


def test_a_missing_watermark_is_a_400_naming_it_never_an_unmarked_image(oc: TestClient, sign: Sign) -> None:
    response = oc.get(sign("/photo.jpg", args={"watermark": "/nope.png"}))
    assert response.status_code == 400
    assert response.json()["parameters"] == {"watermark": "no image at /nope.png"}


def test_a_broken_watermark_file_is_a_422(oc: TestClient, sign: Sign, root: Path) -> None:
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    assert oc.get(sign("/photo.jpg", args={"watermark": "/broken.png"})).status_code == 422


def test_a_watermark_symlinked_out_of_the_root_is_refused(
    oc: TestClient, sign: Sign, root: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "logo.png"
    shutil.copy(FIXTURES / "watermark.png", outside)
    (root / "escape.png").symlink_to(outside)
    response = oc.get(sign("/photo.jpg", args={"watermark": "/escape.png"}))
    assert response.status_code == 400
    assert "watermark" in response.json()["parameters"]


def test_a_public_page_cannot_stamp_a_protected_image_onto_itself(oc: TestClient) -> None:
    assert oc.get("/public/photo.jpg?w=300&watermark=/public/logo.png").status_code == 200
    response = oc.get("/public/photo.jpg?w=300&watermark=/private/secret.png")
    assert response.status_code == 400
    assert response.json()["parameters"] == {"watermark": "is a protected image; only a token may name it"}


def test_a_token_can_only_name_watermarks_its_key_may_sign(oc: TestClient, root: Path) -> None:
    args = {"watermark": "/private/secret.png"}
    refused = oc.get("/photo.jpg?jwt=" + make_token(args=args))  # signed with "main", /private/ needs "other"
    assert refused.status_code == 400
    assert refused.json()["parameters"] == {"watermark": "is protected by a key this token was not signed with"}
    ok = oc.get("/photo.jpg?jwt=" + make_token(args=args, key=OTHER_KEY))
    assert ok.status_code == 200


def test_a_changed_watermark_changes_the_etag(oc: TestClient, sign: Sign, root: Path) -> None:
    url = sign("/photo.jpg", args={"watermark": "/watermark.png"}, query="w=200")
    first = oc.get(url)
    Image.new("RGBA", (200, 80), (255, 0, 0, 255)).save(root / "watermark.png")
    second = oc.get(url)
    assert second.headers["x-cache"] == "MISS"
    assert second.headers["etag"] != first.headers["etag"]


# ---- profiles ----------------------------------------------------------------------------------


def write_profile(root: Path, name: str, values: object) -> None:
    path = root / "profiles" / f"{name}.json"
    path.write_text(json.dumps(values) if not isinstance(values, str) else values)
    stat = path.stat()  # make an edit within the same second visible: bump mtime explicitly
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))


def test_a_signed_profile_applies_and_reloads_when_edited(oc: TestClient, sign: Sign, root: Path) -> None:
    write_profile(root, "thumb", {"w": 120, "format": "png"})
    url = sign("/photo.jpg", args={"profile": "thumb"})
    response = oc.get(url)
    assert response.headers["content-type"] == "image/png"
    assert decode(response.content).size == (120, 80)
    write_profile(root, "thumb", {"w": 90, "format": "png"})
    assert decode(oc.get(url).content).size == (90, 60)


def test_profiles_may_carry_text(oc: TestClient, sign: Sign, root: Path) -> None:
    write_profile(root, "brand", {"text": "BRAND", "text.size": 50})
    plain = get_image(oc, sign("/photo.jpg", query="w=400"))
    branded = get_image(oc, sign("/photo.jpg", args={"profile": "brand"}, query="w=400"))
    assert changed_fraction(plain, branded, (0.2, 0.4, 0.8, 0.6)) > 0.05


def test_unsigned_profile_is_fine_on_public_paths(oc: TestClient, root: Path) -> None:
    write_profile(root, "thumb", {"w": 60})
    assert decode(oc.get("/public/photo.jpg?profile=thumb").content).size == (60, 40)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no profile named 'ghost'"),
        ("{not json", "profile 'ghost' is not valid JSON"),
        ([1, 2], "profile 'ghost' must be a JSON object of strings, numbers and booleans"),
        ({"w": {"nested": 1}}, "profile 'ghost' must be a JSON object of strings, numbers and booleans"),
        ({"w": 0}, "w: must be 1..8192 or 1%..1000%"),
        ({"profile": "other"}, "a profile cannot name another profile"),
    ],
)
def test_a_broken_profile_is_a_400_naming_it(
    oc: TestClient, sign: Sign, root: Path, content: object, message: str
) -> None:
    if content is not None:
        write_profile(root, "ghost", content)
    response = oc.get(sign("/photo.jpg", args={"profile": "ghost"}))
    assert response.status_code == 400
    assert message in response.json()["parameters"]["profile"]


def test_a_strict_profile_applies_on_top_of_everything(overlay_settings: Settings, root: Path, sign: Sign) -> None:
    write_profile(root, "lock", {"w": 100, "text": "LOCKED"})
    strict = with_overrides(overlay_settings, rules=(Rule(prefix="/", profile="lock"),))
    client = TestClient(create_app(strict))
    response = client.get(sign("/photo.jpg", args={"w": 500}, query="w=50&q=70"))
    assert response.status_code == 200
    assert decode(response.content).size == (100, 67)
    assert response.headers["x-ignored-params"] == "w"


def test_a_strict_profile_that_breaks_later_fails_closed(overlay_settings: Settings, root: Path, sign: Sign) -> None:
    write_profile(root, "lock", {"text": "LOCKED"})
    client = TestClient(create_app(with_overrides(overlay_settings, rules=(Rule(prefix="/", profile="lock"),))))
    assert client.get(sign("/photo.jpg")).status_code == 200
    write_profile(root, "lock", "{broken")
    response = client.get(sign("/photo.jpg"))
    assert response.status_code == 400
    assert "profile (strict)" in response.json()["parameters"]


# ---- the lock: no unsigned parameter can strip or hide signed text --------------------------------

UNSIGNED = st.fixed_dictionaries(
    {},
    optional={
        "w": st.integers(40, 900).map(str) | st.sampled_from(["10%", "50%", "150%"]),
        "h": st.integers(40, 900).map(str),
        "s": st.integers(40, 900).map(str),
        "scale.option": st.sampled_from(["fit", "fill", "ignore", "noup"]),
        "cw": st.integers(40, 600).map(str) | st.sampled_from(["30%", "60%"]),
        "ch": st.integers(40, 600).map(str),
        "cx": st.sampled_from(["0", "center", "90%", "500"]),
        "cy": st.sampled_from(["0", "center", "90%", "500"]),
        "crop.aspectratio": st.sampled_from(["16:9", "1:1", "1:4"]),
        "rotate": st.sampled_from(["0", "90", "-90", "180", "33", "-120"]),
        "flip": st.sampled_from(["true", "false"]),
        "flop": st.sampled_from(["true", "false"]),
        "format": st.sampled_from(["jpg", "png", "webp", "gif", "original", "optimal"]),
        "q": st.integers(1, 100).map(str),
        "subsampling": st.sampled_from(["4:4:4", "4:2:0"]),
        "progressive": st.sampled_from(["true", "false"]),
    },
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unsigned=UNSIGNED)
def test_unsigned_parameters_cannot_remove_signed_text(client: TestClient, unsigned: dict[str, str]) -> None:
    from urllib.parse import urlencode

    query = urlencode(unsigned)
    with_text = make_token(args={"text": "PROOF", "text.size": 60, "text.color": "FF00FF", "text.outline.width": 2})
    without = make_token()
    a = client.get(f"/photo.jpg?{query}&jwt={with_text}")
    b = client.get(f"/photo.jpg?{query}&jwt={without}")
    reframing = {name for name in unsigned if name in ("cw", "ch", "cx", "cy", "crop.aspectratio")}
    if unsigned.get("scale.option") == "fill":
        reframing.add("scale.option")
    if reframing:  # choosing which part of the source is shown would let bands be stitched together
        assert a.status_code == 400
        assert a.json()["parameters"] == dict.fromkeys(reframing, "not allowed unsigned under a signed overlay")
        return
    assert a.status_code == b.status_code
    if a.status_code != 200:  # e.g. an output over the size limit: refused for both alike
        assert a.json() == b.json()
        return
    marked, plain = decode(a.content), decode(b.content)
    assert marked.size == plain.size
    assert changed_fraction(plain, marked) * plain.width * plain.height >= 50, unsigned  # drawn, not a speck
    assert changed_fraction(plain, marked, (0.3, 0.3, 0.7, 0.7)) > 0.01, unsigned  # centred, on the image


def test_bands_cannot_be_stitched_around_a_signed_overlay(oc: TestClient) -> None:
    token = make_token(args={"text": "© Studio", "text.size": 60, "watermark": "/watermark.png"})
    for query in ("ch=400&cy=0", "cw=300&cx=900", "crop.aspectratio=1:4", "w=1200&h=100&scale.option=fill"):
        response = oc.get(f"/photo.jpg?{query}&jwt={token}")
        assert response.status_code == 400, query
    # the page may still choose sizes
    assert oc.get(f"/photo.jpg?w=300&jwt={token}").status_code == 200
    assert oc.get(f"/photo.jpg?w=300&h=300&scale.option=fit&jwt={token}").status_code == 200
    # and crops stay free where no signed overlay is involved
    assert oc.get("/photo.jpg?ch=400&cy=0&jwt=" + make_token()).status_code == 200


def test_a_signed_overlay_cannot_be_faded_from_the_query_on_a_public_path(oc: TestClient) -> None:
    token = make_token(args={"text": "PAID", "text.size": 60, "text.color": "FF0000"})
    plain = get_image(oc, "/public/photo.jpg?w=400")
    marked = get_image(oc, f"/public/photo.jpg?w=400&jwt={token}")
    response = oc.get(f"/public/photo.jpg?w=400&text.opacity=0&text.color=00000000&jwt={token}")
    assert response.status_code == 200
    assert response.headers["x-ignored-params"] == "text.opacity, text.color"
    assert changed_fraction(marked, decode(response.content)) < 0.001
    assert changed_fraction(plain, decode(response.content), (0.2, 0.4, 0.8, 0.6)) > 0.05


def test_a_strict_overlay_on_a_public_rule_cannot_be_faded_or_moved(overlay_settings: Settings, root: Path) -> None:
    write_profile(root, "brand", {"watermark": "/public/logo.png", "watermark.position": "tile", "text": "BRAND"})
    rules = (Rule(prefix="/"), Rule(prefix="/public/", protect=False, profile="brand"))
    client = TestClient(create_app(with_overrides(overlay_settings, rules=rules)))
    branded = get_image(client, "/public/photo.jpg?w=600")
    tampered = client.get(
        "/public/photo.jpg?w=600&watermark.opacity=0&text.opacity=0&watermark.scale.width=1"
        "&watermark.position=southeast&text.color=00000000"
    )
    assert tampered.status_code == 200
    assert changed_fraction(branded, decode(tampered.content)) < 0.001
    assert set(tampered.headers["x-ignored-params"].split(", ")) == {
        "watermark.opacity",
        "text.opacity",
        "watermark.scale.width",
        "watermark.position",
        "text.color",
    }
    assert client.get("/public/photo.jpg?w=600&cy=0&ch=100").status_code == 400


def test_a_profile_speaks_with_the_authority_of_whoever_named_it(oc: TestClient, root: Path) -> None:
    write_profile(root, "stamp", {"watermark": "/private/secret.png", "watermark.scale.width": "100%"})
    public = oc.get("/public/photo.jpg?profile=stamp")
    assert public.status_code == 400
    assert public.json()["parameters"] == {"watermark": "is a protected image; only a token may name it"}
    wrong_key = oc.get("/photo.jpg?jwt=" + make_token(args={"profile": "stamp"}))
    assert wrong_key.status_code == 400
    assert wrong_key.json()["parameters"] == {"watermark": "is protected by a key this token was not signed with"}
    assert oc.get("/photo.jpg?jwt=" + make_token(args={"profile": "stamp"}, key=OTHER_KEY)).status_code == 200


def test_text64_and_text_are_one_parameter_across_layers(overlay_settings: Settings, root: Path) -> None:
    import base64

    write_profile(root, "lock", {"text": "LOCKED"})
    client = TestClient(create_app(with_overrides(overlay_settings, rules=(Rule(prefix="/", profile="lock"),))))
    encoded = base64.b64encode(b"mine").decode()
    response = client.get("/photo.jpg?w=200&jwt=" + make_token(args={"text.text64": encoded}))
    assert response.status_code == 200  # the strict profile's text wins; no 400 for the other spelling


def test_text64_obeys_the_text_rules(settings: Settings, sign: Sign) -> None:
    import base64

    client = TestClient(create_app(with_overrides(settings, max_text_length=5)))
    too_long = base64.b64encode(b"abcdef").decode()
    response = client.get(sign("/photo.jpg", args={"text.text64": too_long}))
    assert response.json()["parameters"] == {"text.text64": "must be at most 5 characters"}


def test_last_modified_follows_the_newer_of_image_and_watermark(oc: TestClient, sign: Sign, root: Path) -> None:
    os.utime(root / "photo.jpg", (1_600_000_000, 1_600_000_000))
    os.utime(root / "watermark.png", (1_700_000_000, 1_700_000_000))
    response = oc.get(sign("/photo.jpg", args={"watermark": "/watermark.png"}, query="w=50"))
    assert response.headers["last-modified"] == "Tue, 14 Nov 2023 22:13:20 GMT"


def test_profile_files_are_bounded_and_strict_about_repeats(oc: TestClient, sign: Sign, root: Path) -> None:
    write_profile(root, "big", '{"w": 50, "x": "' + "a" * 70_000 + '"}')
    response = oc.get(sign("/photo.jpg", args={"profile": "big"}))
    assert response.json()["parameters"]["profile"] == "profile 'big' is larger than 65536 bytes"
    write_profile(root, "twice", '{"w": 50, "w": 900}')
    response = oc.get(sign("/photo.jpg", args={"profile": "twice"}))
    assert "repeated parameter w" in response.json()["parameters"]["profile"]


def test_a_missing_profile_is_reported_with_every_other_problem(oc: TestClient) -> None:
    response = oc.get("/public/photo.jpg?profile=ghost&w=0")
    assert response.json()["parameters"] == {
        "profile": "no profile named 'ghost'",
        "w": "must be 1..8192 or 1%..1000%",
    }


def test_a_broken_strict_profile_refuses_to_start(overlay_settings: Settings, root: Path) -> None:
    from origin import ConfigError

    write_profile(root, "lock", {"w": 0})
    with pytest.raises(ConfigError, match="profile"):
        create_app(with_overrides(overlay_settings, rules=(Rule(prefix="/", profile="lock"),)))


def test_a_watermark_is_decoded_once_and_again_only_when_it_changes(
    oc: TestClient, sign: Sign, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from origin import routes as routes_module

    decoded: list[int] = []
    real = routes_module.load_mark

    def counting(data: bytes, *args: object, **kwargs: object) -> Image.Image:
        decoded.append(len(data))
        return real(data, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(routes_module, "load_mark", counting)
    for width in (100, 200, 300):
        assert oc.get(sign("/photo.jpg", args={"watermark": "/watermark.png"}, query=f"w={width}")).status_code == 200
    assert len(decoded) == 1
    Image.new("RGBA", (50, 20), (0, 0, 255, 255)).save(root / "watermark.png")
    assert oc.get(sign("/photo.jpg", args={"watermark": "/watermark.png"}, query="w=400")).status_code == 200
    assert len(decoded) == 2


def test_a_huge_watermark_is_decoded_no_larger_than_it_can_be_drawn(oc: TestClient, sign: Sign, root: Path) -> None:
    Image.new("RGB", (5000, 3000), (0, 200, 0)).save(root / "huge.jpg", quality=50)
    response = oc.get(sign("/photo.jpg", args={"watermark": "/huge.jpg", "watermark.opacity": 50}, query="w=300"))
    assert response.status_code == 200
    marks = list(oc.app.state.origin.marks._lru.values())  # type: ignore[attr-defined]
    assert len(marks) == 1 and max(marks[0].size) == 2048
