"""The HTTP endpoints: thin, calling the modules in order (verify → parse → act)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from origin import auth, files
from origin.cache import MARK_MAX_SIDE
from origin.errors import AuthError, InvalidPathError, NotFoundError, OverloadedError, ParameterError
from origin.headers import Freshness, content_disposition, etag_matches, make_etag, max_age
from origin.negotiate import negotiate
from origin.once import Claim
from origin.params import Merged, MergeMemo, merge_params, parse_query, requested_profile
from origin.paths import CANONICAL_PATH, IMAGE_EXTENSIONS, extension, is_reserved
from origin.settings import Rule
from origin.state import AppState
from origin.store import FolderStore, SourceInfo
from transforms import (
    Assets,
    CorruptImageError,
    Encoding,
    ImageTooLargeError,
    Rendered,
    RenderOptions,
    RenderTimeoutError,
    TransformError,
    UnsupportedImageError,
    load_mark,
    render,
)

# Failures that belong to the files (for one output encoding): remembered for broken_source_ttl.
# Too many frames is not one of them: it depends on the output size too (max_animation_pixels).
SOURCE_ERRORS = (UnsupportedImageError, CorruptImageError, ImageTooLargeError)
Query = list[tuple[str, str]]


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def metrics(request: Request) -> Response:
    state: AppState = request.app.state.origin
    body = await anyio.to_thread.run_sync(state.metrics.exposition)  # multiprocess mode reads files
    return Response(body, media_type=state.metrics.content_type, headers={"Cache-Control": "no-store"})


async def image(request: Request) -> Response:
    state: AppState = request.app.state.origin
    settings = state.settings
    now = time.time()

    path: str = request.scope[CANONICAL_PATH]
    if is_reserved(path):
        raise NotFoundError()
    pairs = parse_query(request.scope.get("query_string", b""))
    tokens = [value for name, value in pairs if name == "jwt"]
    unsigned = [(name, value) for name, value in pairs if name != "jwt"]

    rule = settings.rule_for(path)
    claims = None
    if len(tokens) > 1:
        raise AuthError(auth.MALFORMED)
    if tokens:
        claims = auth.verify_token(tokens[0], path, rule, settings, now, state.tokens)
    elif rule.protect:
        raise AuthError(auth.MISSING)

    kind = extension(path)
    is_file = kind in settings.passthrough_types and kind not in IMAGE_EXTENSIONS
    claim = None
    if claims is not None and claims.once:  # the stores of used links block (a folder, Redis): in a thread
        assert claims.jti is not None
        ranged = is_file and "range" in request.headers  # an image answers Range with all of it: no resumes
        if request.method == "HEAD":  # not a download: refused like one, but it uses nothing up
            await anyio.to_thread.run_sync(state.links.check, claims.key_id, claims.jti, path, ranged, now)
        else:
            claim = await anyio.to_thread.run_sync(
                state.links.admit, claims.key_id, claims.jti, path, claims.expires_at, ranged, now
            )
    try:
        if is_file:
            response = await _file(request, state, path, rule, claims, unsigned)
        else:
            response = await _image(request, state, path, rule, claims, unsigned)
    except BaseException:
        if claim is not None:  # nothing was served: the link is still unused
            await _settle(state, claim, delivered=False)
        raise
    if claims is not None and claims.once:  # no shared cache may keep what only one download may fetch
        response.headers["Cache-Control"] = "private, no-store"
        del response.headers["Expires"]
    if claim is not None and claim.first:
        if isinstance(response, files.OpenFileResponse):  # settled when it starts: a bad Range is a 416
            response.on_start = partial(_settle_on_status, state, claim)
        else:
            await _settle(state, claim, delivered=True)
    return response


async def _settle(state: AppState, claim: Claim, *, delivered: bool) -> None:
    """A first claim's outcome: delivered (resumes may follow), or given back. Shielded: it completes
    even when the client has gone away."""
    with anyio.CancelScope(shield=True):
        if delivered:
            await anyio.to_thread.run_sync(state.links.delivered, claim, time.time())
        else:
            await anyio.to_thread.run_sync(state.links.release, claim)


async def _settle_on_status(state: AppState, claim: Claim, status: int) -> None:
    await _settle(state, claim, delivered=status < 400)


async def _image(
    request: Request, state: AppState, path: str, rule: Rule, claims: auth.Claims | None, unsigned: Query
) -> Response:
    settings = state.settings
    signed = claims.args if claims else None
    merged = await merge_layers(state, unsigned, signed, rule)
    info = await stat(state, path)  # first: a path that leads out of the root is a 400 whatever its name
    if extension(path) not in IMAGE_EXTENSIONS:
        raise NotFoundError("only images and the passthrough_types are served")
    mark = await watermark_source(state, merged, claims)

    output = merged.options.output
    negotiated = negotiate(output.format, output.webp_fallback, request.headers.get("accept", ""))
    options_key = merged.options.cache_key(negotiated.encoding)
    rule_max_age = settings.cache_max_age if rule.cache_max_age is None else rule.cache_max_age
    token_expiry = claims.expires_at if claims is not None and rule.protect else None

    def cache_key(sources: Sources) -> tuple[str, ...]:
        return (*sources.versions_and_paths, options_key)

    def freshness(sources: Sources) -> dict[str, str]:
        """Caching headers, timed when the response leaves: a CDN counts max-age from its arrival,
        so a slow render must not stretch an entry past the token's exp."""
        sent = time.time()
        return Freshness(
            etag=make_etag(*cache_key(sources)),
            last_modified=sources.mtime,
            max_age=max_age(rule_max_age, token_expiry, sent),
            now=sent,
            vary_accept=negotiated.vary_accept,
        ).headers()

    sources = Sources(info, mark)
    key = cache_key(sources)
    headers = freshness(sources)
    headers["Access-Control-Allow-Origin"] = settings.cors_allow_origin
    headers["X-Content-Type-Options"] = "nosniff"
    if claims is not None:
        headers["X-Auth-Result"] = "ok"
    if merged.ignored:
        headers["X-Ignored-Params"] = ", ".join(merged.ignored)

    if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)

    cached = state.cache.get(key)
    if cached is not None:
        rendered = cached
        headers["X-Cache"] = "HIT"
    else:
        started = time.perf_counter()
        known_failure = state.failures.get(_failure_key(sources, negotiated.encoding))
        if known_failure is not None:  # parsed moments ago and found broken: not again for every request
            raise type(known_failure)(known_failure.message)

        async def read_render_keep() -> tuple[Rendered, Sources]:
            began = time.perf_counter()
            try:
                rendered, current = await state.limiter.run(
                    _remembering_failures,
                    state,
                    sources,
                    merged.options,
                    negotiated.encoding,
                    state.limiter.deadline(),
                )
            except RenderTimeoutError:
                state.metrics.render_timeouts.inc()
                raise
            except (OverloadedError, TransformError):
                raise  # refusals are counted by the limiter, broken sources in the render thread
            except Exception:
                state.metrics.render_failures.inc()
                raise
            state.metrics.renders.inc()
            state.metrics.render_seconds.observe(time.perf_counter() - began)
            state.cache.put(cache_key(current), rendered)
            state.metrics.cache_bytes.set(state.cache.current_bytes)
            return rendered, current

        async def shared_or_render() -> tuple[Rendered, Sources, bool]:
            """Another replica's render from Redis, else our own, published there without waiting."""
            if state.shared is not None:
                found = await state.shared.get(key)
                if found is not None:
                    state.cache.put(key, found)
                    state.metrics.cache_bytes.set(state.cache.current_bytes)
                    return found, sources, True
            rendered, current = await read_render_keep()
            if state.shared is not None:
                state.shared.publish(cache_key(current), rendered)
            return rendered, current, False

        (rendered, current, from_redis), shared = await state.flights.run(key, shared_or_render)
        if shared:
            state.metrics.coalesced.inc()
        headers.update(freshness(current))  # what was read (a file may have changed since the stat), timed now
        headers["X-Cache"] = "MISS"
        if state.shared is not None:
            headers["X-Cache-Shared"] = "HIT" if from_redis else "MISS"
        if not shared and not from_redis:
            headers["Server-Timing"] = _server_timing(rendered, time.perf_counter() - started)
    headers["Content-Disposition"] = content_disposition(path, rendered.extension, merged.download)
    return Response(rendered.body, headers=headers, media_type=rendered.media_type)


