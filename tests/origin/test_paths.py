"""Canonical paths (SPEC §1): ``paths.canonical_path`` on raw request targets, and
``store.FolderStore.resolve`` confining a canonical path to the root with real symlinks."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from origin.errors import InvalidPathError
from origin.paths import canonical_path
from origin.store import FolderStore

# --- canonical_path -----------------------------------------------------------------------------

VALID = [
    pytest.param(b"/x.jpg", "/x.jpg", id="plain"),
    pytest.param(b"/a/b/c.jpg", "/a/b/c.jpg", id="nested"),
    pytest.param(b"/A/Photo.JPG", "/A/Photo.JPG", id="case-kept"),
    pytest.param(b"/a%20b.jpg", "/a b.jpg", id="encoded-space"),
    pytest.param(b"/caf%C3%A9.jpg", "/caf\u00e9.jpg", id="encoded-utf8"),
    pytest.param(b"/caf\xc3\xa9.jpg", "/caf\u00e9.jpg", id="raw-utf8"),
    pytest.param(b"/e%CC%81.jpg", "/e\u0301.jpg", id="decomposed-stays-decomposed"),
    pytest.param(b"/%EF%BC%8E%EF%BC%8E/x.jpg", "/\uff0e\uff0e/x.jpg", id="fullwidth-dots-stay-literal"),
    pytest.param(b"/%252e%252e/x.jpg", "/%2e%2e/x.jpg", id="double-encoded-dots-decoded-once"),
    pytest.param(b"/%25%32%65%25%32%65/x.jpg", "/%2e%2e/x.jpg", id="double-encoded-dots-spelled-out"),
    pytest.param(b"/.../x.jpg", "/.../x.jpg", id="three-dots-is-a-name"),
    pytest.param(b"/.hidden.jpg", "/.hidden.jpg", id="leading-dot-name"),
    pytest.param(b"/a..b.jpg", "/a..b.jpg", id="dots-inside-name"),
    pytest.param(b"/..a/x.jpg", "/..a/x.jpg", id="dot-dot-prefix-name"),
    pytest.param(b"/%41.jpg", "/A.jpg", id="encoded-letter"),
]

INVALID = [
    pytest.param(b"", id="empty"),
    pytest.param(b"x.jpg", id="relative"),
    pytest.param(b"%2Fx.jpg", id="leading-encoded-slash"),
    pytest.param(b"/../etc/passwd", id="dot-dot-first"),
    pytest.param(b"/a/../x.jpg", id="dot-dot-middle"),
    pytest.param(b"/a/..", id="dot-dot-last"),
    pytest.param(b"/..", id="dot-dot-only"),
    pytest.param(b"/./x.jpg", id="dot-first"),
    pytest.param(b"/a/./x.jpg", id="dot-middle"),
    pytest.param(b"/.", id="dot-only"),
    pytest.param(b"/%2e%2e/x.jpg", id="encoded-dot-dot"),
    pytest.param(b"/%2E%2E/x.jpg", id="encoded-dot-dot-upper"),
    pytest.param(b"/a/%2E%2E/x.jpg", id="encoded-dot-dot-middle"),
    pytest.param(b"/.%2e/x.jpg", id="half-encoded-dot-dot"),
    pytest.param(b"/%2e./x.jpg", id="other-half-encoded-dot-dot"),
    pytest.param(b"/%2e/x.jpg", id="encoded-dot"),
    pytest.param(b"/a%2Fb.jpg", id="encoded-slash-upper"),
    pytest.param(b"/a%2fb.jpg", id="encoded-slash-lower"),
    pytest.param(b"/%2e%2e%2fetc%2fpasswd", id="encoded-traversal"),
    pytest.param(b"/a%5cb.jpg", id="encoded-backslash-lower"),
    pytest.param(b"/a%5Cb.jpg", id="encoded-backslash-upper"),
    pytest.param(b"/a\\b.jpg", id="backslash"),
    pytest.param(b"/..\\x.jpg", id="backslash-traversal"),
    pytest.param(b"/a%00.jpg", id="encoded-nul"),
    pytest.param(b"/a\x00.jpg", id="raw-nul"),
    pytest.param(b"/a%0A.jpg", id="encoded-lf"),
    pytest.param(b"/a%0d.jpg", id="encoded-cr"),
    pytest.param(b"/a%09.jpg", id="encoded-tab"),
    pytest.param(b"/a%1F.jpg", id="encoded-unit-separator"),
    pytest.param(b"/a%7F.jpg", id="encoded-del"),
    pytest.param(b"/a%C2%85.jpg", id="encoded-c1-next-line"),
    pytest.param(b"/a\x01.jpg", id="raw-control"),
    pytest.param(b"//x.jpg", id="leading-double-slash"),
    pytest.param(b"/a//b.jpg", id="empty-segment-middle"),
    pytest.param(b"/x.jpg/", id="trailing-slash"),
    pytest.param(b"/%FF.jpg", id="encoded-invalid-utf8"),
    pytest.param(b"/%C3.jpg", id="encoded-truncated-utf8"),
    pytest.param(b"/%ED%A0%80.jpg", id="encoded-surrogate"),
    pytest.param(b"/%C0%AE%C0%AE/x.jpg", id="overlong-utf8-dots"),
    pytest.param(b"/\xff.jpg", id="raw-invalid-utf8"),
]


@pytest.mark.parametrize(("raw_path", "expected"), VALID)
def test_canonical_path_accepts(raw_path: bytes, expected: str) -> None:
    assert canonical_path(raw_path) == expected


@pytest.mark.parametrize("raw_path", INVALID)
def test_canonical_path_rejects(raw_path: bytes) -> None:
    with pytest.raises(InvalidPathError) as raised:
        canonical_path(raw_path)
    assert raised.value.status_code == 400
    assert raised.value.public_message == "invalid path"


_path_bytes = st.lists(
    st.sampled_from(
        [
            b"/",
            b".",
            b"..",
            b"a",
            b"\xc3\xa9",
            b"%2e",
            b"%2E",
            b"%2f",
            b"%5c",
            b"%00",
            b"%25",
            b"%",
            b"\\",
            b"%C3%A9",
            b"%FF",
            b"\x00",
            b"\x7f",
            b"x.jpg",
        ]
    ),
    max_size=12,
).map(b"".join) | st.binary(max_size=40)


@hypothesis_settings(max_examples=500, deadline=None, database=None)
@given(raw_path=_path_bytes)
def test_canonical_path_result_is_always_canonical(raw_path: bytes) -> None:
    """Whatever the bytes: ``InvalidPathError``, or a path that meets every rule of SPEC §1."""
    try:
        path = canonical_path(raw_path)
    except InvalidPathError:
        return
    assert path == unquote_to_bytes(raw_path).decode("utf-8")  # exactly one round of decoding
    assert b"%2f" not in raw_path.lower() and b"%5c" not in raw_path.lower()
    assert path.startswith("/")
    assert "\\" not in path
    assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F for char in path)
    assert all(segment not in ("", ".", "..") for segment in path[1:].split("/"))


# --- FolderStore.resolve with real symlinks -----------------------------------------------------


def build_layout(tmp_path: Path) -> Path:
    """tmp/root (the image root), tmp/root-evil and tmp/outside beside it, and symlinks in the root."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "x.jpg").write_bytes(b"inside")
    (root / "sub" / "y.jpg").write_bytes(b"inside too")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.jpg").write_bytes(b"secret")
    evil = tmp_path / "root-evil"  # shares the root's name as a string prefix
    evil.mkdir()
    (evil / "secret.jpg").write_bytes(b"secret")

    (root / "alias.jpg").symlink_to(root / "x.jpg")  # absolute, inside
    (root / "sub" / "relative-alias.jpg").symlink_to(Path("..") / "x.jpg")  # relative, inside
    (root / "linked-sub").symlink_to(root / "sub", target_is_directory=True)  # folder, inside
    (root / "escape.jpg").symlink_to(outside / "secret.jpg")  # absolute, outside
    (root / "relative-escape.jpg").symlink_to(Path("..") / "outside" / "secret.jpg")  # relative, outside
    (root / "sub" / "deep-escape.jpg").symlink_to(Path("..") / ".." / "outside" / "secret.jpg")
    (root / "linked-outside").symlink_to(outside, target_is_directory=True)  # folder, outside
    (root / "prefix-escape.jpg").symlink_to(evil / "secret.jpg")  # /tmp/root-evil starts with /tmp/root
    (root / "dangling-escape.jpg").symlink_to(outside / "missing.jpg")  # outside and missing
    (root / "hop.jpg").symlink_to(root / "escape.jpg")  # inside → inside → outside
    (root / "to-root").symlink_to(root, target_is_directory=True)  # the root itself
    (root / "etc-passwd.jpg").symlink_to("/etc/passwd")
    return root


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    return build_layout(tmp_path)


