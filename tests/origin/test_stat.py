"""Where the folder's stat runs (the event loop by default, a worker thread when asked): the same
answers either way, including a file that changes between two requests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from origin import Settings, create_app
from origin.settings import ConfigError, load_settings
from tests.conftest import FIXTURES, SECRET, Sign, decode


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_changed_file_is_never_served_from_the_cache(tmp_path: Path, sign: Sign, in_thread: bool) -> None:
    shutil.copy(FIXTURES / "photo.jpg", tmp_path / "photo.jpg")
    settings = Settings(root=tmp_path, keys={"main": SECRET}, folder_stat_in_thread=in_thread)
    url = sign("/photo.jpg", query="w=120")
    with TestClient(create_app(settings)) as client:
        first = client.get(url)
        assert client.get(url).headers["x-cache"] == "HIT"
        shutil.copy(FIXTURES / "alpha.png", tmp_path / "photo.jpg")  # other bytes, same name
        os.utime(tmp_path / "photo.jpg", ns=(1, 1))
        changed = client.get(url)
        assert client.get(sign("/missing.jpg")).status_code == 404
    assert changed.headers["x-cache"] == "MISS" and changed.headers["etag"] != first.headers["etag"]
    assert decode(changed.content).size != decode(first.content).size


def test_the_setting_comes_from_toml_or_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "origin.toml"
    config.write_text(f'root = "{FIXTURES}"\nfolder_stat_in_thread = true\n')
    env = {"ORIGIN_JWT_SECRET": SECRET.decode()}
    assert load_settings(config_path=str(config), env=env).folder_stat_in_thread is True
    env_on = {**env, "ORIGIN_FOLDER_STAT_IN_THREAD": "true"}
    assert load_settings(root=str(FIXTURES), env=env_on).folder_stat_in_thread is True
    assert load_settings(root=str(FIXTURES), env=env).folder_stat_in_thread is False
    with pytest.raises(ConfigError, match="folder_stat_in_thread"):
        load_settings(root=str(FIXTURES), env={**env, "ORIGIN_FOLDER_STAT_IN_THREAD": "maybe"})
