"""A signed-URL image CDN origin: Starlette over the pure Pillow operations of ``transforms``."""

from __future__ import annotations

from origin.app import create_app
from origin.settings import ConfigError, Rule, Settings, load_settings
from origin.signing import sign_token, sign_url

__all__ = ["ConfigError", "Rule", "Settings", "create_app", "load_settings", "sign_token", "sign_url"]
