"""A document's type comes from its bytes: allowed types pass whole, anything else is refused."""

from __future__ import annotations

import functools
import io
import os
import tracemalloc
import zipfile

import pillow_heif
import pytest
from PIL import Image

from corroborate.evidence import (
    HEAD_BYTES,
    IMAGE_TYPES,
    ContentCheck,
    ContentRefused,
    ContentType,
    content_check,
    detect_type,
)

_WORD_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0"?><Types/>',
    "_rels/.rels": '<?xml version="1.0"?><Relationships/>',
    "word/document.xml": '<?xml version="1.0"?><w:document>' + "<w:p/>" * 200 + "</w:document>",
}


# --- sample builders -------------------------------------------------------------------------


def _picture() -> Image.Image:
    return Image.effect_mandelbrot((64, 48), (-2.0, -1.5, 1.0, 1.5), 60).convert("RGB")


def _encoded(image_format: str, **params: object) -> bytes:
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    _picture().save(out, format=image_format, **params)
    return out.getvalue()


class _Unseekable:
    """A write-only stream: zipfile then puts each entry's sizes in a data descriptor."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes, /) -> int:
        self.written += data
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""


def _zip(
    parts: dict[str, str | bytes],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    streamed: bool = False,
    zip64: bool = False,
) -> bytes:
    if streamed:
        unseekable = _Unseekable()
        _fill(zipfile.ZipFile(unseekable, "w", compression), parts, zip64=zip64)
        return bytes(unseekable.written)
    seekable = io.BytesIO()
    _fill(zipfile.ZipFile(seekable, "w", compression), parts, zip64=zip64)
    return seekable.getvalue()


def _fill(archive: zipfile.ZipFile, parts: dict[str, str | bytes], *, zip64: bool) -> None:
    with archive:
        for name, content in parts.items():
            data = content.encode() if isinstance(content, str) else content
            with archive.open(name, "w", force_zip64=zip64) as entry:
                entry.write(data)


def _heif_brands(heic: bytes, major: bytes, compatible: bytes) -> bytes:
    """The same HEIC file, its ftyp brands replaced (same length, so every box still fits)."""
    size = int.from_bytes(heic[:4], "big")
    assert len(compatible) == size - 16
    return heic[:8] + major + heic[12:16] + compatible + heic[size:]


def _big_endian_tiff() -> bytes:
    """A 2x1 grey TIFF written by hand in Motorola byte order, which Pillow does not write."""
    entries = [
        (256, 3, 1, 2 << 16),  # ImageWidth (a SHORT sits in the high half of the field)
        (257, 3, 1, 1 << 16),  # ImageLength
        (258, 3, 1, 8 << 16),  # BitsPerSample
        (259, 3, 1, 1 << 16),  # Compression: none
        (262, 3, 1, 1 << 16),  # PhotometricInterpretation: black is zero
        (273, 4, 1, 8),  # StripOffsets: the pixels follow the header
        (278, 3, 1, 1 << 16),  # RowsPerStrip
        (279, 4, 1, 2),  # StripByteCounts
    ]
    directory = len(entries).to_bytes(2, "big") + b"".join(
        tag.to_bytes(2, "big")
        + kind.to_bytes(2, "big")
        + count.to_bytes(4, "big")
        + value.to_bytes(4, "big")
        for tag, kind, count, value in entries
    )
    return b"MM\x00*" + (10).to_bytes(4, "big") + b"\x10\xf0" + directory + bytes(4)


@functools.cache
def _samples() -> dict[str, tuple[bytes, ContentType]]:
    heic = _encoded("HEIF", quality=50)
    size = int.from_bytes(heic[:4], "big")
    return {
        "pdf": (_encoded("PDF"), ContentType.PDF),
        "jpeg": (_encoded("JPEG"), ContentType.JPEG),
        "png": (_encoded("PNG"), ContentType.PNG),
        "tiff little-endian": (_encoded("TIFF"), ContentType.TIFF),
        "tiff big-endian": (_big_endian_tiff(), ContentType.TIFF),
        "heic": (heic, ContentType.HEIC),
        "heic by compatible brand": (
            _heif_brands(heic, b"mif1", b"miaf" * ((size - 16) // 4 - 1) + b"heic"),
            ContentType.HEIC,
        ),
        "heif": (_heif_brands(heic, b"mif1", b"miaf" * ((size - 16) // 4)), ContentType.HEIF),
        "heif sequence": (
            _heif_brands(heic, b"msf1", b"iso8" * ((size - 16) // 4)),
            ContentType.HEIF,
        ),
        "docx": (_zip(dict(_WORD_PARTS)), ContentType.DOCX),
        "docx stored": (_zip(dict(_WORD_PARTS), compression=zipfile.ZIP_STORED), ContentType.DOCX),
        "docx streamed": (_zip(dict(_WORD_PARTS), streamed=True), ContentType.DOCX),
        "docx zip64": (_zip(dict(_WORD_PARTS), zip64=True), ContentType.DOCX),
        "text": (b"Statement of the survivor\r\n\tpage 1\f\n" * 40, ContentType.TEXT),
        "text with BOM": ("\ufeffDéclaration — témoin 证人\n".encode() * 40, ContentType.TEXT),
        "short text": (b"ok", ContentType.TEXT),
    }


def _fed(check: ContentCheck, data: bytes, chunk_size: int) -> None:
    for at in range(0, len(data), chunk_size):
        check.feed(data[at : at + chunk_size])
    check.finish()


def _accepted_whole(data: bytes) -> ContentType:
    content_type = detect_type(data[:HEAD_BYTES])
    assert content_type is not None
    _fed(content_check(content_type), data, 64 * 1024)
    return content_type


def _refusal(data: bytes, content_type: ContentType, chunk_size: int = 64 * 1024) -> str:
    with pytest.raises(ContentRefused) as refused:
        _fed(content_check(content_type), data, chunk_size)
    assert str(refused.value).startswith("file: ")
    return refused.value.rule


# --- allowed types ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(_samples()))
def test_each_allowed_type_is_recognised_from_its_head(name: str) -> None:
    data, expected = _samples()[name]
    assert detect_type(data[:HEAD_BYTES]) is expected


@pytest.mark.parametrize("name", list(_samples()))
@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 10**9])
def test_each_allowed_type_passes_its_whole_body_check_however_it_is_chunked(
    name: str, chunk_size: int
) -> None:
    data, content_type = _samples()[name]
    check = content_check(content_type)
    _fed(check, data, chunk_size)
    assert check.size == len(data)


def test_the_image_types_are_the_photograph_formats() -> None:
    assert {
        ContentType.JPEG,
        ContentType.PNG,
        ContentType.HEIC,
        ContentType.HEIF,
        ContentType.TIFF,
    } == IMAGE_TYPES
    assert ContentType.PDF not in IMAGE_TYPES


# --- refused from the head -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("empty", b""),
        ("ELF executable renamed .pdf", b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00>\x00"),
        ("PE executable", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(48)),
        ("GIF", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04;"),
        ("ZIP of other files", _zip({"readme.txt": "hello", "payload.exe": b"MZ" + bytes(99)})),
        ("shell script with an escape", b"#!/bin/sh\n\x1b[31mrm -rf /\n"),
        ("Latin-1 text", "Déposition du témoin".encode("latin-1")),
        ("MP4 video", b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(16)),
        ("ftyp box too short", b"\x00\x00\x00\x08ftypheic"),
    ],
)
def test_anything_not_on_the_allow_list_is_refused_from_its_head(name: str, data: bytes) -> None:
    assert detect_type(data[:HEAD_BYTES]) is None


def test_an_executable_is_refused_whatever_type_the_sender_claims() -> None:
    elf = b"\x7fELF\x02\x01\x01\x00" + os.urandom(4000)
    for claimed in ContentType:
        assert _refusal(elf, claimed).startswith("the content is not")


def test_a_file_whose_bytes_are_another_allowed_type_fails_the_check_for_the_claimed_one() -> None:
    png, _ = _samples()["png"]
    assert _refusal(png, ContentType.PDF) == "the content is not a PDF"
    heic, _ = _samples()["heic"]
    assert _refusal(heic, ContentType.HEIF) == "the content is not a HEIF image"


def test_an_empty_file_is_refused_by_every_check() -> None:
    for content_type in ContentType:
        assert _refusal(b"", content_type) == "the file is empty"


def test_the_refusal_names_the_field_and_the_rule() -> None:
    refused = ContentRefused()
    assert str(refused).startswith("file: the content is not an allowed type (PDF, JPEG")
    assert isinstance(refused, ValueError)


# --- Word documents --------------------------------------------------------------------------


def test_a_spreadsheet_packaged_like_a_word_document_is_refused_at_the_end() -> None:
    xlsx = _zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
    assert detect_type(xlsx[:HEAD_BYTES]) is ContentType.DOCX  # it opens like any OOXML package
    assert _refusal(xlsx, ContentType.DOCX) == (
        "the ZIP archive is not a Word document (it has no word/document.xml)"
    )


def test_a_macro_enabled_document_under_a_docx_name_is_refused() -> None:
    docm = _zip({**_WORD_PARTS, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(500)})
    assert detect_type(docm[:HEAD_BYTES]) is ContentType.DOCX
    assert _refusal(docm, ContentType.DOCX, chunk_size=3) == "the Word document contains macros"


def test_word_part_names_inside_stored_data_are_not_mistaken_for_parts() -> None:
    # A stored entry whose content imitates a local header naming word/document.xml.
    forged = b"PK\x03\x04" + bytes(22) + (17).to_bytes(2, "little") + bytes(2)
    forged += b"word/document.xml"
    for streamed in (False, True):
        data = _zip(
            {"[Content_Types].xml": "<Types/>", "notes.bin": forged * 3},
            compression=zipfile.ZIP_STORED,
            streamed=streamed,
        )
        assert _refusal(data, ContentType.DOCX, chunk_size=5).endswith(
            "(it has no word/document.xml)"
        )


def test_record_signatures_inside_streamed_entries_do_not_end_them_early() -> None:
    decoys = (b"PK\x03\x04" + os.urandom(40) + b"PK\x01\x02" + os.urandom(40)) * 50
    parts: dict[str, str | bytes] = {**_WORD_PARTS, "word/media/image1.bin": decoys}
    data = _zip(parts, compression=zipfile.ZIP_STORED, streamed=True)
    for chunk_size in (1, 3, 1000):
        check = content_check(ContentType.DOCX)
        _fed(check, data, chunk_size)
        assert check.size == len(data)


@pytest.mark.parametrize("name", ["docx", "docx streamed", "docx zip64"])
@pytest.mark.parametrize("keep", [0.3, 0.9, -1])
def test_a_truncated_word_document_is_refused(name: str, keep: float) -> None:
    data, _ = _samples()[name]
    cut = data[: int(len(data) * keep)] if keep > 0 else data[:-1]
    assert _refusal(cut, ContentType.DOCX).startswith("the Word document is truncated")


def test_a_word_document_that_is_not_a_zip_after_its_first_part_is_refused() -> None:
    data, _ = _samples()["docx stored"]
    first_entry_end = data.index(b"PK\x03\x04", 4)
    broken = data[:first_entry_end] + b"XX" + data[first_entry_end + 2 :]
    assert _refusal(broken, ContentType.DOCX) == "the Word document is not a valid ZIP archive"


# --- truncated and damaged files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cut", "rule"),
    [
        ("pdf", 50, "the PDF is truncated"),
        ("pdf", -7, "the PDF is truncated"),
        ("jpeg", 600, "the JPEG image does not end"),
        ("jpeg", -1, "the JPEG image does not end"),
        ("png", 200, "the PNG image does not end"),
        ("png", -4, "the PNG image does not end"),
        ("tiff big-endian", 20, "the TIFF image is truncated"),
        ("tiff big-endian", -5, "the TIFF image is truncated"),
        ("heic", 100, "the HEIC/HEIF image is truncated"),
        ("heic", -1, "the HEIC/HEIF image is truncated"),
    ],
)
def test_a_truncated_file_is_refused_when_it_ends(name: str, cut: int, rule: str) -> None:
    data, content_type = _samples()[name]
    truncated = data[:cut]
    assert detect_type(truncated[:HEAD_BYTES]) is content_type  # the head alone looks fine
    for chunk_size in (1, 64 * 1024):
        assert _refusal(truncated, content_type, chunk_size).startswith(rule)


def test_a_tiff_whose_directory_lies_beyond_its_end_is_refused() -> None:
    data, _ = _samples()["tiff little-endian"]
    moved = data[:4] + (len(data) + 100).to_bytes(4, "little") + data[8:]
    assert _refusal(moved, ContentType.TIFF).startswith("the TIFF image is truncated")


def test_a_heif_file_without_a_meta_box_is_refused() -> None:
    ftyp = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    free = b"\x00\x00\x00\x10free" + bytes(8)
    assert _refusal(ftyp + free, ContentType.HEIC) == (
        "the HEIC/HEIF image is malformed (it has no meta box)"
    )


def test_a_jpeg_with_bytes_after_its_end_marker_is_refused() -> None:
    data, _ = _samples()["jpeg"]
    assert _refusal(data + b"appended", ContentType.JPEG).startswith("the JPEG image does not end")


# --- plain text ------------------------------------------------------------------------------


def test_a_nul_after_the_head_is_refused_as_soon_as_its_chunk_arrives() -> None:
    data = b"a" * (HEAD_BYTES * 4) + b"\x00" + b"b" * HEAD_BYTES
    assert detect_type(data[:HEAD_BYTES]) is ContentType.TEXT
    check = content_check(ContentType.TEXT)
    check.feed(data[: HEAD_BYTES * 2])
    with pytest.raises(ContentRefused, match=r"^file: the text contains a NUL"):
        check.feed(data[HEAD_BYTES * 2 : HEAD_BYTES * 5])


@pytest.mark.parametrize("control", [b"\x00", b"\x07", b"\x1b", b"\x0b", b"\x1f"])
def test_control_characters_are_refused_in_text(control: bytes) -> None:
    data = b"line one\n" * 100 + control + b"line two\n"
    assert _refusal(data, ContentType.TEXT, chunk_size=64).startswith("the text contains")


def test_a_multibyte_character_split_across_chunks_is_accepted() -> None:
    data = "€ 100 — reçu\n".encode() * 50
    split = data.index("€".encode()) + 1
    check = content_check(ContentType.TEXT)
    check.feed(data[:split])
    check.feed(data[split : split + 1])
    check.feed(data[split + 1 :])
    check.finish()
    assert check.size == len(data)


def test_a_head_that_ends_inside_a_multibyte_character_is_still_text() -> None:
    data = b"a" * (HEAD_BYTES - 1) + "证".encode() + b" statement"
    assert len(data[:HEAD_BYTES].decode("utf-8", errors="ignore")) == HEAD_BYTES - 1
    assert detect_type(data[:HEAD_BYTES]) is ContentType.TEXT
    assert _accepted_whole(data) is ContentType.TEXT


@pytest.mark.parametrize(
    "data",
    [
        b"text" * 200 + b"\xe2\x82",  # ends inside a character
        b"text" * 200 + b"\xff" + b"text",  # never valid in UTF-8
        b"text" * 200 + b"\xc0\xaf",  # an overlong encoding of '/'
    ],
)
def test_invalid_utf8_after_the_head_is_refused(data: bytes) -> None:
    assert detect_type(data[:HEAD_BYTES]) is ContentType.TEXT
    assert _refusal(data, ContentType.TEXT, chunk_size=3) == "the text is not valid UTF-8"


# --- bounded memory --------------------------------------------------------------------------


def _peak_while_feeding(
    content_type: ContentType, head: bytes, body: bytes, tail: bytes, *, times: int = 256
) -> int:
    """Peak memory allocated while ``body`` passes ``times`` times through a check."""
    check = content_check(content_type)
    check.feed(head)
    tracemalloc.start()
    try:
        for _ in range(times):
            check.feed(body)
        check.feed(tail)
        check.finish()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_BLOCK = 64 * 1024


def test_a_long_pdf_is_checked_without_holding_it() -> None:
    peak = _peak_while_feeding(ContentType.PDF, b"%PDF-1.7\n", b"0" * _BLOCK, b"\n%%EOF\n")
    assert peak < 512 * 1024


def test_long_text_is_checked_without_holding_it() -> None:
    line = "Témoignage, page suivante.\n".encode()
    body = line * (_BLOCK // len(line))
    assert _peak_while_feeding(ContentType.TEXT, line, body, b"end\n") < 1024 * 1024


def test_a_long_streamed_word_part_is_checked_without_holding_it() -> None:
    # An entry whose size is only known after it: the check searches the stream for its end.
    media = os.urandom(_BLOCK)
    parts: dict[str, str | bytes] = {**_WORD_PARTS, "word/media/image1.bin": media * 64}
    data = _zip(parts, compression=zipfile.ZIP_STORED, streamed=True)
    start = data.index(media)
    assert data[start - 30 - len("word/media/image1.bin") + 6] & 0x08  # sizes follow the data
    head, tail = data[:start], data[start + len(media) * 64 :]
    assert _peak_while_feeding(ContentType.DOCX, head, media, tail, times=64) < 1024 * 1024


def test_the_word_samples_cover_each_zip_layout_the_check_reads() -> None:
    def first_header(name: str) -> tuple[int, int]:
        data, _ = _samples()[name]
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[18:22], "little")

    assert not first_header("docx")[0] & 0x08
    assert first_header("docx streamed")[0] & 0x08  # sizes in a descriptor after the data
    assert first_header("docx zip64")[1] == 0xFFFFFFFF  # sizes in the ZIP64 extra field