async def _file(
    request: Request, state: AppState, path: str, rule: Rule, claims: auth.Claims | None, unsigned: Query
) -> Response:
    """A passthrough file, streamed as it is (``origin.files``)."""
    settings = state.settings
    signed = claims.args if claims else None
    download = files.wants_download(unsigned, signed, rule, settings.max_output_dimension)
    fd, info = await anyio.to_thread.run_sync(state.store_for(path).open_file, path)
    try:
        rule_max_age = settings.cache_max_age if rule.cache_max_age is None else rule.cache_max_age
        token_expiry = claims.expires_at if claims is not None and rule.protect else None
        sent = time.time()
        headers = Freshness(
            etag=make_etag(info.path, info.version),
            last_modified=info.mtime,
            max_age=max_age(rule_max_age, token_expiry, sent),
            now=sent,
            vary_accept=False,
        ).headers()
        headers["Access-Control-Allow-Origin"] = settings.cors_allow_origin
        headers["X-Content-Type-Options"] = "nosniff"
        if claims is not None:
            headers["X-Auth-Result"] = "ok"
        kind = extension(path)
        headers["Content-Disposition"] = content_disposition(path, kind, download)
        if etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
            os.close(fd)
            return Response(status_code=304, headers=headers)
        return files.OpenFileResponse(fd, headers, files.media_type(kind))
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True, slots=True)
class Sources:
    """The files one render reads: the image and, when asked for, the watermark."""

    image: SourceInfo
    watermark: SourceInfo | None = None

    @property
    def versions_and_paths(self) -> tuple[str, ...]:
        """Which files, in which versions: what a cache entry, an ETag and a decoding failure belong
        to (the version alone, mtime and size, is the same for two different files often enough)."""
        mark = (self.watermark.path, self.watermark.version) if self.watermark else ()
        return (self.image.path, self.image.version, *mark)

    @property
    def mtime(self) -> float:
        return max(self.image.mtime, self.watermark.mtime if self.watermark else 0.0)


