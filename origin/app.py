"""The composition root: ``create_app(settings)`` wires every collaborator once."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from origin import minting, openapi, routes, studio
from origin.access import AccessLogMiddleware, configure_access_log
from origin.admin import AdminGate
from origin.auth import TokenMemo
from origin.cache import FailureCache, MarkCache, RenderCache
from origin.errors import EXCEPTION_HANDLERS, OriginError, ParameterError, UrlTooLongError, error_response
from origin.flight import SingleFlight
from origin.fonts import load_font_book
from origin.limiter import RenderLimiter
from origin.metrics import Metrics
from origin.once import FolderLinks, MemoryLinks, RedisLinks, UsedLinks
from origin.params import MergeMemo, merge_params
from origin.paths import CANONICAL_PATH, canonical_path
from origin.profiles import ProfileStore
from origin.sessions import SessionStore
from origin.settings import ConfigError, Settings, load_settings
from origin.shared_cache import SharedCache
from origin.state import AppState
from origin.store import FolderStore, make_store


class RequestTargetMiddleware:
    """Checks the request target before routing: 414 over ``max_url_length`` bytes, 400 for a
    path that is not canonical (SPEC §1). The canonical path is left in ``scope[CANONICAL_PATH]``.

    Done here rather than in the endpoint so that no path, however odd (a newline included), is
    answered by the router's own 404 instead.
    """

    def __init__(self, app: ASGIApp, max_url_length: int) -> None:
        self.app = app
        self.max_url_length = max_url_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
            try:
                if len(raw_path) + 1 + len(scope.get("query_string", b"")) > self.max_url_length:
                    raise UrlTooLongError()
                scope[CANONICAL_PATH] = canonical_path(raw_path)
            except OriginError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def used_links(settings: Settings, metrics: Metrics | None = None) -> UsedLinks:
    """Where one-time links are remembered: Redis, which replicas share (``once_redis_url``, else
    ``redis_url``); else a folder the workers of a host share; else this process."""
    url = settings.once_redis_url or settings.redis_url
    if url is not None:
        on_error = metrics.links_errors.inc if metrics is not None else None
        try:
            return RedisLinks(url, settings.once_grace, settings.jwt_leeway, settings.redis_timeout, on_error=on_error)
        except ImportError as exc:
            raise ConfigError(f"redis_url: needs pip install 'image-origin[redis]' ({exc.name})") from exc
    if settings.once_folder is not None:
        return FolderLinks(settings.once_folder, settings.once_grace, settings.jwt_leeway)
    return MemoryLinks(settings.once_grace, settings.once_max_entries, settings.jwt_leeway)


def create_app(settings: Settings) -> Starlette:
    # Pillow warns, and carries on, when it meets damaged EXIF while *opening* a JPEG or AVIF (before
    # any of our code runs). Such files are served like any other (orientation 1, as browsers do);
    # the warning would only be noise in the log, or a 500 where warnings are made errors.
    warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.TiffImagePlugin")
    metrics = Metrics()
    state = AppState(
        settings=settings,
        store=FolderStore(settings.root, settings.max_source_bytes),
        stores={name: make_store(config, settings.max_source_bytes) for name, config in settings.stores.items()},
        cache=RenderCache(settings.cache_max_bytes),
        failures=FailureCache(settings.broken_source_ttl),
        marks=MarkCache(settings.watermark_cache_bytes),
        limiter=RenderLimiter(settings.render_concurrency, settings.render_queue, settings.render_timeout, metrics),
        flights=SingleFlight(),
        profiles=ProfileStore(settings.profiles_dir),
        fonts=load_font_book(),
        limits=settings.render_limits,
        metrics=metrics,
        links=used_links(settings, metrics),
        tokens=TokenMemo(),
        merges=MergeMemo(),
        shared=_shared_cache(settings, metrics),
        admin=AdminGate(settings.admin_token) if settings.admin_token is not None else None,
        sessions=SessionStore() if settings.admin_token is not None else None,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if state.shared is not None:
            await state.shared.start()  # on the serving event loop, which its connections belong to
        yield
        if state.shared is not None:
            await state.shared.close()
        if isinstance(state.links, RedisLinks):
            state.links.close()
        for store in state.stores.values():
            close = getattr(store, "close", None)  # remote stores hold pooled connections
            if close is not None:
                close()
        state.limiter.close()

    app = Starlette(
        routes=[
            Route("/healthz", routes.healthz, methods=["GET", "HEAD"]),
            Route("/metrics", routes.metrics, methods=["GET"]),
            Route("/openapi.json", openapi.document, methods=["GET"]),
            Route("/v2/files/jwt", minting.mint_url, methods=["POST"]),
            Route("/studio", studio.page, methods=["GET"]),
            Route("/studio/login", studio.login, methods=["POST"]),
            Route("/studio/logout", studio.logout, methods=["POST"]),
            Route("/studio/static/{name}", studio.static_file, methods=["GET"]),
            Route("/studio/api/browse", studio.browse, methods=["GET"]),
            Route("/studio/api/options", studio.options, methods=["GET"]),
            Route("/studio/api/sign", studio.sign, methods=["POST"]),
            Route("/{path:path}", routes.image, methods=["GET", "HEAD"]),
        ],
        middleware=[
            Middleware(AccessLogMiddleware, metrics=metrics),
            Middleware(RequestTargetMiddleware, max_url_length=settings.max_url_length),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    _check_strict_profiles(state)
    app.state.origin = state
    return app


def _shared_cache(settings: Settings, metrics: Metrics) -> SharedCache | None:
    """The render cache that replicas share, when ``redis_url`` is set."""
    if settings.redis_url is None:
        return None
    return SharedCache(
        settings.redis_url,
        ttl=settings.redis_ttl,
        max_entry_bytes=settings.redis_max_entry_bytes,
        timeout=settings.redis_timeout,
        metrics=metrics,
    )


def _check_strict_profiles(state: AppState) -> None:
    """A rule's strict profile must load and merge cleanly, or the origin refuses to start."""
    for rule in state.settings.rules:
        if rule.profile is None:
            continue
        try:
            strict = state.profiles.load(rule.profile, label="profile")
            merge_params([], None, rule, state.settings, strict=strict)
        except ParameterError as exc:
            raise ConfigError(f"rules[{rule.prefix}].profile: {exc.problems}") from exc


def app_from_env() -> Starlette:
    """ASGI factory for ``uvicorn --factory origin.app:app_from_env`` (and for several workers)."""
    configure_access_log()
    return create_app(load_settings())
