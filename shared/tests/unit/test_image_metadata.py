"""Working copies of photographs keep the pixels and lose EXIF, GPS, XMP, IPTC and comments."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
import zlib

import pillow_heif
import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

from corroborate.images import (
    WORKING_COPY_TYPE,
    MetadataStripper,
    reencode_without_metadata,
    stripper_for,
)

_CAMERA = "CorroborateCam X1"
_SERIAL = "SN-0042-TRACEABLE"
_GPS_LATITUDE = ((51, 1), (30, 1), (1234, 100))
_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'exif:GPSLatitude="51,30.2N" xmlns:exif="http://ns.adobe.com/exif/1.0/"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
_COMMENT = b"taken at the safe house"
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --- sample builders -------------------------------------------------------------------------


def _picture(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.effect_mandelbrot(size, (-2.0, -1.5, 1.0, 1.5), 60).convert(mode)


def _exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CorroborateCam"  # Make
    exif[0x0110] = _CAMERA  # Model
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0xA431] = _SERIAL  # BodySerialNumber, in the Exif IFD
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = tuple(numerator / denominator for numerator, denominator in _GPS_LATITUDE)
    return exif


def _saved(image: Image.Image, image_format: str, **params: object) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    image.save(out, format=image_format, **params)
    return out.getvalue()


def _jpeg(**params: object) -> bytes:
    defaults: dict[str, object] = {
        "exif": _exif(),
        "xmp": _XMP,
        "comment": _COMMENT,
        "icc_profile": _SRGB,
        "quality": 90,
    }
    return _saved(_picture(), "JPEG", **(defaults | params))


def _png(image: Image.Image | None = None) -> bytes:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", _COMMENT.decode())
    text.add_text("Author", "Dr Example", zip=True)  # zTXt
    text.add_itxt("XML:com.adobe.xmp", _XMP.decode())
    text.add(b"tIME", struct.pack(">HBBBBB", 2025, 1, 6, 9, 30, 0))
    return _saved(image or _picture("RGBA"), "PNG", pnginfo=text, exif=_exif(), icc_profile=_SRGB)


def _stripped(data: bytes, content_type: str, chunk_size: int) -> tuple[bytes, MetadataStripper]:
    stripper = stripper_for(content_type)
    assert stripper is not None
    out = b"".join(
        stripper.feed(data[at : at + chunk_size]) for at in range(0, len(data), chunk_size)
    )
    return out + stripper.finish(), stripper


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes, int]]:
    """Each chunk's type, data and stored CRC."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks, at = [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        crc = int.from_bytes(data[at + 8 + length : at + 12 + length], "big")
        chunks.append((kind, body, crc))
        at += 12 + length
    return chunks


def _jpeg_markers(data: bytes) -> list[int]:
    """The markers of the segments before the first scan."""
    markers, at = [], 2
    while data[at + 1] != 0xDA:
        markers.append(data[at + 1])
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return markers


def _assert_no_metadata_left(data: bytes) -> None:
    image = _decoded(data)
    assert not image.getexif()
    assert not image.getexif().get_ifd(0x8825)  # GPS
    for trace in (b"Exif", b"xmpmeta", b"http://ns.adobe.com/xap/1.0/", _COMMENT, _CAMERA.encode()):
        assert trace not in data
    assert _SERIAL.encode() not in data
    assert "xmp" not in image.info
    assert "exif" not in image.info


# --- JPEG ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 4096, 10**9])
def test_a_jpeg_copy_has_the_same_pixels_and_no_exif_gps_xmp_or_comment(chunk_size: int) -> None:
    original = _jpeg()
    for trace in (b"Exif", _COMMENT, b"xmpmeta", _SERIAL.encode()):
        assert trace in original
    copy, stripper = _stripped(original, "image/jpeg", chunk_size)
    _assert_no_metadata_left(copy)
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()
    assert stripper.orientation == 6


