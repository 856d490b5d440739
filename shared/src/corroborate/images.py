"""Working copies of photographs without the metadata that could identify or locate a survivor.

The original is kept unchanged as evidence; clinicians see a copy with no EXIF (GPS position,
camera serial, timestamps), XMP, IPTC or comments. JPEG and PNG are stripped losslessly as they
stream, by copying every segment or chunk except the metadata ones. TIFF and HEIC/HEIF are decoded
and re-encoded as PNG, which carries nothing but the pixels and the colour profile.

Dropping EXIF also drops its Orientation tag, which turns a JPEG photographed sideways; the
strippers report it as ``orientation`` so a viewer can still show the copy upright.
"""

from __future__ import annotations

import functools
import io
import struct
import threading
from abc import ABC, abstractmethod
from typing import Literal

import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from corroborate.evidence import ContentType

WORKING_COPY_TYPE: dict[str, str] = {
    ContentType.JPEG: ContentType.JPEG,
    ContentType.PNG: ContentType.PNG,
    ContentType.TIFF: ContentType.PNG,
    ContentType.HEIC: ContentType.PNG,
    ContentType.HEIF: ContentType.PNG,
}

_EXIF_ORIENTATION = 0x0112
_EXIF_SHORT = 3


def _exif_orientation(tiff: bytes) -> int:
    """The Orientation tag in IFD0 of an EXIF block; 1 (as stored) if absent or unreadable."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    orders: dict[bytes, Literal["little", "big"]] = {b"II": "little", b"MM": "big"}
    order = orders.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1

    def number(at: int, width: int) -> int:
        return int.from_bytes(tiff[at : at + width], order)

    directory = number(4, 4)
    for index in range(number(directory, 2) if directory + 2 <= len(tiff) else 0):
        entry = directory + 2 + 12 * index
        if entry + 12 > len(tiff):
            break
        if number(entry, 2) == _EXIF_ORIENTATION and number(entry + 2, 2) == _EXIF_SHORT:
            value = number(entry + 8, 2)
            return value if 1 <= value <= 8 else 1
    return 1


class MetadataStripper(ABC):
    """Copies an image through minus its metadata, holding no more than one 64 KiB segment.

    ``feed`` the original in order and concatenate what it and ``finish`` return. ``orientation``
    is the EXIF Orientation the original carried (1 when none), for whoever displays the copy.
    """

    _truncated = "the image ended before its last segment"

    def __init__(self) -> None:
        self.orientation = 1
        self._out = bytearray()
        self._done = False

    def feed(self, chunk: bytes) -> bytes:
        self._consume(chunk)
        out = bytes(self._out)
        self._out.clear()
        return out

    def finish(self) -> bytes:
        """The last output; ValueError if the original ended inside a segment or chunk."""
        if not self._done:
            raise ValueError(self._truncated)
        return self.feed(b"")

    @abstractmethod
    def _consume(self, chunk: bytes) -> None:
        """Parse ``chunk`` onwards, appending what is kept to the output (per format)."""


_SOI = b"\xff\xd8"
_EOI = 0xD9
_SOS = 0xDA
_APP0 = 0xE0
_APP1 = 0xE1
_APP2 = 0xE2
_APP14 = 0xEE
_APP15 = 0xEF
_COM = 0xFE
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn carry no length
_JFIF_FIXED = 14  # "JFIF\0", version, units, densities, thumbnail width and height


def _is_entropy_data(marker: int) -> bool:
    # Inside a scan, FF 00 is a stuffed FF byte and FF D0..D7 a restart marker: both are data.
    return marker == 0x00 or 0xD0 <= marker <= 0xD7


class _JpegStripper(MetadataStripper):
    """Walks the marker segments, drops the metadata ones, and copies each scan unchanged.

    Dropped: APP1 (Exif, XMP), APP13 (IPTC, Photoshop), COM, and every other APPn except APP0
    JFIF (its thumbnail removed), APP2 ICC_PROFILE and APP14 Adobe, which decoders need for colour.
    Anything after EOI (maker trailers, motion-photo video) is dropped as well.
    """

    _truncated = "the JPEG image ended before its end-of-image marker"

    def __init__(self) -> None:
        super().__init__()
        self._stage = "start"  # start -> marker -> length -> segment -> (scan | marker)
        self._segment = bytearray()
        self._need = 2
        self._ff_pending = False  # the scan data so far ends on an FF whose meaning is unknown

    def _consume(self, chunk: bytes) -> None:
        at = 0
        while not self._done:
            if self._stage == "scan":
                if at == len(chunk):
                    return
                at = self._copy_scan(chunk, at)
            elif len(self._segment) < self._need:
                if at == len(chunk):
                    return
                take = min(self._need - len(self._segment), len(chunk) - at)
                self._segment += chunk[at : at + take]
                at += take
            else:
                self._step()

    def _expect_marker(self, pending: bytes = b"") -> None:
        self._stage, self._need, self._segment = "marker", 2, bytearray(pending)

    def _step(self) -> None:
        segment = self._segment
        if self._stage == "start":
            if segment != _SOI:
                raise ValueError("not a JPEG image")
            self._out += segment
            self._expect_marker()
        elif self._stage == "marker":
            self._read_marker(segment)
        elif self._stage == "length":
            length = int.from_bytes(segment[2:4], "big")
            if length < 2:
                raise ValueError("the JPEG image has a segment with an impossible length")
            self._stage, self._need = "segment", 2 + length
        else:
            marker = segment[1]
            self._out += self._kept(marker, bytes(segment))
            if marker == _SOS:
                self._stage, self._segment = "scan", bytearray()
            else:
                self._expect_marker()

    def _read_marker(self, segment: bytearray) -> None:
        if segment[0] != 0xFF:
            raise ValueError("the JPEG image has stray bytes where a marker belongs")
        marker = segment[1]
        if marker == 0xFF:  # a fill byte before the marker
            self._expect_marker(b"\xff")
        elif marker == _EOI:
            self._out += segment
            self._done = True
        elif marker in _STANDALONE:
            self._out += segment
            self._expect_marker()
        elif marker in {0x00, 0xD8}:
            raise ValueError("the JPEG image has a marker out of place")
        else:
            self._stage, self._need = "length", 4

    def _kept(self, marker: int, segment: bytes) -> bytes:
        payload = segment[4:]
        if marker == _APP0:
            return _jfif_without_thumbnail(payload)
        if marker == _APP1 and payload.startswith(b"Exif\x00\x00"):
            self.orientation = _exif_orientation(payload)
        keep = (
            not (_APP0 <= marker <= _APP15 or marker == _COM)
            or (marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00"))
            or (marker == _APP14 and payload.startswith(b"Adobe"))
        )
        return segment if keep else b""

    def _copy_scan(self, chunk: bytes, at: int) -> int:
        """Copy entropy-coded data up to the next marker; return where the marker starts."""
        if self._ff_pending:
            self._ff_pending = False
            if _is_entropy_data(chunk[at]):
                self._out += bytes((0xFF, chunk[at]))
                return at + 1
            self._expect_marker(b"\xff")
            return at
        found = chunk.find(b"\xff", at)
        while found != -1:
            if found + 1 == len(chunk):
                self._out += chunk[at:found]
                self._ff_pending = True
                return len(chunk)
            if not _is_entropy_data(chunk[found + 1]):
                self._out += chunk[at:found]
                self._expect_marker()
                return found
            found = chunk.find(b"\xff", found + 2)
        self._out += chunk[at:]
        return len(chunk)


def _jfif_without_thumbnail(payload: bytes) -> bytes:
    # JFIF may embed an uncropped thumbnail; keep the header with a 0x0 one. Other APP0 (JFXX) go.
    if not payload.startswith(b"JFIF\x00") or len(payload) < _JFIF_FIXED:
        return b""
    header = payload[: _JFIF_FIXED - 2] + b"\x00\x00"
    return b"\xff\xe0" + (2 + len(header)).to_bytes(2, "big") + header


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# eXIf, text and time chunks, plus exIf and zxIf, the names EXIF had before eXIf was registered.
_PNG_METADATA = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME", b"exIf", b"zxIf"})
_PNG_MAX_CHUNK = 2**31 - 1
_EXIF_READ_LIMIT = 0xFFFF  # a larger eXIf chunk is dropped without reading its orientation


class _PngStripper(MetadataStripper):
    """Copies whole chunks, CRC included, except the metadata chunks; stops after IEND."""

    _truncated = "the PNG image ended before its IEND chunk"

    def __init__(self) -> None:
        super().__init__()
        self._header = bytearray()
        self._need = len(_PNG_SIGNATURE)
        self._signed = False
        self._in_body = False
        self._remaining = 0  # data and CRC bytes of the current chunk still to pass
        self._keep = False
        self._kind = b""
        self._exif: bytearray | None = None

    def _consume(self, chunk: bytes) -> None:
        at = 0
        while not self._done:
            if self._in_body and not self._remaining:
                self._end_chunk()
            elif at == len(chunk):
                return
            elif self._in_body:
                step = min(self._remaining, len(chunk) - at)
                part = chunk[at : at + step]
                if self._keep:
                    self._out += part
                elif self._exif is not None:
                    self._exif += part
                self._remaining -= step
                at += step
            else:
                take = min(self._need - len(self._header), len(chunk) - at)
                self._header += chunk[at : at + take]
                at += take
                if len(self._header) == self._need:
                    self._read_header()

    def _read_header(self) -> None:
        header, self._header = bytes(self._header), bytearray()
        if not self._signed:
            if header != _PNG_SIGNATURE:
                raise ValueError("not a PNG image")
            self._out += header
            self._signed, self._need = True, 8
            return
        length, self._kind = struct.unpack(">I4s", header)
        if length > _PNG_MAX_CHUNK or not self._kind.isalpha():
            raise ValueError("the PNG image has a malformed chunk")
        self._keep = self._kind not in _PNG_METADATA
        if self._keep:
            self._out += header
        if self._kind in {b"eXIf", b"exIf"} and length <= _EXIF_READ_LIMIT:
            self._exif = bytearray()
        self._in_body, self._remaining = True, length + 4

    def _end_chunk(self) -> None:
        if self._exif is not None:
            self.orientation = _exif_orientation(bytes(self._exif[:-4]))
            self._exif = None
        self._in_body = False
        self._done = self._kind == b"IEND"


def stripper_for(content_type: str) -> MetadataStripper | None:
    """A streaming stripper for the types that can be stripped losslessly (JPEG, PNG)."""
    if content_type == ContentType.JPEG:
        return _JpegStripper()
    if content_type == ContentType.PNG:
        return _PngStripper()
    return None


_REENCODED_FORMATS = ("TIFF", "HEIF")
_PNG_MODES = frozenset({"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"})


@functools.cache
def _register_heif_opener() -> None:
    # Once, on first use: registering loads libheif and changes Pillow's global registry.
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)


def reencode_without_metadata(data: bytes, *, max_pixels: int = 80_000_000) -> bytes:
    """A PNG of the first picture in a TIFF, HEIC or HEIF file: upright, without any metadata.

    ValueError if the bytes do not decode as one of those formats or the picture has more than
    ``max_pixels`` pixels (checked from the header, before anything is decoded).
    """
    _register_heif_opener()
    try:
        with Image.open(io.BytesIO(data), formats=_REENCODED_FORMATS) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ValueError(
                    f"the image has {width}x{height} pixels, more than the {max_pixels} allowed"
                )
            _load_complete(image)
            # Pillow's TIFF and pillow-heif's loaders already turn the picture upright; this
            # guards against one that leaves it to the Orientation tag about to be dropped.
            ImageOps.exif_transpose(image, in_place=True)
            return _png_without_metadata(image)
    except UnidentifiedImageError as error:
        raise ValueError("the image is not a TIFF, HEIC or HEIF file that can be read") from error
    except (OSError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as error:
        # Pillow reports damaged input with any of these.
        raise ValueError(f"the image could not be decoded: {error}") from error


_TRUNCATION_SETTING = threading.Lock()


def _load_complete(image: Image.Image) -> None:
    """Decode every pixel, refusing a truncated file.

    Pillow's switch for tolerating truncated files is process-wide, and another library (the
    PDF renderer) turns it on; it is turned off for the length of this decode.
    """
    with _TRUNCATION_SETTING:
        tolerant = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            image.load()
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = tolerant


def _png_without_metadata(image: Image.Image) -> bytes:
    if image.mode in _PNG_MODES:
        # The colour profile and palette transparency are about the pixels, not the picture taken.
        for key in set(image.info) - {"icc_profile", "transparency"}:
            del image.info[key]
    else:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        image.info.clear()  # a profile for the old colour space would now be wrong
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
