"""Output-format negotiation (SPEC §5): which encoding a request gets, and whether it varies by Accept."""

from __future__ import annotations

from dataclasses import dataclass

from transforms import Encoding, OutputFormat

_FIXED = {
    OutputFormat.ORIGINAL: Encoding.SOURCE,
    OutputFormat.JPG: Encoding.JPEG,
    OutputFormat.PNG: Encoding.PNG,
    OutputFormat.WEBP: Encoding.WEBP,
    OutputFormat.AVIF: Encoding.AVIF,
    OutputFormat.GIF: Encoding.GIF,
}


@dataclass(frozen=True, slots=True)
class Negotiated:
    encoding: Encoding
    vary_accept: bool


def accepted_types(accept: str) -> frozenset[str]:
    """Media types the ``Accept`` header names explicitly with a q above 0 (wildcards do not count)."""
    types = set()
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            types.add(media.lower())
    return frozenset(types)


def negotiate(requested: OutputFormat, webp_fallback: OutputFormat | None, accept: str) -> Negotiated:
    """``optimal``: AVIF, then WebP, then JPEG/PNG by transparency. ``webp`` with a fallback: WebP when
    accepted, else the fallback. Anything else is fixed and does not vary."""
    if requested is OutputFormat.OPTIMAL:
        accepted = accepted_types(accept)
        if "image/avif" in accepted:
            return Negotiated(Encoding.AVIF, True)
        if "image/webp" in accepted:
            return Negotiated(Encoding.WEBP, True)
        return Negotiated(Encoding.CLASSIC, True)
    if requested is OutputFormat.WEBP and webp_fallback is not None:
        if "image/webp" in accepted_types(accept):
            return Negotiated(Encoding.WEBP, True)
        return Negotiated(_FIXED[webp_fallback], True)
    return Negotiated(_FIXED[requested], False)