def test_a_jpeg_copy_is_the_same_whichever_way_the_original_arrives() -> None:
    original = _jpeg()
    whole, _ = _stripped(original, "image/jpeg", len(original))
    assert _stripped(original, "image/jpeg", 1)[0] == whole
    assert _stripped(original, "image/jpeg", 3)[0] == whole


def test_a_jpeg_copy_keeps_the_colour_profile_and_jfif_header() -> None:
    original = _jpeg()
    copy, _ = _stripped(original, "image/jpeg", 5)
    assert _decoded(copy).info["icc_profile"] == _SRGB
    assert _jpeg_markers(copy)[0] == 0xE0  # APP0 JFIF
    assert 0xE1 not in _jpeg_markers(copy)  # APP1 Exif and XMP
    assert 0xFE not in _jpeg_markers(copy)  # COM


def test_the_scan_data_is_copied_byte_for_byte() -> None:
    original = _jpeg()
    copy, _ = _stripped(original, "image/jpeg", 11)
    scan = original[original.index(b"\xff\xda") :]
    assert copy.endswith(scan)


@pytest.mark.parametrize(
    "params",
    [
        {"progressive": True},
        {"restart_marker_blocks": 1},
        {"subsampling": 0, "quality": 100},
    ],
)
def test_progressive_and_restart_marker_jpegs_strip_to_the_same_pixels(
    params: dict[str, object],
) -> None:
    original = _jpeg(**params)
    copy, _ = _stripped(original, "image/jpeg", 1)
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()
    _assert_no_metadata_left(copy)


def test_a_cmyk_jpeg_keeps_its_adobe_segment_and_so_its_colours() -> None:
    original = _saved(_picture("CMYK"), "JPEG", exif=_exif(), comment=_COMMENT)
    assert 0xEE in _jpeg_markers(original)
    copy, _ = _stripped(original, "image/jpeg", 9)
    assert 0xEE in _jpeg_markers(copy)
    assert _decoded(copy).mode == "CMYK"
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()
    _assert_no_metadata_left(copy)


def test_other_application_segments_and_iptc_are_dropped() -> None:
    original = _jpeg()
    soi, rest = original[:2], original[2:]
    extra = b""
    for marker, payload in [
        (0xED, b"Photoshop 3.0\x008BIM\x04\x04" + b"caption: the witness"),  # IPTC
        (0xE2, b"MPF\x00" + b"second picture index"),  # multi-picture, not a colour profile
        (0xEB, b"JP" + b"JUMBF / C2PA provenance"),
        (0xE0, b"JFXX\x00\x10" + b"thumbnail"),  # APP0 that is not JFIF
    ]:
        extra += b"\xff" + bytes([marker]) + (2 + len(payload)).to_bytes(2, "big") + payload
    copy, _ = _stripped(soi + extra + rest, "image/jpeg", 4)
    for trace in (b"Photoshop", b"witness", b"MPF", b"C2PA", b"JFXX"):
        assert trace not in copy
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()


def test_a_jfif_thumbnail_is_removed_but_the_header_kept() -> None:
    original = _jpeg()
    app0_length = int.from_bytes(original[4:6], "big")
    thumbnail = bytes([200, 10, 10]) * 4  # 2x2 RGB
    jfif = original[6:18] + b"\x02\x02" + thumbnail
    with_thumbnail = (
        original[:4] + (2 + len(jfif)).to_bytes(2, "big") + jfif + original[4 + app0_length :]
    )
    copy, _ = _stripped(with_thumbnail, "image/jpeg", 1)
    assert copy[2:20] == b"\xff\xe0\x00\x10" + original[6:18] + b"\x00\x00"
    assert thumbnail not in copy
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()


def test_fill_bytes_before_a_marker_are_accepted() -> None:
    original = _jpeg(exif=b"", comment=b"", xmp=b"")
    scan = original.index(b"\xff\xda")
    padded = original[:scan] + b"\xff\xff\xff" + original[scan:]
    copy, _ = _stripped(padded, "image/jpeg", 1)
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()