def store_for(root: Path) -> FolderStore:
    return FolderStore(root, 50 * 1024 * 1024)


@pytest.mark.parametrize(
    ("path", "target"),
    [
        pytest.param("/x.jpg", "x.jpg", id="file"),
        pytest.param("/sub/y.jpg", "sub/y.jpg", id="file-in-folder"),
        pytest.param("/alias.jpg", "x.jpg", id="symlink-inside-absolute"),
        pytest.param("/sub/relative-alias.jpg", "x.jpg", id="symlink-inside-relative"),
        pytest.param("/linked-sub/y.jpg", "sub/y.jpg", id="symlinked-folder-inside"),
        pytest.param("/to-root/x.jpg", "x.jpg", id="symlink-to-root-itself"),
        pytest.param("/missing.jpg", "missing.jpg", id="missing-file-inside"),
        pytest.param("/%2e%2e/x.jpg", "%2e%2e/x.jpg", id="literal-percent-name"),
    ],
)
def test_resolve_inside_root(layout: Path, path: str, target: str) -> None:
    resolved = store_for(layout).resolve(path)
    assert resolved == (layout / target).resolve()
    assert resolved.is_relative_to(layout.resolve())


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/escape.jpg", id="symlink-outside-absolute"),
        pytest.param("/relative-escape.jpg", id="symlink-outside-relative"),
        pytest.param("/sub/deep-escape.jpg", id="symlink-outside-from-subfolder"),
        pytest.param("/linked-outside/secret.jpg", id="symlinked-folder-outside"),
        pytest.param("/prefix-escape.jpg", id="sibling-sharing-root-name-prefix"),
        pytest.param("/dangling-escape.jpg", id="dangling-symlink-outside"),
        pytest.param("/hop.jpg", id="symlink-chain-ending-outside"),
        pytest.param("/etc-passwd.jpg", id="symlink-to-etc-passwd"),
    ],
)
def test_resolve_refuses_to_leave_root(layout: Path, path: str) -> None:
    with pytest.raises(InvalidPathError) as raised:
        store_for(layout).resolve(path)
    assert raised.value.status_code == 400
    assert raised.value.public_message == "invalid path"