async def merge_layers(
    state: AppState, unsigned: list[tuple[str, str]], signed: Mapping[str, auth.ArgValue] | None, rule: Rule
) -> Merged:
    """Merge the layers, loading the requested and the strict profile off the event loop. A profile
    that cannot be loaded is reported together with every other failing parameter."""
    problems: dict[str, str] = {}

    async def load(name: str, label: str) -> dict[str, auth.ArgValue] | None:
        try:
            return await anyio.to_thread.run_sync(partial(state.profiles.load, name, label=label))
        except ParameterError as exc:
            problems.update(exc.problems)
            return None

    requested = requested_profile(unsigned, signed, rule)
    memo_key = None
    if requested is None and rule.profile is None:
        memo_key = MergeMemo.key(unsigned, signed, rule)
        remembered = state.merges.get(memo_key)
        if remembered is not None:
            return remembered
    profile = await load(requested.name, "profile") if requested else None
    strict = await load(rule.profile, "profile (strict)") if rule.profile is not None else None
    try:
        merged = merge_params(
            unsigned,
            signed,
            rule,
            state.settings,
            profile=profile,
            profile_origin=requested.origin if requested else "args",
            strict=strict,
        )
    except ParameterError as exc:
        raise ParameterError({**exc.problems, **problems}) from exc
    if problems:
        raise ParameterError(problems)
    if memo_key is not None:
        state.merges.put(memo_key, merged)
    return merged