def test_bytes_after_the_end_of_image_are_dropped() -> None:
    original = _jpeg()
    trailer = b"\x00\x00\x00\x18ftypmp42 motion photo with GPS"
    copy, _ = _stripped(original + trailer, "image/jpeg", 6)
    assert copy.endswith(b"\xff\xd9")
    assert b"motion photo" not in copy


@pytest.mark.parametrize("cut", [1, 3, 30, 300, -200, -1])
def test_a_truncated_jpeg_is_refused(cut: int) -> None:
    original = _jpeg()
    stripper = stripper_for("image/jpeg")
    assert stripper is not None
    stripper.feed(original[:cut])
    with pytest.raises(ValueError, match="JPEG image ended before"):
        stripper.finish()


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\x00\x00",  # no marker after the start of image
        b"\xff\xd8\xff\xe1\x00\x01",  # a segment length below its own two bytes
        b"\xff\xd8\xff\xd8",  # a second start of image
    ],
)
def test_bytes_that_are_not_a_jpeg_are_refused(data: bytes) -> None:
    stripper = stripper_for("image/jpeg")
    assert stripper is not None
    with pytest.raises(ValueError, match="JPEG"):
        stripper.feed(data)


# --- PNG -------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 5, 13, 4096, 10**9])
def test_a_png_copy_has_exactly_the_same_pixels_and_no_text_exif_or_time(chunk_size: int) -> None:
    original = _png()
    copy, stripper = _stripped(original, "image/png", chunk_size)
    _assert_no_metadata_left(copy)
    assert _decoded(copy).tobytes() == _decoded(original).tobytes()
    assert _decoded(copy).mode == "RGBA"
    assert stripper.orientation == 6


def test_a_png_copy_keeps_every_other_chunk_whole_with_a_valid_crc() -> None:
    original = _png()
    copy, _ = _stripped(original, "image/png", 3)
    dropped = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
    assert dropped <= {kind for kind, _, _ in _png_chunks(original)}
    assert _png_chunks(copy) == [c for c in _png_chunks(original) if c[0] not in dropped]
    for kind, body, crc in _png_chunks(copy):
        assert zlib.crc32(kind + body) == crc
    assert _decoded(copy).info["icc_profile"] == _SRGB


def test_a_palette_png_keeps_its_transparency() -> None:
    palette = _picture("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 3
    original = _png(palette)
    copy, _ = _stripped(original, "image/png", 2)
    assert _decoded(copy).info["transparency"] == 3
    assert _decoded(copy).convert("RGBA").tobytes() == _decoded(original).convert("RGBA").tobytes()


def test_bytes_after_iend_are_dropped() -> None:
    original = _png()
    copy, _ = _stripped(original + b"appended GPS 51.5N", "image/png", 7)
    assert copy.endswith(b"IEND\xaeB`\x82")
    assert b"appended" not in copy


@pytest.mark.parametrize("cut", [4, 8, 20, 40, -13, -1])
def test_a_truncated_png_is_refused(cut: int) -> None:
    stripper = stripper_for("image/png")
    assert stripper is not None
    stripper.feed(_png()[:cut])
    with pytest.raises(ValueError, match="PNG image ended before"):
        stripper.finish()


def test_bytes_that_are_not_a_png_are_refused() -> None:
    stripper = stripper_for("image/png")
    assert stripper is not None
    with pytest.raises(ValueError, match="not a PNG"):
        stripper.feed(_jpeg())


# --- bounded memory --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "image_format"), [("image/jpeg", "JPEG"), ("image/png", "PNG")]
)
def test_a_large_photograph_is_stripped_without_holding_it(
    content_type: str, image_format: str
) -> None:
    noise = Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3))
    original = _saved(noise, image_format, exif=_exif())
    assert len(original) > 512 * 1024
    stripper = stripper_for(content_type)
    assert stripper is not None
    chunk_size, written = 16 * 1024, 0
    tracemalloc.start()
    try:
        for at in range(0, len(original), chunk_size):
            written += len(stripper.feed(original[at : at + chunk_size]))
        written += len(stripper.finish())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
    assert len(original) - 1024 < written < len(original)


# --- which types get which copy --------------------------------------------------------------