def test_resolve_through_a_symlinked_root(layout: Path, tmp_path: Path) -> None:
    """A root given through a symlink still serves its own files and still confines."""
    link = tmp_path / "root-link"
    link.symlink_to(layout, target_is_directory=True)
    store = store_for(link)
    assert store.resolve("/x.jpg") == (layout / "x.jpg").resolve()
    with pytest.raises(InvalidPathError):
        store.resolve("/escape.jpg")


def test_resolve_symlink_loop_never_leaves_root(layout: Path) -> None:
    (layout / "loop-a.jpg").symlink_to(layout / "loop-b.jpg")
    (layout / "loop-b.jpg").symlink_to(layout / "loop-a.jpg")
    try:
        resolved = store_for(layout).resolve("/loop-a.jpg")
    except InvalidPathError:
        return
    assert resolved.is_relative_to(layout.resolve())


def test_resolve_sees_a_symlink_swapped_in_later(layout: Path) -> None:
    """Resolution happens per call: a file replaced by an outward symlink is refused from then on."""
    store = store_for(layout)
    victim = layout / "later.jpg"
    victim.write_bytes(b"inside")
    assert store.resolve("/later.jpg") == victim.resolve()
    victim.unlink()
    os.symlink(layout.parent / "outside" / "secret.jpg", victim)
    with pytest.raises(InvalidPathError):
        store.resolve("/later.jpg")


_segments = st.lists(
    st.sampled_from(
        [
            "x.jpg",
            "sub",
            "y.jpg",
            "escape.jpg",
            "linked-outside",
            "linked-sub",
            "to-root",
            "secret.jpg",
            "hop.jpg",
            "relative-escape.jpg",
            "prefix-escape.jpg",
            "missing",
        ]
    ),
    min_size=1,
    max_size=5,
)


@hypothesis_settings(max_examples=200, deadline=None, database=None)
@given(segments=_segments)
def test_resolve_never_returns_a_path_outside_root(
    tmp_path_factory: pytest.TempPathFactory, segments: list[str]
) -> None:
    root = _shared_layout(tmp_path_factory)
    path = "/" + "/".join(segments)
    try:
        resolved = store_for(root).resolve(path)
    except InvalidPathError:
        return
    assert resolved.is_relative_to(root.resolve())
    assert resolved == Path(os.path.realpath(root / path.lstrip("/")))


_LAYOUTS: dict[int, Path] = {}


def _shared_layout(factory: pytest.TempPathFactory) -> Path:
    """One layout for all Hypothesis examples (built like the ``layout`` fixture)."""
    key = id(factory)
    if key not in _LAYOUTS:
        _LAYOUTS[key] = build_layout(factory.mktemp("resolve"))
    return _LAYOUTS[key]
