"""The memo of merged options: the same request merges once, and nothing else shares its entry."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.params import MergeMemo, merge_params
from origin.settings import Rule
from tests.conftest import FIXTURES, SECRET, Sign, decode

SETTINGS = Settings(root=FIXTURES, keys={"main": SECRET})
RULE = Rule()


def test_a_signed_true_and_a_signed_1_are_different_requests() -> None:
    assert MergeMemo.key([], {"flip": True}, RULE) != MergeMemo.key([], {"flip": 1}, RULE)
    assert MergeMemo.key([("w", "1")], None, RULE) != MergeMemo.key([], {"w": "1"}, RULE)
    assert MergeMemo.key([], None, RULE) != MergeMemo.key([], None, Rule(prefix="/public/", protect=False))


def test_a_remembered_merge_is_the_merge() -> None:
    memo = MergeMemo()
    unsigned, signed = [("w", "300"), ("format", "webp")], {"q": 70}
    merged = merge_params(unsigned, signed, RULE, SETTINGS)
    memo.put(MergeMemo.key(unsigned, signed, RULE), merged)
    assert memo.get(MergeMemo.key(list(unsigned), dict(signed), RULE)) is merged
    assert memo.get(MergeMemo.key(unsigned, {"q": 71}, RULE)) is None


def test_the_memo_is_bounded() -> None:
    memo = MergeMemo(max_entries=4)
    keys = [MergeMemo.key([("w", str(w))], None, RULE) for w in range(1, 11)]
    for key in keys:
        memo.put(key, merge_params([], None, RULE, SETTINGS))
    assert [memo.get(key) is not None for key in keys] == [False] * 6 + [True] * 4


def test_a_changed_profile_applies_at_once(tmp_path: Path, sign: Sign) -> None:
    """Requests naming a profile are merged every time: the profile is a file that may change."""
    (tmp_path / "thumb.json").write_text(json.dumps({"w": 100}))
    settings = Settings(root=FIXTURES, keys={"main": SECRET}, profiles_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        url = sign("/photo.jpg", args={"profile": "thumb"})
        assert decode(client.get(url).content).width == 100
        (tmp_path / "thumb.json").write_text(json.dumps({"w": 120}))
        assert decode(client.get(url).content).width == 120
