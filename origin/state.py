"""The collaborators one app shares between requests, built by ``create_app``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from origin.admin import AdminGate
from origin.auth import TokenMemo
from origin.cache import FailureCache, MarkCache, RenderCache
from origin.flight import SingleFlight
from origin.limiter import RenderLimiter
from origin.metrics import Metrics
from origin.once import UsedLinks
from origin.params import MergeMemo
from origin.profiles import ProfileStore
from origin.sessions import SessionStore
from origin.settings import Settings
from origin.shared_cache import SharedCache
from origin.store import SourceStore
from transforms import FontBook, Rendered, RenderLimits

if TYPE_CHECKING:
    from origin.routes import Sources


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    store: SourceStore  # the folder at `root`
    stores: Mapping[str, SourceStore]  # the [stores] tables, by name
    cache: RenderCache
    failures: FailureCache
    marks: MarkCache
    limiter: RenderLimiter
    flights: SingleFlight[tuple[Rendered, Sources, bool]]  # the render, what it read, whether it came from Redis
    profiles: ProfileStore
    fonts: FontBook
    limits: RenderLimits
    metrics: Metrics
    links: UsedLinks
    tokens: TokenMemo
    merges: MergeMemo
    admin: AdminGate | None = None  # set when ORIGIN_ADMIN_TOKEN is: minting and the studio
    sessions: SessionStore | None = None  # studio sessions, with admin
    shared: SharedCache | None = None  # the render cache replicas share, with redis_url

    def store_for(self, path: str) -> SourceStore:
        """The store holding ``path``: its rule's, else the folder at ``root``."""
        name = self.settings.rule_for(path).store
        return self.store if name is None else self.stores[name]
