"""Hostile source files, built from code at test time (no binary is ever committed).

Every builder returns ``bytes``. They are hand-assembled where a well-behaved encoder would refuse
to write the lie (a PNG header claiming 65535x65535, a JPEG SOF claiming 65000x65000, GIF frames
that add up to gigapixels) and use Pillow only for honest files in formats the origin must refuse
(TIFF, BMP, ICO, PDF, EPS ...).

Sizes are chosen so that the files stay small (kilobytes to a few hundred kilobytes) while what
they *claim* is huge: the point of the tests is that the origin decides from the header.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable

from PIL import Image, ImageCms

# --------------------------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_RGB = 2


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and a correct CRC-32 over type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_ihdr(width: int, height: int, *, bit_depth: int = 8, colour_type: int = PNG_RGB) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))


def png_idat_rgb(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 60), *, level: int = 9) -> bytes:
    """An IDAT chunk holding a real ``width`` x ``height`` single-colour RGB image.

    Streamed row by row (the first row unfiltered, the others filter "Up" with all-zero
    differences), so building a 12000x12000 image never holds its 432 MB of pixels in memory.
    """
    compressor = zlib.compressobj(level)
    parts = [compressor.compress(b"\x00" + bytes(colour) * width)]
    same_as_above = b"\x02" + bytes(3 * width)
    parts.extend(compressor.compress(same_as_above) for _ in range(height - 1))
    parts.append(compressor.flush())
    return png_chunk(b"IDAT", b"".join(parts))


def png_iend() -> bytes:
    return png_chunk(b"IEND", b"")


def png_claiming_size(width: int = 65535, height: int = 65535) -> bytes:
    """A tiny PNG (well under 100 bytes) whose IHDR claims ``width`` x ``height`` RGB pixels.

    The IDAT holds one row's worth of data: the header lies, every CRC is correct.
    """
    idat = png_chunk(b"IDAT", zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 16)))
    return PNG_SIGNATURE + png_ihdr(width, height) + idat + png_iend()


@functools.cache
def png_single_colour(width: int, height: int) -> bytes:
    """A genuine, valid single-colour RGB PNG: 12000x12000 (144 MP) compresses to ~450 KB."""
    return PNG_SIGNATURE + png_ihdr(width, height) + png_idat_rgb(width, height) + png_iend()


def small_png(width: int = 32, height: int = 24) -> tuple[bytes, bytes, bytes]:
    """(signature + IHDR, IDAT, IEND) of a small valid RGB PNG, for splicing chunks in between."""
    return PNG_SIGNATURE + png_ihdr(width, height), png_idat_rgb(width, height), png_iend()


def _ztxt(keyword: bytes, text_size: int) -> bytes:
    return png_chunk(b"zTXt", keyword + b"\x00\x00" + zlib.compress(b"A" * text_size, 9))


def _itxt(keyword: bytes, text_size: int) -> bytes:
    # keyword NUL, compression flag 1, method 0, language tag NUL, translated keyword NUL, text
    return png_chunk(b"iTXt", keyword + b"\x00\x01\x00" + b"en\x00" + b"\x00" + zlib.compress(b"A" * text_size, 9))


def png_text_bomb(kind: str, text_size: int, *, after_idat: bool = False) -> bytes:
    """A valid 32x24 PNG carrying one compressed text chunk (``zTXt`` or ``iTXt``) that inflates
    to ``text_size`` bytes (a few KB on disk), before or after the image data."""
    head, idat, iend = small_png()
    text = (_ztxt if kind == "zTXt" else _itxt)(b"Comment", text_size)
    return head + idat + text + iend if after_idat else head + text + idat + iend


def png_text_memory_bomb(chunks: int, text_size: int) -> bytes:
    """Many zTXt chunks, each just under the per-chunk limit, together past the total text limit."""
    head, idat, iend = small_png()
    texts = b"".join(_ztxt(b"Comment%d" % index, text_size) for index in range(chunks))
    return head + texts + idat + iend


# --------------------------------------------------------------------------------------------
# JPEG
# --------------------------------------------------------------------------------------------

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def small_jpeg(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def jpeg_with_sof_size(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a JPEG) with its frame header (SOFn) rewritten to claim ``width`` x ``height``.

    The scan data is left as it is, so the file decodes a tiny fraction of what it claims.
    """
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError("not a marker: the JPEG's segments could not be walked")
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _SOF_MARKERS:
            # FF Cn, length (2), precision (1), height (2), width (2)
            patched = bytearray(data)
            patched[position + 5 : position + 9] = struct.pack(">HH", height, width)
            return bytes(patched)
        position += 2 + length
    raise ValueError("no SOF marker found")