def test_only_jpeg_and_png_are_stripped_as_they_stream() -> None:
    assert stripper_for("image/jpeg") is not None
    assert stripper_for("image/png") is not None
    for other in ("image/tiff", "image/heic", "image/heif", "application/pdf", "text/plain"):
        assert stripper_for(other) is None


def test_the_working_copy_of_each_photograph_type() -> None:
    assert WORKING_COPY_TYPE == {
        "image/jpeg": "image/jpeg",
        "image/png": "image/png",
        "image/tiff": "image/png",
        "image/heic": "image/png",
        "image/heif": "image/png",
    }


# --- TIFF and HEIC/HEIF re-encoded -----------------------------------------------------------


def _assert_png_without_metadata(data: bytes) -> None:
    kinds = {kind for kind, _, _ in _png_chunks(data)}
    assert not kinds & {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
    _assert_no_metadata_left(data)
    assert _decoded(data).format == "PNG"


def test_a_tiff_becomes_an_upright_png_with_the_same_pixels_and_no_tags() -> None:
    picture = _picture()
    original = _saved(picture, "TIFF", exif=_exif(orientation=6), icc_profile=_SRGB)
    assert _CAMERA.encode() in original  # Pillow writes IFD0 tags, not the Exif or GPS IFDs
    copy = reencode_without_metadata(original)
    _assert_png_without_metadata(copy)
    upright = ImageOps.exif_transpose(_decoded(original))
    assert _decoded(copy).size == (48, 64)
    assert _decoded(copy).tobytes() == upright.tobytes()
    assert _decoded(copy).info["icc_profile"] == _SRGB


def _ifd(entries: list[tuple[int, int, int, int]]) -> bytes:
    """A little-endian TIFF directory: (tag, type, count, value or offset) entries, no next."""
    return (
        struct.pack("<H", len(entries))
        + b"".join(struct.pack("<HHII", *entry) for entry in sorted(entries))
        + bytes(4)
    )


def _tiff_with_gps() -> bytes:
    """A 3x2 grey TIFF, photographed sideways, with its camera model and a GPS directory."""
    ascii_, short, long_, rational = 2, 3, 4, 5
    pixels = bytes([0, 40, 80, 120, 160, 200])
    model = _CAMERA.encode() + b"\x00"
    latitude = b"".join(struct.pack("<II", *part) for part in _GPS_LATITUDE)
    model_at = 8 + len(pixels)
    latitude_at = model_at + len(model)
    gps_at = latitude_at + len(latitude)
    gps = _ifd([(1, ascii_, 2, ord("N")), (2, rational, 3, latitude_at)])
    first = _ifd(
        [
            (256, short, 1, 3),
            (257, short, 1, 2),
            (258, short, 1, 8),
            (259, short, 1, 1),
            (262, short, 1, 1),
            (272, ascii_, len(model), model_at),
            (273, long_, 1, 8),
            (274, short, 1, 6),
            (277, short, 1, 1),
            (278, short, 1, 2),
            (279, long_, 1, len(pixels)),
            (34853, long_, 1, gps_at),
        ]
    )
    first_at = gps_at + len(gps)
    return b"II*\x00" + struct.pack("<I", first_at) + pixels + model + latitude + gps + first


def test_a_tiff_with_gps_loses_it_and_is_turned_upright() -> None:
    original = _tiff_with_gps()
    assert _decoded(original).getexif().get_ifd(0x8825)[1] == "N"
    assert _decoded(original).getexif()[0x0110] == _CAMERA
    copy = reencode_without_metadata(original)
    _assert_png_without_metadata(copy)
    assert struct.pack("<II", *_GPS_LATITUDE[2]) not in copy
    assert _decoded(copy).size == (2, 3)
    assert _decoded(copy).tobytes() == ImageOps.exif_transpose(_decoded(original)).tobytes()


def test_a_cmyk_tiff_becomes_an_rgb_png_without_its_cmyk_profile() -> None:
    cmyk_profile = b"stands in for a printer's CMYK profile"
    original = _saved(_picture("CMYK"), "TIFF", exif=_exif(orientation=1), icc_profile=cmyk_profile)
    assert _decoded(original).info["icc_profile"] == cmyk_profile
    copy = reencode_without_metadata(original)
    _assert_png_without_metadata(copy)
    assert _decoded(copy).mode == "RGB"
    assert _decoded(copy).tobytes() == _decoded(original).convert("RGB").tobytes()
    assert "icc_profile" not in _decoded(copy).info


def test_a_big_endian_tiff_is_reencoded() -> None:
    entries = [(256, 2), (257, 1), (258, 8), (259, 1), (262, 1), (278, 1), (279, 2)]
    fields = [(tag, 3, value << 16) for tag, value in entries] + [(273, 4, 8)]
    directory = len(fields).to_bytes(2, "big") + b"".join(
        struct.pack(">HHII", tag, kind, 1, value) for tag, kind, value in sorted(fields)
    )
    original = b"MM\x00*" + (10).to_bytes(4, "big") + b"\x10\xf0" + directory + bytes(4)
    copy = reencode_without_metadata(original)
    assert _decoded(copy).mode == "L"
    assert _decoded(copy).tobytes() == b"\x10\xf0"


def test_a_heic_becomes_a_png_with_the_decoded_pixels_and_no_exif_or_xmp() -> None:
    original = _saved(_picture(), "HEIF", exif=_exif(orientation=1), xmp=_XMP, quality=80)
    assert _CAMERA.encode() in original
    assert b"xmpmeta" in original
    copy = reencode_without_metadata(original)
    _assert_png_without_metadata(copy)
    assert _decoded(copy).size == (64, 48)
    assert _decoded(copy).tobytes() == _decoded(original).convert("RGB").tobytes()


def test_a_heif_labelled_by_its_generic_brand_is_reencoded() -> None:
    heic = _saved(_picture(), "HEIF", exif=_exif(orientation=1), quality=80)
    size = int.from_bytes(heic[:4], "big")
    heif = heic[:8] + b"mif1" + heic[12:16] + b"mif1" + b"miaf" * ((size - 20) // 4) + heic[size:]
    copy = reencode_without_metadata(heif)
    _assert_png_without_metadata(copy)
    assert _decoded(copy).tobytes() == _decoded(heic).convert("RGB").tobytes()


def test_a_picture_over_the_pixel_limit_is_refused_before_it_is_decoded() -> None:
    original = _saved(_picture(size=(300, 200)), "TIFF")
    assert reencode_without_metadata(original, max_pixels=60_000)
    with pytest.raises(ValueError, match="more than the 59999 allowed"):
        reencode_without_metadata(original, max_pixels=59_999)


def test_a_declared_size_beyond_pillows_own_limit_is_refused() -> None:
    header = _saved(_picture(size=(2, 2)), "TIFF")
    # Width and length rewritten to 100000 x 100000 (the LONG values Pillow writes).
    huge = header
    for tag in (256, 257):
        huge = huge.replace(
            struct.pack("<HHII", tag, 4, 1, 2), struct.pack("<HHII", tag, 4, 1, 10**5)
        )
    assert huge != header
    with pytest.raises(ValueError, match=r"could not be decoded.*decompression bomb"):
        reencode_without_metadata(huge, max_pixels=10**11)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow warns about the damaged TIFF tags
@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("garbage", os.urandom(2000)),
        ("a JPEG, which is stripped not re-encoded", b"\xff\xd8\xff\xe0" + bytes(100)),
        ("truncated TIFF", b"II*\x00\x08\x00\x00\x00\x0c\x00" + bytes(30)),
        ("HEIC header only", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
    ],
)
def test_bytes_that_do_not_decode_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(ValueError, match="image"):
        reencode_without_metadata(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("image_format", ["TIFF", "HEIF"])
def test_a_truncated_tiff_or_heic_is_refused(image_format: str) -> None:
    original = _saved(_picture(), image_format, exif=_exif())
    with pytest.raises(ValueError, match="image"):
        reencode_without_metadata(original[: len(original) // 2])