async def watermark_source(state: AppState, merged: Merged, claims: auth.Claims | None) -> SourceInfo | None:
    """The watermark's file, if one is asked for. A watermark never reveals a protected image: one
    from the unsigned query must itself be public, one from a token must be signable by its key."""
    spec = merged.options.watermark
    if spec is None:
        return None
    rule = state.settings.rule_for(spec.path)
    if rule.protect and merged.watermark_origin == "query":  # the query's own, or a profile it asked for
        raise ParameterError({"watermark": "is a protected image; only a token may name it"})
    if rule.protect and merged.watermark_origin == "args":
        assert claims is not None
        if claims.key_id not in state.settings.keys_for(rule):
            raise ParameterError({"watermark": "is protected by a key this token was not signed with"})
    try:
        return await stat(state, spec.path)
    except (NotFoundError, InvalidPathError) as exc:
        raise ParameterError({"watermark": f"no image at {spec.path}"}) from exc


async def stat(state: AppState, path: str) -> SourceInfo:
    """The version of the file at ``path``. A local folder answers in microseconds, so by default it
    is asked on the event loop (a thread hop costs more than the stat); a remote store, or a folder
    on a network filesystem (``folder_stat_in_thread``), is asked in a worker thread."""
    store = state.store_for(path)
    if isinstance(store, FolderStore) and not state.settings.folder_stat_in_thread:
        return store.stat(path)
    return await anyio.to_thread.run_sync(store.stat, path)


def _read_and_render(
    state: AppState, sources: Sources, options: RenderOptions, encoding: Encoding, deadline: float
) -> tuple[Rendered, Sources]:
    """The whole miss in one render thread: read each file once, render once."""
    data, image = state.store_for(sources.image.path).read(sources.image)
    decoded, mark = None, sources.watermark
    if mark is not None:
        decoded = state.marks.get((mark.path, mark.version))
        if decoded is None:
            mark_data, mark = state.store_for(mark.path).read(mark)
            decoded = load_mark(mark_data, state.limits, max_side=MARK_MAX_SIDE)
            state.marks.put((mark.path, mark.version), decoded)
    assets = Assets(fonts=state.fonts, watermark=decoded)
    rendered = render(data, options, encoding, state.limits, assets=assets, deadline=deadline)
    return rendered, Sources(image, mark)


def _remembering_failures(
    state: AppState, sources: Sources, options: RenderOptions, encoding: Encoding, deadline: float
) -> tuple[Rendered, Sources]:
    """``_read_and_render``, noting a broken file at once, in the render thread, so that renders of it
    still waiting for a slot find it noted and do not parse it again."""
    known_failure = state.failures.get(_failure_key(sources, encoding))
    if known_failure is not None:  # found broken while this render waited for its slot
        raise type(known_failure)(known_failure.message)
    try:
        return _read_and_render(state, sources, options, encoding, deadline)
    except SOURCE_ERRORS as exc:
        state.failures.put(_failure_key(sources, encoding), exc)
        state.metrics.render_failures.inc()
        raise


def _failure_key(sources: Sources, encoding: Encoding) -> tuple[str, ...]:
    """A broken file is broken for one kind of output: a GIF whose later frames are damaged, or that
    has more frames than an animation may keep, still gives its first frame as a JPEG."""
    return (*sources.versions_and_paths, encoding.value)


def _server_timing(rendered: Rendered, total: float) -> str:
    parts = [
        ("decode", rendered.decode_seconds),
        ("transform", rendered.transform_seconds),
        ("encode", rendered.encode_seconds),
        ("total", total),
    ]
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in parts)