def truncated(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def jpeg_with_metadata(marker: str) -> bytes:
    """A 400x300 JPEG carrying GPS EXIF (plus camera make, model and date), XMP, an ICC profile
    (sRGB, so colour is unaffected) and a comment. ``marker`` is embedded in the EXIF, the XMP and
    the comment, so the tests can also look for it in the raw output bytes."""
    image = Image.new("RGB", (400, 300), (180, 90, 30))
    for x in range(0, 400, 20):  # some structure, so the encoder has real work
        image.paste((20, 160, 90), (x, 0, x + 10, 300))
    exif = Image.Exif()
    exif[0x010F] = "HostileCam"  # Make
    exif[0x0110] = f"Model {marker}"  # Model
    exif[0x0132] = "2024:01:02 03:04:05"  # DateTime
    exif[0x010E] = f"ImageDescription {marker}"
    exif[0x0112] = 1  # Orientation: as stored
    gps = {
        1: "N",  # GPSLatitudeRef
        2: (48.0, 51.0, 29.6),  # GPSLatitude (Paris)
        3: "E",  # GPSLongitudeRef
        4: (2.0, 17.0, 40.2),  # GPSLongitude
        6: 35.0,  # GPSAltitude
    }
    exif[0x8825] = gps  # GPSInfo IFD
    xmp = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/">'
        f"<dc:creator>{marker}</dc:creator><exif:GPSLatitude>48,51.49N</exif:GPSLatitude>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif, xmp=xmp, icc_profile=icc, comment=f"comment {marker}".encode())
    return buffer.getvalue()


def jpeg_with_exif(tiff: bytes) -> bytes:
    """A small valid JPEG with an APP1 ``Exif`` segment holding ``tiff`` (a TIFF structure)."""
    jpeg = small_jpeg()
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def image_with_exif(extension: str, tiff: bytes) -> bytes:
    """A small valid image (``jpg``, ``png``, ``webp`` or ``avif``) whose EXIF holds ``tiff``."""
    if extension == "jpg":
        return jpeg_with_exif(tiff)
    if extension == "png":
        head, idat, iend = small_png()
        return head + png_chunk(b"eXIf", tiff) + idat + iend
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # Pillow's AVIF writer parses the EXIF it embeds, and warns
        warnings.simplefilter("ignore")
        Image.new("RGB", (32, 24), (40, 120, 200)).save(buffer, extension.upper(), exif=b"Exif\x00\x00" + tiff)
    return buffer.getvalue()


def _ifd_entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
    return struct.pack(">HHI", tag, kind, count) + value


CORRUPT_EXIF: dict[str, bytes] = {
    # the IFD says 3 entries, the segment holds 1: "Corrupt EXIF data. Expecting to read 12 bytes"
    "ifd-count-lies": b"MM\x00*" + struct.pack(">IH", 8, 3) + _ifd_entry(0x010F, 2, 4, b"Cam\x00"),
    # the first IFD is 2 GB away: "Corrupt EXIF data. Expecting to read 2 bytes but only got 0"
    "ifd-offset-past-end": b"MM\x00*" + struct.pack(">I", 0x7FFF0000),
    # a 16 MB Make string in a 30-byte segment: "Tag data larger than file. Skipping tag 271"
    "tag-larger-than-file": b"MM\x00*"
    + struct.pack(">IH", 8, 1)
    + _ifd_entry(0x010F, 2, 0x00FFFFFF, struct.pack(">I", 26))
    + b"\x00" * 4,
}
"""Damaged EXIF blocks (TIFF structures), each of which makes Pillow's EXIF reader warn."""


# --------------------------------------------------------------------------------------------
# GIF
# --------------------------------------------------------------------------------------------

_LZW_MAX_CODE = 4095


def _sub_blocks(data: bytes) -> bytes:
    blocks = [bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(blocks) + b"\x00"


def lzw_uniform(pixel_count: int, index: int = 0, min_code_size: int = 2) -> bytes:
    """GIF LZW data for ``pixel_count`` pixels all of palette ``index``, as sub-blocks.

    A faithful replay of giflib's encoder (EGifCompressLine) on uniform input, one emitted code
    per run instead of one step per pixel: after a clear the table grows by runs of length
    2, 3, 4 ..., so the k-th code after a clear covers k pixels, and the table is cleared when
    full. A 100 MP frame costs ~75 KB and well under a second to build.
    """
    clear = 1 << min_code_size
    end = clear + 1
    bits = min_code_size + 1
    running = end + 1  # the next free code
    accumulator = 0
    filled = 0
    out = bytearray()

    def emit(code: int) -> None:
        nonlocal accumulator, filled, bits
        accumulator |= code << filled
        filled += bits
        while filled >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            filled -= 8
        if running >= (1 << bits) and code <= _LZW_MAX_CODE:
            bits += 1

    def code_for(run: int) -> int:
        return index if run == 1 else end + run - 1

    emit(clear)
    longest = 1  # the longest run the table holds
    remaining = pixel_count
    while remaining > 0:
        run = min(longest, remaining)
        remaining -= run
        emit(code_for(run))
        if remaining == 0:
            break
        if running >= _LZW_MAX_CODE:
            emit(clear)
            running = end + 1
            bits = min_code_size + 1
            longest = 1
        else:
            running += 1
            longest += 1
    emit(end)
    if filled:
        out.append(accumulator & 0xFF)
    return bytes([min_code_size]) + _sub_blocks(bytes(out))


_PALETTE = bytes([255, 255, 255, 200, 30, 60, 20, 160, 90, 0, 0, 0])  # 4 entries: white, red, green, black


def gif_header(width: int, height: int) -> bytes:
    # global colour table of 4 entries (size field 1), colour resolution 8 bits
    return b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80 | 0x70 | 0x01, 0, 0) + _PALETTE


def gif_loop() -> bytes:
    return b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"


def gif_frame(x: int, y: int, width: int, height: int, image_data: bytes, *, delay: int = 2) -> bytes:
    control = b"\x21\xf9\x04" + struct.pack("<BHB", 0x04, delay, 0) + b"\x00"  # dispose: keep
    descriptor = b"\x2c" + struct.pack("<HHHHB", x, y, width, height, 0)
    return control + descriptor + image_data


def gif_comment(text: bytes) -> bytes:
    return b"\x21\xfe" + _sub_blocks(text)


def gif_uniform(width: int, height: int, index: int = 1) -> bytes:
    """A valid single-frame GIF of one colour (for checking :func:`lzw_uniform`)."""
    return gif_header(width, height) + gif_frame(0, 0, width, height, lzw_uniform(width * height, index)) + b";"


def gif_many_frames(frames: int, width: int = 1, height: int = 1) -> bytes:
    """A valid animated GIF of ``frames`` tiny frames (10,000 1x1 frames is ~230 KB)."""
    frame_bytes = [gif_frame(0, 0, width, height, lzw_uniform(width * height, index)) for index in range(4)]
    return gif_header(width, height) + gif_loop() + b"".join(frame_bytes[i % 4] for i in range(frames)) + b";"


def gif_giant_frames(width: int, height: int, frames: int) -> bytes:
    """A valid animated GIF whose every frame covers the whole ``width`` x ``height`` screen:
    10000x10000 with 50 frames is 5 gigapixels of animation in ~4 MB."""
    data = [lzw_uniform(width * height, index) for index in (1, 2)]
    body = b"".join(gif_frame(0, 0, width, height, data[i % 2]) for i in range(frames))
    return gif_header(width, height) + gif_loop() + body + b";"


def gif_first_frame_outgrows_screen(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A small logical screen whose first frame's descriptor claims a much larger frame (with the
    data of a 1x1 image): a reader that sizes its canvas from the screen alone is fooled."""
    return gif_header(*screen) + gif_frame(0, 0, *frame, lzw_uniform(1, 1)) + b";"


def gif_late_giant_frame(width: int = 64, height: int = 48, giant: int = 60000) -> bytes:
    """A proper small first frame, then a second frame claiming ``giant`` x ``giant`` pixels.

    Only the first frame is ever used, so this one is legitimately fine (200)."""
    first = gif_frame(0, 0, width, height, lzw_uniform(width * height, 1))
    second = gif_frame(0, 0, giant, giant, lzw_uniform(1, 2))
    return gif_header(width, height) + gif_loop() + first + second + b";"


def gif_header_then_html() -> bytes:
    """``GIF89a`` and a plausible logical screen descriptor, then an HTML page with a script.

    The HTML holds ``,`` and ``!`` (GIF's image and extension introducers), so a lenient parser
    skipping unknown bytes may wander into it."""
    html = (
        b"<!DOCTYPE html><html><head><title>x, y</title></head><body>"
        b"<script>var a = [1, 2, 3]; fetch('/steal?c=' + document.cookie);</script></body></html>"
    )
    return b"GIF89a" + struct.pack("<HHBBB", 10, 10, 0, 0, 0) + html


def gif_js_polyglot() -> bytes:
    """A valid GIF that is also valid JavaScript (the classic GIF/JS polyglot).

    The logical screen width bytes are ``/*`` (10799 px), the JS payload sits in a comment
    extension, and bytes after the trailer close the comment: ``GIF89a/* ... */=1;alert(...)``.
    A browser that sniffed it as a script would run it; the origin must re-encode it (pixels only).
    """
    header = b"GIF89a/*" + struct.pack("<HBBB", 10, 0x80 | 0x70 | 0x01, 0, 0) + _PALETTE
    frame = gif_frame(0, 0, 64, 10, lzw_uniform(64 * 10, 2))
    payload = gif_comment(b"*/=1;alert(document.domain);/*")
    return header + frame + payload + b";*/=1;alert(document.cookie);//<script>alert(1)</script>"


# --------------------------------------------------------------------------------------------
# Other formats: everything outside the allowlist, each a genuine (small) file of its kind
# --------------------------------------------------------------------------------------------


def _pillow(fmt: str, mode: str = "RGB", size: tuple[int, int] = (48, 32), **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (10, 200, 30) if mode.startswith("RGB") else 128).save(buffer, fmt, **params)
    return buffer.getvalue()


def psd() -> bytes:
    """A minimal but complete 3-channel 8-bit PSD (Pillow can read these, not write them)."""
    width, height, channels = 16, 8, 3
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, channels, height, width, 8, 3)
    sections = struct.pack(">III", 0, 0, 0)  # colour mode data, image resources, layers: empty
    pixels = struct.pack(">H", 0) + bytes([90]) * (width * height * channels)  # raw
    return header + sections + pixels


def eps() -> bytes:
    """A real EPS (Pillow's writer), the kind Pillow would hand to Ghostscript to rasterise."""
    return _pillow("EPS")


def pdf() -> bytes:
    return _pillow("PDF")


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10000" height="10000">'
        b'<script>alert(1)</script><image href="file:///etc/passwd"/><rect width="10" height="10"/></svg>'
    )


def html() -> bytes:
    return b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)><script>alert(2)</script></body></html>"


def random_bytes(size: int = 4096, seed: int = 1234) -> bytes:
    return random.Random(seed).randbytes(size)


FOREIGN_FORMATS: dict[str, Callable[[], bytes]] = {
    "tiff": lambda: _pillow("TIFF", compression="tiff_deflate"),
    "psd": psd,
    "pdf": pdf,
    "eps": eps,
    "svg": svg,
    "html": html,
    "ico": lambda: _pillow("ICO", "RGBA", (32, 32)),
    "bmp": lambda: _pillow("BMP"),
    "empty": lambda: b"",
    "random": random_bytes,
    # "and the like": more formats Pillow can read, none of them on the allowlist
    "jpeg2000": lambda: _pillow("JPEG2000"),
    "tga": lambda: _pillow("TGA"),
    "pcx": lambda: _pillow("PCX"),
    "ppm": lambda: _pillow("PPM"),
    "xbm": lambda: _pillow("XBM", "1"),
    "dds": lambda: _pillow("DDS", "RGBA"),
    "qoi": lambda: _pillow("QOI"),
    "icns": lambda: _pillow("ICNS", "RGBA", (16, 16)),
}
"""Builders of files in formats the origin must never open, keyed by a short name."""


# --------------------------------------------------------------------------------------------
# WebP and AVIF headers that lie
# --------------------------------------------------------------------------------------------


def webp_claiming_size(data: bytes, width: int, height: int) -> bytes:
    """A lossy (``VP8 ``) WebP with the frame size in its key-frame header rewritten."""
    position = data.find(b"VP8 ")
    if position < 0:
        raise ValueError("not a simple lossy WebP")
    frame = position + 8  # chunk header
    if data[frame + 3 : frame + 6] != b"\x9d\x01\x2a":
        raise ValueError("VP8 start code not found")
    patched = bytearray(data)
    patched[frame + 6 : frame + 10] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return bytes(patched)


def avif_claiming_size(data: bytes, width: int, height: int) -> bytes:
    """An AVIF with every ``ispe`` (image spatial extents) property rewritten."""
    patched = bytearray(data)
    start = 0
    found = False
    while (position := data.find(b"ispe", start)) >= 0:
        # box type, version and flags (4), width (4), height (4)
        patched[position + 8 : position + 16] = struct.pack(">II", width, height)
        start = position + 4
        found = True
    if not found:
        raise ValueError("no ispe box found")
    return bytes(patched)


# --------------------------------------------------------------------------------------------
# Mutations for the property test
# --------------------------------------------------------------------------------------------


def flip_bits(data: bytes, positions: Iterable[int]) -> bytes:
    mutated = bytearray(data)
    for bit in positions:
        mutated[(bit // 8) % len(mutated)] ^= 1 << (bit % 8)
    return bytes(mutated)


def duplicate_slice(data: bytes, start: int, length: int, at: int) -> bytes:
    """``data`` with ``data[start:start+length]`` inserted again at ``at`` (chunk duplication)."""
    piece = data[start : start + length]
    return data[:at] + piece + data[at:]


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """``(offset, total length)`` of each chunk of a PNG, for chunk-level mutations."""
    chunks = []
    position = len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        total = 12 + length
        chunks.append((position, total))
        position += total
    return chunks


def png_fix_crcs(data: bytes) -> bytes:
    """``data`` with the CRC of every complete chunk recomputed, so that a mutation reaches the
    chunk's parser instead of being stopped by the checksum."""
    fixed = bytearray(data)
    for offset, total in png_chunks(data):
        if offset + total > len(data):
            break
        body = bytes(fixed[offset + 4 : offset + total - 4])
        fixed[offset + total - 4 : offset + total] = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return bytes(fixed)


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """``(offset, total length)`` of each JPEG marker segment before the entropy-coded scan."""
    segments = []
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        segments.append((position, 2 + length))
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            break
        position += 2 + length
    return segments


def riff_chunks(data: bytes) -> list[tuple[int, int]]:
    """``(offset, total length)`` of each chunk of a RIFF (WebP) file."""
    chunks = []
    position = 12
    while position + 8 <= len(data):
        (length,) = struct.unpack("<I", data[position + 4 : position + 8])
        total = 8 + length + (length & 1)
        chunks.append((position, total))
        position += total
    return chunks


def gif_blocks(data: bytes) -> list[tuple[int, int]]:
    """``(offset, total length)`` of each extension and image block of a GIF (after the header
    and global colour table)."""
    if len(data) < 13:
        return []
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    blocks = []
    while position < len(data) and data[position] in (0x21, 0x2C):
        start = position
        if data[position] == 0x21:
            position += 2
        else:
            if position + 10 > len(data):
                break
            local = data[position + 9]
            position += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
        while position < len(data) and data[position]:
            position += data[position] + 1
        position += 1
        blocks.append((start, position - start))
    return blocks
