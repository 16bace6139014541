"""The collaborators one app shares between requests, built by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from origin.cache import RenderCache
from origin.flight import SingleFlight
from origin.limiter import RenderLimiter
from origin.settings import Settings
from origin.store import SourceInfo, SourceStore
from transforms import Rendered, RenderLimits


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    store: SourceStore
    cache: RenderCache
    limiter: RenderLimiter
    flights: SingleFlight[tuple[Rendered, SourceInfo]]
    limits: RenderLimits
